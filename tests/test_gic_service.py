"""The GIC service and the CPU interfaces over their shared state: the service serves
the distributor and the redistributor frames and rings the CPUs whose state it changed;
SGIs and private interrupts go from CPU interface to CPU interface without it; SPIs
are acknowledged through it so that exactly one CPU takes each. As a process,
malformed messages are refused and it keeps serving."""

import pathlib

import msgpack
import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smpsim.bootctl.supervisor import Supervisor
from smpsim.gic_dist import shared_state
from smpsim.gic_dist.cpu_interface import SPURIOUS, CpuInterface
from smpsim.gic_dist.service import GicService
from smpsim.gic_dist.shared_state import GicState
from smpsim.interconnect import bus, doorbell
from smpsim.interconnect import protocol as p
from smpsim.interconnect.sockets import Endpoints, request

GICD, GICR = bus.GIC_DIST_BASE, bus.GIC_REDIST_BASE
STRIDE = bus.GIC_REDIST_STRIDE
AFF2 = [0x0, 0x1]


class ServicePort:
    """A CPU interface's SpiPort as the CPU process has it: messages to the service."""

    def __init__(self, svc):
        self.svc, self.sent = svc, []

    def _send(self, kind, **fields):
        self.sent.append(kind)
        reply = self.svc.handle(p.decode(p.encode(kind, **fields)))
        return p.decode(reply) if reply else None

    def acknowledge(self, cpu, intid, group):
        prio = self._send("SPI_ACK", cpu=cpu, intid=intid, group=group)["prio"]
        return None if prio < 0 else prio

    def deactivate(self, cpu, intid):
        self._send("SPI_DEACTIVATE", cpu=cpu, intid=intid)

    def cpu_changed(self, cpu):
        self._send("CPUIF_CHANGED", cpu=cpu)


def machine(n=2, bells=None):
    """A service and one CPU interface per CPU over one shared state."""
    state = GicState.local(n)
    svc = GicService(list(range(n)), state, bells)
    port = ServicePort(svc)
    cpus = [CpuInterface(c, state, list(range(n)), port) for c in range(n)]
    return svc, cpus, port


def mmio_write(svc, cpu, addr, value, size=4):
    return svc.handle({"t": "MMIO_WRITE", "cpu": cpu, "addr": addr, "size": size,
                       "value": value, "posted": False})


def mmio_read(svc, cpu, addr, size=4):
    return p.decode(svc.handle({"t": "MMIO_READ", "cpu": cpu, "addr": addr,
                                "size": size}))["value"]


def setup_spi33_to_cpu1(svc, cpus):
    mmio_write(svc, 0, GICD + 0x0, 0x2)  # GICD_CTLR.EnableGrp1
    for cpu in range(2):  # each CPU wakes its redistributor (GICR_WAKER.ProcessorSleep = 0)
        mmio_write(svc, cpu, GICR + cpu * STRIDE + 0x14, 0)
    mmio_write(svc, 0, GICD + 0x6000 + 8 * 33, 0x1, size=8)  # IROUTER33 -> Aff0 = 1
    mmio_write(svc, 0, GICD + 0x400 + 32, 0x80 << 8, size=4)  # IPRIORITYR33 = 0x80
    mmio_write(svc, 0, GICD + 0x080 + 4, 1 << 1)  # IGROUPR1: SPI 33 in Group 1 (an IRQ)
    mmio_write(svc, 0, GICD + 0x100 + 4, 1 << 1)  # ISENABLER1: SPI 33
    cpus[1].write("ICC_PMR_EL1", 0xF0)
    cpus[1].write("ICC_IGRPEN1_EL1", 1)


def test_an_spi_is_offered_to_its_cpu_acknowledged_through_the_service_and_ended():
    with doorbell.Doorbells.create(2) as bells:
        svc, cpus, port = machine(bells=bells)
        setup_spi33_to_cpu1(svc, cpus)
        bells.take_ring(0), bells.take_ring(1)
        assert cpus[1].evaluate() == (False, False)
        assert svc.handle({"t": "SPI_LEVEL", "intid": 33, "level": True}) is None  # posted
        assert bells.take_ring(1) and not bells.take_ring(0)  # only its CPU is rung
        assert cpus[1].evaluate() == (True, False) and cpus[0].evaluate() == (False, False)
        assert cpus[1].read("ICC_IAR1_EL1") == 33
        assert port.sent[-1] == "SPI_ACK" and svc.gic.spi.active[33]
        assert cpus[1].read("ICC_RPR_EL1") == 0x80
        svc.handle({"t": "SPI_LEVEL", "intid": 33, "level": False})
        cpus[1].write("ICC_EOIR1_EL1", 33)
        assert port.sent[-1] == "SPI_DEACTIVATE" and not svc.gic.spi.active[33]
        assert cpus[1].evaluate() == (False, False) and cpus[1].read("ICC_RPR_EL1") == 0xFF


def test_an_spi_withdrawn_before_its_acknowledge_reads_as_spurious():
    svc, cpus, _ = machine()
    setup_spi33_to_cpu1(svc, cpus)
    svc.handle({"t": "SPI_LEVEL", "intid": 33, "level": True})
    assert cpus[1].evaluate() == (True, False)
    # re-routed to CPU 0 behind CPU 1's back (its view is the old one until a ring)
    hppi = cpus[1].hppi
    svc.handle({"t": "MMIO_WRITE", "cpu": 0, "addr": GICD + 0x6000 + 8 * 33, "size": 8,
                "value": 0x0, "posted": False})
    cpus[1].hppi = hppi
    assert svc.gic.acknowledge(1, 33, 1) is None  # the distributor refuses
    assert cpus[1].read("ICC_IAR1_EL1") == SPURIOUS
    assert cpus[1].read("ICC_RPR_EL1") == 0xFF and not svc.gic.spi.active[33]


def test_an_sgi_goes_from_cpu_interface_to_cpu_interface_without_the_service():
    svc, cpus, port = machine()
    _sgi_setup(svc, cpus)
    port.sent.clear()
    assert cpus[0].write("ICC_SGI1R_EL1", (1 << 24) | 0b10) == [1]  # SGI 1 to CPU 1: ring it
    assert cpus[1].evaluate() == (True, False)
    assert cpus[1].read("ICC_IAR1_EL1") == 1
    assert cpus[1].evaluate() == (False, False)
    assert svc.gic.redist_read(1, 0x1_0000 + 0x300, 4) == 0b10  # GICR_ISACTIVER0: active
    cpus[1].write("ICC_EOIR1_EL1", 1)
    assert svc.gic.redist_read(1, 0x1_0000 + 0x300, 4) == 0
    assert port.sent == []  # nothing went to the service


def test_an_sgi_to_itself_needs_no_ring_and_a_group_mismatch_is_not_sent():
    svc, cpus, _ = machine()
    _sgi_setup(svc, cpus)
    assert cpus[0].write("ICC_SGI1R_EL1", (2 << 24) | 0b11) == [1]  # CPUs 0 and 1
    assert cpus[0].lines == (True, False)
    assert cpus[0].write("ICC_SGI0R_EL1", (1 << 24) | 0b10) == []  # SGI 1 is Group 1 there
    assert not svc.gic.priv[1].latch[1]


def test_redistributor_writes_and_gicd_ctlr_ring_the_cpus_that_read_them():
    with doorbell.Doorbells.create(2) as bells:
        svc, cpus, _ = machine(bells=bells)
        _sgi_setup(svc, cpus)
        for c in (0, 1):
            bells.take_ring(c)
        mmio_write(svc, 0, GICR + STRIDE + 0x1_0000 + 0x200, 0b100)  # GICR_ISPENDR0 of CPU 1
        assert bells.take_ring(1) and not bells.take_ring(0)
        assert cpus[1].evaluate() == (True, False)
        mmio_write(svc, 0, GICD, 0x0)  # GICD_CTLR: both groups off
        assert bells.take_ring(0) and bells.take_ring(1)
        assert cpus[1].evaluate() == (False, False)


def test_a_1_of_n_spi_is_taken_by_exactly_one_cpu_and_waits_for_one_that_can():
    svc, cpus, port = machine(n=3)
    mmio_write(svc, 0, GICD, 0x2)
    for c in range(3):
        mmio_write(svc, 0, GICR + c * STRIDE + 0x14, 0)
        cpus[c].write("ICC_IGRPEN1_EL1", 1)  # PMR stays 0: everything masked
    mmio_write(svc, 0, GICD + 0x080 + 4, 1 << 8)  # IGROUPR1: SPI 40 in Group 1
    mmio_write(svc, 0, GICD + 0x6000 + 8 * 40, 1 << 31, size=8)  # IRM: 1 of N
    mmio_write(svc, 0, GICD + 0x100 + 4, 1 << 8)
    svc.handle({"t": "SPI_LEVEL", "intid": 40, "level": True})
    assert svc.state.glob[shared_state.G_ONE_OF_N] == 1  # the CPUs report their changes
    assert [c.evaluate() for c in cpus] == [(False, False)] * 3
    cpus[2].write("ICC_PMR_EL1", 0xF0)  # CPU 2 opens its mask: it tells the service
    assert port.sent[-1] == "CPUIF_CHANGED"
    assert [c.evaluate()[0] for c in cpus] == [False, False, True]
    cpus[1].write("ICC_PMR_EL1", 0xF0)  # now the lowest-numbered CPU that can take it
    assert [c.evaluate()[0] for c in cpus] == [False, True, False]
    acks = [c.read("ICC_IAR1_EL1") for c in (cpus[2], cpus[0], cpus[1])]
    assert acks == [SPURIOUS, SPURIOUS, 40] and svc.gic.spi.active[40]


def test_a_1_of_n_spi_is_routed_again_while_idle_if_a_change_crossed_the_routing():
    svc, cpus, port = machine()
    mmio_write(svc, 0, GICD, 0x2)
    for c in range(2):
        mmio_write(svc, 0, GICR + c * STRIDE + 0x14, 0)
        cpus[c].write("ICC_IGRPEN1_EL1", 1)
    mmio_write(svc, 0, GICD + 0x080 + 4, 1 << 8)
    mmio_write(svc, 0, GICD + 0x6000 + 8 * 40, 1 << 31, size=8)
    mmio_write(svc, 0, GICD + 0x100 + 4, 1 << 8)
    svc.handle({"t": "SPI_LEVEL", "intid": 40, "level": True})
    assert svc.poll_interval_ms(50) < 50  # the service looks again soon
    port.cpu_changed = lambda cpu: None  # a change whose report is not there yet
    cpus[1].write("ICC_PMR_EL1", 0xF0)
    assert cpus[1].evaluate() == (False, False)
    svc.idle()
    assert cpus[1].evaluate() == (True, False)


def test_interrupts_reset_to_group0_as_for_a_bare_metal_image_on_qemu():
    svc = GicService([0x0], GicState.local(1), None)
    assert mmio_read(svc, 0, GICD + 0x080 + 4) == 0
    assert mmio_read(svc, 0, GICR + 0x1_0000 + 0x080) == 0


def test_redistributor_frames_are_per_cpu_and_unknown_addresses_fault():
    svc = GicService([0x0, 0x100], GicState.local(2), None)
    typer0 = mmio_read(svc, 0, GICR + 0x8, size=8)
    typer1 = mmio_read(svc, 0, GICR + STRIDE + 0x8, size=8)
    assert typer0 >> 32 == 0x0 and typer1 >> 32 == 0x100  # affinity
    assert not typer0 & (1 << 4) and typer1 & (1 << 4)  # Last on the last one
    got = p.decode(svc.handle({"t": "MMIO_READ", "cpu": 0, "addr": GICR + 2 * STRIDE,
                               "size": 4}))
    assert got["t"] == "MMIO_FAULT"


@pytest.mark.parametrize("message, reason", [
    ({"t": "SPI_ACK", "cpu": 5, "intid": 33, "group": 1}, "no CPU 5"),
    ({"t": "MMIO_READ", "cpu": 0, "addr": GICD, "size": 3}, "size 3"),
    ({"t": "CONSOLE", "cpu": 0, "data": b""}, "does not serve CONSOLE"),
])
def test_requests_it_cannot_serve_are_protocol_errors(message, reason):
    svc = GicService(AFF2, GicState.local(2), None)
    with pytest.raises(p.ProtocolError, match=reason):
        svc.handle(message)


@pytest.mark.parametrize("message, reason", [
    ({"t": "SPI_LEVEL", "intid": 5000, "level": True}, "SPI_LEVEL"),
    ({"t": "SPI_DEACTIVATE", "cpu": 7, "intid": 33}, "no CPU 7"),
    ({"t": "CPUIF_CHANGED", "cpu": 2}, "no CPU 2"),
    ({"t": "MMIO_WRITE", "cpu": 0, "addr": 0x0900_0000, "size": 4, "value": 0, "posted": True},
     "where the GIC has nothing"),
])
def test_posted_requests_it_cannot_serve_are_reported_not_answered(message, reason):
    # an ERROR to a sender that waits for nothing would pass for the reply to its next request
    refused = []
    svc = GicService(AFF2, GicState.local(2), None, on_refused=refused.append)
    assert svc.handle(message) is None
    assert len(refused) == 1 and reason in refused[0]


# --- as a process ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def gic_process(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    ctx = zmq.Context()
    ends = Endpoints(run)
    bells = doorbell.Doorbells.create(2)
    state = GicState.create(2)
    sup = Supervisor(run, ends, ctx)
    sup.launch("gic", "smpsim.gic_dist.service",
               ["--run-dir", str(run), "--endpoint", ends.address("gic"),
                "--doorbell", bells.name, "--gic-state", state.name,
                "--affinities", "0x0,0x1"])
    sup.wait_ready(120)
    sup.broadcast(p.encode("START"))
    client = ctx.socket(zmq.DEALER)
    client.setsockopt(zmq.LINGER, 0)
    client.connect(ends.address("gic"))
    yield client, sup, bells, run
    client.close()
    sup.shutdown("test over")
    state.close()
    bells.close()
    ends.cleanup()
    ctx.term()


def test_the_service_process_serves_requests(gic_process):
    client, sup, bells, _ = gic_process
    reply = request(client, p.encode("MMIO_READ", cpu=0, addr=GICD + 0x8, size=4), 60_000)
    assert reply == {"t": "MMIO_DATA", "value": 0x43B}  # GICD_IIDR


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=80),
                 st.dictionaries(st.text(max_size=6), st.integers(0, 1 << 40) | st.text(max_size=4),
                                 max_size=4).map(lambda d: msgpack.packb({**d, "t": "SPI_ACK"}))))
def test_malformed_messages_get_error_and_the_service_goes_on(gic_process, data):
    client, sup, _, _ = gic_process
    reply = request(client, data, 60_000)
    assert reply["t"] in ("ERROR", "SPI_TAKEN")
    assert sup.dead() is None
    assert request(client, p.encode("PING"), 60_000) == {"t": "ACK"}


def test_bad_messages_are_logged(gic_process):
    client, sup, _, run = gic_process
    request(client, b"\xc1", 60_000)
    events = (pathlib.Path(run) / "events.jsonl").read_text()
    assert '"event":"bad_message"' in events and '"component":"gic"' in events


def _sgi_setup(svc, cpus):
    mmio_write(svc, 0, GICD, 0x2, size=4)  # GICD_CTLR.EnableGrp1
    for cpu in (0, 1):
        sgi_base = 0x080A0000 + cpu * 0x20000 + 0x10000
        mmio_write(svc, 0, 0x080A0000 + cpu * 0x20000 + 0x14, 0, size=4)  # GICR_WAKER awake
        mmio_write(svc, 0, sgi_base + 0x80, 0x6, size=4)  # IGROUPR0: SGIs 1, 2 in Group 1
        mmio_write(svc, 0, sgi_base + 0x100, 0x6, size=4)  # ISENABLER0
        cpus[cpu].write("ICC_PMR_EL1", 0xF0)
        cpus[cpu].write("ICC_IGRPEN1_EL1", 1)


def test_the_shared_state_is_what_the_redistributor_frames_show():
    svc, cpus, _ = machine()
    _sgi_setup(svc, cpus)
    assert np.array_equal(svc.state.priv[1, shared_state.ENABLED, :3], [0, 1, 1])
    assert svc.state.words[0, shared_state.W_SLEEP] == 0
    mmio_write(svc, 0, GICR + STRIDE + 0x14, 0x2)  # CPU 1 to sleep
    assert svc.state.words[1, shared_state.W_SLEEP] == 1
    assert mmio_read(svc, 0, GICR + STRIDE + 0x14) == 0x6
