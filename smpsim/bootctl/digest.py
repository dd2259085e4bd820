"""What a run did, as the guest and its machine saw it, without the host: the digest
that `smpsim replay` compares (DESIGN.md §5).

A run's *trace* is its console output and its guest-visible records — the CPUs'
(power on and off, exceptions, watched register writes, injections, where each CPU
was when the run ended), the guest's own (console lines, `@event` records) and the
firmware's (PSCI calls) — without what only the host decides: host timestamps,
process ids, compile times, the services' start and stop, the run's wall time. The
records are taken per component, in the order that component wrote them (processes
append to one file concurrently, so the file's interleaving of components is the
host's), and the components in name order. Its *digest* is the SHA-256 of the trace
and the run's exit status.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

from smpsim import log

HOST_FIELDS = frozenset({"ts", "pid", "level"})
HOST_EVENTS = frozenset({
    "run_start", "run_end", "machine_started", "jit_compiled", "gic_started", "gic_stopped",
    "devices_started", "devices_stopped", "console_not_drained", "timeout", "bad_message",
    "bad_control_message", "unexpected_message", "hung",
})


def records(run_dir: str | pathlib.Path) -> list[dict]:
    """The run's guest-visible records, host fields left out: per component, in its
    own order; components in name order."""
    by_component: dict[str, list[dict]] = {}
    for record in log.read_events(pathlib.Path(run_dir) / log.EVENTS_FILE):
        if record.get("event") in HOST_EVENTS:
            continue
        kept = {k: v for k, v in record.items() if k not in HOST_FIELDS}
        by_component.setdefault(str(record.get("component")), []).append(kept)
    return [r for name in sorted(by_component) for r in by_component[name]]


def trace_lines(run_dir: str | pathlib.Path) -> list[str]:
    """The trace as lines: the console, then one JSON line per record."""
    console = pathlib.Path(run_dir) / "console.log"
    text = console.read_bytes().decode("utf-8", "replace") if console.exists() else ""
    lines = [f"console {line}" for line in text.splitlines()]
    lines += [json.dumps(r, sort_keys=True, separators=(",", ":")) for r in records(run_dir)]
    return lines


def digest(run_dir: str | pathlib.Path, status: int) -> str:
    h = hashlib.sha256()
    h.update(f"status {status}\n".encode())
    for line in trace_lines(run_dir):
        h.update(line.encode("utf-8", "replace") + b"\n")
    return h.hexdigest()
