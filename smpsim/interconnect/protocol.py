"""Every message that crosses a socket in a run: its type, its fields, and the version
of the protocol (DESIGN.md §3). msgpack on the wire, never pickle.

A message is a msgpack map: `{"t": TYPE, field: value, ...}`. `encode` checks a
message against its declaration before it leaves; `decode` checks what arrives and
raises ProtocolError — one line saying what is wrong — for anything malformed or
unknown, so that a service can log it, answer ERROR and keep serving.

Fields are typed: U64 (an unsigned 64-bit integer: addresses, register values), INT
(a small signed integer: CPU numbers, sizes, INTIDs, status codes), BOOL, STR, BYTES.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack

PROTOCOL_VERSION = 6  # 2: ICC_WRITE may be posted; SEV goes through the doorbell
                      # 3: ICC_ACK (a CPU took the GIC's offer, doorbell.OFFER)
                      # 4: the CPU interfaces run in the CPU processes over shared
                      #    state (gic_dist/shared_state.py): ICC_*, PPI_LEVEL and
                      #    ICC_ACK give way to SPI_ACK, SPI_DEACTIVATE, CPUIF_CHANGED
                      # 5: MMIO_WRITE carries the writer's guest time (icount, counter)
                      # 6: HUNG (serial and lockstep runs)

U64, INT, BOOL, STR, BYTES = "u64", "int", "bool", "str", "bytes"
_INT_RANGE = (-(1 << 31), (1 << 31) - 1)
MAX_MESSAGE = 1 << 20  # bytes: anything larger is refused before it is unpacked


class ProtocolError(ValueError):
    """A message that cannot be accepted; str() is the one-line reason."""


@dataclasses.dataclass(frozen=True)
class MessageType:
    name: str
    fields: dict[str, str]
    doc: str
    always_posted: bool = False  # one-way (others are when their `posted` field says so)


def _m(name: str, doc: str, always_posted: bool = False, **fields: str) -> MessageType:
    return MessageType(name, fields, doc, always_posted)


MESSAGES: dict[str, MessageType] = {m.name: m for m in [
    # --- control: bootctl <-> every process ----------------------------------------
    _m("READY", "a process is up and speaks this protocol version",
       component=STR, pid=INT, version=INT),
    _m("START", "bootctl: every process is ready; CPUs may leave reset"),
    _m("STOP", "bootctl: end the run now (the reason goes to the logs)", reason=STR),
    _m("ERROR", "the reply to a message that could not be served", reason=STR),
    _m("ACK", "the reply to a request that returns nothing"),
    _m("PING", "is the peer alive? (answered with ACK)"),
    # --- device accesses: CPU -> the service that owns the address ------------------
    _m("MMIO_READ", "a device read by a CPU", cpu=INT, addr=U64, size=INT),
    _m("MMIO_WRITE", "a device write; posted writes get no reply; the writer's guest "
       "time (its instruction count and CNTPCT) dates what the device does with it",
       cpu=INT, addr=U64, size=INT, value=U64, posted=BOOL, icount=U64, counter=U64),
    _m("MMIO_DATA", "the value a device read returned", value=U64),
    _m("MMIO_FAULT", "nothing answers at that address (an external abort)", reason=STR),
    # --- the GIC: what a CPU interface asks the distributor, and interrupt inputs ----
    _m("SPI_ACK", "a CPU acknowledges the SPI the distributor offers it (shared_state "
       "W_SPI0/1); answered with SPI_TAKEN", cpu=INT, intid=INT, group=INT),
    _m("SPI_TAKEN", "the SPI is active on the asking CPU, with this priority (-1: it is "
       "no longer offered to that CPU)", prio=INT),
    _m("SPI_DEACTIVATE", "a CPU ended an SPI (EOIR with EOImode 0, or DIR)",
       always_posted=True, cpu=INT, intid=INT),
    _m("CPUIF_CHANGED", "a CPU's interface masking changed (1-of-N SPIs are routed again)",
       always_posted=True, cpu=INT),
    _m("SPI_LEVEL", "a device's shared interrupt input changed", always_posted=True, intid=INT,
       level=BOOL),
    # --- firmware and the guest's console: CPU -> bootctl --------------------
    _m("PSCI_CALL", "an SMC/HVC firmware call with x0..x3", cpu=INT, x0=U64, x1=U64,
       x2=U64, x3=U64),
    _m("PSCI_RESULT", "what the firmware returns in x0, and what the calling CPU does "
       "next: '' (go on), 'cpu_off', 'standby', 'system_off', 'system_reset'",
       x0=U64, action=STR),
    _m("POWER_ON", "bootctl: this CPU starts at `entry` with x0 = `context`",
       entry=U64, context=U64),
    _m("CONSOLE", "guest console output (semihosting or UART)", cpu=INT, data=BYTES),
    _m("GUEST_EXIT", "the guest asked to end the run with this status", cpu=INT, code=INT),
    _m("HUNG", "a serial or lockstep run: no CPU can ever run again", cpu=INT, reason=STR),
]}


def _check(kind: str, value: Any) -> bool:
    if kind == U64:
        return type(value) is int and 0 <= value < (1 << 64)
    if kind == INT:
        return type(value) is int and _INT_RANGE[0] <= value <= _INT_RANGE[1]
    if kind == BOOL:
        return type(value) is bool
    if kind == STR:
        return type(value) is str and len(value) <= 4096
    return type(value) is bytes


def validate(message: dict) -> MessageType:
    """The declaration `message` follows; ProtocolError if it follows none."""
    if not isinstance(message, dict):
        raise ProtocolError(f"a message is a map, got {type(message).__name__}")
    name = message.get("t")
    if not isinstance(name, str):
        raise ProtocolError("a message needs its type in \"t\"")
    decl = MESSAGES.get(name)
    if decl is None:
        raise ProtocolError(f"unknown message type {name[:40]!r}")
    for field, kind in decl.fields.items():
        if field not in message:
            raise ProtocolError(f"{name}: missing field {field!r}")
        value = message[field]
        if not _check(kind, value):
            got = type(value).__name__
            if type(value) is int:  # the right type, out of range
                got += f" {value} (out of range)"
            elif type(value) is str and kind == STR:
                got += f" of {len(value)} characters (at most 4096)"
            raise ProtocolError(f"{name}.{field}: expected {kind}, got {got}")
    extra = set(message) - set(decl.fields) - {"t"}
    if extra:
        raise ProtocolError(f"{name}: unknown field {sorted(map(str, extra))[0][:40]!r}")
    return decl


def is_posted(message: dict) -> bool:
    """Whether the sender of a (valid) message waits for no reply: a refusal of it must
    not be answered either, or the ERROR would pass for the reply to its next request."""
    return MESSAGES[message["t"]].always_posted or message.get("posted") is True


def encode(name: str, **fields: Any) -> bytes:
    """The wire form of message `name`; ProtocolError if the fields do not match."""
    message = {"t": name, **fields}
    validate(message)
    return msgpack.packb(message, use_bin_type=True)


def encode_unchecked(name: str, **fields: Any) -> bytes:
    """`encode` without the check, for a CPU's hot paths (device and GIC accesses, a few
    microseconds each), whose fields come from the core's own typed state; the receiver
    checks every message it decodes all the same."""
    return msgpack.packb({"t": name, **fields}, use_bin_type=True)


def decode(data: bytes) -> dict:
    """The message in `data`, checked; ProtocolError for anything else."""
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"message of {len(data)} bytes is larger than {MAX_MESSAGE}")
    try:
        message = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except Exception as exc:  # msgpack raises several types for garbage; all are one case
        raise ProtocolError(f"not a msgpack message ({type(exc).__name__})") from None
    validate(message)
    return message


def ready(component: str, pid: int) -> bytes:
    return encode("READY", component=component, pid=pid, version=PROTOCOL_VERSION)


def check_ready(message: dict) -> None:
    """A READY from a peer must speak our version."""
    if message["t"] != "READY":
        raise ProtocolError(f"expected READY, got {message['t']}")
    if message["version"] != PROTOCOL_VERSION:
        raise ProtocolError(f"{message['component']} speaks protocol version "
                            f"{message['version']}, this build speaks {PROTOCOL_VERSION}")
