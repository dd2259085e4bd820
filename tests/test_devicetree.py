"""The device tree smpsim gives a guest (bootctl/devicetree.py), the arm64 Image loader
(bootctl/images.py) and the boot protocol between them: x0 = the device tree, as
Documentation/arm64/booting.rst asks. Expected values come from the platform
(DESIGN.md §2) and QEMU's tree for the same machine (../shared/reference/)."""

import pathlib
import shutil
import struct
import subprocess
import sys

import pytest
from fdt_reader import cells, node, read, strings
from gnu_as import assemble

from smpsim.bootctl import devicetree, images, topology

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOPOLOGIES = ROOT / "topologies"


def tree_of(name, cmdline=None):
    return read(devicetree.for_topology(topology.load(TOPOLOGIES / name), cmdline))


def test_the_virt_vhe_tree_describes_the_machine_as_qemu_names_it():
    t = tree_of("virt-vhe.toml", "console=ttyAMA0 id_aa64mmfr1.vh=0")
    root = t["props"]
    assert (cells(root["#address-cells"]), cells(root["#size-cells"])) == ([2], [2])
    assert strings(root["compatible"]) == ["linux,dummy-virt"]
    chosen = node(t, "chosen")["props"]
    assert strings(chosen["bootargs"]) == ["console=ttyAMA0 id_aa64mmfr1.vh=0"]
    assert strings(chosen["stdout-path"]) == ["/pl011@9000000"]
    assert "pl011@9000000" in t["children"]  # (the path it names exists)
    assert cells(node(t, "memory@40000000")["props"]["reg"]) == [0, 0x4000_0000, 0, 0x2000_0000]
    cpus = node(t, "cpus")
    assert sorted(cpus["children"]) == ["cpu@0", "cpu@1", "cpu@2", "cpu@3"]
    for n, cpu in enumerate(sorted(cpus["children"])):
        props = cpus["children"][cpu]["props"]
        assert cells(props["reg"]) == [n]
        assert strings(props["enable-method"]) == ["psci"]
        assert strings(props["device_type"]) == ["cpu"]
    psci = node(t, "psci")["props"]
    assert strings(psci["method"]) == ["smc"]
    assert cells(psci["cpu_on"]) == [0xC400_0003] and cells(psci["cpu_off"]) == [0x8400_0002]
    gic = node(t, "intc@8000000")["props"]
    assert strings(gic["compatible"]) == ["arm,gic-v3"]
    # the distributor's 64 KiB, then one 128 KiB redistributor frame pair per CPU
    assert cells(gic["reg"]) == [0, 0x0800_0000, 0, 0x1_0000, 0, 0x080A_0000, 0, 4 * 0x2_0000]
    assert cells(gic["interrupts"]) == [1, 9, 4]  # the maintenance interrupt: PPI 9
    assert cells(root["interrupt-parent"]) == cells(gic["phandle"])
    timer = node(t, "timer")["props"]
    # QEMU's four, then the EL2 virtual timer (PPI 12) that VHE CPUs have
    assert cells(timer["interrupts"]) == [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4, 1, 12, 4]
    uart = node(t, "pl011@9000000")["props"]
    assert cells(uart["reg"]) == [0, 0x0900_0000, 0, 0x1000]
    assert cells(uart["interrupts"]) == [0, 1, 4]  # SPI 1 = INTID 33
    clock = node(t, "apb-pclk")["props"]
    assert cells(uart["clocks"]) == cells(clock["phandle"]) * 2
    assert cells(clock["clock-frequency"]) == [24_000_000]


def test_cpus_carry_their_mpidr_and_the_boot_method_of_the_topology():
    mixed = node(tree_of("virt-mixed.toml"), "cpus")["children"]
    topo = topology.load(TOPOLOGIES / "virt-mixed.toml")
    assert sorted(cells(c["props"]["reg"])[0] for c in mixed.values()) == \
        sorted(c.mpidr & 0xFF_00FF_FFFF for c in topo.cpus)
    el1 = tree_of("virt-el1.toml")
    assert strings(node(el1, "psci")["props"]["method"]) == ["hvc"]
    spin = tree_of("virt-spin-table.toml")
    release = topology.load(TOPOLOGIES / "virt-spin-table.toml").boot.release_address
    assert "psci" not in spin["children"]
    for cpu in node(spin, "cpus")["children"].values():
        assert strings(cpu["props"]["enable-method"]) == ["spin-table"]
        assert cells(cpu["props"]["cpu-release-addr"]) == [release >> 32, release & 0xFFFF_FFFF]


def timer_ppis(name):
    return cells(node(tree_of(name), "timer")["props"]["interrupts"])[1::3]


def test_the_timer_lists_the_ppis_of_the_timers_the_cpus_have():
    assert timer_ppis("virt-vhe.toml") == [13, 14, 11, 10, 12]
    assert timer_ppis("virt-mixed.toml") == [13, 14, 11, 10, 12]  # one VHE cluster is enough
    assert timer_ppis("virt-nvhe.toml") == [13, 14, 11, 10]  # EL2, no EL2 virtual timer
    assert timer_ppis("kernel-no-el2.toml") == [13, 14, 11]  # no EL2 timers at all


def test_chosen_has_an_rng_seed_drawn_from_the_run_seed_and_a_kaslr_seed_when_asked(tmp_path):
    def chosen(extra_boot="", seed=0):
        text = (TOPOLOGIES / "virt-vhe.toml").read_text().replace(
            "[boot]\n", f"[boot]\n{extra_boot}\n").replace("[run]\n", f"[run]\nseed = {seed}\n")
        path = tmp_path / "t.toml"
        path.write_text(text.replace('"../guests/', f'"{ROOT}/guests/'))
        return node(read(devicetree.for_topology(topology.load(path))), "chosen")["props"]

    plain = chosen()
    assert len(plain["rng-seed"]) == 32 and "kaslr-seed" not in plain
    assert chosen()["rng-seed"] == plain["rng-seed"]  # a run repeats
    assert chosen(seed=7)["rng-seed"] != plain["rng-seed"]
    kaslr = chosen("kaslr = true")
    assert len(kaslr["kaslr-seed"]) == 8
    assert kaslr["kaslr-seed"] != chosen("kaslr = true", 7)["kaslr-seed"]


def test_an_initrd_goes_half_way_into_ram_and_the_tree_after_it(tmp_path):
    topo = topology.load(TOPOLOGIES / "virt-vhe.toml")  # 512 MiB at 0x4000_0000
    kernel = tmp_path / "Image"
    kernel.write_bytes(linux_image(b"\0" * 64, image_size=0x10_0000))
    (tmp_path / "initrd").write_bytes(b"07070" + b"\1" * 5000)
    image = images.load(kernel, 0x4000_0000, 512 << 20)
    dtb, initrd = images.device_tree(topo, image, None, None, tmp_path / "initrd")
    assert initrd.address == 0x4000_0000 + (128 << 20) and initrd.data[:5] == b"07070"
    assert dtb.address == initrd.address + 0x20_0000  # the next 2 MiB boundary, as QEMU
    chosen = node(read(dtb.data), "chosen")["props"]
    assert cells(chosen["linux,initrd-start"]) == [0, initrd.address]
    assert cells(chosen["linux,initrd-end"]) == [0, initrd.address + 5005]
    # an image that reaches past that place pushes both above its end (page-aligned)
    kernel.write_bytes(linux_image(b"\0" * 64, image_size=(130 << 20) + 100))
    big = images.load(kernel, 0x4000_0000, 512 << 20)
    dtb, initrd = images.device_tree(topo, big, None, None, tmp_path / "initrd")
    end = big.segments[0].address + big.segments[0].mem_size
    assert initrd.address == -(-end // 4096) * 4096
    assert dtb.address == -(-(initrd.address + 5005) // 0x20_0000) * 0x20_0000
    # without a RAM disk the tree takes its place, at the 2 MiB boundary
    assert images.device_tree(topo, big)[0].address == -(-end // 0x20_0000) * 0x20_0000
    with pytest.raises(images.ImageError, match="cannot read"):
        images.device_tree(topo, image, None, None, tmp_path / "missing")


def test_the_dtb_command_places_an_initrd_as_a_run_would(tmp_path):
    kernel = tmp_path / "Image"
    kernel.write_bytes(linux_image(b"\0" * 64, image_size=0x10_0000))
    (tmp_path / "initrd").write_bytes(b"x" * 100)
    r = subprocess.run([sys.executable, "-m", "smpsim", "dtb", TOPOLOGIES / "virt-vhe.toml",
                        "-o", tmp_path / "t.dtb", "--kernel", kernel, "--initrd",
                        tmp_path / "initrd"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    chosen = node(read((tmp_path / "t.dtb").read_bytes()), "chosen")["props"]
    assert cells(chosen["linux,initrd-end"])[1] - cells(chosen["linux,initrd-start"])[1] == 100
    r = subprocess.run([sys.executable, "-m", "smpsim", "dtb", TOPOLOGIES / "virt-vhe.toml",
                        "-o", tmp_path / "t.dtb", "--initrd", tmp_path / "nothing"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "cannot read" in r.stderr and "Traceback" not in r.stderr


def test_the_topology_s_cmdline_is_the_default_bootargs(tmp_path):
    text = (TOPOLOGIES / "virt-vhe.toml").read_text().replace(
        '[boot]\n', '[boot]\ncmdline = "ticks=3 id_aa64mmfr1.vh=0"\n')
    path = tmp_path / "t.toml"
    path.write_text(text.replace('"../guests/', f'"{ROOT}/guests/'))
    t = read(devicetree.for_topology(topology.load(path)))
    assert strings(node(t, "chosen")["props"]["bootargs"]) == ["ticks=3 id_aa64mmfr1.vh=0"]


def test_dtc_reads_it_without_a_warning(tmp_path):
    dtc = shutil.which("dtc")
    if dtc is None:
        pytest.fail("dtc is missing: run scripts/setup (Debian package device-tree-compiler)")
    out = tmp_path / "virt.dtb"
    r = subprocess.run([sys.executable, "-m", "smpsim", "dtb", TOPOLOGIES / "virt-mixed.toml",
                        "-o", out, "--append", "console=ttyAMA0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([dtc, "-I", "dtb", "-O", "dts", out], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert 'bootargs = "console=ttyAMA0";' in r.stdout
    assert 'compatible = "arm,gic-v3";' in r.stdout


def test_dtb_command_errors_are_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "smpsim", "dtb", TOPOLOGIES / "virt-vhe.toml",
                        "-o", tmp_path / "no" / "such" / "dir.dtb"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "cannot write" in r.stderr and "Traceback" not in r.stderr


# --- the arm64 Image header and the boot protocol ---------------------------------------

# Checks x0 at entry: exit code 0 when it points at a device tree's magic (0xd00dfeed,
# big-endian), 1 otherwise (semihosting SYS_EXIT, position independent).
CHECK_X0 = """
    ldr w2, [x0]
    ldr w3, =0xedfe0dd0
    cmp w2, w3
    cset x4, ne
    adr x1, block
    str x4, [x1, #8]
    mov w0, #0x18
    hlt #0xf000
    .balign 16
block: .quad 0x20026, 0
"""


def linux_image(code: bytes, text_offset=0x20_0000, image_size=None, flags=0b1010) -> bytes:
    """`code` behind a 64-byte arm64 Image header whose code0 branches over it."""
    size = 64 + len(code) if image_size is None else image_size
    header = struct.pack("<IIQQQQQQII", 0x1400_0010, 0, text_offset, size, flags, 0, 0, 0,
                         0x644D_5241, 0)
    return header + code


def test_an_image_is_loaded_2mib_aligned_plus_text_offset_and_entered_at_its_start(tmp_path):
    path = tmp_path / "Image"
    path.write_bytes(linux_image(b"\0" * 64, image_size=0x10_0000))
    img = images.load(path, 0x4000_0000, 512 << 20)
    assert (img.kind, img.entry) == ("linux", 0x4020_0000)
    assert img.segments[0].mem_size == 0x10_0000  # image_size: its BSS too
    path.write_bytes(linux_image(b"\0" * 64, image_size=0))  # before Linux 3.17
    assert images.load(path, 0x4000_0000, 512 << 20).entry == 0x4008_0000
    path.write_bytes(linux_image(b"\0" * 64, flags=0b1011))
    with pytest.raises(images.ImageError, match="big-endian"):
        images.load(path, 0x4000_0000, 512 << 20)


def _run(tmp_path, image: bytes, processes: bool):
    topo = (ROOT / "topologies" / "selftest.toml").read_text()
    topo = topo.replace('"../guests/', f'"{ROOT}/guests/')
    if processes:
        topo = topo.replace("[run]\n", "[run]\nprocesses = true\n")
    (tmp_path / "t.toml").write_text(topo)
    (tmp_path / "guest").write_bytes(image)
    args = [sys.executable, "-m", "smpsim", "run", tmp_path / "t.toml", "--kernel",
            tmp_path / "guest", "--timeout", "60"]
    if processes:
        args += ["--run-dir", tmp_path / "run"]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("processes", [False, True], ids=["in-process", "cpu-processes"])
@pytest.mark.parametrize("kind", ["raw", "linux"])
def test_the_boot_cpu_gets_the_device_tree_in_x0(tmp_path, kind, processes):
    code = assemble(CHECK_X0)
    r = _run(tmp_path, code if kind == "raw" else linux_image(code), processes)
    assert r.returncode == 0, r.stderr


# Exit code 0 when the boot CPU starts as booting.rst asks of a kernel entered at EL2:
# x1-x3 = 0, DAIF masked, the MMU off, CNTFRQ_EL0 = the topology's 62.5 MHz,
# CNTHCTL_EL2.EL1PCTEN/EL1PCEN set, ICC_SRE_EL2.SRE and .Enable set; else the number of
# the first check that failed.
CHECK_BOOT_STATE = """
    mov x9, #1
    orr x4, x1, x2
    orr x4, x4, x3
    cbnz x4, done
    mov x9, #2
    mrs x5, daif
    cmp x5, #0x3c0
    b.ne done
    mov x9, #3
    mrs x5, CurrentEL
    cmp x5, #8
    b.ne done
    mov x9, #4
    mrs x5, sctlr_el2
    tbnz x5, #0, done
    mov x9, #5
    mrs x5, cntfrq_el0
    ldr x6, =62500000
    cmp x5, x6
    b.ne done
    mov x9, #6
    mrs x5, cnthctl_el2
    and x5, x5, #3
    cmp x5, #3
    b.ne done
    mov x9, #7
    mrs x5, S3_4_C12_C9_5       // ICC_SRE_EL2
    tbz x5, #0, done
    tbz x5, #3, done
    mov x9, #0
done:
    adr x1, block
    str x9, [x1, #8]
    mov w0, #0x18
    hlt #0xf000
    .balign 16
block: .quad 0x20026, 0
    .ltorg
"""


def test_a_linux_image_is_entered_in_the_state_booting_rst_asks_for(tmp_path):
    r = _run(tmp_path, linux_image(assemble(CHECK_BOOT_STATE)), processes=True)
    assert r.returncode == 0, f"check {r.returncode} failed: {r.stderr}"


def test_a_dtb_file_replaces_the_generated_one_and_a_bad_one_is_refused(tmp_path):
    code = assemble(CHECK_X0)
    blob = devicetree.for_topology(topology.load(TOPOLOGIES / "selftest.toml"), "mine")
    (tmp_path / "my.dtb").write_bytes(blob)
    (tmp_path / "t.toml").write_text((TOPOLOGIES / "selftest.toml").read_text().replace(
        '"../guests/', f'"{ROOT}/guests/'))
    (tmp_path / "guest").write_bytes(code)
    base = [sys.executable, "-m", "smpsim", "run", tmp_path / "t.toml", "--kernel",
            tmp_path / "guest", "--timeout", "60"]
    r = subprocess.run(base + ["--dtb", tmp_path / "my.dtb"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    (tmp_path / "bad.dtb").write_bytes(b"not a tree")
    r = subprocess.run(base + ["--dtb", tmp_path / "bad.dtb"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2 and "no FDT magic" in r.stderr and "Traceback" not in r.stderr
