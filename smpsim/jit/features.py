"""What one CPU implements, and the identification registers that say so.

Each CPU of a topology has its own `Features`; two cores with different features run
side by side. `reset_state` writes a core's reset values: the ID registers derived
from the features (explicit overrides last), PSTATE at the highest implemented EL,
and every system register at its table reset value.

The ID values describe only what the core really implements: no FP/Advanced SIMD yet
(ID_AA64PFR0.FP/AdvSIMD = 0xF), no PMU (PMUVer = 0; its registers are RAZ/WI),
debug registers stored but without debug exceptions.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from smpsim.jit import sysreg_table
from smpsim.jit.sysreg_table import OVERRIDABLE
from smpsim.jit.exceptions import refresh_sp_alignment
from smpsim.jit.state import (CUR_EL, DAIF_BITS, FEATURE_BITS, MIDR, MPIDR, OS_LOCK, SPSEL,
                              SYSREG_BASE)

PA_RANGES = {32: 0, 36: 1, 40: 2, 42: 3, 44: 4, 48: 5, 52: 6}

# QEMU's max CPU reports implementer 0 ("reserved for software use"), as we do: no
# kernel applies a real part's errata to it
DEFAULT_MIDR = 0x000F_0510


@dataclasses.dataclass(frozen=True)
class Features:
    el2: bool = True
    vhe: bool = True
    lse: bool = True
    pan: bool = True
    gicv3: bool = True
    vmid_bits: int = 16  # 8 or 16
    pa_bits: int = 48
    midr: int = DEFAULT_MIDR
    mpidr_aff: int = 0  # Aff3 << 32 | Aff2 << 16 | Aff1 << 8 | Aff0
    overrides: tuple[tuple[str, int], ...] = ()  # (register name, value) set last

    def __post_init__(self):
        if self.vhe and not self.el2:
            raise ValueError("vhe needs el2")
        if self.vmid_bits not in (8, 16):
            raise ValueError("vmid_bits must be 8 or 16")
        if self.pa_bits not in PA_RANGES:
            raise ValueError(f"pa_bits must be one of {sorted(PA_RANGES)}")
        for name, _ in self.overrides:
            if name not in OVERRIDABLE and name != "MIDR_EL1":
                raise ValueError(f"override of {name}: not an identification register "
                                 "that can be set")

    @classmethod
    def from_dict(cls, values: dict) -> "Features":
        """From topology.Cpu.core_features() (overrides as [name, value] pairs)."""
        return cls(**{**values, "overrides": tuple(map(tuple, values.get("overrides", ())))})

    def bits(self) -> int:
        on = {"el2": self.el2, "vhe": self.vhe, "pan": self.pan, "lse": self.lse,
              "pmu": False, "gicv3": self.gicv3}
        return sum(1 << i for i, f in enumerate(sysreg_table.FEATURES) if on[f])

    def id_registers(self) -> dict[str, int]:
        f = self
        # CSV2 and CSV3: nothing is executed speculatively here, so no branch predictor
        # or faulting load leaks across contexts (a kernel then needs no KPTI and no
        # Spectre-v2 firmware call)
        pfr0 = (1 << 0) | (1 << 4) | ((1 if f.el2 else 0) << 8) | (0xF << 16) | (0xF << 20) \
            | ((1 if f.gicv3 else 0) << 24) | (1 << 56) | (1 << 60)
        isar0 = (1 << 16) | ((2 if f.lse else 0) << 20)  # CRC32; LSE atomics
        isar1 = 1 | (1 << 36)  # DC CVAP (DPB = 1; no DC CVADP); SB
        mmfr0 = PA_RANGES[f.pa_bits] | (2 << 4) | (0xF << 24)  # 16-bit ASIDs; 4K, no 64K
        mmfr1 = ((2 if f.vmid_bits == 16 else 0) << 4) | ((1 if f.vhe else 0) << 8) \
            | ((1 if f.pan else 0) << 20)
        dfr0 = 6 | ((sysreg_table.N_BREAKPOINTS - 1) << 12) \
            | ((sysreg_table.N_WATCHPOINTS - 1) << 20) | (1 << 28)
        ctr = (1 << 31) | (1 << 28) | (4 << 24) | (4 << 20) | (4 << 16) | (3 << 14) | 4
        return {
            "ID_AA64PFR0_EL1": pfr0, "ID_AA64ISAR0_EL1": isar0, "ID_AA64ISAR1_EL1": isar1, "ID_AA64MMFR0_EL1": mmfr0,
            "ID_AA64MMFR1_EL1": mmfr1, "ID_AA64DFR0_EL1": dfr0, "CTR_EL0": ctr,
            "DCZID_EL0": 4,  # DC ZVA zeroes 2^4 words: 64 bytes
            "CLIDR_EL1": 0,  # no caches to maintain: memory is coherent
        }


def reset_state(cpu: np.ndarray, features: Features) -> None:
    """Put a core's system state at reset (cpu is state.new_cpu's array)."""
    table = sysreg_table.COMPILED
    for name, value in table.reset.items():
        cpu[SYSREG_BASE + table.storage[name]] = value
    values = features.id_registers()
    if features.el2:
        values["HCR_EL2"] = 1 << sysreg_table.HCR["RW"]  # RAO: EL1 is AArch64 only
    midr, mpidr = features.midr, (1 << 31) | features.mpidr_aff
    for name, value in features.overrides:
        if name == "MIDR_EL1":
            midr = value
        elif name == "MPIDR_EL1":
            mpidr = value
        else:
            values[name] = value
    if features.el2:  # what EL1 reads as MIDR/MPIDR until EL2 says otherwise (as QEMU)
        values.setdefault("VPIDR_EL2", midr)
        values.setdefault("VMPIDR_EL2", mpidr)
    for name, value in values.items():
        cpu[SYSREG_BASE + table.storage[name]] = value
    cpu[MIDR] = midr
    cpu[MPIDR] = mpidr
    cpu[FEATURE_BITS] = features.bits()
    cpu[CUR_EL] = 2 if features.el2 else 1
    cpu[SPSEL] = 1
    cpu[DAIF_BITS] = 0xF << 6
    cpu[OS_LOCK] = 1  # the OS lock is set at a cold reset
    refresh_sp_alignment(cpu)
