"""Lockstep runs bound the skew of guest time between CPUs (DESIGN.md §5): every CPU
runs a quantum of `run.quantum` instructions and waits at a barrier, and the system
counter is virtual (counter ticks per instruction from VirtualClock.rate), so no CPU's
count is ever a whole quantum ahead of another's.

guests/lockstep_skew.s on topologies/lockstep-skew.toml (four CPUs, each its own
process, a few million instructions each): every CPU keeps storing its counter in a
shared slot, and after loading another CPU's slot reads its own counter; the guest
prints, per CPU, the largest `other - own` it saw, in ticks. Each must be below one
quantum's worth of ticks. The values themselves depend on how the processes interleave
inside a quantum (the guest reads what the others write in the same quantum), so only
the bound is checked, never the exact lines.
"""

import pathlib
import re
import subprocess
import sys

import pytest
from guest_runs import committed_image

from smpsim.bootctl import topology
from smpsim.cpu_worker.clock import VirtualClock

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "topologies" / "lockstep-skew.toml"
CPUS = 4
TIMEOUT = 600  # seconds; a run takes a few on an idle host, far more on a loaded one
MAX_AHEAD = re.compile(r"cpu(\d+) max ahead (-?\d+)")


@pytest.fixture(scope="module")
def topo():
    committed_image("lockstep_skew")
    t = topology.load(TOPOLOGY)
    assert t.run.mode == "lockstep"  # the bound is lockstep's; free runs have none
    return t


def run_skew(run_dir: pathlib.Path, *options: str) -> dict[int, int]:
    """One lockstep run of the guest; each CPU's largest ahead, in ticks."""
    r = subprocess.run([sys.executable, "-m", "smpsim", "run", str(TOPOLOGY),
                        "--run-dir", str(run_dir), *options],
                       capture_output=True, text=True, timeout=TIMEOUT)
    lines = r.stdout.replace("\r", "").splitlines()
    assert r.returncode == 0, f"exit status {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "skew done" in lines, r.stdout + r.stderr
    found = {int(m[1]): int(m[2]) for m in map(MAX_AHEAD.fullmatch, lines) if m}
    assert sorted(found) == list(range(CPUS)), r.stdout
    return found


def assert_within_a_quantum(ahead: dict[int, int], quantum: int, frequency: int):
    ticks = quantum * VirtualClock.rate(frequency)
    over = {cpu: v for cpu, v in ahead.items() if v >= ticks}
    assert not over, (f"a CPU saw another's count a whole quantum ahead of its own: "
                      f"quantum {quantum} instructions = {ticks:g} ticks; max ahead by CPU "
                      f"{ahead}; at or over the bound: {over}")


def test_no_cpu_is_a_quantum_ahead(topo, tmp_path):
    ahead = run_skew(tmp_path / "run")
    assert_within_a_quantum(ahead, topo.run.quantum, topo.machine.counter_frequency)


def test_the_bound_follows_the_quantum(topo, tmp_path):
    """With --quantum 2000 (a fifth of the topology's) the skew stays below that
    quantum: the bound is the quantum's, not some other slack."""
    quantum = 2000
    assert quantum < topo.run.quantum
    ahead = run_skew(tmp_path / "run", "--quantum", str(quantum))
    assert_within_a_quantum(ahead, quantum, topo.machine.counter_frequency)
