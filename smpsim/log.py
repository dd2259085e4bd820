"""One structlog configuration for every process of a run (DESIGN.md §6).

Every record is a JSON line in the run directory's `events.jsonl`, written with one
append and flushed at once, so records of concurrent processes never interleave and
nothing is lost when a process dies. Each carries `event`, `component` (`bootctl`,
`cpu2`, `gic`, `devices`), `level`, the host time `ts` (seconds since the epoch),
and whatever the caller adds (a CPU's guest time and instruction count, say).
With `terminal=True` the records are also shown on standard error, in colour when
that is a terminal.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
import time
from typing import Any, Iterator

import structlog

EVENTS_FILE = "events.jsonl"


class _AppendFile:
    """A file every process appends whole lines to (O_APPEND: one write per record)."""

    def __init__(self, path: str | os.PathLike):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write_line(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode("utf-8", "replace"))


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)


class _Sink:
    """structlog's final stage: the JSON line to the events file, and to the terminal."""

    def __init__(self, events: _AppendFile | None, terminal: bool):
        self.events = events
        self.terminal = terminal
        self.pretty = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()) if terminal else None

    def __call__(self, logger, method_name: str, event_dict: dict) -> str:
        if self.events is not None:
            self.events.write_line(json.dumps(event_dict, default=_json_default,
                                              separators=(",", ":")))
        if self.pretty is not None:
            shown = {k: v for k, v in event_dict.items() if k not in ("ts",)}
            print(self.pretty(logger, method_name, shown), file=sys.stderr, flush=True)
        return ""


class _NullLogger:
    def msg(self, message: str) -> None:
        pass

    debug = info = warning = error = critical = exception = msg


def _add_level(logger, method_name: str, event_dict: dict) -> dict:
    event_dict.setdefault("level", "warning" if method_name == "warn" else method_name)
    return event_dict


def _add_time(logger, method_name: str, event_dict: dict) -> dict:
    event_dict.setdefault("ts", round(time.time(), 6))
    return event_dict


def get_logger(component: str, run_dir: str | os.PathLike | None,
               terminal: bool = False, **context: Any):
    """A logger for one component; its records go to RUN_DIR/events.jsonl."""
    events = _AppendFile(os.path.join(run_dir, EVENTS_FILE)) if run_dir is not None else None
    return structlog.wrap_logger(
        _NullLogger(),
        processors=[_add_level, _add_time, _Sink(events, terminal)],
        context_class=dict,
        cache_logger_on_first_use=False,
    ).bind(component=component, **context)


def read_events(path: str | os.PathLike):
    """The records of an events file, oldest first (a torn last line is skipped)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


RUN_END = "run_end"  # bootctl's last record of a run


def follow(path: str | os.PathLike, keep_following: bool, poll: float = 0.2,
           stop_at_run_end: bool = True) -> Iterator[dict]:
    """The records of an events file; with `keep_following`, also those written later,
    until the run's end record (or forever when `stop_at_run_end` is False)."""
    pending = ""
    with open(path, encoding="utf-8", errors="replace") as f:
        while True:
            chunk = f.read()
            if chunk:
                pending += chunk
                *lines, pending = pending.split("\n")
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    yield record
                    if stop_at_run_end and record.get("event") == RUN_END and keep_following:
                        return
            elif not keep_following:
                return
            else:
                time.sleep(poll)


def matches(record: dict, cpu: int | None, pattern: str | None) -> bool:
    """Whether a record is CPU `cpu`'s and its event matches `pattern`: a shell pattern
    (`exception*`), or a plain word, which names its events and the ones it begins
    (`demote` is demote_start and demote_end; `exception` is exception and
    exception_return)."""
    if cpu is not None and record.get("component") != f"cpu{cpu}":
        return False
    if pattern is None:
        return True
    name = str(record.get("event", ""))
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern or name.startswith(pattern + "_")


def format_record(record: dict) -> str:
    """One readable line: time, component, event, then the other fields."""
    ts = record.get("ts")
    when = time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}" \
        if isinstance(ts, (int, float)) else "--:--:--.---"
    rest = " ".join(f"{k}={v}" for k, v in record.items()
                    if k not in ("ts", "component", "event", "level"))
    level = record.get("level", "info")
    mark = "" if level in ("info", "debug") else f" [{level}]"
    return f"{when} {record.get('component', '?'):<8} {record.get('event', '?')}{mark} {rest}".rstrip()
