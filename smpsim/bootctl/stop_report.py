"""Where each CPU was when a run ended without the guest ending it (a timeout, a hung
serial run, Ctrl-C, a process that died): its PC and EL, the syndrome registers of that
EL, and the last exceptions it took, every code address named through the kernel's
System.map when there is one (symbols.py). Built from the run's records (events.jsonl)
once the CPU processes have stopped; bootctl prints it and keeps it as stop_report.txt."""

from __future__ import annotations

import collections
import json
import pathlib

from smpsim import log
from smpsim.bootctl.symbols import Symbols

LAST_EXCEPTIONS = 4

EC_NAMES = {0x00: "an undefined instruction", 0x01: "a trapped WFI/WFE",
            0x0E: "an illegal exception return", 0x15: "SVC", 0x16: "HVC", 0x17: "SMC",
            0x18: "a trapped system register access", 0x20: "an instruction abort",
            0x21: "an instruction abort", 0x22: "a PC alignment fault",
            0x24: "a data abort", 0x25: "a data abort", 0x26: "an SP alignment fault",
            0x2F: "an SError", 0x3C: "BRK"}
_VBARS = ("VBAR_EL1", "VBAR_EL2")
_ABORTS = (0x20, 0x21, 0x24, 0x25)  # ECs whose FAR holds the faulting address


def build(run_dir: str | pathlib.Path, n_cpus: int, symbols: Symbols | None = None,
          states: dict[int, str] | None = None) -> str:
    """The report's text; `states` (cpu -> "waiting (WFI/WFE)", "off", ...) is what the
    doorbells said as the run ended."""
    stopped: dict[int, dict] = {}
    exceptions = collections.defaultdict(lambda: collections.deque(maxlen=LAST_EXCEPTIONS))
    vbars = []
    for r in _records(pathlib.Path(run_dir) / log.EVENTS_FILE):
        component = r.get("component", "")
        if not component.startswith("cpu") or not component[3:].isdigit():
            continue
        cpu = int(component[3:])
        event = r.get("event")
        if event == "exception":
            exceptions[cpu].append(r)
        elif event == "cpu_stopped":
            stopped[cpu] = r
        elif event == "sysreg_write" and r.get("register") in _VBARS:
            vbars.append(_int(r.get("value")))
    offset = symbols.relocation(vbars) if symbols is not None else 0

    def where(value) -> str:
        address = _int(value)
        name = symbols.name(address, offset) if symbols is not None and address else None
        return f"{address:#x} {name}" if name else f"{address:#x}"

    lines = ["where the CPUs were" + (f" (symbols: {symbols.path}"
                                      + (f", kernel relocated by {offset:#x}" if offset else "")
                                      + ")" if symbols is not None else "") + ":"]
    for cpu in range(n_cpus):
        state = (states or {}).get(cpu, "")
        s = stopped.get(cpu)
        if s is None:
            lines.append(f"  cpu{cpu}: no record of where it stopped"
                         + (f" ({state})" if state else ""))
            continue
        el = s.get("el", 0)
        lines.append(f"  cpu{cpu}: EL{el} pc {where(s.get('pc'))}"
                     + (f", {state}" if state else "") + f"; {s.get('icount', 0)} instructions")
        if s.get("esr") is not None:
            lines.append(f"        ESR_EL{max(el, 1)} {_int(s['esr']):#x} "
                         f"({_syndrome(_int(s['esr']))}), FAR {_int(s.get('far')):#x}, "
                         f"ELR {where(s.get('elr'))}")
        taken = [_exception(e, where) for e in exceptions[cpu]]
        lines.append("        last exceptions, oldest first:" if taken
                     else "        no exception taken")
        for text, times in _runs(taken):
            lines.append(f"          {text}" + (f" (x{times})" if times > 1 else ""))
    return "\n".join(lines)


def _exception(e: dict, where) -> str:
    text = f"{e.get('type')} EL{e.get('from_el')}->EL{e.get('to_el')} from {where(e.get('elr'))}"
    if e.get("esr") is not None:
        esr = _int(e["esr"])
        text += f", ESR {esr:#x} ({_syndrome(esr)})"
        if esr >> 26 in _ABORTS and e.get("far") is not None:
            text += f", FAR {_int(e['far']):#x}"
    return text


def _runs(texts: list[str]) -> list[tuple[str, int]]:
    """Consecutive equal lines as (line, how many)."""
    out: list[tuple[str, int]] = []
    for text in texts:
        if out and out[-1][0] == text:
            out[-1] = (text, out[-1][1] + 1)
        else:
            out.append((text, 1))
    return out


WINDOW = 8 << 20  # bytes of events.jsonl read at each end


def _records(path: pathlib.Path):
    """The records the report needs from a file that a long run makes large: its first
    WINDOW bytes (the kernel points VBAR at its vectors early) and its last (the last
    exceptions, where each CPU stopped), never the middle."""
    try:
        size = path.stat().st_size
    except OSError:
        return
    if size <= 2 * WINDOW:
        yield from log.read_events(path)
        return
    with open(path, "rb") as f:
        head = f.read(WINDOW)
        f.seek(size - WINDOW)
        tail = f.read()
    for chunk in (head.rsplit(b"\n", 1)[0], tail.split(b"\n", 1)[1]):  # whole lines only
        for line in chunk.splitlines():
            try:
                yield json.loads(line)
            except ValueError:
                continue


def _syndrome(esr: int) -> str:
    ec = esr >> 26 & 0x3F
    return EC_NAMES.get(ec, f"EC {ec:#04x}")


def _int(value) -> int:
    if isinstance(value, int):
        return value
    try:
        return int(value, 0)
    except (TypeError, ValueError):
        return 0
