"""TLB and instruction-cache maintenance across CPU processes, end to end: guests/
shootdown.s run by `smpsim run` on topologies/shootdown.toml (two CPUs, each its own
process, starting at EL2 and dropped to EL1 by the guest) and by QEMU (-M
virt,virtualization=on,gic-version=3 -cpu max -smp 2).

Issue 5, items 4 and 5: an Inner Shareable TLBI reaches every CPU and is complete on
all of them by the issuing CPU's next DSB; a store to instructions another CPU has
already decoded takes effect for it after DC CVAU, DSB ISH, IC IVAU (or IC IALLUIS),
DSB ISH on the writer and an ISB on the CPU that runs them. Both CPUs first use the
mapping of TEST_VA (page A, 0x11) and the function f (returns 1), so that their TLBs
hold the one and their decoded instructions the other; CPU 0 then changes each, and
both CPUs must see the change. The expected lines below are what the Arm ARM (DDI 0487)
requires; a CPU that kept a stale TLB entry would print the previous page's value, one
that kept stale decoded code the previous return value (committed smpsim before the
broadcast did: `tlbi vae1is: cpu1 reads 0x11`, `ic ivau: cpu1 runs the new code: 1`).
"""

import pathlib
import subprocess
import sys

import pytest
from guest_runs import committed_image, run_on_qemu

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "topologies" / "shootdown.toml"
CPUS = 2
TIMEOUT = 120  # seconds for either run; smpsim takes a few (the topology's own is 60)

# --- the architecture, as the expected lines use it ---

PSCI_SUCCESS = 0
CURRENTEL_EL1 = 1 << 2                  # CurrentEL.EL in bits [3:2]
SCTLR_M, SCTLR_C, SCTLR_I = 1 << 0, 1 << 2, 1 << 12  # WXN (bit 19) stays 0

# what the guest's pages hold: TEST_VA maps page A, then after each TLBI a page no CPU
# has used yet
PAGE_A, PAGE_B, PAGE_C, PAGE_D, PAGE_E = 0x11, 0x22, 0x33, 0x44, 0x55
# the TLBI of each round and the page the round maps TEST_VA to
TLB_ROUNDS = [("tlbi vae1is", PAGE_B), ("tlbi vale1is", PAGE_C),
              ("tlbi vaae1is", PAGE_D), ("tlbi vmalle1is", PAGE_E)]
# f returns 1 (mov x0, #1); the rewrites: mov x0, #2 (IC IVAU), mov x0, #3 (IC IALLUIS)
F_OLD = 1
IC_ROUNDS = [("ic ivau", 2), ("ic ialluis", 3)]


def both(text):
    """CPU 0's line, then CPU 1's (the guest's turns)."""
    return [text.format(cpu=0), text.format(cpu=1)]


def expected():
    lines = [f"shootdown: CPU_ON(1): {PSCI_SUCCESS}"]
    for cpu in range(CPUS):
        lines += [f"cpu{cpu}: CurrentEL {CURRENTEL_EL1:#x}",
                  f"cpu{cpu}: SCTLR_EL1 M, C, I, WXN: {SCTLR_M | SCTLR_C | SCTLR_I:#x}",
                  f"before the change: cpu{cpu} reads {PAGE_A:#x}",
                  f"before the change: cpu{cpu} runs f: {F_OLD}"]
    for tlbi, page in TLB_ROUNDS:
        lines += both(f"{tlbi}: cpu{{cpu}} reads {page:#x}")
    for ic, value in IC_ROUNDS:
        lines += both(f"{ic}: cpu{{cpu}} runs the new code: {value}")
    return lines + ["shootdown: done"]


EXPECTED = expected()


def console_lines(text):
    return text.replace("\r", "").splitlines()


@pytest.fixture(scope="module")
def image():
    return committed_image("shootdown")


@pytest.fixture(scope="module")
def smpsim_run(image, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("shootdown") / "run"
    r = subprocess.run([sys.executable, "-m", "smpsim", "run", str(TOPOLOGY),
                        "--run-dir", str(run_dir)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    return r, run_dir


@pytest.fixture(scope="module")
def qemu_run(image):
    return run_on_qemu(image, CPUS, TIMEOUT)


def test_the_expected_lines():
    """Spelled out: one line per CPU per check, CPU 0 first."""
    assert len(EXPECTED) == 1 + 4 * CPUS + 2 * (len(TLB_ROUNDS) + len(IC_ROUNDS)) + 1
    assert "tlbi vae1is: cpu1 reads 0x22" in EXPECTED
    assert "ic ivau: cpu1 runs the new code: 2" in EXPECTED
    assert "cpu1: SCTLR_EL1 M, C, I, WXN: 0x1005" in EXPECTED


def test_smpsim_runs_the_guest_to_system_off(smpsim_run):
    """CPU 0's PSCI SYSTEM_OFF ends the run with status 0 (the guest exits 1 through
    semihosting on an unexpected exception or a failed CPU_ON)."""
    r, _ = smpsim_run
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr


def test_smpsim_prints_what_the_architecture_says(smpsim_run):
    r, _ = smpsim_run
    assert console_lines(r.stdout) == EXPECTED, r.stderr


def test_smpsim_console_log_has_the_lines(smpsim_run):
    r, run_dir = smpsim_run
    assert console_lines((run_dir / "console.log").read_text()) == EXPECTED, r.stderr


def test_qemu_prints_what_the_architecture_says(qemu_run):
    assert qemu_run.returncode == 0, qemu_run.stderr
    assert console_lines(qemu_run.stdout) == EXPECTED, qemu_run.stderr


def test_smpsim_and_qemu_print_the_same(smpsim_run, qemu_run):
    smpsim_lines, qemu_lines = console_lines(smpsim_run[0].stdout), console_lines(qemu_run.stdout)
    differ = [f"line {i + 1}:\n  smpsim: {s}\n  QEMU:   {q}"
              for i, (s, q) in enumerate(zip(smpsim_lines, qemu_lines)) if s != q]
    assert not differ, "\n".join(differ)
    assert len(smpsim_lines) == len(qemu_lines)
