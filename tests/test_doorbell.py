"""The doorbell segment: words one process writes are what another process reads, and a
ring wakes a process asleep on it."""

import multiprocessing as mp
import pathlib
import time

from smpsim.interconnect import doorbell as db
from smpsim.interconnect import futex


def _ring(name, n_cpus, cpu):
    bells = db.Doorbells.attach(name, n_cpus)
    bells.set(cpu, db.IRQ, 1)
    bells.set(cpu, db.POWER, db.POWER_PEN)
    bells.close()


def test_another_process_sees_the_words_and_the_ring():
    with db.Doorbells.create(4) as bells:
        assert not bells.take_ring(2)
        ctx = mp.get_context("spawn")
        proc = ctx.Process(target=_ring, args=(bells.name, 4, 2))
        proc.start()
        proc.join(timeout=120)
        assert proc.exitcode == 0
        assert bells.get(2, db.IRQ) == 1 and bells.get(2, db.POWER) == db.POWER_PEN
        assert bells.take_ring(2)  # rung (twice: one ring to take)
        assert not bells.take_ring(2)
        assert [bells.get(c, db.IRQ) for c in (0, 1, 3)] == [0, 0, 0]
        assert not any(bells.take_ring(c) for c in (0, 1, 3))


def _sleeper(name, n_cpus, cpu, out):
    bells = db.Doorbells.attach(name, n_cpus)
    bells.words[cpu, db.WAITING] = 1
    t0 = time.monotonic()
    while not bells.take_ring(cpu):
        bells.wait(cpu, 60.0)
    out.put((time.monotonic() - t0, bells.get(cpu, db.EVENT)))
    bells.close()


def test_a_ring_wakes_a_process_asleep_on_its_doorbell():
    assert futex.AVAILABLE  # Linux on x86-64 or AArch64: what smpsim runs on
    with db.Doorbells.create(2) as bells:
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        proc = ctx.Process(target=_sleeper, args=(bells.name, 2, 1, out))
        proc.start()
        deadline = time.monotonic() + 120
        while not bells.get(1, db.WAITING):  # the sleeper is about to sleep
            assert time.monotonic() < deadline and proc.is_alive()
            time.sleep(0.001)
        bells.set(1, db.EVENT, 1)
        slept, event = out.get(timeout=120)
        proc.join(timeout=120)
        assert proc.exitcode == 0 and event == 1
        assert slept < 30  # woken by the ring, not by the 60 s timeout


def test_a_ring_not_taken_yet_makes_wait_return_at_once():
    with db.Doorbells.create(1) as bells:
        bells.ring(0)
        t0 = time.monotonic()
        bells.wait(0, 30.0)
        assert time.monotonic() - t0 < 10
        assert bells.take_ring(0)


def test_the_owner_removes_the_segment():
    bells = db.Doorbells.create(2)
    name = bells.name
    bells.close()
    assert not pathlib.Path("/dev/shm", name).exists()
