"""The GIC virtual CPU interface guest end to end: guests/vgic.s (a hypervisor at EL2
with E2H = 0 and HCR_EL2.IMO/FMO injects virtual interrupts through the list registers
into a guest at EL1) run by `smpsim run` on topologies/vgic.toml and by QEMU's max CPU
(-M virt,virtualization=on,gic-version=3).

The lines the guest must print are written below from the GICv3 Architecture
Specification (IHI 0069): the fields of ICH_VTR_EL2, ICH_VMCR_EL2, ICH_LR<n>_EL2,
ICH_MISR_EL2, ICH_EISR_EL2 and ICH_ELRSR_EL2, the active priority bit and running
priority of an acknowledged interrupt from its group priority (the binary point) and
the number of preemption bits, the virtual priority mask, and from the Arm ARM the
vector offset of an IRQ and ISR_EL1.I. The implementation choices they depend on are
those of QEMU virt's GICv3 (4 list registers, 5 bits of virtual priority and
preemption, 24-bit INTIDs, TDS, A3V, no GICv4), which smpsim's virtual interface
reports too. smpsim and QEMU must both print exactly these lines, so they print the
same.

The interface's GIC (distributor, redistributors) is the multi-process machine's: a
one-CPU topology gets it with --run-dir (without, `smpsim run` runs the one-core
in-process runner, which has no GIC).
"""

import pathlib
import subprocess
import sys

import pytest
from guest_runs import committed_image, run_on_qemu

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "topologies" / "vgic.toml"

# --- the implementation, as ICH_VTR_EL2 describes it (QEMU virt's GICv3; issue 5) ---

NUM_LRS = 4
PRIBITS = 5  # virtual priority bits
PREBITS = 5  # virtual preemption bits
IDBITS_24 = 0b001  # IDbits: 24-bit virtual INTIDs
SPURIOUS = 1023


def ich_vtr(list_regs, pribits, prebits, idbits, tds, nv4, a3v, seis=False):
    """ICH_VTR_EL2: ListRegs [4:0] (number of LRs - 1), TDS [19] (ICH_HCR_EL2.TDIR
    implemented), nV4 [20] (no direct vLPI injection), A3V [21], SEIS [22], IDbits
    [25:23], PREbits [28:26] and PRIbits [31:29] (each the number minus one)."""
    return ((list_regs - 1) | tds << 19 | nv4 << 20 | a3v << 21 | seis << 22
            | idbits << 23 | (prebits - 1) << 26 | (pribits - 1) << 29)


VTR = ich_vtr(NUM_LRS, PRIBITS, PREBITS, IDBITS_24, tds=True, nv4=True, a3v=True)

# --- the virtual interface's registers ---

# ICH_HCR_EL2
HCR_EN = 1 << 0

# ICH_VMCR_EL2: VENG1 [1], VFIQEn [3] (RES1 without legacy operation), VBPR1 [20:18],
# VBPR0 [23:21], VPMR [31:24]
VMCR_VENG1, VMCR_VFIQEN = 1 << 1, 1 << 3
# the smallest binary points: the group priority field is as wide as the preemption
# bits, [7:8-PREbits], which is BPR0 = 7 - PREbits (group priority [7:BPR0+1]) and
# BPR1 = BPR0 + 1 (group priority [7:BPR1]); a write of less sets the minimum
MIN_VBPR0 = 7 - PREBITS
MIN_VBPR1 = MIN_VBPR0 + 1
PRIO_MASK = (0xFF << (8 - PRIBITS)) & 0xFF  # implemented priority bits: the rest RAZ/WI


def vmcr(vpmr):
    """ICH_VMCR_EL2 as read back after the guest writes VPMR and VENG1 (and zeroes
    elsewhere): the binary points at their minimum, VFIQEn set."""
    return (vpmr << 24 | MIN_VBPR0 << 21 | MIN_VBPR1 << 18 | VMCR_VFIQEN | VMCR_VENG1)


# ICH_LR<n>_EL2: State [63:62], HW [61], Group [60], Priority [55:48], pINTID [44:32]
# when HW = 1, EOI [41] when HW = 0, vINTID [31:0]
INVALID, PENDING = 0b00, 0b01


def lr(vintid, prio, state=PENDING, group=1, hw=False, pintid=0, eoi=False):
    return (state << 62 | hw << 61 | group << 60 | prio << 48
            | (pintid << 32 if hw else 0) | eoi << 41 | vintid)


# ICH_MISR_EL2: EOI [0] (some ICH_EISR_EL2 bit set), U [1] (underflow: UIE and at most
# one valid LR)
MISR_EOI, MISR_U = 1 << 0, 1 << 1


def elrsr(*lrs):
    """ICH_ELRSR_EL2: bit n when LR n is Invalid and holds no EOI maintenance request
    (HW = 1 or EOI = 0); only implemented LRs have a bit."""
    bits = 0
    for n, value in enumerate(lrs + (0,) * (NUM_LRS - len(lrs))):
        if value >> 62 == INVALID and (value >> 61 & 1 or not value >> 41 & 1):
            bits |= 1 << n
    return bits


def eisr(*lrs):
    """ICH_EISR_EL2: bit n when LR n is Invalid, HW = 0 and EOI = 1."""
    return sum(1 << n for n, value in enumerate(lrs)
               if value >> 62 == INVALID and not value >> 61 & 1 and value >> 41 & 1)


def after_eoi(value):
    """An LR whose interrupt the guest acknowledged (Pending -> Active) and ended
    (ICV_EOIR1_EL1 with VEOIM = 0: priority drop and deactivation, Active -> Invalid):
    only the State changes."""
    return value & ~(0b11 << 62)


# --- priorities of an acknowledged Group 1 interrupt (VCBPR = 0: VBPR1 applies) ---

def group_priority(prio, bpr1=MIN_VBPR1):
    """The group priority field of a Group 1 priority: bits [7:BPR1]."""
    return prio & (0xFF << bpr1) & 0xFF


def active_priority_bit(prio, bpr1=MIN_VBPR1, prebits=PREBITS):
    """ICV_AP1R0_EL1 after the acknowledge: the bit of its group priority, counted in
    units of the lowest preemption level (bit n = group priority n << (8 - PREbits))."""
    return 1 << (group_priority(prio, bpr1) >> (8 - prebits))


# --- the Arm ARM ---

IRQ_CURRENT_SPX = 0x280  # vector offset: IRQ, current EL with SP_ELx
ISR_I = 1 << 7  # ISR_EL1.I: with HCR_EL2.IMO, a virtual IRQ is pending
CURRENTEL_EL2 = 2 << 2

# --- the guest's interrupts ---

VPRIO = 0xA0
SGI, SGI_PRIO = 5, 0x80  # the physical SGI behind the HW = 1 LR (physical BPR1 minimum 3)
MAINTENANCE = 25  # PPI 25: the GICv3 maintenance interrupt on QEMU virt
LR_SW = lr(100, VPRIO)
LR_HW = lr(48, VPRIO, hw=True, pintid=SGI)
LR_EOI = lr(101, VPRIO, eoi=True)
LR_MASK_F8 = lr(103, 0xF8)


def taken(name, vintid, prio):
    """EL1 took one virtual IRQ: where, ISR_EL1 on entry (the vIRQ still pending), the
    INTID ICC_IAR1_EL1 (= ICV_IAR1_EL1) gave, then ICC_RPR_EL1 (the group priority of
    the active interrupt) and ICC_AP1R0_EL1."""
    return (f"{name}: taken 1, vector {IRQ_CURRENT_SPX:#x}, ISR_EL1 {ISR_I:#x}, "
            f"ICC_IAR1_EL1 {vintid}, ICC_RPR_EL1 {group_priority(prio):#x}, "
            f"ICC_AP1R0_EL1 {active_priority_bit(prio):#x}")


def not_taken(name, pending_vintid):
    """EL1 waited with IRQs unmasked and took nothing, then read: ISR_EL1.I clear (the
    interrupt is not signalled), ICC_HPPIR1_EL1 the pending interrupt all the same (the
    highest priority pending interrupt, whatever the mask), ICC_IAR1_EL1 spurious (it
    cannot be acknowledged below the mask), ICC_RPR_EL1 idle."""
    return (f"{name}: not taken, ISR_EL1 0x0, ICC_HPPIR1_EL1 {pending_vintid}, "
            f"ICC_IAR1_EL1 {SPURIOUS}, ICC_RPR_EL1 0xff")


EXPECTED = [
    f"CurrentEL: {CURRENTEL_EL2:#x}",
    # 1. the virtual interface
    f"ICH_VTR_EL2: {VTR:#x}",
    f"ICH_ELRSR_EL2 with every LR empty: {elrsr():#x}",
    # 2. HW = 0: vINTID 100, Group 1, priority 0xa0, below VPMR 0xf0
    f"ICH_VMCR_EL2 after writing VPMR 0xf0 and VENG1: {vmcr(0xF0):#x}",
    f"ICH_LR0_EL2 as written (vINTID 100): {LR_SW:#x}",
    f"ICH_ELRSR_EL2 with LR0 pending: {elrsr(LR_SW):#x}",
    taken("sw vINTID 100 at EL1", 100, VPRIO),
    f"sw ICH_LR0_EL2 after the EOI: {after_eoi(LR_SW):#x}",
    f"sw ICH_ELRSR_EL2 after the EOI: {elrsr(after_eoi(LR_SW)):#x}",
    f"sw ICH_EISR_EL2 after the EOI: {eisr(after_eoi(LR_SW)):#x}",
    "sw ICH_AP1R0_EL2 after the EOI: 0x0",
    # 3. HW = 1: SGI 5 acknowledged at EL2; EOImode 1, so ICC_EOIR1_EL1 only drops the
    # running priority; the guest's EOI of vINTID 48 deactivates SGI 5
    f"hw ICC_IAR1_EL1 at EL2 after ICC_SGI1R_EL1 (SGI 5 to CPU 0): {SGI}",
    f"hw ICC_RPR_EL1 at EL2 after the acknowledge: {SGI_PRIO:#x}",
    "hw ICC_RPR_EL1 at EL2 after ICC_EOIR1_EL1 with EOImode 1: 0xff",
    f"hw GICR_ISACTIVER0 after the priority drop: {1 << SGI:#x}",
    f"hw ICH_LR0_EL2 as written (vINTID 48, HW, pINTID 5): {LR_HW:#x}",
    taken("hw vINTID 48 at EL1", 48, VPRIO),
    f"hw ICH_LR0_EL2 after the EOI: {after_eoi(LR_HW):#x}",
    f"hw ICH_ELRSR_EL2 after the EOI: {elrsr(after_eoi(LR_HW)):#x}",
    "hw GICR_ISACTIVER0 after the virtual EOI: 0x0",
    "hw GICR_ISPENDR0 bit 5 after the virtual EOI: 0x0",
    f"hw ICC_HPPIR1_EL1 at EL2 after the virtual EOI: {SPURIOUS}",
    # 4. HW = 0 with EOI: the guest's EOI leaves LR0 Invalid but not free (ELRSR bit 0
    # clear), sets EISR bit 0 and MISR.EOI, and raises the maintenance interrupt
    taken("eoi vINTID 101 at EL1", 101, VPRIO),
    f"eoi ICH_LR0_EL2 after the EOI: {after_eoi(LR_EOI):#x}",
    f"eoi ICH_EISR_EL2: {eisr(after_eoi(LR_EOI)):#x}",
    f"eoi ICH_MISR_EL2: {MISR_EOI:#x}",
    f"eoi ICH_ELRSR_EL2: {elrsr(after_eoi(LR_EOI)):#x}",
    # a level-sensitive PPI whose input is high is pending, enabled or not; a disabled
    # one is not the highest priority pending interrupt
    f"eoi GICR_ISPENDR0 bit 25 (PPI 25 not enabled): {1 << MAINTENANCE:#x}",
    f"eoi ICC_HPPIR1_EL1 at EL2 (PPI 25 not enabled): {SPURIOUS}",
    f"eoi ICC_IAR1_EL1 at EL2 with PPI 25 enabled: {MAINTENANCE}",
    "eoi ICH_MISR_EL2 after clearing LR0: 0x0",
    "eoi GICR_ISACTIVER0 after ICC_EOIR1_EL1 and ICC_DIR_EL1: 0x0",
    "eoi GICR_ISPENDR0 bit 25 after clearing LR0: 0x0",
    # 5. underflow (ICH_HCR_EL2.UIE): at most one valid LR
    f"underflow ICH_MISR_EL2 with UIE and one valid LR: {MISR_U:#x}",
    "underflow ICH_MISR_EL2 with UIE and two valid LRs: 0x0",
    (f"underflow maintenance interrupt at EL2: taken 1, vector {IRQ_CURRENT_SPX:#x}, "
     f"ICC_IAR1_EL1 {MAINTENANCE}, ICH_MISR_EL2 {MISR_U:#x}"),
    f"underflow ICH_HCR_EL2 after the handler: {HCR_EN:#x}",
    "underflow ICH_MISR_EL2 after the handler: 0x0",
    "underflow GICR_ISACTIVER0 after the handler: 0x0",
    # 6. the priority mask: a virtual interrupt is signalled only when its priority is
    # below (higher than) VPMR
    not_taken("mask priority 0xf8, VPMR 0xf0, at EL1", 103),
    f"mask ICH_LR0_EL2 after the wait: {LR_MASK_F8:#x}",
    not_taken("mask priority 0xf8, VPMR 0xf8, at EL1", 103),
    taken("mask priority 0xf0, VPMR 0xf8, at EL1", 103, 0xF0),
    # ICC_PMR_EL1 at EL1 is ICV_PMR_EL1, an alias of VPMR: its unimplemented low bits
    # are RAZ/WI, so 0xff is 0xf8 and a priority 0xf8 stays masked
    f"mask ICC_PMR_EL1 at EL1 after writing 0xff: {0xFF & PRIO_MASK:#x}",
    f"mask ICH_VMCR_EL2 after that: {vmcr(0xFF & PRIO_MASK):#x}",
    not_taken("mask priority 0xf8 after EL1 wrote ICC_PMR_EL1 0xff, at EL1", 103),
    f"CurrentEL at the end: {CURRENTEL_EL2:#x}",
    "vgic: done",
]


@pytest.fixture(scope="module")
def image():
    return committed_image("vgic")


@pytest.fixture(scope="module")
def smpsim_run(image, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("vgic") / "run"
    run = subprocess.run([sys.executable, "-m", "smpsim", "run", str(TOPOLOGY),
                          "--run-dir", str(run_dir)],
                         check=False, capture_output=True, text=True, timeout=300)
    return run, run_dir


@pytest.fixture(scope="module")
def qemu_run(image):
    return run_on_qemu(image)


def test_the_expected_lines_follow_the_encodings():
    """A few of the computed values spelled out."""
    assert VTR == 0x90B8_0003
    assert vmcr(0xF0) == 0xF04C_000A
    assert LR_SW == 0x50A0_0000_0000_0064
    assert LR_HW == 0x70A0_0005_0000_0030
    assert LR_EOI == 0x50A0_0200_0000_0065
    assert elrsr() == 0xF and elrsr(LR_SW) == 0xE
    assert elrsr(after_eoi(LR_EOI)) == 0xE and eisr(after_eoi(LR_EOI)) == 0x1
    assert active_priority_bit(0xA0) == 1 << 20 and active_priority_bit(0xF0) == 1 << 30


def test_smpsim_runs_the_guest_to_its_end(smpsim_run):
    run, _ = smpsim_run
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr


def test_smpsim_prints_what_the_architecture_says(smpsim_run):
    run, run_dir = smpsim_run
    assert run.stdout.splitlines() == EXPECTED, run.stderr
    console = (run_dir / "console.log").read_text().replace("\r", "").splitlines()
    assert console == EXPECTED


def test_qemu_prints_what_the_architecture_says(qemu_run):
    assert qemu_run.returncode == 0, qemu_run.stderr
    assert qemu_run.stdout.replace("\r", "").splitlines() == EXPECTED, qemu_run.stderr


def test_smpsim_and_qemu_print_the_same(smpsim_run, qemu_run):
    """Line by line."""
    smpsim_lines = smpsim_run[0].stdout.splitlines()
    qemu_lines = qemu_run.stdout.replace("\r", "").splitlines()
    differ = [f"line {i + 1}:\n  smpsim: {s}\n  QEMU:   {q}"
              for i, (s, q) in enumerate(zip(smpsim_lines, qemu_lines)) if s != q]
    assert not differ, "\n".join(differ)
    assert len(smpsim_lines) == len(qemu_lines)
