"""PSCI 1.1 / SMCCC 1.1 as the platform's firmware (smpsim/bootctl/psci.py)."""

import pytest

from smpsim.bootctl import psci as p

M = (1 << 64) - 1
CPUS = {0x0: "on", 0x1: "off", 0x100: "on_pending", 0x101: "on"}


def ret(code):
    return code & M


@pytest.mark.parametrize("x0, x1, x2, x3, want", [
    (p.PSCI_VERSION, 0, 0, 0, p.Call(0x10001)),
    (p.SMCCC_VERSION, 0, 0, 0, p.Call(0x10001)),
    (p.SMCCC_ARCH_FEATURES, p.SMCCC_VERSION, 0, 0, p.Call(0)),
    (p.SMCCC_ARCH_FEATURES, 0x8000_8000, 0, 0, p.Call(ret(p.NOT_SUPPORTED))),  # WORKAROUND_1
    (p.PSCI_FEATURES, p.CPU_ON[1], 0, 0, p.Call(0)),
    (p.PSCI_FEATURES, p.SMCCC_VERSION, 0, 0, p.Call(0)),
    (p.PSCI_FEATURES, 0x8400_0011, 0, 0, p.Call(ret(p.NOT_SUPPORTED))),
    (p.MIGRATE_INFO_TYPE, 0, 0, 0, p.Call(2)),
    (p.CPU_ON[1], 0x1, 0x4000_1000, 0x77, p.Call(0, "cpu_on", 0x1, 0x4000_1000, 0x77)),
    (p.CPU_ON[0], 0xFFFF_FFFF_0000_0001, 0xFFFF_FFFF_4000_1000, 0, p.Call(0, "cpu_on", 0x1, 0x4000_1000, 0)),
    (p.CPU_ON[1], 0x0, 0x4000_1000, 0, p.Call(ret(p.ALREADY_ON))),
    (p.CPU_ON[1], 0x100, 0x4000_1000, 0, p.Call(ret(p.ON_PENDING))),
    (p.CPU_ON[1], 0x2, 0x4000_1000, 0, p.Call(ret(p.INVALID_PARAMETERS))),
    (p.AFFINITY_INFO[1], 0x1, 0, 0, p.Call(1)),
    (p.AFFINITY_INFO[1], 0x0, 0, 0, p.Call(0)),
    (p.AFFINITY_INFO[1], 0x100, 0, 0, p.Call(2)),
    (p.AFFINITY_INFO[1], 0x0, 1, 0, p.Call(ret(p.INVALID_PARAMETERS))),
    (p.CPU_OFF, 0, 0, 0, p.Call(0, "cpu_off")),
    (p.CPU_SUSPEND[1], 0, 0x4000_2000, 0, p.Call(0, "standby")),
    (p.SYSTEM_OFF, 0, 0, 0, p.Call(0, "system_off")),
    (p.SYSTEM_RESET, 0, 0, 0, p.Call(0, "system_reset")),
    (0xC400_0055, 0, 0, 0, p.Call(ret(p.NOT_SUPPORTED))),
])
def test_calls(x0, x1, x2, x3, want):
    assert p.serve(x0, x1, x2, x3, CPUS) == want


def test_the_last_cpu_on_is_not_switched_off():
    assert p.serve(p.CPU_OFF, 0, 0, 0, {0x0: "on", 0x1: "off"}) == p.Call(ret(p.DENIED))
