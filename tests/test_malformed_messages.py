"""Malformed and unknown messages (DESIGN.md §3, §9): the protocol refuses them with one
ProtocolError; every service socket of a real run (the GIC service, the device service,
bootctl's control socket) answers them with ERROR where a reply is due, logs a
`bad_message` record and keeps serving."""

import itertools
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import msgpack
import pytest
import zmq
from gnu_as import link
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from smpsim.bootctl.supervisor import Child, Supervisor
from smpsim.gic_dist.model import GicV3
from smpsim.interconnect import bus
from smpsim.interconnect import protocol as p
from smpsim.interconnect.sockets import Endpoints, Service

TESTS = pathlib.Path(__file__).resolve().parent
U64_MAX = (1 << 64) - 1
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1  # protocol.py: INT is a signed 32-bit value
TIMEOUT = 60.0  # seconds: generous, only ever a bound on a condition wait

# --- strategies -------------------------------------------------------------------------

VALID = {p.U64: st.integers(0, U64_MAX), p.INT: st.integers(INT_MIN, INT_MAX),
         p.BOOL: st.booleans(), p.STR: st.text(max_size=12), p.BYTES: st.binary(max_size=12)}
_LONG = st.sampled_from(["x" * 4097, "é" * 5000])
_ANY_SCALAR = (st.none() | st.floats() | st.text(max_size=6) | st.binary(max_size=6)
               | st.lists(st.integers(0, 3), max_size=2))
WRONG = {  # values a field of that kind never accepts
    p.U64: st.integers(-(1 << 63), -1) | st.booleans() | _ANY_SCALAR,
    p.INT: (st.integers(INT_MAX + 1, U64_MAX) | st.integers(-(1 << 63), INT_MIN - 1)
            | st.booleans() | _ANY_SCALAR),
    p.BOOL: st.integers(-(1 << 63), U64_MAX) | _ANY_SCALAR,
    p.STR: _LONG | st.binary(max_size=6) | st.integers(-(1 << 63), U64_MAX) | st.none()
    | st.floats(),
    p.BYTES: st.text(max_size=6) | st.integers(0, 255) | st.none() | st.lists(st.integers(0, 255)),
}

_keys = st.text(max_size=6) | st.binary(max_size=4) | st.integers(-5, 5)
msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 63), U64_MAX) | st.floats()
    | st.text(max_size=8) | st.binary(max_size=8)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=12)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12)

ALL_TYPES = tuple(sorted(p.MESSAGES))


def pack(value, bin_type=True) -> bytes:
    return msgpack.packb(value, use_bin_type=bin_type, strict_types=False)


@st.composite
def valid_message(draw, names=ALL_TYPES):
    name = draw(st.sampled_from(names))
    return {"t": name, **{f: draw(VALID[k]) for f, k in p.MESSAGES[name].fields.items()}}


@st.composite
def mutated_message(draw, names=ALL_TYPES):
    """A declared message made invalid in one or more ways: always refused."""
    m = draw(valid_message(names))
    decl = p.MESSAGES[m["t"]]
    how = draw(st.sets(st.sampled_from(["drop", "extra", "wrong", "type", "key"]), min_size=1))
    if "drop" in how and decl.fields:
        del m[draw(st.sampled_from(sorted(decl.fields)))]
    elif "wrong" in how and decl.fields:
        field = draw(st.sampled_from(sorted(decl.fields)))
        m[field] = draw(WRONG[decl.fields[field]])
    elif "type" in how:
        m["t"] = draw(st.sampled_from([m["t"].lower(), m["t"] + " ", m["t"].encode(), None, 7,
                                       [m["t"]], "", "X" * 5000]))
    elif "key" in how:
        m[draw(st.integers(-3, 3) | st.binary(min_size=1, max_size=4))] = 0
    else:
        m[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in m))] = \
            draw(VALID[p.INT] | st.none())
    return m


_HUGE_HEADERS = [b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff",
                 b"\xc6\xff\xff\xff\xff", b"\xc9\xff\xff\xff\xff\x05", b"\xc9\x00\x00\x00\x0c\xff",
                 b"\x81\xa1t\xdb\x7f\xff\xff\xff", b"\x81\x91\x01\x02", b"\x81\x80\x01",
                 b"\xd6\xff", b"\xd7\xff", b"\xc7\x0c\xff", b"\xd4\x80", b"\x81\xa1t\xd6\xff"]
nasty_bytes = st.one_of(
    st.binary(max_size=300),
    st.tuples(st.sampled_from(_HUGE_HEADERS), st.binary(max_size=40)).map(b"".join),
    st.integers(1, 200_000).map(lambda n: b"\x91" * n + b"\xc0"),  # deep nesting
    st.integers(1, 50_000).map(lambda n: b"\x81\xa1t" + b"\x81\xa1t" * n + b"\xa4PING"),
    msgpack_values.map(pack),
    msgpack_values.map(lambda v: pack(v, bin_type=False)),
    mutated_message().map(pack),
)


def flip(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for kind, pos, byte in edits:
        pos = pos % (len(out) + 1)
        if kind == "flip" and pos < len(out):
            out[pos] ^= byte or 1
        elif kind == "insert":
            out[pos:pos] = bytes([byte])
        elif kind == "cut":
            del out[pos:]
    return bytes(out)


_edits = st.lists(st.tuples(st.sampled_from(["flip", "insert", "cut"]), st.integers(0, 200),
                            st.integers(0, 255)), min_size=1, max_size=4)


def decode_or_refuse(data: bytes):
    """decode's result, or None if refused; any other exception fails the test."""
    try:
        m = p.decode(data)
    except p.ProtocolError as exc:
        reason = str(exc)
        assert reason and "\n" not in reason
        p.encode("ERROR", reason=reason)  # a service can always answer with it
        return None
    fields = {k: v for k, v in m.items() if k != "t"}
    assert p.decode(p.encode(m["t"], **fields)) == m  # accepted only if fully declared
    return m


def malformed(data: bytes) -> bool:
    return decode_or_refuse(data) is None


# --- 1. the protocol ----------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(nasty_bytes)
@example(b"")
@example(b"\x92" * (p.MAX_MESSAGE + 1))
@example(pack({"t": "CONSOLE", "cpu": 0, "data": b"x" * p.MAX_MESSAGE}))
def test_decode_gives_a_valid_message_or_protocol_error(data):
    decode_or_refuse(data)


@settings(max_examples=200, deadline=None)
@given(mutated_message())
def test_a_declared_message_with_bad_fields_is_refused(message):
    assert decode_or_refuse(pack(message)) is None
    with pytest.raises(p.ProtocolError):
        p.validate(message)


@settings(max_examples=200, deadline=None)
@given(valid_message(), _edits)
def test_valid_messages_round_trip_and_their_corruptions_never_crash_decode(message, edits):
    data = pack(message)
    assert decode_or_refuse(data) == message
    decode_or_refuse(flip(data, edits))


def test_validate_refuses_what_is_not_a_map_of_a_declared_type():
    for value in (None, [], "PING", b"PING", 5, {"t": None}, {"t": b"PING"}, {1: 2}):
        with pytest.raises(p.ProtocolError):
            p.validate(value)


# --- 2. every service socket of a real run ------------------------------------------------

TOPOLOGY = """
[machine]
name = "fuzzed"
[boot]
start_el = 2
[run]
timeout = 300
[[cluster]]
cpus = 1
features = { el2 = true, vhe = true }
"""

# The guest keeps reading a GIC register through the GIC service until the test writes
# it, then exits with what it read: the end of the run shows the machine kept working.
SPI40_PRIORITY = bus.GIC_DIST_BASE + 0x400 + 40  # GICD_IPRIORITYR byte of SPI 40
WAIT_FOR_THE_TEST = f"""
    .global _start
_start:
    ldr x1, ={SPI40_PRIORITY:#x}
1:  ldrb w2, [x1]
    cbz w2, 1b
    adr x1, block
    str x2, [x1, #8]
    mov x0, #0x18             // SYS_EXIT
    hlt #0xf000
    .balign 8
block: .quad 0x20026, 0
"""
EXIT_CODE = 0x2A
GICD_TYPER = GicV3([0]).dist_read(0x4, 4)  # what a fresh 1-CPU GIC reports
UARTFR_AT_RESET = 0x90  # TXFE | RXFE (PL011 TRM; QEMU's reset value too)


def wait_for(condition, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Events:
    """The run's events.jsonl, read on as it grows."""

    def __init__(self, path: pathlib.Path):
        self.path, self.offset, self.records, self._rest = path, 0, [], b""

    def update(self):
        if not self.path.exists():
            return self.records
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        self.offset += len(chunk)
        *lines, self._rest = (self._rest + chunk).split(b"\n")
        self.records += [json.loads(line) for line in lines if line.strip()]
        return self.records

    def count(self, event, component):
        return sum(1 for r in self.update()
                   if r.get("event") == event and r.get("component") == component)

    def wait_count(self, event, component, n, give_up=lambda: False):
        """Wait until there are n such records (or `give_up`); then there must be
        exactly n."""
        wait_for(lambda: give_up() or self.count(event, component) >= n)
        return self.count(event, component)


class Machine:
    def __init__(self, proc, run, ctx):
        self.proc, self.run, self.ctx = proc, run, ctx
        self.events = Events(run / "events.jsonl")
        where = run / "sockets" / "WHERE"
        self.folder = pathlib.Path(where.read_text().strip()) if where.exists() \
            else run / "sockets"
        self.refused = {"gic": 0, "devices": 0}
        self.gic = self.client("gic")
        self.devices = self.client("devices")

    def address(self, name):
        return f"ipc://{self.folder / name}"

    def client(self, name, identity=None):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        if identity is not None:
            s.setsockopt(zmq.IDENTITY, identity)
        s.connect(self.address(name))
        return s

    def alive(self):
        return self.proc.poll() is None

    def dead(self):
        return self.proc.poll() is not None

    def why_not(self):
        if self.alive():
            return "the run is still going"
        _, err = self.proc.communicate()
        return f"the run ended with {self.proc.returncode}: {err[-2000:]}"

    def recv(self, socket):
        deadline = time.monotonic() + TIMEOUT
        while not socket.poll(100):
            assert self.alive(), self.why_not()
            assert time.monotonic() < deadline, "no reply"
        return p.decode(socket.recv())

    def request(self, socket, data):
        socket.send(data)
        return self.recv(socket)


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzzed")
    (tmp / "t.toml").write_text(TOPOLOGY)
    (tmp / "img.bin").write_bytes(link(WAIT_FOR_THE_TEST))
    run = tmp / "run"
    proc = subprocess.Popen([sys.executable, "-m", "smpsim", "run", str(tmp / "t.toml"),
                             "--kernel", str(tmp / "img.bin"), "--run-dir", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctx = zmq.Context()
    m = None
    try:
        started = Events(run / "events.jsonl")
        assert wait_for(lambda: proc.poll() is not None or any(
            r["event"] == "power_on" for r in started.update()), 300), "cpu0 never came up"
        assert proc.poll() is None, proc.communicate()[1]
        m = Machine(proc, run, ctx)
        yield m
    finally:
        if proc.poll() is None and m is not None:  # end it as the guest would
            m.gic.send(p.encode("MMIO_WRITE", cpu=0, addr=SPI40_PRIORITY, size=1,
                                value=EXIT_CODE, posted=True, icount=0, counter=0))
        try:
            proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)  # bootctl cleans up on KeyboardInterrupt
            try:
                proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        ctx.destroy(linger=0)


def mmio_read(addr, size=4, cpu=0):
    return p.encode("MMIO_READ", cpu=cpu, addr=addr, size=size)


# what no service accepts, whatever it serves
_anything_malformed = st.one_of(
    nasty_bytes.filter(malformed).map(lambda b: [b]),
    st.lists(st.binary(max_size=16) | st.just(p.encode("PING")), min_size=2, max_size=4),
    st.just([b""]),
    st.builds(lambda n, rest: [pack({"t": n, **rest})],
              st.text(max_size=10).filter(lambda n: n not in p.MESSAGES),
              st.dictionaries(st.text(max_size=4), VALID[p.INT], max_size=2)),
)


def _frames(strategy):
    return strategy.map(lambda m: [pack(m)])


GIC_SERVES = ("PING", "MMIO_READ", "MMIO_WRITE", "SPI_ACK", "SPI_DEACTIVATE",
              "CPUIF_CHANGED", "SPI_LEVEL")
DEVICES_SERVE = ("PING", "MMIO_READ", "MMIO_WRITE", "CONSOLE")
_sizes_out = st.integers(INT_MIN, INT_MAX).filter(lambda s: s not in (1, 2, 4, 8))
_cpus_out = st.integers(INT_MIN, -1) | st.integers(1, INT_MAX)  # a 1-CPU machine
_gic_addr = st.integers(bus.GIC_DIST_BASE, bus.GIC_DIST_BASE + bus.GIC_DIST_SIZE - 1)

gic_garbage = st.one_of(
    _anything_malformed,
    _frames(mutated_message()),
    _frames(valid_message(tuple(n for n in sorted(p.MESSAGES) if n not in GIC_SERVES))),
    _frames(st.builds(lambda kind, cpu, addr, size, value, posted: {
        "t": kind, "cpu": cpu, "addr": addr, "size": size,
        **({"value": value, "posted": posted, "icount": 0, "counter": 0}
           if kind == "MMIO_WRITE" else {})},
        st.sampled_from(["MMIO_READ", "MMIO_WRITE"]), _cpus_out | st.just(0), _gic_addr,
        _sizes_out | st.sampled_from([1, 2, 4, 8]), VALID[p.U64], st.booleans()).filter(
            lambda m: m["cpu"] != 0 or m["size"] not in (1, 2, 4, 8))),
    # a CPU interface's messages from a CPU that does not exist
    _frames(st.builds(lambda kind, cpu, intid, group: {
        "t": kind, "cpu": cpu,
        **({"intid": intid} if kind != "CPUIF_CHANGED" else {}),
        **({"group": group} if kind == "SPI_ACK" else {})},
        st.sampled_from(["SPI_ACK", "SPI_DEACTIVATE", "CPUIF_CHANGED"]), _cpus_out,
        st.integers(INT_MIN, INT_MAX), st.integers(INT_MIN, INT_MAX))),
    _frames(st.builds(lambda intid, level: {"t": "SPI_LEVEL", "intid": intid, "level": level},
                      st.integers(INT_MIN, 31) | st.integers(256, INT_MAX), st.booleans())),
)

devices_garbage = st.one_of(
    _anything_malformed,
    _frames(mutated_message()),
    _frames(valid_message(tuple(n for n in sorted(p.MESSAGES) if n not in DEVICES_SERVE))),
    _frames(st.builds(lambda kind, addr, size, value, posted: {
        "t": kind, "cpu": 0, "addr": addr, "size": size,
        **({"value": value, "posted": posted, "icount": 0, "counter": 0}
           if kind == "MMIO_WRITE" else {})},
        st.sampled_from(["MMIO_READ", "MMIO_WRITE"]), VALID[p.U64], _sizes_out,
        VALID[p.U64], st.booleans())),
)


def reply_due(name: str, frames) -> bool:
    """Whether the sender of `frames` waits for a reply (protocol.py: posted requests
    get none, even when refused); anything undecodable is answered."""
    if len(frames) != 1:
        return True
    try:
        m = p.decode(frames[0])
    except p.ProtocolError:
        return True
    if name == "gic":
        return not p.is_posted(m)
    return not (p.is_posted(m) and m["t"] == "MMIO_WRITE")  # the only posted one it serves


def refuse_batch(m: Machine, name: str, batch):
    """Send the batch: one ERROR for each that waits for a reply, nothing for the
    others (the PING after them is answered next), one bad_message record each."""
    socket = getattr(m, name)
    before = m.events.count("bad_message", name)
    for frames in batch:
        socket.send_multipart(frames)
    socket.send(p.encode("PING"))
    for frames in batch:
        if reply_due(name, frames):
            reply = m.recv(socket)
            assert reply["t"] == "ERROR" and reply["reason"], (frames, reply)
            m.refused[name] += 1
    assert m.recv(socket) == {"t": "ACK"}, "a reply to a posted request"
    n = before + len(batch)
    assert m.events.wait_count("bad_message", name, n, m.dead) == n, m.why_not()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(gic_garbage, min_size=1, max_size=6))
def test_the_gic_service_refuses_garbage_logs_it_and_keeps_serving(machine, batch):
    refuse_batch(machine, "gic", batch)
    assert machine.request(machine.gic, p.encode("PING")) == {"t": "ACK"}
    assert machine.request(machine.gic, mmio_read(bus.GIC_DIST_BASE + 0x4)) == \
        {"t": "MMIO_DATA", "value": GICD_TYPER}
    typer = machine.request(machine.gic, mmio_read(bus.GIC_REDIST_BASE + 0x8, 8))["value"]
    assert typer & (1 << 4) and typer >> 32 == 0  # GICR_TYPER: Last, affinity 0


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(devices_garbage, min_size=1, max_size=6))
def test_the_device_service_refuses_garbage_logs_it_and_keeps_serving(machine, batch):
    refuse_batch(machine, "devices", batch)
    assert machine.request(machine.devices, p.encode("PING")) == {"t": "ACK"}
    assert machine.request(machine.devices, mmio_read(bus.UART_BASE + 0x18)) == \
        {"t": "MMIO_DATA", "value": UARTFR_AT_RESET}


@pytest.mark.parametrize("name", ["gic", "devices"])
@pytest.mark.parametrize("frames", [
    [b"\x00" * (p.MAX_MESSAGE + 1)],
    [pack({"t": "CONSOLE", "cpu": 0, "data": b"x" * (2 * p.MAX_MESSAGE)})],
    [b""] * 64,
    [p.encode("PING")] * 3,
], ids=["over-1MiB", "2MiB-console", "64-empty-frames", "3-pings-one-message"])
def test_huge_and_many_framed_messages_are_refused(machine, name, frames):
    refuse_batch(machine, name, [frames])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, U64_MAX).filter(
    lambda a: not (bus.GIC_DIST_BASE <= a < bus.GIC_DIST_BASE + bus.GIC_DIST_SIZE
                   or bus.GIC_REDIST_BASE <= a < bus.GIC_REDIST_BASE + bus.GIC_REDIST_STRIDE
                   or bus.UART_BASE <= a < bus.UART_BASE + bus.UART_SIZE))
       | st.sampled_from([bus.GIC_REDIST_BASE + bus.GIC_REDIST_STRIDE, U64_MAX,
                          bus.UART_BASE + bus.UART_SIZE]),
       st.sampled_from(["gic", "devices"]), st.sampled_from([1, 2, 4, 8]))
def test_addresses_nobody_maps_are_an_mmio_fault(machine, addr, name, size):
    socket = getattr(machine, name)
    assert machine.request(socket, mmio_read(addr, size))["t"] == "MMIO_FAULT"


@pytest.mark.parametrize("cpu", [-1, 1, INT_MAX])
def test_the_device_service_refuses_cpus_that_do_not_exist(machine, cpu):
    refuse_batch(machine, "devices", [[mmio_read(bus.UART_BASE + 0x18, cpu=cpu)]])


_serial = itertools.count()

# what a process that is not one of the run's might say on the control channel
control_garbage = st.one_of(
    _anything_malformed,
    _frames(mutated_message()),
    _frames(valid_message(("PING", "ACK", "ERROR", "READY", "STOP", "MMIO_READ"))),
    st.sampled_from([  # valid messages that would end or change the run if believed
        p.encode("GUEST_EXIT", cpu=0, code=3),
        p.encode("PSCI_CALL", cpu=0, x0=0x8400_0008, x1=0, x2=0, x3=0),  # SYSTEM_OFF
        p.encode("PSCI_CALL", cpu=0, x0=0xC400_0003, x1=1, x2=0, x3=0),  # CPU_ON
        p.encode("CONSOLE", cpu=0, data=b"not from a CPU of the run\n"),
        p.encode("CONSOLE", cpu=-1, data=b"nor from the UART\n"),
    ]).map(lambda d: [d]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([b"intruder", None, b"\xff\xfe\x00", b"cpu7", b"x" * 255]),
       st.lists(control_garbage, min_size=1, max_size=5))
def test_bootctl_logs_what_strangers_say_on_the_control_socket_and_the_run_goes_on(
        machine, identity, batch):
    m = machine
    if identity is not None:  # a fresh one: ROUTER ignores a second peer with one in use
        identity = (identity + b"-%d" % next(_serial))[-255:]
    socket = m.client("control", identity)
    try:
        before = m.events.count("bad_message", "bootctl")
        for frames in batch:
            socket.send_multipart(frames)
        n = before + len(batch)
        assert m.events.wait_count("bad_message", "bootctl", n, m.dead) == n, m.why_not()
        assert m.alive(), m.why_not()
        assert not socket.poll(0), "bootctl answered a process that is not of the run"
        assert m.request(m.gic, mmio_read(bus.GIC_DIST_BASE + 0x4))["value"] == GICD_TYPER
    finally:
        socket.close(linger=0)


def test_the_run_went_on_and_ends_as_the_guest_says(machine):
    m = machine
    assert m.alive(), m.why_not()
    assert not any(r["event"] in ("cpu_failed", "unexpected_message", "timeout")
                   for r in m.events.update())
    m.gic.send(p.encode("MMIO_WRITE", cpu=0, addr=SPI40_PRIORITY, size=1, value=EXIT_CODE,
                        posted=True, icount=0, counter=0))
    _, err = m.proc.communicate(timeout=TIMEOUT)
    assert m.proc.returncode == EXIT_CODE, err
    stopped = {r["component"]: r for r in m.events.update()
               if r["event"] in ("gic_stopped", "devices_stopped")}
    assert stopped["gic"]["refused"] == m.refused["gic"]
    assert stopped["devices"]["refused"] == m.refused["devices"]
    assert m.events.records[-1]["event"] == "run_end"


# --- bootctl's Supervisor, its real ROUTER socket driven directly ---------------------------

@pytest.fixture
def sup(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS),
                                                      os.environ.get("PYTHONPATH", "")]))
    ctx = zmq.Context()
    ends = Endpoints(tmp_path)
    s = Supervisor(tmp_path, ends, ctx)
    dealers = []

    def dealer(identity):
        d = ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.LINGER, 0)
        d.setsockopt(zmq.IDENTITY, identity)
        d.connect(s.control_address)
        dealers.append(d)
        return d

    yield s, dealer, Events(tmp_path / "events.jsonl")
    for d in dealers:
        d.close(linger=0)
    if not s.socket.closed:
        s.shutdown("test over", grace=1.0)
    ends.cleanup()
    ctx.term()


def _fake_child(s, name, tmp_path):
    """A child of the supervisor whose control channel the test holds."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    s.children[name] = Child(name, proc, tmp_path / f"{name}.stderr.log", ready=True)


def test_garbage_from_strangers_while_starting_is_logged_and_the_start_goes_on(sup, tmp_path):
    s, dealer, events = sup
    stranger = dealer(b"stranger")
    for frames in ([b"\xc1"], [b"a", b"b", b"c"], [b""], [p.ready("stranger", 1)]):
        stranger.send_multipart(frames)
    s.launch("w0", "supervised_worker", [])
    s.wait_ready(TIMEOUT)
    assert events.wait_count("bad_message", "bootctl", 4) == 4
    s.broadcast(p.encode("START"))
    got = s.receive(int(TIMEOUT * 1000))
    assert got is not None and got[0] == "w0"


def test_receive_skips_many_framed_and_strangers_messages_and_logs_them(sup, tmp_path):
    s, dealer, events = sup
    _fake_child(s, "w9", tmp_path)
    child, stranger = dealer(b"w9"), dealer(b"\xff\x00")
    child.send_multipart([b"x", b"y"])
    stranger.send(p.encode("GUEST_EXIT", cpu=0, code=1))
    child.send(p.encode("CONSOLE", cpu=0, data=b"hi"))
    got = s.receive(int(TIMEOUT * 1000))
    assert got == ("w9", p.encode("CONSOLE", cpu=0, data=b"hi"))
    # the stranger's message comes on its own pipe: it may still be on its way
    deadline = time.monotonic() + TIMEOUT
    while events.count("bad_message", "bootctl") < 2 and time.monotonic() < deadline:
        assert s.receive(100) is None
    assert events.count("bad_message", "bootctl") == 2
    assert {r["reason"] for r in events.records if r.get("event") == "bad_message"} == \
        {"not from a process of this run", "expected one frame after the identity, got 2"}


def test_a_reply_to_a_child_that_is_gone_does_not_raise(sup, tmp_path):
    s, _, _ = sup
    _fake_child(s, "w8", tmp_path)  # never connected (or already gone)
    s.send("w8", p.encode("ACK"))


# --- the service loop itself -----------------------------------------------------------------

def test_a_refusal_with_a_long_reason_is_still_answered_and_the_service_goes_on(tmp_path):
    ctx = zmq.Context()
    ends = Endpoints(tmp_path)
    errors = []

    def handler(m):  # a handler that quotes what it refuses, however long
        if m["t"] == "STOP":
            raise p.ProtocolError(f"no register {m['reason']!r}")
        return p.encode("ACK")

    svc = Service(ctx, ends.address("svc"), handler, errors.append)
    stop = threading.Event()
    t = threading.Thread(target=lambda: [svc.serve_one(20) for _ in iter(stop.is_set, True)],
                         daemon=True)
    t.start()
    client = ctx.socket(zmq.DEALER)
    client.setsockopt(zmq.LINGER, 0)
    client.connect(ends.address("svc"))
    try:
        client.send(p.encode("STOP", reason="R" * 4096))
        assert client.poll(int(TIMEOUT * 1000))
        reply = p.decode(client.recv())
        assert reply["t"] == "ERROR" and reply["reason"].startswith("no register 'RRR")
        assert len(errors) == 1 and len(errors[0]) > 4096  # the log has all of it
        client.send(p.encode("PING"))
        assert client.poll(int(TIMEOUT * 1000)) and p.decode(client.recv()) == {"t": "ACK"}
    finally:
        stop.set()
        t.join(TIMEOUT)
        client.close()
        svc.close()
        ends.cleanup()
        ctx.term()
