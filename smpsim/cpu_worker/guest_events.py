"""The core's event ring as log records (DESIGN.md §6): exceptions taken and returned,
writes to watched system registers and to the timers' controls, each with the CPU's
instruction count at the event (jit/events.py says what a record holds)."""

from __future__ import annotations

from smpsim.jit import events
from smpsim.jit.core import Core
from smpsim.jit.sysreg_table import COMPILED

_ENTRY_NAMES = {index: name for name, index in COMPILED.entry.items()}
_VECTOR_TYPES = ("sync", "irq", "fiq", "serror")
_TIMERS = ("CNTP_CTL_EL0", "CNTV_CTL_EL0", "CNTHP_CTL_EL2", "CNTHV_CTL_EL2")


def record_of(kind: int, icount: int, count: int, a: int, b: int, c: int,
              d: int) -> tuple[str, dict]:
    """(event name, fields) of one ring entry; every record has the CPU's instruction
    count and its guest time (`counter`: the physical count, CNTPCT_EL0) at the event."""
    name, fields = _fields(kind, icount, a, b, c, d)
    fields["counter"] = count
    return name, fields


def _fields(kind: int, icount: int, a: int, b: int, c: int, d: int) -> tuple[str, dict]:
    if kind == events.EXCEPTION:
        fields = {"type": _VECTOR_TYPES[(a >> 8) & 3], "from_el": (a >> 4) & 3,
                  "to_el": a & 3, "elr": hex(c)}
        if (a >> 8) & 3 in (0, 3):  # synchronous and SError exceptions have a syndrome
            fields["esr"] = hex(b)
            fields["ec"] = hex(b >> 26)
        if d:
            fields["far"] = hex(d)
        return "exception", {**fields, "icount": icount}
    if kind == events.EXCEPTION_RETURN:
        return "exception_return", {"from_el": a & 3, "to_el": (a >> 4) & 3,
                                    "illegal": bool(a >> 8 & 1), "pc": hex(b),
                                    "spsr": hex(c), "icount": icount}
    if kind == events.SYSREG_WRITE:
        return "sysreg_write", {"register": _ENTRY_NAMES.get(a, f"entry {a}"),
                                "value": hex(b), "pc": hex(c), "icount": icount}
    if kind == events.TIMER_CONTROL:
        return "timer_control", {"register": _TIMERS[a & 3], "value": hex(b), "pc": hex(c),
                                 "icount": icount}
    return "unknown_event", {"kind": kind, "icount": icount}


def log_events(core: Core, logger) -> None:
    """Turn what the core recorded since the last call into records of `logger`."""
    if not core.events_pending:
        return
    recorded, lost = core.drain_events()
    for entry in recorded:
        name, fields = record_of(*entry)
        logger.info(name, **fields)
    if lost:
        logger.warning("events_lost", count=lost)
