"""The VHE scenario library, the hypervisor's half (issue 6, scenarios 6-8): the
minikernel loads the minivisor (guests/minikernel/minivisor/, a Jailhouse-like
hypervisor) and enables it on every CPU at once.

6. On a non-VHE kernel it takes EL2 through the hyp stub and runs the kernel as its
   root cell at EL1 (stage 2, interrupts through the list registers, PSCI trapped:
   a CPU_OFF then CPU_ON of a root-cell CPU), then gives EL2 back.
7. On a VHE kernel it demotes the running kernel from EL2 to EL1 on each CPU, remaps
   the timer (the EL1 physical timer's PPI 30 injected as the PPI 26 the kernel
   registered) and keeps the illusion through a vCPU's removal and re-add, then
   promotes every CPU back to EL2 with VHE.
8. The three races of the seed's thread, each forced by the topology's [[inject]]:
   the naive build shows the hazard, the fixed one does not.

Asserted from the console, the guest's @event records and the machine's own records
(HCR_EL2 writes, exceptions taken to EL2); scenarios 6 and 7 also on QEMU, whose
console must hold the same phase, hypervisor and event lines."""

import pathlib
import re

import pytest
from guest_runs import run_kernel_on_qemu, run_topology

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE = ROOT / "guests" / "build" / "minikernel.Image"
CPUS = range(4)
HCR_ROOT_CELL = 0x8008_0019  # RW | TSC | IMO | FMO | VM
HCR_VHE_HOST = 0x4_8800_0000  # E2H | TGE | RW
HCR_STUB = 0x8000_0000  # RW (Linux's init_el2)


def run(tmp_path, name, *extra):
    return run_topology(name, tmp_path / "run", 600, *extra)


def guest(records, name):
    return [e for e in records if e["event"] == name and e.get("source") == "uart"]


def cpus_of(records, name):
    return sorted(e["cpu"] for e in guest(records, name))


def hcr_writes(records, cpu):
    return [int(e["value"], 16) for e in records if e["event"] == "sysreg_write"
            and e["component"] == f"cpu{cpu}" and e["register"] == "HCR_EL2"]


def phases(lines, phase, ppi, mode, current):
    """Every CPU ticked through `phase` on `ppi`, the kernel believing it runs at EL`mode`
    while the CPU is at EL`current`."""
    for n in CPUS:
        line = (f"CPU{n}: phase {phase}: 3 timer ticks on PPI {ppi}, kernel mode EL{mode}, "
                f"CurrentEL {current}")
        assert line in lines, line


def test_scenario_6_the_hypervisor_runs_a_non_vhe_kernel_as_its_root_cell(tmp_path):
    status, lines, records, err = run(tmp_path, "hv-nvhe")
    assert status == 0, err
    assert cpus_of(records, "hv_entered") == list(CPUS)
    assert len(guest(records, "hv_enabled")) == 1 and len(guest(records, "hv_disabled")) == 1
    phases(lines, "boot", 30, 1, 1)
    phases(lines, "hv", 30, 1, 1)
    phases(lines, "readd", 30, 1, 1)
    phases(lines, "off", 30, 1, 1)
    # the vCPU of CPU 2 removed and re-added through the trapped PSCI calls
    assert cpus_of(records, "vcpu_removed") == [2] and cpus_of(records, "vcpu_added") == [2]
    smc_traps = [e for e in records if e["event"] == "exception" and e.get("ec") == "0x17"
                 and e["from_el"] == 1 and e["to_el"] == 2]
    assert {e["component"] for e in smc_traps} >= {"cpu2"}
    assert cpus_of(records, "hv_left") == list(CPUS)
    for n in CPUS:  # each CPU: the stub's HCR_EL2, the root cell's, the stub's again
        writes = hcr_writes(records, n)
        assert HCR_ROOT_CELL in writes and writes[-1] == HCR_STUB, (n, [hex(w) for w in writes])


def test_scenario_7_a_vhe_kernel_is_demoted_to_el1_and_keeps_ticking_on_ppi_26(tmp_path):
    status, lines, records, err = run(tmp_path, "hv-vhe-demote")
    assert status == 0, err
    phases(lines, "boot", 26, 2, 2)
    # demoted: at EL1, the kernel still believes it runs at EL2 and ticks on "26"
    phases(lines, "hv", 26, 2, 1)
    phases(lines, "readd", 26, 2, 1)
    phases(lines, "off", 26, 2, 2)  # promoted back to EL2 with VHE
    assert cpus_of(records, "demote_start") == list(CPUS)
    assert cpus_of(records, "demote_end") == list(CPUS)
    remaps = guest(records, "timer_remapped")
    assert sorted(e["cpu"] for e in remaps) == list(CPUS)
    assert all((e["from"], e["to"]) == (30, 26) for e in remaps)
    assert cpus_of(records, "vcpu_removed") == [2] and cpus_of(records, "vcpu_added") == [2]
    assert cpus_of(records, "promote_end") == list(CPUS)
    for n in CPUS:  # E2H|TGE, then the root cell's HCR_EL2, then E2H|TGE again
        writes = hcr_writes(records, n)
        i = writes.index(HCR_ROOT_CELL)
        assert HCR_VHE_HOST in writes[:i] and writes[-1] == HCR_VHE_HOST, (
            n, [hex(w) for w in writes])
    # the remapped timer: the EL1 physical timer's interrupts were taken at EL2 from EL1
    irqs = [e for e in records if e["event"] == "exception" and e["type"] == "irq"
            and e["from_el"] == 1 and e["to_el"] == 2]
    assert {e["component"] for e in irqs} == {f"cpu{n}" for n in CPUS}


# Scenario 8: (topology, what the naive build shows, what the fixed one shows)
RACES = {
    "timer": ("tick_lost", "Kernel panic - not syncing: timer tick lost (CPU mask 0x2)",
              "CPU1: phase hv: 3 timer ticks on PPI 26, kernel mode EL2, CurrentEL 1"),
    "cpu-on": ("cpu_escaped", "CPU3: came up at EL2 outside the hypervisor: the root cell "
               "lost control of it", "CPU3: came up while the hypervisor runs: entering it first"),
    "cpu-off": ("enable_hung", "minivisor: enable barrier: 3 of 4 CPUs after 1000 ms: hung",
                "minivisor: CPU2 went offline during enable: not waited for"),
}


@pytest.mark.parametrize("race", sorted(RACES))
def test_scenario_8_the_naive_build_shows_the_race_the_fixed_one_does_not(tmp_path, race):
    """Serial runs: the injections force the interleaving, and the guest's timeouts (the
    enable barrier's second, the tick watchdog) count guest time, not the host's: the
    verdict is the same on a loaded host."""
    event, naive_line, fixed_line = RACES[race]
    status, lines, records, err = run(tmp_path / "naive", f"race-{race}-naive", "--mode",
                                      "serial")
    assert status == 0, err  # (a panic ends the run through PSCI SYSTEM_RESET)
    assert guest(records, event), f"no {event} record"
    assert naive_line in lines
    assert any(line.startswith("Kernel panic - not syncing:") for line in lines)
    injected = [e for e in records if e["event"] == "injection"]
    assert injected, "the interleaving was not forced"

    status, lines, records, err = run(tmp_path / "fixed", f"race-{race}-fixed", "--mode",
                                      "serial")
    assert status == 0, err
    assert not guest(records, event) and not guest(records, "panic")
    assert fixed_line in lines
    assert "reboot: Power down" in lines
    assert [e["label"] for e in records if e["event"] == "injection"] == \
        [e["label"] for e in injected]  # the same interleaving, forced the same way


# --- the same image on QEMU ---------------------------------------------------------------

_SAME = re.compile(r"^(CPU\d+: phase |The Jailhouse|jailhouse: |CPU\d+: minivisor: |"
                   r"@event (hv_|demote_|timer_remapped|vcpu_|promote_))")


@pytest.mark.parametrize("name, cpu", [("hv-nvhe", "cortex-a53"), ("hv-vhe-demote", "max")])
def test_qemu_prints_the_same_hypervisor_story(tmp_path, name, cpu):
    """The phase lines, the hypervisor's lines and its events are the same set on QEMU
    (their order between CPUs, timings and tick totals are not)."""
    cmdline = re.search(r'^cmdline = "(.*)"', (ROOT / "topologies" / f"{name}.toml").read_text(),
                        re.M).group(1)
    q = run_kernel_on_qemu(IMAGE, "virt,virtualization=on,gic-version=3", cpu, cmdline)
    assert q.returncode == 0, q.stderr
    status, lines, _, err = run(tmp_path, name)
    assert status == 0, err
    ours = sorted(line for line in lines if _SAME.match(line))
    theirs = sorted(line for line in q.stdout.splitlines() if _SAME.match(line))
    assert ours and ours == theirs
