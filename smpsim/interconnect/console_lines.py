"""The guest console as log records (DESIGN.md §6: "UART lines"), line by line.

Every whole line of the UART (or of a CPU's semihosting output) becomes a
`console_line` record, dated with the guest time of the CPU that wrote its newline
(`writer`, its `icount` and `counter`). A line of the form

    @event NAME key=value key=value ...

is a guest event instead: a record named NAME with those fields (integers where the
value is one, in decimal or 0x hex), attributed to `cpu<n>` when it has cpu=<n>, so
that `smpsim logs RUN_DIR --event 'demote*' --cpu 2` finds what a guest says of itself.
On QEMU such a line is plain console text: the same image runs on both.
"""

from __future__ import annotations

import re

EVENT_PREFIX = "@event "
MAX_LINE = 4096  # a longer line is cut into records of this many bytes
_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")
_KEY = re.compile(r"[a-z_][a-z0-9_]*\Z")
_RESERVED = {"event", "component", "ts", "level", "source", "writer", "icount", "counter"}


def parse_event(text: str) -> tuple[str, dict] | None:
    """(name, fields) of an @event line, or None if it is not a well-formed one."""
    if not text.startswith(EVENT_PREFIX):
        return None
    words = text[len(EVENT_PREFIX):].split()
    if not words or not _NAME.match(words[0]):
        return None
    fields: dict = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or not _KEY.match(key):
            return None
        fields[f"guest_{key}" if key in _RESERVED else key] = _value(value)
    return words[0], fields


def _value(text: str):
    try:
        return int(text, 0)
    except ValueError:
        return text


class ConsoleLines:
    """Cuts console output into lines, per source (-1: the UART; n: CPU n's
    semihosting), and logs each with `logger`."""

    def __init__(self, logger):
        self.logger = logger
        self._partial: dict[int, bytes] = {}

    def feed(self, data: bytes, source: int,
             writer: tuple[int, int | None, int | None] | None = None) -> None:
        """`data` from `source`; `writer` = (cpu, icount, counter) of the CPU that wrote
        it, when known (the UART's writes carry it)."""
        buffer = self._partial.get(source, b"") + data
        *lines, rest = buffer.split(b"\n")
        while len(rest) > MAX_LINE:
            lines.append(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        self._partial[source] = rest
        for raw in lines:
            self._line(raw.rstrip(b"\r").decode("utf-8", errors="replace"), source, writer)

    def flush(self) -> None:
        """Log the lines still without their newline (at the end of a run)."""
        for source, rest in list(self._partial.items()):
            if rest:
                self._line(rest.decode("utf-8", errors="replace"), source, None)
        self._partial.clear()

    def _line(self, text: str, source: int, writer) -> None:
        origin = "uart" if source < 0 else f"cpu{source}"
        when = {}
        if writer is not None and writer[0] >= 0:
            when["writer"] = f"cpu{writer[0]}"
            if writer[1] is not None:
                when.update(icount=writer[1], counter=writer[2])
        event = parse_event(text)
        if event is None:
            self.logger.info("console_line", text=text, source=origin, **when)
            return
        name, fields = event
        cpu = fields.get("cpu")
        logger = self.logger.bind(component=f"cpu{cpu}") if isinstance(cpu, int) else self.logger
        logger.info(name, source=origin, **when, **fields)
