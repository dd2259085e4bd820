"""Turn the encoding spec `a64.decode` into the Numba decoder `a64_decoder.py`.

Run `python -m smpsim.jit.decodegen` after editing the spec; a test checks that the
committed decoder is exactly what this module generates.

The generated decoder is a binary decision tree over instruction bits: at each node
it tests one bit that every remaining pattern fixes, so a word reaches the single
pattern that can match it in about log2(patterns) tests, then the leaf checks the
whole pattern and calls the pattern's decode function with its fields.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import sys

SPEC_PATH = pathlib.Path(__file__).with_name("a64.decode")
DECODER_PATH = pathlib.Path(__file__).with_name("a64_decoder.py")

_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):([0-9]+)$")
_FIXED = re.compile(r"^[01]+$")


class SpecError(ValueError):
    """The spec file is malformed; the message names the line."""


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int


@dataclasses.dataclass(frozen=True)
class Pattern:
    name: str
    module: str
    mask: int  # bits fixed by the pattern
    value: int  # their values
    fields: tuple[Field, ...]
    line: int  # line number in the spec
    text: str  # the spec line, stripped
    implemented: bool
    group: int | None  # index of its overlap group, None outside groups

    def matches(self, word: int) -> bool:
        return (word & self.mask) == self.value


def parse_pattern(name: str, tokens: list[str], *, module: str, line: int, text: str,
                  implemented: bool, group: int | None) -> Pattern:
    mask = value = 0
    fields: list[Field] = []
    pos = 32
    seen: set[str] = set()
    for tok in tokens:
        if _FIXED.match(tok):
            for ch in tok:
                pos -= 1
                if pos < 0:
                    break
                mask |= 1 << pos
                value |= int(ch) << pos
        else:
            m = _FIELD.match(tok)
            if not m:
                raise SpecError(f"{SPEC_PATH.name}:{line}: {name}: cannot read {tok!r} "
                                "(expected fixed bits like 0110 or a field like Rn:5)")
            fname, width = m.group(1), int(m.group(2))
            if width < 1:
                raise SpecError(f"{SPEC_PATH.name}:{line}: {name}: field {fname} has width 0")
            if fname in seen:
                raise SpecError(f"{SPEC_PATH.name}:{line}: {name}: field {fname} named twice")
            seen.add(fname)
            pos -= width
            if pos >= 0:
                fields.append(Field(fname, pos, width))
        if pos < 0:
            break
    if pos != 0:
        covered = 32 - pos
        raise SpecError(f"{SPEC_PATH.name}:{line}: {name}: the bits cover {covered} bits, not 32")
    return Pattern(name, module, mask, value, tuple(fields), line, text, implemented, group)


def parse_spec(text: str) -> list[Pattern]:
    """Every pattern of the spec, implemented or not, in file order."""
    patterns: list[Pattern] = []
    module: str | None = None
    group: int | None = None
    groups = 0
    names: set[str] = set()
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        implemented = True
        if line.startswith("#-"):
            implemented = False
            line = line[2:].strip()
            line = re.sub(r"\s*\(.*\)\s*$", "", line)  # the trailing (FEAT_x) note
        elif not line or line.startswith("#"):
            continue
        if line.startswith("@class"):
            parts = line.split()
            if len(parts) != 2:
                raise SpecError(f"{SPEC_PATH.name}:{lineno}: expected '@class MODULE'")
            module = parts[1]
            continue
        if line == "{":
            if group is not None:
                raise SpecError(f"{SPEC_PATH.name}:{lineno}: groups do not nest")
            group = groups
            groups += 1
            continue
        if line == "}":
            if group is None:
                raise SpecError(f"{SPEC_PATH.name}:{lineno}: '}}' without '{{'")
            group = None
            continue
        if module is None:
            raise SpecError(f"{SPEC_PATH.name}:{lineno}: pattern before any @class line")
        name, *tokens = line.split()
        if implemented:
            if name in names:
                raise SpecError(f"{SPEC_PATH.name}:{lineno}: pattern {name} defined twice")
            names.add(name)
        patterns.append(parse_pattern(name, tokens, module=module, line=lineno,
                                      text=raw.strip(), implemented=implemented,
                                      group=group if implemented else None))
    if group is not None:
        raise SpecError(f"{SPEC_PATH.name}: a '{{' group is never closed")
    return patterns


def load_spec() -> list[Pattern]:
    return parse_spec(SPEC_PATH.read_text())


def overlap(a: Pattern, b: Pattern) -> bool:
    """True when some word matches both patterns."""
    common = a.mask & b.mask
    return (a.value & common) == (b.value & common)


def shadowed(later: Pattern, earlier: Pattern) -> bool:
    """True when every word matching `later` already matches `earlier`."""
    return (earlier.mask & ~later.mask) == 0 and (later.value & earlier.mask) == earlier.value


def check_spec(patterns: list[Pattern]) -> list[str]:
    """The problems of a spec: overlaps outside groups and dead patterns inside them."""
    problems = []
    impl = [p for p in patterns if p.implemented]
    for i, a in enumerate(impl):
        for b in impl[i + 1:]:
            if not overlap(a, b):
                continue
            if a.group is not None and a.group == b.group:
                if shadowed(b, a):
                    problems.append(f"{b.name} (line {b.line}) can never match: "
                                    f"{a.name} (line {a.line}) comes first and covers it")
                continue
            problems.append(f"{a.name} (line {a.line}) and {b.name} (line {b.line}) overlap "
                            "outside an overlap group")
    return problems


# --- code generation -------------------------------------------------------------


@dataclasses.dataclass
class _Item:
    """A pattern, or an overlap group tried in order, as one node of the tree."""
    members: list[Pattern]

    @property
    def mask(self) -> int:
        m = 0xFFFF_FFFF
        for p in self.members:
            m &= p.mask
        v0 = self.members[0].value
        for p in self.members[1:]:
            m &= ~(p.value ^ v0)
        return m

    @property
    def value(self) -> int:
        return self.members[0].value & self.mask


def _items(patterns: list[Pattern]) -> list[_Item]:
    items: list[_Item] = []
    by_group: dict[int, _Item] = {}
    for p in patterns:
        if not p.implemented:
            continue
        if p.group is None:
            items.append(_Item([p]))
        elif p.group in by_group:
            by_group[p.group].members.append(p)
        else:
            by_group[p.group] = _Item([p])
            items.append(by_group[p.group])
    return items


def _emit_leaf(item: _Item, indent: str, out: list[str]) -> None:
    for p in item.members:
        out.append(f"{indent}if (w & 0x{p.mask:08X}) == 0x{p.value:08X}:")
        out.append(f"{indent}    # {p.text}")
        args = ", ".join(
            f"(w >> {f.lsb}) & 0x{(1 << f.width) - 1:X}" if f.lsb else f"w & 0x{(1 << f.width) - 1:X}"
            for f in p.fields)
        out.append(f"{indent}    return {p.module}.{p.name}({args})")


def _emit_tree(items: list[_Item], known: int, indent: str, out: list[str]) -> None:
    best = None
    for bit in range(32):
        b = 1 << bit
        if known & b or not all(it.mask & b for it in items):
            continue
        ones = sum(1 for it in items if it.value & b)
        score = max(ones, len(items) - ones)
        if ones and ones != len(items) and (best is None or score < best[0]):
            best = (score, bit)
    if best is None or len(items) == 1:
        for it in items:
            _emit_leaf(it, indent, out)
        out.append(f"{indent}return undefined()")
        return
    bit = best[1]
    ones = [it for it in items if it.value & (1 << bit)]
    zeros = [it for it in items if not it.value & (1 << bit)]
    out.append(f"{indent}if (w >> {bit}) & 1:")
    _emit_tree(ones, known | (1 << bit), indent + "    ", out)
    _emit_tree(zeros, known | (1 << bit), indent, out)


def generate(patterns: list[Pattern]) -> str:
    problems = check_spec(patterns)
    if problems:
        raise SpecError("; ".join(problems))
    modules = sorted({p.module for p in patterns if p.implemented})
    out = [
        f"# Generated from smpsim/jit/{SPEC_PATH.name} by smpsim/jit/decodegen.py -- do not edit.",
        "# Regenerate with: python -m smpsim.jit.decodegen",
        '"""The A64 decoder: instruction word -> decoded record (see records.py)."""',
        "",
    ]
    out += [f"from smpsim.jit import {m}" for m in modules]
    out += [
        "from smpsim.jit.compile import jit",
        "from smpsim.jit.records import undefined",
        "",
        "",
        "@jit",
        "def decode(w):",
        '    """Decode the 32-bit word `w` (an int64) into a record tuple."""',
    ]
    _emit_tree(_items(patterns), 0, "    ", out)
    out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    try:
        text = generate(load_spec())
    except SpecError as exc:
        print(f"decodegen: {exc}", file=sys.stderr)
        return 2
    DECODER_PATH.write_text(text)
    print(f"wrote {DECODER_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
