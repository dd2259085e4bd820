"""The `smpsim` command line.

    smpsim run TOPOLOGY [--kernel IMAGE] [--timeout S]   run a machine (one CPU for now)
    smpsim check TOPOLOGY     validate a topology and print the machine it describes
    smpsim explore TOPOLOGY --runs N --depth D   hunt a race: many seeds of a serial run
    smpsim replay RUN_DIR     run a recorded serial run again and compare its digest
    smpsim compile            compile the jit core into Numba's cache (once per install)
    smpsim decode WORD...     what the decoder makes of A64 instruction words
    smpsim version

Bad command lines exit with status 2 and one line of error, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import time

from smpsim import __version__


def _cmd_compile(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    from smpsim.jit.compile import warm_cache

    warm_cache()
    print(f"jit core ready in {time.perf_counter() - t0:.1f} s")
    return 0


def _parse_word(text: str) -> int:
    try:
        value = int(text, 16) if not text.lower().startswith("0x") else int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a hexadecimal instruction word")
    if not 0 <= value <= 0xFFFF_FFFF:
        raise argparse.ArgumentTypeError(f"{text!r} does not fit in 32 bits")
    return value


def _cmd_decode(args: argparse.Namespace) -> int:
    from smpsim.jit import a64_decoder, decodegen, ops
    from smpsim.jit.records import F_OP

    patterns = [p for p in decodegen.load_spec() if p.implemented]
    for word in args.words:
        record = a64_decoder.decode(word)
        match = next((p for p in patterns if p.matches(word)), None)
        where = f"{match.module}.{match.name}" if match else "no pattern"
        fields = " ".join(f"{name}={int(v):#x}" for name, v in zip("dnmaixy", record[1:]))
        print(f"{word:08x}  {ops.name(int(record[F_OP])):<12} {where:<45} {fields}")
    return 0


def _load_topology(path: str):
    from smpsim.bootctl import topology

    try:
        return topology.load(path)
    except topology.TopologyError as exc:
        print(f"smpsim: {exc}", file=sys.stderr)
        return None


def with_run_options(topo, args: argparse.Namespace):
    """The topology with the command line's --mode, --seed, --depth, --points and
    --quantum in its [run] table; None (after one line) for a bad value."""
    from smpsim.bootctl.topology import MAX_DEPTH

    checks = (("seed", 0, 1 << 63), ("depth", 1, MAX_DEPTH), ("points", 1, 10**12),
              ("quantum", 1, 10**9))
    changes = {}
    for name, lo, hi in checks:
        value = getattr(args, name, None)
        if value is None:
            continue
        if not lo <= value <= hi:
            print(f"smpsim: --{name}: expected {lo} to {hi}, got {value}", file=sys.stderr)
            return None
        changes[name] = value
    for name in ("stalls", "stall_ms"):
        value = getattr(args, name, None)
        if value is None:
            continue
        if not (0 <= value <= 1 if name == "stalls" else 0 < value <= 10_000):
            print(f"smpsim: --{name.replace('_', '-')}: out of range: {value}", file=sys.stderr)
            return None
        changes[name] = value
    if getattr(args, "mode", None):
        changes["mode"] = args.mode
    return dataclasses.replace(topo, run=dataclasses.replace(topo.run, **changes))


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=("free", "lockstep", "serial"),
                   help="instead of run.mode: free (parallel, host time), lockstep (quanta "
                        "and a barrier) or serial (one CPU at a time, reproducible)")
    p.add_argument("--seed", type=int, metavar="N", help="the serial scheduler's seed")
    p.add_argument("--depth", type=int, metavar="D",
                   help="PCT's depth: D-1 priority change points (serial)")
    p.add_argument("--points", type=int, metavar="K",
                   help="how many schedule points the change points are drawn from (serial)")
    p.add_argument("--quantum", type=int, metavar="N",
                   help="instructions per lockstep quantum, or between two serial schedule "
                        "points at most")
    p.add_argument("--stalls", type=float, metavar="P",
                   help="the probability that a CPU stalls at a schedule point (serial)")
    p.add_argument("--stall-ms", type=float, metavar="MS",
                   help="the longest stall, in milliseconds of guest time (serial)")


def _cmd_run(args: argparse.Namespace) -> int:
    from smpsim.bootctl import runner

    topo = _load_topology(args.topology)
    if topo is None:
        return runner.EXIT_USAGE
    if args.timeout is not None and args.timeout <= 0:
        print("smpsim: --timeout: expected a positive number of seconds", file=sys.stderr)
        return runner.EXIT_USAGE
    topo = with_run_options(topo, args)
    if topo is None:
        return runner.EXIT_USAGE
    if args.run_dir is not None or (topo.run.processes if topo.run.processes is not None
                                    else len(topo.cpus) > 1):
        # the process-per-CPU machine (issue 4, being built): one process per CPU, the
        # GIC and device services, a run directory
        from smpsim.bootctl import machine

        res = machine.run(topo, image_path=args.kernel, timeout=args.timeout,
                          run_dir=args.run_dir, argv=sys.argv[1:], cmdline=args.append,
                          dtb_path=args.dtb, initrd_path=args.initrd,
                          symbols_path=args.symbols)
        if res.report:
            print(res.report, file=sys.stderr)
        where = f" (run directory {res.run_dir})" if res.run_dir else ""
        if res.digest:
            where = (f"; {topo.run.mode}, {res.points} schedule points, {res.switches} "
                     f"switches, digest {res.digest[:16]}{where}")
        print(f"smpsim: {res.reason}; {res.seconds:.2f} s{where}", file=sys.stderr)
        return res.status
    out = runner.run(topo, image_path=args.kernel, timeout=args.timeout, cmdline=args.append,
                     dtb_path=args.dtb, initrd_path=args.initrd)
    mips = out.instructions / out.seconds / 1e6 if out.seconds > 0 else 0.0
    print(f"smpsim: {out.reason}; {out.instructions} instructions in {out.seconds:.2f} s "
          f"({mips:.0f} MIPS)", file=sys.stderr)
    return out.status


def _cmd_dtb(args: argparse.Namespace) -> int:
    from smpsim.bootctl import devicetree, images

    topo = _load_topology(args.topology)
    if topo is None:
        return 2
    if args.initrd or topo.boot.initrd:  # its range depends on where the image goes
        try:
            image = images.for_topology(topo, args.kernel)
            blob = images.device_tree(topo, image, args.append, None, args.initrd)[0].data
        except images.ImageError as exc:
            print(f"smpsim: {exc}", file=sys.stderr)
            return 2
    else:
        blob = devicetree.for_topology(topo, args.append)
    try:
        pathlib.Path(args.output).write_bytes(blob)
    except OSError as exc:
        print(f"smpsim: {args.output}: cannot write: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"smpsim: {args.output}: the device tree of {topo.path} ({len(blob)} bytes; "
          f"dtc -I dtb -O dts {args.output} shows it)", file=sys.stderr)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    topo = _load_topology(args.topology)
    if topo is None:
        return 2
    from smpsim.bootctl import images

    image = None
    try:
        if topo.boot.image is not None:  # the default image must load too (as `run` would)
            image = images.for_topology(topo)
        # and the injections' places must resolve (a symbol needs the image)
        places = [images.resolve(topo, image, inj.at)
                  if image is not None or isinstance(inj.at, int) else None
                  for inj in topo.injections]
    except images.ImageError as exc:
        print(f"smpsim: {exc}", file=sys.stderr)
        return 2
    m, b, r = topo.machine, topo.boot, topo.run
    print(f"{m.name}: {m.description}" if m.description else m.name)
    print(f"  RAM        {m.ram_size >> 20} MiB at {m.ram_base:#x}; counter {m.counter_frequency} Hz")
    release = f", release address {b.release_address:#x}" if b.release_address is not None else ""
    print(f"  boot       {b.method} ({b.conduit} conduit){release}, start EL{b.start_el}, "
          f"image {b.image if b.image else '(none: give --kernel)'}")
    if b.cmdline:
        print(f"  cmdline    {b.cmdline}")
    if b.initrd:
        print(f"  initrd     {b.initrd}")
    if b.symbols:
        there = "" if b.symbols.exists() else " (missing: stop reports show bare addresses)"
        print(f"  symbols    {b.symbols}{there}")
    if b.kaslr:
        print(f"  kaslr      a kaslr-seed from run.seed ({r.seed})")
    serial = (f", seed {r.seed}, depth {r.depth}, points {r.points}"
              + (f", stalls {r.stalls:g} (up to {r.stall_ms:g} ms)" if r.stalls else "")
              if r.mode == "serial" else "")
    print(f"  run        {r.mode}, quantum {r.quantum}{serial}, timeout {r.timeout:g} s")
    if topo.explore.must or topo.explore.must_not:
        e = topo.explore
        print(f"  explore    {e.runs} runs, depth {e.depth}; must {list(e.must)}, "
              f"must not {list(e.must_not)}")
    # MPIDR and its affinity as Aff3.Aff2.Aff1.Aff0
    affs = [".".join(str(c.mpidr >> s & 0xFF) for s in (32, 16, 8, 0)) for c in topo.cpus]
    width, aff_width = max(len(f"{c.mpidr:#x}") for c in topo.cpus), max(map(len, affs))
    for cpu, aff in zip(topo.cpus, affs):
        f = cpu.features
        flags = " ".join(name for name, on in (("el2", f.el2), ("vhe", f.vhe), ("lse", f.lse),
                                               ("pan", f.pan), ("gicv3", f.gicv3)) if on)
        ids = "".join(f"  {name}={value:#x}" for name, value in cpu.id_registers)
        print(f"  cpu{cpu.index:<3}    MPIDR {cpu.mpidr:#0{width}x} aff {aff:<{aff_width}}  "
              f"MIDR {cpu.midr:#010x}  "
              f"EL{cpu.start_el(b)}  {flags}  vmid{f.vmid_bits} pa{f.pa_bits}{ids}")
    for inj, at in zip(topo.injections, places):
        where = inj.at if isinstance(inj.at, str) else f"{inj.at:#x}"
        where += f" ({at:#x})" if isinstance(inj.at, str) and at is not None else ""
        actions = [f"interrupt {inj.interrupt}"] if inj.interrupt is not None else []
        actions += [f"signal {inj.signal}"] if inj.signal else []
        actions += [f"wait for {inj.wait}"] if inj.wait else []
        print(f"  inject     cpu{inj.cpu} at {where}: {', '.join(actions)}")
    return 0


def _cmd_logs(args: argparse.Namespace) -> int:
    from smpsim import log

    path = pathlib.Path(args.run_dir) / log.EVENTS_FILE
    if not path.is_file():
        print(f"smpsim: {path}: no events file (is {args.run_dir} a run directory?)",
              file=sys.stderr)
        return 2
    try:
        for record in log.follow(path, args.follow):
            if log.matches(record, args.cpu, args.event):
                print(json.dumps(record) if args.json else log.format_record(record),
                      flush=True)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `smpsim logs ... | head`
        sys.stderr.close()
    return 0


def _passed_on(args: argparse.Namespace, *names: str) -> list[str]:
    """The options among `names` given on this command line, for a `smpsim run` of it."""
    return [item for name in names if getattr(args, name) is not None
            for item in (f"--{name.replace('_', '-')}", str(getattr(args, name)))]


def _cmd_explore(args: argparse.Namespace) -> int:
    from smpsim.bootctl import explore, rundir

    topo = _load_topology(args.topology)
    if topo is None:
        return 2
    e = topo.explore
    runs = args.runs if args.runs is not None else e.runs
    depth = args.depth if args.depth is not None else e.depth
    from smpsim.bootctl.topology import MAX_DEPTH

    if not 1 <= runs <= 10**6 or not 1 <= depth <= MAX_DEPTH:
        print(f"smpsim: explore: --runs must be 1 to 10**6 and --depth 1 to {MAX_DEPTH}",
              file=sys.stderr)
        return 2
    if args.points is not None and args.points < 1:
        print("smpsim: explore: --points must be at least 1", file=sys.stderr)
        return 2
    checks = explore.Checks(e.must + tuple(args.must), e.must_not + tuple(args.must_not))
    extra = _passed_on(args, "kernel", "append", "initrd", "quantum", "stalls", "stall_ms")
    base = rundir.create(f"explore-{topo.machine.name}", args.run_dir)
    jobs = args.jobs or os.cpu_count() or 1
    print(f"smpsim explore: {topo.path}: {runs} serial runs of depth {depth}, {jobs} at a "
          f"time, in {base}", file=sys.stderr)
    results = explore.explore(str(topo.path), len(topo.cpus), runs, depth, args.points,
                              args.timeout if args.timeout is not None else e.timeout,
                              checks, extra, base, jobs, args.first_seed, args.keep,
                              args.stop_on_failure)
    return 1 if any(r.failure for r in results) else 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from smpsim.bootctl import explore, rundir

    target = pathlib.Path(args.target)
    if target.is_dir():
        try:
            argv, recorded = explore.replay_run_dir(target)
        except (OSError, ValueError, KeyError) as exc:
            print(f"smpsim: replay: {target}: not a recorded serial run ({exc})", file=sys.stderr)
            return 2
        if not recorded.get("digest"):
            print(f"smpsim: replay: {target}: the run has no summary.json (it did not end)",
                  file=sys.stderr)
            return 2
        replays, reference = [(argv, recorded)] * args.times, target
    else:
        if args.seed is None:
            print("smpsim: replay: give a run directory, or a topology and --seed",
                  file=sys.stderr)
            return 2
        topo = _load_topology(args.target)
        if topo is None:
            return 2
        argv = [args.target, "--mode", "serial", "--seed", str(args.seed),
                *_passed_on(args, "depth", "points", "quantum", "kernel", "append", "initrd")]
        replays, reference = [(argv, None)] * max(args.times, 2), None
    base = rundir.create("replay", args.run_dir)
    digests = []
    for i, (argv_i, recorded) in enumerate(replays):
        run_dir = base / f"replay-{i + 1}"
        got = explore.run_again(argv_i, run_dir)
        if not got.get("digest"):
            print(f"smpsim: replay {i + 1}: the run did not end with a summary ({run_dir})",
                  file=sys.stderr)
            return 1
        if reference is None:
            reference, recorded_digest = run_dir, got["digest"]
        else:
            recorded_digest = recorded["digest"] if recorded else digests[0]
        digests.append(got["digest"])
        same = got["digest"] == recorded_digest
        print(f"smpsim: replay {i + 1}: status {got['status']}, {got['points']} schedule points, "
              f"digest {got['digest'][:16]}: "
              f"{'the same as' if same else 'DIFFERENT from'} {reference}", file=sys.stderr)
        if not same:
            print(f"smpsim: first difference, {explore.first_difference(reference, run_dir)}",
                  file=sys.stderr)
            return 1
    print(f"smpsim: reproduced exactly ({len(replays)} replays, digest {digests[0][:16]})",
          file=sys.stderr)
    return 0


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"smpsim {__version__}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smpsim", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("run", help="run a topology")
    p.add_argument("topology", metavar="TOPOLOGY", help="a topology file (.toml), or the name of "
                   "one that comes with smpsim (virt-mixed, virt-vhe, ...)")
    p.add_argument("--kernel", metavar="IMAGE", help="the image to boot instead of boot.image")
    p.add_argument("--append", metavar="CMDLINE",
                   help="the kernel command line (the device tree's bootargs) instead of "
                        "boot.cmdline")
    p.add_argument("--dtb", metavar="FILE",
                   help="a device tree blob to boot with instead of the one smpsim makes")
    p.add_argument("--initrd", metavar="FILE",
                   help="an initial RAM disk (cpio, optionally compressed) instead of "
                        "boot.initrd")
    p.add_argument("--symbols", metavar="SYSTEM_MAP",
                   help="the kernel's System.map, to name functions in the stop report, "
                        "instead of boot.symbols (default: a System.map beside the image)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="instead of run.timeout")
    p.add_argument("--run-dir", metavar="DIR",
                   help="where the run's logs go (default: runs/NAME-TIME; multi-process "
                        "machine)")
    _add_run_options(p)
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("check", help="validate a topology and print its machine")
    p.add_argument("topology", metavar="TOPOLOGY")
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser("dtb", help="write the device tree a topology's guest gets")
    p.add_argument("topology", metavar="TOPOLOGY")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="where to write it")
    p.add_argument("--append", metavar="CMDLINE", help="bootargs instead of boot.cmdline")
    p.add_argument("--kernel", metavar="IMAGE", help="the image instead of boot.image (with "
                   "--initrd: where the RAM disk goes depends on it)")
    p.add_argument("--initrd", metavar="FILE", help="the initial RAM disk instead of "
                   "boot.initrd (its range goes to /chosen)")
    p.set_defaults(func=_cmd_dtb)
    p = sub.add_parser("compile", help="compile the jit core into Numba's cache")
    p.set_defaults(func=_cmd_compile)
    p = sub.add_parser("decode", help="decode A64 instruction words (hexadecimal)")
    p.add_argument("words", nargs="+", type=_parse_word, metavar="WORD")
    p.set_defaults(func=_cmd_decode)
    p = sub.add_parser("logs", help="show the records of a run (its events.jsonl)")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep showing new records until the run ends")
    p.add_argument("--cpu", type=int, metavar="N", help="only records of CPU N")
    p.add_argument("--event", metavar="PATTERN",
                   help="only events matching: a shell pattern ('exception*'), or a word "
                        "(demote: demote_start, demote_end)")
    p.add_argument("--json", action="store_true", help="the records as JSON lines")
    p.set_defaults(func=_cmd_logs)
    p = sub.add_parser("explore", help="run many seeds of a serial run with a PCT scheduler")
    p.add_argument("topology", metavar="TOPOLOGY")
    p.add_argument("--runs", type=int, metavar="N", help="how many seeds (default: "
                   "explore.runs, 100)")
    p.add_argument("--depth", type=int, metavar="D", help="PCT's depth: D-1 priority change "
                   "points per run (default: explore.depth, 2)")
    p.add_argument("--points", type=int, metavar="K", help="PCT's k, the schedule points a "
                   "run has (default: those of a first run, seed 0)")
    p.add_argument("--must", action="append", default=[], metavar="EVENT",
                   help="a record every run must have (as logs --event matches it)")
    p.add_argument("--must-not", action="append", default=[], metavar="EVENT",
                   help="a record no run may have")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="per run")
    p.add_argument("--jobs", type=int, metavar="J", help="runs at a time (default: the "
                   "host's cores)")
    p.add_argument("--first-seed", type=int, default=1, metavar="S")
    p.add_argument("--kernel", metavar="IMAGE")
    p.add_argument("--append", metavar="CMDLINE")
    p.add_argument("--initrd", metavar="FILE")
    p.add_argument("--quantum", type=int, metavar="N")
    p.add_argument("--stalls", type=float, metavar="P", help="instead of run.stalls")
    p.add_argument("--stall-ms", type=float, metavar="MS", help="instead of run.stall_ms")
    p.add_argument("--keep", action="store_true", help="keep the run directories of the "
                   "runs that passed too")
    p.add_argument("--stop-on-failure", action="store_true",
                   help="start no new run once one has failed")
    p.add_argument("--run-dir", metavar="DIR", help="where the runs go (default: "
                   "runs/explore-NAME-TIME)")
    p.set_defaults(func=_cmd_explore)
    p = sub.add_parser("replay", help="run a seed again and compare: a run directory, or "
                       "TOPOLOGY --seed N")
    p.add_argument("target", metavar="RUN_DIR|TOPOLOGY")
    p.add_argument("--seed", type=int, metavar="N")
    p.add_argument("--depth", type=int, metavar="D")
    p.add_argument("--points", type=int, metavar="K")
    p.add_argument("--quantum", type=int, metavar="N")
    p.add_argument("--kernel", metavar="IMAGE")
    p.add_argument("--append", metavar="CMDLINE")
    p.add_argument("--initrd", metavar="FILE")
    p.add_argument("--times", type=int, default=1, metavar="N",
                   help="how many times (a topology: at least 2, compared with each other)")
    p.add_argument("--run-dir", metavar="DIR", help="where the replays go")
    p.set_defaults(func=_cmd_replay)
    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=_cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # `smpsim check ... | head`: the reader has gone; so do we
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
