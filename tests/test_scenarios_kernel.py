"""The VHE scenario library, the kernel's half (issue 6, scenarios 1-5): the minikernel
(guests/minikernel/) on the topologies/kernel-*.toml machines, on smpsim's
multi-process machine, asserted from the console and from the log records its
`@event` lines become; and the same image on QEMU where QEMU can build the machine
(no mixed VHE/non-VHE or mixed-EL CPUs there), whose console must be the same.

What each scenario must show is what arm64 Linux >= 5.12 does on such a machine:
its messages ("CPU: All CPU(s) started at EL2", "Detected conflict for capability",
"CPUs started in inconsistent modes", "Kernel panic - not syncing"), the timer it
picks (PPI 26 at EL2 with VHE, 30 at EL1 with EL2 present, 27 without EL2)."""

import pathlib
import re

import pytest
from guest_runs import run_kernel_on_qemu, run_topology

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE = ROOT / "guests" / "build" / "minikernel.Image"


def run(tmp_path, name):
    return run_topology(name, tmp_path / "run")


def guest_events(records, name):
    """{cpu: record} of the guest's `name` records (one per CPU expected)."""
    found = [e for e in records if e["event"] == name and e.get("source") == "uart"]
    return {e["cpu"]: e for e in found}


def ticked(lines, ppis_els):
    """Each CPU n printed its tick line with ppis_els[n] = (PPI, EL)."""
    for n, (ppi, el) in enumerate(ppis_els):
        assert f"CPU{n}: 5 timer ticks on PPI {ppi} at EL{el}" in lines, (n, ppi, el)


def test_scenario_1_four_vhe_cpus_run_the_kernel_at_el2_ticking_on_ppi_26(tmp_path):
    status, lines, records, err = run(tmp_path, "kernel-vhe")
    assert status == 0, err
    assert "SMP: Total of 4 processors activated." in lines
    assert "CPU: All CPU(s) started at EL2" in lines
    ticked(lines, [(26, 2)] * 4)
    assert sorted(guest_events(records, "hyp_stub_installed")) == [0, 1, 2, 3]
    vhe = guest_events(records, "vhe_enabled")
    assert sorted(vhe) == [0, 1, 2, 3] and all(e["el"] == 2 for e in vhe.values())
    # the records are the CPUs' own (`smpsim logs --cpu N` finds them), dated with the
    # guest time of the CPU that printed them
    assert all(e["component"] == f"cpu{n}" and e["writer"] == f"cpu{n}"
               and e["icount"] > 0 and e["counter"] > 0 for n, e in vhe.items())
    done = guest_events(records, "ticks_done")
    assert {n: (e["ppi"], e["el"]) for n, e in done.items()} == {n: (26, 2) for n in range(4)}
    # and the machine saw the upgrade: an HVC to EL2 from EL1 on every CPU
    hvcs = [e for e in records if e["event"] == "exception" and e.get("ec") == "0x16"]
    assert sorted({e["component"] for e in hvcs}) == ["cpu0", "cpu1", "cpu2", "cpu3"]


def test_scenario_2_four_non_vhe_cpus_run_the_kernel_at_el1_over_the_stub(tmp_path):
    status, lines, records, err = run(tmp_path, "kernel-nvhe")
    assert status == 0, err
    assert "CPU: All CPU(s) started at EL2" in lines
    ticked(lines, [(30, 1)] * 4)
    assert sorted(guest_events(records, "hyp_stub_installed")) == [0, 1, 2, 3]
    nvhe = guest_events(records, "nvhe")
    assert {n: e["reason"] for n, e in nvhe.items()} == {n: "no_vhe" for n in range(4)}
    assert not guest_events(records, "vhe_enabled")


def test_scenario_3_without_el2_the_kernel_runs_at_el1_on_the_virtual_timer(tmp_path):
    status, lines, records, err = run(tmp_path, "kernel-no-el2")
    assert status == 0, err
    assert "CPU: All CPU(s) started at EL1" in lines
    ticked(lines, [(27, 1)] * 4)
    assert not guest_events(records, "hyp_stub_installed")
    assert any("conduit hvc" in line for line in lines)  # PSCI over HVC, to the firmware


@pytest.mark.parametrize("name, system, cpu", [
    ("kernel-mixed-vhe-boot", 1, 0),   # the boot CPU has VHE, CPU 2 does not
    ("kernel-mixed-nvhe-boot", 0, 1),  # the reverse order
])
def test_scenario_4_mixed_vhe_cpus_give_the_capability_conflict_and_a_panic(tmp_path, name,
                                                                             system, cpu):
    status, lines, records, err = run(tmp_path, name)
    assert status == 0, err  # (the panic ends the run through PSCI SYSTEM_RESET)
    assert (f"CPU2: Detected conflict for capability Virtualization Host Extensions, "
            f"System: {system}, CPU: {cpu}") in lines
    assert any(line.startswith("Kernel panic - not syncing: ") for line in lines)
    assert "SMP: Total of 4 processors activated." not in lines
    conflict = guest_events(records, "capability_conflict")
    assert list(conflict) == [2] and (conflict[2]["system"], conflict[2]["local"]) == (system, cpu)
    assert list(guest_events(records, "panic")) == [0]
    assert not any(line.startswith("CPU2: 5 timer ticks") for line in lines)


def test_scenario_4_cpus_entering_at_different_els_are_reported_as_linux_does(tmp_path):
    status, lines, records, err = run(tmp_path, "kernel-mixed-el")
    assert status == 0, err
    assert "CPU: CPUs started in inconsistent modes" in lines
    assert guest_events(records, "inconsistent_modes")
    ticked(lines, [(30, 1)] * 3 + [(27, 1)])


def test_scenario_5_the_command_line_keeps_vhe_hardware_in_nvhe(tmp_path):
    status, lines, records, err = run(tmp_path, "kernel-vhe-disabled")
    assert status == 0, err
    assert "Kernel command line: id_aa64mmfr1.vh=0 ticks=5" in lines
    nvhe = guest_events(records, "nvhe")
    assert {n: e["reason"] for n, e in nvhe.items()} == {n: "override" for n in range(4)}
    assert not guest_events(records, "vhe_enabled")
    ticked(lines, [(30, 1)] * 4)


# --- the same image on QEMU ---------------------------------------------------------------

QEMU_MACHINES = {  # scenario topology: (QEMU -M, -cpu, -append)
    "kernel-vhe": ("virt,virtualization=on,gic-version=3", "max", "ticks=5"),
    "kernel-nvhe": ("virt,virtualization=on,gic-version=3", "cortex-a53", "ticks=5"),
    "kernel-no-el2": ("virt,gic-version=3", "cortex-a53", "ticks=5"),
    "kernel-vhe-disabled": ("virt,virtualization=on,gic-version=3", "max",
                            "id_aa64mmfr1.vh=0 ticks=5"),
}
# what differs by design: the CPU's MIDR (QEMU's max CPU has its own), the FDT's size
# (QEMU pads its tree to 1 MiB), and timings
_MASKS = [(re.compile(r"\[0x[0-9a-f]{8}\]"), "[MIDR]")]
_DROP = re.compile(r"^(IPI: |FDT: at )")


def normalised(lines):
    out = []
    for line in lines:
        if _DROP.match(line):
            continue
        for pattern, repl in _MASKS:
            line = pattern.sub(repl, line)
        out.append(line)
    return out


@pytest.mark.parametrize("name", sorted(QEMU_MACHINES))
def test_qemu_prints_the_same_console(tmp_path, name):
    machine, cpu, append = QEMU_MACHINES[name]
    q = run_kernel_on_qemu(IMAGE, machine, cpu, append)
    assert q.returncode == 0, q.stderr
    status, lines, _, err = run(tmp_path, name)
    assert status == 0, err
    assert normalised(lines) == normalised(q.stdout.splitlines())
