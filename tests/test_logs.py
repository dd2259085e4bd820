"""Structured logs: every process appends whole JSON records to events.jsonl, and
`smpsim logs` filters and follows them."""

import json
import multiprocessing as mp
import subprocess
import sys
import threading

import pytest

from smpsim import log


def _writer(run_dir, component, n):
    logger = log.get_logger(component, run_dir)
    for i in range(n):
        logger.info("tick", i=i, payload="x" * 200)


def test_records_of_concurrent_processes_never_interleave(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), f"cpu{c}", 500)) for c in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    lines = (tmp_path / log.EVENTS_FILE).read_text().splitlines()
    records = [json.loads(line) for line in lines]  # a torn line would not parse
    assert len(records) == 2000
    for c in range(4):
        ticks = [r["i"] for r in records if r["component"] == f"cpu{c}"]
        assert ticks == list(range(500))  # each process's records in its order
    assert all({"event", "component", "level", "ts"} <= set(r) for r in records)


def _smpsim(*args, **kw):
    return subprocess.run([sys.executable, "-m", "smpsim", *map(str, args)],
                          capture_output=True, text=True, timeout=120, **kw)


def test_smpsim_logs_filters_by_cpu_and_event(tmp_path):
    for comp, event in [("bootctl", "run_start"), ("cpu0", "exception_taken"),
                        ("cpu1", "exception_taken"), ("cpu1", "psci_call"), ("gic", "sgi")]:
        log.get_logger(comp, tmp_path).info(event, x=1)
    r = _smpsim("logs", tmp_path, "--cpu", 1, "--json")
    assert [json.loads(line)["event"] for line in r.stdout.splitlines()] == \
        ["exception_taken", "psci_call"]
    r = _smpsim("logs", tmp_path, "--event", "exception_*")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2
    assert "cpu0" in r.stdout and "exception_taken" in r.stdout and "x=1" in r.stdout


@pytest.mark.parametrize("pattern, expected", [
    ("demote", ["demote_start", "demote_end"]),      # a word: it and the events it begins
    ("demote_end", ["demote_end"]),
    ("demo", []),                                   # not a word of theirs
    ("*mote*", ["demote_start", "demote_end", "promote_end", "demoted"]),
])
def test_an_event_word_finds_the_events_it_begins(tmp_path, pattern, expected):
    for event in ("demote_start", "demote_end", "promote_end", "demoted"):
        log.get_logger("cpu1", tmp_path).info(event)
    records = [r for r in log.read_events(tmp_path / log.EVENTS_FILE)
               if log.matches(r, None, pattern)]
    assert [r["event"] for r in records] == expected


def test_smpsim_logs_follows_until_the_run_ends(tmp_path):
    logger = log.get_logger("bootctl", tmp_path)
    logger.info("run_start")
    proc = subprocess.Popen([sys.executable, "-m", "smpsim", "logs", str(tmp_path), "-f",
                             "--json"], stdout=subprocess.PIPE, text=True)
    got = [json.loads(proc.stdout.readline())["event"]]

    def later():
        logger.info("console", line="hello")
        logger.info(log.RUN_END, status=0)

    threading.Thread(target=later).start()
    for line in proc.stdout:
        got.append(json.loads(line)["event"])
    assert proc.wait(timeout=120) == 0
    assert got == ["run_start", "console", log.RUN_END]


def test_smpsim_logs_on_a_missing_run_dir_is_one_clear_error(tmp_path):
    r = _smpsim("logs", tmp_path / "nope")
    assert r.returncode == 2 and "no events file" in r.stderr and "Traceback" not in r.stderr
