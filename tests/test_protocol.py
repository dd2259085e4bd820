"""The wire protocol (smpsim/interconnect/protocol.py): every message type round-trips,
and anything malformed is one ProtocolError, never another exception."""

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smpsim.interconnect import protocol as p

SAMPLES = {p.U64: (1 << 64) - 1, p.INT: -5, p.BOOL: True, p.STR: "cpu2", p.BYTES: b"\x00hi"}


@pytest.mark.parametrize("name", sorted(p.MESSAGES))
def test_every_message_type_round_trips(name):
    fields = {f: SAMPLES[k] for f, k in p.MESSAGES[name].fields.items()}
    assert p.decode(p.encode(name, **fields)) == {"t": name, **fields}


@pytest.mark.parametrize("data, reason", [
    (b"\xc1", "not a msgpack message"),
    (msgpack.packb([1, 2]), "a message is a map, got list"),
    (msgpack.packb({"x": 1}), 'a message needs its type in "t"'),
    (msgpack.packb({"t": "FROB"}), "unknown message type 'FROB'"),
    (msgpack.packb({"t": "MMIO_READ", "cpu": 0, "addr": 1}), "MMIO_READ: missing field 'size'"),
    (msgpack.packb({"t": "MMIO_READ", "cpu": 0, "addr": -1, "size": 4}),
     "MMIO_READ.addr: expected u64, got int"),
    (msgpack.packb({"t": "MMIO_READ", "cpu": True, "addr": 1, "size": 4}),
     "MMIO_READ.cpu: expected int, got bool"),
    (msgpack.packb({"t": "ACK", "extra": 1}), "ACK: unknown field 'extra'"),
    (msgpack.packb({"t": "CONSOLE", "cpu": 0, "data": "text"}), "CONSOLE.data: expected bytes"),
    (b"\x92" * (p.MAX_MESSAGE + 1), "larger than"),
])
def test_malformed_messages_are_one_clear_error(data, reason):
    with pytest.raises(p.ProtocolError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        p.decode(data)


def test_encode_refuses_what_decode_would():
    with pytest.raises(p.ProtocolError, match="MMIO_WRITE: missing field 'posted'"):
        p.encode("MMIO_WRITE", cpu=0, addr=0, size=4, value=0, icount=0, counter=0)


def test_ready_carries_the_version_and_a_mismatch_is_refused():
    p.check_ready(p.decode(p.ready("gic", 1234)))
    old = p.decode(p.encode("READY", component="cpu1", pid=5, version=p.PROTOCOL_VERSION + 1))
    with pytest.raises(p.ProtocolError, match="cpu1 speaks protocol version"):
        p.check_ready(old)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=256))
def test_random_bytes_never_raise_anything_but_protocol_error(data):
    try:
        p.decode(data)
    except p.ProtocolError:
        pass


_values = st.recursive(st.none() | st.booleans() | st.integers(-(1 << 63), (1 << 64) - 1)
                       | st.text(max_size=8) | st.binary(max_size=8) | st.floats(),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(p.MESSAGES)), st.dictionaries(st.text(max_size=8), _values,
                                                           max_size=5))
def test_well_formed_msgpack_with_wrong_fields_is_refused_cleanly(name, fields):
    message = {**fields, "t": name}
    data = msgpack.packb(message, use_bin_type=True)
    try:
        got = p.decode(data)
    except p.ProtocolError:
        return
    assert got == message  # accepted only if it is exactly a valid message
    p.validate(got)


def test_an_unchecked_encoding_is_the_same_bytes_as_a_checked_one():
    for name, fields in [("MMIO_READ", dict(cpu=1, addr=0x0900_0018, size=4)),
                         ("MMIO_WRITE", dict(cpu=0, addr=0x0900_0000, size=4, value=1 << 40,
                                             posted=True, icount=7, counter=3)),
                         ("SPI_ACK", dict(cpu=3, intid=33, group=1)),
                         ("SPI_DEACTIVATE", dict(cpu=3, intid=33))]:
        assert p.encode_unchecked(name, **fields) == p.encode(name, **fields)
