"""PSCI 1.1 firmware (Arm DEN 0022), emulated by the platform as QEMU does: a guest's
SMC (or HVC, when the CPUs start at EL1) with a PSCI function ID in w0 leaves the core
as an exit, and the platform answers in x0.

This module decides what a call means; it knows nothing of processes. The caller
carries out the `action` (power a CPU on or off, end the run).
"""

from __future__ import annotations

import dataclasses

# return codes
SUCCESS = 0
NOT_SUPPORTED = -1
INVALID_PARAMETERS = -2
DENIED = -3
ALREADY_ON = -4
ON_PENDING = -5
INTERNAL_FAILURE = -6

# function IDs (SMC32 / SMC64 where both exist)
PSCI_VERSION = 0x8400_0000
CPU_SUSPEND = (0x8400_0001, 0xC400_0001)
CPU_OFF = 0x8400_0002
CPU_ON = (0x8400_0003, 0xC400_0003)
AFFINITY_INFO = (0x8400_0004, 0xC400_0004)
MIGRATE_INFO_TYPE = 0x8400_0006
SYSTEM_OFF = 0x8400_0008
SYSTEM_RESET = 0x8400_0009
PSCI_FEATURES = 0x8400_000A
SMCCC_VERSION = 0x8000_0000
SMCCC_ARCH_FEATURES = 0x8000_0001
SMCCC_1_1 = 0x0001_0001

VERSION_1_1 = 0x0001_0001
MIGRATE_NOT_REQUIRED = 2  # MIGRATE_INFO_TYPE: no Trusted OS to migrate
AFFINITY_ON, AFFINITY_OFF, AFFINITY_ON_PENDING = 0, 1, 2

_SUPPORTED = {PSCI_VERSION, CPU_OFF, MIGRATE_INFO_TYPE, SYSTEM_OFF, SYSTEM_RESET,
              PSCI_FEATURES, SMCCC_VERSION, *CPU_ON, *AFFINITY_INFO, *CPU_SUSPEND}
# SMCCC 1.1 (SMCCC_VERSION, SMCCC_ARCH_FEATURES) as the issue asks; QEMU 7 answers
# NOT_SUPPORTED there, so Linux prints "SMC Calling Convention v1.1" here and "v1.0"
# on QEMU. No Spectre workaround is needed in a simulator: ARCH_FEATURES of
# ARCH_WORKAROUND_1/2/3 answers NOT_SUPPORTED (-1), "not required" to Linux.


@dataclasses.dataclass(frozen=True)
class Call:
    """What the caller must do: return `x0` to the guest, and carry out `action`:
    None, "cpu_on" (target MPIDR, entry, context id), "cpu_off", "standby" (wait as
    WFI does, then return x0), "system_off" or "system_reset"."""
    x0: int
    action: str | None = None  # None, "cpu_on", "cpu_off", "standby", "system_off",
                               # "system_reset"
    target: int = 0
    entry: int = 0
    context: int = 0


def _ret(code: int) -> Call:
    return Call(code & (1 << 64) - 1)


def serve(x0: int, x1: int, x2: int, x3: int, cpu_states: dict[int, str]) -> Call:
    """One call with the guest's x0..x3. `cpu_states` maps each CPU's MPIDR affinity
    (Aff3..Aff0 as in MPIDR, without bit 31) to "on", "off" or "on_pending"."""
    fid = x0 & 0xFFFF_FFFF
    if fid == PSCI_VERSION:
        return _ret(VERSION_1_1)
    if fid == PSCI_FEATURES:
        return _ret(SUCCESS if (x1 & 0xFFFF_FFFF) in _SUPPORTED else NOT_SUPPORTED)
    if fid == SMCCC_VERSION:
        return _ret(SMCCC_1_1)
    if fid == SMCCC_ARCH_FEATURES:
        return _ret(SUCCESS if (x1 & 0xFFFF_FFFF) == SMCCC_VERSION else NOT_SUPPORTED)
    if fid in CPU_SUSPEND:
        # power_state bit 16 (StateType, original format): 0 standby, 1 power down. A
        # power-down request is also served as standby: the CPU keeps its state, which
        # PSCI allows (the call may return as if from standby)
        return Call(SUCCESS, "standby")
    if fid == MIGRATE_INFO_TYPE:
        return _ret(MIGRATE_NOT_REQUIRED)
    if fid == SYSTEM_OFF:
        return Call(0, "system_off")
    if fid == SYSTEM_RESET:
        return Call(0, "system_reset")
    if fid == CPU_OFF:
        if sum(1 for s in cpu_states.values() if s != "off") <= 1:
            return _ret(DENIED)  # the last CPU running does not go off
        return Call(0, "cpu_off")
    if fid in CPU_ON:
        target = x1 if fid == CPU_ON[1] else x1 & 0xFFFF_FFFF
        target &= 0xFF_00FF_FFFF
        state = cpu_states.get(target)
        if state is None:
            return _ret(INVALID_PARAMETERS)
        if state == "on":
            return _ret(ALREADY_ON)
        if state == "on_pending":
            return _ret(ON_PENDING)
        if fid == CPU_ON[0]:
            x2 &= 0xFFFF_FFFF
            x3 &= 0xFFFF_FFFF
        return Call(SUCCESS, "cpu_on", target, x2, x3)
    if fid in AFFINITY_INFO:
        if x2 != 0:  # lowest affinity level: only level 0 (one CPU) is answered
            return _ret(INVALID_PARAMETERS)
        target = (x1 if fid == AFFINITY_INFO[1] else x1 & 0xFFFF_FFFF) & 0xFF_00FF_FFFF
        state = cpu_states.get(target)
        if state is None:
            return _ret(INVALID_PARAMETERS)
        return _ret({"on": AFFINITY_ON, "off": AFFINITY_OFF,
                     "on_pending": AFFINITY_ON_PENDING}[state])
    return _ret(NOT_SUPPORTED)  # anything else
