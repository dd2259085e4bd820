"""`smpsim explore` on the scenario library's races, left to the scheduler
(topologies/explore-*.toml: the race topologies without their [[inject]] entries), and
`smpsim replay` of the seed it finds (README "Hunting a race").

The budget is each topology's [explore] runs (20); the runs are serial, so the verdict
of seed S is the same on every host: these tests cannot be flaky, only right or wrong.
"""

import subprocess
import sys

import pytest

from guest_runs import ROOT

pytestmark = pytest.mark.slow

POINTS = "20000"  # PCT's k (about the schedule points of one run: no probe run needed)


def explore(name, run_dir, *extra):
    return subprocess.run([sys.executable, "-m", "smpsim", "explore",
                           str(ROOT / "topologies" / f"explore-{name}.toml"), "--points", POINTS,
                           "--jobs", "2", "--run-dir", str(run_dir), *extra],
                          capture_output=True, text=True, timeout=1800)


def _failing_seeds(stdout):
    return [int(line.split()[1].rstrip(":")) for line in stdout.splitlines()
            if line.startswith("  seed ")]


@pytest.mark.parametrize("race, record", [("cpu-on", "cpu_escaped"),
                                          ("cpu-off", "enable_hung"),
                                          # (with stalls: the race is a window in time)
                                          ("timer", "tick_lost")])
def test_explore_finds_the_naive_race_and_replay_repeats_it(tmp_path, race, record):
    r = explore(f"{race}-naive", tmp_path / "explore", "--stop-on-failure")
    assert r.returncode == 1, r.stdout + r.stderr[-2000:]
    seeds = _failing_seeds(r.stdout)
    assert seeds, r.stdout
    run_dir = tmp_path / "explore" / f"seed-{seeds[0]}"
    assert "panic" in r.stdout
    events = (run_dir / "events.jsonl").read_text()
    assert f'"event":"{record}"' in events
    assert "PCT: a bug of depth 2" in r.stdout
    # the seed fails the same way every time
    rep = subprocess.run([sys.executable, "-m", "smpsim", "replay", str(run_dir), "--times",
                          "2", "--run-dir", str(tmp_path / "replay")],
                         capture_output=True, text=True, timeout=600)
    assert rep.returncode == 0, rep.stderr[-3000:]
    assert "reproduced exactly (2 replays" in rep.stderr
    for i in (1, 2):
        assert f'"event":"{record}"' in (tmp_path / "replay" / f"replay-{i}" /
                                         "events.jsonl").read_text()


@pytest.mark.parametrize("race", ["cpu-on", "cpu-off", "timer"])
def test_explore_finds_nothing_in_the_fixed_build(tmp_path, race):
    r = explore(f"{race}-fixed", tmp_path / "explore")
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    assert "0 of 20 runs failed" in r.stdout
