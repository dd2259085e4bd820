"""Unicorn (QEMU 5 TCG) as a reference AArch64 CPU for tests/test_differential_unicorn.py.

One `UnicornCpu` is a Unicorn engine with the MAX CPU model (the default model lacks
the LSE atomics), running at EL1 with the MMU off, with RAM mapped exactly where the
core under test has it and nothing else in reach. It executes one instruction at a
time and reports how that ended:

    OK         the instruction retired (a branch may have left PC anywhere)
    EXCEPTION  a synchronous exception was raised; `intno` is QEMU's number
               (EXCP_UDEF for undefined instructions, EXCP_DATA_ABORT for alignment
               faults, ...). An interrupt hook stops the engine there, so the exception
               is not taken: PSTATE, the EL and the exclusive monitor stay as they were.
    UNMAPPED   a data access left RAM (Unicorn's UC_ERR_READ/WRITE_UNMAPPED)

With `devices`, windows next to RAM are MMIO regions that behave like memory (a byte
array the test can reset and read back) and log every access the engine makes.
"""

from __future__ import annotations

import ctypes
import dataclasses

from unicorn import (UC_ARCH_ARM64, UC_ERR_FETCH_UNMAPPED, UC_ERR_READ_UNMAPPED,
                     UC_ERR_WRITE_UNMAPPED, UC_HOOK_INTR, UC_MODE_ARM, Uc, UcError)
from unicorn import arm64_const as A

# QEMU's exception numbers (target/arm/cpu.h) that a single instruction can raise
EXCP_UDEF = 1
EXCP_SWI = 2
EXCP_PREFETCH_ABORT = 3
EXCP_DATA_ABORT = 4
EXCP_BKPT = 7
EXCP_HVC = 11
EXCP_SMC = 13
EXCP_NAMES = {EXCP_UDEF: "UDEF", EXCP_SWI: "SVC", EXCP_PREFETCH_ABORT: "PREFETCH_ABORT",
              EXCP_DATA_ABORT: "DATA_ABORT", EXCP_BKPT: "BKPT", EXCP_HVC: "HVC", EXCP_SMC: "SMC"}

OK, EXCEPTION, UNMAPPED = "OK", "EXCEPTION", "UNMAPPED"

# Where the engine runs its own housekeeping instructions (CLREX): one page far from RAM,
# so that "just outside RAM" accesses of the tests still fault.
SCRATCH = 0x1000_0000
_CLREX = 0xD503305F

_X = [getattr(A, f"UC_ARM64_REG_X{i}") for i in range(31)]
_STATE_REGS = _X + [A.UC_ARM64_REG_SP, A.UC_ARM64_REG_PC, A.UC_ARM64_REG_NZCV]
_N = len(_STATE_REGS)


@dataclasses.dataclass
class Outcome:
    kind: str  # OK, EXCEPTION or UNMAPPED
    intno: int = 0  # for EXCEPTION
    error: str = ""  # for UNMAPPED
    x: tuple = ()  # X0-X30 after the instruction
    sp: int = 0
    pc: int = 0
    nzcv: int = 0  # architectural format, bits 31:28

    def describe(self) -> str:
        if self.kind == EXCEPTION:
            return f"exception {EXCP_NAMES.get(self.intno, self.intno)}"
        if self.kind == UNMAPPED:
            return f"unmapped access ({self.error})"
        return "retired"


class UnicornCpu:
    """A Unicorn AArch64 engine over `ram_size` bytes of RAM at `ram_base`."""

    def __init__(self, ram_base: int, ram_size: int, devices: tuple = ()):
        """`devices`: (address, size) windows mapped as memory-like MMIO regions."""
        self.ram_base = ram_base
        self.ram_size = ram_size
        uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM)
        uc.ctl_set_cpu_model(A.UC_CPU_ARM64_MAX)
        uc.mem_map(ram_base, ram_size)
        self.devices = {base: bytearray(size) for base, size in devices}
        self.device_log: list[tuple] = []  # ("r" | "w", address, size)
        for base, size in devices:
            uc.mmio_map(base, size, self._device_read, base, self._device_write, base)
        uc.mem_map(SCRATCH, 0x1000)
        uc.mem_write(SCRATCH, _CLREX.to_bytes(4, "little"))
        self._intr: list[int] = []
        uc.hook_add(UC_HOOK_INTR, self._on_interrupt)
        self.uc = uc
        # Registers move through one reusable ctypes buffer and the engine's batch
        # calls: the public reg_*_batch wrappers cost ~1 us per register.
        self._ids = (ctypes.c_int * _N)(*_STATE_REGS)
        self._vals = (ctypes.c_uint64 * _N)()
        base = ctypes.addressof(self._vals)
        self._ptrs = (ctypes.c_void_p * _N)(*(base + 8 * i for i in range(_N)))
        self._fast = hasattr(uc, "_do_reg_write_batch") and hasattr(uc, "_do_reg_read_batch")

    def _device_read(self, uc, offset, size, base):
        self.device_log.append(("r", base + offset, size))
        return int.from_bytes(self.devices[base][offset:offset + size], "little")

    def _device_write(self, uc, offset, size, value, base):
        self.device_log.append(("w", base + offset, size))
        self.devices[base][offset:offset + size] = value.to_bytes(size, "little")

    def _on_interrupt(self, uc, intno, user_data):
        self._intr.append(intno)
        uc.emu_stop()

    # --- memory -----------------------------------------------------------------------
    def write(self, addr: int, data: bytes) -> None:
        """Write RAM and forget any code translated from the bytes replaced."""
        self.uc.mem_write(addr, bytes(data))
        self.uc.ctl_remove_cache(addr, addr + len(data))

    def read_ram(self) -> bytes:
        return bytes(self.uc.mem_read(self.ram_base, self.ram_size))

    # --- registers ----------------------------------------------------------------------
    def set_state(self, x, sp: int, pc: int, nzcv: int) -> None:
        values = list(x) + [sp, pc, nzcv]
        if self._fast:
            self._vals[:] = values
            status = self.uc._do_reg_write_batch(self._ids, self._ptrs, ctypes.c_int(_N))
            if status:
                raise UcError(status)
        else:
            self.uc.reg_write_batch(list(zip(_STATE_REGS, values)))

    def get_state(self):
        """(X0-X30, SP, PC, NZCV)."""
        if self._fast:
            status = self.uc._do_reg_read_batch(self._ids, self._ptrs, ctypes.c_int(_N))
            if status:
                raise UcError(status)
            values = list(self._vals)
        else:
            values = list(self.uc.reg_read_batch(_STATE_REGS))
        return tuple(values[:31]), values[31], values[32], values[33]

    # --- running ------------------------------------------------------------------------
    def step(self, pc: int, until: int, count: int = 1) -> Outcome:
        """Execute the one instruction at `pc` (or at most `count`, stopping at `until`).

        `until` must be where the instruction is expected to leave PC (the core under test
        knows): the engine stops before fetching from there. Without it, Unicorn's
        instruction count stops the engine only after it has translated the next
        instruction, and a branch out of RAM would end in a fetch error.
        """
        self._intr.clear()
        self.device_log.clear()
        if until == pc:  # a branch to itself: until == begin would run nothing
            until = pc + 4
        kind, error = OK, ""
        try:
            self.uc.emu_start(pc, until, count=count)
        except UcError as exc:
            if exc.errno in (UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED):
                kind, error = UNMAPPED, str(exc)
            elif exc.errno != UC_ERR_FETCH_UNMAPPED:  # only the next fetch; PC tells the rest
                raise
        x, sp, new_pc, nzcv = self.get_state()
        if self._intr:
            kind = EXCEPTION
        return Outcome(kind, self._intr[0] if self._intr else 0, error, x, sp, new_pc, nzcv)

    def clear_monitor(self) -> None:
        """CLREX: no exclusive access may carry over from one test case to the next."""
        self._intr.clear()
        self.uc.emu_start(SCRATCH, SCRATCH + 4, count=1)
