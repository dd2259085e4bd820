"""Run directories: where everything a run writes lives (DESIGN.md §6, §9).

    RUN_DIR/
        topology.toml     the topology the run used, as given
        run.json          what was run: command line, image, mode, seed, start time, version
        summary.json      (serial and lockstep runs) status, digest, schedule points
        schedule.log      (serial runs) every switch from one CPU to another
        events.jsonl      every process's records (smpsim/log.py)
        console.log       the guest console
        <process>.stderr.log   what each process printed (tracebacks end up here)
        sockets/          the run's ipc endpoints (removed at the end)

By default a run gets `runs/<topology name>-<YYYYmmdd-HHMMSS>[-N]` under the current
directory; `--run-dir` names one (created if missing; an existing one must be empty).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import time

from smpsim import __version__


class RunDirError(ValueError):
    """The run directory cannot be used; str() says why."""


def create(name: str, run_dir: str | os.PathLike | None = None,
           base: str | os.PathLike = "runs") -> pathlib.Path:
    if run_dir is not None:
        path = pathlib.Path(run_dir)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunDirError(f"{path}: exists and is not an empty directory")
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = pathlib.Path(base) / f"{name}-{stamp}"
        n = 1
        while path.exists():
            n += 1
            path = pathlib.Path(base) / f"{name}-{stamp}-{n}"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{path}: cannot create it ({exc.strerror})") from None
    return path.resolve()


def record_run(path: pathlib.Path, topology_path: pathlib.Path, argv: list[str],
               image: str | None, seed: int | None, settings: dict | None = None) -> None:
    """Keep what is needed to understand (and replay) the run later: `settings` are
    the scheduling mode's (mode, quantum, PCT's depth and points, the plan)."""
    shutil.copyfile(topology_path, path / "topology.toml")
    (path / "run.json").write_text(json.dumps({
        "argv": argv, "topology": str(topology_path), "image": image, "seed": seed,
        **(settings or {}),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "smpsim": __version__,
    }, indent=2) + "\n")


def write_schedule(path: pathlib.Path, switches, total: int) -> None:
    """schedule.log: one line per switch from one CPU to another, (point, time, from,
    to, why, pc) as bootctl/schedule.py records them (the last ones, if there were
    more than it keeps)."""
    from smpsim.bootctl.schedule import WHY_NAMES

    with open(path / "schedule.log", "w") as f:
        f.write(f"# {total} switches; point  counter  from -> to  why  pc of the point\n")
        if total > len(switches):
            f.write(f"# (the first {total - len(switches)} are not kept)\n")
        for point, now, src, dst, why, pc in switches:
            f.write(f"{point:>10} {now:>14}  cpu{src} -> cpu{dst}  "
                    f"{WHY_NAMES.get(why, why)}  pc={pc:#x}\n")
