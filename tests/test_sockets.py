"""Endpoints and the service loop: bad requests get ERROR and the service keeps serving."""

import os
import stat
import threading

import msgpack
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smpsim.interconnect import protocol as p
from smpsim.interconnect.sockets import Endpoints, Service, request


@pytest.fixture
def echo_service(tmp_path):
    """A service in a thread that answers MMIO_READ with the address, refuses the rest."""
    ctx = zmq.Context()
    ends = Endpoints(tmp_path)
    errors = []

    def handler(m):
        if m["t"] != "MMIO_READ":
            raise p.ProtocolError(f"this service does not serve {m['t']}")
        return p.encode("MMIO_DATA", value=m["addr"])

    svc = Service(ctx, ends.address("echo"), handler, errors.append)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            svc.serve_one(20)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    client = ctx.socket(zmq.DEALER)
    client.setsockopt(zmq.LINGER, 0)
    client.connect(ends.address("echo"))
    yield client, svc, errors, ends
    stop.set()
    t.join(timeout=30)
    client.close()
    svc.close()
    ends.cleanup()
    ctx.term()


def test_a_request_is_served(echo_service):
    client, svc, errors, _ = echo_service
    reply = request(client, p.encode("MMIO_READ", cpu=1, addr=0x900_0018, size=4), 30_000)
    assert reply == {"t": "MMIO_DATA", "value": 0x900_0018}
    assert errors == []


def test_garbage_and_unknown_requests_get_error_and_the_service_goes_on(echo_service):
    client, svc, errors, _ = echo_service
    for bad, why in [(b"\xc1\xc1", "not a msgpack message"),
                     (msgpack.packb({"t": "NOPE"}), "unknown message type"),
                     (p.encode("ACK"), "does not serve ACK")]:
        reply = request(client, bad, 30_000)
        assert reply["t"] == "ERROR" and why in reply["reason"]
    assert len(errors) == 3 and svc.refused == 3
    assert request(client, p.encode("MMIO_READ", cpu=0, addr=7, size=1), 30_000)["value"] == 7


# one service for every example: that it keeps serving across them is the point
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=64))
def test_any_bytes_get_an_answer(echo_service, data):
    client, svc, errors, _ = echo_service
    reply = request(client, data, 30_000)
    assert reply["t"] in ("ERROR", "MMIO_DATA")


def test_the_socket_folder_is_private(tmp_path):
    ends = Endpoints(tmp_path)
    assert stat.S_IMODE(os.stat(ends.folder).st_mode) == 0o700
    assert ends.address("gic").startswith("ipc://")
    with pytest.raises(ValueError):
        ends.address("../escape")


def test_a_deep_run_directory_gets_short_socket_paths(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    ends = Endpoints(deep)
    assert len(ends.address("cpu255")) < 110
    assert (deep / "sockets" / "WHERE").read_text().strip() == str(ends.folder)
    ends.cleanup()
    assert not ends.folder.exists()
