"""The device service: the UART at QEMU virt's address, its console and interrupt."""

import msgpack
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smpsim.bootctl.supervisor import Supervisor
from smpsim.interconnect import bus
from smpsim.interconnect import protocol as p
from smpsim.interconnect.devices import CONSOLE_FILE, DeviceService
from smpsim.interconnect.sockets import Endpoints, request

UART = bus.UART_BASE


def test_uart_output_and_interrupt_in_process():
    out, spis = [], []
    svc = DeviceService(lambda data, cpu: out.append(data),
                        lambda intid, level: spis.append((intid, level)))
    svc.handle({"t": "MMIO_WRITE", "cpu": 0, "addr": UART + 0x38, "size": 4, "value": 1 << 5,
                "posted": False})  # IMSC.TXIM
    assert svc.handle({"t": "MMIO_WRITE", "cpu": 0, "addr": UART, "size": 4, "value": 0x41,
                       "posted": True}) is None
    assert out == [b"A"] and spis == [(33, True)]
    fr = p.decode(svc.handle({"t": "MMIO_READ", "cpu": 0, "addr": UART + 0x18, "size": 4}))
    assert fr["value"] & (1 << 7)  # TXFE
    svc.handle({"t": "MMIO_WRITE", "cpu": 0, "addr": UART + 0x44, "size": 4, "value": 1 << 5,
                "posted": False})  # ICR.TXIC
    assert spis[-1] == (33, False)


def test_semihosting_output_follows_the_same_cpus_uart_output():
    # one writer of the console: a CPU's CONSOLE request comes after its posted UART writes
    out = []
    svc = DeviceService(lambda data, cpu: out.append((cpu, data)), lambda i, lv: None)
    svc.handle({"t": "MMIO_WRITE", "cpu": 1, "addr": UART, "size": 1, "value": 0x78,
                "posted": True})
    ack = svc.handle({"t": "CONSOLE", "cpu": 1, "data": b"semihosting\n"})
    assert p.decode(ack)["t"] == "ACK"
    assert out == [(-1, b"x"), (1, b"semihosting\n")]


def test_a_refused_posted_write_is_reported_not_answered():
    refused = []
    svc = DeviceService(lambda d, c: None, lambda i, lv: None, refused.append)
    assert svc.handle({"t": "MMIO_WRITE", "cpu": 0, "addr": UART + 0x1000, "size": 4,
                       "value": 0, "posted": True}) is None
    assert svc.handle({"t": "MMIO_WRITE", "cpu": 0, "addr": UART, "size": 3,
                       "value": 0, "posted": True}) is None
    assert len(refused) == 2 and "size 3" in refused[1]


def test_nothing_else_is_mapped():
    svc = DeviceService(lambda d, c: None, lambda i, lv: None)
    got = p.decode(svc.handle({"t": "MMIO_READ", "cpu": 0, "addr": UART + 0x1000, "size": 4}))
    assert got["t"] == "MMIO_FAULT"
    with pytest.raises(p.ProtocolError, match="does not serve SPI_ACK"):
        svc.handle({"t": "SPI_ACK", "cpu": 0, "intid": 33, "group": 1})


@pytest.fixture(scope="module")
def devices_process(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    ctx = zmq.Context()
    ends = Endpoints(run)
    fake_gic = ctx.socket(zmq.ROUTER)
    fake_gic.bind(ends.address("gic"))
    sup = Supervisor(run, ends, ctx)
    sup.launch("devices", "smpsim.interconnect.devices",
               ["--run-dir", str(run), "--endpoint", ends.address("devices"),
                "--gic", ends.address("gic")])
    sup.wait_ready(120)
    sup.broadcast(p.encode("START"))
    client = ctx.socket(zmq.DEALER)
    client.setsockopt(zmq.LINGER, 0)
    client.connect(ends.address("devices"))
    yield client, sup, fake_gic, run
    client.close()
    fake_gic.close(linger=0)
    sup.shutdown("test over")
    ends.cleanup()
    ctx.term()


def test_the_process_prints_to_console_log_and_bootctl_and_raises_spi33(devices_process):
    client, sup, fake_gic, run = devices_process
    request(client, p.encode("MMIO_WRITE", cpu=0, addr=UART + 0x38, size=4, value=1 << 5,
                             posted=False, icount=0, counter=0), 60_000)
    client.send(p.encode("MMIO_WRITE", cpu=1, addr=UART, size=1, value=ord("Z"),
                         posted=False, icount=0, counter=0))
    got = sup.receive(60_000)
    assert got is not None and p.decode(got[1]) == {"t": "CONSOLE", "cpu": -1, "data": b"Z"}
    assert fake_gic.poll(60_000)
    assert p.decode(fake_gic.recv_multipart()[-1]) == {"t": "SPI_LEVEL", "intid": 33,
                                                      "level": True}
    # the write's answer waits until the GIC has served the level change (a PING)
    assert not client.poll(200)
    assert fake_gic.poll(60_000)
    peer, body = fake_gic.recv_multipart()
    assert p.decode(body) == {"t": "PING"}
    fake_gic.send_multipart([peer, p.encode("ACK")])
    assert client.poll(60_000) and p.decode(client.recv()) == {"t": "ACK"}
    assert (run / CONSOLE_FILE).read_bytes() == b"Z"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=80),
                 st.dictionaries(st.text(max_size=6), st.integers(0, 1 << 40),
                                 max_size=4).map(lambda d: msgpack.packb({**d, "t": "MMIO_READ"}))))
def test_malformed_messages_get_error_and_the_service_goes_on(devices_process, data):
    client, sup, _, _ = devices_process
    reply = request(client, data, 60_000)
    assert reply["t"] in ("ERROR", "MMIO_DATA", "MMIO_FAULT")
    assert sup.dead() is None
    assert request(client, p.encode("PING"), 60_000) == {"t": "ACK"}
