"""`smpsim run` end to end: the bundled guest on smpsim and on QEMU, exit statuses, and
bad input that gets one clear error instead of a traceback."""

import pathlib
import shutil
import struct
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SELFTEST = ROOT / "topologies" / "selftest.toml"
SELFTEST_ELF = ROOT / "guests" / "build" / "selftest.elf"
SELFTEST_OUTPUT = "selftest: A64 integer core\nselftest: all checks passed\n"


@pytest.fixture(scope="module")
def guests():
    """The committed guest images (tests/test_guest_images.py checks they are current)."""
    assert SELFTEST_ELF.is_file(), "guests/build/selftest.elf is missing from the checkout"
    return ROOT / "guests" / "build"


def smpsim(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "smpsim", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def test_selftest_guest_passes(guests):
    r = smpsim("run", SELFTEST)
    assert r.returncode == 0, r.stderr
    assert r.stdout == SELFTEST_OUTPUT
    assert "guest exit 0" in r.stderr


def test_qemu_runs_the_same_image_the_same_way(guests):
    """QEMU is the oracle: the same guest image, the same console, the same exit code."""
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        pytest.fail("qemu-system-aarch64 is missing: run scripts/setup (Debian package qemu-system-arm)")
    r = subprocess.run([qemu, "-M", "virt,virtualization=on,gic-version=3", "-cpu", "max",
                        "-m", "128M", "-display", "none", "-monitor", "none",
                        "-chardev", "stdio,id=con,mux=on", "-serial", "chardev:con",
                        "-semihosting-config", "enable=on,target=native,chardev=con",
                        "-kernel", str(SELFTEST_ELF)],
                       capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout) == (0, SELFTEST_OUTPUT), r.stderr


def test_guest_exit_code_is_the_run_exit_code(tmp_path, guests):
    # adr x1, block ; mov w0, #0x18 ; hlt #0xf000 ; .balign 16 ; block: {ApplicationExit, 42}
    code = struct.pack("<3I", 0x10000081, 0x52800300, 0xD45E0000) + b"\0" * 4 + struct.pack("<QQ", 0x20026, 42)
    image = tmp_path / "exit42.bin"
    image.write_bytes(code)
    r = smpsim("run", SELFTEST, "--kernel", image)
    assert r.returncode == 42, r.stderr


def test_a_hung_guest_ends_at_its_timeout_with_status_124(tmp_path):
    image = tmp_path / "spin.bin"
    image.write_bytes(struct.pack("<I", 0x14000000))  # b .
    r = smpsim("run", SELFTEST, "--kernel", image, "--timeout", "1")
    assert r.returncode == 124
    assert "timeout after 1 s: CPU0 at pc=0x40000000" in r.stderr


def test_an_undefined_instruction_without_a_handler_is_reported_not_a_traceback(tmp_path):
    image = tmp_path / "zeros.bin"
    image.write_bytes(bytes(16))  # udf #0, and VBAR_EL2 still at its reset value 0
    r = smpsim("run", SELFTEST, "--kernel", image)
    assert r.returncode == 70
    assert ("an undefined instruction at pc=0x40000000 (ESR 0x2000000) was taken to EL2, "
            "whose vector 0x200 is not in RAM") in r.stderr
    assert "Traceback" not in r.stderr


def test_psci_system_off_ends_the_run_with_0(tmp_path):
    image = tmp_path / "off.bin"
    # movz w0, #0x8 ; movk w0, #0x8400, lsl #16 ; smc #0 ; b .
    image.write_bytes(struct.pack("<4I", 0x52800100, 0x72B08000, 0xD4000003, 0x14000000))
    r = smpsim("run", SELFTEST, "--kernel", image, "--timeout", "30")
    assert r.returncode == 0, r.stderr
    assert "PSCI SYSTEM_OFF" in r.stderr


@pytest.mark.parametrize("setup, message", [
    (lambda d: ("run", d / "missing.toml"), "cannot read"),
    (lambda d: ("run", _write(d / "bad.toml", "[[cluster]]\ncpus = 0\n")), "cluster[0].cpus"),
    (lambda d: ("run", SELFTEST, "--kernel", d / "missing.elf"), "missing.elf: cannot read"),
    (lambda d: ("run", _write(d / "noimg.toml", "[boot]\nimage = \"nope.elf\"\n[[cluster]]\ncpus = 1\n")),
     "noimg.toml: boot.image: "),
    (lambda d: ("run", SELFTEST, "--kernel", _write(d / "empty.bin", "")), "empty image"),
    (lambda d: ("run", SELFTEST, "--kernel", sys.executable), "not a 64-bit AArch64 ELF file"),
    (lambda d: ("run", SELFTEST, "--kernel", _write(d / "trunc.elf", "\x7fELF\x02\x01")), "malformed ELF"),
    (lambda d: ("run", SELFTEST, "--timeout", "0"), "--timeout"),
    (lambda d: ("run", SELFTEST, "--depth", "17"), "--depth"),
    (lambda d: ("run", SELFTEST, "--seed", "-1"), "--seed"),
    (lambda d: ("run", SELFTEST, "--mode", "sequential"), "invalid choice"),
    (lambda d: ("explore", SELFTEST, "--runs", "0"), "--runs"),
    (lambda d: ("replay", str(d)), "not a recorded serial run"),
    (lambda d: ("replay", SELFTEST), "--seed"),
    (lambda d: ("run", SELFTEST, "--frobnicate"), "unrecognized arguments"),
    (lambda d: ("run",), "the following arguments are required"),
    (lambda d: ("check", _write(d / "c.toml", "[run]\nmode = 1\n[[cluster]]\ncpus = 1\n")), "run.mode"),
    (lambda d: ("check", _write(d / "noimg.toml", "[boot]\nimage = \"nope.elf\"\n[[cluster]]\ncpus = 2\n")),
     "noimg.toml: boot.image: "),
])
def test_bad_input_gets_one_clear_error_and_status_2(tmp_path, setup, message):
    r = smpsim(*setup(tmp_path))
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def _write(path, text):
    path.write_text(text)
    return path


def test_check_prints_the_machine():
    r = smpsim("check", SELFTEST)
    assert r.returncode == 0
    assert "cpu0" in r.stdout and "MPIDR 0x80000000" in r.stdout and "EL2" in r.stdout


def test_a_bundled_topology_is_found_by_name_from_anywhere(tmp_path):
    r = subprocess.run([sys.executable, "-m", "smpsim", "check", "virt-mixed"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("virt-mixed:")
    assert r.stdout.count("vhe") == 2  # CPUs 0-1 with VHE, 2-3 without
    r = subprocess.run([sys.executable, "-m", "smpsim", "check", "no-such-topology"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "no-such-topology" in r.stderr and "Traceback" not in r.stderr


def test_decode_names_the_op_and_the_spec_pattern():
    r = smpsim("decode", "91000400", "0x00000000", "f8220003")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["91000400", "ADD_IMM", "data_processing_immediate.ADD_SUB_imm"]
    assert lines[1].split()[:3] == ["00000000", "UNDEFINED", "no"]
    assert lines[2].split()[:3] == ["f8220003", "LD_ATOMIC", "loads_stores.LD_atomic"]


def test_compile_and_version():
    assert smpsim("compile").returncode == 0
    r = smpsim("version")
    assert r.returncode == 0 and r.stdout.startswith("smpsim ")
