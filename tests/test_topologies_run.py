"""The shipped multi-CPU topologies with their default guest (guests/smp_hello.s, or
guests/spin_hello.s for spin-table): every CPU comes up by PSCI CPU_ON or by spin-table
release and reports its EL and VHE as its features say; virt-vhe prints the same lines
on QEMU (-smp 4)."""

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOPOLOGIES = ROOT / "topologies"
GUEST = ROOT / "guests" / "build" / "smp_hello.elf"


@pytest.fixture(scope="module", autouse=True)
def guest_image():
    """The committed image (tests/test_guest_images.py checks that it is up to date)."""
    if not GUEST.is_file():
        pytest.fail(f"{GUEST} is missing: run make -C guests and commit guests/build/*.elf")


def lines(cpus, el, vhe):
    return [f"cpu {aff:x} up at EL{el}, {'vhe' if v else 'no vhe'}"
            for aff, v in zip(cpus, vhe)] + ["all CPUs reported"]


@pytest.mark.parametrize("name, want", [
    ("virt-vhe", lines([0, 1, 2, 3], 2, [True] * 4)),
    ("virt-nvhe", lines([0, 1, 2, 3], 2, [False] * 4)),
    ("virt-el1", lines([0, 1, 2, 3], 1, [False] * 4)),
    ("virt-mixed", lines([0x0, 0x1, 0x100, 0x101], 2, [True, True, False, False])),
    ("virt-spin-table", lines([0, 1, 2, 3], 2, [True] * 4)),
])
def test_every_cpu_comes_up_as_its_topology_says(tmp_path, name, want):
    r = subprocess.run([sys.executable, "-m", "smpsim", "run", str(TOPOLOGIES / f"{name}.toml"),
                        "--run-dir", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == want


def test_virt_vhe_on_qemu_prints_the_same(tmp_path):
    if shutil.which("qemu-system-aarch64") is None:
        pytest.fail("qemu-system-aarch64 is missing: run scripts/setup (Debian qemu-system-arm)")
    r = subprocess.run(["qemu-system-aarch64", "-M", "virt,virtualization=on,gic-version=3",
                        "-cpu", "max", "-smp", "4", "-m", "512M", "-display", "none",
                        "-monitor", "none", "-chardev", "stdio,id=con,mux=on", "-serial",
                        "chardev:con", "-semihosting-config",
                        "enable=on,target=native,chardev=con", "-kernel", str(GUEST)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.replace("\r", "").splitlines() == lines([0, 1, 2, 3], 2, [True] * 4)


def test_spin_table_brings_the_secondaries_up_without_psci(tmp_path):
    r = subprocess.run([sys.executable, "-m", "smpsim", "run",
                        str(TOPOLOGIES / "virt-spin-table.toml"), "--run-dir", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    released = sorted(e["component"] for e in records if e["event"] == "spin_table_release")
    assert released == ["cpu1", "cpu2", "cpu3"]
    assert not [e for e in records if e["event"] == "psci_call"]
