"""The GICv3 logic: distributor, redistributors and CPU interfaces, as one pure,
deterministic Python object with no sockets, clocks or randomness.

The GIC service wraps a `GicV3` and turns messages into calls; the CPU processes see
it through that service. Behaviour follows the Arm GICv3 Architecture Specification
(IHI 0069). Where the specification leaves a choice, this model does what QEMU's
`hw/intc/arm_gicv3*` does for `-M virt,gic-version=3` without EL3, and says so
("QEMU:" in the comments). Choices that differ from QEMU say why ("not QEMU:").

The machine modelled:
- one Security state (GICD_CTLR.DS == 1, no EL3), affinity routing always on
  (GICD_CTLR.ARE RAO/WI, as QEMU); Group 0 interrupts signal FIQ, Group 1 IRQ;
- SGIs 0-15, PPIs 16-31, SPIs 32..32+num_spis-1; no LPIs, no ITS, no extended
  SPI/PPI ranges, no message-based SPIs, no NMIs, no virtual CPU interface;
- 5 bits of priority and of preemption in the CPU interface (QEMU's default for
  its CPUs: ICC_CTLR_EL1.PRIbits = 4), so one ICC_AP0R0/ICC_AP1R0 register each;
  the distributor and redistributors keep all 8 bits of each priority field (QEMU);
- 1-of-N SPI routing (GICD_IROUTER.IRM = 1) *is* implemented (not QEMU, which has
  GICD_TYPER.No1N = 1): the distributor gives such an SPI to exactly one CPU;
- SGI range selectors (ICC_SGI1R_EL1.RS) are implemented (ICC_CTLR_EL1.RSS = 1,
  GICD_TYPER.RSS = 1), so CPUs with Aff0 >= 16 can be sent SGIs.

Outputs: after every operation the IRQ/FIQ line of each CPU is recomputed;
`take_changes()` reports which lines differ from what was last reported.
"""

from __future__ import annotations

from itertools import compress

SPURIOUS = 1023
NUM_PRIVATE = 32  # SGIs 0-15 and PPIs 16-31, banked per CPU
PRIBITS = 5  # priority (and preemption) bits of the CPU interface, as QEMU
_PRIO_MASK = (0xFF << (8 - PRIBITS)) & 0xFF  # implemented bits of ICC_PMR_EL1
_MIN_BPR0 = 7 - PRIBITS  # the smallest ICC_BPR0_EL1 (QEMU icc_min_bpr)
_MIN_BPR1 = _MIN_BPR0 + 1  # the smallest ICC_BPR1_EL1 (QEMU icc_min_bpr_ns)
IIDR = 0x43B  # Arm as implementer, ProductID 0, r0p0: what QEMU reports (a GIC-500 r0p0)
# CoreSight ID registers from offset 0xFFD0: PIDR4..7, PIDR0..3, CIDR0..3 (QEMU's
# values; PIDR2[7:4] = ArchRev 3 = GICv3); PIDR0 is 0x92 in the distributor and 0x93
# in a redistributor
_ID_REGS = (0x44, 0x00, 0x00, 0x00, None, 0xB4, 0x3B, 0x00, 0x0D, 0xF0, 0x05, 0xB1)
_PIDR0_DIST, _PIDR0_REDIST = 0x92, 0x93

# GICD_CTLR with DS == 1: EnableGrp0 [0], EnableGrp1 [1], ARE [4], DS [6], RWP [31]
CTLR_EN_GRP0, CTLR_EN_GRP1, CTLR_ARE, CTLR_DS = 1 << 0, 1 << 1, 1 << 4, 1 << 6
# GICR_WAKER
WAKER_PROCESSOR_SLEEP, WAKER_CHILDREN_ASLEEP = 1 << 1, 1 << 2
# GICD_IROUTER
IROUTER_IRM = 1 << 31
_IROUTER_MASK = 0xFF_0000_0000 | IROUTER_IRM | 0xFF_FFFF  # Aff3, IRM, Aff2.Aff1.Aff0
# ICC_CTLR_EL1
ICC_CTLR_CBPR, ICC_CTLR_EOIMODE = 1 << 0, 1 << 1
_ICC_CTLR_FIXED = ((PRIBITS - 1) << 8  # PRIbits
                   | 1 << 11  # IDbits = 0b001, 24 bits: what QEMU reports
                   | 1 << 15  # A3V: Aff3 may be non-zero in SGI targets
                   | 1 << 18)  # RSS: SGI target lists with a range selector
_ICC_SRE = 0x7  # SRE, DFB, DIB set, read-only (system registers only, as QEMU)
_ICC_SRE_EL2 = 0xF  # and Enable

# distributor register offsets (GICD_*)
_D_CTLR, _D_TYPER, _D_IIDR, _D_TYPER2, _D_STATUSR = 0x0, 0x4, 0x8, 0xC, 0x10
_D_IGROUPR, _D_ISENABLER, _D_ICENABLER = 0x080, 0x100, 0x180
_D_ISPENDR, _D_ICPENDR, _D_ISACTIVER, _D_ICACTIVER = 0x200, 0x280, 0x300, 0x380
_D_IPRIORITYR, _D_ITARGETSR, _D_ICFGR = 0x400, 0x800, 0xC00
_D_IROUTER = 0x6000
_ID_BASE = 0xFFD0
# redistributor: RD_base frame, then SGI_base frame at +64 KiB
_R_CTLR, _R_IIDR, _R_TYPER, _R_STATUSR, _R_WAKER = 0x0, 0x4, 0x8, 0x10, 0x14
_SGI_BASE = 0x1_0000
REDIST_SIZE = 0x2_0000


def _gicr_affinity(mpidr_aff: int) -> int:
    """MPIDR-style affinity (Aff3 at [39:32]) -> the 32-bit Aff3.Aff2.Aff1.Aff0 form
    of GICR_TYPER[63:32]."""
    return ((mpidr_aff >> 32) & 0xFF) << 24 | (mpidr_aff & 0xFF_FFFF)


class _Bank:
    """Per-interrupt state of a range of INTIDs: one CPU's SGIs/PPIs, or the SPIs."""

    def __init__(self, n: int, group1: bool):
        self.group = [group1] * n  # True: Group 1
        self.enabled = [False] * n
        self.latch = [False] * n  # the pending latch (edges, ISPENDR, SGIs)
        self.active = [False] * n
        self.level = [False] * n  # the input line
        self.edge = [False] * n  # ICFGR: True = edge-triggered
        self.prio = [0] * n

    def pending(self, i: int) -> bool:
        # a level-sensitive interrupt is pending while its input is asserted, or while
        # software's pending latch is set (spec 4.1.2; QEMU keeps the same two terms)
        return self.latch[i] or (self.level[i] and not self.edge[i])

    def bits(self, name: str, base: int) -> int:
        """The 32-bit bitmap register for INTIDs base..base+31."""
        if name == "pending":
            return sum(1 << k for k in range(32) if self.pending(base + k))
        arr = getattr(self, name)
        return sum(1 << k for k in range(32) if arr[base + k])

    def set_bits(self, name: str, base: int, value: int, to: bool) -> None:
        arr = self.latch if name == "pending" else getattr(self, name)
        for k in range(32):
            if value >> k & 1:
                arr[base + k] = to

    def icfgr(self, base: int) -> int:
        """ICFGR for INTIDs base..base+15: Int_config[1] (bit 2k+1) = edge."""
        return sum(2 << (2 * k) for k in range(16) if self.edge[base + k])

    def set_icfgr(self, base: int, value: int) -> None:
        for k in range(16):
            self.edge[base + k] = bool(value >> (2 * k + 1) & 1)

    def prio_word(self, base: int) -> int:
        return sum(self.prio[base + k] << (8 * k) for k in range(4))


class _CpuIf:
    """One CPU interface, and its redistributor's power state."""

    def __init__(self):
        self.pmr = 0
        self.bpr0, self.bpr1 = _MIN_BPR0, _MIN_BPR1
        self.ctlr = 0  # the writable bits: CBPR, EOImode
        self.igrpen = [False, False]
        self.apr = [0, 0]  # ICC_AP0R0_EL1, ICC_AP1R0_EL1
        self.sleep = True  # GICR_WAKER.ProcessorSleep: QEMU resets it (and ChildrenAsleep) to 1
        self.hppi: tuple[int, int, int] | None = None  # (priority, intid, group)
        self.lines = (False, False)


class GicV3:
    """A GICv3 with one distributor and one redistributor + CPU interface per CPU.

    `affinities[i]` is the MPIDR affinity of CPU i (Aff3<<32 | Aff2<<16 | Aff1<<8 |
    Aff0); redistributor i belongs to CPU i and the last one has GICR_TYPER.Last.

    `reset_group1`: interrupts reset to Group 1, as QEMU does when it boots a kernel
    directly without EL3 firmware (its `irq_reset_nonsecure`); the architectural
    reset value is Group 0.
    `sleep_gates_delivery`: a CPU whose GICR_WAKER.ProcessorSleep is 1 is not sent
    interrupts (spec 11.1: its interface is quiescent) and takes no part in 1-of-N
    routing. Not QEMU, which delivers regardless; pass False for that behaviour.
    """

    def __init__(self, affinities: list[int], num_spis: int = 224, *,
                 reset_group1: bool = True, sleep_gates_delivery: bool = True):
        if not affinities:
            raise ValueError("a GIC needs at least one CPU")
        if num_spis < 0 or num_spis % 32 or num_spis > 960:
            raise ValueError(f"num_spis must be a multiple of 32 in 0..960, not {num_spis}")
        gicr = [_gicr_affinity(a) for a in affinities]
        if len(set(gicr)) != len(gicr):
            raise ValueError("CPU affinities must be distinct")
        self.affinities = list(affinities)
        self._gicr_aff = gicr
        self.num_cpus = len(affinities)
        self.num_irq = NUM_PRIVATE + num_spis
        self.sleep_gates_delivery = sleep_gates_delivery
        self.ctlr = 0  # GICD_CTLR's enables; ARE and DS read as one
        self.spi = _Bank(self.num_irq, reset_group1)  # indices < 32 unused
        self.irouter = [0] * self.num_irq
        self._target = [0] * self.num_irq  # cpu index, -1 none, -2 1-of-N
        self.priv = [_Bank(NUM_PRIVATE, reset_group1) for _ in affinities]
        for b in self.priv:
            for i in range(16):
                b.edge[i] = True  # SGIs are always edge-triggered
        self.cpu = [_CpuIf() for _ in affinities]
        self._reported = [(False, False)] * self.num_cpus
        for i in range(NUM_PRIVATE, self.num_irq):
            self._retarget(i)
        self._update()

    # ------------------------------------------------------------------ inputs

    def set_ppi(self, cpu: int, intid: int, level: bool) -> None:
        self._check_cpu(cpu)
        if not 16 <= intid < 32:
            raise ValueError(f"PPI INTID must be 16..31, not {intid}")
        self._set_input(self.priv[cpu], intid, bool(level))

    def set_spi(self, intid: int, level: bool) -> None:
        if not NUM_PRIVATE <= intid < self.num_irq:
            raise ValueError(f"SPI INTID must be 32..{self.num_irq - 1}, not {intid}")
        self._set_input(self.spi, intid, bool(level))

    def _set_input(self, bank: _Bank, i: int, level: bool) -> None:
        if bank.level[i] == level:
            return
        bank.level[i] = level
        if level and bank.edge[i]:
            bank.latch[i] = True  # a rising edge latches an edge-triggered interrupt
        self._update()

    # ----------------------------------------------------------------- outputs

    def lines(self, cpu: int) -> tuple[bool, bool]:
        """The (IRQ, FIQ) outputs to `cpu` now."""
        self._check_cpu(cpu)
        return self.cpu[cpu].lines

    def take_changes(self) -> dict[int, tuple[bool, bool]]:
        """CPU -> (irq, fiq) for each CPU whose lines differ from the last report."""
        out = {}
        for c, ci in enumerate(self.cpu):
            if ci.lines != self._reported[c]:
                out[c] = ci.lines
                self._reported[c] = ci.lines
        return out

    # ------------------------------------------------------------ distributor

    def dist_read(self, offset: int, size: int) -> int:
        if not self._sized(offset, size):
            return 0
        if size == 8:
            return self._irouter_read(offset) if self._is_irouter(offset) else 0
        if size == 1:
            if _D_IPRIORITYR <= offset < _D_IPRIORITYR + 0x400:
                i = offset - _D_IPRIORITYR
                return self.spi.prio[i] if NUM_PRIVATE <= i < self.num_irq else 0
            return 0  # ITARGETSR, CPENDSGIR/SPENDSGIR: RAZ/WI with ARE; the rest: reserved
        if size == 2:
            return 0  # only the message-based SPI registers take 16 bits; MBIS == 0
        # 32 bits
        if offset == _D_CTLR:
            return self.ctlr | CTLR_ARE | CTLR_DS
        if offset == _D_TYPER:
            return ((self.num_irq // 32 - 1)  # ITLinesNumber
                    # CPUNumber [7:5] = 0: ARE cannot be 0, so no legacy PE numbers (QEMU)
                    # SecurityExtn [10] = 0 (DS == 1); MBIS, LPIS, DVIS = 0
                    | 0xF << 19  # IDbits: 16 bits of INTID (QEMU)
                    | 1 << 24  # A3V
                    # No1N [25] = 0: 1-of-N routing is supported (not QEMU)
                    | 1 << 26)  # RSS
        if offset == _D_IIDR:
            return IIDR
        if _ID_BASE <= offset < _ID_BASE + 0x30:
            return self._id_reg(offset, _PIDR0_DIST)
        if self._is_irouter(offset):
            r = self._irouter_read(offset & ~7)
            return r >> 32 if offset & 4 else r & 0xFFFF_FFFF
        reg = self._dist_bitmap(offset)
        if reg is not None:
            name, base = reg
            return self.spi.bits(name.rstrip("+-"), base) if base else 0
        if _D_IPRIORITYR <= offset < _D_IPRIORITYR + 0x400:
            i = offset - _D_IPRIORITYR
            return self.spi.prio_word(i) if NUM_PRIVATE <= i < self.num_irq else 0
        if _D_ICFGR <= offset < _D_ICFGR + 0x100:
            i = (offset - _D_ICFGR) * 4
            return self.spi.icfgr(i) if NUM_PRIVATE <= i < self.num_irq else 0
        # TYPER2, STATUSR, ITARGETSR, IGRPMODR/NSACR (RAZ/WI with DS == 1), SGIR (WO),
        # CPENDSGIR/SPENDSGIR (RAZ/WI with ARE), and every reserved offset: RAZ
        return 0

    def dist_write(self, offset: int, size: int, value: int) -> None:
        if not self._sized(offset, size):
            return
        value &= (1 << (8 * size)) - 1
        if size == 8:
            if self._is_irouter(offset):
                self._irouter_write(offset, value)
            return
        if size == 1:
            if _D_IPRIORITYR <= offset < _D_IPRIORITYR + 0x400:
                i = offset - _D_IPRIORITYR
                if NUM_PRIVATE <= i < self.num_irq:
                    self.spi.prio[i] = value
                    self._update()
            return
        if size == 2:
            return
        if offset == _D_CTLR:
            # DS == 1: only the two group enables are writable; ARE and DS are RAO/WI
            # and E1NWF is RAZ/WI (QEMU). RWP never reads as 1: writes take effect at once.
            self.ctlr = value & (CTLR_EN_GRP0 | CTLR_EN_GRP1)
            self._update()
            return
        if self._is_irouter(offset):
            r = self._irouter_read(offset & ~7)
            if offset & 4:
                r = (r & 0xFFFF_FFFF) | value << 32
            else:
                r = (r & ~0xFFFF_FFFF) | value
            self._irouter_write(offset & ~7, r)
            return
        reg = self._dist_bitmap(offset)
        if reg is not None:
            name, base = reg
            if base:  # SGIs and PPIs live in the redistributors (ARE == 1): RAZ/WI here
                self._bitmap_write(self.spi, offset, name, base, value)
            return
        if _D_IPRIORITYR <= offset < _D_IPRIORITYR + 0x400:
            i = offset - _D_IPRIORITYR
            if NUM_PRIVATE <= i < self.num_irq:
                for k in range(4):
                    self.spi.prio[i + k] = value >> (8 * k) & 0xFF
                self._update()
            return
        if _D_ICFGR <= offset < _D_ICFGR + 0x100:
            i = (offset - _D_ICFGR) * 4
            if NUM_PRIVATE <= i < self.num_irq:
                self.spi.set_icfgr(i, value)
                self._update()
            return
        # GICD_SGIR is RES0/WI when affinity routing is on; read-only and reserved: WI

    def _dist_bitmap(self, offset: int) -> tuple[str, int] | None:
        """(bank attribute, first INTID) of a 1-bit-per-interrupt register, or None.
        The first INTID is 0 for the (RAZ/WI) private word, or past the last SPI."""
        if not _D_IGROUPR <= offset < _D_ICACTIVER + 0x80:
            return None
        kind, word = divmod(offset - _D_IGROUPR, 0x80)
        base = word // 4 * 32
        if base >= self.num_irq:
            base = 0
        return _D_BITMAPS[kind], base

    def _bitmap_write(self, bank: _Bank, offset: int, name: str, base: int, value: int) -> None:
        attr, op = name.rstrip("+-"), name[-1]
        if op == "+":
            bank.set_bits(attr, base, value, True)
        elif op == "-":
            bank.set_bits(attr, base, value, False)
        else:  # IGROUPR: a plain read/write register
            for k in range(32):
                bank.group[base + k] = bool(value >> k & 1)
        self._update()

    def _is_irouter(self, offset: int) -> bool:
        # GICD_IROUTER<n> at 0x6000 + 8n, n = 32..1019; n < 32 is reserved
        return _D_IROUTER + 8 * NUM_PRIVATE <= offset < _D_IROUTER + 8 * self.num_irq

    def _irouter_read(self, offset: int) -> int:
        return self.irouter[(offset - _D_IROUTER) // 8]

    def _irouter_write(self, offset: int, value: int) -> None:
        i = (offset - _D_IROUTER) // 8
        self.irouter[i] = value & _IROUTER_MASK  # reserved bits are RES0
        self._retarget(i)
        self._update()

    def _retarget(self, i: int) -> None:
        r = self.irouter[i]
        if r & IROUTER_IRM:
            self._target[i] = -2
            return
        aff = ((r >> 32) & 0xFF) << 24 | (r & 0xFF_FFFF)
        # an SPI routed to an affinity that names no CPU is not forwarded (QEMU)
        self._target[i] = self._gicr_aff.index(aff) if aff in self._gicr_aff else -1

    # --------------------------------------------------------- redistributors

    def redist_read(self, cpu: int, offset: int, size: int) -> int:
        self._check_cpu(cpu)
        if not self._sized(offset, size) or offset >= REDIST_SIZE:
            return 0
        bank, ci = self.priv[cpu], self.cpu[cpu]
        if offset < _SGI_BASE:
            if size == 8:
                return self._gicr_typer(cpu) if offset == _R_TYPER else 0
            if size != 4:
                return 0
            if offset == _R_IIDR:
                return IIDR
            if offset == _R_TYPER:
                return self._gicr_typer(cpu) & 0xFFFF_FFFF
            if offset == _R_TYPER + 4:
                return self._gicr_typer(cpu) >> 32
            if offset == _R_WAKER:
                return (WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP) if ci.sleep else 0
            if _ID_BASE <= offset < _ID_BASE + 0x30:
                return self._id_reg(offset, _PIDR0_REDIST)
            # GICR_CTLR: no LPIs (EnableLPIs RES0), DPGS == 0 so the DPG bits are
            # RAZ/WI (QEMU), UWP/RWP 0. STATUSR, PROPBASER/PENDBASER (no LPIs) and
            # reserved offsets: RAZ/WI.
            return 0
        off = offset - _SGI_BASE
        if size == 1:
            if 0x400 <= off < 0x420:
                return bank.prio[off - 0x400]
            return 0
        if size != 4:
            return 0
        if off in _SGI_BITMAPS:
            return bank.bits(_SGI_BITMAPS[off].rstrip("+-"), 0)
        if 0x400 <= off < 0x420:
            return bank.prio_word(off - 0x400)
        if off == 0xC00:
            return 0xAAAA_AAAA  # ICFGR0: SGIs are edge-triggered, read-only
        if off == 0xC04:
            return bank.icfgr(16)  # ICFGR1: programmable PPI trigger (QEMU)
        return 0  # IGRPMODR0, NSACR: RAZ/WI with DS == 1; reserved: RAZ

    def redist_write(self, cpu: int, offset: int, size: int, value: int) -> None:
        self._check_cpu(cpu)
        if not self._sized(offset, size) or offset >= REDIST_SIZE:
            return
        value &= (1 << (8 * size)) - 1
        bank, ci = self.priv[cpu], self.cpu[cpu]
        if offset < _SGI_BASE:
            if offset == _R_WAKER and size == 4:
                # Only ProcessorSleep is writable. The handshake has nothing
                # asynchronous to wait for, so ChildrenAsleep follows it at once (QEMU).
                ci.sleep = bool(value & WAKER_PROCESSOR_SLEEP)
                self._update()
            return  # CTLR, read-only registers, LPI registers, reserved: WI
        off = offset - _SGI_BASE
        if size == 1:
            if 0x400 <= off < 0x420:
                bank.prio[off - 0x400] = value
                self._update()
            return
        if size != 4:
            return
        if off in _SGI_BITMAPS:
            self._bitmap_write(bank, off, _SGI_BITMAPS[off], 0, value)
        elif 0x400 <= off < 0x420:
            for k in range(4):
                bank.prio[off - 0x400 + k] = value >> (8 * k) & 0xFF
            self._update()
        elif off == 0xC04:
            bank.set_icfgr(16, value)
            self._update()

    def _gicr_typer(self, cpu: int) -> int:
        last = 1 << 4 if cpu == self.num_cpus - 1 else 0
        # PLPIS, VLPIS, DirectLPI, DPGS, CommonLPIAff = 0; Processor_Number [23:8]
        return self._gicr_aff[cpu] << 32 | (cpu & 0xFFFF) << 8 | last

    # ----------------------------------------------------------- CPU interface

    def icc_read(self, cpu: int, name: str, el: int = 1) -> int:
        """Read a CPU-interface register (`el` is the accessing EL: with one Security
        state and no EL3 every ICC_* register behaves the same at EL1 and EL2; the
        CPU process sends EL1 accesses with HCR_EL2.IMO/FMO set to ICV_* itself)."""
        self._check_cpu(cpu)
        ci = self.cpu[cpu]
        if name == "ICC_IAR0_EL1":
            return self._acknowledge(cpu, 0)
        if name == "ICC_IAR1_EL1":
            return self._acknowledge(cpu, 1)
        if name in ("ICC_HPPIR0_EL1", "ICC_HPPIR1_EL1"):
            # the highest priority pending interrupt of that group, whatever PMR and
            # the running priority say
            group = 0 if name == "ICC_HPPIR0_EL1" else 1
            return ci.hppi[1] if ci.hppi and ci.hppi[2] == group else SPURIOUS
        if name == "ICC_PMR_EL1":
            return ci.pmr
        if name == "ICC_RPR_EL1":
            return self._running_priority(ci)
        if name == "ICC_BPR0_EL1":
            return ci.bpr0
        if name == "ICC_BPR1_EL1":
            # with CBPR, BPR1 reads as BPR0 + 1, saturated (QEMU, spec ICC_BPR1_EL1)
            return min(ci.bpr0 + 1, 7) if ci.ctlr & ICC_CTLR_CBPR else ci.bpr1
        if name == "ICC_CTLR_EL1":
            return ci.ctlr | _ICC_CTLR_FIXED
        if name == "ICC_IGRPEN0_EL1":
            return int(ci.igrpen[0])
        if name == "ICC_IGRPEN1_EL1":
            return int(ci.igrpen[1])
        if name == "ICC_AP0R0_EL1":
            return ci.apr[0]
        if name == "ICC_AP1R0_EL1":
            return ci.apr[1]
        if name == "ICC_SRE_EL1":
            return _ICC_SRE
        if name == "ICC_SRE_EL2":
            return _ICC_SRE_EL2
        # ICC_AP{0,1}R{1,2,3}_EL1 (5 preemption bits need only R0), the write-only
        # registers (EOIR, DIR, SGI*R) and anything not modelled (ICH_*): RAZ
        return 0

    def icc_write(self, cpu: int, name: str, value: int, el: int = 1) -> None:
        self._check_cpu(cpu)
        ci = self.cpu[cpu]
        value &= (1 << 64) - 1
        if name == "ICC_EOIR0_EL1":
            self._eoi(cpu, 0, value & 0xFF_FFFF)
        elif name == "ICC_EOIR1_EL1":
            self._eoi(cpu, 1, value & 0xFF_FFFF)
        elif name == "ICC_DIR_EL1":
            # with EOImode == 0 a DIR write is UNPREDICTABLE; QEMU ignores it
            if ci.ctlr & ICC_CTLR_EOIMODE:
                self._deactivate(cpu, value & 0xFF_FFFF)
        elif name == "ICC_PMR_EL1":
            ci.pmr = value & _PRIO_MASK
        elif name == "ICC_BPR0_EL1":
            ci.bpr0 = max(value & 7, _MIN_BPR0)  # below the minimum: the minimum (QEMU)
        elif name == "ICC_BPR1_EL1":
            if not ci.ctlr & ICC_CTLR_CBPR:  # with CBPR, writes are ignored
                ci.bpr1 = max(value & 7, _MIN_BPR1)
        elif name == "ICC_CTLR_EL1":
            # CBPR and EOImode are writable; PMHE is RAZ/WI (QEMU); the rest read-only
            ci.ctlr = value & (ICC_CTLR_CBPR | ICC_CTLR_EOIMODE)
        elif name == "ICC_IGRPEN0_EL1":
            ci.igrpen[0] = bool(value & 1)
        elif name == "ICC_IGRPEN1_EL1":
            ci.igrpen[1] = bool(value & 1)
        elif name == "ICC_AP0R0_EL1":
            ci.apr[0] = value & 0xFFFF_FFFF
        elif name == "ICC_AP1R0_EL1":
            ci.apr[1] = value & 0xFFFF_FFFF
        elif name == "ICC_SGI0R_EL1":
            self._send_sgi(cpu, value, 0)
        elif name == "ICC_SGI1R_EL1":
            self._send_sgi(cpu, value, 1)
        elif name == "ICC_ASGI1R_EL1":
            self._send_sgi(cpu, value, 2)
        else:
            return  # read-only (IAR, HPPIR, RPR, SRE: fixed) or not modelled: WI
        self._update()

    def _acknowledge(self, cpu: int, group: int) -> int:
        intid = self.preview_acknowledge(cpu, group)
        if intid != SPURIOUS:
            self._activate(cpu, group, intid)
        return intid

    def preview_acknowledge(self, cpu: int, group: int) -> int:
        """What a read of ICC_IAR<group>_EL1 would return now, without its effect."""
        ci = self.cpu[cpu]
        h = ci.hppi
        if h is None or h[2] != group or not self._can_preempt(ci, h[0], h[2]):
            return SPURIOUS
        return h[1]

    def acknowledge_offered(self, cpu: int, group: int, intid: int) -> bool:
        """The CPU acknowledged the private interrupt `intid` that preview_acknowledge
        offered it a moment ago (its own SGI or PPI: no other CPU can have taken it):
        activate it as ICC_IAR<group>_EL1 would have, even if it has stopped pending
        since (the CPU already returned it to the guest). False, and nothing done, if
        it is not a private interrupt of this group or is active already."""
        self._check_cpu(cpu)
        bank = self.priv[cpu]
        if not 0 <= intid < NUM_PRIVATE or bank.active[intid] or int(bank.group[intid]) != group:
            return False
        self._activate(cpu, group, intid)
        return True

    def _activate(self, cpu: int, group: int, intid: int) -> None:
        ci = self.cpu[cpu]
        bank = self.priv[cpu] if intid < NUM_PRIVATE else self.spi
        prio = bank.prio[intid]
        ci.apr[group] |= 1 << ((prio & self._gprio_mask(ci, group)) >> (8 - PRIBITS))
        bank.active[intid] = True
        bank.latch[intid] = False  # a level input that stays high keeps it pending too
        self._update()

    def _eoi(self, cpu: int, group: int, intid: int) -> None:
        if intid >= self.num_irq:
            return  # 1020-1023 are ignored; a nonexistent INTID is UNPREDICTABLE: ignored (QEMU)
        ci = self.cpu[cpu]
        # an EOI for a group that is not the one of the highest active priority is
        # UNPREDICTABLE; QEMU ignores it, and so does this model
        if self._highest_active_group(ci) != group:
            return
        apr = ci.apr[group]
        ci.apr[group] = apr & (apr - 1)  # priority drop: the highest active priority
        if not ci.ctlr & ICC_CTLR_EOIMODE:
            self._deactivate(cpu, intid)

    def _deactivate(self, cpu: int, intid: int) -> None:
        if intid < NUM_PRIVATE:
            self.priv[cpu].active[intid] = False
        elif intid < self.num_irq:
            self.spi.active[intid] = False

    def _send_sgi(self, cpu: int, value: int, kind: int) -> None:
        intid = value >> 24 & 0xF
        if value >> 40 & 1:  # IRM: every CPU but this one
            targets = [c for c in range(self.num_cpus) if c != cpu]
        else:
            aff321 = (value >> 48 & 0xFF) << 24 | (value >> 32 & 0xFF) << 16 | (value >> 16 & 0xFF) << 8
            rs = value >> 44 & 0xF
            tlist = value & 0xFFFF
            targets = []
            for c, aff in enumerate(self._gicr_aff):
                aff0 = aff & 0xFF
                if aff & ~0xFF == aff321 and aff0 >> 4 == rs and tlist >> (aff0 & 0xF) & 1:
                    targets.append(c)
        for t in targets:
            bank = self.priv[t]
            sgi_group = 1 if bank.group[intid] else 0
            # With DS == 1: SGI0R raises the SGI if the target has it in Group 0,
            # SGI1R if in Group 1. ASGI1R asks for the "other" Security state's
            # Group 1, which QEMU treats as Secure Group 1 and accepts for an SGI
            # configured as Group 0; this model does the same.
            if (kind == 1) == bool(sgi_group):
                bank.latch[intid] = True

    # ------------------------------------------------------- priority helpers

    def _gprio_mask(self, ci: _CpuIf, group: int) -> int:
        """The group-priority bits of a priority (the spec's GroupBits()): BPR0 for
        Group 0, or for Group 1 with CBPR; else BPR1 - 1 (Non-secure Group 1)."""
        if group == 0 or ci.ctlr & ICC_CTLR_CBPR:
            bpr = ci.bpr0
        else:
            bpr = ci.bpr1 - 1
        return (0xFF << (bpr + 1)) & 0xFF

    @staticmethod
    def _running_priority(ci: _CpuIf) -> int:
        a = ci.apr[0] | ci.apr[1]
        if not a:
            return 0xFF  # idle
        return ((a & -a).bit_length() - 1) << (8 - PRIBITS)

    @staticmethod
    def _highest_active_group(ci: _CpuIf) -> int:
        a0, a1 = ci.apr
        if not (a0 | a1):
            return -1
        low0 = (a0 & -a0).bit_length() if a0 else 99
        low1 = (a1 & -a1).bit_length() if a1 else 99
        return 1 if low1 < low0 else 0  # a tie goes to Group 0 (QEMU)

    def _can_preempt(self, ci: _CpuIf, prio: int, group: int) -> bool:
        if prio >= ci.pmr:
            return False  # masked by ICC_PMR_EL1
        rprio = self._running_priority(ci)
        if rprio == 0xFF:
            return True
        # only the group priority counts for preemption; subpriority never preempts
        mask = self._gprio_mask(ci, group)
        return (prio & mask) < (rprio & mask)

    def _group_on(self, cpu: int, group: int) -> bool:
        ci = self.cpu[cpu]
        if self.sleep_gates_delivery and ci.sleep:
            return False
        dist_en = CTLR_EN_GRP1 if group else CTLR_EN_GRP0
        return bool(self.ctlr & dist_en) and ci.igrpen[group]

    # ----------------------------------------------------------------- update

    def _update(self) -> None:
        """Recompute every CPU's highest priority pending interrupt and its lines.

        Candidates are pending, enabled, not active interrupts whose group is enabled
        both in GICD_CTLR and in the CPU's ICC_IGRPEN<n>_EL1. (Not QEMU: QEMU picks
        the HPPI over the distributor's enabled groups and then masks it if its
        group is off in the CPU interface; here a CPU interface's disabled group does
        not hide a lower-priority interrupt of its enabled group, as a redistributor
        that is told the CPU interface's group enables behaves.) Ties go to the lower
        INTID (QEMU)."""
        n = self.num_cpus
        best: list[tuple[int, int, int] | None] = [None] * n
        on = [(self._group_on(c, 0), self._group_on(c, 1)) for c in range(n)]
        for c in range(n):
            bank = self.priv[c]
            for i in compress(range(NUM_PRIVATE), bank.enabled):  # (the enabled ones only)
                if not bank.active[i] and bank.pending(i):
                    g = int(bank.group[i])
                    if on[c][g]:
                        cand = (bank.prio[i], i, g)
                        if best[c] is None or cand < best[c]:
                            best[c] = cand
        spi = self.spi
        one_of_n = []
        for i in compress(range(self.num_irq), spi.enabled):  # (no SPI below 32 is enabled)
            if not spi.active[i] and spi.pending(i):
                g = int(spi.group[i])
                cand = (spi.prio[i], i, g)
                t = self._target[i]
                if t >= 0:
                    if on[t][g] and (best[t] is None or cand < best[t]):
                        best[t] = cand
                elif t == -2:
                    one_of_n.append(cand)
        # 1-of-N SPIs, best first: each goes to the lowest-numbered participating CPU
        # (awake, its group enabled) for which it would be the highest priority pending
        # interrupt and could be signalled now (PMR, running priority). One that no
        # CPU can take now stays pending until one can. Giving it to one CPU, not
        # all, means the others see no spurious interrupt; IAR, which is
        # synchronous in the service, then takes it on exactly that CPU.
        for cand in sorted(one_of_n):
            g = cand[2]
            for c in range(n):
                if on[c][g] and (best[c] is None or cand < best[c]) \
                        and self._can_preempt(self.cpu[c], cand[0], g):
                    best[c] = cand
                    break
        for c, ci in enumerate(self.cpu):
            ci.hppi = h = best[c]
            if h is not None and self._can_preempt(ci, h[0], h[2]):
                ci.lines = (h[2] == 1, h[2] == 0)  # Group 1 -> IRQ, Group 0 -> FIQ
            else:
                ci.lines = (False, False)

    # ------------------------------------------------------------------ misc

    def _check_cpu(self, cpu: int) -> None:
        if not 0 <= cpu < self.num_cpus:
            raise ValueError(f"no CPU {cpu} (this GIC has {self.num_cpus})")

    @staticmethod
    def _sized(offset: int, size: int) -> bool:
        """Sizes 1/2/4/8, naturally aligned; anything else is RAZ/WI (QEMU: never an abort)."""
        return size in (1, 2, 4, 8) and offset >= 0 and offset % size == 0

    @staticmethod
    def _id_reg(offset: int, pidr0: int) -> int:
        if offset & 3:
            return 0
        v = _ID_REGS[(offset - _ID_BASE) // 4]
        return pidr0 if v is None else v


# GICD_IGROUPR, IS/ICENABLER, IS/ICPENDR, IS/ICACTIVER (0x80 bytes each from 0x080):
# bank attribute, and whether a write sets (+) or clears (-) the bits it has at one
_D_BITMAPS = ("group", "enabled+", "enabled-", "pending+", "pending-", "active+", "active-")
# SGI_base frame bitmap registers: offset -> bank attribute and set (+) / clear (-)
_SGI_BITMAPS = {0x080: "group", 0x100: "enabled+", 0x180: "enabled-", 0x200: "pending+",
                0x280: "pending-", 0x300: "active+", 0x380: "active-"}
