"""The platform guests end to end, each a real `smpsim run TOPOLOGY --run-dir DIR` of a
topology and its committed guest image, and the same image on QEMU:

- guests/el1_vtimer.s on topologies/el1-vtimer.toml (one CPU, EL1, no EL2): the EL1
  virtual timer's PPI 27 taken at EL1 through the GIC; the guest's semihosting exit
  code 3 is the run's exit status;
- guests/uart_irq.s on topologies/uart-irq.toml (one CPU, EL1): console lines through
  the PL011 and semihosting, then the PL011's transmit interrupt (SPI 33) through the
  GIC;
- guests/psci_errors.s on topologies/psci-errors.toml (four CPUs, EL2, SMC): PSCI's
  answers and error codes, CPU_ON / CPU_OFF / CPU_ON of a secondary, SYSTEM_OFF.

The lines each guest must print are written below from the specifications: the Arm
ARM (DDI 0487) for the timer and exceptions, GICv3 (IHI 0069), the PL011 TRM (DDI
0183), PSCI (DEN 0022) and the SMC Calling Convention (DEN 0028); where a value is
QEMU virt's configuration rather than the architecture's, the comment says so.

QEMU runs the same images on the machine the topology describes: -M virt,
virtualization=on,gic-version=3 for CPUs that start at EL2 (PSCI over SMC), and -M virt,
gic-version=3 (no EL2: the CPUs start at EL1, PSCI over HVC) for the EL1 topologies;
-cpu max, -smp as many CPUs as the topology has. With semihosting, QEMU's exit status
is the guest's SYS_EXIT code, and 0 after PSCI SYSTEM_OFF.
"""

import pathlib
import shutil
import subprocess
import sys
from typing import NamedTuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOPOLOGIES = ROOT / "topologies"
BUILD = ROOT / "guests" / "build"

QEMU_EL2 = "virt,virtualization=on,gic-version=3"
QEMU_EL1 = "virt,gic-version=3"

# --- el1_vtimer -------------------------------------------------------------------------

EL1_VTIMER_LINES = [
    "CurrentEL: 0x4",                       # EL1 << 2
    "CNTFRQ_EL0: 62500000",                 # QEMU virt's 62.5 MHz, the topology's default
    # GICD_CTLR with one Security state: EnableGrp1 [1], ARE [4], DS [6] (RAO here)
    "GICD_CTLR after ARE | EnableGrp1: 0x52",
    "GICR_WAKER after the wake-up handshake: 0x0",  # ProcessorSleep and ChildrenAsleep clear
    "GICR_IGROUPR0 with PPI 27 in Group 1: 0x8000000",  # only what the guest set (reset: Group 0)
    "GICR_IPRIORITYR of PPI 27: 0x80",
    "ICC_SRE_EL1: 0x7",                     # SRE, DFB, DIB: system registers only
    "ISR_EL1 on entry to the handler: 0x80",  # I: an IRQ pending
    "ICC_IAR1_EL1: 27",                     # the EL1 virtual timer's PPI
    "CNTV_CTL_EL0 in the handler: 0x5",     # ENABLE | ISTATUS
    # SPSR_EL1[9:0] of the interrupted code: EL1h (0b0101), D, A, F masked, I clear
    # (taken in wait_irq, just after DAIFClr)
    "SPSR_EL1 in the handler, M and DAIF: 0x345",
    "ICC_RPR_EL1 after the acknowledge: 0x80",  # the running priority: the timer's
    "CNTV_CTL_EL0 with IMASK: 0x7",         # ISTATUS does not depend on IMASK
    "ICC_RPR_EL1 after the EOI: 0xff",      # idle
    "ICC_HPPIR1_EL1 after the EOI: 1023",   # nothing pending: the output is masked
    "IRQs taken: 1",
    "el1_vtimer: done, exit 3",
]

# --- uart_irq ---------------------------------------------------------------------------

UART_INT_TX = 1 << 5  # TXRIS / TXMIS / TXIM / TXIC
UARTFR_TXFE, UARTFR_RXFE = 1 << 7, 1 << 4

UART_IRQ_LINES = [
    "uart_irq: a line through the PL011",
    "uart_irq: a line through semihosting",
    f"UARTFR after the output (TXFE, RXFE): {UARTFR_TXFE | UARTFR_RXFE:#x}",
    # each character written leaves the transmit FIFO at once: TXRIS set
    f"UARTRIS after the output: {UART_INT_TX:#x}",
    "UARTRIS after UARTICR: 0x0",
    "GICD_IGROUPR1 with SPI 33 in Group 1: 0x2",   # INTID 33 = bit 1 of IGROUPR1
    "GICD_ICFGR2 (SPI 33 level-sensitive): 0x0",   # QEMU virt's device tree: level
    "GICD_IROUTER33: 0x0",                          # to CPU 0 (Aff 0.0.0.0), IRM = 0
    "UARTMIS with TXIM set, before a write: 0x0",   # TXRIS was cleared: no interrupt
    "ISR_EL1 before a write: 0x0",
    "uart_irq: a line through the PL011 with TXIM set",
    f"UARTMIS after the line: {UART_INT_TX:#x}",
    "ICC_IAR1_EL1: 33",                             # SPI 1 of QEMU virt: the PL011
    f"UARTMIS in the handler: {UART_INT_TX:#x}",
    "UARTMIS after UARTICR in the handler: 0x0",
    "IRQs taken: 1",
    "uart_irq: done",
]

# --- psci_errors ------------------------------------------------------------------------

SUCCESS, NOT_SUPPORTED, INVALID_PARAMETERS, ALREADY_ON = 0, -1, -2, -4
AFF_ON, AFF_OFF = 0, 1  # AFFINITY_INFO
PSCI_1_1 = 0x10001
MIGRATE_NOT_REQUIRED = 2  # MIGRATE_INFO_TYPE: no Trusted OS


def psci_lines(features_smccc_version, smccc_version):
    return [
        "psci_errors: CPU 0, CurrentEL: 0x8",
        f"PSCI_VERSION: {PSCI_1_1:#x}",
        f"PSCI_FEATURES(PSCI_VERSION): {SUCCESS}",
        f"PSCI_FEATURES(CPU_ON): {SUCCESS}",
        f"PSCI_FEATURES(PSCI_FEATURES): {SUCCESS}",
        f"PSCI_FEATURES(SYSTEM_SUSPEND), not supported: {NOT_SUPPORTED}",
        f"PSCI_FEATURES(0x8400001f), no such function: {NOT_SUPPORTED}",
        f"function 0x8400001f, no such function: {NOT_SUPPORTED}",  # SMCCC: unknown function
        f"MIGRATE_INFO_TYPE: {MIGRATE_NOT_REQUIRED}",
        f"PSCI_FEATURES(SMCCC_VERSION): {features_smccc_version}",
        f"SMCCC_VERSION: {smccc_version}",
        f"AFFINITY_INFO(1), before its CPU_ON: {AFF_OFF}",
        f"AFFINITY_INFO(0x7), no such CPU: {INVALID_PARAMETERS}",
        f"CPU_ON(0x7), no such CPU: {INVALID_PARAMETERS}",
        f"CPU_ON(0x100), no such CPU: {INVALID_PARAMETERS}",
        f"CPU_ON(0), the caller: {ALREADY_ON}",
        f"CPU_ON(1): {SUCCESS}",
        # CPU_ON starts the CPU at the caller's EL with the context id in x0
        "cpu 1 up, CurrentEL 0x8, context id 0x1234",
        f"AFFINITY_INFO(1), running: {AFF_ON}",
        f"CPU_ON(1), running: {ALREADY_ON}",
        f"AFFINITY_INFO(1), after its CPU_OFF: {AFF_OFF}",
        f"CPU_ON(1), again: {SUCCESS}",
        "cpu 1 up, CurrentEL 0x8, context id 0x5678",
        f"AFFINITY_INFO(2), never started: {AFF_OFF}",
        "psci_errors: SYSTEM_OFF",
    ]


# SMCCC (DEN 0028): SMCCC_VERSION exists from SMCCC 1.1; a caller finds it with
# PSCI_FEATURES(SMCCC_VERSION), and NOT_SUPPORTED there means SMCCC 1.0. smpsim
# implements SMCCC 1.1 (smpsim/bootctl/psci.py); QEMU 7.2 implements 1.0 and answers
# NOT_SUPPORTED to both. Both follow the convention; these two lines are the only ones
# in which the platforms differ.
PSCI_SMPSIM_LINES = psci_lines(SUCCESS, f"{0x10001:#x}")
PSCI_QEMU_LINES = psci_lines(NOT_SUPPORTED, NOT_SUPPORTED)
SMCCC_LINES = {9, 10}  # their indices

# --- the runs ---------------------------------------------------------------------------


class Guest(NamedTuple):
    topology: str
    qemu_machine: str
    cpus: int
    smpsim_lines: list
    qemu_lines: list
    status: int  # smpsim's and QEMU's exit status: SYS_EXIT's code, 0 after SYSTEM_OFF


GUESTS = {
    # main returns 3: boot.s passes it to SYS_EXIT
    "el1_vtimer": Guest("el1-vtimer", QEMU_EL1, 1, EL1_VTIMER_LINES, EL1_VTIMER_LINES, 3),
    "uart_irq": Guest("uart-irq", QEMU_EL1, 1, UART_IRQ_LINES, UART_IRQ_LINES, 0),
    # SYSTEM_OFF (the guest exits 1 if it returns)
    "psci_errors": Guest("psci-errors", QEMU_EL2, 4, PSCI_SMPSIM_LINES, PSCI_QEMU_LINES, 0),
}


@pytest.fixture(scope="module")
def smpsim_runs(tmp_path_factory):
    """Each guest run once by `smpsim run` on its topology (whose boot.image it is)."""
    runs = {}
    for name, g in GUESTS.items():
        image = BUILD / f"{name}.elf"
        if not image.is_file():
            pytest.fail(f"{image} is missing: run make -C guests and commit guests/build/*.elf")
        run_dir = tmp_path_factory.mktemp(name) / "run"
        r = subprocess.run([sys.executable, "-m", "smpsim", "run",
                            str(TOPOLOGIES / f"{g.topology}.toml"), "--run-dir", str(run_dir)],
                           capture_output=True, text=True, timeout=600)
        runs[name] = (r, run_dir)
    return runs


@pytest.fixture(scope="module")
def qemu_runs():
    """Each image run once by QEMU on the machine its topology describes."""
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        pytest.fail("qemu-system-aarch64 is missing: run scripts/setup (Debian qemu-system-arm)")
    return {name: subprocess.run(
        [qemu, "-M", g.qemu_machine, "-cpu", "max", "-smp", str(g.cpus), "-m", "512M",
         "-display", "none", "-monitor", "none", "-chardev", "stdio,id=con,mux=on",
         "-serial", "chardev:con", "-semihosting-config", "enable=on,target=native,chardev=con",
         "-kernel", str(BUILD / f"{name}.elf")],
        capture_output=True, text=True, timeout=300) for name, g in GUESTS.items()}


def console_lines(text):
    return text.replace("\r", "").splitlines()


@pytest.mark.parametrize("name", GUESTS)
def test_smpsim_exit_status_is_the_guests(smpsim_runs, name):
    r, _ = smpsim_runs[name]
    assert r.returncode == GUESTS[name].status, r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("name", GUESTS)
def test_smpsim_console_log_has_the_lines(smpsim_runs, name):
    """console.log in the run directory: the PL011's and semihosting's output in the
    order the guest made it."""
    r, run_dir = smpsim_runs[name]
    assert console_lines((run_dir / "console.log").read_text()) == GUESTS[name].smpsim_lines, r.stderr


# stdout: the device service writes the console (UART and semihosting, each CPU's in
# the order it made them) and bootctl prints what it forwards, draining it at the end
@pytest.mark.parametrize("name", GUESTS)
def test_smpsim_prints_the_lines(smpsim_runs, name):
    r, _ = smpsim_runs[name]
    assert console_lines(r.stdout) == GUESTS[name].smpsim_lines, r.stderr


@pytest.mark.parametrize("name", GUESTS)
def test_qemu_prints_the_lines_and_exits_with_the_guests_status(qemu_runs, name):
    r = qemu_runs[name]
    assert (r.returncode, console_lines(r.stdout)) == (GUESTS[name].status,
                                                       GUESTS[name].qemu_lines), r.stderr


def test_smpsim_and_qemu_differ_only_in_the_smccc_version(smpsim_runs, qemu_runs):
    smpsim = console_lines((smpsim_runs["psci_errors"][1] / "console.log").read_text())
    qemu = console_lines(qemu_runs["psci_errors"].stdout)
    assert len(smpsim) == len(qemu)
    assert {i for i, (a, b) in enumerate(zip(smpsim, qemu)) if a != b} == SMCCC_LINES
