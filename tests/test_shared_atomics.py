"""Exclusives and LSE atomics are atomic on the host across OS processes: several
processes increment one counter in shared RAM, and no increment is lost."""

import struct
import subprocess
import sys
from pathlib import Path

import capstone
import pytest

from smpsim.interconnect.shared_ram import SharedRam

RAM_BASE = 0x4000_0000
RAM_SIZE = 64 * 1024
COUNTER = RAM_BASE + 0x1000
GO_FLAG = RAM_BASE + 0x1008
WORKERS = 3
ITERATIONS = 300_000
WORKER = Path(__file__).with_name("shared_atomics_worker.py")

# x0 = counter, x1 = iterations, x5 = go flag; every worker waits for the flag first
WAIT_FOR_GO = [
    (0x88DFFCA6, "ldar w6, [x5]"),
    (0x34FFFFE6, "cbz w6, #0x4000_0000"),
]
PROGRAMS = {
    "ldaxr_stlxr": WAIT_FOR_GO + [
        (0xC85FFC02, "ldaxr x2, [x0]"),
        (0x91000442, "add x2, x2, #1"),
        (0xC803FC02, "stlxr w3, x2, [x0]"),
        (0x34000063, "cbz w3, #0x4000_0020"),
        (0x91000484, "add x4, x4, #1"),  # count failed store-exclusives
        (0x17FFFFFB, "b #0x4000_0008"),
        (0xF1000421, "subs x1, x1, #1"),
        (0x54FFFF21, "b.ne #0x4000_0008"),
        (0xD4400000, "hlt #0"),
    ],
    "ldadd": WAIT_FOR_GO + [
        (0xD2800022, "mov x2, #1"),
        (0xF8220003, "ldadd x2, x3, [x0]"),
        (0xF1000421, "subs x1, x1, #1"),
        (0x54FFFFC1, "b.ne #0x4000_000c"),
        (0xD4400000, "hlt #0"),
    ],
}


def _check_listing(program):
    md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    for i, (word, text) in enumerate(program):
        addr = RAM_BASE + 4 * i
        insn = next(md.disasm(struct.pack("<I", word), addr))
        want = text.replace("_", "")
        assert f"{insn.mnemonic} {insn.op_str}" == want, f"{word:#010x} at {addr:#x}"


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_no_increment_is_lost_across_processes(program):
    listing = PROGRAMS[program]
    _check_listing(listing)
    with SharedRam.create(RAM_SIZE, tag="atomics-test") as ram:
        code = b"".join(struct.pack("<I", w) for w, _ in listing)
        ram.array[:len(code)] = list(code)
        procs = [subprocess.Popen(
            [sys.executable, str(WORKER), ram.name, str(RAM_SIZE), hex(RAM_BASE), hex(RAM_BASE),
             str(ITERATIONS), hex(COUNTER), hex(GO_FLAG)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(WORKERS)]
        try:
            for p in procs:  # each worker says "ready" once its core is loaded
                line = p.stdout.readline()
                assert line.strip() == "ready", p.stderr.read()
            ram.array[GO_FLAG - RAM_BASE] = 1
            outputs = [p.communicate(timeout=600) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        for p, (out, err) in zip(procs, outputs):
            assert p.returncode == 0, out + err
            assert "exit HLT" in out
        counter = int.from_bytes(ram.array[COUNTER - RAM_BASE:COUNTER - RAM_BASE + 8].tobytes(), "little")
    assert counter == WORKERS * ITERATIONS
