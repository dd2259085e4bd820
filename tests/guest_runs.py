"""What the guest tests share: the committed image of a guest, and a run of it on QEMU
(the oracle) with the machine and semihosting console smpsim's topologies mirror."""

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = ROOT / "guests" / "build"


def qemu_machine(cpus: int = 1) -> list[str]:
    """QEMU's virt with EL2 and GICv3, the max CPU, 128 MiB, console and semihosting on
    standard output."""
    return ["-M", "virt,virtualization=on,gic-version=3", "-cpu", "max", "-smp", str(cpus),
            "-m", "128M", "-display", "none", "-monitor", "none",
            "-chardev", "stdio,id=con,mux=on", "-serial", "chardev:con",
            "-semihosting-config", "enable=on,target=native,chardev=con"]


def committed_image(name: str) -> pathlib.Path:
    """guests/build/NAME.elf (tests/test_guest_images.py checks it is up to date)."""
    image = BUILD / f"{name}.elf"
    if not image.is_file():
        pytest.fail(f"{image} is missing: run make -C guests and commit guests/build/*.elf")
    return image


def qemu_path() -> str:
    """qemu-system-aarch64, or the test is skipped (there is nothing to compare with)."""
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        pytest.skip("qemu-system-aarch64 is missing (Debian package qemu-system-arm): "
                    "no oracle to compare with")
    return qemu


def run_on_qemu(image: pathlib.Path, cpus: int = 1, timeout: float = 120):
    return subprocess.run([qemu_path(), *qemu_machine(cpus), "-kernel", str(image)],
                          capture_output=True, text=True, timeout=timeout)


def run_topology(name: str, run_dir: pathlib.Path, timeout: float = 600, *extra: str):
    """One run of topologies/NAME.toml on the multi-process machine (`extra`: more
    options of `smpsim run`): (exit status, console lines, log records, standard error)."""
    import sys

    from smpsim import log
    r = subprocess.run([sys.executable, "-m", "smpsim", "run", ROOT / "topologies" / f"{name}.toml",
                        "--run-dir", run_dir, *extra], capture_output=True, text=True,
                       timeout=timeout)
    return (r.returncode, r.stdout.splitlines(), list(log.read_events(run_dir / "events.jsonl")),
            r.stderr)


def run_kernel_on_qemu(image: pathlib.Path, machine: str, cpu: str, append: str,
                       timeout: float = 300):
    """An arm64 Image booted by QEMU with a command line (Linux's boot protocol), four
    CPUs, 512 MiB, the console on standard output; fails when QEMU is missing (the
    scenario tests compare with it, and scripts/setup installs it)."""
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        pytest.fail("qemu-system-aarch64 is missing: run scripts/setup (Debian package "
                    "qemu-system-arm)")
    return subprocess.run([qemu, "-M", machine, "-cpu", cpu, "-smp", "4", "-m", "512M",
                           "-display", "none", "-monitor", "none", "-serial", "stdio",
                           "-no-reboot", "-kernel", image, "-append", append],
                          capture_output=True, text=True, timeout=timeout)
