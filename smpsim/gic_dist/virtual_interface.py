"""One CPU's GICv3 virtual CPU interface: the hypervisor's ICH_*_EL2 registers and the
ICV_* registers that EL1's ICC_* accesses reach when HCR_EL2.IMO/FMO route them here.

It lives in the CPU's own process next to its `CpuInterface` and shares nothing with
other processes: the list registers are this CPU's, written by its hypervisor. Its
outputs are the virtual IRQ and FIQ lines to the core (`lines`) and the maintenance
interrupt (`maintenance`, the level of PPI 25 at the physical CPU interface); a list
register with HW == 1 deactivates its physical interrupt through the
`deactivate_physical(pintid)` callback when the guest ends the virtual one.

Behaviour follows the GICv3 Architecture Specification (IHI 0069), "Virtual interrupt
handling and prioritization" and the ICH_*/ICV_* register descriptions, for an
interface with 4 list registers and 5 bits of virtual priority and preemption; where
it leaves a choice, QEMU's `arm_gicv3_cpuif.c` (said so as "QEMU:"). No GICv4 (no
direct vLPI injection), no NMIs, no legacy (memory-mapped) operation.
"""

from __future__ import annotations

from collections.abc import Callable

from smpsim.gic_dist.cpu_interface import (ICC_CTLR_CBPR, PRIBITS, SPURIOUS, group_priority_mask,
                                           running_priority, signalled)

NUM_LRS = 4
VPRIBITS = 5  # virtual priority bits, as QEMU's default
VPREBITS = PRIBITS  # virtual preemption bits: one 32-bit active-priority register per
# group; the physical interface's (its priority arithmetic, shared here, relies on it)
VPRIO_MASK = (0xFF << (8 - VPRIBITS)) & 0xFF  # implemented bits of a virtual priority
MIN_VBPR0 = 7 - VPREBITS  # the smallest ICV_BPR0_EL1 (QEMU icv_min_vbpr)
MIN_VBPR1 = MIN_VBPR0 + 1  # the smallest ICV_BPR1_EL1
LPI_BASE = 8192

# ICH_HCR_EL2
HCR_EN, HCR_UIE, HCR_LRENPIE, HCR_NPIE = 1 << 0, 1 << 1, 1 << 2, 1 << 3
HCR_VGRP0EIE, HCR_VGRP0DIE, HCR_VGRP1EIE, HCR_VGRP1DIE = 1 << 4, 1 << 5, 1 << 6, 1 << 7
HCR_TC, HCR_TALL0, HCR_TALL1, HCR_TSEI, HCR_TDIR = 1 << 10, 1 << 11, 1 << 12, 1 << 13, 1 << 14
HCR_EOICOUNT_SHIFT = 27
HCR_EOICOUNT = 0x1F << HCR_EOICOUNT_SHIFT
# the bits a write keeps, as QEMU (vSGIEOICount and DVIM are GICv4.1's: RES0 here)
_HCR_WRITABLE = (HCR_EN | HCR_UIE | HCR_LRENPIE | HCR_NPIE | HCR_VGRP0EIE | HCR_VGRP0DIE
                 | HCR_VGRP1EIE | HCR_VGRP1DIE | HCR_TC | HCR_TALL0 | HCR_TALL1 | HCR_TSEI
                 | HCR_TDIR | HCR_EOICOUNT)

# ICH_VMCR_EL2
VMCR_VENG0, VMCR_VENG1, VMCR_VACKCTL, VMCR_VFIQEN = 1 << 0, 1 << 1, 1 << 2, 1 << 3
VMCR_VCBPR, VMCR_VEOIM = 1 << 4, 1 << 9
VMCR_VBPR1_SHIFT, VMCR_VBPR0_SHIFT, VMCR_VPMR_SHIFT = 18, 21, 24
# VAckCtl is RES0 and VFIQEn RES1 without legacy operation (QEMU: the same)
_VMCR_RESET = (VMCR_VFIQEN | MIN_VBPR1 << VMCR_VBPR1_SHIFT | MIN_VBPR0 << VMCR_VBPR0_SHIFT)

# ICH_LR<n>_EL2
LR_VINTID_MASK = (1 << 24) - 1  # vINTID [31:0], 24 bits implemented (IDbits): [31:24] RES0
LR_PINTID_SHIFT = 32
LR_PINTID_MASK = 0x1FFF  # pINTID [44:32], when HW == 1
LR_EOI = 1 << 41  # when HW == 0: a maintenance interrupt on deactivation
LR_PRIO_SHIFT = 48
LR_GROUP, LR_HW = 1 << 60, 1 << 61
LR_STATE_SHIFT = 62
INVALID, PENDING, ACTIVE, ACTIVE_PENDING = 0, 1, 2, 3  # LR State
_LR_PENDING_BIT, _LR_ACTIVE_BIT = 1 << 62, 1 << 63
# The bits a write keeps: the unimplemented low bits of Priority ([50:48]), bits
# [47:45] and [58:56], NMI [59] (no FEAT_GICv3_NMI) and the vINTID bits above IDbits
# are RES0; with HW == 0 so is all of pINTID but the EOI bit.
_LR_COMMON = (LR_VINTID_MASK | VPRIO_MASK << LR_PRIO_SHIFT | LR_GROUP | LR_HW
              | 3 << LR_STATE_SHIFT)
_LR_KEEP_HW = _LR_COMMON | LR_PINTID_MASK << LR_PINTID_SHIFT
_LR_KEEP_SW = _LR_COMMON | LR_EOI

# ICH_MISR_EL2
MISR_EOI, MISR_U, MISR_LRENP, MISR_NP = 1 << 0, 1 << 1, 1 << 2, 1 << 3
MISR_VGRP0E, MISR_VGRP0D, MISR_VGRP1E, MISR_VGRP1D = 1 << 4, 1 << 5, 1 << 6, 1 << 7

# ICH_VTR_EL2, read-only: what QEMU reports for its GICv3 with 4 list registers
ICH_VTR = ((NUM_LRS - 1)  # ListRegs [4:0]: one less than the number of LRs
           | 1 << 19  # TDS: ICH_HCR_EL2.TDIR is implemented
           | 1 << 20  # nV4: no direct injection of vLPIs (GICv3, not v4)
           | 1 << 21  # A3V: Aff3 may be non-zero
           | 1 << 23  # IDbits [25:23] = 0b001: 24-bit virtual INTIDs
           | (VPREBITS - 1) << 26  # PREbits [28:26]
           | (VPRIBITS - 1) << 29)  # PRIbits [31:29]; SEIS [22] = 0
# ICV_CTLR_EL1's fixed fields: the same PRIbits, IDbits and A3V (QEMU)
ICV_CTLR_CBPR, ICV_CTLR_EOIMODE = 1 << 0, 1 << 1
_ICV_CTLR_FIXED = (VPRIBITS - 1) << 8 | 1 << 11 | 1 << 15

REGISTERS = frozenset(
    ["ICH_HCR_EL2", "ICH_VTR_EL2", "ICH_VMCR_EL2", "ICH_MISR_EL2", "ICH_EISR_EL2",
     "ICH_ELRSR_EL2", "ICH_AP0R0_EL2", "ICH_AP1R0_EL2"]
    + [f"ICH_LR{n}_EL2" for n in range(NUM_LRS)]
    + ["ICV_IAR0_EL1", "ICV_IAR1_EL1", "ICV_EOIR0_EL1", "ICV_EOIR1_EL1", "ICV_DIR_EL1",
       "ICV_HPPIR0_EL1", "ICV_HPPIR1_EL1", "ICV_RPR_EL1", "ICV_PMR_EL1", "ICV_BPR0_EL1",
       "ICV_BPR1_EL1", "ICV_CTLR_EL1", "ICV_IGRPEN0_EL1", "ICV_IGRPEN1_EL1",
       "ICV_AP0R0_EL1", "ICV_AP1R0_EL1"])
"""The registers this interface implements (ICH_LR4..15 and ICH/ICV_AP<g>R1..3 are
not: UNDEFINED to the core, RAZ/WI here)."""

_LR_NAMES = {f"ICH_LR{n}_EL2": n for n in range(NUM_LRS)}


def lr_state(lr: int) -> int:
    return lr >> LR_STATE_SHIFT & 3


def lr_vintid(lr: int) -> int:
    return lr & LR_VINTID_MASK


def lr_prio(lr: int) -> int:
    return lr >> LR_PRIO_SHIFT & 0xFF


def lr_group(lr: int) -> int:
    return int(bool(lr & LR_GROUP))


def lr_pintid(lr: int) -> int:
    return lr >> LR_PINTID_SHIFT & LR_PINTID_MASK


def make_lr(vintid: int, prio: int, group: int = 1, state: int = PENDING, hw: bool = False,
            pintid: int = 0, eoi: bool = False) -> int:
    """An ICH_LR<n>_EL2 value (as a hypervisor composes one)."""
    lr = (vintid | prio << LR_PRIO_SHIFT | group << 60 | int(hw) << 61
          | state << LR_STATE_SHIFT)
    if hw:
        return lr | pintid << LR_PINTID_SHIFT
    return lr | (LR_EOI if eoi else 0)


class VirtualInterface:
    """The virtual CPU interface of one CPU. After any call, `lines` holds the (virtual
    IRQ, virtual FIQ) outputs to the core and `maintenance` the level of the
    maintenance interrupt, as of that call."""

    def __init__(self, deactivate_physical: Callable[[int], None]):
        self.deactivate_physical = deactivate_physical
        self.hcr = 0
        self.vmcr = _VMCR_RESET
        self.lr = [0] * NUM_LRS
        self.apr = [0, 0]  # ICH_AP0R0_EL2, ICH_AP1R0_EL2 (= ICV_AP0R0_EL1, ICV_AP1R0_EL1)
        self.lines = (False, False)
        self.maintenance = False
        self.evaluate()

    def snapshot(self) -> dict:
        """The state, as a hypervisor would save it on a vPE switch (and for tests)."""
        return {"hcr": self.hcr, "vmcr": self.vmcr, "lr": list(self.lr),
                "apr": list(self.apr)}

    # --- the outputs -------------------------------------------------------------------
    def evaluate(self) -> tuple[bool, bool]:
        """Recompute the virtual IRQ/FIQ lines (Group 1 signals vIRQ, Group 0 vFIQ, when
        the highest priority pending virtual interrupt can preempt) and the maintenance
        interrupt (ICH_HCR_EL2.En and any ICH_MISR_EL2 bit)."""
        i = self._hppvi()
        if i is not None and self._can_preempt(self.lr[i]):
            g = lr_group(self.lr[i])
            self.lines = (g == 1, g == 0)
        else:
            self.lines = (False, False)
        self.maintenance = bool(self.hcr & HCR_EN) and self._misr() != 0
        return self.lines

    # --- the registers -----------------------------------------------------------------
    def read(self, name: str) -> int:
        """MRS of an ICH_* register (at EL2) or an ICV_* one (EL1 with IMO/FMO)."""
        if name == "ICV_IAR1_EL1":
            return self._acknowledge(1)
        if name == "ICV_IAR0_EL1":
            return self._acknowledge(0)
        n = _LR_NAMES.get(name)
        if n is not None:
            return self.lr[n]
        if name == "ICH_HCR_EL2":
            return self.hcr
        if name == "ICH_VTR_EL2":
            return ICH_VTR
        if name == "ICH_VMCR_EL2":
            return self.vmcr
        if name == "ICH_MISR_EL2":
            return self._misr()
        if name == "ICH_EISR_EL2":
            return self._eisr()
        if name == "ICH_ELRSR_EL2":
            return self._elrsr()
        if name in ("ICH_AP0R0_EL2", "ICV_AP0R0_EL1"):
            return self.apr[0]
        if name in ("ICH_AP1R0_EL2", "ICV_AP1R0_EL1"):
            return self.apr[1]
        if name in ("ICV_HPPIR0_EL1", "ICV_HPPIR1_EL1"):
            # the highest priority pending virtual interrupt if it is of that group,
            # whatever VPMR and the running priority say (QEMU)
            i = self._hppvi()
            group = int(name == "ICV_HPPIR1_EL1")
            if i is None or lr_group(self.lr[i]) != group:
                return SPURIOUS
            return lr_vintid(self.lr[i])
        if name == "ICV_RPR_EL1":
            return self._running_priority()
        if name == "ICV_PMR_EL1":
            return self.vmcr >> VMCR_VPMR_SHIFT & 0xFF
        if name == "ICV_BPR0_EL1":
            return self._vbpr(0)
        if name == "ICV_BPR1_EL1":
            # with VCBPR, BPR1 reads as BPR0 + 1, saturated (spec ICV_BPR1_EL1, QEMU)
            return min(self._vbpr(0) + 1, 7) if self.vmcr & VMCR_VCBPR else self._vbpr(1)
        if name == "ICV_CTLR_EL1":
            return (_ICV_CTLR_FIXED | (ICV_CTLR_EOIMODE if self.vmcr & VMCR_VEOIM else 0)
                    | (ICV_CTLR_CBPR if self.vmcr & VMCR_VCBPR else 0))
        if name == "ICV_IGRPEN0_EL1":
            return self.vmcr & VMCR_VENG0
        if name == "ICV_IGRPEN1_EL1":
            return self.vmcr >> 1 & 1
        # the write-only registers (EOIR, DIR) and anything not implemented: RAZ
        return 0

    def write(self, name: str, value: int) -> None:
        """MSR of an ICH_* or ICV_* register."""
        value &= (1 << 64) - 1
        n = _LR_NAMES.get(name)
        if n is not None:
            self.lr[n] = value & (_LR_KEEP_HW if value & LR_HW else _LR_KEEP_SW)
        elif name == "ICV_EOIR1_EL1":
            self._eoi(1, value & LR_VINTID_MASK)
        elif name == "ICV_EOIR0_EL1":
            self._eoi(0, value & LR_VINTID_MASK)
        elif name == "ICV_DIR_EL1":
            self._dir(value & LR_VINTID_MASK)
        elif name == "ICH_HCR_EL2":
            self.hcr = value & _HCR_WRITABLE
        elif name == "ICH_VMCR_EL2":
            self._write_vmcr(value)
        elif name in ("ICH_AP0R0_EL2", "ICV_AP0R0_EL1"):
            self.apr[0] = value & 0xFFFF_FFFF
        elif name in ("ICH_AP1R0_EL2", "ICV_AP1R0_EL1"):
            self.apr[1] = value & 0xFFFF_FFFF
        elif name == "ICV_PMR_EL1":
            self._set_field(VMCR_VPMR_SHIFT, 0xFF, value & VPRIO_MASK)
        elif name == "ICV_BPR0_EL1":
            self._set_field(VMCR_VBPR0_SHIFT, 7, max(value & 7, MIN_VBPR0))
        elif name == "ICV_BPR1_EL1":
            if not self.vmcr & VMCR_VCBPR:  # with VCBPR, writes are ignored
                self._set_field(VMCR_VBPR1_SHIFT, 7, max(value & 7, MIN_VBPR1))
        elif name == "ICV_CTLR_EL1":
            # CBPR and EOImode are the VMCR's VCBPR and VEOIM; the rest is read-only
            self.vmcr = (self.vmcr & ~(VMCR_VCBPR | VMCR_VEOIM)
                         | (VMCR_VCBPR if value & ICV_CTLR_CBPR else 0)
                         | (VMCR_VEOIM if value & ICV_CTLR_EOIMODE else 0))
        elif name == "ICV_IGRPEN0_EL1":
            self._set_field(0, 1, value & 1)
        elif name == "ICV_IGRPEN1_EL1":
            self._set_field(1, 1, value & 1)
        else:
            return  # read-only (VTR, MISR, EISR, ELRSR, IAR, HPPIR, RPR) or not implemented
        self.evaluate()

    def _set_field(self, shift: int, mask: int, v: int) -> None:
        self.vmcr = self.vmcr & ~(mask << shift) | v << shift

    def _write_vmcr(self, value: int) -> None:
        # VPMR is ICV_PMR_EL1's priority (its unimplemented bits RAZ/WI) and the VBPRs
        # ICV_BPR<n>_EL1's (a value below the minimum is the minimum, as QEMU)
        self.vmcr = (value & (VMCR_VENG0 | VMCR_VENG1 | VMCR_VCBPR | VMCR_VEOIM)
                     | VMCR_VFIQEN
                     | max(value >> VMCR_VBPR1_SHIFT & 7, MIN_VBPR1) << VMCR_VBPR1_SHIFT
                     | max(value >> VMCR_VBPR0_SHIFT & 7, MIN_VBPR0) << VMCR_VBPR0_SHIFT
                     | (value >> VMCR_VPMR_SHIFT & VPRIO_MASK) << VMCR_VPMR_SHIFT)

    # --- the maintenance interrupt -----------------------------------------------------
    def _eisr(self) -> int:
        """LRs that ended an interrupt they asked to hear about: State Invalid, HW == 0,
        EOI == 1 (spec ICH_EISR_EL2)."""
        return sum(1 << n for n, lr in enumerate(self.lr)
                   if lr_state(lr) == INVALID and not lr & LR_HW and lr & LR_EOI)

    def _elrsr(self) -> int:
        """LRs free for a new interrupt: State Invalid and no EOI maintenance interrupt
        to lose (HW == 1 or EOI == 0) (spec ICH_ELRSR_EL2)."""
        return sum(1 << n for n, lr in enumerate(self.lr)
                   if lr_state(lr) == INVALID and (lr & LR_HW or not lr & LR_EOI))

    def _misr(self) -> int:
        hcr, vmcr = self.hcr, self.vmcr
        misr = MISR_EOI if self._eisr() else 0
        valid = sum(lr_state(lr) != INVALID for lr in self.lr)
        if hcr & HCR_UIE and valid <= 1:
            misr |= MISR_U  # underflow: zero or one valid LRs
        if hcr & HCR_LRENPIE and hcr & HCR_EOICOUNT:
            misr |= MISR_LRENP  # EOIs of interrupts the LRs no longer hold
        # no LR in the Pending state (Active+Pending has no pending interrupt that
        # could be signalled: QEMU counts Pending only)
        if hcr & HCR_NPIE and not any(lr_state(lr) == PENDING for lr in self.lr):
            misr |= MISR_NP
        # QEMU tests VENG1 for VGrp0D; the spec's ICH_MISR_EL2 says VENG0
        for en_ie, dis_ie, eng, e_bit, d_bit in (
                (HCR_VGRP0EIE, HCR_VGRP0DIE, VMCR_VENG0, MISR_VGRP0E, MISR_VGRP0D),
                (HCR_VGRP1EIE, HCR_VGRP1DIE, VMCR_VENG1, MISR_VGRP1E, MISR_VGRP1D)):
            if hcr & en_ie and vmcr & eng:
                misr |= e_bit
            if hcr & dis_ie and not vmcr & eng:
                misr |= d_bit
        return misr

    # --- acknowledge, end of interrupt, deactivation -----------------------------------
    def _acknowledge(self, group: int) -> int:
        i = self._hppvi()
        intid = SPURIOUS
        if i is not None:
            lr = self.lr[i]
            if lr_group(lr) == group and self._can_preempt(lr):
                intid = lr_vintid(lr)
                if 1020 <= intid <= 1023:
                    # UNPREDICTABLE; QEMU, as the pseudocode: the LR goes Invalid and
                    # the read returns its vINTID
                    self.lr[i] = lr & ~_LR_PENDING_BIT
                else:
                    # Pending -> Active, and the active priority of its group priority
                    self.lr[i] = lr & ~_LR_PENDING_BIT | _LR_ACTIVE_BIT
                    gprio = lr_prio(lr) & self._gprio_mask(group)
                    self.apr[group] |= 1 << (gprio >> (8 - VPREBITS))
        self.evaluate()
        return intid

    def _eoi(self, group: int, intid: int) -> None:
        if 1020 <= intid <= 1023:
            self.evaluate()
            return  # special INTIDs are ignored
        # priority drop first, whatever the INTID (QEMU: the IMPLEMENTATION DEFINED
        # choice of dropping before the checks), of the highest active priority of
        # either group, Group 0 on a tie
        a0, a1 = self.apr
        if not (a0 | a1):
            # no active priority: CONSTRAINED UNPREDICTABLE whether the LRs are checked;
            # QEMU does not
            self.evaluate()
            return
        b0 = (a0 & -a0).bit_length() - 1 if a0 else 99
        b1 = (a1 & -a1).bit_length() - 1 if a1 else 99
        if b0 <= b1:
            self.apr[0] = a0 & (a0 - 1)
            dropped = b0 << (8 - VPREBITS)
        else:
            self.apr[1] = a1 & (a1 - 1)
            dropped = b1 << (8 - VPREBITS)
        i = self._find_active(intid)
        if i is None:
            # no LR holds it (the hypervisor took it out while active): count it, for
            # the hypervisor to deactivate (not for vLPIs)
            if intid < LPI_BASE:
                self._bump_eoicount()
        else:
            lr = self.lr[i]
            # an EOI that does not match the dropped priority or the group is
            # UNPREDICTABLE; QEMU then leaves the LR as it is. vLPIs have no separate
            # deactivation.
            matches = lr_group(lr) == group and lr_prio(lr) & self._gprio_mask(group) == dropped
            if matches and (not self.vmcr & VMCR_VEOIM or intid >= LPI_BASE):
                self._deactivate(i)
        self.evaluate()

    def _dir(self, intid: int) -> None:
        # with VEOIM == 0 a DIR write is UNPREDICTABLE; QEMU ignores it, and special
        # INTIDs and vLPIs (nothing to deactivate)
        if intid < 1020 and self.vmcr & VMCR_VEOIM:
            i = self._find_active(intid)
            if i is None:
                self._bump_eoicount()
            else:
                self._deactivate(i)
        self.evaluate()

    def _find_active(self, intid: int) -> int | None:
        """The LR holding `intid` active (Active or Active+Pending)."""
        for i, lr in enumerate(self.lr):
            if lr & _LR_ACTIVE_BIT and lr_vintid(lr) == intid:
                return i
        return None

    def _deactivate(self, i: int) -> None:
        """Active -> Invalid, Active+Pending -> Pending; with HW == 1 the physical
        interrupt is deactivated too (none for a special pINTID, as QEMU)."""
        lr = self.lr[i]
        self.lr[i] = lr & ~_LR_ACTIVE_BIT
        if lr & LR_HW and lr_pintid(lr) < 1020:
            self.deactivate_physical(lr_pintid(lr))

    def _bump_eoicount(self) -> None:
        # a 5-bit count: it wraps (QEMU)
        count = ((self.hcr >> HCR_EOICOUNT_SHIFT) + 1) & 0x1F
        self.hcr = self.hcr & ~HCR_EOICOUNT | count << HCR_EOICOUNT_SHIFT

    # --- priority helpers --------------------------------------------------------------
    def _vbpr(self, group: int) -> int:
        return self.vmcr >> (VMCR_VBPR1_SHIFT if group else VMCR_VBPR0_SHIFT) & 7

    def _vctlr(self) -> int:
        """VCBPR where the physical interface's rules look for ICC_CTLR_EL1.CBPR."""
        return ICC_CTLR_CBPR if self.vmcr & VMCR_VCBPR else 0

    def _gprio_mask(self, group: int) -> int:
        """The group-priority bits of a virtual priority (the spec's VGroupBits())."""
        return group_priority_mask(self._vbpr(0), self._vbpr(1), self._vctlr(), group)

    def _running_priority(self) -> int:
        return running_priority(*self.apr)

    def _hppvi(self) -> int | None:
        """The LR of the highest priority pending virtual interrupt of an enabled group
        (the spec's HighestPriorityVirtualInterrupt): State Pending only (an
        Active+Pending interrupt cannot be acknowledged again before its deactivation).
        Ties go to the lower LR (QEMU)."""
        best, best_prio = None, 0x100
        for i, lr in enumerate(self.lr):
            if lr_state(lr) != PENDING:
                continue
            if not self.vmcr & (VMCR_VENG1 if lr & LR_GROUP else VMCR_VENG0):
                continue
            if lr_prio(lr) < best_prio:
                best, best_prio = i, lr_prio(lr)
        return best

    def _can_preempt(self, lr: int) -> bool:
        """Whether the pending interrupt of `lr` is signalled (the spec's
        CanSignalVirtualInterrupt): the interface enabled (ICH_HCR_EL2.En), above the
        priority mask (VPMR), and above the running priority in group-priority bits."""
        if not self.hcr & HCR_EN:
            return False
        return signalled(lr_prio(lr), lr_group(lr), self.vmcr >> VMCR_VPMR_SHIFT & 0xFF,
                         self.apr[0], self.apr[1], self._vbpr(0), self._vbpr(1),
                         self._vctlr())


# --- which interface an EL1 access reaches ---------------------------------------------
_HCR_FMO, _HCR_IMO, _HCR_TGE = 1 << 3, 1 << 4, 1 << 27
# the ICC_* registers with a virtual twin, by the HCR_EL2 routing bits that send EL1's
# accesses to it (GIC spec "Virtual CPU interface registers"; QEMU's icv_access): the
# Group 0 ones by FMO, Group 1 by IMO, the common ones by either. SGI generation is
# never virtual: with IMO or FMO set, EL1's writes to it trap to EL2 (`trapped`).
_VIRTUALIZED = {
    **{f"ICC_{r}0_EL1": _HCR_FMO for r in ("IAR", "EOIR", "HPPIR", "BPR", "IGRPEN")},
    **{f"ICC_{r}1_EL1": _HCR_IMO for r in ("IAR", "EOIR", "HPPIR", "BPR", "IGRPEN")},
    "ICC_AP0R0_EL1": _HCR_FMO, "ICC_AP1R0_EL1": _HCR_IMO,
    "ICC_PMR_EL1": _HCR_FMO | _HCR_IMO, "ICC_RPR_EL1": _HCR_FMO | _HCR_IMO,
    "ICC_CTLR_EL1": _HCR_FMO | _HCR_IMO, "ICC_DIR_EL1": _HCR_FMO | _HCR_IMO,
}


def routed_name(name: str, el: int, hcr: int) -> str:
    """The register an access to `name` at `el` reaches: its ICV_* twin when EL1's
    accesses are routed to the virtual interface (HCR_EL2.IMO/FMO, TGE clear), else
    `name` itself."""
    if el != 1 or hcr & _HCR_TGE:
        return name
    bits = _VIRTUALIZED.get(name)
    if bits is None or not hcr & bits:
        return name
    return "ICV_" + name[4:]


# --- what ICH_HCR_EL2 traps to EL2 ---------------------------------------------------------
# EL1 accesses to the CPU interface's registers, ICC_* and ICV_* alike, by the trap bit
# that covers them (GIC spec, ICH_HCR_EL2.TC/TALL0/TALL1/TDIR; as QEMU's access checks)
_COMMON = frozenset({"ICC_CTLR_EL1", "ICC_DIR_EL1", "ICC_PMR_EL1", "ICC_RPR_EL1",
                     "ICC_SGI0R_EL1", "ICC_SGI1R_EL1", "ICC_ASGI1R_EL1"})
_GROUP = {g: frozenset({f"ICC_{r}{g}_EL1" for r in ("IAR", "EOIR", "HPPIR", "BPR", "IGRPEN")}
                       | {f"ICC_AP{g}R{n}_EL1" for n in range(4)}) for g in (0, 1)}


_SGI_GENERATION = frozenset({"ICC_SGI0R_EL1", "ICC_SGI1R_EL1", "ICC_ASGI1R_EL1"})


def trapped(name: str, write: bool, ich_hcr: int, hcr: int = 0) -> bool:
    """Whether an EL1 access to `name` (an ICC_* name, the one the instruction encodes)
    traps to EL2: by ICH_HCR_EL2 = `ich_hcr`, or, for the SGI generation registers, by
    HCR_EL2 = `hcr` routing IRQs or FIQs to EL2 (IMO/FMO: the hypervisor sends the
    guest's SGIs itself; GIC spec ICC_SGI1R_EL1, as QEMU's gicv3_sgi_access)."""
    if hcr & (_HCR_IMO | _HCR_FMO) and name in _SGI_GENERATION:
        return True
    if ich_hcr & HCR_TC and name in _COMMON:
        return True
    if ich_hcr & HCR_TALL0 and name in _GROUP[0]:
        return True
    if ich_hcr & HCR_TALL1 and name in _GROUP[1]:
        return True
    return bool(ich_hcr & HCR_TDIR and write and name == "ICC_DIR_EL1")
