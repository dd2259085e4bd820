"""Arm semihosting (HLT #0xF000, operation in w0, parameter in x1), as far as smpsim's
guests need it: console output and exit. File operations are refused (-1)."""

from __future__ import annotations

import dataclasses
from typing import Callable

HLT_SEMIHOSTING = 0xF000

SYS_WRITEC = 0x03
SYS_WRITE0 = 0x04
SYS_WRITE = 0x05
SYS_EXIT = 0x18
SYS_EXIT_EXTENDED = 0x20
ADP_STOPPED_APPLICATION_EXIT = 0x20026

_WRITE0_LIMIT = 1 << 20  # a string without its NUL ends here


@dataclasses.dataclass(frozen=True)
class Result:
    """What a call did: the value for x0, or, for an exit, the guest's exit code."""
    x0: int = 0
    exit_code: int | None = None


def serve(op: int, param: int, read: Callable[[int, int], bytes],
          console: Callable[[bytes], None]) -> Result:
    """One semihosting call. `read(addr, n)` reads guest memory (raising ValueError
    outside RAM), `console(data)` prints guest output."""
    try:
        if op == SYS_WRITEC:
            console(read(param, 1))
            return Result()
        if op == SYS_WRITE0:
            out = bytearray()
            addr = param
            while len(out) < _WRITE0_LIMIT:
                chunk = read(addr, 1)
                if chunk == b"\0":
                    break
                out += chunk
                addr += 1
            console(bytes(out))
            return Result()
        if op == SYS_WRITE:
            handle, addr, length = (int.from_bytes(read(param + 8 * i, 8), "little") for i in range(3))
            if handle not in (1, 2):  # only the console (stdout/stderr handles)
                return Result(x0=length)
            console(read(addr, length))
            return Result(x0=0)  # bytes NOT written
        if op in (SYS_EXIT, SYS_EXIT_EXTENDED):
            reason = int.from_bytes(read(param, 8), "little")
            code = int.from_bytes(read(param + 8, 8), "little")
            # as QEMU does: the exit code is the subcode of an application exit, else 1
            return Result(exit_code=(code & 0xFF) if reason == ADP_STOPPED_APPLICATION_EXIT else 1)
    except ValueError:
        return Result(x0=(1 << 64) - 1)  # a parameter outside RAM
    return Result(x0=(1 << 64) - 1)  # not supported: -1
