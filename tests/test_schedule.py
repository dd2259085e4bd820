"""The serial scheduler's decisions (bootctl/schedule.py), on its shared words alone:
PCT's priorities and change points, giving way, waking, idle time, a hung machine."""

import numpy as np
import pytest

from smpsim.bootctl import schedule as sched
from smpsim.bootctl.explore import pct_bound
from smpsim.interconnect import doorbell


@pytest.fixture
def machine():
    bells = doorbell.Doorbells.create(4)
    made = []

    def make(priorities=(4, 3, 2, 1), changes=(), depth=1):
        plan = sched.Plan(0, depth, 1000, tuple(priorities), tuple(changes))
        s = sched.Schedule.create(4, plan)
        made.append(s)
        return s

    ram = np.zeros(4096, dtype=np.uint8)
    yield make, bells, ram
    for s in made:
        s.close()
    bells.close()


def _all_runnable(s):
    for cpu in range(4):
        s.set_state(cpu, sched.RUNNABLE)


def test_a_plan_is_a_function_of_its_seed():
    a = sched.Plan.from_seed(7, 4, depth=3, points=500)
    assert a == sched.Plan.from_seed(7, 4, depth=3, points=500)
    assert sorted(a.priorities) == [3, 4, 5, 6]  # distinct, above every change point's
    assert len(a.changes) == 2 and all(1 <= c <= 500 for c in a.changes)
    plans = {sched.Plan.from_seed(seed, 4, 3, 500) for seed in range(20)}
    assert len({p.priorities for p in plans}) > 5


def test_the_highest_priority_cpu_that_can_run_runs(machine):
    make, bells, ram = machine
    s = make(priorities=(1, 4, 2, 3))
    _all_runnable(s)
    assert s.pass_turn(0, 100, sched.WHY_POINT, 0, ram, bells) == 1
    assert int(s.glob[sched.TURN]) == 1 and int(s.glob[sched.POINTS]) == 1
    s.set_state(1, sched.OFF)
    assert s.pass_turn(1, 150, sched.WHY_OFF, 0, ram, bells) == 3
    assert int(s.glob[sched.TIME]) == 150  # the turn holder's time is the machine's
    assert s.switches()[-1][2:4] == (1, 3)


def test_a_change_point_lowers_the_running_cpu_below_every_initial_priority(machine):
    make, bells, ram = machine
    s = make(priorities=(5, 4, 3, 2), changes=(3,), depth=2)
    _all_runnable(s)
    assert s.pass_turn(0, 1, sched.WHY_POINT, 0, ram, bells) == 0
    assert s.pass_turn(0, 2, sched.WHY_POINT, 0, ram, bells) == 0
    assert s.pass_turn(0, 3, sched.WHY_POINT, 0, ram, bells) == 1  # point 3: cpu0 -> 1
    assert int(s.signed[0, sched.PRIORITY]) == 1
    assert s.switches()[-1][4] == sched.WHY_CHANGE


def test_giving_way_reaches_every_cpu_in_turn_then_priority_resumes(machine):
    make, bells, ram = machine
    s = make(priorities=(4, 3, 2, 1))
    _all_runnable(s)
    reached = []
    for _ in range(3):  # cpu0 spins; each giving way hands one point to the next down
        nxt = s.pass_turn(0, 0, sched.WHY_YIELD, 0, ram, bells)
        reached.append(nxt)
        assert s.pass_turn(nxt, 0, sched.WHY_POINT, 0, ram, bells) == 0
    assert reached == [1, 2, 3]
    assert s.pass_turn(0, 0, sched.WHY_YIELD, 0, ram, bells) == 1  # (round robin)


def test_a_waiting_cpu_can_run_when_rung_at_its_deadline_or_when_its_word_changes(machine):
    make, bells, ram = machine
    s = make(priorities=(1, 4, 3, 2))
    s.set_state(0, sched.RUNNABLE)
    s.set_waiting(1, None, None)  # WFI, no deadline
    s.set_waiting(2, 500, None)  # a timer at 500
    s.set_waiting(3, None, (64, 8, 0))  # WFE on the word at RAM offset 64
    assert s.pass_turn(0, 10, sched.WHY_POINT, 0, ram, bells) == 0
    bells.set(1, doorbell.EVENT, 1)  # (an SEV rings it)
    assert s.pass_turn(0, 20, sched.WHY_POINT, 0, ram, bells) == 1
    bells.words[1, doorbell.RING] = 0
    assert s.pass_turn(1, 30, sched.WHY_POINT, 0, ram, bells) == 0
    ram[64] = 1
    assert s.pass_turn(0, 40, sched.WHY_POINT, 0, ram, bells) == 3
    ram[64] = 0
    assert s.pass_turn(3, 600, sched.WHY_POINT, 0, ram, bells) == 2  # 600 >= 500


def test_when_every_cpu_waits_time_jumps_to_the_earliest_deadline_or_the_run_is_hung(machine):
    make, bells, ram = machine
    s = make()
    s.set_waiting(0, None, None)
    s.set_waiting(1, 9_000, None)
    s.set_waiting(2, 7_000, None)
    s.set_state(3, sched.OFF)
    assert s.pass_turn(0, 100, sched.WHY_WAIT, 0, ram, bells) == 2
    assert int(s.glob[sched.TIME]) == 7_000
    s.set_waiting(1, None, None)
    s.set_waiting(2, None, None)
    assert s.pass_turn(2, 7_000, sched.WHY_WAIT, 0, ram, bells) == sched.HUNG


def test_pct_bound():
    assert pct_bound(4, 1000, 1, 1) == pytest.approx(0.25)
    assert pct_bound(4, 1000, 2, 1) == pytest.approx(1 / 4000)
    assert pct_bound(4, 10, 2, 200) == pytest.approx(1 - (1 - 1 / 40) ** 200)


def test_a_stall_is_drawn_from_the_seed_and_holds_the_cpu_until_its_time(machine):
    _, bells, ram = machine
    stalled = []
    for seed in (1, 2):
        plan = sched.Plan.from_seed(seed, 4, 1, 1000, stall_ppm=200_000, stall_ticks=5_000)
        s = sched.Schedule.create(4, plan)
        try:
            for cpu in range(4):
                s.set_state(cpu, sched.RUNNABLE)
            turn, points = 0, []
            for _ in range(60):
                turn = s.pass_turn(turn, 1_000, sched.WHY_POINT, 0, ram, bells, may_stall=True)
                for cpu in range(4):  # a CPU whose stall ended runs again (serial.py)
                    if int(s.cpus[cpu, sched.STATE]) == sched.STALLED and cpu == turn:
                        s.set_state(cpu, sched.RUNNABLE)
                points.append(turn)
            assert int(s.glob[sched.STALLS]) > 0
            stalled.append((int(s.glob[sched.STALLS]), points))
        finally:
            s.close()
    assert stalled[0] != stalled[1]  # another seed, other stalls
    # a stalled CPU cannot run before its time; alone, the time jumps to it
    plan = sched.Plan.from_seed(3, 4, 1, 1000, stall_ppm=1_000_000, stall_ticks=5_000)
    s = sched.Schedule.create(4, plan)
    try:
        s.set_state(0, sched.RUNNABLE)
        assert s.pass_turn(0, 100, sched.WHY_POINT, 0, ram, bells, may_stall=True) == 0
        assert int(s.cpus[0, sched.STATE]) == sched.STALLED
        assert 100 < int(s.glob[sched.TIME]) <= 100 + 5_000
        assert int(s.glob[sched.TIME]) == int(s.cpus[0, sched.WAKE_AT])
    finally:
        s.close()
