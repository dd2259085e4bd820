"""The GICv3 virtual CPU interface of one CPU (smpsim/gic_dist/virtual_interface.py):
list registers, the virtual IRQ/FIQ lines, acknowledge, priority drop and
deactivation (also of the physical interrupt of an HW=1 list register), EOIcount,
the maintenance interrupt and its status registers. Pure Python.

The expected values are written from the register encodings of the GICv3
specification (IHI 0069), not taken from the module: the bit positions are spelt out
here on purpose."""

import pytest

from smpsim.gic_dist.virtual_interface import REGISTERS, VirtualInterface

SPURIOUS = 1023
IRQ, FIQ, NONE = (True, False), (False, True), (False, False)

# ICH_HCR_EL2
EN, UIE, LRENPIE, NPIE = 1 << 0, 1 << 1, 1 << 2, 1 << 3
VGRP0EIE, VGRP0DIE, VGRP1EIE, VGRP1DIE = 1 << 4, 1 << 5, 1 << 6, 1 << 7
# ICH_VMCR_EL2
VENG0, VENG1, VACKCTL, VFIQEN, VCBPR, VEOIM = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 9
# ICH_MISR_EL2
M_EOI, M_U, M_LRENP, M_NP = 1 << 0, 1 << 1, 1 << 2, 1 << 3
M_VGRP0E, M_VGRP0D, M_VGRP1E, M_VGRP1D = 1 << 4, 1 << 5, 1 << 6, 1 << 7
# ICH_LR<n>_EL2 State
INVALID, PENDING, ACTIVE, ACTIVE_PENDING = 0b00, 0b01, 0b10, 0b11


def lr(vintid, prio, group=1, state=PENDING, hw=0, pintid=0, eoi=0):
    """vINTID [31:0], pINTID [44:32] (HW=1) or EOI [41] (HW=0), Priority [55:48],
    Group [60], HW [61], State [63:62]."""
    return (vintid | pintid << 32 | eoi << 41 | prio << 48 | group << 60 | hw << 61
            | state << 62)


def state_of(value):
    return value >> 62


def vmcr(veng0=1, veng1=1, vcbpr=0, veoim=0, vbpr1=3, vbpr0=2, vpmr=0xF8):
    """VENG0 [0], VENG1 [1], VCBPR [4], VEOIM [9], VBPR1 [20:18], VBPR0 [23:21],
    VPMR [31:24]."""
    return (veng0 | veng1 << 1 | vcbpr << 4 | veoim << 9 | vbpr1 << 18 | vbpr0 << 21
            | vpmr << 24)


def eoicount(vi):
    return vi.read("ICH_HCR_EL2") >> 27 & 0x1F


def make(hcr=EN, **vm):
    """An interface as a hypervisor sets one up to run a vPE: En, both virtual groups
    enabled, the virtual priority mask open. Also the list of pINTIDs it deactivated."""
    done = []
    vi = VirtualInterface(done.append)
    vi.write("ICH_VMCR_EL2", vmcr(**vm))
    vi.write("ICH_HCR_EL2", hcr)
    return vi, done


# ------------------------------------------------------------------ identification, reset

def test_ich_vtr_el2_reports_four_list_registers_and_five_bits_as_qemu():
    vi, _ = make()
    v = vi.read("ICH_VTR_EL2")
    assert v & 0x1F == 3  # ListRegs: 4 list registers
    assert v >> 19 & 1 == 1  # TDS: ICH_HCR_EL2.TDIR implemented
    assert v >> 20 & 1 == 1  # nV4: no direct vLPI injection (GICv3)
    assert v >> 21 & 1 == 1  # A3V
    assert v >> 22 & 1 == 0  # SEIS
    assert v >> 23 & 7 == 0b001  # IDbits: 24-bit virtual INTIDs
    assert v >> 26 & 7 == 4  # PREbits: 5 bits of preemption
    assert v >> 29 & 7 == 4  # PRIbits: 5 bits of priority
    assert v & ~((1 << 32) - 1) == 0 and v >> 5 & 0x3FFF == 0  # everything else RES0


def test_reset_state():
    vi = VirtualInterface(lambda p: None)
    assert vi.read("ICH_HCR_EL2") == 0
    # VFIQEn RES1; VBPR0/VBPR1 at their minimum (7 - PREbits = 2, and 3)
    assert vi.read("ICH_VMCR_EL2") == VFIQEN | 3 << 18 | 2 << 21
    assert [vi.read(f"ICH_LR{n}_EL2") for n in range(4)] == [0, 0, 0, 0]
    assert vi.read("ICH_ELRSR_EL2") == 0b1111
    assert vi.read("ICH_EISR_EL2") == 0 and vi.read("ICH_MISR_EL2") == 0
    assert vi.read("ICV_RPR_EL1") == 0xFF
    assert vi.lines == NONE and not vi.maintenance


def test_ich_hcr_el2_keeps_only_its_defined_fields():
    vi, _ = make()
    vi.write("ICH_HCR_EL2", (1 << 64) - 1)
    # En..VGrp1DIE [7:0], TC [10], TALL0 [11], TALL1 [12], TSEI [13], TDIR [14],
    # EOIcount [31:27]; bits 8, 9, 15, [26:16] and [63:32] RES0
    assert vi.read("ICH_HCR_EL2") == 0xFF | 0x1F << 10 | 0x1F << 27


@pytest.mark.parametrize("written, expected", [
    # all ones: VAckCtl RES0, VFIQEn RES1, VPMR's three unimplemented bits RAZ
    ((1 << 64) - 1, VENG0 | VENG1 | VFIQEN | VCBPR | VEOIM | 7 << 18 | 7 << 21 | 0xF8 << 24),
    # all zeros: VFIQEn still 1, the binary points raised to their minimum
    (0, VFIQEN | 3 << 18 | 2 << 21),
    (VACKCTL | 4 << 18 | 5 << 21 | 0x87 << 24, VFIQEN | 4 << 18 | 5 << 21 | 0x80 << 24),
])
def test_ich_vmcr_el2_write_masks_and_clamps(written, expected):
    vi, _ = make()
    vi.write("ICH_VMCR_EL2", written)
    assert vi.read("ICH_VMCR_EL2") == expected


@pytest.mark.parametrize("written, expected", [
    # HW=1: vINTID [23:0] (IDbits = 24), pINTID [44:32], Priority [55:51] (5 bits),
    # Group, HW, State; [31:24], [47:45], [50:48], [58:56] and NMI [59] RES0
    ((1 << 64) - 1, 0xFF_FFFF | 0x1FFF << 32 | 0xF8 << 48 | 1 << 60 | 1 << 61 | 3 << 62),
    # HW=0: of pINTID only the EOI bit [41] is kept
    (((1 << 64) - 1) & ~(1 << 61), 0xFF_FFFF | 1 << 41 | 0xF8 << 48 | 1 << 60 | 3 << 62),
    (lr(27, 0xA7, eoi=1) | 0x155 << 32, lr(27, 0xA0, eoi=1)),
    (lr(27, 0xA7, hw=1, pintid=0x1ABC), lr(27, 0xA0, hw=1, pintid=0x1ABC)),
])
def test_list_register_res0_bits_are_masked(written, expected):
    vi, _ = make()
    vi.write("ICH_LR2_EL2", written)
    assert vi.read("ICH_LR2_EL2") == expected


@pytest.mark.parametrize("name", ["ICH_VTR_EL2", "ICH_MISR_EL2", "ICH_EISR_EL2",
                                  "ICH_ELRSR_EL2", "ICV_RPR_EL1", "ICV_HPPIR0_EL1",
                                  "ICV_HPPIR1_EL1", "ICV_IAR0_EL1", "ICV_IAR1_EL1"])
def test_writes_to_read_only_registers_are_ignored(name):
    written, untouched = make(hcr=EN | UIE | NPIE), make(hcr=EN | UIE | NPIE)
    for vi, _ in (written, untouched):
        vi.write("ICH_LR0_EL2", lr(27, 0xA0, eoi=1))
    written[0].write(name, (1 << 64) - 1)
    assert written[0].snapshot() == untouched[0].snapshot()
    # (an IAR read acknowledges: compare reads of two interfaces in the same state)
    assert written[0].read(name) == untouched[0].read(name)
    assert written[1] == []


@pytest.mark.parametrize("name", ["ICH_LR4_EL2", "ICH_LR15_EL2", "ICH_AP0R1_EL2",
                                  "ICH_AP1R3_EL2", "ICV_AP1R1_EL1"])
def test_unimplemented_registers_are_not_listed_and_raz_wi(name):
    vi, _ = make()
    before = vi.snapshot()
    vi.write(name, (1 << 64) - 1)
    assert vi.read(name) == 0 and vi.snapshot() == before
    assert name not in REGISTERS


# ------------------------------------------------------------------ the interrupt life cycle

def test_group1_list_register_signals_virq_is_acknowledged_and_ended():
    vi, _ = make()
    assert vi.lines == NONE
    vi.write("ICH_LR0_EL2", lr(27, 0xA0))
    assert vi.lines == IRQ
    assert vi.read("ICV_HPPIR1_EL1") == 27 and vi.read("ICV_HPPIR0_EL1") == SPURIOUS
    assert vi.read("ICV_IAR0_EL1") == SPURIOUS  # not of Group 0
    assert vi.read("ICV_IAR1_EL1") == 27
    assert vi.read("ICH_LR0_EL2") == lr(27, 0xA0, state=ACTIVE)
    assert vi.lines == NONE
    assert vi.read("ICV_AP1R0_EL1") == 1 << (0xA0 >> 3)  # active priority bit 20
    assert vi.read("ICH_AP1R0_EL2") == 1 << 20 and vi.read("ICH_AP0R0_EL2") == 0
    assert vi.read("ICV_RPR_EL1") == 0xA0
    assert vi.read("ICH_ELRSR_EL2") == 0b1110
    vi.write("ICV_EOIR1_EL1", 27)
    assert vi.read("ICH_LR0_EL2") == lr(27, 0xA0, state=INVALID)
    assert vi.read("ICV_AP1R0_EL1") == 0 and vi.read("ICV_RPR_EL1") == 0xFF
    assert vi.read("ICH_ELRSR_EL2") == 0b1111
    assert eoicount(vi) == 0
    assert vi.read("ICV_IAR1_EL1") == SPURIOUS


def test_group0_list_register_signals_vfiq():
    vi, _ = make()
    vi.write("ICH_LR3_EL2", lr(5, 0x40, group=0))
    assert vi.lines == FIQ
    assert vi.read("ICV_HPPIR0_EL1") == 5 and vi.read("ICV_HPPIR1_EL1") == SPURIOUS
    assert vi.read("ICV_IAR1_EL1") == SPURIOUS
    assert vi.read("ICV_IAR0_EL1") == 5
    assert vi.read("ICV_AP0R0_EL1") == 1 << (0x40 >> 3) and vi.read("ICV_AP1R0_EL1") == 0
    vi.write("ICV_EOIR0_EL1", 5)
    assert state_of(vi.read("ICH_LR3_EL2")) == INVALID and vi.read("ICV_AP0R0_EL1") == 0


def test_highest_priority_list_register_wins_and_ties_go_to_the_lower_lr():
    vi, _ = make()
    vi.write("ICH_LR0_EL2", lr(40, 0xC0))
    vi.write("ICH_LR1_EL2", lr(41, 0x90))
    vi.write("ICH_LR2_EL2", lr(42, 0x90))
    vi.write("ICH_LR3_EL2", lr(43, 0x60, group=0))
    assert vi.lines == FIQ and vi.read("ICV_HPPIR1_EL1") == SPURIOUS
    assert vi.read("ICV_IAR0_EL1") == 43
    # with 0x60 active nothing of lower priority preempts
    assert vi.lines == NONE and vi.read("ICV_IAR1_EL1") == SPURIOUS
    vi.write("ICV_EOIR0_EL1", 43)
    assert vi.read("ICV_IAR1_EL1") == 41
    vi.write("ICV_EOIR1_EL1", 41)
    assert vi.read("ICV_IAR1_EL1") == 42
    vi.write("ICV_EOIR1_EL1", 42)
    assert vi.read("ICV_IAR1_EL1") == 40


@pytest.mark.parametrize("state", [INVALID, ACTIVE, ACTIVE_PENDING])
def test_only_the_pending_state_is_a_candidate(state):
    vi, _ = make()
    vi.write("ICH_LR0_EL2", lr(27, 0xA0, state=state))
    assert vi.lines == NONE
    assert vi.read("ICV_HPPIR1_EL1") == SPURIOUS and vi.read("ICV_IAR1_EL1") == SPURIOUS
    assert state_of(vi.read("ICH_LR0_EL2")) == state


@pytest.mark.parametrize("vpmr, prio, signalled", [
    (0xF8, 0xF0, True),
    (0xA8, 0xA0, True),
    (0xA0, 0xA0, False),  # equal to the mask: masked
    (0x80, 0xA0, False),
    (0x00, 0x00, False),  # a mask of 0 masks everything
])
def test_priority_mask(vpmr, prio, signalled):
    vi, _ = make(vpmr=vpmr)
    vi.write("ICH_LR1_EL2", lr(30, prio))
    assert vi.lines == (IRQ if signalled else NONE)
    assert vi.read("ICV_IAR1_EL1") == (30 if signalled else SPURIOUS)
    assert vi.read("ICV_HPPIR1_EL1") == (SPURIOUS if signalled else 30)  # PMR not applied


def test_icv_pmr_is_vmcr_vpmr():
    vi, _ = make(vpmr=0)
    vi.write("ICH_LR0_EL2", lr(30, 0x80))
    assert vi.lines == NONE
    vi.write("ICV_PMR_EL1", 0xFF)
    assert vi.read("ICV_PMR_EL1") == 0xF8  # 5 bits implemented
    assert vi.read("ICH_VMCR_EL2") >> 24 == 0xF8
    assert vi.lines == IRQ
    vi.write("ICH_VMCR_EL2", vmcr(vpmr=0x80))
    assert vi.read("ICV_PMR_EL1") == 0x80 and vi.lines == NONE


@pytest.mark.parametrize("veng0, veng1, group, signalled", [
    (1, 1, 1, True), (1, 0, 1, False), (0, 1, 1, True),
    (1, 1, 0, True), (0, 1, 0, False), (1, 0, 0, True),
])
def test_group_enables(veng0, veng1, group, signalled):
    vi, _ = make(veng0=veng0, veng1=veng1)
    vi.write("ICH_LR0_EL2", lr(30, 0x80, group=group))
    expected = (IRQ if group else FIQ) if signalled else NONE
    assert vi.lines == expected
    assert vi.read(f"ICV_HPPIR{group}_EL1") == (30 if signalled else SPURIOUS)
    assert vi.read(f"ICV_IAR{group}_EL1") == (30 if signalled else SPURIOUS)


def test_icv_igrpen_are_vmcr_veng():
    vi, _ = make(veng0=0, veng1=0)
    vi.write("ICH_LR0_EL2", lr(30, 0x80))
    assert vi.lines == NONE
    vi.write("ICV_IGRPEN1_EL1", 1)
    assert vi.read("ICV_IGRPEN1_EL1") == 1 and vi.read("ICV_IGRPEN0_EL1") == 0
    assert vi.read("ICH_VMCR_EL2") & (VENG0 | VENG1) == VENG1
    assert vi.lines == IRQ
    vi.write("ICV_IGRPEN0_EL1", 1)
    assert vi.read("ICH_VMCR_EL2") & (VENG0 | VENG1) == VENG0 | VENG1


def test_nothing_is_signalled_or_acknowledged_while_ich_hcr_el2_en_is_0():
    vi, _ = make(hcr=0)
    vi.write("ICH_LR0_EL2", lr(30, 0x80))
    vi.write("ICH_LR1_EL2", lr(31, 0x80, group=0))
    assert vi.lines == NONE
    assert vi.read("ICV_IAR1_EL1") == SPURIOUS and vi.read("ICV_IAR0_EL1") == SPURIOUS
    vi.write("ICH_HCR_EL2", EN)
    assert vi.lines == IRQ  # the same priority: the lower list register wins (QEMU)
    assert vi.read("ICV_HPPIR1_EL1") == 30 and vi.read("ICV_HPPIR0_EL1") == SPURIOUS


# ------------------------------------------------------------------ preemption, binary points

@pytest.mark.parametrize("vm, active, pending, preempts", [
    # VBPR1 = 3 (minimum): Group 1 group priority is [7:3], all 5 bits
    ({}, 0x80, 0x78, True),
    ({}, 0x80, 0x80, False),  # same group priority
    ({}, 0x80, 0x88, False),
    # VBPR1 = 5: group priority [7:5] (mask 0xE0): 0x98 and 0x80 are one group priority
    ({"vbpr1": 5}, 0x80, 0x78, True),
    ({"vbpr1": 5}, 0x98, 0x80, False),
    ({"vbpr1": 5}, 0xA0, 0x80, True),
    # VCBPR: Group 1 uses VBPR0 itself; VBPR0 = 4 gives group priority [7:5] too
    ({"vcbpr": 1, "vbpr0": 4}, 0x98, 0x80, False),
    ({"vcbpr": 1, "vbpr0": 4}, 0xA0, 0x98, True),
    # VBPR0 = 4 without VCBPR does not apply to Group 1
    ({"vbpr0": 4}, 0x98, 0x80, True),
])
def test_preemption_by_group_priority(vm, active, pending, preempts):
    vi, _ = make(**vm)
    vi.write("ICH_LR0_EL2", lr(40, active))
    assert vi.read("ICV_IAR1_EL1") == 40
    vi.write("ICH_LR1_EL2", lr(41, pending))
    assert vi.lines == (IRQ if preempts else NONE)
    assert vi.read("ICV_IAR1_EL1") == (41 if preempts else SPURIOUS)


def test_running_priority_is_compared_in_the_pending_groups_priority_bits():
    # Group 0 active at 0x98 (VBPR0 = 2: all 5 bits): the running priority is 0x98. A
    # Group 1 interrupt at 0x88 with VBPR1 = 5 compares [7:5]: 0x80 against 0x80.
    vi, _ = make(vbpr1=5)
    vi.write("ICH_LR0_EL2", lr(40, 0x98, group=0))
    assert vi.read("ICV_IAR0_EL1") == 40 and vi.read("ICV_RPR_EL1") == 0x98
    vi.write("ICH_LR1_EL2", lr(41, 0x88))
    assert vi.lines == NONE and vi.read("ICV_IAR1_EL1") == SPURIOUS
    vi.write("ICH_LR1_EL2", lr(41, 0x78))  # [7:5] = 0x60: preempts
    assert vi.lines == IRQ and vi.read("ICV_IAR1_EL1") == 41


def test_eoi_drops_the_highest_active_priority_group0_first_on_a_tie():
    # both groups active at one priority: only a hypervisor's AP writes make it; QEMU
    # drops Group 0's bit first
    vi, _ = make()
    vi.write("ICH_AP0R0_EL2", 1 << 16)
    vi.write("ICH_AP1R0_EL2", 1 << 16 | 1 << 20)
    vi.write("ICV_EOIR1_EL1", 99)
    assert vi.read("ICH_AP0R0_EL2") == 0 and vi.read("ICH_AP1R0_EL2") == 1 << 16 | 1 << 20
    vi.write("ICV_EOIR1_EL1", 99)
    assert vi.read("ICH_AP1R0_EL2") == 1 << 20 and vi.read("ICV_RPR_EL1") == 0xA0
    assert eoicount(vi) == 2  # neither INTID is in a list register


def test_active_priority_records_the_group_priority_and_nesting_drops_in_order():
    vi, _ = make(vbpr1=5)  # Group 1 group priority [7:5]
    vi.write("ICH_LR0_EL2", lr(40, 0xB8))
    assert vi.read("ICV_IAR1_EL1") == 40
    assert vi.read("ICV_AP1R0_EL1") == 1 << (0xA0 >> 3)  # 0xB8 & 0xE0 = 0xA0: bit 20
    assert vi.read("ICV_RPR_EL1") == 0xA0
    vi.write("ICH_LR1_EL2", lr(41, 0x30, group=0))  # Group 0: VBPR0 = 2, mask 0xF8
    assert vi.lines == FIQ
    assert vi.read("ICV_IAR0_EL1") == 41
    assert vi.read("ICV_AP0R0_EL1") == 1 << 6 and vi.read("ICV_RPR_EL1") == 0x30
    vi.write("ICV_EOIR0_EL1", 41)
    assert vi.read("ICV_AP0R0_EL1") == 0 and vi.read("ICV_RPR_EL1") == 0xA0
    assert state_of(vi.read("ICH_LR1_EL2")) == INVALID
    assert state_of(vi.read("ICH_LR0_EL2")) == ACTIVE
    vi.write("ICV_EOIR1_EL1", 40)
    assert vi.read("ICV_RPR_EL1") == 0xFF and state_of(vi.read("ICH_LR0_EL2")) == INVALID


def test_icv_bpr_registers_are_vmcr_fields():
    vi, _ = make()
    vi.write("ICV_BPR0_EL1", 0)
    vi.write("ICV_BPR1_EL1", 0)
    assert vi.read("ICV_BPR0_EL1") == 2 and vi.read("ICV_BPR1_EL1") == 3  # minimums
    vi.write("ICV_BPR0_EL1", 5)
    vi.write("ICV_BPR1_EL1", 6)
    assert vi.read("ICH_VMCR_EL2") >> 21 & 7 == 5 and vi.read("ICH_VMCR_EL2") >> 18 & 7 == 6
    vi.write("ICV_CTLR_EL1", 1)  # CBPR
    assert vi.read("ICH_VMCR_EL2") & VCBPR
    assert vi.read("ICV_BPR1_EL1") == 6  # VBPR0 + 1
    vi.write("ICV_BPR1_EL1", 4)  # ignored with CBPR
    assert vi.read("ICH_VMCR_EL2") >> 18 & 7 == 6
    vi.write("ICV_BPR0_EL1", 7)
    assert vi.read("ICV_BPR1_EL1") == 7  # saturated


def test_icv_ctlr_el1():
    vi, _ = make()
    fixed = 4 << 8 | 1 << 11 | 1 << 15  # PRIbits = 4, IDbits = 0b001, A3V
    assert vi.read("ICV_CTLR_EL1") == fixed
    vi.write("ICV_CTLR_EL1", (1 << 64) - 1)
    assert vi.read("ICV_CTLR_EL1") == fixed | 0b11  # only CBPR and EOImode are writable
    assert vi.read("ICH_VMCR_EL2") & (VCBPR | VEOIM) == VCBPR | VEOIM
    vi.write("ICH_VMCR_EL2", vmcr(veoim=0, vcbpr=0))
    assert vi.read("ICV_CTLR_EL1") == fixed


def test_icv_and_ich_active_priority_registers_are_one_state():
    vi, _ = make()
    vi.write("ICH_AP1R0_EL2", (1 << 64) - 1)
    assert vi.read("ICV_AP1R0_EL1") == 0xFFFF_FFFF  # 32 bits of 5-bit preemption
    vi.write("ICV_AP0R0_EL1", 1 << 9)
    assert vi.read("ICH_AP0R0_EL2") == 1 << 9
    assert vi.read("ICV_RPR_EL1") == 0  # bit 0 of AP1R0: priority 0


def test_a_running_priority_written_by_the_hypervisor_masks_lower_priorities():
    vi, _ = make()
    vi.write("ICH_LR0_EL2", lr(40, 0x80))
    vi.write("ICH_AP1R0_EL2", 1 << (0x80 >> 3))
    assert vi.lines == NONE and vi.read("ICV_RPR_EL1") == 0x80
    vi.write("ICH_AP1R0_EL2", 0)
    assert vi.lines == IRQ


# ------------------------------------------------------------------ EOImode, deactivation

def test_veoim_splits_priority_drop_and_deactivation():
    vi, _ = make(veoim=1)
    vi.write("ICH_LR0_EL2", lr(40, 0x80))
    vi.write("ICH_LR1_EL2", lr(41, 0x80))
    assert vi.read("ICV_IAR1_EL1") == 40
    assert vi.lines == NONE  # 41 has the same priority: no preemption
    vi.write("ICV_EOIR1_EL1", 40)
    assert vi.read("ICV_AP1R0_EL1") == 0
    assert state_of(vi.read("ICH_LR0_EL2")) == ACTIVE  # still active
    assert vi.lines == IRQ  # the priority dropped: 41 can be taken
    vi.write("ICV_DIR_EL1", 40)
    assert state_of(vi.read("ICH_LR0_EL2")) == INVALID
    assert eoicount(vi) == 0


def test_dir_is_ignored_while_veoim_is_0():
    vi, _ = make()
    vi.write("ICH_LR0_EL2", lr(40, 0x80, state=ACTIVE))
    vi.write("ICV_DIR_EL1", 40)
    vi.write("ICV_DIR_EL1", 99)
    assert state_of(vi.read("ICH_LR0_EL2")) == ACTIVE and eoicount(vi) == 0


def test_deactivating_active_pending_leaves_it_pending():
    vi, _ = make(veoim=1)
    vi.write("ICH_LR0_EL2", lr(40, 0x80, state=ACTIVE_PENDING))
    assert vi.lines == NONE
    vi.write("ICV_DIR_EL1", 40)
    assert vi.read("ICH_LR0_EL2") == lr(40, 0x80, state=PENDING)
    assert vi.lines == IRQ


@pytest.mark.parametrize("veoim", [0, 1])
def test_hw_list_register_deactivates_its_physical_interrupt_exactly_once(veoim):
    vi, done = make(veoim=veoim)
    vi.write("ICH_LR1_EL2", lr(27, 0xA0, hw=1, pintid=27))
    vi.write("ICH_LR2_EL2", lr(48, 0xA0, hw=1, pintid=0x1F3))  # vINTID != pINTID
    assert vi.read("ICV_IAR1_EL1") == 27
    vi.write("ICV_EOIR1_EL1", 27)
    if veoim:
        assert done == []  # priority drop only
        vi.write("ICV_DIR_EL1", 27)
    assert done == [27]
    vi.write("ICV_DIR_EL1", 27)  # no longer active: counted, not deactivated again
    vi.write("ICV_EOIR1_EL1", 27)  # no active priority left: ignored
    assert done == [27]
    assert vi.read("ICV_IAR1_EL1") == 48
    vi.write("ICV_EOIR1_EL1", 48)
    if veoim:
        vi.write("ICV_DIR_EL1", 48)
    assert done == [27, 0x1F3]
    assert state_of(vi.read("ICH_LR1_EL2")) == INVALID == state_of(vi.read("ICH_LR2_EL2"))


@pytest.mark.parametrize("veoim", [0, 1])
def test_software_list_register_never_deactivates_a_physical_interrupt(veoim):
    vi, done = make(veoim=veoim)
    vi.write("ICH_LR0_EL2", lr(27, 0xA0, eoi=1))
    assert vi.read("ICV_IAR1_EL1") == 27
    vi.write("ICV_EOIR1_EL1", 27)
    vi.write("ICV_DIR_EL1", 27)
    assert state_of(vi.read("ICH_LR0_EL2")) == INVALID
    assert done == []


def test_eoi_of_an_intid_in_no_list_register_counts_in_eoicount():
    vi, _ = make()
    vi.write("ICH_LR0_EL2", lr(40, 0x80))
    assert vi.read("ICV_IAR1_EL1") == 40
    vi.write("ICH_LR0_EL2", 0)  # the hypervisor took it out while active
    vi.write("ICV_EOIR1_EL1", 40)
    assert eoicount(vi) == 1
    assert vi.read("ICV_AP1R0_EL1") == 0  # the priority still drops
    vi.write("ICV_EOIR1_EL1", 40)  # no active priority: ignored (QEMU)
    assert eoicount(vi) == 1


def test_dir_of_an_intid_in_no_list_register_counts_with_veoim():
    vi, _ = make(veoim=1)
    vi.write("ICV_DIR_EL1", 77)
    vi.write("ICV_DIR_EL1", 78)
    assert eoicount(vi) == 2
    vi.write("ICV_DIR_EL1", 1023)  # special: ignored
    assert eoicount(vi) == 2


def test_eoicount_wraps_in_its_five_bits():
    vi, _ = make(hcr=EN | 31 << 27, veoim=1)
    assert eoicount(vi) == 31
    vi.write("ICV_DIR_EL1", 77)
    assert eoicount(vi) == 0


def test_eoi_through_the_other_groups_register_drops_priority_but_does_not_deactivate():
    # UNPREDICTABLE; QEMU drops the highest active priority and leaves the LR active
    vi, _ = make()
    vi.write("ICH_LR0_EL2", lr(40, 0x80))
    assert vi.read("ICV_IAR1_EL1") == 40
    vi.write("ICV_EOIR0_EL1", 40)
    assert vi.read("ICV_AP1R0_EL1") == 0
    assert state_of(vi.read("ICH_LR0_EL2")) == ACTIVE and eoicount(vi) == 0


def test_eoi_of_a_special_intid_changes_nothing():
    vi, _ = make()
    vi.write("ICH_LR0_EL2", lr(40, 0x80))
    assert vi.read("ICV_IAR1_EL1") == 40
    before = vi.snapshot()
    vi.write("ICV_EOIR1_EL1", 1023)
    assert vi.snapshot() == before


# ------------------------------------------------------------------ maintenance interrupt

@pytest.mark.parametrize("state, hw, eoi, eisr, elrsr", [
    (INVALID, 0, 0, 0, 1),
    (INVALID, 0, 1, 1, 0),  # an EOI maintenance interrupt not yet handled
    (INVALID, 1, 1, 0, 1),  # with HW=1 bit 41 is pINTID[9], not EOI
    (PENDING, 0, 1, 0, 0),
    (ACTIVE, 0, 0, 0, 0),
    (ACTIVE_PENDING, 1, 0, 0, 0),
])
def test_eisr_and_elrsr(state, hw, eoi, eisr, elrsr):
    vi, _ = make()
    value = lr(30, 0x80, state=state, hw=hw, eoi=0 if hw else eoi,
               pintid=(eoi << 9 | 30) if hw else 0)
    vi.write("ICH_LR2_EL2", value)
    assert vi.read("ICH_EISR_EL2") == eisr << 2
    assert vi.read("ICH_ELRSR_EL2") == 0b1011 | elrsr << 2
    assert (vi.read("ICH_MISR_EL2") & M_EOI) == (M_EOI if eisr else 0)
    assert vi.maintenance == bool(eisr)


def test_eoi_maintenance_interrupt_after_the_guest_ends_an_eoi_list_register():
    vi, _ = make()
    vi.write("ICH_LR0_EL2", lr(40, 0x80, eoi=1))
    assert vi.read("ICH_MISR_EL2") == 0 and not vi.maintenance
    assert vi.read("ICV_IAR1_EL1") == 40
    assert not vi.maintenance
    vi.write("ICV_EOIR1_EL1", 40)
    assert vi.read("ICH_EISR_EL2") == 0b0001
    assert vi.read("ICH_MISR_EL2") == M_EOI and vi.maintenance
    vi.write("ICH_LR0_EL2", 0)  # the hypervisor handles it
    assert vi.read("ICH_MISR_EL2") == 0 and not vi.maintenance


@pytest.mark.parametrize("lrs, hcr, misr", [
    # U: UIE and zero or one valid (State != Invalid) list registers
    ([], UIE, M_U),
    ([lr(1, 0x80)], UIE, M_U),
    ([lr(1, 0x80, state=ACTIVE)], UIE, M_U),
    ([lr(1, 0x80), lr(2, 0x80, state=ACTIVE)], UIE, 0),
    ([lr(1, 0x80), lr(2, 0x80)], 0, 0),
    ([], 0, 0),
    # NP: NPIE and no list register in the Pending state
    ([], NPIE, M_NP),
    ([lr(1, 0x80, state=ACTIVE)], NPIE, M_NP),
    ([lr(1, 0x80, state=ACTIVE_PENDING)], NPIE, M_NP),
    ([lr(1, 0x80, state=ACTIVE), lr(2, 0x80)], NPIE, 0),
    ([lr(1, 0x80, state=ACTIVE)], UIE | NPIE, M_U | M_NP),
    # LRENP: LRENPIE and EOIcount != 0
    ([lr(1, 0x80), lr(2, 0x80)], LRENPIE, 0),
    ([lr(1, 0x80), lr(2, 0x80)], LRENPIE | 3 << 27, M_LRENP),
    ([lr(1, 0x80), lr(2, 0x80)], 3 << 27, 0),
])
def test_misr_underflow_no_pending_and_lrenp(lrs, hcr, misr):
    vi, _ = make(hcr=EN | hcr)
    for n, value in enumerate(lrs):
        vi.write(f"ICH_LR{n}_EL2", value)
    assert vi.read("ICH_MISR_EL2") == misr
    assert vi.maintenance == bool(misr)


@pytest.mark.parametrize("veng0, veng1, hcr, misr", [
    (1, 0, VGRP0EIE | VGRP0DIE | VGRP1EIE | VGRP1DIE, M_VGRP0E | M_VGRP1D),
    (0, 1, VGRP0EIE | VGRP0DIE | VGRP1EIE | VGRP1DIE, M_VGRP0D | M_VGRP1E),
    (1, 1, VGRP0DIE | VGRP1DIE, 0),
    (0, 0, VGRP0EIE | VGRP1EIE, 0),
    (0, 1, VGRP0DIE, M_VGRP0D),  # Group 0 disabled, whatever Group 1 is
    (1, 0, VGRP0DIE, 0),
    (1, 0, VGRP1EIE, 0),
    (1, 1, VGRP1EIE, M_VGRP1E),
])
def test_misr_group_enable_and_disable_bits(veng0, veng1, hcr, misr):
    vi, _ = make(hcr=EN | hcr, veng0=veng0, veng1=veng1)
    vi.write("ICH_LR0_EL2", lr(1, 0x80, state=ACTIVE))  # no U or NP from the LRs
    vi.write("ICH_LR1_EL2", lr(2, 0x80))
    assert vi.read("ICH_MISR_EL2") == misr
    assert vi.maintenance == bool(misr)


def test_maintenance_line_needs_ich_hcr_el2_en_but_misr_does_not():
    vi, _ = make(hcr=UIE | NPIE)
    assert vi.read("ICH_MISR_EL2") == M_U | M_NP
    assert not vi.maintenance
    vi.write("ICH_HCR_EL2", EN | UIE | NPIE)
    assert vi.maintenance
    vi.write("ICH_HCR_EL2", EN)
    assert not vi.maintenance


def test_lrenp_follows_eoicount_until_the_hypervisor_clears_it():
    vi, _ = make(hcr=EN | LRENPIE, veoim=1)
    vi.write("ICH_LR0_EL2", lr(1, 0x80))
    vi.write("ICH_LR1_EL2", lr(2, 0x80))
    assert not vi.maintenance
    vi.write("ICV_DIR_EL1", 300)
    assert vi.read("ICH_MISR_EL2") == M_LRENP and vi.maintenance
    vi.write("ICH_HCR_EL2", EN | LRENPIE)  # EOIcount written back as 0
    assert vi.read("ICH_MISR_EL2") == 0 and not vi.maintenance


def test_underflow_rises_as_the_guest_consumes_the_list_registers():
    vi, _ = make(hcr=EN | UIE)
    vi.write("ICH_LR0_EL2", lr(40, 0x80))
    vi.write("ICH_LR1_EL2", lr(41, 0x90))
    assert not vi.maintenance
    assert vi.read("ICV_IAR1_EL1") == 40
    assert not vi.maintenance  # still two valid: one active, one pending
    vi.write("ICV_EOIR1_EL1", 40)
    assert vi.read("ICH_MISR_EL2") == M_U and vi.maintenance
