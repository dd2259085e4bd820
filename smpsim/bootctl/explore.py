"""`smpsim explore` and `smpsim replay` (DESIGN.md §5): many serial runs of one
topology, each with its own seed, judged by the same checks; and one seed again.

Each run is a `smpsim run --mode serial --seed S` of its own (a separate bootctl with
its processes), so runs go in parallel up to the host's cores and one that goes wrong
cannot disturb another. A run fails by its exit status (anything but 0; 124 is a
timeout or a hung machine), by a panic on its console ("Kernel panic"), or by a check:
a record that must appear and did not, or must not appear and did (events matched as
`smpsim logs --event` matches them).

PCT's guarantee (Burckhardt et al., ASPLOS 2010): with n CPUs and k schedule points, a
bug of depth d is found by one run with probability at least 1 / (n k^(d-1)); N runs
find it with probability at least 1 - (1 - 1/(n k^(d-1)))^N.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

from smpsim import log
from smpsim.bootctl import digest as run_digest

PANIC = "Kernel panic"


@dataclasses.dataclass(frozen=True)
class Checks:
    must: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class RunResult:
    seed: int
    status: int
    run_dir: pathlib.Path
    failure: str  # "" when the run passed
    points: int
    digest: str | None
    seconds: float


def pct_bound(n_cpus: int, points: int, depth: int, runs: int) -> float:
    """The probability PCT gives that `runs` runs find a bug of depth `depth`."""
    p = 1.0 / (n_cpus * max(points, 1) ** (depth - 1))
    return 1.0 - (1.0 - p) ** runs


def judge(run_dir: pathlib.Path, status: int, checks: Checks) -> str:
    """Why the run failed ("" if it did not)."""
    console = run_dir / "console.log"
    text = console.read_text(errors="replace") if console.exists() else ""
    panic = next((line for line in text.splitlines() if PANIC in line), None)
    if status == 124:
        return "timeout or hung (status 124)"
    if status != 0:
        return f"exit status {status}"
    if panic is not None:
        return f"panic: {panic.strip()[:160]}"
    events = run_dir / log.EVENTS_FILE
    records = list(log.read_events(events)) if events.exists() else []
    for pattern in checks.must:
        if not any(log.matches(r, None, pattern) for r in records):
            return f"no {pattern} record"
    for pattern in checks.must_not:
        hit = next((r for r in records if log.matches(r, None, pattern)), None)
        if hit is not None:
            return f"{hit['event']} record ({hit.get('component', '?')})"
    return ""


def run_seed(topology: str, seed: int, run_dir: pathlib.Path, depth: int, points: int,
             timeout: float | None, checks: Checks, extra: list[str]) -> RunResult:
    """One serial run in a process of its own; its verdict."""
    argv = [sys.executable, "-m", "smpsim", "run", topology, "--mode", "serial", "--seed",
            str(seed), "--depth", str(depth), "--points", str(points), "--run-dir",
            str(run_dir), *extra]
    if timeout is not None:
        argv += ["--timeout", str(timeout)]
    t0 = time.monotonic()
    with open(os.devnull, "wb") as null:
        status = subprocess.run(argv, stdout=null, stderr=null).returncode
    summary = _summary(run_dir)
    return RunResult(seed, status, run_dir, judge(run_dir, status, checks),
                     summary.get("points", 0), summary.get("digest"), time.monotonic() - t0)


def _summary(run_dir: pathlib.Path) -> dict:
    try:
        return json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return {}


class Progress:
    """One line on standard error, rewritten in place: [=====>    ] 37/100 runs, 2 failed."""

    WIDTH = 30

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.failed = total, 0, 0
        self.stream = stream
        self.t0 = time.monotonic()

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        filled = self.WIDTH * self.done // self.total
        bar = "=" * filled + (">" if filled < self.WIDTH else "") + " " * (self.WIDTH - filled - 1)
        end = "\n" if self.done == self.total else ""
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} runs, {self.failed} failed, "
                          f"{time.monotonic() - self.t0:.0f} s{end}")
        self.stream.flush()


def explore(topology: str, n_cpus: int, runs: int, depth: int, points: int | None,
            timeout: float | None, checks: Checks, extra: list[str], base: pathlib.Path,
            jobs: int, first_seed: int = 1, keep: bool = False, stop_on_failure: bool = False,
            out=sys.stdout) -> list[RunResult]:
    """Run seeds first_seed .. first_seed + runs - 1 (with `stop_on_failure`, no new run
    starts once one has failed); print the failing ones, the schedule points seen and
    PCT's bound; the results (failing first)."""
    base.mkdir(parents=True, exist_ok=True)
    if points is None:  # PCT's k: the schedule points of a first run (seed 0, depth 1)
        probe = run_seed(topology, 0, base / "points-probe", 1, 1, timeout, checks, extra)
        points = max(probe.points, 1)
        print(f"smpsim explore: {points} schedule points in a first run (seed 0): change "
              f"points are drawn from 1..{points}", file=out)
        if not keep:
            shutil.rmtree(probe.run_dir, ignore_errors=True)
    progress = Progress(runs)
    results: list[RunResult] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_seed, topology, seed, base / f"seed-{seed}", depth, points,
                               timeout, checks, extra)
                   for seed in range(first_seed, first_seed + runs)]
        for future in concurrent.futures.as_completed(futures):
            if future.cancelled():
                continue
            result = future.result()
            results.append(result)
            progress.update(bool(result.failure))
            if not result.failure and not keep:
                shutil.rmtree(result.run_dir, ignore_errors=True)
            if result.failure and stop_on_failure:
                for other in futures:
                    other.cancel()
    runs = len(results)
    if runs < progress.total:
        print(f"\nstopped after the first failure: {runs} runs", file=sys.stderr)
    results.sort(key=lambda r: (not r.failure, r.seed))
    failing = [r for r in results if r.failure]
    seen = sorted(r.points for r in results)
    print(f"{len(failing)} of {runs} runs failed (depth {depth}, {n_cpus} CPUs)", file=out)
    for r in failing:
        print(f"  seed {r.seed}: {r.failure}", file=out)
        print(f"    run directory {r.run_dir}", file=out)
        print(f"    replay: smpsim replay {r.run_dir}", file=out)
    if seen:
        print(f"schedule points per run: min {seen[0]}, median {seen[len(seen) // 2]}, "
              f"max {seen[-1]}", file=out)
    bound = pct_bound(n_cpus, points, depth, runs)
    print(f"PCT: a bug of depth {depth} is found by these {runs} runs with probability at "
          f"least {bound:.3g} (1 - (1 - 1/(n k^(d-1)))^N, n = {n_cpus}, k = {points})",
          file=out)
    return results


def replay_run_dir(run_dir: pathlib.Path) -> tuple[list[str], dict]:
    """The command line that replays a recorded serial run, and its recorded summary."""
    recorded = json.loads((run_dir / "run.json").read_text())
    if recorded.get("mode") != "serial":
        raise ValueError(f"{run_dir}: a {recorded.get('mode', 'free')} run: only serial runs "
                         "replay exactly")
    argv = [recorded["topology"], "--mode", "serial", "--seed", str(recorded["seed"]),
            "--depth", str(recorded["depth"]), "--points", str(recorded["points"]),
            "--quantum", str(recorded["quantum"]), "--stalls", str(recorded.get("stalls", 0)),
            "--stall-ms", str(recorded.get("stall_ms", 20.0))]
    if recorded.get("image"):
        argv += ["--kernel", recorded["image"]]
    if recorded.get("cmdline") is not None:
        argv += ["--append", recorded["cmdline"]]
    if recorded.get("initrd"):
        argv += ["--initrd", recorded["initrd"]]
    return argv, _summary(run_dir)


def run_again(argv: list[str], run_dir: pathlib.Path) -> dict:
    """Run `smpsim run ARGV --run-dir RUN_DIR` (its console to ours); its summary."""
    subprocess.run([sys.executable, "-m", "smpsim", "run", *argv, "--run-dir", str(run_dir)])
    return _summary(run_dir)


def first_difference(a: pathlib.Path, b: pathlib.Path) -> str:
    """The first line where the traces of two runs differ (digest.py)."""
    left, right = run_digest.trace_lines(a), run_digest.trace_lines(b)
    for i, (x, y) in enumerate(zip(left, right)):
        if x != y:
            return f"line {i + 1}:\n  recorded: {x[:200]}\n  replayed: {y[:200]}"
    if len(left) != len(right):
        return f"the recorded trace has {len(left)} lines, the replay {len(right)}"
    return "the traces are the same; the exit status differs"
