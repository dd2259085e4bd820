"""The GIC service: requests in, doorbell words out; as a process, malformed messages
are refused and it keeps serving."""

import pathlib

import msgpack
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smpsim.bootctl.supervisor import Supervisor
from smpsim.gic_dist.service import GicService
from smpsim.interconnect import bus, doorbell
from smpsim.interconnect import protocol as p
from smpsim.interconnect.sockets import Endpoints, request

GICD, GICR = bus.GIC_DIST_BASE, bus.GIC_REDIST_BASE
STRIDE = bus.GIC_REDIST_STRIDE


def mmio_write(svc, cpu, addr, value, size=4):
    return svc.handle({"t": "MMIO_WRITE", "cpu": cpu, "addr": addr, "size": size,
                       "value": value, "posted": False})


def mmio_read(svc, cpu, addr, size=4):
    return p.decode(svc.handle({"t": "MMIO_READ", "cpu": cpu, "addr": addr,
                                "size": size}))["value"]


def setup_spi33_to_cpu1(svc):
    mmio_write(svc, 0, GICD + 0x0, 0x2)  # GICD_CTLR.EnableGrp1
    for cpu in range(2):  # each CPU wakes its redistributor (GICR_WAKER.ProcessorSleep = 0)
        mmio_write(svc, cpu, GICR + cpu * STRIDE + 0x14, 0)
    mmio_write(svc, 0, GICD + 0x6000 + 8 * 33, 0x1, size=8)  # IROUTER33 -> Aff0 = 1
    mmio_write(svc, 0, GICD + 0x400 + 32, 0x80 << 8, size=4)  # IPRIORITYR33 = 0x80
    mmio_write(svc, 0, GICD + 0x080 + 4, 1 << 1)  # IGROUPR1: SPI 33 in Group 1 (an IRQ)
    mmio_write(svc, 0, GICD + 0x100 + 4, 1 << 1)  # ISENABLER1: SPI 33
    svc.handle({"t": "ICC_WRITE", "cpu": 1, "reg": "ICC_PMR_EL1", "el": 1, "value": 0xF0,
                "posted": False})
    svc.handle({"t": "ICC_WRITE", "cpu": 1, "reg": "ICC_IGRPEN1_EL1", "el": 1, "value": 1,
                "posted": False})


def test_an_spi_reaches_its_cpu_through_the_doorbell():
    with doorbell.Doorbells.create(2) as bells:
        svc = GicService([0x0, 0x1], bells)
        setup_spi33_to_cpu1(svc)
        assert bells.get(1, doorbell.IRQ) == 0
        assert svc.handle({"t": "SPI_LEVEL", "intid": 33, "level": True}) is None  # posted
        assert bells.get(1, doorbell.IRQ) == 1 and bells.get(0, doorbell.IRQ) == 0
        iar = p.decode(svc.handle({"t": "ICC_READ", "cpu": 1, "reg": "ICC_IAR1_EL1", "el": 1}))
        assert iar["value"] == 33
        svc.handle({"t": "SPI_LEVEL", "intid": 33, "level": False})
        svc.handle({"t": "ICC_WRITE", "cpu": 1, "reg": "ICC_EOIR1_EL1", "el": 1, "value": 33,
                    "posted": True})
        assert bells.get(1, doorbell.IRQ) == 0


def test_interrupts_reset_to_group0_as_for_a_bare_metal_image_on_qemu():
    svc = GicService([0x0], None)
    assert mmio_read(svc, 0, GICD + 0x080 + 4) == 0
    assert mmio_read(svc, 0, GICR + 0x1_0000 + 0x080) == 0


def test_redistributor_frames_are_per_cpu_and_unknown_addresses_fault():
    svc = GicService([0x0, 0x100], None)
    typer0 = mmio_read(svc, 0, GICR + 0x8, size=8)
    typer1 = mmio_read(svc, 0, GICR + STRIDE + 0x8, size=8)
    assert typer0 >> 32 == 0x0 and typer1 >> 32 == 0x100  # affinity
    assert not typer0 & (1 << 4) and typer1 & (1 << 4)  # Last on the last one
    got = p.decode(svc.handle({"t": "MMIO_READ", "cpu": 0, "addr": GICR + 2 * STRIDE,
                               "size": 4}))
    assert got["t"] == "MMIO_FAULT"


@pytest.mark.parametrize("message, reason", [
    ({"t": "ICC_READ", "cpu": 5, "reg": "ICC_IAR1_EL1", "el": 1}, "no CPU 5"),
    ({"t": "MMIO_READ", "cpu": 0, "addr": GICD, "size": 3}, "size 3"),
    ({"t": "CONSOLE", "cpu": 0, "data": b""}, "does not serve CONSOLE"),
])
def test_requests_it_cannot_serve_are_protocol_errors(message, reason):
    svc = GicService([0x0, 0x1], None)
    with pytest.raises(p.ProtocolError, match=reason):
        svc.handle(message)


@pytest.mark.parametrize("message, reason", [
    ({"t": "SPI_LEVEL", "intid": 5000, "level": True}, "SPI_LEVEL"),
    ({"t": "PPI_LEVEL", "cpu": 7, "intid": 27, "level": True}, "no CPU 7"),
    ({"t": "ICC_WRITE", "cpu": 2, "reg": "ICC_SGI1R_EL1", "el": 1, "value": 0, "posted": True},
     "no CPU 2"),
    ({"t": "MMIO_WRITE", "cpu": 0, "addr": 0x0900_0000, "size": 4, "value": 0, "posted": True},
     "where the GIC has nothing"),
])
def test_posted_requests_it_cannot_serve_are_reported_not_answered(message, reason):
    # an ERROR to a sender that waits for nothing would pass for the reply to its next request
    refused = []
    svc = GicService([0x0, 0x1], None, on_refused=refused.append)
    assert svc.handle(message) is None
    assert len(refused) == 1 and reason in refused[0]


# --- as a process ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def gic_process(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    ctx = zmq.Context()
    ends = Endpoints(run)
    bells = doorbell.Doorbells.create(2)
    sup = Supervisor(run, ends, ctx)
    sup.launch("gic", "smpsim.gic_dist.service",
               ["--run-dir", str(run), "--endpoint", ends.address("gic"),
                "--doorbell", bells.name, "--affinities", "0x0,0x1"])
    sup.wait_ready(120)
    sup.broadcast(p.encode("START"))
    client = ctx.socket(zmq.DEALER)
    client.setsockopt(zmq.LINGER, 0)
    client.connect(ends.address("gic"))
    yield client, sup, bells, run
    client.close()
    sup.shutdown("test over")
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
                                 max_size=4).map(lambda d: msgpack.packb({**d, "t": "ICC_READ"}))))
def test_malformed_messages_get_error_and_the_service_goes_on(gic_process, data):
    client, sup, _, _ = gic_process
    reply = request(client, data, 60_000)
    assert reply["t"] in ("ERROR", "ICC_VALUE")
    assert sup.dead() is None
    assert request(client, p.encode("PING"), 60_000) == {"t": "ACK"}


def test_bad_messages_are_logged(gic_process):
    client, sup, _, run = gic_process
    request(client, b"\xc1", 60_000)
    events = (pathlib.Path(run) / "events.jsonl").read_text()
    assert '"event":"bad_message"' in events and '"component":"gic"' in events


def _sgi_setup(svc):
    mmio_write(svc, 0, GICD, 0x2, size=4)  # GICD_CTLR.EnableGrp1
    for cpu in (0, 1):
        sgi_base = 0x080A0000 + cpu * 0x20000 + 0x10000
        mmio_write(svc, 0, 0x080A0000 + cpu * 0x20000 + 0x14, 0, size=4)  # GICR_WAKER awake
        mmio_write(svc, 0, sgi_base + 0x80, 0x6, size=4)  # IGROUPR0: SGIs 1, 2 in Group 1
        mmio_write(svc, 0, sgi_base + 0x100, 0x6, size=4)  # ISENABLER0
        for reg, value in (("ICC_PMR_EL1", 0xF0), ("ICC_IGRPEN1_EL1", 1)):
            svc.handle({"t": "ICC_WRITE", "cpu": cpu, "reg": reg, "el": 2, "value": value,
                        "posted": False})


def test_the_gic_offers_a_cpu_its_own_sgi_and_activates_it_when_taken():
    with doorbell.Doorbells.create(2) as bells:
        refused = []
        svc = GicService([0x0, 0x1], bells, on_refused=refused.append)
        _sgi_setup(svc)
        offer = lambda: doorbell.read_offer(bells.get(1, doorbell.OFFER))  # noqa: E731
        assert offer()[0] == doorbell.SPURIOUS
        svc.handle({"t": "ICC_WRITE", "cpu": 0, "reg": "ICC_SGI1R_EL1", "el": 2,
                    "value": (1 << 24) | 0b10, "posted": True})  # SGI 1 to CPU 1
        intid, gen, served = offer()
        assert (intid, served) == (1, 0) and bells.get(1, doorbell.IRQ) == 1
        svc.handle({"t": "ICC_ACK", "cpu": 1, "intid": 1, "gen": gen})
        assert svc.gic.priv[1].active[1] and not refused
        assert bells.get(1, doorbell.IRQ) == 0  # taken: nothing else pending
        intid2, gen2, served2 = offer()
        assert (intid2, served2) == (doorbell.SPURIOUS, gen) and gen2 > gen
        # the same offer again, or one never made: refused, nothing changes
        svc.handle({"t": "ICC_ACK", "cpu": 1, "intid": 1, "gen": gen})
        svc.handle({"t": "ICC_ACK", "cpu": 1, "intid": 2, "gen": gen2})
        assert len(refused) == 2 and all("ICC_ACK" in r for r in refused)
        # the guest ends it as usual
        svc.handle({"t": "ICC_WRITE", "cpu": 1, "reg": "ICC_EOIR1_EL1", "el": 2, "value": 1,
                    "posted": True})
        assert not svc.gic.priv[1].active[1]


def test_an_spi_is_never_offered():
    with doorbell.Doorbells.create(2) as bells:
        svc = GicService([0x0, 0x1], bells)
        setup_spi33_to_cpu1(svc)
        svc.handle({"t": "SPI_LEVEL", "intid": 33, "level": True})
        assert bells.get(1, doorbell.IRQ) == 1
        assert doorbell.read_offer(bells.get(1, doorbell.OFFER))[0] == doorbell.SPURIOUS
