"""A topology's [[inject]] entries (bootctl/topology.py, cpu_worker/worker.py): when a CPU
reaches an instruction (a breakpoint in its process, once) the machine makes an SGI/PPI
pending for it, raises a named signal, or waits for one — which forces an interleaving
of the CPUs that a free run would leave to the host's scheduler."""

import pathlib
import subprocess
import sys

import pytest
from gnu_as import link

from smpsim import log
from smpsim.bootctl import topology

ROOT = pathlib.Path(__file__).resolve().parents[1]

# CPU 0 powers CPU 1 on and reads a flag that CPU 1 sets; it exits with the flag's value
# + 16 * (PPI 27 pending in its GICR_ISPENDR0). Left alone, CPU 0 reads the flag long
# before CPU 1 runs (0); with CPU 0 made to wait at `read_flag` until CPU 1 has raised
# "set" at `flag_set`, it always reads 7.
GUEST = """
    .global _start
_start:
    mrs x1, mpidr_el1
    and x1, x1, #0xff
    cbnz x1, secondary
    ldr x0, =0xc4000003         // PSCI CPU_ON (SMC64): CPU 1 at _start
    mov x1, #1
    adr x2, _start
    mov x3, #0
    smc #0
read_flag:
    adr x5, flag
    ldr x6, [x5]
    ldr x7, =0x080b0200         // CPU 0's GICR_ISPENDR0 (SGI_base + 0x200)
    ldr w8, [x7]
    ubfx x8, x8, #27, #1
    add x6, x6, x8, lsl #4
    adr x1, block
    str x6, [x1, #8]
    mov w0, #0x18               // semihosting SYS_EXIT {ApplicationExit, x6}
    hlt #0xf000
secondary:
    adr x5, flag
    mov x6, #7
    str x6, [x5]
flag_set:
    wfe
    b flag_set
    .balign 16
block: .quad 0x20026, 0
flag: .quad 0
"""

TOPOLOGY = """
[machine]
name = "inject-test"
ram = {{ base = 0x4000_0000, size = "64MiB" }}
[boot]
start_el = 2
conduit = "smc"
image = "{image}"
[run]
timeout = 60
[[cluster]]
cpus = 2
features = {{ el2 = true }}
{inject}
"""

FORCED = """
[[inject]]
cpu = 0
at = "read_flag"
interrupt = 27
wait = "set"
[[inject]]
cpu = 1
at = "flag_set"
signal = "set"
"""


def _run(tmp_path, inject: str):
    (tmp_path / "guest.elf").write_bytes(link(GUEST, elf=True))
    path = tmp_path / "t.toml"
    path.write_text(TOPOLOGY.format(image=tmp_path / "guest.elf", inject=inject))
    return subprocess.run([sys.executable, "-m", "smpsim", "run", path, "--run-dir",
                           tmp_path / "run"], capture_output=True, text=True, timeout=300)


def test_an_injection_forces_the_interleaving_and_pends_its_interrupt(tmp_path):
    r = _run(tmp_path, FORCED)
    assert r.returncode == 7 + 16, r.stderr  # the flag seen set, PPI 27 pending
    records = [e for e in log.read_events(tmp_path / "run" / "events.jsonl")
               if e["event"] == "injection"]
    assert [(e["component"], e["action"], e["label"]) for e in records] == [
        ("cpu0", "interrupt", "read_flag"), ("cpu0", "wait", "read_flag"),
        ("cpu1", "signal", "flag_set")]
    assert records[0]["intid"] == 27


def test_a_symbol_the_image_does_not_have_is_one_clear_error(tmp_path):
    r = _run(tmp_path, '[[inject]]\ncpu = 1\nat = "nowhere"\nsignal = "x"\n')
    assert r.returncode == 2 and "no symbol 'nowhere'" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("inject, message", [
    ('[[inject]]\ncpu = 2\nat = 0x40000000\nsignal = "x"\n', "inject[0].cpu"),
    ('[[inject]]\ncpu = 0\nat = 0x40000002\nsignal = "x"\n', "inject[0].at: expected a 4-byte"),
    ('[[inject]]\ncpu = 0\nat = "f"\n', "nothing to do"),
    ('[[inject]]\ncpu = 0\nat = "f"\nwait = "never"\n', "no injection raises 'never'"),
    ('[[inject]]\ncpu = 0\nat = "f"\ninterrupt = 40\n', "inject[0].interrupt"),
    ('[[inject]]\ncpu = 0\nat = "f"\nsignal = "a b"\n', "inject[0].signal"),
    ('[[inject]]\ncpu = 0\nat = "f"\nsignal = "x"\ncolour = 1\n', "inject[0].colour: unknown"),
])
def test_bad_injections_are_refused_with_the_key(tmp_path, inject, message):
    path = tmp_path / "t.toml"
    path.write_text(TOPOLOGY.format(image="guest.elf", inject=inject))
    with pytest.raises(topology.TopologyError, match=message.replace("[", r"\[")
                       .replace("]", r"\]")):
        topology.load(path)


def test_a_wait_that_nothing_ends_is_reported_at_the_timeout(tmp_path):
    never = FORCED.replace('at = "flag_set"', 'at = "block"')  # (data: never run)
    never += "\n"
    (tmp_path / "guest.elf").write_bytes(link(GUEST, elf=True))
    path = tmp_path / "t.toml"
    path.write_text(TOPOLOGY.format(image=tmp_path / "guest.elf", inject=never))
    r = subprocess.run([sys.executable, "-m", "smpsim", "run", path, "--run-dir",
                        tmp_path / "run", "--timeout", "5"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 124, r.stderr
    assert "cpu0 at pc=" in r.stderr and "waiting for an [[inject]] signal" in r.stderr


def test_check_lists_the_injections_and_refuses_a_symbol_the_image_lacks(tmp_path):
    (tmp_path / "guest.elf").write_bytes(link(GUEST, elf=True))
    path = tmp_path / "t.toml"
    path.write_text(TOPOLOGY.format(image=tmp_path / "guest.elf", inject=FORCED))
    r = subprocess.run([sys.executable, "-m", "smpsim", "check", path], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [line.split(" (0x")[0] + line[line.index(")") + 1:] if " (0x" in line else line
             for line in r.stdout.splitlines() if line.startswith("  inject")]
    assert lines == ["  inject     cpu0 at read_flag: interrupt 27, wait for set",
                     "  inject     cpu1 at flag_set: signal set"]
    path.write_text(TOPOLOGY.format(image=tmp_path / "guest.elf",
                                    inject='[[inject]]\ncpu = 1\nat = "nowhere"\nsignal = "x"\n'))
    r = subprocess.run([sys.executable, "-m", "smpsim", "check", path], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and "no symbol 'nowhere'" in r.stderr and "Traceback" not in r.stderr
