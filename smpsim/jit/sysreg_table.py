"""The system registers, as one declarative table.

Each `SysReg` says where a register lives (its encoding), who may reach it, what it
holds at reset, which CPU feature it needs and what accessing it does. `compile_table`
turns the table into small NumPy arrays that the jit core reads: the decoder maps an
encoding to a table entry once (decode time), and system_registers.py serves the
access from the entry's row.

Kinds (what an access does):
    PLAIN    a value in the core's state; writes keep the bits of `wmask`, then set `res1`
    RO       a value in the state set at reset (ID registers); a write is UNDEFINED
    RAZWI    reads as zero, writes are ignored (features this CPU does not have)
    WO       write-only (a read is UNDEFINED)
    SPECIAL  served by code in system_registers.py (PSTATE fields, banked SPs, the
             timer registers, interrupt status, the GIC's registers, cache and TLB
             maintenance, ...); `special` names the handler

Traps (HCR_EL2 bits that send an EL1 or EL0 access to EL2): `trap_read` and
`trap_write` name the bit. `el0` names the control that lets EL0 in (None: EL0 never
may). With VHE (HCR_EL2.E2H = 1) an access at EL2 to an EL1 register reaches the EL2
register named by `e2h`; a `*_EL12`/`*_EL02` alias (`alias_of`) reaches the EL1/EL0
register from EL2 and is UNDEFINED unless E2H = 1.

Encoding key: op0 << 14 | op1 << 11 | CRn << 7 | CRm << 3 | op2 (the SYSREG record's IMM).
"""

from __future__ import annotations

import dataclasses

import numpy as np

PLAIN, RO, RAZWI, WO, SPECIAL = range(5)
ALL = (1 << 64) - 1

# HCR_EL2 bits (Arm ARM D19.2.48)
HCR = dict(VM=0, SWIO=1, PTW=2, FMO=3, IMO=4, AMO=5, VF=6, VI=7, VSE=8, FB=9, DC=12,
           TWI=13, TWE=14, TID0=15, TID1=16, TID2=17, TID3=18, TSC=19, TIDCP=20, TACR=21,
           TSW=22, TPCP=23, TPU=24, TTLB=25, TVM=26, TGE=27, TDZ=28, HCD=29, TRVM=30, RW=31,
           CD=32, ID=33, E2H=34, TLOR=35, TERR=36, TEA=37, APK=40, API=41)

# the controls that let EL0 reach a register (system_registers.el0_allowed)
EL0_GATES = ("always", "uct", "dze", "uci", "uma", "el0pcten", "el0vcten", "el0pten",
             "el0vten", "el0_counter")

# features a register can depend on (features.py sets one bit per feature in the core)
FEATURES = ("el2", "vhe", "pan", "lse", "pmu", "gicv3")


# the identification registers a topology may set explicitly (Features.overrides)
OVERRIDABLE = frozenset({
    "MPIDR_EL1", "REVIDR_EL1", "AIDR_EL1", "CTR_EL0", "CLIDR_EL1",
    "ID_AA64PFR0_EL1", "ID_AA64PFR1_EL1", "ID_AA64ZFR0_EL1", "ID_AA64DFR0_EL1",
    "ID_AA64DFR1_EL1", "ID_AA64AFR0_EL1", "ID_AA64AFR1_EL1", "ID_AA64ISAR0_EL1",
    "ID_AA64ISAR1_EL1", "ID_AA64ISAR2_EL1", "ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1",
    "ID_AA64MMFR2_EL1"})


def key(op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
    return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2


@dataclasses.dataclass(frozen=True)
class SysReg:
    name: str
    enc: tuple[int, int, int, int, int]
    el: int = 1  # the lowest EL with access (EL0 also needs `el0`)
    kind: int = PLAIN
    reset: int = 0
    wmask: int = ALL
    res1: int = 0
    feature: str | None = None
    trap_read: str | None = None
    trap_write: str | None = None
    el0: str | None = None
    e2h: str | None = None  # the EL2 register an EL2 access reaches when E2H = 1
    alias_of: str | None = None  # *_EL12 / *_EL02: the register it reaches
    special: str | None = None
    storage_of: str | None = None  # shares the value of another register
    arg: int = 0  # an argument for the SPECIAL handler (the timer of a timer register)

    @property
    def key(self) -> int:
        return key(*self.enc)


def _vm(name, enc, **kw):
    """A virtual-memory control register of EL1: trapped by HCR_EL2.TVM/TRVM."""
    return SysReg(name, enc, trap_read="TRVM", trap_write="TVM", **kw)


def _id(name, enc, **kw):
    """An ID register in the group HCR_EL2.TID3 traps."""
    return SysReg(name, enc, kind=RO, trap_read="TID3", **kw)


def _el12(name, enc, of):
    return SysReg(name, enc, el=2, kind=SPECIAL, special="alias", alias_of=of, feature="vhe")


# SCTLR_EL1 reset: RES1 bits of ARMv8.0-8.2 (29:28, 23:22, 20, 11) — Linux writes its own
SCTLR_EL1_RES1 = (1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 20) | (1 << 11)
SCTLR_EL2_RES1 = (1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 18) | (1 << 16) \
    | (1 << 11) | (1 << 5) | (1 << 4)

TABLE: list[SysReg] = [
    # --- identification (ID group 3 is filled in with RAZ entries below) -------------
    SysReg("MIDR_EL1", (3, 0, 0, 0, 0), kind=SPECIAL, special="midr"),
    SysReg("MPIDR_EL1", (3, 0, 0, 0, 5), kind=SPECIAL, special="mpidr"),
    SysReg("REVIDR_EL1", (3, 0, 0, 0, 6), kind=RO, trap_read="TID1"),
    SysReg("AIDR_EL1", (3, 1, 0, 0, 7), kind=RO, trap_read="TID1"),
    _id("ID_AA64PFR0_EL1", (3, 0, 0, 4, 0)),
    _id("ID_AA64PFR1_EL1", (3, 0, 0, 4, 1)),
    _id("ID_AA64ZFR0_EL1", (3, 0, 0, 4, 4)),
    _id("ID_AA64DFR0_EL1", (3, 0, 0, 5, 0)),
    _id("ID_AA64DFR1_EL1", (3, 0, 0, 5, 1)),
    _id("ID_AA64AFR0_EL1", (3, 0, 0, 5, 4)),
    _id("ID_AA64AFR1_EL1", (3, 0, 0, 5, 5)),
    _id("ID_AA64ISAR0_EL1", (3, 0, 0, 6, 0)),
    _id("ID_AA64ISAR1_EL1", (3, 0, 0, 6, 1)),
    _id("ID_AA64ISAR2_EL1", (3, 0, 0, 6, 2)),
    _id("ID_AA64MMFR0_EL1", (3, 0, 0, 7, 0)),
    _id("ID_AA64MMFR1_EL1", (3, 0, 0, 7, 1)),
    _id("ID_AA64MMFR2_EL1", (3, 0, 0, 7, 2)),
    SysReg("CTR_EL0", (3, 3, 0, 0, 1), el=0, kind=RO, trap_read="TID2", el0="uct"),
    SysReg("DCZID_EL0", (3, 3, 0, 0, 7), el=0, kind=SPECIAL, special="dczid", el0="always"),
    SysReg("CLIDR_EL1", (3, 1, 0, 0, 1), kind=RO, trap_read="TID2"),
    SysReg("CCSIDR_EL1", (3, 1, 0, 0, 0), kind=SPECIAL, special="ccsidr", trap_read="TID2"),
    SysReg("CSSELR_EL1", (3, 2, 0, 0, 0), wmask=0xF, trap_read="TID2", trap_write="TID2"),
    SysReg("VPIDR_EL2", (3, 4, 0, 0, 0), el=2, wmask=0xFFFFFFFF, feature="el2"),
    SysReg("VMPIDR_EL2", (3, 4, 0, 0, 5), el=2, feature="el2"),

    # --- system control --------------------------------------------------------------
    _vm("SCTLR_EL1", (3, 0, 1, 0, 0), reset=SCTLR_EL1_RES1 | (1 << 6), e2h="SCTLR_EL2"),
    SysReg("ACTLR_EL1", (3, 0, 1, 0, 1), trap_read="TACR", trap_write="TACR"),
    SysReg("CPACR_EL1", (3, 0, 1, 0, 2), wmask=(3 << 20) | (3 << 16) | (1 << 28),
           e2h="CPTR_EL2"),
    SysReg("SCTLR_EL2", (3, 4, 1, 0, 0), el=2, reset=SCTLR_EL2_RES1, feature="el2"),
    SysReg("ACTLR_EL2", (3, 4, 1, 0, 1), el=2, feature="el2"),
    SysReg("HCR_EL2", (3, 4, 1, 1, 0), el=2, kind=SPECIAL, special="hcr", feature="el2"),
    SysReg("MDCR_EL2", (3, 4, 1, 1, 1), el=2, feature="el2"),
    SysReg("CPTR_EL2", (3, 4, 1, 1, 2), el=2, kind=SPECIAL, special="cptr", feature="el2"),
    SysReg("HSTR_EL2", (3, 4, 1, 1, 3), el=2, wmask=0xFFFF, feature="el2"),
    SysReg("HACR_EL2", (3, 4, 1, 1, 7), el=2, feature="el2"),

    # --- translation controls (their effect comes with the MMU) ------------------------
    _vm("TTBR0_EL1", (3, 0, 2, 0, 0), e2h="TTBR0_EL2"),
    _vm("TTBR1_EL1", (3, 0, 2, 0, 1), e2h="TTBR1_EL2"),
    _vm("TCR_EL1", (3, 0, 2, 0, 2), e2h="TCR_EL2"),
    SysReg("TTBR0_EL2", (3, 4, 2, 0, 0), el=2, feature="el2"),
    SysReg("TTBR1_EL2", (3, 4, 2, 0, 1), el=2, kind=SPECIAL, special="e2h_only",
           feature="vhe"),
    SysReg("TCR_EL2", (3, 4, 2, 0, 2), el=2, feature="el2"),
    SysReg("VTTBR_EL2", (3, 4, 2, 1, 0), el=2, feature="el2"),
    SysReg("VTCR_EL2", (3, 4, 2, 1, 2), el=2, feature="el2"),
    _vm("MAIR_EL1", (3, 0, 10, 2, 0), e2h="MAIR_EL2"),
    _vm("AMAIR_EL1", (3, 0, 10, 3, 0), e2h="AMAIR_EL2"),
    SysReg("MAIR_EL2", (3, 4, 10, 2, 0), el=2, feature="el2"),
    SysReg("AMAIR_EL2", (3, 4, 10, 3, 0), el=2, feature="el2"),
    _vm("CONTEXTIDR_EL1", (3, 0, 13, 0, 1), wmask=0xFFFFFFFF, e2h="CONTEXTIDR_EL2"),
    SysReg("CONTEXTIDR_EL2", (3, 4, 13, 0, 1), el=2, wmask=0xFFFFFFFF, feature="vhe"),
    SysReg("PAR_EL1", (3, 0, 7, 4, 0)),

    # --- exception handling ------------------------------------------------------------
    SysReg("SPSR_EL1", (3, 0, 4, 0, 0), wmask=0xFFFFFFFF, e2h="SPSR_EL2"),
    SysReg("ELR_EL1", (3, 0, 4, 0, 1), e2h="ELR_EL2"),
    SysReg("SPSR_EL2", (3, 4, 4, 0, 0), el=2, wmask=0xFFFFFFFF, feature="el2"),
    SysReg("ELR_EL2", (3, 4, 4, 0, 1), el=2, feature="el2"),
    _vm("ESR_EL1", (3, 0, 5, 2, 0), wmask=0xFFFFFFFF, e2h="ESR_EL2"),
    _vm("AFSR0_EL1", (3, 0, 5, 1, 0), kind=RAZWI, e2h="AFSR0_EL2"),
    _vm("AFSR1_EL1", (3, 0, 5, 1, 1), kind=RAZWI, e2h="AFSR1_EL2"),
    _vm("FAR_EL1", (3, 0, 6, 0, 0), e2h="FAR_EL2"),
    SysReg("ESR_EL2", (3, 4, 5, 2, 0), el=2, wmask=0xFFFFFFFF, feature="el2"),
    SysReg("AFSR0_EL2", (3, 4, 5, 1, 0), el=2, kind=RAZWI, feature="el2"),
    SysReg("AFSR1_EL2", (3, 4, 5, 1, 1), el=2, kind=RAZWI, feature="el2"),
    SysReg("FAR_EL2", (3, 4, 6, 0, 0), el=2, feature="el2"),
    SysReg("HPFAR_EL2", (3, 4, 6, 0, 4), el=2, wmask=0xFFFFFFFFFF0, feature="el2"),
    SysReg("VBAR_EL1", (3, 0, 12, 0, 0), wmask=ALL & ~0x7FF, e2h="VBAR_EL2"),
    SysReg("VBAR_EL2", (3, 4, 12, 0, 0), el=2, wmask=ALL & ~0x7FF, feature="el2"),
    SysReg("ISR_EL1", (3, 0, 12, 1, 0), kind=SPECIAL, special="isr"),

    # --- PSTATE and stack pointers -----------------------------------------------------
    SysReg("NZCV", (3, 3, 4, 2, 0), el=0, kind=SPECIAL, special="nzcv", el0="always"),
    SysReg("DAIF", (3, 3, 4, 2, 1), el=0, kind=SPECIAL, special="daif", el0="uma"),
    SysReg("CurrentEL", (3, 0, 4, 2, 2), kind=SPECIAL, special="currentel"),
    SysReg("SPSel", (3, 0, 4, 2, 0), kind=SPECIAL, special="spsel"),
    SysReg("PAN", (3, 0, 4, 2, 3), kind=SPECIAL, special="pan", feature="pan"),
    SysReg("SP_EL0", (3, 0, 4, 1, 0), kind=SPECIAL, special="sp_el0"),
    SysReg("SP_EL1", (3, 4, 4, 1, 0), el=2, kind=SPECIAL, special="sp_el1", feature="el2"),
    SysReg("FPCR", (3, 3, 4, 4, 0), el=0, wmask=0x07FF9F00, el0="always"),
    SysReg("FPSR", (3, 3, 4, 4, 1), el=0, wmask=0xF800009F, el0="always"),

    # --- thread IDs ----------------------------------------------------------------------
    SysReg("TPIDR_EL0", (3, 3, 13, 0, 2), el=0, el0="always"),
    SysReg("TPIDRRO_EL0", (3, 3, 13, 0, 3), el=0, kind=SPECIAL, special="tpidrro",
           el0="always"),
    SysReg("TPIDR_EL1", (3, 0, 13, 0, 4)),
    SysReg("TPIDR_EL2", (3, 4, 13, 0, 2), el=2, feature="el2"),

    # --- VHE aliases: from EL2 with E2H = 1, the real EL1/EL0 registers ------------------
    _el12("SCTLR_EL12", (3, 5, 1, 0, 0), "SCTLR_EL1"),
    _el12("CPACR_EL12", (3, 5, 1, 0, 2), "CPACR_EL1"),
    _el12("TTBR0_EL12", (3, 5, 2, 0, 0), "TTBR0_EL1"),
    _el12("TTBR1_EL12", (3, 5, 2, 0, 1), "TTBR1_EL1"),
    _el12("TCR_EL12", (3, 5, 2, 0, 2), "TCR_EL1"),
    _el12("SPSR_EL12", (3, 5, 4, 0, 0), "SPSR_EL1"),
    _el12("ELR_EL12", (3, 5, 4, 0, 1), "ELR_EL1"),
    _el12("AFSR0_EL12", (3, 5, 5, 1, 0), "AFSR0_EL1"),
    _el12("AFSR1_EL12", (3, 5, 5, 1, 1), "AFSR1_EL1"),
    _el12("ESR_EL12", (3, 5, 5, 2, 0), "ESR_EL1"),
    _el12("FAR_EL12", (3, 5, 6, 0, 0), "FAR_EL1"),
    _el12("MAIR_EL12", (3, 5, 10, 2, 0), "MAIR_EL1"),
    _el12("AMAIR_EL12", (3, 5, 10, 3, 0), "AMAIR_EL1"),
    _el12("VBAR_EL12", (3, 5, 12, 0, 0), "VBAR_EL1"),
    _el12("CONTEXTIDR_EL12", (3, 5, 13, 0, 1), "CONTEXTIDR_EL1"),

    # --- debug: stored, without debug exceptions (Linux resets them at boot) --------------
    SysReg("MDSCR_EL1", (2, 0, 0, 2, 2), wmask=0xE000F0FF & ~(1 << 6)),
    SysReg("MDCCINT_EL1", (2, 0, 0, 2, 0), wmask=(1 << 29) | (1 << 30)),
    SysReg("OSLAR_EL1", (2, 0, 1, 0, 4), kind=SPECIAL, special="oslar"),
    SysReg("OSLSR_EL1", (2, 0, 1, 1, 4), kind=SPECIAL, special="oslsr"),
    SysReg("OSDLR_EL1", (2, 0, 1, 3, 4), wmask=1),
    SysReg("DBGPRCR_EL1", (2, 0, 1, 4, 4), wmask=1),
    SysReg("MDRAR_EL1", (2, 0, 1, 0, 0), kind=RO),
    SysReg("DBGCLAIMSET_EL1", (2, 0, 7, 8, 6), kind=RAZWI),
    SysReg("DBGCLAIMCLR_EL1", (2, 0, 7, 9, 6), kind=RAZWI),
    SysReg("DBGAUTHSTATUS_EL1", (2, 0, 7, 14, 6), kind=RO),
    SysReg("MDCCSR_EL0", (2, 3, 0, 1, 0), el=0, kind=RO, el0="always"),
    SysReg("OSECCR_EL1", (2, 0, 0, 6, 2), wmask=0xFFFFFFFF),
]

# 6 breakpoints and 4 watchpoints, as QEMU's max CPU (ID_AA64DFR0: BRPs=5, WRPs=3)
N_BREAKPOINTS, N_WATCHPOINTS = 6, 4
for _n in range(N_BREAKPOINTS):
    TABLE += [SysReg(f"DBGBVR{_n}_EL1", (2, 0, 0, _n, 4)),
              SysReg(f"DBGBCR{_n}_EL1", (2, 0, 0, _n, 5), wmask=0x00F0_01E7)]
for _n in range(N_WATCHPOINTS):
    TABLE += [SysReg(f"DBGWVR{_n}_EL1", (2, 0, 0, _n, 6)),
              SysReg(f"DBGWCR{_n}_EL1", (2, 0, 0, _n, 7), wmask=0x1F00_1FFF)]

# --- performance monitors: RAZ/WI here (no PMU; ID_AA64DFR0.PMUVer = 0) --------------
_PMU = [("PMCR_EL0", (3, 3, 9, 12, 0)), ("PMCNTENSET_EL0", (3, 3, 9, 12, 1)),
        ("PMCNTENCLR_EL0", (3, 3, 9, 12, 2)), ("PMOVSCLR_EL0", (3, 3, 9, 12, 3)),
        ("PMSWINC_EL0", (3, 3, 9, 12, 4)), ("PMSELR_EL0", (3, 3, 9, 12, 5)),
        ("PMCEID0_EL0", (3, 3, 9, 12, 6)), ("PMCEID1_EL0", (3, 3, 9, 12, 7)),
        ("PMCCNTR_EL0", (3, 3, 9, 13, 0)), ("PMXEVTYPER_EL0", (3, 3, 9, 13, 1)),
        ("PMXEVCNTR_EL0", (3, 3, 9, 13, 2)), ("PMUSERENR_EL0", (3, 3, 9, 14, 0)),
        ("PMINTENSET_EL1", (3, 0, 9, 14, 1)), ("PMINTENCLR_EL1", (3, 0, 9, 14, 2)),
        ("PMOVSSET_EL0", (3, 3, 9, 14, 3)), ("PMCCFILTR_EL0", (3, 3, 14, 15, 7))]
TABLE += [SysReg(name, enc, kind=RAZWI) for name, enc in _PMU]

# --- the GIC CPU interface: served by the CPU process (exits.SYSREG), but ICC_SRE_ELx -----
_ICC_EL1 = [("ICC_PMR_EL1", (3, 0, 4, 6, 0)), ("ICC_IAR0_EL1", (3, 0, 12, 8, 0)),
            ("ICC_EOIR0_EL1", (3, 0, 12, 8, 1)), ("ICC_HPPIR0_EL1", (3, 0, 12, 8, 2)),
            ("ICC_BPR0_EL1", (3, 0, 12, 8, 3)), ("ICC_DIR_EL1", (3, 0, 12, 11, 1)),
            ("ICC_RPR_EL1", (3, 0, 12, 11, 3)), ("ICC_SGI1R_EL1", (3, 0, 12, 11, 5)),
            ("ICC_ASGI1R_EL1", (3, 0, 12, 11, 6)), ("ICC_SGI0R_EL1", (3, 0, 12, 11, 7)),
            ("ICC_IAR1_EL1", (3, 0, 12, 12, 0)), ("ICC_EOIR1_EL1", (3, 0, 12, 12, 1)),
            ("ICC_HPPIR1_EL1", (3, 0, 12, 12, 2)), ("ICC_BPR1_EL1", (3, 0, 12, 12, 3)),
            ("ICC_CTLR_EL1", (3, 0, 12, 12, 4)), ("ICC_IGRPEN0_EL1", (3, 0, 12, 12, 6)),
            ("ICC_IGRPEN1_EL1", (3, 0, 12, 12, 7))]
_ICC_EL1 += [(f"ICC_AP0R{n}_EL1", (3, 0, 12, 8, 4 + n)) for n in range(4)]
_ICC_EL1 += [(f"ICC_AP1R{n}_EL1", (3, 0, 12, 9, n)) for n in range(4)]
TABLE += [SysReg(name, enc, kind=SPECIAL, special="icc", feature="gicv3")
          for name, enc in _ICC_EL1]
TABLE += [SysReg("ICC_SRE_EL1", (3, 0, 12, 12, 5), kind=SPECIAL, special="icc_sre",
                 feature="gicv3"),
          SysReg("ICC_SRE_EL2", (3, 4, 12, 9, 5), el=2, kind=SPECIAL, special="icc_sre",
                 feature="gicv3")]
_ICH = [("ICH_HCR_EL2", (3, 4, 12, 11, 0)), ("ICH_VTR_EL2", (3, 4, 12, 11, 1)),
        ("ICH_MISR_EL2", (3, 4, 12, 11, 2)), ("ICH_EISR_EL2", (3, 4, 12, 11, 3)),
        ("ICH_ELRSR_EL2", (3, 4, 12, 11, 5)), ("ICH_VMCR_EL2", (3, 4, 12, 11, 7))]
_ICH += [(f"ICH_AP0R{n}_EL2", (3, 4, 12, 8, n)) for n in range(4)]
_ICH += [(f"ICH_AP1R{n}_EL2", (3, 4, 12, 9, n)) for n in range(4)]
_ICH += [(f"ICH_LR{n}_EL2", (3, 4, 12, 12 + n // 8, n % 8)) for n in range(16)]
TABLE += [SysReg(name, enc, el=2, kind=SPECIAL, special="icc", feature="gicv3")
          for name, enc in _ICH]

# --- the generic timer (timers.py): counters, and four timers, each with TVAL/CTL/CVAL ----
# timer index: 0 EL1 physical, 1 EL1 virtual, 2 EL2 physical, 3 EL2 virtual (VHE)
TIMER_EL1_PHYS, TIMER_EL1_VIRT, TIMER_EL2_PHYS, TIMER_EL2_VIRT = range(4)
TABLE += [
    SysReg("CNTFRQ_EL0", (3, 3, 14, 0, 0), el=0, kind=SPECIAL, special="cntfrq",
           el0="el0_counter", reset=62_500_000),
    SysReg("CNTPCT_EL0", (3, 3, 14, 0, 1), el=0, kind=SPECIAL, special="cntpct",
           el0="el0pcten"),
    SysReg("CNTVCT_EL0", (3, 3, 14, 0, 2), el=0, kind=SPECIAL, special="cntvct",
           el0="el0vcten"),
    SysReg("CNTVOFF_EL2", (3, 4, 14, 0, 3), el=2, feature="el2"),
    SysReg("CNTKCTL_EL1", (3, 0, 14, 1, 0), wmask=0x3FF, e2h="CNTHCTL_EL2"),
    _el12("CNTKCTL_EL12", (3, 5, 14, 1, 0), "CNTKCTL_EL1"),
    SysReg("CNTHCTL_EL2", (3, 4, 14, 1, 0), el=2, wmask=0xFFF, feature="el2", reset=0x3),
]
for _field, _op2 in (("TVAL", 0), ("CTL", 1), ("CVAL", 2)):
    TABLE += [
        SysReg(f"CNTP_{_field}_EL0", (3, 3, 14, 2, _op2), el=0, kind=SPECIAL, special="timer",
               el0="el0pten", arg=TIMER_EL1_PHYS),
        SysReg(f"CNTV_{_field}_EL0", (3, 3, 14, 3, _op2), el=0, kind=SPECIAL, special="timer",
               el0="el0vten", arg=TIMER_EL1_VIRT),
        SysReg(f"CNTHP_{_field}_EL2", (3, 4, 14, 2, _op2), el=2, kind=SPECIAL,
               special="timer", feature="el2", arg=TIMER_EL2_PHYS),
        SysReg(f"CNTHV_{_field}_EL2", (3, 4, 14, 3, _op2), el=2, kind=SPECIAL,
               special="timer", feature="vhe", arg=TIMER_EL2_VIRT),
        SysReg(f"CNTP_{_field}_EL02", (3, 5, 14, 2, _op2), el=2, kind=SPECIAL,
               special="timer02", feature="vhe", arg=TIMER_EL1_PHYS),
        SysReg(f"CNTV_{_field}_EL02", (3, 5, 14, 3, _op2), el=2, kind=SPECIAL,
               special="timer02", feature="vhe", arg=TIMER_EL1_VIRT),
    ]

# --- cache and TLB maintenance, address translation (SYS instructions, op0 = 1) -----------
# Memory is coherent, so the data-cache operations are no-ops; instruction-cache
# invalidation flushes decoded instructions; DC ZVA zeroes; TLBI drops translations;
# AT translates into PAR_EL1.
def _sys(name, enc, special, el=1, trap=None, el0=None):
    return SysReg(name, enc, el=el, kind=SPECIAL, special=special, trap_write=trap, el0=el0)


TABLE += [
    _sys("AT_S1E1R", (1, 0, 7, 8, 0), "at"), _sys("AT_S1E1W", (1, 0, 7, 8, 1), "at"),
    _sys("AT_S1E0R", (1, 0, 7, 8, 2), "at"), _sys("AT_S1E0W", (1, 0, 7, 8, 3), "at"),
    SysReg("AT_S1E2R", (1, 4, 7, 8, 0), el=2, kind=SPECIAL, special="at", feature="el2"),
    SysReg("AT_S1E2W", (1, 4, 7, 8, 1), el=2, kind=SPECIAL, special="at", feature="el2"),
    SysReg("AT_S12E1R", (1, 4, 7, 8, 4), el=2, kind=SPECIAL, special="at", feature="el2"),
    SysReg("AT_S12E1W", (1, 4, 7, 8, 5), el=2, kind=SPECIAL, special="at", feature="el2"),
    SysReg("AT_S12E0R", (1, 4, 7, 8, 6), el=2, kind=SPECIAL, special="at", feature="el2"),
    SysReg("AT_S12E0W", (1, 4, 7, 8, 7), el=2, kind=SPECIAL, special="at", feature="el2"),
    _sys("IC_IALLUIS", (1, 0, 7, 1, 0), "ic_flush", trap="TPU"),
    _sys("IC_IALLU", (1, 0, 7, 5, 0), "ic_flush", trap="TPU"),
    _sys("IC_IVAU", (1, 3, 7, 5, 1), "ic_flush", el=0, trap="TPU", el0="uci"),
    _sys("DC_IVAC", (1, 0, 7, 6, 1), "cache_nop", trap="TPCP"),
    _sys("DC_ISW", (1, 0, 7, 6, 2), "cache_nop", trap="TSW"),
    _sys("DC_CSW", (1, 0, 7, 10, 2), "cache_nop", trap="TSW"),
    _sys("DC_CISW", (1, 0, 7, 14, 2), "cache_nop", trap="TSW"),
    _sys("DC_ZVA", (1, 3, 7, 4, 1), "dc_zva", el=0, trap="TDZ", el0="dze"),
    _sys("DC_CVAC", (1, 3, 7, 10, 1), "cache_nop", el=0, trap="TPCP", el0="uci"),
    _sys("DC_CVAU", (1, 3, 7, 11, 1), "cache_nop", el=0, trap="TPU", el0="uci"),
    _sys("DC_CVAP", (1, 3, 7, 12, 1), "cache_nop", el=0, trap="TPCP", el0="uci"),
    _sys("DC_CIVAC", (1, 3, 7, 14, 1), "cache_nop", el=0, trap="TPCP", el0="uci"),
]
# TLB maintenance of the EL1&0 regime (trapped by HCR_EL2.TTLB) and of EL2
_TLBI_EL1 = [("VMALLE1IS", 3, 0), ("VAE1IS", 3, 1), ("ASIDE1IS", 3, 2), ("VAAE1IS", 3, 3),
             ("VALE1IS", 3, 5), ("VAALE1IS", 3, 7), ("VMALLE1", 7, 0), ("VAE1", 7, 1),
             ("ASIDE1", 7, 2), ("VAAE1", 7, 3), ("VALE1", 7, 5), ("VAALE1", 7, 7)]
_TLBI_EL2 = [("IPAS2E1IS", 0, 1), ("IPAS2LE1IS", 0, 5), ("ALLE2IS", 3, 0), ("VAE2IS", 3, 1),
             ("ALLE1IS", 3, 4), ("VALE2IS", 3, 5), ("VMALLS12E1IS", 3, 6), ("IPAS2E1", 4, 1),
             ("IPAS2LE1", 4, 5), ("ALLE2", 7, 0), ("VAE2", 7, 1), ("ALLE1", 7, 4),
             ("VALE2", 7, 5), ("VMALLS12E1", 7, 6)]
TABLE += [_sys(f"TLBI_{n}", (1, 0, 8, crm, op2), "tlbi", trap="TTLB") for n, crm, op2 in _TLBI_EL1]
TABLE += [SysReg(f"TLBI_{n}", (1, 4, 8, crm, op2), el=2, kind=SPECIAL, special="tlbi",
                 feature="el2") for n, crm, op2 in _TLBI_EL2]

# --- ID group 3: the allocated registers above, every other encoding reads as zero ---
_taken = {r.enc for r in TABLE}
TABLE += [_id(f"ID_RAZ_{crm}_{op2}", (3, 0, 0, crm, op2), reset=0)
          for crm in range(1, 8) for op2 in range(8) if (3, 0, 0, crm, op2) not in _taken]


# --- the arrays the jit core reads ------------------------------------------------------
# columns of INFO
(I_KEY, I_STORAGE, I_EL, I_KIND, I_TRAP_R, I_TRAP_W, I_EL0, I_E2H, I_ALIAS, I_FEATURE,
 I_SPECIAL, I_ARG) = range(12)
INFO_COLUMNS = 12
NO_ENTRY = -1
NO_BIT = -1

SPECIALS = ("alias", "midr", "mpidr", "ccsidr", "hcr", "cptr", "e2h_only", "isr", "nzcv",
            "daif", "currentel", "spsel", "pan", "sp_el0", "sp_el1", "tpidrro", "oslar",
            "oslsr", "icc", "icc_sre", "ic_flush", "cache_nop", "dc_zva", "tlbi", "cntfrq",
            "cntpct", "cntvct", "timer", "timer02", "dczid", "at")


@dataclasses.dataclass(frozen=True)
class CompiledTable:
    keys: np.ndarray  # int64[n], sorted
    info: np.ndarray  # int64[n, INFO_COLUMNS]
    wmask: np.ndarray  # uint64[n]
    res1: np.ndarray  # uint64[n]
    storage: dict[str, int]  # register name -> its value's index in the storage block
    entry: dict[str, int]  # register name -> row of the arrays
    reset: dict[str, int]  # register name -> reset value (features.py adds the ID values)


def compile_table(table: list[SysReg] = TABLE) -> CompiledTable:
    by_name = {r.name: r for r in table}
    if len(by_name) != len(table):
        raise ValueError("duplicate register names in the system register table")
    ordered = sorted(table, key=lambda r: r.key)
    keys = [r.key for r in ordered]
    if len(set(keys)) != len(keys):
        raise ValueError("two system registers share an encoding")
    entry = {r.name: i for i, r in enumerate(ordered)}
    storage: dict[str, int] = {}
    for r in ordered:  # every register with a value gets a word; aliases share it
        if r.alias_of is None and r.storage_of is None and r.kind != RAZWI:
            storage[r.name] = len(storage)
    for r in ordered:
        if r.storage_of is not None:
            storage[r.name] = storage[r.storage_of]
    info = np.full((len(ordered), INFO_COLUMNS), NO_ENTRY, dtype=np.int64)
    wmask = np.zeros(len(ordered), dtype=np.uint64)
    res1 = np.zeros(len(ordered), dtype=np.uint64)
    for i, r in enumerate(ordered):
        for ref in (r.e2h, r.alias_of, r.storage_of):
            if ref is not None and ref not in by_name:
                raise ValueError(f"{r.name} refers to {ref}, which is not in the table")
        info[i, I_KEY] = r.key
        info[i, I_STORAGE] = storage.get(r.alias_of or r.name, NO_ENTRY)
        info[i, I_EL] = r.el
        info[i, I_KIND] = r.kind
        info[i, I_TRAP_R] = HCR[r.trap_read] if r.trap_read else NO_BIT
        info[i, I_TRAP_W] = HCR[r.trap_write] if r.trap_write else NO_BIT
        info[i, I_EL0] = EL0_GATES.index(r.el0) if r.el0 else NO_ENTRY
        info[i, I_E2H] = entry[r.e2h] if r.e2h else NO_ENTRY
        info[i, I_ALIAS] = entry[r.alias_of] if r.alias_of else NO_ENTRY
        info[i, I_FEATURE] = FEATURES.index(r.feature) if r.feature else NO_ENTRY
        info[i, I_SPECIAL] = SPECIALS.index(r.special) if r.special else NO_ENTRY
        info[i, I_ARG] = r.arg
        wmask[i] = r.wmask
        res1[i] = r.res1
    reset = {r.name: r.reset for r in ordered if r.name in storage and r.storage_of is None}
    return CompiledTable(np.array(keys, dtype=np.int64), info, wmask, res1, storage, entry,
                         reset)


COMPILED = compile_table()
KEYS = COMPILED.keys
INFO = COMPILED.info
WMASK = COMPILED.wmask
RES1 = COMPILED.res1
STORAGE_WORDS = len(COMPILED.storage)


def storage_index(name: str) -> int:
    return COMPILED.storage[name]


def entry_index(name: str) -> int:
    return COMPILED.entry[name]


def special_id(name: str) -> int:
    return SPECIALS.index(name)
