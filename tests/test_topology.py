"""Topology files: parsed into the machine they describe, or one clear error that names
the file, the key and what was expected."""

import pathlib
import subprocess
import sys

import pytest

from smpsim.bootctl import images, topology
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
    assert t.boot.release_address is None
    assert (t.run.mode, t.run.quantum, t.run.timeout) == ("free", 10_000, 60.0)
    assert (t.run.transport, t.run.listen) == ("ipc", "127.0.0.1")
    assert t.run.processes is None  # the process machine for more than one CPU only


def test_one_cpu_can_ask_for_the_process_machine():
    assert parse("[run]\nprocesses = true\n[[cluster]]\ncpus = 1\n").run.processes is True
    with pytest.raises(TopologyError, match="run.processes: expected true or false"):
        parse("[run]\nprocesses = 1\n[[cluster]]\ncpus = 1\n")


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


def test_default_affinity_is_cluster_index_in_aff1_and_cpu_index_in_aff0():
    t = parse(MIXED)
    assert [(c.cluster, c.core, c.affinity) for c in t.cpus] == [
        (0, 0, 0x000), (0, 1, 0x001), (1, 0, 0x100), (1, 1, 0x101)]
    assert [c.core_features()["mpidr_aff"] for c in t.cpus] == [0x000, 0x001, 0x100, 0x101]


def test_explicit_affinities_number_a_cluster_from_its_first_cpu():
    t = parse("[[cluster]]\ncpus = 2\naffinity = 0x1_0002_0300\n"
              "[[cluster]]\ncpus = 3\naffinity = 0x2_00FD\n")
    assert [c.mpidr for c in t.cpus] == [0x1_8002_0300, 0x1_8002_0301,
                                         0x8002_00FD, 0x8002_00FE, 0x8002_00FF]
    assert [(c.cluster, c.core) for c in t.cpus] == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]
    # what machine.py gives the GIC and PSCI, and what the core reads as MPIDR_EL1
    assert [c.mpidr & 0xFF_00FF_FFFF for c in t.cpus] == [c.affinity for c in t.cpus]
    assert t.cpus[0].core_features()["mpidr_aff"] == 0x1_0002_0300


def test_a_cpu_can_override_its_affinity():
    t = parse("[[cluster]]\ncpus = 3\naffinity = 0x100\n[cluster.cpu.1]\naffinity = 0x1_0000\n")
    assert [c.affinity for c in t.cpus] == [0x100, 0x1_0000, 0x102]  # the others keep theirs
    t = parse("[[cluster]]\ncpus = 2\n[cluster.cpu.1]\naffinity = 0x200\n")
    assert [c.affinity for c in t.cpus] == [0x000, 0x200]
    # a CPU that names its own affinity may leave the cluster's Aff0 range
    t = parse("[[cluster]]\ncpus = 3\naffinity = 0xFE\n[cluster.cpu.2]\naffinity = 0x100\n")
    assert [c.affinity for c in t.cpus] == [0xFE, 0xFF, 0x100]


def test_the_core_reads_the_affinity_in_mpidr_el1():
    from smpsim.jit import features, state

    cpu = parse("[[cluster]]\ncpus = 1\naffinity = 0x12_0003_0405\n").cpus[0]
    regs = state.new_cpu(0x4000_0000, 4096)
    features.reset_state(regs, features.Features.from_dict(cpu.core_features()))
    assert int(regs[state.MPIDR]) == cpu.mpidr == 0x12_8003_0405


def test_spin_table_release_address():
    t = parse("[boot]\nmethod = \"spin-table\"\nrelease_address = 0x4000_0FF8\n[[cluster]]\ncpus = 2\n")
    assert (t.boot.method, t.boot.release_address) == ("spin-table", 0x4000_0FF8)
    last = 0x4000_0000 + (128 << 20) - 8  # the last word of RAM
    t = parse(f"[boot]\nmethod = \"spin-table\"\nrelease_address = {last}\n[[cluster]]\ncpus = 1\n")
    assert t.boot.release_address == last


SPIN = "[boot]\nmethod = \"spin-table\"\n"
AFF = "expected an MPIDR affinity (Aff0 bits 0-7, Aff1 8-15, Aff2 16-23, Aff3 32-39)"


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
    ("[run]\ntransport = \"udp\"\n[[cluster]]\ncpus = 1\n",
     "t.toml: run.transport: expected 'ipc' or 'tcp', got 'udp'"),
    ("[run]\ntransport = \"tcp\"\nlisten = \"localhost\"\n[[cluster]]\ncpus = 1\n",
     "t.toml: run.listen: expected an IP address, got 'localhost'"),
    ("[run]\nlisten = \"0.0.0.0\"\n[[cluster]]\ncpus = 1\n",
     't.toml: run.listen: only with transport = "tcp"'),
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
    ("[[cluster]]\ncpus = 2\ncpu = { 1 = 5 }\n", "t.toml: cluster[0].cpu.1: expected a table"),
    ("[[cluster]]\ncpus = 1\nid_registers = { MPIDR_EL1 = 0x80000100 }\n",
     "t.toml: cluster[0].id_registers.MPIDR_EL1: set affinity instead (the GIC and PSCI use it too)"),
    # affinities
    ("[[cluster]]\ncpus = 1\naffinity = \"0x100\"\n", f"t.toml: cluster[0].affinity: {AFF}, got '0x100'"),
    ("[[cluster]]\ncpus = 1\naffinity = true\n", f"t.toml: cluster[0].affinity: {AFF}, got True"),
    ("[[cluster]]\ncpus = 1\naffinity = -1\n", f"t.toml: cluster[0].affinity: {AFF}, got -0x1"),
    ("[[cluster]]\ncpus = 1\naffinity = 0x100_0000\n", f"t.toml: cluster[0].affinity: {AFF}, got 0x1000000"),
    ("[[cluster]]\ncpus = 1\naffinity = 0x100_0000_0000\n",
     f"t.toml: cluster[0].affinity: {AFF}, got 0x10000000000"),
    ("[[cluster]]\ncpus = 2\n[cluster.cpu.1]\naffinity = 0x8000_0000\n",
     f"t.toml: cluster[0].cpu.1.affinity: {AFF}, got 0x80000000"),
    ("[[cluster]]\ncpus = 4\naffinity = 0x1FE\n",
     ("t.toml: cluster[0].affinity: CPU 2 of the cluster would get Aff0 0x100 (0x1fe + 2); "
      "Aff0 stops at 0xff")),
    ("[[cluster]]\ncpus = 2\n[[cluster]]\ncpus = 1\naffinity = 0x1\n",
     "t.toml: cluster[1].affinity: CPU 2 has MPIDR affinity 0x1, already CPU 1's (cluster[0])"),
    ("[[cluster]]\ncpus = 2\naffinity = 0x100\n[[cluster]]\ncpus = 2\naffinity = 0x101\n",
     "t.toml: cluster[1].affinity: CPU 2 has MPIDR affinity 0x101, already CPU 1's (cluster[0])"),
    ("[[cluster]]\ncpus = 1\naffinity = 0x100\n[[cluster]]\ncpus = 1\n",
     ("t.toml: cluster[1].affinity: CPU 1 has MPIDR affinity 0x100 by default, already CPU 0's "
      "(cluster[0])")),
    ("[[cluster]]\ncpus = 3\n[cluster.cpu.2]\naffinity = 0x1\n",
     "t.toml: cluster[0].cpu.2.affinity: CPU 2 has MPIDR affinity 0x1, already CPU 1's (cluster[0])"),
    ("[[cluster]]\ncpus = 2\n[cluster.cpu.1]\naffinity = 0x100\n[[cluster]]\ncpus = 1\n",
     ("t.toml: cluster[1].affinity: CPU 2 has MPIDR affinity 0x100 by default, already CPU 1's "
      "(cluster[0].cpu.1)")),
    ("[[cluster]]\ncpus = 2\n[cluster.cpu.0]\naffinity = 0x1\n",
     ("t.toml: cluster[0].affinity: CPU 1 has MPIDR affinity 0x1 by default, already CPU 0's "
      "(cluster[0].cpu.0)")),
    # the spin-table release address
    (SPIN + "[[cluster]]\ncpus = 2\n",
     "t.toml: boot.release_address: missing; expected the address of the word secondary CPUs poll"),
    ("[boot]\nrelease_address = 0x4000_0000\n[[cluster]]\ncpus = 1\n",
     "t.toml: boot.release_address: only for spin-table (boot.method is \"psci\")"),
    (SPIN + "release_address = \"pen\"\n[[cluster]]\ncpus = 1\n",
     ("t.toml: boot.release_address: expected the address of the word secondary CPUs poll "
      "(spin-table), got 'pen'")),
    (SPIN + "release_address = 0x4000_0004\n[[cluster]]\ncpus = 1\n",
     "t.toml: boot.release_address: expected an 8-byte aligned address, got 0x40000004"),
    (SPIN + "release_address = 0x3FFF_FFF8\n[[cluster]]\ncpus = 1\n",
     "t.toml: boot.release_address: 0x3ffffff8 is outside RAM [0x40000000, 0x48000000)"),
    (SPIN + "release_address = 0x4800_0000\n[[cluster]]\ncpus = 1\n",
     "t.toml: boot.release_address: 0x48000000 is outside RAM [0x40000000, 0x48000000)"),
    (SPIN + "release_address = 0x0900_0000\n[[cluster]]\ncpus = 1\n",  # the UART
     "t.toml: boot.release_address: 0x9000000 is outside RAM [0x40000000, 0x48000000)"),
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
    """Each shipped topology loads, and its image is a committed guest image that loads
    into its RAM; the Linux topologies' image is the kernel scripts/fetch-kernel puts
    in kernels/ (not committed), which loads when it is there."""
    from smpsim.bootctl import images
    t = topology.load(path)
    assert t.boot.image is not None
    if t.boot.image.parent.name == "kernels":
        assert path.name.startswith("linux-") and t.boot.image.name == "Image"
        if not t.boot.image.is_file():
            return
    else:
        assert t.boot.image.suffix in (".elf", ".Image")
        assert t.boot.image.parent.name == "build" and t.boot.image.is_file()
    images.for_topology(t)


def _spin_table(tmp_path, image_line=""):
    path = tmp_path / "spin.toml"
    path.write_text(f"[boot]\nmethod = \"spin-table\"\nrelease_address = 0x4000_0010\n{image_line}"
                    "[[cluster]]\ncpus = 2\n")
    return topology.load(path)


def test_an_image_over_the_release_address_is_refused(tmp_path):
    (tmp_path / "big.bin").write_bytes(bytes(0x14))  # a raw image loads at the RAM base
    t = _spin_table(tmp_path, "image = \"big.bin\"\n")
    message = (f"{tmp_path}/spin.toml: boot.release_address: 0x40000010 is inside "
               f"{tmp_path}/big.bin's segment [0x40000000, 0x40000014)")
    with pytest.raises(images.ImageError) as info:
        images.for_topology(t)
    assert str(info.value) == message
    with pytest.raises(images.ImageError) as info:  # --kernel too
        images.for_topology(_spin_table(tmp_path), tmp_path / "big.bin")
    assert str(info.value) == message


def test_an_image_below_the_release_address_loads(tmp_path):
    (tmp_path / "small.bin").write_bytes(bytes(0x10))
    image = images.for_topology(_spin_table(tmp_path), tmp_path / "small.bin")
    assert image.segments[0].mem_size == 0x10


def smpsim(*args):
    return subprocess.run([sys.executable, "-m", "smpsim", *map(str, args)], check=False,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("text, message", [
    ("[[cluster]]\ncpus = 2\n[[cluster]]\ncpus = 1\naffinity = 0x1\n",
     "cluster[1].affinity: CPU 2 has MPIDR affinity 0x1, already CPU 1's (cluster[0])"),
    (SPIN + "[[cluster]]\ncpus = 2\n", "boot.release_address: missing;"),
    ("[[cluster]]\ncpus = 1\nmpidr = 0x100\n", "cluster[0].mpidr: unknown key"),
])
def test_check_on_a_bad_topology_exits_2_with_one_line(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    r = smpsim("check", path)
    assert (r.returncode, r.stdout) == (2, "")
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith(f"smpsim: {path}: {message}")


def test_check_prints_affinities_and_the_release_address(tmp_path):
    path = tmp_path / "spin.toml"
    path.write_text(SPIN + "release_address = 0x4000_0FF8\n"
                    "[[cluster]]\ncpus = 2\naffinity = 0x1_0000_0100\n[[cluster]]\ncpus = 1\n")
    r = smpsim("check", path)
    assert r.returncode == 0, r.stderr
    assert "spin-table (smc conduit), release address 0x40000ff8," in r.stdout
    cpus = [line.split()[:4] for line in r.stdout.splitlines() if line.startswith("  cpu")]
    assert cpus == [["cpu0", "MPIDR", "0x180000100", "aff"], ["cpu1", "MPIDR", "0x180000101", "aff"],
                    ["cpu2", "MPIDR", "0x080000100", "aff"]]
    assert [line.split()[4] for line in r.stdout.splitlines() if line.startswith("  cpu")] == [
        "1.0.1.0", "1.0.1.1", "0.0.1.0"]
