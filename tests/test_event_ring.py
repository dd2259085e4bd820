"""The core's event ring (jit/events.py) and its log records (cpu_worker/guest_events.py):
exceptions taken and returned, watched system register writes and timer controls, each
with the instruction count at the event; a full ring counts what it lost."""

import numpy as np
from gnu_as import assemble

from smpsim.cpu_worker.guest_events import log_events, record_of
from smpsim.jit import events
from smpsim.jit.core import Core
from smpsim.jit.features import Features
from smpsim.jit.state import EV_SLOTS

BASE = 0x4000_0000


def core_with(source: str) -> Core:
    core = Core(np.zeros(1 << 20, dtype=np.uint8), ram_base=BASE,
                features=Features(el2=True, vhe=True))
    core.load(BASE, assemble(source))
    core.pc = BASE
    return core


# EL2: vectors at +0x800; an SVC to EL2 itself, its handler returns past it; then writes
# to a watched register (VBAR_EL2 above), an unwatched one (TPIDR_EL2), a timer control
PROGRAM = """
    ldr x0, =0x40000800
    msr vbar_el2, x0
    msr tpidr_el2, x0
    svc #0x12
    mov x1, #1
    msr cnthp_ctl_el2, x1
    hlt #0x42
    .balign 0x800
    .skip 0x200
    mrs x2, elr_el2          // current EL with SPx, synchronous
    eret
"""


def test_exceptions_returns_and_watched_writes_are_recorded_in_order():
    core = core_with(PROGRAM)
    ex = core.run(1000)
    assert ex.kind != 0
    recorded, lost = core.drain_events()
    assert lost == 0
    names = [record_of(*r)[0] for r in recorded]
    assert names == ["sysreg_write", "exception", "exception_return", "timer_control"]
    _, vbar = record_of(*recorded[0])
    assert vbar["register"] == "VBAR_EL2" and vbar["value"] == "0x40000800"
    assert vbar["pc"] == hex(BASE + 4) and vbar["icount"] == 1
    _, taken = record_of(*recorded[1])
    assert taken["type"] == "sync" and (taken["from_el"], taken["to_el"]) == (2, 2)
    assert taken["ec"] == "0x15" and taken["esr"] == hex((0x15 << 26) | (1 << 25) | 0x12)
    assert taken["elr"] == hex(BASE + 16)  # SVC: the preferred return is the next insn
    _, back = record_of(*recorded[2])
    assert back == {"from_el": 2, "to_el": 2, "illegal": False, "pc": hex(BASE + 16),
                    "spsr": back["spsr"], "icount": back["icount"], "counter": back["counter"]}
    assert back["counter"] >= taken["counter"] > 0  # guest time, as CNTPCT_EL0 counts
    assert back["icount"] > taken["icount"]
    _, timer = record_of(*recorded[3])
    assert timer["register"] == "CNTHP_CTL_EL2" and timer["value"] == "0x1"
    assert core.drain_events() == ([], 0)  # drained


def test_a_full_ring_keeps_the_first_events_and_counts_the_rest():
    # an SVC loop: each iteration is one exception and one return
    core = core_with("""
    ldr x0, =0x40000800
    msr vbar_el2, x0
1:  svc #0
    b 1b
    .balign 0x800
    .skip 0x200
    eret
""")
    core.run(3 * EV_SLOTS * 3)
    recorded, lost = core.drain_events()
    assert len(recorded) == EV_SLOTS and lost > 0
    assert [record_of(*r)[0] for r in recorded[:3]] == ["sysreg_write", "exception",
                                                        "exception_return"]


class ListLogger:
    def __init__(self):
        self.records = []

    def info(self, event, **fields):
        self.records.append((event, fields))

    warning = info


def test_log_events_turns_the_ring_into_records_and_reports_losses():
    core = core_with(PROGRAM)
    core.run(1000)
    logger = ListLogger()
    log_events(core, logger)
    assert [e for e, _ in logger.records] == ["sysreg_write", "exception", "exception_return",
                                              "timer_control"]
    log_events(core, logger)  # nothing new
    assert len(logger.records) == 4
    core.cpu[events.EV_COUNT] = EV_SLOTS + 5  # as if 5 more had come after a full ring
    log_events(core, logger)
    assert logger.records[-1] == ("events_lost", {"count": 5})
