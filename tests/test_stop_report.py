"""The stop report (bootctl/stop_report.py, symbols.py): when a run ends without the
guest ending it, where each CPU was — PC, EL, its syndrome registers, the last
exceptions — named through a System.map (`nm -n` output, as the kernel's is)."""

import json
import shutil
import subprocess
import sys

import pytest
from gnu_as import link
from guest_runs import ROOT

from smpsim.bootctl import stop_report
from smpsim.bootctl.symbols import Symbols, SymbolsError

MAP = """\
ffff800008000000 T _text
ffff800008010000 T vectors
ffff800008010800 t el1_sync
ffff800008020000 T cpu_do_idle
ffff800008020000 T cpu_idle_alias
ffff800008020040 T panic
ffff800008020100 D some_data
ffff800008030000 T _etext
"""


def test_a_system_map_names_addresses_as_kernel_backtraces_do(tmp_path):
    (tmp_path / "System.map").write_text(MAP)
    s = Symbols.load(tmp_path / "System.map")
    assert s.name(0xFFFF_8000_0802_0008) == "cpu_do_idle+0x8/0x40"  # the first alias
    assert s.name(0xFFFF_8000_0802_0044) == "panic+0x4/0xffc0"  # data symbols name no code
    assert s.name(0xFFFF_8000_0801_0800) == "el1_sync+0x0/0xf800"
    assert s.name(0xFFFF_7000_0000_0000) is None and s.name(0xFFFF_8000_0803_0004) is None
    # KASLR: the last VBAR value that is `vectors` moved by whole 2 MiB steps
    moved = 0x3AA1_A920_0000
    assert s.relocation([0x4001_0000, 0xFFFF_8000_0801_0000, 0xFFFF_8000_0801_0000 + moved,
                         0xFFFF_8000_0900_0800]) == moved
    assert s.name(0xFFFF_8000_0802_0008 + moved, moved) == "cpu_do_idle+0x8/0x40"
    (tmp_path / "bad").write_text("not a map\n")
    with pytest.raises(SymbolsError, match="no text symbols"):
        Symbols.load(tmp_path / "bad")
    with pytest.raises(SymbolsError, match="cannot read"):
        Symbols.load(tmp_path / "missing")


def test_the_report_gives_each_cpu_s_place_syndrome_and_last_exceptions(tmp_path):
    (tmp_path / "System.map").write_text(MAP)
    records = [
        {"component": "cpu0", "event": "sysreg_write", "register": "VBAR_EL2",
         "value": "0xffff800008010000"},
        *[{"component": "cpu0", "event": "exception", "type": "irq", "from_el": 2, "to_el": 2,
           "elr": "0xffff800008020004"}] * 5,
        {"component": "cpu0", "event": "exception", "type": "sync", "from_el": 2, "to_el": 2,
         "elr": "0xffff800008020048", "esr": "0x96000045", "ec": "0x25",
         "far": "0xdead0000"},
        {"component": "cpu0", "event": "cpu_stopped", "pc": "0xffff800008020044", "el": 2,
         "esr": "0x96000045", "far": "0xdead0000", "elr": "0xffff800008020048",
         "icount": 1234},
        {"component": "cpu1", "event": "cpu_stopped", "pc": "0x40000000", "el": 1,
         "esr": "0x0", "far": "0x0", "elr": "0x0", "icount": 0},
    ]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    text = stop_report.build(tmp_path, 3, Symbols.load(tmp_path / "System.map"),
                             {0: "", 1: "off", 2: "waiting (WFI/WFE)"})
    lines = text.splitlines()
    assert lines[1] == "  cpu0: EL2 pc 0xffff800008020044 panic+0x4/0xffc0; 1234 instructions"
    assert "ESR_EL2 0x96000045 (a data abort), FAR 0xdead0000" in lines[2]
    # the last four exceptions, the repeated ones counted
    assert lines[4] == "          irq EL2->EL2 from 0xffff800008020004 cpu_do_idle+0x4/0x40 (x3)"
    assert lines[5].endswith("panic+0x8/0xffc0, ESR 0x96000045 (a data abort), FAR 0xdead0000")
    assert lines[6] == "  cpu1: EL1 pc 0x40000000, off; 0 instructions"
    assert "no exception taken" in lines[8]
    assert lines[9] == "  cpu2: no record of where it stopped (waiting (WFI/WFE))"


# cpu0 takes a BRK, returns past it and spins in `stuck`; the run times out
GUEST = """
    .global _start
_start:
    adr x0, vectors
    msr vbar_el2, x0
    isb
    brk #7
stuck:
    nop
    b stuck

    .balign 2048
vectors:
    .skip 0x200                 // current EL with SP_EL0: unused
sync_spx:
    mrs x1, elr_el2
    add x1, x1, #4
    msr elr_el2, x1
    eret
"""


def test_a_timed_out_run_prints_the_report_with_the_guest_s_symbols(tmp_path):
    nm = shutil.which("aarch64-linux-gnu-nm")
    if nm is None:
        pytest.fail("aarch64-linux-gnu-nm is missing: run scripts/setup")
    (tmp_path / "guest.elf").write_bytes(link(GUEST, elf=True))
    symbols = subprocess.run([nm, "-n", tmp_path / "guest.elf"], capture_output=True,
                             text=True, check=True).stdout
    (tmp_path / "guest.map").write_text(symbols)
    topo = (ROOT / "topologies" / "selftest.toml").read_text().replace(
        '"../guests/', f'"{ROOT}/guests/')
    (tmp_path / "t.toml").write_text(topo)
    r = subprocess.run([sys.executable, "-m", "smpsim", "run", tmp_path / "t.toml", "--kernel",
                        tmp_path / "guest.elf", "--symbols", tmp_path / "guest.map",
                        "--timeout", "3", "--run-dir", tmp_path / "run"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 124, r.stderr
    assert "where the CPUs were (symbols: " in r.stderr
    assert " stuck+0x" in r.stderr and "sync EL2->EL2 from " in r.stderr
    assert "from 0x4000000c _start+0xc/0x10, ESR 0xf2000007 (BRK)" in r.stderr
    assert ("pc 0x40000010 stuck+0x0/0x7f0" in r.stderr
            or "pc 0x40000014 stuck+0x4/0x7f0" in r.stderr)
    report = (tmp_path / "run" / "stop_report.txt").read_text().strip()
    assert report in r.stderr
    records = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").open()]
    assert [x["lines"] for x in records if x["event"] == "stop_report"] == \
        [report.splitlines()]
    bad = subprocess.run([sys.executable, "-m", "smpsim", "run", tmp_path / "t.toml",
                          "--kernel", tmp_path / "guest.elf", "--symbols", tmp_path / "nope",
                          "--run-dir", tmp_path / "run2"], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 2 and "nope: cannot read" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_long_run_s_records_are_read_at_both_ends_only(tmp_path, monkeypatch):
    """events.jsonl of a long run is large: the report reads its first and last WINDOW
    bytes (VBAR's value early, the last exceptions and the stop late)."""
    monkeypatch.setattr(stop_report, "WINDOW", 4096)
    (tmp_path / "System.map").write_text(MAP)
    moved = 0x20_0000
    head = [{"component": "cpu0", "event": "sysreg_write", "register": "VBAR_EL2",
             "value": hex(0xFFFF_8000_0801_0000 + moved)}]
    middle = [{"component": "cpu0", "event": "exception", "type": "sync", "from_el": 1,
               "to_el": 1, "elr": hex(0xFFFF_8000_0801_0800 + moved), "esr": "0x2000000",
               "pad": "x" * 200}] * 200
    tail = [{"component": "cpu0", "event": "exception", "type": "irq", "from_el": 2,
             "to_el": 2, "elr": hex(0xFFFF_8000_0802_0004 + moved)},
            {"component": "cpu0", "event": "cpu_stopped", "el": 2, "icount": 9,
             "pc": hex(0xFFFF_8000_0802_0044 + moved)}]
    lines = [json.dumps(r) for r in head + middle + tail]
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    assert (tmp_path / "events.jsonl").stat().st_size > 3 * 4096
    text = stop_report.build(tmp_path, 1, Symbols.load(tmp_path / "System.map"))
    assert "kernel relocated by 0x200000" in text
    assert "pc 0xffff800008220044 panic+0x4/0xffc0" in text
    assert text.count("sync EL1->EL1") <= 3  # only those in the tail window
    assert text.splitlines()[-1].strip().startswith("irq EL2->EL2 from 0xffff800008220004")
