"""Topology files: parsed into the machine they describe, or one clear error that names
the file, the key and what was expected."""

import pathlib

import pytest

from smpsim.bootctl import topology
from smpsim.bootctl.topology import TopologyError

ROOT = pathlib.Path(__file__).resolve().parents[1]

MIXED = """
[machine]
name = "virt-mixed"
ram = { base = 0x4000_0000, size = "512MiB" }
counter_frequency = 62_500_000

[boot]
method = "psci"
conduit = "smc"
start_el = 2
image = "../guests/build/smp_hello.elf"

[run]
mode = "free"
quantum = 10_000
timeout = 60

[[cluster]]
cpus = 2
midr = 0x412F_D050
features = { el2 = true, vhe = true, lse = true, pan = true }

[[cluster]]
cpus = 2
midr = 0x411F_D070
features = { el2 = true, vhe = false, lse = false, pan = false }

[cluster.cpu.1]
midr = 0x411F_D071
"""


def parse(text, name="t.toml"):
    return topology.parse(text, pathlib.Path("/topos") / name)


def test_the_design_example_describes_two_clusters():
    t = parse(MIXED)
    assert t.machine.ram_size == 512 << 20 and t.machine.ram_base == 0x4000_0000
    assert t.boot.image == pathlib.Path("/guests/build/smp_hello.elf")
    assert [c.mpidr for c in t.cpus] == [0x8000_0000, 0x8000_0001, 0x8000_0100, 0x8000_0101]
    assert [c.features.vhe for c in t.cpus] == [True, True, False, False]
    assert [c.midr for c in t.cpus] == [0x412F_D050, 0x412F_D050, 0x411F_D070, 0x411F_D071]
    assert t.cpus[3].features.lse is False  # the override keeps the cluster's features


def test_defaults():
    t = parse("[[cluster]]\ncpus = 1\n")
    assert (t.machine.ram_base, t.machine.counter_frequency) == (0x4000_0000, 62_500_000)
    assert (t.boot.method, t.boot.conduit, t.boot.start_el, t.boot.image) == ("psci", "smc", 2, None)
    assert (t.run.mode, t.run.quantum, t.run.timeout) == ("free", 10_000, 60.0)


def test_a_cpu_without_el2_starts_at_el1_and_hvc_is_the_el1_conduit():
    t = parse("[boot]\nstart_el = 1\n[[cluster]]\ncpus = 1\nfeatures = { el2 = false }\n")
    assert t.boot.conduit == "hvc"
    assert t.cpus[0].start_el(t.boot) == 1


def test_id_registers_per_cluster_and_cpu_merge():
    t = parse("[[cluster]]\ncpus = 2\nfeatures = { vmid_bits = 8, pa_bits = 40 }\n"
              "id_registers = { ID_AA64ISAR0_EL1 = 0x10 }\n"
              "[cluster.cpu.1]\nid_registers = { ID_AA64MMFR1_EL1 = 0x100 }\n")
    assert t.cpus[0].id_registers == (("ID_AA64ISAR0_EL1", 0x10),)
    assert t.cpus[1].id_registers == (("ID_AA64ISAR0_EL1", 0x10), ("ID_AA64MMFR1_EL1", 0x100))
    assert (t.cpus[1].features.vmid_bits, t.cpus[1].features.pa_bits) == (8, 40)


@pytest.mark.parametrize("text, message", [
    ("[[cluster]]\ncpus = 0\n", "t.toml: cluster[0].cpus: expected a CPU count from 1 to 256, got 0"),
    ("", "t.toml: cluster: missing; expected one or more [[cluster]] tables"),
    ("[machine]\nram = { size = \"12XB\" }\n[[cluster]]\ncpus = 1\n",
     "t.toml: machine.ram.size: expected a size like \"512MiB\", got '12XB'"),
    ("[machine]\nram = { size = 1000 }\n[[cluster]]\ncpus = 1\n",
     "t.toml: machine.ram.size: expected a positive multiple of 4 KiB, got 1000"),
    ("[boot]\nmethod = \"acpi\"\n[[cluster]]\ncpus = 1\n",
     "t.toml: boot.method: expected 'psci' or 'spin-table', got 'acpi'"),
    ("[boot]\nstart_el = 3\n[[cluster]]\ncpus = 1\n", "t.toml: boot.start_el: expected 1 or 2, got 3"),
    ("[run]\nmode = \"fast\"\n[[cluster]]\ncpus = 1\n",
     "t.toml: run.mode: expected 'free' or 'lockstep' or 'serial', got 'fast'"),
    ("[run]\ntimeout = -1\n[[cluster]]\ncpus = 1\n",
     "t.toml: run.timeout: expected a positive number of seconds, got -1"),
    ("[run]\nquantum = \"big\"\n[[cluster]]\ncpus = 1\n",
     "t.toml: run.quantum: expected a number of instructions (1 to 10**9), got 'big'"),
    ("[[cluster]]\ncpus = 1\nfeatures = { vhe = 1 }\n",
     "t.toml: cluster[0].features.vhe: expected true or false, got 1"),
    ("[[cluster]]\ncpus = 1\nfeatures = { el2 = false, vhe = true }\n",
     "t.toml: cluster[0].features.vhe: VHE needs EL2 (el2 = true)"),
    ("[[cluster]]\ncpus = 1\nfeatures = { sve = true }\n", "t.toml: cluster[0].features.sve: unknown key"),
    ("[machine]\nram = { base = 0x0800_0000, size = \"1MiB\" }\n[[cluster]]\ncpus = 1\n",
     "t.toml: machine.ram.base: RAM [0x8000000, 0x8100000) overlaps the gicd device at 0x8000000"),
    ("[machine]\nram = { base = 0x0, size = \"1GiB\" }\n[[cluster]]\ncpus = 1\n",
     "t.toml: machine.ram.base: RAM [0x0, 0x40000000) overlaps the gicd device"),
    ("[[cluster]]\ncpus = 1\nfeatures = { vmid_bits = 12 }\n",
     "t.toml: cluster[0].features.vmid_bits: expected 8 or 16, got 12"),
    ("[[cluster]]\ncpus = 1\nfeatures = { pa_bits = 47 }\n",
     "t.toml: cluster[0].features.pa_bits: expected one of 32, 36, 40, 42, 44, 48, 52, got 47"),
    ("[[cluster]]\ncpus = 1\nid_registers = { SCTLR_EL1 = 1 }\n",
     "t.toml: cluster[0].id_registers.SCTLR_EL1: not an identification register"),
    ("[[cluster]]\ncpus = 1\nid_registers = { ID_AA64ISAR0_EL1 = -1 }\n",
     "t.toml: cluster[0].id_registers.ID_AA64ISAR0_EL1: expected a 64-bit value, got -1"),
    ("[[cluster]]\ncpus = 2\n[cluster.cpu.2]\nmidr = 1\n",
     "t.toml: cluster[0].cpu.2: expected a CPU index from 0 to 1"),
    ("[[cluster]]\ncpus = 1\nmidr = 0x1_0000_0000\n",
     "t.toml: cluster[0].midr: expected a 32-bit MIDR value, got 0x100000000"),
    ("[machine]\nnmae = \"x\"\n[[cluster]]\ncpus = 1\n", "t.toml: machine.nmae: unknown key"),
    ("[[cluster]]\ncpus = 1\n[extra]\n", "t.toml: extra: unknown key"),
    ("[[cluster]\n", "t.toml: not valid TOML"),
])
def test_errors_name_the_file_and_key(text, message):
    with pytest.raises(TopologyError) as info:
        parse(text)
    assert str(info.value).startswith("/topos/" + message)


def test_a_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(TopologyError, match="cannot read"):
        topology.load(tmp_path / "nope.toml")


@pytest.mark.parametrize("path", sorted((ROOT / "topologies").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_topology_is_valid(path):
    t = topology.load(path)
    assert t.boot.image is not None and t.boot.image.suffix == ".elf"
