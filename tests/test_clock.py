"""The clock sources of a CPU's system counter (smpsim/cpu_worker/clock.py)."""

import struct
import time

import numpy as np

from smpsim.cpu_worker.clock import HostClock, VirtualClock
from smpsim.jit.core import Core

BASE = 0x4000_0000
LOOP = struct.pack("<I", 0x14000000)  # b .


def make_core():
    core = Core(np.zeros(1 << 16, dtype=np.uint8), ram_base=BASE)
    core.load(BASE, LOOP)
    core.pc = BASE
    return core


def test_virtual_clock_counts_instructions_only():
    core = make_core()
    clock = VirtualClock(core, frequency=50_000_000, mips=100)  # half a tick an instruction
    start = core.counter
    for _ in range(4):
        clock.before_quantum()
        core.run(10_000)
    assert core.counter - start == 20_000


def test_virtual_clock_skips_idle_time_and_never_goes_back():
    core = make_core()
    clock = VirtualClock(core)
    clock.idle_until(1_000_000)
    assert core.counter == 1_000_000
    clock.idle_until(5)
    assert core.counter == 1_000_000


def test_a_counter_faster_than_the_nominal_cpu_still_counts():
    core = make_core()
    VirtualClock(core, frequency=1_000_000_000, mips=100)
    core.run(1000)
    assert core.counter == 500  # two instructions a tick


def test_host_clock_follows_the_host():
    core = make_core()
    clock = HostClock(core, frequency=1_000_000)  # 1 MHz: a tick a microsecond
    t0 = time.monotonic()
    before = core.counter
    while time.monotonic() - t0 < 0.02:
        pass
    clock.before_quantum()
    assert core.counter - before >= 20_000  # at least the 20 ms that passed


def test_host_clock_idle_gives_up_at_the_deadline():
    core = make_core()
    clock = HostClock(core, frequency=1_000_000)
    far = core.counter + 10**12  # ~11 days away
    t0 = time.monotonic()
    assert clock.idle_until(far, deadline=t0 + 0.05) is False
    assert time.monotonic() - t0 >= 0.05
    near = clock.now() + 1000  # a millisecond away
    assert clock.idle_until(near, deadline=time.monotonic() + 60) is True
    assert core.counter >= near


def test_host_clock_keeps_a_busy_core_in_step_with_the_host():
    # a core faster than the nominal 100 MIPS must not run its counter ahead of the host
    # (the count never goes back: it would then stand still, or drift ever further ahead)
    core = make_core()
    clock = HostClock(core)  # 62.5 MHz
    t0, before = time.monotonic_ns(), core.counter
    while time.monotonic_ns() - t0 < 200_000_000:  # 200 ms of quanta
        clock.before_quantum()
        core.run(10_000)
    clock.before_quantum()
    host_ticks = (time.monotonic_ns() - t0) * 62_500_000 // 10**9
    assert 0.97 < (core.counter - before) / host_ticks < 1.05


def test_host_clocks_of_one_run_count_from_one_epoch():
    """The system counter is one for every PE: CPU processes that start at different
    times must read the same count at the same moment (a CPU whose counter lagged one
    started earlier sent Linux's timekeeping back in time, and it hung)."""
    epoch = time.monotonic_ns()
    first, second = make_core(), make_core()
    a = HostClock(first, frequency=1_000_000, epoch_ns=epoch)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.03:  # the second CPU process starts 30 ms later
        pass
    b = HostClock(second, frequency=1_000_000, epoch_ns=epoch)
    a.before_quantum()
    b.before_quantum()
    assert abs(first.counter - second.counter) < 5_000  # within 5 ms (not 30)
    assert second.counter >= 30_000
    lone = make_core()
    HostClock(lone, frequency=1_000_000).before_quantum()  # without an epoch: from its start
    assert lone.counter < 5_000


def test_a_free_run_s_counter_registers_read_the_host_clock_even_when_the_core_lags():
    """A CPU process the host deschedules retires no instructions meanwhile; its count
    must not lag behind what the other CPUs have read (Linux's timekeeping hung on a
    count that went back). The counter registers read the host's clock at each read."""
    # mrs x0, cntpct_el0; mrs x1, cntvct_el0; brk #0
    program = struct.pack("<3I", 0xD53BE020, 0xD53BE041, 0xD4200000)
    core = Core(np.zeros(1 << 16, dtype=np.uint8), ram_base=BASE)
    core.load(BASE, program)
    core.pc = BASE
    epoch = time.monotonic_ns()
    clock = HostClock(core, frequency=1_000_000, epoch_ns=epoch)
    clock.before_quantum()  # re-based now; then the process is "descheduled" for 50 ms
    time.sleep(0.05)
    before = (time.monotonic_ns() - epoch) // 1000
    core.run(2)
    after = (time.monotonic_ns() - epoch) // 1000
    assert before <= core.x(0) <= core.x(1) <= after  # (CNTVOFF_EL2 is 0)
    assert core.x(0) >= 50_000
    assert core.counter >= core.x(1)  # the core's own count was moved on with it
    lone = make_core()  # a clock without the run's epoch counts instructions, as before
    HostClock(lone, frequency=1_000_000).before_quantum()
    assert lone.counter < 5_000
