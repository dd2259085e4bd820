"""The guest console as log records (interconnect/console_lines.py): whole lines per
source, and `@event` lines as records of their own."""

import pytest

from smpsim.interconnect.console_lines import MAX_LINE, ConsoleLines, parse_event


class Recorder:
    """A logger that keeps (component, event, fields) of each record."""

    def __init__(self, component="devices", records=None):
        self.component = component
        self.records = [] if records is None else records

    def bind(self, component):
        return Recorder(component, self.records)

    def info(self, event, **fields):
        self.records.append((self.component, event, fields))


@pytest.mark.parametrize("text, expected", [
    ("@event demote_start cpu=2 el=2", ("demote_start", {"cpu": 2, "el": 2})),
    ("@event timer_remapped cpu=0 from=0x1e to=26 how=inject",
     ("timer_remapped", {"cpu": 0, "from": 30, "to": 26, "how": "inject"})),
    ("@event smp_done", ("smp_done", {})),
    ("@event panic cpu=1 event=x level=y", ("panic", {"cpu": 1, "guest_event": "x",
                                                      "guest_level": "y"})),
    ("@event Bad-Name cpu=1", None),
    ("@event ok cpu", None),  # a field without "="
    ("@event", None),
    ("event demote cpu=1", None),
    ("CPU1: Booted secondary processor", None),
])
def test_parse_event(text, expected):
    assert parse_event(text) == expected


def test_lines_are_whole_per_source_and_events_are_records_of_their_cpu():
    log = Recorder()
    lines = ConsoleLines(log)
    lines.feed(b"CPU0: hel", -1)
    lines.feed(b"semihost", 3)  # another source in between: its own line
    lines.feed(b"lo\r\n@event vhe_enabled cpu=1\n@event broken cpu\npartial", -1)
    lines.feed(b"ed\n", 3)
    assert log.records == [
        ("devices", "console_line", {"text": "CPU0: hello", "source": "uart"}),
        ("cpu1", "vhe_enabled", {"source": "uart", "cpu": 1}),
        ("devices", "console_line", {"text": "@event broken cpu", "source": "uart"}),
        ("devices", "console_line", {"text": "semihosted", "source": "cpu3"}),
    ]
    lines.flush()  # the end of the run: what has no newline yet
    assert log.records[-1] == ("devices", "console_line", {"text": "partial", "source": "uart"})


def test_a_line_without_end_is_cut_not_kept_forever():
    log = Recorder()
    lines = ConsoleLines(log)
    lines.feed(b"x" * (2 * MAX_LINE + 10), -1)
    assert [len(f["text"]) for _, _, f in log.records] == [MAX_LINE, MAX_LINE]
    lines.flush()
    assert len(log.records[-1][2]["text"]) == 10


def test_a_line_carries_the_guest_time_of_the_cpu_that_wrote_its_newline():
    log = Recorder()
    lines = ConsoleLines(log)
    lines.feed(b"@event demote_start cpu=2", -1, (2, 100, 50))
    lines.feed(b"\nhello\n", -1, (2, 120, 60))  # (the newline's writer dates the line)
    lines.feed(b"semihosted\n", 1, (1, None, None))  # (CONSOLE messages carry no time)
    assert log.records == [
        ("cpu2", "demote_start", {"source": "uart", "writer": "cpu2", "icount": 120,
                                  "counter": 60, "cpu": 2}),
        ("devices", "console_line", {"text": "hello", "source": "uart", "writer": "cpu2",
                                     "icount": 120, "counter": 60}),
        ("devices", "console_line", {"text": "semihosted", "source": "cpu1",
                                     "writer": "cpu1"}),
    ]
