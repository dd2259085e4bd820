"""An unmodified arm64 Linux kernel (Debian's 6.1 cloud kernel, which
scripts/fetch-kernel puts in kernels/; scripts/setup runs it) on four CPU processes:
its boot to the rootfs panic, an initramfs whose /init runs at EL0, the lines it prints
about the CPU, PSCI, the GIC and the timer compared with what it prints on QEMU, and the
stop report of a kernel that never ends.

Without a kernel these tests are skipped, with the reason; SMPSIM_KERNEL names another
Image (then QEMU boots that one for the comparison)."""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest
from gnu_as import link_linux_program
from guest_runs import ROOT, run_kernel_on_qemu, run_topology

from smpsim import log

KERNEL = pathlib.Path(os.environ.get("SMPSIM_KERNEL", ROOT / "kernels" / "Image"))
pytestmark = pytest.mark.skipif(
    not KERNEL.is_file(),
    reason=f"no kernel at {KERNEL}: scripts/fetch-kernel fetches Debian's (scripts/setup "
           "runs it where apt-get can), or set SMPSIM_KERNEL to an arm64 Image")

CMDLINE = "console=ttyAMA0 earlycon panic=-1"
PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET = "0x84000008", "0x84000009"
TIMEOUT = 900  # a loaded 2-core host; the boot itself takes about 10 s


def strip_time(lines):
    return [re.sub(r"^\[ *\d+\.\d+\] ", "", line) for line in lines]


def psci_functions(records):
    return [r["function"] for r in records if r["event"] == "psci_call"]


@pytest.fixture(scope="module")
def boot(tmp_path_factory):
    """The kernel booted with CMDLINE: (status, console lines, records, stderr)."""
    run_dir = tmp_path_factory.mktemp("linux") / "run"
    return run_topology("linux-virt-vhe", run_dir, TIMEOUT, "--kernel", str(KERNEL),
                        "--append", CMDLINE)


def test_linux_boots_on_four_cpu_processes_to_the_rootfs_panic_and_resets(boot):
    status, console, records, stderr = boot
    lines = strip_time(console)
    assert status == 0, stderr
    assert lines[0] == "Booting Linux on physical CPU 0x0000000000 [0x000f0510]"
    wanted = ["SMP: Total of 4 processors activated.", "CPU: All CPU(s) started at EL2",
              "kvm [1]: VHE mode initialized successfully",
              "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"]
    at = [lines.index(w) for w in wanted]  # (ValueError names a missing line)
    assert at == sorted(at)
    # three secondaries brought up by PSCI CPU_ON, each CPU in its own process
    assert [r.get("action") for r in records if r["event"] == "psci_call"].count("cpu_on") == 3
    assert sorted(r["component"] for r in records if r["event"] == "power_on") == \
        ["cpu0", "cpu1", "cpu2", "cpu3"]
    assert len({r["pid"] for r in records if r["component"].startswith("cpu")}) == 4
    # panic=-1: the kernel restarts at once, through PSCI SYSTEM_RESET, which ends the run
    assert psci_functions(records)[-1] == PSCI_SYSTEM_RESET


def serial_boot(run_dir, seed):
    status, console, _, stderr = run_topology(
        "linux-virt-vhe", run_dir, TIMEOUT, "--kernel", str(KERNEL), "--append", CMDLINE,
        "--mode", "serial", "--seed", str(seed))
    assert status == 0, stderr
    return console, json.loads((run_dir / "summary.json").read_text())


def test_a_serial_boot_repeats_exactly_and_another_seed_boots_another_way(tmp_path):
    """One CPU process at a time, virtual time: the same seed gives the same boot, to
    every line and timestamp of its console; another seed interleaves the CPUs
    differently and still reaches the panic."""
    first, a = serial_boot(tmp_path / "a", 1)
    again, b = serial_boot(tmp_path / "b", 1)
    other, c = serial_boot(tmp_path / "c", 2)
    assert "SMP: Total of 4 processors activated." in strip_time(first)
    assert again == first and b["digest"] == a["digest"] and b["points"] == a["points"]
    assert c["digest"] != a["digest"]
    assert any(line.startswith("Kernel panic - not syncing: VFS") for line in strip_time(other))


def cpio_newc(files) -> bytes:
    """An initramfs: the cpio "newc" archive the kernel unpacks. files: (name, mode,
    data, (rdev major, minor))."""
    out = bytearray()
    for ino, (name, mode, data, rdev) in enumerate([*files, ("TRAILER!!!", 0, b"", (0, 0))]):
        name_z = name.encode() + b"\0"
        fields = (ino + 1, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_z), 0)
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + name_z
        out += b"\0" * (-len(out) % 4) + data + b"\0" * (-len(data) % 4)
    return bytes(out)


# a static program with no C library: write a line to the console, power off
INIT = """
    .global _start
_start:
    mov x0, #1
    adr x1, msg
    mov x2, #(end - msg)
    mov x8, #64                 // write(1, msg, len)
    svc #0
    ldr w0, =0xfee1dead         // reboot(MAGIC1, MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0)
    ldr w1, =0x28121969
    ldr w2, =0x4321fedc
    mov x3, #0
    mov x8, #142
    svc #0
1:  b 1b
msg: .ascii "smpsim-test: /init is running at EL0\\n"
end:
"""


def test_an_initramfs_init_runs_at_el0_and_powers_the_machine_off(tmp_path):
    initrd = tmp_path / "initrd.cpio"
    initrd.write_bytes(cpio_newc([("dev", 0o40755, b"", (0, 0)),
                                  ("dev/console", 0o20600, b"", (5, 1)),
                                  ("init", 0o100755, link_linux_program(INIT), (0, 0))]))
    status, console, records, stderr = run_topology(
        "linux-virt-vhe", tmp_path / "run", TIMEOUT, "--kernel", str(KERNEL), "--append",
        CMDLINE, "--initrd", str(initrd))
    lines = strip_time(console)
    assert status == 0, stderr
    assert "Trying to unpack rootfs image as initramfs..." in lines
    start = lines.index("Run /init as init process")
    assert lines[start + 1] == "smpsim-test: /init is running at EL0"
    assert "reboot: Power down" in lines[start:]
    assert psci_functions(records)[-1] == PSCI_SYSTEM_OFF
    # its two system calls: SVCs from EL0, taken to EL2 (VHE: the kernel runs there)
    svcs = [r for r in records if r["event"] == "exception" and r.get("ec") == "0x15"
            and r["from_el"] == 0]
    assert len(svcs) >= 2 and all(r["to_el"] == 2 for r in svcs)


# Every line of these kinds that only one of the two prints, and why. The test fails
# on a difference not listed here, and on a listed one that no longer occurs.
COMPARED = re.compile(r"^(CPU features: detected: |psci: |GICv3: |arch_timer: |sched_clock: )")
NOT_IMPLEMENTED = "QEMU's max CPU implements it; smpsim's interpreter does not, and its ID " \
                  "registers say so"
ONLY_ON_QEMU = {
    r"psci: SMC Calling Convention v1\.0":
        "QEMU 7.2's firmware does not answer SMCCC_VERSION (so Linux assumes 1.0); ours "
        "implements SMCCC 1.1 (SMCCC_VERSION and SMCCC_ARCH_FEATURES)",
    r"GICv3: GICv3 features: 16 PPIs":
        "smpsim's distributor implements SGI range selectors (GICD_TYPER.RSS); QEMU 7.2's "
        "does not",
    r"GICv3: using LPI property table @0x[0-9a-f]+":
        "QEMU's virt machine has an ITS and LPIs; smpsim's GIC has neither (GICD_TYPER.LPIS = 0)",
    r"GICv3: CPU\d: using allocated LPI pending table @0x[0-9a-f]+":
        "no LPIs in smpsim (above)",
    **{fr"CPU features: detected: {re.escape(name)}": NOT_IMPLEMENTED for name in (
        "Hardware dirty bit management", "Branch Target Identification",
        "32-bit EL0 Support", "32-bit EL1 Support", "ARMv8.4 Translation Table Level",
        "Common not Private translations", "Data cache clean to Point of Deep Persistence",
        "E0PD", "RCpc load-acquire (LDAPR)", "RAS Extension Support",
        "Random Number Generator", "Stage-2 Force Write-Back",
        "TLB range maintenance instructions", "Speculative Store Bypassing Safe (SSBS)",
        "Scalable Vector Extension", "Address authentication (architected QARMA5 algorithm)",
        "Generic authentication (architected QARMA5 algorithm)")},
}
ONLY_ON_SMPSIM = {
    r"psci: SMC Calling Convention v1\.1": "SMCCC 1.1 (above)",
    r"GICv3: GICv3 features: 16 PPIs, RSS": "the range selectors (above)",
}


def differences(ours, theirs, explained):
    """Lines of `ours` not in `theirs`: (unexplained lines, patterns that matched)."""
    unexplained, used = [], set()
    for line in sorted(set(ours) - set(theirs)):
        found = [p for p in explained if re.fullmatch(p, line)]
        used.update(found)
        if not found:
            unexplained.append(line)
    return unexplained, used


def test_the_cpu_psci_gic_and_timer_lines_match_qemu_s_but_for_the_explained(boot):
    status, console, _, stderr = boot
    assert status == 0, stderr
    qemu = run_kernel_on_qemu(KERNEL, "virt,virtualization=on,gic-version=3", "max", CMDLINE)
    assert "Kernel panic - not syncing: VFS" in qemu.stdout, qemu.stdout[-2000:]
    theirs = [line for line in strip_time(qemu.stdout.splitlines()) if COMPARED.match(line)]
    ours = [line for line in strip_time(console) if COMPARED.match(line)]
    assert len(ours) >= 20  # (the comparison has something to compare)
    only_qemu, used_qemu = differences(theirs, ours, ONLY_ON_QEMU)
    only_ours, used_ours = differences(ours, theirs, ONLY_ON_SMPSIM)
    assert only_qemu == [] and only_ours == [], \
        f"unexplained: only on QEMU {only_qemu}, only on smpsim {only_ours}"
    stale = (set(ONLY_ON_QEMU) - used_qemu) | (set(ONLY_ON_SMPSIM) - used_ours)
    assert not stale, f"explained differences that no longer occur: {sorted(stale)}"


def test_a_kernel_that_never_ends_is_reported_where_each_cpu_was(tmp_path):
    """panic=0: after the panic the kernel spins for ever; Ctrl-C (SIGINT) once the panic
    is on the console ends the run with the stop report. With boot.kaslr the kernel
    runs at a randomised address (the report finds it from VBAR)."""
    topology = (ROOT / "topologies" / "linux-virt-vhe.toml").read_text()
    topology = topology.replace("[boot]\n", "[boot]\nkaslr = true\n").replace(
        '"../kernels/', f'"{ROOT}/kernels/')
    (tmp_path / "t.toml").write_text(topology)
    proc = subprocess.Popen([sys.executable, "-m", "smpsim", "run", tmp_path / "t.toml",
                             "--kernel", KERNEL, "--append", "console=ttyAMA0 panic=0",
                             "--run-dir", tmp_path / "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + TIMEOUT
    try:
        for line in proc.stdout:
            if "Kernel panic - not syncing" in line or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGINT, stderr
    console = (tmp_path / "run" / "console.log").read_text()
    assert "KASLR enabled" in console
    offset = re.search(r"Kernel Offset: (0x[0-9a-f]+) from", console)
    report = (tmp_path / "run" / "stop_report.txt").read_text()
    assert report.strip() in stderr
    cpu_lines = [line for line in report.splitlines() if re.match(r"  cpu\d: ", line)]
    assert len(cpu_lines) == 4
    assert all(re.match(r"  cpu\d: EL2 pc 0xffff[0-9a-f]{12}", line) for line in cpu_lines)
    # the CPUs that took the panic's stop IPI: their last exception is that IRQ
    assert sum("last exceptions" in line for line in report.splitlines()) == 4
    if (KERNEL.parent / "System.map").is_file():  # scripts/fetch-kernel --symbols
        assert all(re.search(r"pc 0x[0-9a-f]+ \w+\+0x[0-9a-f]+/0x[0-9a-f]+", line)
                   for line in cpu_lines), report
        assert offset is None or f"kernel relocated by {offset.group(1)}" in report, report
    records = list(log.read_events(tmp_path / "run" / "events.jsonl"))
    assert len([r for r in records if r["event"] == "cpu_stopped"]) == 4


def undefined_at_el1(records, cpu):
    """The UNDEFINED exceptions (EC 0) `cpu` took at EL1 after it dropped from EL2."""
    mine = [r for r in records if r["component"] == f"cpu{cpu}"]
    dropped = next(i for i, r in enumerate(mine) if r["event"] == "exception_return"
                   and (r["from_el"], r["to_el"]) == (2, 1))
    return [r for r in mine[dropped:] if r["event"] == "exception" and r.get("ec") == "0x0"
            and (r["from_el"], r["to_el"]) == (1, 1)]


def test_vhe_boot_cpu_with_non_vhe_siblings_boots_without_them(tmp_path):
    """The seed's mixed machine under Linux, VHE on the boot CPU: the kernel runs at EL2
    and patches itself for VHE (its per-CPU offset in TPIDR_EL2); cpu2 and cpu3 have no
    VHE, stay at EL1 on their way up and take an undefined instruction there (an EL2
    register), before any check could see the mismatch. The kernel goes on without
    them."""
    status, console, records, stderr = run_topology(
        "linux-virt-mixed", tmp_path / "run", TIMEOUT, "--kernel", str(KERNEL))
    lines = strip_time(console)
    assert status == 0, stderr
    for wanted in ("CPU features: detected: Virtualization Host Extensions",
                   "CPU1: Booted secondary processor 0x0000000001 [0x000f0510]",
                   "CPU2: failed to come online", "CPU3: failed to come online",
                   "SMP: Total of 2 processors activated.", "CPU: All CPU(s) started at EL2",
                   "kvm [1]: VHE mode initialized successfully"):
        assert wanted in lines
    assert any(line.startswith("Kernel panic - not syncing: VFS") for line in lines)
    for cpu in (2, 3):
        assert undefined_at_el1(records, cpu), f"cpu{cpu} took no undefined instruction"


def test_non_vhe_boot_cpu_with_vhe_siblings_panics_on_the_conflict(tmp_path):
    """The other way round: the kernel runs nVHE; cpu2 enters VHE on its own on its way
    up (each CPU decides that for itself), and the kernel's feature check panics, as the
    seed thread's "Panic when VHE and non VHE CPUs coexist" has it."""
    status, console, records, stderr = run_topology(
        "linux-virt-mixed-nvhe-boot", tmp_path / "run", TIMEOUT, "--kernel", str(KERNEL))
    lines = strip_time(console)
    assert status == 0, stderr
    assert "CPU features: detected: Virtualization Host Extensions" not in lines
    assert "CPU1: Booted secondary processor 0x0000000001 [0x000f0510]" in lines
    assert ("CPU features: CPU2: Detected conflict for capability 37 (Virtualization Host "
            "Extensions), System: 0, CPU: 1") in lines
    assert "Kernel panic - not syncing: CPU2 detected unsupported configuration" in lines
    assert psci_functions(records)[-1] == PSCI_SYSTEM_RESET
