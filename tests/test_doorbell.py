"""The doorbell segment: words one process writes are what another process reads."""

import multiprocessing as mp

from smpsim.interconnect import doorbell as db


def _ring(name, n_cpus, cpu):
    bells = db.Doorbells.attach(name, n_cpus)
    bells.set(cpu, db.IRQ, 1)
    bells.set(cpu, db.POWER, db.POWER_ON_PENDING)
    bells.close()


def test_another_process_sees_the_words_and_the_sequence_moves():
    with db.Doorbells.create(4) as bells:
        before = bells.get(2, db.SEQ)
        ctx = mp.get_context("spawn")
        proc = ctx.Process(target=_ring, args=(bells.name, 4, 2))
        proc.start()
        proc.join(timeout=120)
        assert proc.exitcode == 0
        assert bells.get(2, db.IRQ) == 1 and bells.get(2, db.POWER) == db.POWER_ON_PENDING
        assert bells.get(2, db.SEQ) == before + 2
        assert [bells.get(c, db.IRQ) for c in (0, 1, 3)] == [0, 0, 0]


def test_the_owner_removes_the_segment(tmp_path):
    bells = db.Doorbells.create(2)
    name = bells.name
    bells.close()
    import pathlib
    assert not pathlib.Path("/dev/shm", name).exists()
