"""A CPU process's GIC side (cpu_worker/process.py's ZmqPorts with its CPU interface):
an SGI rings its target's doorbell and sends no message; the CPU's own SGIs, PPIs and
their acknowledge and end stay in the process; an SPI's acknowledge asks the GIC."""

from smpsim.cpu_worker.process import DistributorLink, ZmqPorts
from smpsim.gic_dist import shared_state
from smpsim.gic_dist.cpu_interface import SPURIOUS, CpuInterface
from smpsim.gic_dist.shared_state import GicState
from smpsim.gic_dist.virtual_interface import VirtualInterface, make_lr, routed_name
from smpsim.interconnect import bus, doorbell
from smpsim.interconnect import protocol as p


class Link:
    """A ServiceLink that records what it carries; SPI_ACK is answered with `prio`."""

    def __init__(self, prio=0x80):
        self.posted, self.asked, self.prio = [], [], prio

    def post(self, data):
        self.posted.append(p.decode(data))

    def ask(self, data):
        self.asked.append(p.decode(data))
        return {"t": "SPI_TAKEN", "prio": self.prio}


def two_cpus(bells, state):
    """CPU 0's and CPU 1's ports, each with its interface, PMR open, Group 1 on, and
    SGIs 1-2 and PPI 27 enabled in Group 1 on both (as the GIC service's MMIO would)."""
    state.glob[shared_state.G_DIST_CTLR] = 0x2
    for c in (0, 1):
        state.words[c, shared_state.W_SLEEP] = 0
        state.priv[c, shared_state.EDGE, :16] = 1
        for i in (1, 2, 27):
            state.priv[c, shared_state.GROUP, i] = 1
            state.priv[c, shared_state.ENABLED, i] = 1
            state.priv[c, shared_state.PRIO, i] = 0xA0
    out = []
    for c in (0, 1):
        gic = Link()
        ports = ZmqPorts(None, c, None, gic, Link(), bells, bus.Bus.virt(2, 0x4000_0000, 1 << 20))
        ports.cpuif = CpuInterface(c, state, [0, 1], DistributorLink(gic))
        ports.vgic = VirtualInterface(ports.cpuif.deactivate)
        ports.icc_write("ICC_PMR_EL1", 2, 0xF0)
        ports.icc_write("ICC_IGRPEN1_EL1", 2, 1)
        out.append(ports)
    return out


def test_an_sgi_rings_its_target_and_is_taken_and_ended_without_a_message():
    with doorbell.Doorbells.create(2) as bells:
        state = GicState.local(2)
        a, b = two_cpus(bells, state)
        bells.take_ring(1)
        a.gic.posted.clear()  # (IGRPEN1 is reported to the distributor)
        a.icc_write("ICC_SGI1R_EL1", 2, (1 << 24) | 0b10)  # SGI 1 to CPU 1
        assert b.changed() and not a.changed()
        assert b.lines() == (True, False)
        assert bells.get(1, doorbell.IRQ) == 1  # (for reports)
        assert b.icc_read("ICC_IAR1_EL1", 2) == 1
        assert b.lines() == (False, False)
        b.icc_write("ICC_EOIR1_EL1", 2, 1)
        assert state.priv[1, shared_state.ACTIVE, 1] == 0
        b.gic.posted.clear()
        assert a.gic.posted == b.gic.posted == [] and a.gic.asked == b.gic.asked == []


def test_a_timer_ppi_is_raised_in_the_cpus_own_interface():
    with doorbell.Doorbells.create(2) as bells:
        a, _ = two_cpus(bells, GicState.local(2))
        a.gic.posted.clear()
        a.ppi(27, True)
        assert a.lines() == (True, False) and a.gic.posted == []
        assert a.icc_read("ICC_IAR1_EL1", 2) == 27
        a.icc_write("ICC_EOIR1_EL1", 2, 27)
        assert a.lines() == (True, False)  # a level input that stays high: pending again
        a.ppi(27, False)
        assert a.lines() == (False, False)


def test_an_spi_offered_by_the_distributor_is_acknowledged_by_asking_the_gic():
    with doorbell.Doorbells.create(2) as bells:
        state = GicState.local(2)
        a, _ = two_cpus(bells, state)
        state.words[0, shared_state.W_SPI1] = shared_state.spi_word(0x80, 33)
        bells.ring(0)  # (as the distributor does after publishing)
        assert a.changed()
        assert a.lines() == (True, False)
        assert a.icc_read("ICC_IAR1_EL1", 2) == 33
        assert a.gic.asked == [{"t": "SPI_ACK", "cpu": 0, "intid": 33, "group": 1}]
        assert a.icc_read("ICC_RPR_EL1", 2) == 0x80  # the priority the GIC said
        a.icc_write("ICC_EOIR1_EL1", 2, 33)
        assert a.gic.posted[-1] == {"t": "SPI_DEACTIVATE", "cpu": 0, "intid": 33}
        a.gic.prio = -1  # taken elsewhere meanwhile: spurious, nothing activated
        assert a.icc_read("ICC_IAR1_EL1", 2) == SPURIOUS
        assert a.icc_read("ICC_RPR_EL1", 2) == 0xFF


HCR_IMO, HCR_FMO, HCR_TGE = 1 << 4, 1 << 3, 1 << 27


def test_el1_accesses_reach_the_virtual_interface_as_hcr_el2_routes_them():
    assert routed_name("ICC_IAR1_EL1", 1, HCR_IMO) == "ICV_IAR1_EL1"
    assert routed_name("ICC_IAR0_EL1", 1, HCR_IMO) == "ICC_IAR0_EL1"  # Group 0: FMO
    assert routed_name("ICC_IAR0_EL1", 1, HCR_FMO) == "ICV_IAR0_EL1"
    assert routed_name("ICC_PMR_EL1", 1, HCR_FMO) == "ICV_PMR_EL1"  # common: either
    assert routed_name("ICC_SGI1R_EL1", 1, HCR_IMO) == "ICC_SGI1R_EL1"  # never virtual
    assert routed_name("ICC_IAR1_EL1", 2, HCR_IMO) == "ICC_IAR1_EL1"  # EL2: physical
    assert routed_name("ICC_IAR1_EL1", 1, HCR_IMO | HCR_TGE) == "ICC_IAR1_EL1"


def test_a_list_register_with_hw_set_ends_its_physical_interrupt_when_the_guest_ends_it():
    with doorbell.Doorbells.create(2) as bells:
        state = GicState.local(2)
        a, _ = two_cpus(bells, state)
        a.ppi(27, True)  # the physical PPI 27, taken by the hypervisor at EL2
        assert a.icc_read("ICC_IAR1_EL1", 2) == 27
        a.icc_write("ICC_CTLR_EL1", 2, 0b10)  # EOImode: the hypervisor drops priority only
        a.icc_write("ICC_EOIR1_EL1", 2, 27)
        assert state.priv[0, shared_state.ACTIVE, 27] == 1  # still active
        # injected as virtual 27 with HW = 1 (pINTID 27)
        a.icc_write("ICH_VMCR_EL2", 2, 0xF8 << 24 | 1 << 1)  # VPMR open, VENG1
        a.icc_write("ICH_HCR_EL2", 2, 1)  # En
        a.icc_write("ICH_LR0_EL2", 2, make_lr(27, 0xA0, hw=True, pintid=27))
        assert a.virtual_lines() == (True, False)
        assert a.icc_read("ICV_IAR1_EL1", 1) == 27
        assert a.virtual_lines() == (False, False)
        a.icc_write("ICV_EOIR1_EL1", 1, 27)
        assert state.priv[0, shared_state.ACTIVE, 27] == 0  # the physical one ended too
