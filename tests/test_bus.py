"""The MMIO bus: QEMU virt's map, routing, overlaps refused."""

import pytest

from smpsim.interconnect import bus as b


@pytest.mark.parametrize("addr, region, offset", [
    (0x0800_0000, "gicd", 0), (0x0800_FFFC, "gicd", 0xFFFC),
    (0x080A_0000, "gicr", 0), (0x080A_0000 + 3 * 0x2_0000 + 0x1_0100, "gicr", 0x7_0100),
    (0x0900_0000, "uart0", 0), (0x0900_0FFF, "uart0", 0xFFF),
])
def test_virt_routes_its_devices(addr, region, offset):
    got = b.Bus.virt(4, 0x4000_0000, 128 << 20).route(addr)
    assert got is not None and (got[0].name, got[1]) == (region, offset)


@pytest.mark.parametrize("addr", [0x0, 0x0801_0000, 0x080A_0000 + 4 * 0x2_0000, 0x0900_1000,
                                  0x4000_0000])
def test_nothing_answers_elsewhere(addr):
    assert b.Bus.virt(4, 0x4000_0000, 128 << 20).route(addr) is None


def test_overlaps_are_refused():
    with pytest.raises(ValueError, match="overlaps"):
        b.Bus([b.Region("a", 0x1000, 0x1000, b.DEVICES), b.Region("b", 0x1800, 0x100, b.DEVICES)])
    with pytest.raises(ValueError, match="RAM .* overlaps uart0"):
        b.Bus.virt(1, 0x0900_0000, 0x0100_0000)
    with pytest.raises(ValueError, match="redistributor space"):
        b.Bus.virt(200, 0x4000_0000, 1 << 20)
