"""The GICv3 model (smpsim/gic_dist/model.py): registers, routing, acknowledge/EOI,
priorities and preemption, SGIs, level and edge inputs, the WAKER handshake. Pure
Python: no sockets, no jit core."""

import pytest

from smpsim.gic_dist.model import SPURIOUS, GicV3

# QEMU virt -smp 4: one cluster, Aff0 = 0..3
AFF4 = [0x0, 0x1, 0x2, 0x3]
# two clusters of two (Aff1 = cluster), as in topologies/virt-mixed.toml
AFF2X2 = [0x000, 0x001, 0x100, 0x101]

GICD_CTLR, GICD_TYPER, GICD_IIDR = 0x0, 0x4, 0x8
GICD_IGROUPR, GICD_ISENABLER, GICD_ICENABLER = 0x80, 0x100, 0x180
GICD_ISPENDR, GICD_ICPENDR, GICD_ISACTIVER, GICD_ICACTIVER = 0x200, 0x280, 0x300, 0x380
GICD_IPRIORITYR, GICD_ICFGR, GICD_SGIR, GICD_IROUTER = 0x400, 0xC00, 0xF00, 0x6000
PIDR2 = 0xFFE8
GICR_CTLR, GICR_IIDR, GICR_TYPER, GICR_WAKER = 0x0, 0x4, 0x8, 0x14
SGI = 0x10000
GICR_IGROUPR0, GICR_ISENABLER0, GICR_ICENABLER0 = SGI + 0x80, SGI + 0x100, SGI + 0x180
GICR_ISPENDR0, GICR_ICPENDR0 = SGI + 0x200, SGI + 0x280
GICR_ISACTIVER0, GICR_ICACTIVER0 = SGI + 0x300, SGI + 0x380
GICR_IPRIORITYR, GICR_ICFGR0, GICR_ICFGR1 = SGI + 0x400, SGI + 0xC00, SGI + 0xC04
UART = 33


def word(intid):
    return 4 * (intid // 32), 1 << (intid % 32)


def make(affs=AFF4, grp0=True, grp1=True, **kw):
    """A GIC with its distributor on, every CPU awake with PMR open and both groups
    enabled in its CPU interface (what a kernel does at start-up)."""
    g = GicV3(affs, **kw)
    g.dist_write(GICD_CTLR, 4, (1 if grp0 else 0) | (2 if grp1 else 0))
    for c in range(len(affs)):
        g.redist_write(c, GICR_WAKER, 4, 0)
        g.icc_write(c, "ICC_PMR_EL1", 0xFF)
        g.icc_write(c, "ICC_IGRPEN0_EL1", 1)
        g.icc_write(c, "ICC_IGRPEN1_EL1", 1)
    g.take_changes()
    return g


def enable_spi(g, intid, cpu=0, prio=0xA0, group=1, edge=False, irm=False):
    off, bit = word(intid)
    grp = g.dist_read(GICD_IGROUPR + off, 4)
    g.dist_write(GICD_IGROUPR + off, 4, grp | bit if group else grp & ~bit)
    g.dist_write(GICD_IPRIORITYR + intid, 1, prio)
    cfg_off, shift = 4 * (intid // 16), 2 * (intid % 16) + 1
    cfg = g.dist_read(GICD_ICFGR + cfg_off, 4)
    g.dist_write(GICD_ICFGR + cfg_off, 4, cfg | 1 << shift if edge else cfg & ~(1 << shift))
    aff = g.affinities[cpu]
    g.dist_write(GICD_IROUTER + 8 * intid, 8, (1 << 31) if irm else (aff >> 32) << 32 | aff & 0xFFFFFF)
    g.dist_write(GICD_ISENABLER + off, 4, bit)


def enable_private(g, cpu, intid, prio=0xA0, group=1):
    grp = g.redist_read(cpu, GICR_IGROUPR0, 4)
    g.redist_write(cpu, GICR_IGROUPR0, 4, grp | 1 << intid if group else grp & ~(1 << intid))
    g.redist_write(cpu, GICR_IPRIORITYR + intid, 1, prio)
    g.redist_write(cpu, GICR_ISENABLER0, 4, 1 << intid)


def sgi1r(intid, targets=0, aff1=0, aff2=0, aff3=0, rs=0, irm=False):
    return (aff3 << 48 | rs << 44 | int(irm) << 40 | aff2 << 32 | intid << 24
            | aff1 << 16 | targets)


IRQ, FIQ, NONE = (True, False), (False, True), (False, False)


# ------------------------------------------------------------------ distributor registers

def test_gicd_ctlr_single_security_state_ARE_and_DS_read_as_one_only_enables_writable():
    g = GicV3(AFF4)
    assert g.dist_read(GICD_CTLR, 4) == 0x50  # ARE (bit 4) and DS (bit 6), as QEMU
    g.dist_write(GICD_CTLR, 4, 0xFFFF_FFFF)
    assert g.dist_read(GICD_CTLR, 4) == 0x53  # + EnableGrp0, EnableGrp1; RWP reads 0
    g.dist_write(GICD_CTLR, 4, 0)
    assert g.dist_read(GICD_CTLR, 4) == 0x50


@pytest.mark.parametrize("num_spis, itlines", [(224, 7), (32, 1), (0, 0), (960, 30)])
def test_gicd_typer_itlinesnumber_idbits_cpunumber_and_capabilities(num_spis, itlines):
    t = GicV3(AFF4, num_spis=num_spis).dist_read(GICD_TYPER, 4)
    assert t & 0x1F == itlines
    assert t >> 5 & 7 == 0  # CPUNumber: 0 with affinity routing
    assert t >> 19 & 0x1F == 0xF  # IDbits: 16
    assert t >> 10 & 1 == 0  # SecurityExtn: RAZ with DS == 1
    assert t >> 17 & 1 == 0  # no LPIs
    assert t >> 24 & 1 == 1  # A3V
    assert t >> 25 & 1 == 0  # No1N == 0: 1-of-N supported
    assert t >> 26 & 1 == 1  # RSS


def test_gicd_iidr_and_pidr2_archrev_3():
    g = GicV3(AFF4)
    assert g.dist_read(GICD_IIDR, 4) == 0x43B
    assert g.dist_read(PIDR2, 4) == 0x3B
    assert g.dist_read(PIDR2, 4) >> 4 & 0xF == 3
    assert [g.dist_read(0xFFF0 + 4 * k, 4) for k in range(4)] == [0x0D, 0xF0, 0x05, 0xB1]
    assert g.dist_read(0xFFE0, 4) == 0x92


def test_gicd_read_only_registers_ignore_writes():
    g = GicV3(AFF4)
    before = [g.dist_read(o, 4) for o in (GICD_TYPER, GICD_IIDR, PIDR2)]
    for o in (GICD_TYPER, GICD_IIDR, PIDR2):
        g.dist_write(o, 4, 0xFFFF_FFFF)
    assert [g.dist_read(o, 4) for o in (GICD_TYPER, GICD_IIDR, PIDR2)] == before


@pytest.mark.parametrize("offset, size", [
    (0x14, 4),        # reserved
    (0x0C, 4),        # TYPER2: RAZ
    (0x40, 4),        # SETSPI_NSR: no message-based SPIs
    (GICD_SGIR, 4),   # write-only, and unused with affinity routing
    (0x800 + 33, 1),  # ITARGETSR: RAZ/WI with ARE
    (0x3000, 4),      # reserved hole
    (0xF10, 4),       # CPENDSGIR
    (GICD_IROUTER, 8),  # IROUTER<0>: reserved (SGIs are not routed)
    (GICD_CTLR, 2),   # a 16-bit access to a 32-bit register
    (GICD_CTLR, 8),   # a 64-bit access to a 32-bit register
    (GICD_CTLR + 1, 1),
    (GICD_IPRIORITYR + 33, 4),  # misaligned
    (GICD_CTLR, 3),   # not an access size
])
def test_gicd_unimplemented_offsets_and_bad_sizes_read_as_zero(offset, size):
    g = make()
    assert g.dist_read(offset, size) == 0
    g.dist_write(offset, size, 0xFFFF_FFFF)  # and ignore writes without raising
    assert g.dist_read(GICD_CTLR, 4) == 0x53


def test_gicd_private_interrupt_words_are_raz_wi_with_affinity_routing():
    g = GicV3(AFF4)
    for base in (GICD_IGROUPR, GICD_ISENABLER, GICD_ISPENDR, GICD_ISACTIVER):
        g.dist_write(base, 4, 0xFFFF_FFFF)
        assert g.dist_read(base, 4) == 0
    g.dist_write(GICD_IPRIORITYR, 4, 0xFFFF_FFFF)
    assert g.dist_read(GICD_IPRIORITYR, 4) == 0
    assert g.dist_read(GICD_ICFGR, 4) == 0
    # SGI 0 of CPU 0 was not enabled by the distributor write
    assert g.redist_read(0, GICR_ISENABLER0, 4) == 0


def test_gicd_spis_past_the_implemented_range_are_raz_wi():
    g = GicV3(AFF4, num_spis=32)  # INTIDs 32..63
    g.dist_write(GICD_ISENABLER + 8, 4, 0xFFFF_FFFF)
    assert g.dist_read(GICD_ISENABLER + 8, 4) == 0
    g.dist_write(GICD_IPRIORITYR + 64, 1, 0x80)
    assert g.dist_read(GICD_IPRIORITYR + 64, 1) == 0
    g.dist_write(GICD_IROUTER + 8 * 64, 8, 1)
    assert g.dist_read(GICD_IROUTER + 8 * 64, 8) == 0


def test_gicd_set_and_clear_enable_registers_are_write_one_to_act():
    g = GicV3(AFF4)
    g.dist_write(GICD_ISENABLER + 4, 4, 0x0000_0003)  # SPIs 32, 33
    g.dist_write(GICD_ISENABLER + 4, 4, 0x0000_0010)  # 36; zeros change nothing
    assert g.dist_read(GICD_ISENABLER + 4, 4) == 0x13
    assert g.dist_read(GICD_ICENABLER + 4, 4) == 0x13
    g.dist_write(GICD_ICENABLER + 4, 4, 0x0000_0001)
    assert g.dist_read(GICD_ISENABLER + 4, 4) == 0x12


def test_gicd_pending_and_active_set_clear_registers():
    g = GicV3(AFF4)
    g.dist_write(GICD_ISPENDR + 4, 4, 1 << 8)  # SPI 40
    assert g.dist_read(GICD_ISPENDR + 4, 4) == 1 << 8
    assert g.dist_read(GICD_ICPENDR + 4, 4) == 1 << 8
    g.dist_write(GICD_ICPENDR + 4, 4, 1 << 8)
    assert g.dist_read(GICD_ISPENDR + 4, 4) == 0
    g.dist_write(GICD_ISACTIVER + 4, 4, 1 << 9)
    assert g.dist_read(GICD_ICACTIVER + 4, 4) == 1 << 9
    g.dist_write(GICD_ICACTIVER + 4, 4, 1 << 9)
    assert g.dist_read(GICD_ISACTIVER + 4, 4) == 0


def test_gicd_igroupr_resets_to_group1_as_qemu_direct_kernel_boot_or_group0_architecturally():
    assert GicV3(AFF4).dist_read(GICD_IGROUPR + 4, 4) == 0xFFFF_FFFF
    g = GicV3(AFF4, reset_group1=False)
    assert g.dist_read(GICD_IGROUPR + 4, 4) == 0
    g.dist_write(GICD_IGROUPR + 4, 4, 0x5)
    assert g.dist_read(GICD_IGROUPR + 4, 4) == 0x5


def test_gicd_ipriorityr_byte_and_word_access():
    g = GicV3(AFF4)
    g.dist_write(GICD_IPRIORITYR + 32, 4, 0x4030_2010)
    assert [g.dist_read(GICD_IPRIORITYR + 32 + k, 1) for k in range(4)] == [0x10, 0x20, 0x30, 0x40]
    g.dist_write(GICD_IPRIORITYR + 34, 1, 0xEE)
    assert g.dist_read(GICD_IPRIORITYR + 32, 4) == 0x40EE_2010


def test_gicd_icfgr_odd_bits_select_edge_even_bits_res0():
    g = GicV3(AFF4)
    g.dist_write(GICD_ICFGR + 8, 4, 0xFFFF_FFFF)  # SPIs 32..47
    assert g.dist_read(GICD_ICFGR + 8, 4) == 0xAAAA_AAAA
    g.dist_write(GICD_ICFGR + 8, 4, 0x0000_0008)  # only SPI 33 edge
    assert g.dist_read(GICD_ICFGR + 8, 4) == 0x8


def test_gicd_irouter_64_bit_and_32_bit_halves_and_reserved_bits():
    g = GicV3(AFF2X2)
    o = GICD_IROUTER + 8 * 40
    g.dist_write(o, 8, 0xFFFF_FFFF_FFFF_FFFF)
    assert g.dist_read(o, 8) == 0xFF_80FF_FFFF  # Aff3, IRM, Aff2.Aff1.Aff0 only
    g.dist_write(o, 4, 0x0000_0101)
    g.dist_write(o + 4, 4, 0)
    assert g.dist_read(o, 8) == 0x101
    assert g.dist_read(o, 4) == 0x101 and g.dist_read(o + 4, 4) == 0


# ------------------------------------------------------------ redistributor registers

def test_gicr_typer_affinity_processor_number_and_last_on_last_cpu_only():
    g = GicV3(AFF2X2 + [0x02_0000_0000])  # a fifth CPU with Aff3 = 2
    for c in range(5):
        t = g.redist_read(c, GICR_TYPER, 8)
        assert t >> 8 & 0xFFFF == c
        assert t >> 4 & 1 == (c == 4)
        assert t & 1 == 0  # no physical LPIs
        assert t == g.redist_read(c, GICR_TYPER + 4, 4) << 32 | g.redist_read(c, GICR_TYPER, 4)
    assert g.redist_read(3, GICR_TYPER, 8) >> 32 == 0x0000_0101
    assert g.redist_read(4, GICR_TYPER, 8) >> 32 == 0x0200_0000  # Aff3 at [63:56]


def test_gicr_iidr_pidr2_and_ctlr():
    g = GicV3(AFF4)
    assert g.redist_read(1, GICR_IIDR, 4) == 0x43B
    assert g.redist_read(1, PIDR2, 4) == 0x3B
    assert g.redist_read(1, 0xFFE0, 4) == 0x93
    g.redist_write(1, GICR_CTLR, 4, 0xFFFF_FFFF)  # no LPIs, DPG bits RAZ/WI
    assert g.redist_read(1, GICR_CTLR, 4) == 0


def test_gicr_waker_handshake_processor_sleep_then_children_asleep():
    g = GicV3(AFF4)
    assert g.redist_read(2, GICR_WAKER, 4) == 0x6  # reset: asleep
    g.redist_write(2, GICR_WAKER, 4, 0)  # clear ProcessorSleep ...
    assert g.redist_read(2, GICR_WAKER, 4) & 0x4 == 0  # ... and ChildrenAsleep reads 0
    assert g.redist_read(1, GICR_WAKER, 4) == 0x6  # the others unaffected
    g.redist_write(2, GICR_WAKER, 4, 0x2)
    assert g.redist_read(2, GICR_WAKER, 4) == 0x6
    g.redist_write(2, GICR_WAKER, 4, 0x4 | 0x1)  # ChildrenAsleep is read-only
    assert g.redist_read(2, GICR_WAKER, 4) == 0


def test_sleeping_redistributor_gets_no_interrupts_until_woken():
    g = make()
    g.redist_write(1, GICR_WAKER, 4, 0x2)
    enable_private(g, 1, 27)
    g.set_ppi(1, 27, True)
    assert g.lines(1) == NONE
    assert g.icc_read(1, "ICC_IAR1_EL1") == SPURIOUS
    g.redist_write(1, GICR_WAKER, 4, 0)
    assert g.lines(1) == IRQ
    assert g.icc_read(1, "ICC_IAR1_EL1") == 27


def test_sleep_gating_can_be_turned_off_as_qemu():
    g = GicV3(AFF4, sleep_gates_delivery=False)
    g.dist_write(GICD_CTLR, 4, 3)
    g.icc_write(0, "ICC_PMR_EL1", 0xFF)
    g.icc_write(0, "ICC_IGRPEN1_EL1", 1)
    enable_private(g, 0, 30)
    g.set_ppi(0, 30, True)
    assert g.redist_read(0, GICR_WAKER, 4) == 0x6 and g.lines(0) == IRQ


def test_gicr_sgi_frame_registers():
    g = GicV3(AFF4, reset_group1=False)
    g.redist_write(0, GICR_IGROUPR0, 4, 0xFFFF_0001)
    assert g.redist_read(0, GICR_IGROUPR0, 4) == 0xFFFF_0001
    g.redist_write(0, GICR_ISENABLER0, 4, 0x0801_0003)
    g.redist_write(0, GICR_ICENABLER0, 4, 0x1)
    assert g.redist_read(0, GICR_ICENABLER0, 4) == 0x0801_0002
    g.redist_write(0, GICR_ISPENDR0, 4, 0x4)
    assert g.redist_read(0, GICR_ICPENDR0, 4) == 0x4
    g.redist_write(0, GICR_ICPENDR0, 4, 0x4)
    assert g.redist_read(0, GICR_ISPENDR0, 4) == 0
    g.redist_write(0, GICR_ISACTIVER0, 4, 0x10)
    assert g.redist_read(0, GICR_ICACTIVER0, 4) == 0x10
    g.redist_write(0, GICR_ICACTIVER0, 4, 0x10)
    assert g.redist_read(0, GICR_ISACTIVER0, 4) == 0
    for k in range(8):  # IPRIORITYR0-7
        g.redist_write(0, GICR_IPRIORITYR + 4 * k, 4, 0x01020304 * (k + 1))
    assert g.redist_read(0, GICR_IPRIORITYR + 28, 4) == 0x01020304 * 8
    assert g.redist_read(0, GICR_IPRIORITYR + 5, 1) == 0x06
    # banked: CPU 1's registers are its own
    assert g.redist_read(1, GICR_IGROUPR0, 4) == 0
    assert g.redist_read(1, GICR_ISENABLER0, 4) == 0


def test_gicr_icfgr0_sgis_always_edge_icfgr1_ppis_programmable():
    g = GicV3(AFF4)
    assert g.redist_read(0, GICR_ICFGR0, 4) == 0xAAAA_AAAA
    g.redist_write(0, GICR_ICFGR0, 4, 0)
    assert g.redist_read(0, GICR_ICFGR0, 4) == 0xAAAA_AAAA
    assert g.redist_read(0, GICR_ICFGR1, 4) == 0  # PPIs reset level-sensitive
    g.redist_write(0, GICR_ICFGR1, 4, 0xFFFF_FFFF)
    assert g.redist_read(0, GICR_ICFGR1, 4) == 0xAAAA_AAAA


@pytest.mark.parametrize("offset, size", [
    (0x18, 4), (0x70, 8), (0x78, 8), (0x200, 4), (GICR_WAKER, 2), (GICR_TYPER, 2),
    (SGI + 0xD00, 4), (SGI + 0xE00, 4), (SGI + 0x84, 4), (SGI + 0x420, 4),
    (SGI + 0x100, 8), (0x20000, 4), (GICR_WAKER + 1, 1),
])
def test_gicr_unimplemented_offsets_and_bad_sizes_read_as_zero(offset, size):
    g = make()
    assert g.redist_read(0, offset, size) == 0
    g.redist_write(0, offset, size, 0xFFFF_FFFF)
    assert g.redist_read(0, GICR_WAKER, 4) == 0  # still awake
    assert g.redist_read(0, GICR_ISENABLER0, 4) == 0


# --------------------------------------------------------------- delivery, IAR, EOI

def test_uart_spi_routed_to_cpu2_raises_irq_acknowledged_and_eoi_drops_line():
    g = make()
    enable_spi(g, UART, cpu=2)
    assert g.take_changes() == {}
    g.set_spi(UART, True)
    assert g.take_changes() == {2: IRQ}
    assert [g.lines(c) for c in range(4)] == [NONE, NONE, IRQ, NONE]
    assert g.icc_read(2, "ICC_IAR1_EL1") == UART
    assert g.lines(2) == NONE  # active: the line falls at acknowledge
    assert g.icc_read(2, "ICC_RPR_EL1") == 0xA0
    g.set_spi(UART, False)  # the UART's handler clears the cause
    g.icc_write(2, "ICC_EOIR1_EL1", UART)
    assert g.icc_read(2, "ICC_RPR_EL1") == 0xFF
    assert g.dist_read(GICD_ISACTIVER + 4, 4) == 0
    assert g.take_changes() == {2: NONE}


def test_level_spi_still_high_after_eoi_is_signalled_again():
    g = make()
    enable_spi(g, UART, cpu=0)
    g.set_spi(UART, True)
    assert g.icc_read(0, "ICC_IAR1_EL1") == UART
    # active and pending while the input stays high
    assert g.dist_read(GICD_ISPENDR + 4, 4) >> 1 & 1
    assert g.dist_read(GICD_ISACTIVER + 4, 4) >> 1 & 1
    assert g.lines(0) == NONE
    g.icc_write(0, "ICC_EOIR1_EL1", UART)
    assert g.lines(0) == IRQ
    assert g.icc_read(0, "ICC_IAR1_EL1") == UART


def test_level_interrupt_pending_follows_input_and_icpendr_cannot_clear_a_high_input():
    g = make()
    enable_spi(g, 40)
    g.set_spi(40, True)
    g.dist_write(GICD_ICPENDR + 4, 4, 1 << 8)
    assert g.dist_read(GICD_ISPENDR + 4, 4) >> 8 & 1
    g.set_spi(40, False)
    assert not g.dist_read(GICD_ISPENDR + 4, 4) >> 8 & 1
    assert g.lines(0) == NONE


def test_edge_spi_latches_and_stays_pending_after_input_falls():
    g = make()
    enable_spi(g, 40, edge=True)
    g.set_spi(40, True)
    g.set_spi(40, False)
    assert g.lines(0) == IRQ
    assert g.icc_read(0, "ICC_IAR1_EL1") == 40
    g.icc_write(0, "ICC_EOIR1_EL1", 40)
    assert g.lines(0) == NONE  # the latch was consumed by the acknowledge


def test_edge_held_high_does_not_retrigger_but_a_new_edge_while_active_makes_active_and_pending():
    g = make()
    enable_spi(g, 40, edge=True)
    g.set_spi(40, True)
    assert g.icc_read(0, "ICC_IAR1_EL1") == 40
    g.set_spi(40, True)  # no change: no edge
    assert not g.dist_read(GICD_ISPENDR + 4, 4) >> 8 & 1
    g.set_spi(40, False)
    g.set_spi(40, True)  # a second edge while active
    assert g.dist_read(GICD_ISPENDR + 4, 4) >> 8 & 1
    assert g.dist_read(GICD_ISACTIVER + 4, 4) >> 8 & 1
    assert g.lines(0) == NONE  # active-and-pending is not signalled ...
    g.icc_write(0, "ICC_EOIR1_EL1", 40)
    assert g.lines(0) == IRQ  # ... until it is deactivated
    assert g.icc_read(0, "ICC_IAR1_EL1") == 40


def test_software_pending_level_interrupt_is_cleared_by_acknowledge():
    g = make()
    enable_spi(g, 41)
    g.dist_write(GICD_ISPENDR + 4, 4, 1 << 9)
    assert g.icc_read(0, "ICC_IAR1_EL1") == 41
    g.icc_write(0, "ICC_EOIR1_EL1", 41)
    assert g.lines(0) == NONE


def test_timer_ppis_are_per_cpu():
    g = make()
    for c in range(4):
        enable_private(g, c, 27)
    g.set_ppi(3, 27, True)
    assert g.take_changes() == {3: IRQ}
    assert g.icc_read(0, "ICC_IAR1_EL1") == SPURIOUS
    assert g.icc_read(3, "ICC_IAR1_EL1") == 27
    assert g.redist_read(3, GICR_ISACTIVER0, 4) == 1 << 27
    assert g.redist_read(0, GICR_ISACTIVER0, 4) == 0


def test_spurious_1023_when_nothing_is_pending():
    g = make()
    assert g.icc_read(0, "ICC_IAR1_EL1") == SPURIOUS
    assert g.icc_read(0, "ICC_IAR0_EL1") == SPURIOUS
    assert g.icc_read(0, "ICC_HPPIR1_EL1") == SPURIOUS
    g.icc_write(0, "ICC_EOIR1_EL1", SPURIOUS)  # ignored
    assert g.icc_read(0, "ICC_RPR_EL1") == 0xFF


@pytest.mark.parametrize("what", ["disabled", "dist_grp1_off", "cpu_grp1_off", "unrouted"])
def test_interrupt_not_signalled_when_any_enable_is_off(what):
    g = make(affs=AFF4)
    enable_spi(g, 50)
    if what == "disabled":
        g.dist_write(GICD_ICENABLER + 4, 4, 1 << 18)
    elif what == "dist_grp1_off":
        g.dist_write(GICD_CTLR, 4, 1)
    elif what == "cpu_grp1_off":
        g.icc_write(0, "ICC_IGRPEN1_EL1", 0)
    elif what == "unrouted":
        g.dist_write(GICD_IROUTER + 8 * 50, 8, 0x0700)  # Aff1 = 7: no such CPU
    g.set_spi(50, True)
    assert all(g.lines(c) == NONE for c in range(4))
    assert g.icc_read(0, "ICC_IAR1_EL1") == SPURIOUS


def test_group0_signals_fiq_and_is_taken_with_iar0_not_iar1():
    g = make()
    enable_spi(g, 45, group=0, prio=0x40)
    g.set_spi(45, True)
    assert g.lines(0) == FIQ
    assert g.icc_read(0, "ICC_HPPIR1_EL1") == SPURIOUS
    assert g.icc_read(0, "ICC_HPPIR0_EL1") == 45
    assert g.icc_read(0, "ICC_IAR1_EL1") == SPURIOUS
    assert g.icc_read(0, "ICC_IAR0_EL1") == 45
    assert g.icc_read(0, "ICC_AP0R0_EL1") == 1 << (0x40 >> 3)
    g.set_spi(45, False)
    g.icc_write(0, "ICC_EOIR0_EL1", 45)
    assert g.lines(0) == NONE and g.icc_read(0, "ICC_AP0R0_EL1") == 0


def test_disabled_group_in_cpu_interface_does_not_hide_lower_priority_enabled_group():
    g = make()
    g.icc_write(0, "ICC_IGRPEN0_EL1", 0)
    enable_spi(g, 45, group=0, prio=0x10)
    enable_spi(g, 46, group=1, prio=0x80)
    g.set_spi(45, True)
    g.set_spi(46, True)
    assert g.lines(0) == IRQ
    assert g.icc_read(0, "ICC_IAR1_EL1") == 46


# --------------------------------------------------------------- priority, PMR, BPR

def test_highest_priority_wins_and_ties_go_to_the_lowest_intid():
    g = make()
    for intid, prio in [(40, 0x80), (41, 0x40), (42, 0x40), (43, 0x20)]:
        enable_spi(g, intid, prio=prio, edge=True)
        g.set_spi(intid, True)
    g.icc_write(0, "ICC_PMR_EL1", 0xFF)
    order = []
    for _ in range(4):
        # raise PMR to mask nothing new: take them one by one, EOI each
        i = g.icc_read(0, "ICC_IAR1_EL1")
        order.append(i)
        g.icc_write(0, "ICC_EOIR1_EL1", i)
    assert order == [43, 41, 42, 40]
    assert g.icc_read(0, "ICC_IAR1_EL1") == SPURIOUS


@pytest.mark.parametrize("pmr, prio, signalled", [
    (0xFF, 0xF0, True), (0xF0, 0xF0, False), (0x80, 0x78, True), (0x80, 0x80, False),
    (0x00, 0x00, False), (0x08, 0x00, True),
])
def test_pmr_masks_priorities_equal_or_lower(pmr, prio, signalled):
    g = make()
    g.icc_write(1, "ICC_PMR_EL1", pmr)
    enable_spi(g, 60, cpu=1, prio=prio)
    g.set_spi(60, True)
    assert g.lines(1) == (IRQ if signalled else NONE)
    assert g.icc_read(1, "ICC_IAR1_EL1") == (60 if signalled else SPURIOUS)
    # HPPIR ignores the mask
    if not signalled:
        assert g.icc_read(1, "ICC_HPPIR1_EL1") == 60


def test_pmr_keeps_only_the_implemented_priority_bits():
    g = make()
    g.icc_write(0, "ICC_PMR_EL1", 0xFF)
    assert g.icc_read(0, "ICC_PMR_EL1") == 0xF8
    g.icc_write(0, "ICC_PMR_EL1", 0x08)  # Linux's gic_has_group0() probe
    assert g.icc_read(0, "ICC_PMR_EL1") == 0x08


def test_raising_pmr_releases_a_masked_interrupt():
    g = make()
    g.icc_write(0, "ICC_PMR_EL1", 0x80)
    enable_spi(g, 60, prio=0xA0)
    g.set_spi(60, True)
    assert g.take_changes() == {}
    g.icc_write(0, "ICC_PMR_EL1", 0xF0)
    assert g.take_changes() == {0: IRQ}


def test_higher_group_priority_preempts_an_active_interrupt_nested_eoi_order():
    g = make()
    enable_spi(g, 40, prio=0xA0)
    enable_spi(g, 41, prio=0x60)
    g.set_spi(40, True)
    assert g.icc_read(0, "ICC_IAR1_EL1") == 40
    g.set_spi(41, True)
    assert g.lines(0) == IRQ  # 0x60 preempts 0xA0
    assert g.icc_read(0, "ICC_IAR1_EL1") == 41
    assert g.icc_read(0, "ICC_RPR_EL1") == 0x60
    assert g.icc_read(0, "ICC_AP1R0_EL1") == (1 << (0xA0 >> 3)) | (1 << (0x60 >> 3))
    g.set_spi(41, False)
    g.icc_write(0, "ICC_EOIR1_EL1", 41)
    assert g.icc_read(0, "ICC_RPR_EL1") == 0xA0
    g.set_spi(40, False)
    g.icc_write(0, "ICC_EOIR1_EL1", 40)
    assert g.icc_read(0, "ICC_RPR_EL1") == 0xFF


@pytest.mark.parametrize("running, pending, preempts", [
    (0xA0, 0xA0, False),  # equal priority never preempts
    (0xA0, 0xC0, False),  # lower priority
    (0xA0, 0x98, True),   # different group priority with the minimum BPR
])
def test_preemption_needs_strictly_higher_group_priority(running, pending, preempts):
    g = make()
    enable_spi(g, 40, prio=running)
    enable_spi(g, 41, prio=pending)
    g.set_spi(40, True)
    assert g.icc_read(0, "ICC_IAR1_EL1") == 40
    g.set_spi(41, True)
    assert (g.lines(0) == IRQ) is preempts
    assert g.icc_read(0, "ICC_HPPIR1_EL1") == 41


def test_bpr1_coarsens_group_priority_so_subpriority_does_not_preempt():
    g = make()
    enable_spi(g, 40, prio=0xA0)
    enable_spi(g, 41, prio=0x90)
    g.set_spi(40, True)
    assert g.icc_read(0, "ICC_IAR1_EL1") == 40
    g.set_spi(41, True)
    assert g.lines(0) == IRQ  # BPR1 = 3: group priority bits [7:3]
    g.icc_write(0, "ICC_BPR1_EL1", 6)  # group priority bits [7:6]: 0x80 for both
    assert g.lines(0) == NONE


def test_bpr0_controls_group0_preemption():
    g = make()
    enable_spi(g, 40, prio=0xA0, group=0)
    enable_spi(g, 41, prio=0x90, group=0)
    g.set_spi(40, True)
    assert g.icc_read(0, "ICC_IAR0_EL1") == 40
    g.set_spi(41, True)
    assert g.lines(0) == FIQ
    g.icc_write(0, "ICC_BPR0_EL1", 5)  # group priority bits [7:6]
    assert g.lines(0) == NONE


def test_bpr_reset_minimum_clamp_and_cbpr():
    g = make()
    assert g.icc_read(0, "ICC_BPR0_EL1") == 2 and g.icc_read(0, "ICC_BPR1_EL1") == 3
    g.icc_write(0, "ICC_BPR0_EL1", 0)
    g.icc_write(0, "ICC_BPR1_EL1", 0)
    assert g.icc_read(0, "ICC_BPR0_EL1") == 2 and g.icc_read(0, "ICC_BPR1_EL1") == 3
    g.icc_write(0, "ICC_BPR0_EL1", 4)
    g.icc_write(0, "ICC_CTLR_EL1", 1)  # CBPR
    assert g.icc_read(0, "ICC_BPR1_EL1") == 5
    g.icc_write(0, "ICC_BPR1_EL1", 7)  # ignored with CBPR
    g.icc_write(0, "ICC_CTLR_EL1", 0)
    assert g.icc_read(0, "ICC_BPR1_EL1") == 3


def test_active_priority_registers_are_writable_and_drive_running_priority():
    g = make()
    g.icc_write(0, "ICC_AP1R0_EL1", 1 << 4)
    assert g.icc_read(0, "ICC_RPR_EL1") == 0x20
    enable_spi(g, 40, prio=0x40)
    g.set_spi(40, True)
    assert g.lines(0) == NONE
    g.icc_write(0, "ICC_AP1R0_EL1", 0)
    assert g.lines(0) == IRQ
    for n in (1, 2, 3):  # 5 preemption bits: only AP<n>R0 exist
        g.icc_write(0, f"ICC_AP1R{n}_EL1", 0xFFFF_FFFF)
        assert g.icc_read(0, f"ICC_AP1R{n}_EL1") == 0


# ------------------------------------------------------------- EOImode, DIR, CTLR

def test_split_eoi_priority_drop_then_dir_deactivates():
    g = make()
    g.icc_write(0, "ICC_CTLR_EL1", 2)  # EOImode
    enable_spi(g, 40, prio=0xA0, edge=True)
    g.set_spi(40, True)
    assert g.icc_read(0, "ICC_IAR1_EL1") == 40
    g.icc_write(0, "ICC_EOIR1_EL1", 40)
    assert g.icc_read(0, "ICC_RPR_EL1") == 0xFF  # priority dropped ...
    assert g.dist_read(GICD_ISACTIVER + 4, 4) >> 8 & 1  # ... still active
    g.set_spi(40, False)
    g.set_spi(40, True)
    assert g.lines(0) == NONE  # active and pending: not signalled
    g.icc_write(0, "ICC_DIR_EL1", 40)
    assert not g.dist_read(GICD_ISACTIVER + 4, 4) >> 8 & 1
    assert g.lines(0) == IRQ


def test_dir_is_ignored_when_eoimode_is_0():
    g = make()
    enable_spi(g, 40)
    g.set_spi(40, True)
    assert g.icc_read(0, "ICC_IAR1_EL1") == 40
    g.icc_write(0, "ICC_DIR_EL1", 40)
    assert g.dist_read(GICD_ISACTIVER + 4, 4) >> 8 & 1


def test_eoi_of_the_wrong_group_is_ignored():
    g = make()
    enable_spi(g, 40)
    g.set_spi(40, True)
    assert g.icc_read(0, "ICC_IAR1_EL1") == 40
    g.icc_write(0, "ICC_EOIR0_EL1", 40)
    assert g.icc_read(0, "ICC_RPR_EL1") == 0xA0
    assert g.dist_read(GICD_ISACTIVER + 4, 4) >> 8 & 1


def test_icc_ctlr_fields_and_read_only_bits():
    g = make()
    v = g.icc_read(0, "ICC_CTLR_EL1")
    assert v >> 8 & 7 == 4  # PRIbits: 5 bits
    assert v >> 11 & 7 == 1  # IDbits: 24 (QEMU's value)
    assert v >> 15 & 1 == 1  # A3V
    assert v >> 18 & 1 == 1  # RSS
    assert v & 3 == 0
    g.icc_write(0, "ICC_CTLR_EL1", 0xFFFF_FFFF)
    assert g.icc_read(0, "ICC_CTLR_EL1") == v | 3  # only CBPR and EOImode change


def test_icc_sre_is_fixed_and_igrpen_read_back():
    g = GicV3(AFF4)
    assert g.icc_read(0, "ICC_SRE_EL1") == 0x7
    g.icc_write(0, "ICC_SRE_EL1", 0)
    assert g.icc_read(0, "ICC_SRE_EL1") == 0x7
    assert g.icc_read(0, "ICC_SRE_EL2", el=2) == 0xF
    assert g.icc_read(0, "ICC_IGRPEN1_EL1") == 0
    g.icc_write(0, "ICC_IGRPEN1_EL1", 0xFF)
    assert g.icc_read(0, "ICC_IGRPEN1_EL1") == 1
    assert g.icc_read(0, "ICC_PMR_EL1") == 0
    assert g.icc_read(0, "ICH_VTR_EL2", el=2) == 0  # not modelled: RAZ


# ----------------------------------------------------------------------------- SGIs

def test_sgi_to_a_target_list_in_one_cluster():
    g = make(affs=AFF2X2)
    for c in range(4):
        enable_private(g, c, 1)
    g.icc_write(0, "ICC_SGI1R_EL1", sgi1r(1, targets=0b10, aff1=1))  # CPU 1.1 = index 3
    assert g.take_changes() == {3: IRQ}
    g.icc_write(0, "ICC_SGI1R_EL1", sgi1r(1, targets=0b11, aff1=0))  # 0.0 and 0.1, self too
    assert g.take_changes() == {0: IRQ, 1: IRQ}
    assert g.icc_read(3, "ICC_IAR1_EL1") == 1
    assert g.redist_read(3, GICR_ISACTIVER0, 4) == 1 << 1


def test_sgi_irm_broadcasts_to_all_but_self():
    g = make()
    for c in range(4):
        enable_private(g, c, 7)
    g.icc_write(2, "ICC_SGI1R_EL1", sgi1r(7, irm=True, targets=0xFFFF))
    assert g.take_changes() == {0: IRQ, 1: IRQ, 3: IRQ}
    assert all(g.icc_read(c, "ICC_IAR1_EL1") == 7 for c in (0, 1, 3))
    assert g.icc_read(2, "ICC_IAR1_EL1") == SPURIOUS


def test_sgi_range_selector_and_aff3_aff2():
    affs = [0x00_0000_0000, 0x01_0002_0013]  # second CPU: Aff3 1, Aff2 2, Aff1 0, Aff0 0x13
    g = make(affs=affs)
    enable_private(g, 1, 3)
    g.icc_write(0, "ICC_SGI1R_EL1", sgi1r(3, targets=1 << 3, aff3=1, aff2=2, rs=0))
    assert g.lines(1) == NONE  # RS 0 covers Aff0 0..15
    g.icc_write(0, "ICC_SGI1R_EL1", sgi1r(3, targets=1 << 3, aff3=0, aff2=2, rs=1))
    assert g.lines(1) == NONE  # wrong Aff3
    g.icc_write(0, "ICC_SGI1R_EL1", sgi1r(3, targets=1 << 3, aff3=1, aff2=2, rs=1))
    assert g.lines(1) == IRQ


@pytest.mark.parametrize("reg, sgi_group, delivered", [
    ("ICC_SGI1R_EL1", 1, True), ("ICC_SGI1R_EL1", 0, False),
    ("ICC_SGI0R_EL1", 0, True), ("ICC_SGI0R_EL1", 1, False),
    # with DS == 1, QEMU's reading: ASGI1R raises a Group 0 SGI only
    ("ICC_ASGI1R_EL1", 0, True), ("ICC_ASGI1R_EL1", 1, False),
])
def test_sgi_register_must_match_the_targets_sgi_group(reg, sgi_group, delivered):
    g = make()
    enable_private(g, 1, 5, group=sgi_group)
    g.icc_write(0, reg, sgi1r(5, targets=0b10))
    assert bool(g.redist_read(1, GICR_ISPENDR0, 4) >> 5 & 1) is delivered


def test_sgi_pending_is_latched_once_and_taken_once():
    g = make()
    enable_private(g, 1, 2)
    for _ in range(3):
        g.icc_write(0, "ICC_SGI1R_EL1", sgi1r(2, targets=0b10))
    assert g.icc_read(1, "ICC_IAR1_EL1") == 2
    g.icc_write(1, "ICC_EOIR1_EL1", 2)
    assert g.icc_read(1, "ICC_IAR1_EL1") == SPURIOUS


# ------------------------------------------------------------------------- routing

def test_irouter_affinity_routing_picks_the_cpu_by_aff1_aff0():
    g = make(affs=AFF2X2)
    enable_spi(g, 70, cpu=2)  # 1.0
    g.set_spi(70, True)
    assert g.take_changes() == {2: IRQ}
    g.dist_write(GICD_IROUTER + 8 * 70, 8, 0x101)  # re-route to 1.1 while pending
    assert g.take_changes() == {2: NONE, 3: IRQ}
    assert g.icc_read(3, "ICC_IAR1_EL1") == 70


def test_irm_1_spi_is_taken_by_exactly_one_cpu():
    g = make()
    enable_spi(g, 80, irm=True, edge=True)
    g.set_spi(80, True)
    changes = g.take_changes()
    assert list(changes.values()) == [IRQ]  # signalled to one CPU only
    (winner,) = changes
    acks = [g.icc_read(c, "ICC_IAR1_EL1") for c in range(4)]
    assert acks.count(80) == 1 and acks[winner] == 80
    assert acks.count(SPURIOUS) == 3


def test_irm_1_spi_skips_cpus_that_cannot_take_it():
    g = make()
    g.icc_write(0, "ICC_PMR_EL1", 0x00)  # CPU 0 masks everything
    g.redist_write(1, GICR_WAKER, 4, 0x2)  # CPU 1 asleep
    g.icc_write(2, "ICC_IGRPEN1_EL1", 0)  # CPU 2 has Group 1 off
    enable_spi(g, 80, irm=True)
    g.set_spi(80, True)
    assert g.take_changes() == {3: IRQ}
    assert g.icc_read(3, "ICC_IAR1_EL1") == 80


def test_irm_1_spi_moves_when_its_cpu_gets_busier():
    g = make()
    enable_spi(g, 80, irm=True, prio=0xA0)
    enable_private(g, 0, 27, prio=0x20)
    g.set_ppi(0, 27, True)
    assert g.icc_read(0, "ICC_IAR1_EL1") == 27  # CPU 0 runs at 0x20
    g.take_changes()
    g.set_spi(80, True)
    assert g.take_changes() == {1: IRQ}
    assert g.icc_read(1, "ICC_IAR1_EL1") == 80
    assert g.icc_read(0, "ICC_IAR1_EL1") == SPURIOUS


def test_irm_1_spi_waits_when_no_cpu_can_take_it_then_goes_to_the_first_that_can():
    g = make()
    for c in range(4):
        g.icc_write(c, "ICC_PMR_EL1", 0)
    enable_spi(g, 80, irm=True)
    g.set_spi(80, True)
    assert g.take_changes() == {}
    g.icc_write(2, "ICC_PMR_EL1", 0xF0)
    assert g.take_changes() == {2: IRQ}


# --------------------------------------------------------------------- take_changes

def test_take_changes_reports_only_differences_since_last_call():
    g = make()
    enable_spi(g, 40, cpu=1)
    assert g.take_changes() == {}
    g.set_spi(40, True)
    g.set_spi(40, False)  # up and down again before anyone looked
    assert g.take_changes() == {}
    g.set_spi(40, True)
    assert g.take_changes() == {1: IRQ}
    assert g.take_changes() == {}


def test_same_operations_give_the_same_results_deterministic():
    def run():
        g = make()
        enable_spi(g, 80, irm=True, edge=True)
        enable_spi(g, 81, irm=True, edge=True)
        out = []
        for k in range(6):
            g.set_spi(80 + k % 2, True)
            g.set_spi(80 + k % 2, False)
            out.append(g.take_changes())
            out.append([g.icc_read(c, "ICC_IAR1_EL1") for c in range(4)])
        return out
    assert run() == run()


# ---------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("call", [
    lambda g: g.set_spi(31, True),
    lambda g: g.set_spi(256, True),
    lambda g: g.set_ppi(0, 15, True),
    lambda g: g.set_ppi(4, 27, True),
    lambda g: g.redist_read(4, 0, 4),
    lambda g: g.icc_read(-1, "ICC_PMR_EL1"),
])
def test_bad_inputs_from_the_service_raise_valueerror(call):
    with pytest.raises(ValueError):
        call(GicV3(AFF4))


def test_constructor_rejects_duplicate_affinities_and_bad_spi_counts():
    with pytest.raises(ValueError):
        GicV3([0, 0])
    with pytest.raises(ValueError):
        GicV3(AFF4, num_spis=33)
    with pytest.raises(ValueError):
        GicV3([])
