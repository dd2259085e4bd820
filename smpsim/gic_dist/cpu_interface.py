"""One CPU's GICv3 CPU interface (the ICC_* system registers) and the private
interrupts of its redistributor, as that CPU's own process runs them.

The state is in the shared segment (shared_state.py): SGIs sent by other CPUs appear
in this CPU's pending bytes, the distributor publishes its best SPI of each group for
this CPU there, and this CPU's interface registers are there for the distributor to
read. What the interface cannot decide alone goes to the distributor through an
`SpiPort`: acknowledging an SPI (so that exactly one CPU takes it), deactivating one,
and news of a change of this CPU's masking while a 1-of-N SPI waits for a CPU.

Behaviour follows the GICv3 Architecture Specification (IHI 0069) for one Security
state (GICD_CTLR.DS == 1, no EL3) with 5 bits of priority and preemption; where it
leaves a choice, QEMU's `arm_gicv3_cpuif.c` (said so as "QEMU:").
"""

from __future__ import annotations

from typing import Protocol

from smpsim.gic_dist import shared_state as st

SPURIOUS = 1023
PRIBITS = 5  # priority (and preemption) bits of the CPU interface, as QEMU
PRIO_MASK = (0xFF << (8 - PRIBITS)) & 0xFF  # implemented bits of ICC_PMR_EL1
MIN_BPR0 = 7 - PRIBITS  # the smallest ICC_BPR0_EL1 (QEMU icc_min_bpr)
MIN_BPR1 = MIN_BPR0 + 1  # the smallest ICC_BPR1_EL1 (QEMU icc_min_bpr_ns)
# GICD_CTLR with DS == 1: EnableGrp0 [0], EnableGrp1 [1]
CTLR_EN_GRP0, CTLR_EN_GRP1 = 1 << 0, 1 << 1
# ICC_CTLR_EL1
ICC_CTLR_CBPR, ICC_CTLR_EOIMODE = 1 << 0, 1 << 1
_ICC_CTLR_FIXED = ((PRIBITS - 1) << 8  # PRIbits
                   | 1 << 11  # IDbits = 0b001, 24 bits: what QEMU reports
                   | 1 << 15  # A3V: Aff3 may be non-zero in SGI targets
                   | 1 << 18)  # RSS: SGI target lists with a range selector
_ICC_SRE = 0x7  # SRE, DFB, DIB set, read-only (system registers only, as QEMU)
_ICC_SRE_EL2 = 0xF  # and Enable
_F = st.NUM_PRIVATE  # bytes per field in a CPU's block of priv


class SpiPort(Protocol):
    """The distributor, as a CPU interface reaches it."""

    def acknowledge(self, cpu: int, intid: int, group: int) -> int | None:
        """Activate SPI `intid` for `cpu` if the distributor still offers it to that
        CPU; its priority, or None (taken elsewhere, or gone)."""

    def deactivate(self, cpu: int, intid: int) -> None: ...

    def cpu_changed(self, cpu: int) -> None:
        """The CPU's group enables, priority mask, running priority or private
        interrupts changed while a 1-of-N SPI is pending (it may now take it)."""


def gicr_affinity(mpidr_aff: int) -> int:
    """MPIDR-style affinity (Aff3 at [39:32]) -> the 32-bit Aff3.Aff2.Aff1.Aff0 form
    of GICR_TYPER[63:32] and of SGI targeting."""
    return ((mpidr_aff >> 32) & 0xFF) << 24 | (mpidr_aff & 0xFF_FFFF)


# --- priority arithmetic over a CPU interface's registers (also the distributor's, to
# --- route 1-of-N SPIs from the values it reads in the shared words)

def group_priority_mask(bpr0: int, bpr1: int, ctlr: int, group: int) -> int:
    """The group-priority bits of a priority (the spec's GroupBits()): BPR0 for
    Group 0, or for Group 1 with CBPR; else BPR1 - 1 (Non-secure Group 1)."""
    bpr = bpr0 if group == 0 or ctlr & ICC_CTLR_CBPR else bpr1 - 1
    return (0xFF << (bpr + 1)) & 0xFF


def running_priority(apr0: int, apr1: int) -> int:
    a = apr0 | apr1
    if not a:
        return 0xFF  # idle
    return ((a & -a).bit_length() - 1) << (8 - PRIBITS)


def signalled(prio: int, group: int, pmr: int, apr0: int, apr1: int, bpr0: int, bpr1: int,
              ctlr: int) -> bool:
    """Whether an interrupt of `prio` in `group` is signalled by a CPU interface with
    these registers (physical, or the virtual one's V* fields): above the priority mask
    and above the running priority in group-priority bits (subpriority never
    preempts)."""
    if prio >= pmr:
        return False  # masked by ICC_PMR_EL1
    rprio = running_priority(apr0, apr1)
    if rprio == 0xFF:
        return True
    mask = group_priority_mask(bpr0, bpr1, ctlr, group)
    return (prio & mask) < (rprio & mask)


def can_preempt(words, prio: int, group: int) -> bool:
    """`signalled` for the CPU interface whose registers are `words` (a row of
    GicState.words: how the distributor sees another process's interface)."""
    return signalled(prio, group, int(words[st.W_PMR]), int(words[st.W_APR0]),
                     int(words[st.W_APR1]), int(words[st.W_BPR0]), int(words[st.W_BPR1]),
                     int(words[st.W_CTLR]))


def groups_on(state: st.GicState, cpu: int, sleep_gates_delivery: bool) -> tuple[bool, bool]:
    """Whether each group is delivered to `cpu`: enabled in GICD_CTLR and in its
    ICC_IGRPEN<n>_EL1, and (when sleep gates delivery) its redistributor awake."""
    w = state.words[cpu]
    if sleep_gates_delivery and w[st.W_SLEEP]:
        return False, False
    ctlr = int(state.glob[st.G_DIST_CTLR])
    return bool(ctlr & CTLR_EN_GRP0 and w[st.W_IGRPEN0]), bool(ctlr & CTLR_EN_GRP1 and w[st.W_IGRPEN1])


def private_best(block: bytes, on: tuple[bool, bool]) -> tuple[int, int, int] | None:
    """The highest priority pending private interrupt of a CPU as (priority, intid,
    group), from its block of `priv` as bytes: pending (the latch, or a level input
    that is high), enabled, not active, its group delivered. Ties go to the lower
    INTID (QEMU)."""
    def field(f: int) -> int:
        return int.from_bytes(block[f * _F:(f + 1) * _F], "little")
    # each byte is 0 or 1, so whole-field integer logic works byte by byte
    en = field(st.ENABLED)
    if not en:
        return None
    pending = field(st.LATCH) | (field(st.LEVEL) & ~field(st.EDGE))
    live = en & pending & ~field(st.ACTIVE)
    best = None
    while live:
        low = live & -live
        i = (low.bit_length() - 1) // 8
        live ^= low
        g = block[st.GROUP * _F + i]
        if on[g]:
            cand = (block[st.PRIO * _F + i], i, g)
            if best is None or cand < best:
                best = cand
    return best


class CpuInterface:
    """The CPU interface of CPU `cpu` over the shared state. `affinities[i]` is CPU i's
    MPIDR affinity (SGI targeting). After any call, `lines` holds the (IRQ, FIQ)
    outputs to the core as of that call; `evaluate()` refreshes them after someone
    else changed the shared state (a ring of the doorbell)."""

    def __init__(self, cpu: int, state: st.GicState, affinities: list[int], spi: SpiPort,
                 sleep_gates_delivery: bool = True, num_irq: int = 256):
        self.cpu = cpu
        self.num_irq = num_irq
        self.state = state
        self.spi = spi
        self.sleep_gates_delivery = sleep_gates_delivery
        self.words = state.words[cpu]
        self.block = state.priv[cpu]
        self._gicr_aff = [gicr_affinity(a) for a in affinities]
        self.pmr = 0
        self.bpr0, self.bpr1 = MIN_BPR0, MIN_BPR1
        self.ctlr = 0  # the writable bits: CBPR, EOImode
        self.igrpen = [False, False]
        self.apr = [0, 0]  # ICC_AP0R0_EL1, ICC_AP1R0_EL1
        self._publish()
        self.hppi: tuple[int, int, int] | None = None  # (priority, intid, group)
        self.lines = (False, False)
        self.evaluate()

    def _publish(self) -> None:
        """The registers the distributor reads (1-of-N routing), into the shared words."""
        w = self.words
        w[st.W_PMR], w[st.W_BPR0], w[st.W_BPR1], w[st.W_CTLR] = (self.pmr, self.bpr0,
                                                                  self.bpr1, self.ctlr)
        w[st.W_IGRPEN0], w[st.W_IGRPEN1] = self.igrpen
        w[st.W_APR0], w[st.W_APR1] = self.apr

    def _changed(self, always: bool = False) -> None:
        """This CPU's masking or private interrupts changed: publish, and tell the
        distributor when it is routing a 1-of-N SPI (or `always`: group enables)."""
        self._publish()
        if always or self.state.glob[st.G_ONE_OF_N]:
            self.spi.cpu_changed(self.cpu)

    # --- the outputs -------------------------------------------------------------------
    def evaluate(self) -> tuple[bool, bool]:
        """Recompute the highest priority pending interrupt (private, or the SPI the
        distributor offers this CPU) and the IRQ/FIQ lines: Group 1 signals IRQ,
        Group 0 FIQ, when it can preempt."""
        on = groups_on(self.state, self.cpu, self.sleep_gates_delivery)
        best = private_best(self.block.tobytes(), on) if (on[0] or on[1]) else None
        for g in (0, 1):
            if on[g]:
                spi = st.read_spi_word(int(self.words[st.W_SPI0 + g]))
                if spi is not None:
                    cand = (spi[0], spi[1], g)
                    if best is None or cand < best:
                        best = cand
        self.hppi = best
        if best is not None and self._can_preempt(best[0], best[2]):
            self.lines = (best[2] == 1, best[2] == 0)
        else:
            self.lines = (False, False)
        return self.lines

    # --- inputs ------------------------------------------------------------------------
    def set_ppi(self, intid: int, level: bool) -> None:
        """This CPU's private input `intid` (16..31: its timers) is now at `level`."""
        if not 16 <= intid < 32:
            raise ValueError(f"PPI INTID must be 16..31, not {intid}")
        b = self.block
        if bool(b[st.LEVEL, intid]) == level:
            return
        b[st.LEVEL, intid] = int(level)
        if level and b[st.EDGE, intid]:
            b[st.LATCH, intid] = 1  # a rising edge latches an edge-triggered interrupt
        self._changed()
        self.evaluate()

    def make_pending(self, intid: int) -> None:
        """SGI or PPI `intid` pending, as a write of GICR_ISPENDR0 would make it (a
        topology's injection)."""
        if not 0 <= intid < 32:
            raise ValueError(f"an SGI or PPI INTID is 0..31, not {intid}")
        self.block[st.LATCH, intid] = 1
        self._changed()
        self.evaluate()

    # --- the registers -----------------------------------------------------------------
    def read(self, name: str) -> int:
        """MRS of a CPU-interface register. With one Security state and no EL3 every
        ICC_* register behaves the same at EL1 and EL2."""
        if name == "ICC_IAR1_EL1":
            return self._acknowledge(1)
        if name == "ICC_IAR0_EL1":
            return self._acknowledge(0)
        self.evaluate()
        if name in ("ICC_HPPIR0_EL1", "ICC_HPPIR1_EL1"):
            # the highest priority pending interrupt of that group, whatever PMR and
            # the running priority say
            group = 0 if name == "ICC_HPPIR0_EL1" else 1
            h = self.hppi
            return h[1] if h and h[2] == group else SPURIOUS
        if name == "ICC_PMR_EL1":
            return self.pmr
        if name == "ICC_RPR_EL1":
            return running_priority(*self.apr)
        if name == "ICC_BPR0_EL1":
            return self.bpr0
        if name == "ICC_BPR1_EL1":
            # with CBPR, BPR1 reads as BPR0 + 1, saturated (QEMU, spec ICC_BPR1_EL1)
            return min(self.bpr0 + 1, 7) if self.ctlr & ICC_CTLR_CBPR else self.bpr1
        if name == "ICC_CTLR_EL1":
            return self.ctlr | _ICC_CTLR_FIXED
        if name == "ICC_IGRPEN0_EL1":
            return int(self.igrpen[0])
        if name == "ICC_IGRPEN1_EL1":
            return int(self.igrpen[1])
        if name == "ICC_AP0R0_EL1":
            return self.apr[0]
        if name == "ICC_AP1R0_EL1":
            return self.apr[1]
        if name == "ICC_SRE_EL1":
            return _ICC_SRE
        if name == "ICC_SRE_EL2":
            return _ICC_SRE_EL2
        # ICC_AP{0,1}R{1,2,3}_EL1 (5 preemption bits need only R0), the write-only
        # registers (EOIR, DIR, SGI*R) and anything not modelled (ICH_*): RAZ
        return 0

    def write(self, name: str, value: int) -> list[int]:
        """MSR of a CPU-interface register; the other CPUs an SGI was made pending on
        (their doorbells are to be rung)."""
        value &= (1 << 64) - 1
        others: list[int] = []
        always = False
        if name == "ICC_EOIR1_EL1":
            self._eoi(1, value & 0xFF_FFFF)
        elif name == "ICC_EOIR0_EL1":
            self._eoi(0, value & 0xFF_FFFF)
        elif name == "ICC_SGI1R_EL1":
            others = self._send_sgi(value, 1)
        elif name == "ICC_SGI0R_EL1":
            others = self._send_sgi(value, 0)
        elif name == "ICC_ASGI1R_EL1":
            others = self._send_sgi(value, 2)
        elif name == "ICC_DIR_EL1":
            # with EOImode == 0 a DIR write is UNPREDICTABLE; QEMU ignores it
            if self.ctlr & ICC_CTLR_EOIMODE:
                self._deactivate(value & 0xFF_FFFF)
        elif name == "ICC_PMR_EL1":
            self.pmr = value & PRIO_MASK
        elif name == "ICC_BPR0_EL1":
            self.bpr0 = max(value & 7, MIN_BPR0)  # below the minimum: the minimum (QEMU)
        elif name == "ICC_BPR1_EL1":
            if not self.ctlr & ICC_CTLR_CBPR:  # with CBPR, writes are ignored
                self.bpr1 = max(value & 7, MIN_BPR1)
        elif name == "ICC_CTLR_EL1":
            # CBPR and EOImode are writable; PMHE is RAZ/WI (QEMU); the rest read-only
            self.ctlr = value & (ICC_CTLR_CBPR | ICC_CTLR_EOIMODE)
        elif name in ("ICC_IGRPEN0_EL1", "ICC_IGRPEN1_EL1"):
            self.igrpen[name == "ICC_IGRPEN1_EL1"] = bool(value & 1)
            always = True  # the distributor offers SPIs of the enabled groups
        elif name == "ICC_AP0R0_EL1":
            self.apr[0] = value & 0xFFFF_FFFF
        elif name == "ICC_AP1R0_EL1":
            self.apr[1] = value & 0xFFFF_FFFF
        else:  # read-only (IAR, HPPIR, RPR, SRE: fixed) or not modelled: WI
            self.evaluate()  # (the lines are current after any call, as promised)
            return others
        self._changed(always)
        self.evaluate()
        return others

    # --- acknowledge, end of interrupt -------------------------------------------------
    def _acknowledge(self, group: int) -> int:
        self.evaluate()
        h = self.hppi
        if h is None or h[2] != group or not self._can_preempt(h[0], h[2]):
            return SPURIOUS
        prio, intid, _ = h
        if intid >= st.NUM_PRIVATE:
            # the distributor decides: another CPU may have taken a 1-of-N SPI, or it
            # may have gone; then this read is spurious, as when a real GIC withdraws
            # an interrupt between signalling it and its acknowledge
            taken = self.spi.acknowledge(self.cpu, intid, group)
            if taken is None:
                self.evaluate()
                return SPURIOUS
            prio = taken
        else:
            self.block[st.ACTIVE, intid] = 1
            self.block[st.LATCH, intid] = 0  # a level input that stays high keeps it pending
        self.apr[group] |= 1 << ((prio & self._gprio_mask(group)) >> (8 - PRIBITS))
        self._changed()
        self.evaluate()
        return intid

    def _eoi(self, group: int, intid: int) -> None:
        if intid >= self.num_irq:
            return  # 1020-1023 are ignored; a nonexistent INTID is UNPREDICTABLE: ignored (QEMU)
        # an EOI for a group that is not the one of the highest active priority is
        # UNPREDICTABLE; QEMU ignores it, and so does this model
        if self._highest_active_group() != group:
            return
        apr = self.apr[group]
        self.apr[group] = apr & (apr - 1)  # priority drop: the highest active priority
        if not self.ctlr & ICC_CTLR_EOIMODE:
            self._deactivate(intid)

    def deactivate(self, intid: int) -> None:
        """Deactivate `intid` (the virtual interface ending a list register with HW = 1
        deactivates its physical interrupt so)."""
        self._deactivate(intid)
        self._changed()
        self.evaluate()

    def _deactivate(self, intid: int) -> None:
        if intid < st.NUM_PRIVATE:
            self.block[st.ACTIVE, intid] = 0
        else:
            self.spi.deactivate(self.cpu, intid)

    def _send_sgi(self, value: int, kind: int) -> list[int]:
        """Make SGI `value[27:24]` pending on its targets; the targets other than this
        CPU."""
        intid = value >> 24 & 0xF
        if value >> 40 & 1:  # IRM: every CPU but this one
            targets = [c for c in range(len(self._gicr_aff)) if c != self.cpu]
        else:
            aff321 = ((value >> 48 & 0xFF) << 24 | (value >> 32 & 0xFF) << 16
                      | (value >> 16 & 0xFF) << 8)
            rs = value >> 44 & 0xF
            tlist = value & 0xFFFF
            targets = [c for c, aff in enumerate(self._gicr_aff)
                       if aff & ~0xFF == aff321 and (aff & 0xFF) >> 4 == rs
                       and tlist >> (aff & 0xF) & 1]
        others = []
        priv = self.state.priv
        for t in targets:
            # With DS == 1: SGI0R raises the SGI if the target has it in Group 0,
            # SGI1R if in Group 1. ASGI1R asks for the "other" Security state's
            # Group 1, which QEMU treats as Secure Group 1 and accepts for an SGI
            # configured as Group 0; this model does the same.
            if (kind == 1) == bool(priv[t, st.GROUP, intid]):
                priv[t, st.LATCH, intid] = 1
                if t != self.cpu:
                    others.append(t)
        return others

    # --- priority helpers ----------------------------------------------------------------
    def _gprio_mask(self, group: int) -> int:
        return group_priority_mask(self.bpr0, self.bpr1, self.ctlr, group)

    def _highest_active_group(self) -> int:
        a0, a1 = self.apr
        if not (a0 | a1):
            return -1
        low0 = (a0 & -a0).bit_length() if a0 else 99
        low1 = (a1 & -a1).bit_length() if a1 else 99
        return 1 if low1 < low0 else 0  # a tie goes to Group 0 (QEMU)

    def _can_preempt(self, prio: int, group: int) -> bool:
        return signalled(prio, group, self.pmr, self.apr[0], self.apr[1], self.bpr0,
                         self.bpr1, self.ctlr)
