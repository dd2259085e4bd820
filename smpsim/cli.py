"""The `smpsim` command line.

    smpsim compile            compile the jit core into Numba's cache (once per install)
    smpsim decode WORD...     what the decoder makes of A64 instruction words
    smpsim version

Bad command lines exit with status 2 and one line of error, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time

from smpsim import __version__


def _cmd_compile(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    import numpy as np

    from smpsim.jit.core import Core

    core = Core(np.zeros(4096, dtype=np.uint8))
    core.load(core.ram_base, (0xD4400000).to_bytes(4, "little"))  # hlt #0
    core.pc = core.ram_base
    core.run(1)
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


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"smpsim {__version__}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smpsim", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("compile", help="compile the jit core into Numba's cache")
    p.set_defaults(func=_cmd_compile)
    p = sub.add_parser("decode", help="decode A64 instruction words (hexadecimal)")
    p.add_argument("words", nargs="+", type=_parse_word, metavar="WORD")
    p.set_defaults(func=_cmd_decode)
    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=_cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
