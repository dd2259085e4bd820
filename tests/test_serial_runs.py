"""Serial runs on the process-per-CPU machine (DESIGN.md §5): a seed decides the whole
run, whatever the host does; another seed decides another run."""

import json
import subprocess
import sys

import pytest

from guest_runs import ROOT
from smpsim.bootctl import digest

pytestmark = pytest.mark.slow

KERNEL = ROOT / "topologies" / "kernel-vhe.toml"  # the minikernel on 4 CPUs (~9000 points)
LOAD = "import time\nend = time.time() + 600\nwhile time.time() < end: pass\n"


def serial_run(run_dir, seed, topology=KERNEL, *extra):
    r = subprocess.run([sys.executable, "-m", "smpsim", "run", str(topology), "--mode", "serial",
                        "--seed", str(seed), "--run-dir", str(run_dir), *extra],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    return summary, (run_dir / "schedule.log").read_text()


def test_the_same_seed_gives_the_same_run_under_any_host_load(tmp_path):
    first, schedule = serial_run(tmp_path / "quiet", 11)
    assert first["points"] > 1000 and first["switches"] > 100
    load = [subprocess.Popen([sys.executable, "-c", LOAD]) for _ in range(3)]
    try:  # three busy processes on a 2-core host: the CPU processes are descheduled often
        again = [serial_run(tmp_path / f"loaded-{i}", 11) for i in range(2)]
    finally:
        for p in load:
            p.kill()
            p.wait()
    for summary, sched_log in again:
        assert summary["digest"] == first["digest"]
        assert sched_log == schedule
    quiet = digest.trace_lines(tmp_path / "quiet")
    assert digest.trace_lines(tmp_path / "loaded-1") == quiet
    # the trace is the guest's: its console, and records with guest time only
    assert any(line.startswith("console ") and "reboot: Power down" in line for line in quiet)
    assert not any('"ts"' in line or '"pid"' in line for line in quiet)


def test_different_seeds_give_different_schedules(tmp_path):
    runs = [serial_run(tmp_path / f"seed-{seed}", seed) for seed in (1, 2, 3)]
    assert len({sched_log for _, sched_log in runs}) == 3
    assert len({summary["digest"] for summary, _ in runs}) == 3
    for seed in (1, 2, 3):  # each still boots: the schedule changes the order, not the result
        console = (tmp_path / f"seed-{seed}" / "console.log").read_text()
        assert "SMP: Total of 4 processors activated." in console
        assert "reboot: Power down" in console


def test_a_serial_run_records_its_plan_and_its_switches(tmp_path):
    summary, sched_log = serial_run(tmp_path / "r", 5, KERNEL, "--depth", "3", "--points", "4000")
    recorded = json.loads((tmp_path / "r" / "run.json").read_text())
    assert (recorded["mode"], recorded["seed"], recorded["depth"], recorded["points"]) == \
        ("serial", 5, 3, 4000)
    assert sorted(recorded["priorities"]) == [3, 4, 5, 6] and len(recorded["changes"]) == 2
    lines = [line for line in sched_log.splitlines() if not line.startswith("#")]
    assert len(lines) == summary["switches"]
    assert all(" -> cpu" in line and "pc=0x" in line for line in lines)
    points = [int(line.split()[0]) for line in lines]
    assert points == sorted(points) and points[-1] <= summary["points"]
