"""Assemble a snippet with the GNU AArch64 assembler (binutils-aarch64-linux-gnu, which
scripts/setup installs; a test that needs it fails, not skips, when it is missing)."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: run scripts/setup "
                    "(Debian package binutils-aarch64-linux-gnu)")


def assemble(text: str) -> bytes:
    _require("aarch64-linux-gnu-as")
    with tempfile.TemporaryDirectory() as d:
        src, obj, raw = Path(d, "s.s"), Path(d, "s.o"), Path(d, "s.bin")
        src.write_text(text + "\n")
        subprocess.run(["aarch64-linux-gnu-as", "-o", obj, src], check=True,
                       capture_output=True)
        subprocess.run(["aarch64-linux-gnu-objcopy", "-O", "binary", "-j", ".text", obj, raw],
                       check=True, capture_output=True)
        return raw.read_bytes()


def link(text: str, base: int = 0x4000_0000, elf: bool = False) -> bytes:
    """Assemble and link at `base`; the raw image, or the ELF file with `elf`."""
    _require("aarch64-linux-gnu-ld")
    elf_out = elf
    with tempfile.TemporaryDirectory() as d:
        src, obj, elf, raw = (Path(d, n) for n in ("s.s", "s.o", "s.elf", "s.bin"))
        src.write_text(text + "\n")
        subprocess.run(["aarch64-linux-gnu-as", "-o", obj, src], check=True, capture_output=True)
        subprocess.run(["aarch64-linux-gnu-ld", "-N", f"-Ttext={base:#x}", "-o", elf, obj], check=True,
                       capture_output=True)
        if elf_out:
            return elf.read_bytes()
        subprocess.run(["aarch64-linux-gnu-objcopy", "-O", "binary", elf, raw], check=True,
                       capture_output=True)
        return raw.read_bytes()


def link_linux_program(text: str) -> bytes:
    """A static AArch64 Linux executable (ELF, entry `_start`) of `text`, no C library."""
    _require("aarch64-linux-gnu-ld")
    with tempfile.TemporaryDirectory() as d:
        src, obj, exe = Path(d, "p.s"), Path(d, "p.o"), Path(d, "p")
        src.write_text(text + "\n")
        subprocess.run(["aarch64-linux-gnu-as", "-o", obj, src], check=True, capture_output=True)
        subprocess.run(["aarch64-linux-gnu-ld", "-static", "-o", exe, obj], check=True,
                       capture_output=True)
        return exe.read_bytes()
