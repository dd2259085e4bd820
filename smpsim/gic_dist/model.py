"""The GICv3 logic: distributor, redistributors and CPU interfaces, as one pure,
deterministic Python object with no sockets, clocks or randomness.

The distributor and the redistributors' MMIO frames are here; each CPU interface is
cpu_interface.py's, over the state the two share (shared_state.py). In a machine the
GIC service holds a `GicV3` without CPU interfaces and each CPU process runs its own
interface; tests hold a whole one. Behaviour follows the Arm GICv3 Architecture Specification
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

Outputs: after every operation the distributor publishes each CPU's best SPI of each
group, and (with local CPU interfaces) each CPU's IRQ/FIQ lines are recomputed;
`take_changes()` reports which lines differ from what was last reported.
"""

from __future__ import annotations

from itertools import compress

from smpsim.gic_dist import shared_state
from smpsim.gic_dist.cpu_interface import (CTLR_EN_GRP0, CTLR_EN_GRP1, MIN_BPR0, MIN_BPR1,
                                           SPURIOUS, CpuInterface, can_preempt,
                                           gicr_affinity, groups_on, private_best)
from smpsim.gic_dist.shared_state import NUM_PRIVATE

__all__ = ["GicV3", "SPURIOUS", "NUM_PRIVATE"]
IIDR = 0x43B  # Arm as implementer, ProductID 0, r0p0: what QEMU reports (a GIC-500 r0p0)
# CoreSight ID registers from offset 0xFFD0: PIDR4..7, PIDR0..3, CIDR0..3 (QEMU's
# values; PIDR2[7:4] = ArchRev 3 = GICv3); PIDR0 is 0x92 in the distributor and 0x93
# in a redistributor
_ID_REGS = (0x44, 0x00, 0x00, 0x00, None, 0xB4, 0x3B, 0x00, 0x0D, 0xF0, 0x05, 0xB1)
_PIDR0_DIST, _PIDR0_REDIST = 0x92, 0x93

# GICD_CTLR with DS == 1: EnableGrp0 [0], EnableGrp1 [1] (cpu_interface.py), ARE [4],
# DS [6], RWP [31]
CTLR_ARE, CTLR_DS = 1 << 4, 1 << 6
# GICR_WAKER
WAKER_PROCESSOR_SLEEP, WAKER_CHILDREN_ASLEEP = 1 << 1, 1 << 2
# GICD_IROUTER
IROUTER_IRM = 1 << 31
_IROUTER_MASK = 0xFF_0000_0000 | IROUTER_IRM | 0xFF_FFFF  # Aff3, IRM, Aff2.Aff1.Aff0
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

    @classmethod
    def over(cls, block) -> "_Bank":
        """The bank of one CPU's private interrupts in the shared state (its `priv`
        block: bytes that are 0 or 1, and the priorities)."""
        bank = cls.__new__(cls)
        (bank.group, bank.enabled, bank.latch, bank.active, bank.level, bank.edge,
         bank.prio) = (block[f] for f in (shared_state.GROUP, shared_state.ENABLED,
                                           shared_state.LATCH, shared_state.ACTIVE,
                                           shared_state.LEVEL, shared_state.EDGE,
                                           shared_state.PRIO))
        return bank

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
        return sum(int(self.prio[base + k]) << (8 * k) for k in range(4))


class GicV3:
    """A GICv3 with one distributor and one redistributor + CPU interface per CPU.

    `affinities[i]` is the MPIDR affinity of CPU i (Aff3<<32 | Aff2<<16 | Aff1<<8 |
    Aff0); redistributor i belongs to CPU i and the last one has GICR_TYPER.Last.

    The private interrupts and the CPU interfaces' registers are in `state`
    (shared_state.py). By default it is this process's own and the CPU interfaces
    (cpu_interface.py) are here too: the whole GIC in one object, driven through
    `icc_read`/`icc_write`/`set_ppi` (tests). The GIC service passes the machine's
    shared segment and `local_cpus=False`: each CPU's process runs its own interface
    over the same state, reaching the distributor through the service's messages
    (acknowledge_spi, deactivate_spi, cpu_changed), and the service rings the CPUs
    in `take_touched()` after each message.

    `reset_group1`: interrupts reset to Group 1, as QEMU does when it boots a kernel
    directly without EL3 firmware (its `irq_reset_nonsecure`); the architectural
    reset value is Group 0.
    `sleep_gates_delivery`: a CPU whose GICR_WAKER.ProcessorSleep is 1 is not sent
    interrupts (spec 11.1: its interface is quiescent) and takes no part in 1-of-N
    routing. Not QEMU, which delivers regardless; pass False for that behaviour.
    """

    def __init__(self, affinities: list[int], num_spis: int = 224, *,
                 reset_group1: bool = True, sleep_gates_delivery: bool = True,
                 state: shared_state.GicState | None = None, local_cpus: bool = True):
        if not affinities:
            raise ValueError("a GIC needs at least one CPU")
        if num_spis < 0 or num_spis % 32 or num_spis > 960:
            raise ValueError(f"num_spis must be a multiple of 32 in 0..960, not {num_spis}")
        gicr = [gicr_affinity(a) for a in affinities]
        if len(set(gicr)) != len(gicr):
            raise ValueError("CPU affinities must be distinct")
        self.affinities = list(affinities)
        self._gicr_aff = gicr
        self.num_cpus = len(affinities)
        self.num_irq = NUM_PRIVATE + num_spis
        self.sleep_gates_delivery = sleep_gates_delivery
        self.state = state if state is not None else shared_state.GicState.local(self.num_cpus)
        self._reset_shared(reset_group1)
        self.spi = _Bank(self.num_irq, reset_group1)  # indices < 32 unused
        self.irouter = [0] * self.num_irq
        self._target = [0] * self.num_irq  # cpu index, -1 none, -2 1-of-N
        self.priv = [_Bank.over(self.state.priv[c]) for c in range(self.num_cpus)]
        self._published = [[0, 0] for _ in affinities]  # the W_SPI0/1 words written
        self._touched: set[int] = set()
        for i in range(NUM_PRIVATE, self.num_irq):
            self._retarget(i)
        self.cpu = ([CpuInterface(c, self.state, affinities, self, sleep_gates_delivery,
                                  self.num_irq) for c in range(self.num_cpus)]
                    if local_cpus else [])
        self._reported = [(False, False)] * self.num_cpus
        self._update()

    def _reset_shared(self, reset_group1: bool) -> None:
        s = self.state
        s.priv[:] = 0
        s.priv[:, shared_state.GROUP, :] = int(reset_group1)
        s.priv[:, shared_state.EDGE, :16] = 1  # SGIs are always edge-triggered
        s.words[:] = 0
        # QEMU resets GICR_WAKER.ProcessorSleep (and ChildrenAsleep) to 1
        s.words[:, shared_state.W_SLEEP] = 1
        s.words[:, shared_state.W_BPR0] = MIN_BPR0
        s.words[:, shared_state.W_BPR1] = MIN_BPR1
        s.glob[:] = 0

    @property
    def ctlr(self) -> int:
        """GICD_CTLR's group enables (in the shared state: every CPU interface reads them)."""
        return int(self.state.glob[shared_state.G_DIST_CTLR])

    @ctlr.setter
    def ctlr(self, value: int) -> None:
        self.state.glob[shared_state.G_DIST_CTLR] = value
        self._touched.update(range(self.num_cpus))

    def _local(self, cpu: int) -> CpuInterface:
        self._check_cpu(cpu)
        if not self.cpu:
            raise RuntimeError("the CPU interfaces of this GIC are in the CPU processes")
        return self.cpu[cpu]

    # ------------------------------------------- the distributor, as the CPU interfaces see it

    def acknowledge(self, cpu: int, intid: int, group: int) -> int | None:
        """SpiPort: activate SPI `intid` for `cpu` if the distributor offers it to that
        CPU now (so that exactly one CPU takes it); its priority, or None."""
        self._check_cpu(cpu)
        if not NUM_PRIVATE <= intid < self.num_irq or group not in (0, 1):
            return None
        offered = shared_state.read_spi_word(self._published[cpu][group])
        if offered is None or offered[1] != intid:
            return None
        bank = self.spi
        bank.active[intid] = True
        bank.latch[intid] = False  # a level input that stays high keeps it pending too
        self._update()
        return int(bank.prio[intid])

    def deactivate(self, cpu: int, intid: int) -> None:
        """SpiPort: the end of an SPI (EOIR with EOImode 0, or DIR)."""
        self._check_cpu(cpu)
        if NUM_PRIVATE <= intid < self.num_irq:
            self.spi.active[intid] = False
            self._update()

    def cpu_changed(self, cpu: int) -> None:
        """SpiPort: a CPU's masking changed: route the SPIs again."""
        self._check_cpu(cpu)
        self.route()

    def route(self) -> None:
        """Route the SPIs again (a 1-of-N SPI may have found a CPU that can take it)."""
        self._update()

    def take_touched(self) -> set[int]:
        """The CPUs whose shared state the distributor changed since the last call (their
        doorbells are to be rung)."""
        out, self._touched = self._touched, set()
        return out

    # ------------------------------------------------------------------ inputs

    def set_ppi(self, cpu: int, intid: int, level: bool) -> None:
        """A CPU's private input (its timers): that CPU's interface drives it."""
        self._local(cpu).set_ppi(intid, bool(level))
        self._update()

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
        return self._local(cpu).lines

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
        bank = self.priv[cpu]
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
                return ((WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP)
                        if self.state.words[cpu, shared_state.W_SLEEP] else 0)
            if _ID_BASE <= offset < _ID_BASE + 0x30:
                return self._id_reg(offset, _PIDR0_REDIST)
            # GICR_CTLR: no LPIs (EnableLPIs RES0), DPGS == 0 so the DPG bits are
            # RAZ/WI (QEMU), UWP/RWP 0. STATUSR, PROPBASER/PENDBASER (no LPIs) and
            # reserved offsets: RAZ/WI.
            return 0
        off = offset - _SGI_BASE
        if size == 1:
            if 0x400 <= off < 0x420:
                return int(bank.prio[off - 0x400])
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
        bank = self.priv[cpu]
        self._touched.add(cpu)  # its CPU interface reads what changes here
        if offset < _SGI_BASE:
            if offset == _R_WAKER and size == 4:
                # Only ProcessorSleep is writable. The handshake has nothing
                # asynchronous to wait for, so ChildrenAsleep follows it at once (QEMU).
                self.state.words[cpu, shared_state.W_SLEEP] = int(bool(value & WAKER_PROCESSOR_SLEEP))
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
        """Read a CPU-interface register of a CPU whose interface is in this process
        (`el` is the accessing EL: with one Security state and no EL3 every ICC_*
        register behaves the same at EL1 and EL2)."""
        value = self._local(cpu).read(name)
        self._update()
        return value

    def icc_write(self, cpu: int, name: str, value: int, el: int = 1) -> None:
        self._local(cpu).write(name, value)
        self._update()

    # ----------------------------------------------------------------- update

    def _update(self) -> None:
        """Route the SPIs: publish to each CPU its best pending SPI of each group
        (shared_state.W_SPI0/1), then let the local CPU interfaces recompute their
        lines. A CPU interface picks its highest priority pending interrupt from its
        private ones and those two (cpu_interface.py).

        Candidates are pending, enabled, not active SPIs of a group enabled in
        GICD_CTLR. (Not QEMU: QEMU picks the HPPI over the distributor's enabled
        groups and then masks it if its group is off in the CPU interface; here a CPU
        interface's disabled group does not hide a lower-priority interrupt of its
        enabled group, as a redistributor that is told the CPU interface's group
        enables behaves.) Ties go to the lower INTID (QEMU)."""
        n = self.num_cpus
        ctlr = self.ctlr
        best: list[list[tuple[int, int] | None]] = [[None, None] for _ in range(n)]
        spi = self.spi
        one_of_n = []
        for i in compress(range(self.num_irq), spi.enabled):  # (no SPI below 32 is enabled)
            if not spi.active[i] and spi.pending(i):
                g = int(spi.group[i])
                if not ctlr & (CTLR_EN_GRP1 if g else CTLR_EN_GRP0):
                    continue
                cand = (spi.prio[i], i)
                t = self._target[i]
                if t >= 0:
                    if best[t][g] is None or cand < best[t][g]:
                        best[t][g] = cand
                elif t == -2:
                    one_of_n.append((cand[0], i, g))
        self.state.glob[shared_state.G_ONE_OF_N] = int(bool(one_of_n))
        if one_of_n:
            self._route_one_of_n(sorted(one_of_n), best)
        for c in range(n):
            for g in (0, 1):
                b = best[c][g]
                word = shared_state.spi_word(*b) if b is not None else 0
                if word != self._published[c][g]:
                    self._published[c][g] = word
                    self.state.words[c, shared_state.W_SPI0 + g] = word
                    self._touched.add(c)
        for ci in self.cpu:
            ci.evaluate()

    def _route_one_of_n(self, pending: list[tuple[int, int, int]],
                        best: list[list[tuple[int, int] | None]]) -> None:
        """1-of-N SPIs, best first: each goes to the lowest-numbered participating CPU
        (awake, its group enabled) for which it would be the highest priority pending
        interrupt and could be signalled now (PMR, running priority), as far as the
        CPU's registers in the shared words say. One that no CPU can take now stays
        pending until one can (a CPU reports changes while one waits:
        cpu_interface.py). Giving it to one CPU, not all, means the others see no
        spurious interrupt; acknowledge, synchronous in the distributor, then takes it
        on exactly that CPU."""
        now = []
        for c in range(self.num_cpus):
            on = groups_on(self.state, c, self.sleep_gates_delivery)
            top = private_best(self.state.priv[c].tobytes(), on) if (on[0] or on[1]) else None
            for g in (0, 1):
                b = best[c][g]
                if on[g] and b is not None and (top is None or (b[0], b[1], g) < top):
                    top = (b[0], b[1], g)
            now.append((on, top))
        for prio, i, g in pending:
            for c in range(self.num_cpus):
                on, top = now[c]
                cand = (prio, i, g)
                if on[g] and (top is None or cand < top) \
                        and can_preempt(self.state.words[c], prio, g):
                    if best[c][g] is None or (prio, i) < best[c][g]:
                        best[c][g] = (prio, i)
                    now[c] = (on, cand)
                    break

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
