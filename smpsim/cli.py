"""The `smpsim` command line.

    smpsim run TOPOLOGY [--kernel IMAGE] [--timeout S]   run a machine (one CPU for now)
    smpsim check TOPOLOGY     validate a topology and print the machine it describes
    smpsim compile            compile the jit core into Numba's cache (once per install)
    smpsim decode WORD...     what the decoder makes of A64 instruction words
    smpsim version

Bad command lines exit with status 2 and one line of error, never a traceback.
"""

from __future__ import annotations

import argparse
import json
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


def _cmd_run(args: argparse.Namespace) -> int:
    from smpsim.bootctl import runner

    topo = _load_topology(args.topology)
    if topo is None:
        return runner.EXIT_USAGE
    if args.timeout is not None and args.timeout <= 0:
        print("smpsim: --timeout: expected a positive number of seconds", file=sys.stderr)
        return runner.EXIT_USAGE
    if args.run_dir is not None or (topo.run.processes if topo.run.processes is not None
                                    else len(topo.cpus) > 1):
        # the process-per-CPU machine (issue 4, being built): one process per CPU, the
        # GIC and device services, a run directory
        from smpsim.bootctl import machine

        res = machine.run(topo, image_path=args.kernel, timeout=args.timeout,
                          run_dir=args.run_dir, argv=sys.argv[1:], cmdline=args.append,
                          dtb_path=args.dtb)
        where = f" (run directory {res.run_dir})" if res.run_dir else ""
        print(f"smpsim: {res.reason}; {res.seconds:.2f} s{where}", file=sys.stderr)
        return res.status
    out = runner.run(topo, image_path=args.kernel, timeout=args.timeout, cmdline=args.append,
                     dtb_path=args.dtb)
    mips = out.instructions / out.seconds / 1e6 if out.seconds > 0 else 0.0
    print(f"smpsim: {out.reason}; {out.instructions} instructions in {out.seconds:.2f} s "
          f"({mips:.0f} MIPS)", file=sys.stderr)
    return out.status


def _cmd_dtb(args: argparse.Namespace) -> int:
    from smpsim.bootctl import devicetree

    topo = _load_topology(args.topology)
    if topo is None:
        return 2
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
    print(f"  run        {r.mode}, quantum {r.quantum}, timeout {r.timeout:g} s")
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
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="instead of run.timeout")
    p.add_argument("--run-dir", metavar="DIR",
                   help="where the run's logs go (default: runs/NAME-TIME; multi-process "
                        "machine)")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("check", help="validate a topology and print its machine")
    p.add_argument("topology", metavar="TOPOLOGY")
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser("dtb", help="write the device tree a topology's guest gets")
    p.add_argument("topology", metavar="TOPOLOGY")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="where to write it")
    p.add_argument("--append", metavar="CMDLINE", help="bootargs instead of boot.cmdline")
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
    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=_cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
