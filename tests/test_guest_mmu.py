"""The MMU guest end to end: guests/mmu.s (VMSAv8-64, 4 KiB granule: stage 1 of the
EL1&0, EL2 and EL2&0 regimes, stage 2, and their faults) run by `smpsim run` on
topologies/mmu.toml (one CPU at EL2 with VHE and PAN) and by QEMU's max CPU.

The lines the guest must print are written below from the Arm ARM (DDI 0487): ESR from
its EC and the ISS encoding of Instruction and Data Aborts (fault status codes with the
lookup level, WnR, S1PTW, and the instruction syndrome of stage 2 aborts), FAR as the
faulting virtual address, HPFAR_EL2 as the faulting IPA, vector offsets from the vector
table layout. Addresses inside the image are offsets from a label of the guest; the
guest's fixed addresses outside it are computed from its translation controls.
smpsim must print exactly these lines; so must QEMU, except for two QEMU bugs that
QEMU 8.1 fixed (qemu_before_8_1 below), and the two outputs must be the same but for
those lines.
"""

import pathlib
import re
import subprocess
import sys

import pytest
from guest_runs import committed_image, qemu_path, run_on_qemu

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "topologies" / "mmu.toml"

# --- the architecture, as the expected lines use it ---

# ESR_ELx.EC: Instruction Abort and Data Abort from a lower EL / without a change of EL
EC_IABORT_LOWER, EC_IABORT_SAME = 0x20, 0x21
EC_DABORT_LOWER, EC_DABORT_SAME = 0x24, 0x25

# vector offsets from VBAR_ELx: current EL with SP_ELx; lower EL using AArch64
CURRENT_SPX, LOWER_A64 = 0x200, 0x400


def translation_fault(level):
    """DFSC/IFSC 0b0001LL: Translation fault at lookup level LL."""
    return 0b000100 | level


def access_flag_fault(level):
    """0b0010LL: Access flag fault (levels 1-3 without FEAT_LPA2)."""
    return 0b001000 | level


def permission_fault(level):
    """0b0011LL: Permission fault, reported at the level of the block or page descriptor."""
    return 0b001100 | level


ALIGNMENT_FAULT = 0b100001

ISS_WNR = 1 << 6     # Write not Read
ISS_S1PTW = 1 << 7   # a stage 2 fault on an access of the stage 1 table walk


def instruction_syndrome(size_log2, rt, sf):
    """ISS[24:14] of a Data Abort with ISV = 1: ISV [24], SAS [23:22] (log2 of the access
    size), SSE [21] (0: no sign extension), SRT [20:16] (the register), SF [15] (64-bit
    register), AR [14] (0: no acquire/release). ESR_EL2 holds it for stage 2 aborts on
    loads and stores of a single general-purpose register without writeback; for every
    other abort reported here ISV is 0 (D24.2.46, ESR_EL2 ISV)."""
    return 1 << 24 | size_log2 << 22 | rt << 16 | sf << 15


def esr(ec, iss):
    """ESR_ELx: EC << 26, IL = 1 (32-bit instructions), ISS."""
    return ec << 26 | 1 << 25 | iss


def data_abort(ec, fsc, write=False, s1ptw=False, syndrome=0):
    return esr(ec, syndrome | (ISS_S1PTW if s1ptw else 0) | (ISS_WNR if write else 0) | fsc)


# the faulting accesses of the guest: `ldr x2, [x19]` (prog_load, el2_load) and
# `str x20, [x19]` (prog_store), doubleword accesses of 64-bit registers
LDR_X2 = instruction_syndrome(3, rt=2, sf=1)
STR_X20 = instruction_syndrome(3, rt=20, sf=1)

# the guest's translation controls: T0SZ = T1SZ = 25 (39-bit VA ranges, walks start at
# level 1: a level 1 entry maps 1 GiB, a level 2 entry 2 MiB)
TXSZ = 25
RAM_BASE = 0x4000_0000
GIB, MIB2 = 1 << 30, 1 << 21
HIGH_BASE = (1 << 64) - (1 << (64 - TXSZ))  # the lowest TTBR1 address
VA_LEVEL0 = 1 << (64 - TXSZ)                # just above the TTBR0 range: level 0
VA_LEVEL1 = 4 * GIB                         # level 1 entry 4: invalid
VA_LEVEL2 = RAM_BASE + 2 * MIB2             # level 2 entry 2: invalid
VA_WALK = RAM_BASE + 3 * MIB2               # level 2 entry 3: a table stage 2 leaves out
VA_HIGH_L1 = HIGH_BASE + 256 * GIB          # TTBR1 level 1 entry 256: invalid
SCTLR_M = 1 << 0
CURRENTEL_EL2 = 2 << 2


def abort(name, el, vector, esr_value, far, ipa=None, elr=0, i=1, n=1):
    """The guest's report of the i-th of n aborts of a check: the EL it was taken to, the
    vector offset, ESR, ELR relative to the faulting instruction's label, FAR (an int:
    the address itself; a str: as printed, relative to a page of the guest), and the IPA
    of HPFAR_EL2 relative to that page when the architecture defines it."""
    far_text = f"{far:#x}" if isinstance(far, int) else far
    line = f"{name}: EL{el} vector {vector:#x}, ESR {esr_value:#x}, ELR +{elr:#x}, FAR {far_text}"
    if ipa is not None:
        line += f", IPA +{ipa:#x}"
    return f"{line} ({i} of {n})"


def rel(offset):
    """FAR as an offset from the page the check uses."""
    return f"+{offset:#x}"


def high(offset):
    """FAR as an offset from the high-half (TTBR1) alias of that page."""
    return f"hi+{offset:#x}"


def el1_abort(name, fsc, far, write=False):
    """A stage 1 Data Abort at EL1, taken to EL1 (no instruction syndrome in ESR_EL1)."""
    return abort(name, 1, CURRENT_SPX, data_abort(EC_DABORT_SAME, fsc, write), far)


def el2_abort(name, fsc, far):
    """A stage 1 Data Abort at EL2, taken to EL2: ISV = 0, it is not a stage 2 abort."""
    return abort(name, 2, CURRENT_SPX, data_abort(EC_DABORT_SAME, fsc), far)


EXPECTED = [
    # 1. EL1 turns its MMU on: identity map, TTBR1 alias, a 1 GiB and a 2 MiB block
    f"el1: SCTLR_EL1.M after the msr: {SCTLR_M:#x}",
    "el1 identity map: a store reads back: pass",
    "el1 TTBR1_EL1 high-half alias reads the same: pass",
    "el1 1 GiB block alias reads the same: pass",
    "el1 2 MiB block alias reads the same: pass",
    "el1 code runs at its high-half alias (adr sees the alias): pass",
    "el1 aborts while turning the MMU on: 0",
    # 2. translation faults at the level of the invalid descriptor: 3, fixed up by the
    # handler and retried; 0 for an address outside both ranges (D8.15.4.2); 1; 2
    el1_abort("el1 ldr from an unmapped page", translation_fault(3), rel(0x8)),
    "el1 ldr retried after the handler mapped the page: pass",
    el1_abort("el1 str to an unmapped page", translation_fault(3), rel(0x10), write=True),
    "el1 str retried after the handler mapped the page: pass",
    el1_abort("el1 ldr outside the TTBR0 range", translation_fault(0), VA_LEVEL0),
    el1_abort("el1 ldr with an invalid level 1 entry", translation_fault(1), VA_LEVEL1),
    el1_abort("el1 ldr with an invalid level 2 entry", translation_fault(2), VA_LEVEL2),
    el1_abort("el1 ldr with an invalid TTBR1 level 1 entry", translation_fault(1), VA_HIGH_L1),
    # 3. AP[2:1] = 0b10: EL1 read-only
    "el1 ldr from a read-only page: pass",
    el1_abort("el1 str to a read-only page", permission_fault(3), rel(0), write=True),
    "the read-only page kept its value: pass",
    # 4. AF = 0 (no hardware update: TCR_EL1.HA = 0), fixed up by setting AF
    el1_abort("el1 ldr from a page with AF = 0", access_flag_fault(3), rel(0x18)),
    "el1 ldr retried after the handler set AF: pass",
    # 5. an unaligned access to Device memory is an Alignment fault; to Normal memory
    # with SCTLR_EL1.A = 0 it is not
    "el1 aligned ldr from Device memory: pass",
    el1_abort("el1 unaligned ldr from Device memory", ALIGNMENT_FAULT, rel(0x1)),
    "el1 unaligned ldr from Normal memory: pass",
    "el1 aborts of the unaligned ldr from Normal memory: 0",
    # 6. a fetch from a PXN page: ELR = FAR = the branch target
    abort("el1 blr to a PXN page", 1, CURRENT_SPX, esr(EC_IABORT_SAME, permission_fault(3)),
          rel(0)),
    # 7. EL0 (HCR_EL2.TGE = 0: its aborts go to EL1, from a lower EL); PAN at EL1
    "el0 ldr from an AP=0b11 page, str to an AP=0b01 page: pass",
    abort("el0 ldr from an EL1-only page", 1, LOWER_A64,
          data_abort(EC_DABORT_LOWER, permission_fault(3)), rel(0)),
    abort("el0 str to an AP=0b11 page", 1, LOWER_A64,
          data_abort(EC_DABORT_LOWER, permission_fault(3), write=True), rel(0)),
    el1_abort("el1 ldr from an EL0-readable page with PSTATE.PAN", permission_fault(3), rel(0)),
    # 8. EL2 regime (E2H = 0): one range, from TTBR0_EL2
    f"el2: SCTLR_EL2.M (this line is printed with the MMU on): {SCTLR_M:#x}",
    "el2 identity map: a store reads back: pass",
    el2_abort("el2 ldr from an unmapped page", translation_fault(3), rel(0x30)),
    el2_abort("el2 ldr from a high-half address without E2H", translation_fault(0), HIGH_BASE),
    # 9. EL2&0 regime (E2H = 1): two ranges, TTBR1_EL2
    "el2 with E2H: TTBR1_EL2 high-half alias reads back: pass",
    "el2 with E2H: code runs at its high-half alias: pass",
    el2_abort("el2 with E2H: ldr with an invalid TTBR1 level 1 entry", translation_fault(1),
              VA_HIGH_L1),
    # 10. stage 2 (VTCR_EL2.SL0 = 1: walks start at level 1), aborts from EL1 taken to
    # EL2 from a lower EL. FAR_EL2 = the VA, HPFAR_EL2 = the IPA (written for stage 2
    # Translation faults and for faults on a stage 1 walk; UNKNOWN for a stage 2
    # Permission fault on the access itself, so not printed there)
    abort("s2 ldr from an unmapped IPA (stage 1 off)", 2, LOWER_A64,
          data_abort(EC_DABORT_LOWER, translation_fault(3), syndrome=LDR_X2), rel(0x18), ipa=0),
    "s2 ldr retried after EL2 mapped the IPA: pass",
    abort("s2 str to a read-only IPA", 2, LOWER_A64,
          data_abort(EC_DABORT_LOWER, permission_fault(3), write=True, syndrome=STR_X20),
          rel(0x20)),
    "s2 the read-only page kept its value: pass",
    # stage 2 XN (EL1's stage 1 off, so no stage 1 PXN): an Instruction Abort to EL2
    abort("s2 blr to a stage 2 XN page (stage 1 off)", 2, LOWER_A64,
          esr(EC_IABORT_LOWER, permission_fault(3)), rel(0)),
    "s2 with stage 1: the high-half alias reads through both stages: pass",
    abort("s2 ldr through the high half from an unmapped IPA", 2, LOWER_A64,
          data_abort(EC_DABORT_LOWER, translation_fault(3), syndrome=LDR_X2), high(0x28), ipa=0),
    # a stage 2 fault on the stage 1 walk: S1PTW, no instruction syndrome, the level of
    # the stage 2 lookup, FAR the VA that was being translated, the IPA the table's
    abort("s2 fault on a stage 1 table walk", 2, LOWER_A64,
          data_abort(EC_DABORT_LOWER, translation_fault(3), s1ptw=True), VA_WALK, ipa=0),
    # the same walk for a store: WnR is the instruction's (only atomic instructions may
    # report 0 on a walk fault)
    abort("s2 fault on a stage 1 table walk (str)", 2, LOWER_A64,
          data_abort(EC_DABORT_LOWER, translation_fault(3), write=True, s1ptw=True), VA_WALK,
          ipa=0),
    f"CurrentEL at the end: {CURRENTEL_EL2:#x}",
    "mmu: done",
]


# --- QEMU 7.2 (Debian 12) and older: two bugs that QEMU 8.1 fixed ---

def qemu_before_8_1(lines):
    """What a QEMU before 8.1 prints instead:
    - no Alignment fault for an unaligned access to Device memory with the MMU on
      (QEMU commit "target/arm: Do memory type alignment check when translation
      enabled", 8.1): the access just happens;
    - ISV and the instruction syndrome in ESR_EL2 for stage 1 aborts taken to EL2
      (QEMU commit a3856808d9e6 "target/arm: Don't set ISV when reporting stage 1
      faults in ESR_EL2", 8.1)."""
    out = []
    for line in lines:
        if line.startswith("el1 unaligned ldr from Device memory:"):
            line = "el1 unaligned ldr from Device memory: none (log has 0)"
        elif line.startswith("el2 "):
            line = re.sub(r"ESR (0x[0-9a-f]+)",
                          lambda m: f"ESR {int(m.group(1), 16) | LDR_X2:#x}", line)
        out.append(line)
    return out



def qemu_version(qemu):
    out = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"version (\d+)\.(\d+)", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def qemu_expected(version):
    return EXPECTED if version >= (8, 1) else qemu_before_8_1(EXPECTED)


@pytest.fixture(scope="module")
def image():
    return committed_image("mmu")


@pytest.fixture(scope="module")
def smpsim_run(image):
    return subprocess.run([sys.executable, "-m", "smpsim", "run", str(TOPOLOGY)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def qemu_run(image):
    return run_on_qemu(image), qemu_version(qemu_path())


def test_the_expected_lines_follow_the_encodings():
    """A few of the computed values spelled out, as the Arm ARM's tables give them."""
    assert data_abort(EC_DABORT_SAME, translation_fault(3)) == 0x9600_0007
    assert data_abort(EC_DABORT_SAME, permission_fault(3), write=True) == 0x9600_004F
    assert esr(EC_IABORT_SAME, permission_fault(3)) == 0x8600_000F
    assert data_abort(EC_DABORT_LOWER, translation_fault(3), s1ptw=True) == 0x9200_0087
    assert data_abort(EC_DABORT_LOWER, translation_fault(3), syndrome=LDR_X2) == 0x93C2_8007
    assert HIGH_BASE == 0xFFFF_FF80_0000_0000 and VA_LEVEL0 == 0x80_0000_0000


def test_smpsim_runs_the_guest_to_its_end(smpsim_run):
    assert smpsim_run.returncode == 0, smpsim_run.stderr
    assert "guest exit 0" in smpsim_run.stderr
    assert "Traceback" not in smpsim_run.stderr


def test_smpsim_prints_what_the_architecture_says(smpsim_run):
    assert smpsim_run.stdout.splitlines() == EXPECTED, smpsim_run.stderr


def test_qemu_prints_what_the_architecture_says(qemu_run):
    run, version = qemu_run
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == qemu_expected(version), run.stderr


def test_smpsim_and_qemu_print_the_same(smpsim_run, qemu_run):
    """Line by line, but for the lines of the QEMU bugs of this QEMU's version."""
    run, version = qemu_run
    known = {i for i, (a, q) in enumerate(zip(EXPECTED, qemu_expected(version))) if a != q}
    smpsim_lines, qemu_lines = smpsim_run.stdout.splitlines(), run.stdout.splitlines()
    assert len(smpsim_lines) == len(qemu_lines)
    differ = [f"line {i + 1}:\n  smpsim: {s}\n  QEMU:   {q}"
              for i, (s, q) in enumerate(zip(smpsim_lines, qemu_lines))
              if s != q and i not in known]
    assert not differ, "\n".join(differ)
