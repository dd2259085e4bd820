"""The exception-level guests end to end: guests/exceptions.s (EL2, EL1, EL0 without
VHE: SVC/HVC/BRK/UNDEFINED, PC alignment, illegal exception returns, HCR_EL2 traps and
routing) and guests/vhe_timer.s (E2H redirection, *_EL12/*_EL02 aliases, the EL2 timers
behind the EL0 timer names), run by `smpsim run` on topologies/exceptions.toml (one
CPU at EL2 with VHE) and by QEMU's max CPU.

The lines each guest must print are written below from the Arm ARM (DDI 0487): ESR
from its EC and ISS encodings, SPSR from the PSTATE it saves, ELR and FAR as offsets
from a label of the guest, vector offsets from the vector table layout. smpsim must
print exactly them; so must QEMU, and the two outputs must be the same.
"""

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "topologies" / "exceptions.toml"
BUILD = ROOT / "guests" / "build"
QEMU_MACHINE = ["-M", "virt,virtualization=on,gic-version=3", "-cpu", "max", "-m", "128M",
                "-display", "none", "-monitor", "none",
                "-chardev", "stdio,id=con,mux=on", "-serial", "chardev:con",
                "-semihosting-config", "enable=on,target=native,chardev=con"]

# --- the architecture, as the expected lines use it ---

# ESR_ELx.EC (ESR_EL2 "Exception Class")
EC_UNKNOWN = 0x00          # UNDEFINED instructions, and accesses UNDEFINED at the EL
EC_WFX = 0x01              # trapped WFI/WFE
EC_ILLEGAL_STATE = 0x0E    # Illegal Execution state (PSTATE.IL set)
EC_SVC, EC_HVC, EC_SMC = 0x15, 0x16, 0x17  # AArch64 SVC, HVC; SMC trapped by HCR_EL2.TSC
EC_SYSREG = 0x18           # trapped MSR/MRS/system instruction
EC_PC_ALIGNMENT = 0x22
EC_BRK = 0x3C              # BRK instruction in AArch64 state

# vector offsets from VBAR_ELx: current EL with SP_EL0, with SP_ELx; lower EL, AArch64
CURRENT_SP0, CURRENT_SPX, LOWER_A64 = 0x000, 0x200, 0x400


def esr(ec, iss=0):
    """ESR_ELx: EC << 26, IL = 1 (every instruction here is a 32-bit one), ISS."""
    return ec << 26 | 1 << 25 | iss


def sysreg_iss(op0, op1, crn, crm, op2, rt, read):
    """ISS for EC 0x18: Op0 [21:20], Op2 [19:17], Op1 [16:14], CRn [13:10], Rt [9:5],
    CRm [4:1], Direction [0] (1 = read, MRS)."""
    return op0 << 20 | op2 << 17 | op1 << 14 | crn << 10 | rt << 5 | crm << 1 | read


def wfx_iss(wfe):
    """ISS for EC 0x01 from AArch64: CV = 1, COND = 0b1110, TI (0 WFI, 1 WFE)."""
    return 1 << 24 | 0xE << 20 | wfe


def spsr(el, sp, nzcv=0, il=0, pan=0):
    """SPSR_ELx from AArch64: N Z C V [31:28], PAN [22], IL [20], D A I F [9:6] (all
    masked: the guests never unmask them), M[3:0] = EL << 2 | SPSel."""
    return nzcv << 28 | pan << 22 | il << 20 | 0b1111 << 6 | el << 2 | sp


EL2H, EL2T, EL1H, EL1T, EL0T = spsr(2, 1), spsr(2, 0), spsr(1, 1), spsr(1, 0), spsr(0, 0)
CURRENTEL_EL2, CURRENTEL_EL1 = 2 << 2, 1 << 2  # CurrentEL.EL is bits [3:2]
# SCTLR_EL1 as the guests set it: MMU and caches off, its RES1 bits (11, 20, 22, 23,
# 28, 29) set, so that every implementation reads it back unchanged
SCTLR_EL1_INIT = sum(1 << b for b in (11, 20, 22, 23, 28, 29))
SCTLR_I = 1 << 12
PSTATE_PAN = 1 << 22
CTL_ENABLE, CTL_IMASK, CTL_ISTATUS = 1, 2, 4  # CNT*_CTL


def taken(name, el, vector, esr_value, elr, spsr_value, i=1, n=1, far=None,
          spsr_name="SPSR"):
    """The guest's report of the i-th of n logged exceptions: the EL it was taken to,
    the vector offset, ESR, ELR (and FAR) relative to the check's label, SPSR."""
    line = (f"{name}: EL{el} vector {vector:#x}, ESR {esr_value:#x}, ELR +{elr:#x}, "
            f"{spsr_name} {spsr_value:#x}")
    if far is not None:
        line += f", FAR +{far:#x}"
    return f"{line} ({i} of {n})"


def illegal_return(name):
    """An illegal exception return (AArch64.ExceptionReturn with IllegalExceptionReturn
    true): PSTATE.EL and SPSel stay (EL2h), NZCV and DAIF come from the SPSR, PSTATE.IL
    is set, the PC is ELR (the label). The instruction there then takes an Illegal
    Execution state exception to EL2, whose SPSR has IL set."""
    return taken(name, 2, CURRENT_SPX, esr(EC_ILLEGAL_STATE), 0, spsr(2, 1, il=1))


# SCTLR_EL1 = S3_0_C1_C0_0, written from x5 (TVM) and read into x6 (TRVM) at EL1
SCTLR_EL1_WRITE_X5 = sysreg_iss(3, 0, 1, 0, 0, rt=5, read=0)
SCTLR_EL1_READ_X6 = sysreg_iss(3, 0, 1, 0, 0, rt=6, read=1)

EXCEPTIONS_LINES = [
    f"CurrentEL at entry: {CURRENTEL_EL2:#x}",
    "VBAR_EL2 reads back: pass",
    "VBAR_EL1 reads back: pass",
    # at EL2, to EL2, on SP_EL2: vector 0x200. SVC/HVC: ELR = the next instruction;
    # BRK and UNDEFINED ones: ELR = the instruction. SPSR keeps NZCV (Z, C here)
    taken("svc #0x12 at EL2", 2, CURRENT_SPX, esr(EC_SVC, 0x12), 4, spsr(2, 1, nzcv=0b0110)),
    taken("hvc #0x34 at EL2", 2, CURRENT_SPX, esr(EC_HVC, 0x34), 4, EL2H),
    # a BRK at EL2 cannot go to the debug target EL1: it is taken to EL2
    taken("brk #0x56 at EL2", 2, CURRENT_SPX, esr(EC_BRK, 0x56), 0, EL2H),
    taken("udf #0x78 at EL2", 2, CURRENT_SPX, esr(EC_UNKNOWN), 0, EL2H),
    # HLT other than semihosting's #0xF000, halting debug disabled: UNDEFINED
    taken("hlt #1 at EL2", 2, CURRENT_SPX, esr(EC_UNKNOWN), 0, EL2H),
    # PC alignment fault at the misaligned target: ELR = FAR = that address, ISS 0.
    # After a BR, SPSR.BTYPE is 0b01 where FEAT_BTI is implemented (QEMU's max) and
    # RES0 where not (smpsim): the guest prints the SPSR without it
    taken("br to a misaligned target at EL2", 2, CURRENT_SPX, esr(EC_PC_ALIGNMENT), 2, EL2H,
          far=2, spsr_name="SPSR without BTYPE"),
    taken("ret to a misaligned target at EL2", 2, CURRENT_SPX, esr(EC_PC_ALIGNMENT), 6, EL2H,
          far=6),
    # illegal returns (IllegalExceptionReturn, ELFromSPSR): to an unimplemented EL; to
    # EL0 with M[0] = 1; with M[1] = 1; to AArch32 at EL1 when HCR_EL2.RW = 1; to EL1
    # when HCR_EL2.TGE = 1
    illegal_return("eret to EL3h"),
    illegal_return("eret to M=0b0001"),
    illegal_return("eret to M=0b0110"),
    illegal_return("eret to AArch32 EL1 (M=0x13)"),
    illegal_return("eret to EL1h with HCR_EL2.TGE"),
    # EL2t: SP_EL0 at EL2, exceptions to the current EL's SP0 vector
    "eret to EL2t: SPSel: 0x0",
    taken("svc #0x13 at EL2t", 2, CURRENT_SP0, esr(EC_SVC, 0x13), 4, EL2T),
    # EL1h: HVC goes to EL2 through the lower-EL AArch64 vector
    f"eret to EL1h: CurrentEL: {CURRENTEL_EL1:#x}",
    "eret to EL1h: SPSel: 0x1",
    taken("hvc #0x22 at EL1", 2, LOWER_A64, esr(EC_HVC, 0x22), 4, EL1H),
    "eret to EL1t: SPSel: 0x0",
    taken("svc #0x13 at EL1t", 1, CURRENT_SP0, esr(EC_SVC, 0x13), 4, EL1T),
    # at EL1 with HCR_EL2.TGE = 0, MDCR_EL2.TDE = 0: SVC, BRK, UNDEFINED (an EL2
    # register at EL1 included) stay at EL1
    taken("svc #0x11 at EL1", 1, CURRENT_SPX, esr(EC_SVC, 0x11), 4, EL1H, 1, 4),
    taken("brk #0x33 at EL1", 1, CURRENT_SPX, esr(EC_BRK, 0x33), 0, EL1H, 2, 4),
    taken("udf #0x44 at EL1", 1, CURRENT_SPX, esr(EC_UNKNOWN), 0, EL1H, 3, 4),
    taken("mrs hcr_el2 at EL1", 1, CURRENT_SPX, esr(EC_UNKNOWN), 0, EL1H, 4, 4),
    # HCR_EL2.TVM traps the MSR (ELR = the MSR, SCTLR_EL1 unchanged), not the MRS;
    # TSC traps SMC (ELR = the SMC, ISS = its immediate); TWI traps WFI
    taken("msr sctlr_el1, x5 at EL1 with HCR_EL2.TVM", 2, LOWER_A64,
          esr(EC_SYSREG, SCTLR_EL1_WRITE_X5), 0, EL1H, 1, 3),
    "the trapped msr left SCTLR_EL1 alone: pass",
    "mrs sctlr_el1 at EL1 with TVM reads it (not trapped): pass",
    taken("smc #0x5 at EL1 with HCR_EL2.TSC", 2, LOWER_A64, esr(EC_SMC, 0x5), 0, EL1H, 2, 3),
    taken("wfi at EL1 with HCR_EL2.TWI", 2, LOWER_A64, esr(EC_WFX, wfx_iss(wfe=0)), 0, EL1H,
          3, 3),
    taken("mrs x6, sctlr_el1 at EL1 with HCR_EL2.TRVM", 2, LOWER_A64,
          esr(EC_SYSREG, SCTLR_EL1_READ_X6), 0, EL1H),
    # HCR_EL2.HCD (EL3 not implemented): HVC is UNDEFINED at EL1 and EL2
    taken("hvc #0x23 at EL1 with HCR_EL2.HCD", 1, CURRENT_SPX, esr(EC_UNKNOWN), 0, EL1H),
    taken("hvc #0x35 at EL2 with HCR_EL2.HCD", 2, CURRENT_SPX, esr(EC_UNKNOWN), 0, EL2H),
    # EL0: to EL1 with TGE = 0, to EL2 with TGE = 1; CurrentEL is not accessible at EL0
    taken("svc #0x42 at EL0", 1, LOWER_A64, esr(EC_SVC, 0x42), 4, EL0T, 1, 2),
    taken("mrs currentel at EL0", 1, LOWER_A64, esr(EC_UNKNOWN), 0, EL0T, 2, 2),
    taken("svc #0x43 at EL0 with HCR_EL2.TGE", 2, LOWER_A64, esr(EC_SVC, 0x43), 4, EL0T, 1, 2),
    taken("udf at EL0 with HCR_EL2.TGE", 2, LOWER_A64, esr(EC_UNKNOWN), 0, EL0T, 2, 2),
    f"CurrentEL at the end: {CURRENTEL_EL2:#x}",
    "exceptions: done",
]

VHE_TIMER_LINES = [
    "HCR_EL2 = E2H | RW reads back: pass",
    # E2H = 1: at EL2, *_EL1 names are the EL2 registers, *_EL12 the EL1 ones
    "msr vbar_el1 with E2H writes VBAR_EL2: pass",
    "mrs vbar_el12 reads EL1's VBAR_EL1: pass",
    "msr vbar_el12 leaves VBAR_EL2 alone: pass",
    "with E2H = 0, VBAR_EL1 holds what vbar_el12 wrote: pass",
    f"msr sctlr_el1 with E2H: SCTLR_EL2 bits changed: {SCTLR_I:#x}",
    "mrs sctlr_el1 with E2H reads SCTLR_EL2: pass",
    f"mrs sctlr_el12 (EL1's SCTLR_EL1): {SCTLR_EL1_INIT:#x}",
    "msr sctlr_el12 leaves SCTLR_EL2 alone: pass",
    "with E2H = 0, SCTLR_EL1 holds what sctlr_el12 wrote: pass",
    "msr elr_el1 with E2H writes ELR_EL2: pass",
    "msr spsr_el1 with E2H writes SPSR_EL2: pass",
    f"NZCV after an eret through those: {0b1001 << 28:#x}",
    taken("svc #0x77 at EL2 with E2H", 2, CURRENT_SPX, esr(EC_SVC, 0x77), 4, EL2H),
    f"mrs esr_el1 with E2H: {esr(EC_SVC, 0x77):#x}",
    # a guest at EL1 (TGE = 0) has its own vectors and its own SCTLR_EL1
    taken("svc #0x21 at EL1 under E2H", 1, CURRENT_SPX, esr(EC_SVC, 0x21), 4, EL1H),
    f"mrs sctlr_el1 at EL1 under E2H: {SCTLR_EL1_INIT:#x}",
    # E2H = TGE = 1: EL0 is the host's, its exceptions go to EL2, and entering EL2 in
    # the EL2&0 regime with SCTLR_EL2.SPAN = 0 sets PSTATE.PAN
    f"PSTATE.PAN after LEAVE from EL0 with E2H, TGE, SCTLR_EL2.SPAN = 0: {PSTATE_PAN:#x}",
    taken("svc #0x44 at EL0 with E2H and TGE", 2, LOWER_A64, esr(EC_SVC, 0x44), 4, EL0T),
    # E2H = 1 at EL2: CNTP_* are CNTHP_*, CNTV_* are CNTHV_*, CNTP_*_EL02 EL1's timer.
    # ISTATUS is set once the condition is met, whatever IMASK says
    f"cntp_ctl_el0 with E2H after waiting for ISTATUS: {CTL_ENABLE | CTL_ISTATUS:#x}",
    "cnthp_ctl_el2 reads the same: pass",
    "cnthp_cval_el2 reads the same as cntp_cval_el0: pass",
    "cntp_tval_el0 <= 0 once the condition is met: pass",
    f"cntp_ctl_el02 (EL1's timer, CVAL max): {CTL_ENABLE:#x}",
    f"cntp_ctl_el0 with IMASK set: {CTL_ENABLE | CTL_IMASK | CTL_ISTATUS:#x}",
    "cnthp_ctl_el2 ENABLE|IMASK after msr cntp_ctl_el0, xzr: 0x0",
    f"cntv_ctl_el0 with E2H after waiting for ISTATUS: {CTL_ENABLE | CTL_ISTATUS:#x}",
    "cnthv_ctl_el2 reads the same: pass",
    f"CurrentEL at the end: {CURRENTEL_EL2:#x}",
    "vhe_timer: done",
]

# guest: (the lines it must print, how smpsim says the run ended)
GUESTS = {
    "exceptions": (EXCEPTIONS_LINES, "guest exit 0"),  # semihosting SYS_EXIT 0
    "vhe_timer": (VHE_TIMER_LINES, "PSCI SYSTEM_OFF"),
}


@pytest.fixture(scope="module")
def guests():
    """The committed guest images (tests/test_guest_images.py checks that they are up to
    date with their sources)."""
    for name in GUESTS:
        if not (BUILD / f"{name}.elf").is_file():
            pytest.fail(f"{BUILD / name}.elf is missing: run make -C guests and commit "
                        "guests/build/*.elf")
    return BUILD


@pytest.fixture(scope="module")
def smpsim_runs(guests):
    """Each guest run once by `smpsim run` on the VHE topology."""
    runs = {}
    for name in GUESTS:
        args = [sys.executable, "-m", "smpsim", "run", str(TOPOLOGY)]
        if name != "exceptions":  # the topology's own boot.image is exceptions.elf
            args += ["--kernel", str(guests / f"{name}.elf")]
        runs[name] = subprocess.run(args, capture_output=True, text=True, timeout=300)
    return runs


@pytest.fixture(scope="module")
def qemu_runs(guests):
    """Each guest run once by QEMU's max CPU, as test_run_command runs the selftest."""
    qemu = shutil.which("qemu-system-aarch64")
    if qemu is None:
        pytest.skip("qemu-system-aarch64 is missing (Debian package qemu-system-arm): "
                    "no oracle to compare with")
    return {name: subprocess.run([qemu, *QEMU_MACHINE, "-kernel", str(guests / f"{name}.elf")],
                                 capture_output=True, text=True, timeout=120)
            for name in GUESTS}


@pytest.mark.parametrize("name", GUESTS)
def test_smpsim_runs_the_guest_to_its_end(smpsim_runs, name):
    run = smpsim_runs[name]
    assert run.returncode == 0, run.stderr
    assert GUESTS[name][1] in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("name", GUESTS)
def test_smpsim_prints_what_the_architecture_says(smpsim_runs, name):
    assert smpsim_runs[name].stdout.splitlines() == GUESTS[name][0], smpsim_runs[name].stderr


@pytest.mark.parametrize("name", GUESTS)
def test_qemu_prints_what_the_architecture_says(qemu_runs, name):
    run = qemu_runs[name]
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == GUESTS[name][0], run.stderr


@pytest.mark.parametrize("name", GUESTS)
def test_smpsim_and_qemu_print_the_same(smpsim_runs, qemu_runs, name):
    assert smpsim_runs[name].stdout == qemu_runs[name].stdout
