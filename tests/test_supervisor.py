"""Launching and supervising the processes of a run: READY/START, deaths reported with
the process's last words, everyone reaped, nobody outliving a killed supervisor."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import zmq

from smpsim.bootctl.supervisor import LaunchError, Supervisor, alive
from smpsim.interconnect import protocol
from smpsim.interconnect.sockets import Endpoints

TESTS = pathlib.Path(__file__).resolve().parent


@pytest.fixture
def sup(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    ctx = zmq.Context()
    ends = Endpoints(tmp_path)
    s = Supervisor(tmp_path, ends, ctx)
    yield s
    if not s.socket.closed:
        s.shutdown("test over", grace=1.0)
    ends.cleanup()
    ctx.term()


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_every_process_says_ready_then_runs_until_stop(sup):
    for i in range(3):
        sup.launch(f"w{i}", "supervised_worker", [])
    sup.wait_ready(60)
    sup.broadcast(protocol.encode("START"))
    seen = set()
    deadline = time.monotonic() + 60
    while len(seen) < 3 and time.monotonic() < deadline:
        got = sup.receive(200)
        if got:
            seen.add(protocol.decode(got[1])["data"])
    assert seen == {b"w0 started\n", b"w1 started\n", b"w2 started\n"}
    pids = sup.pids()
    sup.shutdown("done")
    assert all(c.process.returncode == 0 for c in sup.children.values())
    assert not any(alive(p) for p in pids)


@pytest.mark.parametrize("behave, message", [
    ("crash", r"w1 \(pid \d+\) exited with status 3 before it was ready; its last words: "
              "worker: something went wrong on purpose"),
    ("old", "w1: w1 speaks protocol version 0, this build speaks"),
])
def test_a_process_that_cannot_start_is_named(sup, behave, message):
    sup.launch("w0", "supervised_worker", [])
    sup.launch("w1", "supervised_worker", ["--behave", behave])
    with pytest.raises(LaunchError, match=message):
        sup.wait_ready(60)


def test_a_silent_process_times_out(sup):
    sup.launch("w0", "supervised_worker", ["--behave", "silent"])
    with pytest.raises(LaunchError, match="not ready after 1 s: w0"):
        sup.wait_ready(1)


def test_a_process_killed_mid_run_is_reported_and_the_rest_stopped(sup):
    for i in range(2):
        sup.launch(f"w{i}", "supervised_worker", [])
    sup.wait_ready(60)
    sup.broadcast(protocol.encode("START"))
    victim = sup.children["w1"].process
    victim.send_signal(signal.SIGKILL)
    assert wait_for(lambda: sup.dead() is not None)
    assert "w1 (pid" in sup.describe_death(sup.dead()) and "SIGKILL" in sup.describe_death(sup.dead())
    pids = sup.pids()
    sup.shutdown("w1 died")
    assert not any(alive(p) for p in pids)


def test_a_process_that_ignores_stop_is_killed(sup):
    sup.launch("w0", "supervised_worker", ["--behave", "ignore_stop"])
    sup.wait_ready(60)
    sup.broadcast(protocol.encode("START"))
    sup.shutdown("done", grace=0.5)
    assert sup.children["w0"].process.returncode == -signal.SIGKILL


SUPERVISOR_SCRIPT = """
import pathlib, sys, time, zmq
from smpsim.bootctl.supervisor import Supervisor
from smpsim.interconnect import protocol
from smpsim.interconnect.sockets import Endpoints
run = pathlib.Path(sys.argv[1])
s = Supervisor(run, Endpoints(run), zmq.Context())
for i in range(2):
    s.launch(f"w{i}", "supervised_worker", [])
s.wait_ready(60)
s.broadcast(protocol.encode("START"))
print(" ".join(map(str, s.pids())), flush=True)
time.sleep(600)
"""


def test_nothing_outlives_a_killed_supervisor(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    boss = subprocess.Popen([sys.executable, "-c", SUPERVISOR_SCRIPT, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in boss.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
    finally:
        boss.kill()
        boss.wait()
    assert wait_for(lambda: not any(alive(p) for p in pids)), "a worker outlived its supervisor"
