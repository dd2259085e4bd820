"""A kernel's System.map (`nm -n` output: "ADDRESS TYPE NAME" per line), to name the
function an address is in, as the kernel's own backtraces do: `name+0xOFFSET/0xSIZE`."""

from __future__ import annotations

import bisect
import pathlib

# text symbols (global, local, weak); data and absolute symbols name no code
_CODE_TYPES = set("TtWw")


class SymbolsError(ValueError):
    """A System.map cannot be read; str() is the one-line message."""


class Symbols:
    def __init__(self, entries: list[tuple[int, str]], path: pathlib.Path | None = None):
        entries = sorted(entries, key=lambda e: e[0])  # (stable: aliases keep their order)
        self.path = path
        self._addresses = [a for a, _ in entries]
        self._names = [n for _, n in entries]
        self._by_name = {n: a for a, n in entries}

    @classmethod
    def load(cls, path: str | pathlib.Path) -> "Symbols":
        path = pathlib.Path(path)
        try:
            text = path.read_text(encoding="ascii", errors="replace")
        except OSError as exc:
            raise SymbolsError(f"{path}: cannot read: {exc.strerror}") from None
        entries = []
        for line in text.splitlines():
            fields = line.split()
            if len(fields) < 3 or fields[1] not in _CODE_TYPES:
                continue
            try:
                entries.append((int(fields[0], 16), fields[2]))
            except ValueError:
                continue
        if not entries:
            raise SymbolsError(f"{path}: no text symbols: not a System.map (nm -n output)")
        return cls(entries, path)

    def address(self, name: str) -> int | None:
        return self._by_name.get(name)

    def name(self, address: int, offset: int = 0) -> str | None:
        """`name+0xOFF/0xSIZE` for `address` (minus the kernel's relocation `offset`),
        None outside the symbols' span. SIZE runs to the next symbol; the last symbol
        names nothing past itself."""
        address -= offset
        i = bisect.bisect_right(self._addresses, address) - 1
        if i < 0 or i + 1 >= len(self._addresses):
            return None
        start, end = self._addresses[i], self._addresses[i + 1]
        while i > 0 and self._addresses[i - 1] == start:  # aliases: the first listed
            i -= 1
        return f"{self._names[i]}+{address - start:#x}/{end - start:#x}"

    def relocation(self, vbar_values: list[int]) -> int:
        """The kernel's relocation (KASLR) offset: the kernel points VBAR at its
        `vectors` once it runs where it was linked, and again once relocated (arm64's
        KASLR moves the kernel in 2 MiB steps); the last such value counts. 0 when no
        VBAR value the records saw says otherwise."""
        vectors = self.address("vectors")
        if vectors is None:
            return 0
        for value in reversed(vbar_values):
            delta = value - vectors
            if value >> 48 == 0xFFFF and delta % 0x20_0000 == 0:
                return delta
        return 0
