"""The process-per-CPU machine, measured: how long `smpsim run` takes to bring four CPU
processes online, how fast a CPU process runs guest code compared with the bare core in
this process, the SGI round trip between two CPU processes, the MMIO read round trip to
the UART and posted-write throughput (timed by the guest with CNTPCT_EL0, which follows
the host's clock in free runs), and the RSS of each CPU process. Figures are printed,
never asserted.

    python -m benchmarks.bench_machine [--reps N]

Needs the GNU AArch64 binutils (scripts/setup) and a warm Numba cache (it warms it).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
LOOP_INSNS = 400_000_000  # instructions of the speed workload (long: a fresh process warms up for ~25 ms)

# the guests' report: x0 as 16 hex digits and a newline, through semihosting
PRINT_HEX = """
    .text
print_hex:
    adr x1, hexbuf
    mov x2, #60
91: lsr x3, x0, x2
    and x3, x3, #0xf
    cmp x3, #10
    add x4, x3, #'0'
    add x5, x3, #('a' - 10)
    csel x3, x5, x4, hs
    strb w3, [x1], #1
    subs x2, x2, #4
    b.pl 91b
    mov w3, #10
    strb w3, [x1], #1
    strb wzr, [x1]
    mov x0, #4
    adr x1, hexbuf
    hlt #0xf000
    ret
    .balign 8
hexbuf: .space 24
"""

# one CPU: LOOP/2 iterations of (subs; b.ne) timed with CNTPCT_EL0 (which follows the
# host's clock in a free run), the ticks printed in hex, then PSCI SYSTEM_OFF
SPEED_GUEST = f"""
    .global _start
_start:
    ldr x5, ={LOOP_INSNS // 2}
    isb
    mrs x6, cntpct_el0
1:  subs x5, x5, #1
    b.ne 1b
    isb
    mrs x7, cntpct_el0
    sub x0, x7, x6
    bl print_hex
    ldr x0, =0x84000008
    smc #0
""" + PRINT_HEX
ONE_CPU = """
[boot]
start_el = 2
[run]
timeout = 600
[[cluster]]
cpus = 1
features = { el2 = true, vhe = true }
"""


TICKS_PER_US = 62.5  # CNTFRQ_EL0 of the topologies
SGI_TRIPS, MMIO_READS, POSTED_WRITES = 200, 2000, 20000

# Two VHE CPUs at EL2. CPU 0 times MMIO_READS reads of UARTFR, then POSTED_WRITES writes
# of UARTIBRD closed by one read (ordered after them on the same socket), then
# SGI_TRIPS round trips: SGI 1 to CPU 1, whose handler answers SGI 2, whose handler on
# CPU 0 sets `pong`. It prints the totals and every trip in hex (ticks), one per line.
LATENCY_GUEST = f"""    .arch armv8.1-a
    .global _start
_start:
    adr x0, vectors
    msr vbar_el2, x0
    mov x0, #(1 << 31)         // E2H, TGE, RW: a VHE host takes its IRQs at EL2
    orr x0, x0, #(1 << 27)
    orr x0, x0, #(1 << 34)
    msr hcr_el2, x0
    mov x0, #0xf0
    msr icc_pmr_el1, x0
    mov x0, #1
    msr icc_igrpen1_el1, x0
    isb
    mrs x1, mpidr_el1
    and x1, x1, #0xff
    cbnz x1, secondary
    ldr x1, =0x08000000        // GICD_CTLR: ARE, EnableGrp1
    mov w2, #2
    str w2, [x1]
    ldr x1, =0x080A0000
    mov w3, #0b110             // SGIs 1 and 2: group 1, enabled, on both CPUs
    mov x4, #2
1:  str wzr, [x1, #0x14]
    add x5, x1, #0x10000
    str w3, [x5, #0x80]
    str w3, [x5, #0x100]
    add x1, x1, #0x20000
    subs x4, x4, #1
    b.ne 1b
    ldr x0, =0xc4000003        // CPU_ON: CPU 1
    mov x1, #1
    adr x2, _start
    mov x3, #0
    smc #0
    adr x6, ready
2:  ldar w7, [x6]
    cbz w7, 2b

    ldr x10, =0x09000000       // the UART
    ldr x12, ={MMIO_READS}
    isb
    mrs x11, cntpct_el0
3:  ldr w13, [x10, #0x18]      // UARTFR
    subs x12, x12, #1
    b.ne 3b
    isb
    mrs x14, cntpct_el0
    sub x0, x14, x11
    bl print_hex

    ldr x12, ={POSTED_WRITES}
    mov w13, #0x27
    isb
    mrs x11, cntpct_el0
4:  str w13, [x10, #0x24]      // UARTIBRD, posted
    subs x12, x12, #1
    b.ne 4b
    ldr w13, [x10, #0x18]      // answered after every write before it
    isb
    mrs x14, cntpct_el0
    sub x0, x14, x11
    bl print_hex

    msr daifclr, #2
    adr x6, pong
    adr x15, trips
    ldr x16, ={SGI_TRIPS}
5:  str wzr, [x6]
    isb
    mrs x11, cntpct_el0
    mov x0, #(1 << 24)         // ICC_SGI1R_EL1: INTID 1 to CPU 1
    orr x0, x0, #2
    msr icc_sgi1r_el1, x0
6:  ldr w7, [x6]
    cbnz w7, 7f
    wfi
    b 6b
7:  isb
    mrs x14, cntpct_el0
    sub x14, x14, x11
    str x14, [x15], #8
    subs x16, x16, #1
    b.ne 5b
    adr x15, trips
    ldr x16, ={SGI_TRIPS}
8:  ldr x0, [x15], #8
    bl print_hex
    subs x16, x16, #1
    b.ne 8b
    ldr x0, =0x84000008        // SYSTEM_OFF
    smc #0

secondary:
    msr daifclr, #2
    adr x6, ready
    mov w7, #1
    stlr w7, [x6]
9:  wfi
    b 9b

handler:                       // x20, x21 only: CPU 0's loop owns the rest
    mrs x20, icc_iar1_el1
    msr icc_eoir1_el1, x20
    cmp x20, #1
    b.ne 10f
    mov x21, #(2 << 24)        // CPU 1: answer CPU 0 with SGI 2
    orr x21, x21, #1
    msr icc_sgi1r_el1, x21
    eret
10: adr x21, pong              // CPU 0: the answer arrived
    mov w20, #1
    str w20, [x21]
    eret

    .balign 2048
vectors:
    .rept 5
    b .
    .balign 128
    .endr
    b handler                  // current EL with SPx: IRQ
    .balign 128
    .balign 8
ready: .word 0
pong: .word 0
    .balign 8
trips: .space {8 * SGI_TRIPS}
""" + PRINT_HEX
TWO_CPUS = ONE_CPU.replace("cpus = 1", "cpus = 2")
FOUR_SPINNING = ONE_CPU.replace("cpus = 1", "cpus = 4")
SPIN_FOREVER = """
    .global _start
_start:
    mrs x1, mpidr_el1
    and x1, x1, #0xff
    cbnz x1, 2f
    mov x19, #1
1:  ldr x0, =0xc4000003       // CPU_ON for CPUs 1..3, then everyone loops
    mov x1, x19
    adr x2, 2f
    mov x3, #0
    smc #0
    add x19, x19, #1
    cmp x19, #4
    b.ne 1b
2:  b 2b
"""


def rss_of_cpu_processes(topology: pathlib.Path, image: pathlib.Path, run_dir: pathlib.Path,
                         cpus: int) -> list[tuple[int, int]]:
    """(VmRSS, VmHWM) in KiB of each CPU process of a running machine, once all are on."""
    argv = [sys.executable, "-m", "smpsim", "run", str(topology), "--kernel", str(image),
            "--run-dir", str(run_dir), "--timeout", "60"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        pids = {}
        while len(pids) < cpus and time.monotonic() < deadline:
            path = run_dir / "events.jsonl"
            if path.exists():
                for line in path.read_text().splitlines():
                    e = json.loads(line)
                    if e["event"] == "power_on":
                        pids[e["component"]] = e["pid"]
            time.sleep(0.1)
        time.sleep(1.0)  # let every CPU run for a moment
        out = []
        for pid in pids.values():
            status = pathlib.Path(f"/proc/{pid}/status").read_text()
            kib = {k: int(v.split()[0]) for k, v in
                   (line.split(":", 1) for line in status.splitlines()) if k in ("VmRSS", "VmHWM")}
            out.append((kib["VmRSS"], kib["VmHWM"]))
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def build(source: str, out: pathlib.Path) -> None:
    s, o = out.with_suffix(".s"), out.with_suffix(".o")
    s.write_text(source)
    subprocess.run(["aarch64-linux-gnu-as", "-o", str(o), str(s)], check=True)
    subprocess.run(["aarch64-linux-gnu-ld", "-N", "-Ttext=0x40000000", "-o", str(out), str(o)],
                   check=True, capture_output=True)


def smpsim_run(topology: pathlib.Path, run_dir: pathlib.Path, kernel: pathlib.Path | None = None):
    argv = [sys.executable, "-m", "smpsim", "run", str(topology), "--run-dir", str(run_dir)]
    if kernel is not None:
        argv += ["--kernel", str(kernel)]
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"smpsim run failed ({r.returncode}): {r.stderr.strip()}")
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return wall, events


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    subprocess.run(["make", "-s", "-C", str(ROOT / "guests")], check=True)
    topo = ROOT / "topologies" / "virt-vhe.toml"
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        smpsim_run(topo, d / "warm")  # the Numba cache, warm
        online, walls = [], []
        for i in range(args.reps):
            wall, events = smpsim_run(topo, d / f"hello{i}")
            t_start = next(e["ts"] for e in events if e["event"] == "run_start")
            t_on = max(e["ts"] for e in events if e["event"] == "power_on")
            online.append(t_on - t_start)
            walls.append(wall)
        print("machine: 4 CPU processes + GIC + device service (topologies/virt-vhe.toml, "
              "guests/smp_hello.s), warm Numba cache")
        print(f"  smpsim run -> all 4 CPUs powered on : median {statistics.median(online):.2f} s "
              f"[{min(online):.2f}-{max(online):.2f}] over {args.reps} runs")
        print(f"  whole run (bring-up, 4 reports, SYSTEM_OFF, clean-up): median "
              f"{statistics.median(walls):.2f} s")

        build(SPEED_GUEST, d / "speed.elf")
        (d / "one.toml").write_text(ONE_CPU)
        mips = []
        for i in range(args.reps):
            smpsim_run(d / "one.toml", d / f"speed{i}", d / "speed.elf")
            ticks = int((d / f"speed{i}" / "console.log").read_text().split()[0], 16)
            mips.append(LOOP_INSNS / (ticks / TICKS_PER_US))  # instructions per µs
        from smpsim.jit.core import Core
        core = Core(np.zeros(1 << 20, dtype=np.uint8), ram_base=0x4000_0000)
        core.load(0x4000_0000, bytes.fromhex("a50400f1" "e1ffff54") + b"\0" * 8)  # subs; b.ne
        bare = []
        for _ in range(args.reps):
            core.pc = 0x4000_0000
            core.set_x(5, LOOP_INSNS // 2)
            t0 = time.perf_counter()
            core.run(LOOP_INSNS)
            bare.append(LOOP_INSNS / (time.perf_counter() - t0) / 1e6)
        print(f"  guest loop (subs; b.ne), {LOOP_INSNS // 10**6}M instructions, in a CPU "
              f"process (timed by the guest): median {statistics.median(mips):.0f} MIPS")
        print(f"  the same loop on the bare core in this process: median "
              f"{statistics.median(bare):.0f} MIPS; ratio "
              f"{statistics.median(mips) / statistics.median(bare):.2f}")

        build(LATENCY_GUEST, d / "latency.elf")
        (d / "two.toml").write_text(TWO_CPUS)
        sgi, mmio, posted = [], [], []
        for i in range(args.reps):
            run_dir = d / f"latency{i}"
            smpsim_run(d / "two.toml", run_dir, d / "latency.elf")
            ticks = [int(x, 16) for x in (run_dir / "console.log").read_text().split()]
            mmio.append(ticks[0] / TICKS_PER_US / MMIO_READS)
            posted.append(POSTED_WRITES / (ticks[1] / TICKS_PER_US / 1e6))
            sgi += [t / TICKS_PER_US for t in ticks[2:]]
        sgi.sort()
        print("two CPU processes at EL2 (VHE), timed by the guest (CNTPCT_EL0 follows the host)")
        print(f"  SGI round trip (SGI 1 -> CPU 1's handler -> SGI 2 -> CPU 0's handler), "
              f"{len(sgi)} trips: median {statistics.median(sgi):.0f} us, "
              f"p10 {sgi[len(sgi) // 10]:.0f}, p90 {sgi[len(sgi) * 9 // 10]:.0f}")
        print(f"  MMIO read round trip to the UART (UARTFR), {MMIO_READS} reads: median "
              f"{statistics.median(mmio):.1f} us")
        print(f"  posted MMIO writes to the UART (UARTIBRD), {POSTED_WRITES} then a read: "
              f"median {statistics.median(posted) / 1e3:.0f}k writes/s")

        build(SPIN_FOREVER, d / "spin.elf")
        (d / "four.toml").write_text(FOUR_SPINNING)
        rss = rss_of_cpu_processes(d / "four.toml", d / "spin.elf", d / "rss", 4)
        print(f"  RSS of each of 4 running CPU processes (512 MiB guest RAM, mostly untouched): "
              f"{', '.join(f'{r // 1024}' for r, _ in rss)} MiB (peak "
              f"{max(h for _, h in rss) // 1024} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
