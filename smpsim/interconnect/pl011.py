"""The PL011 UART at QEMU virt's 0x0900_0000, enough for console output: writes to the
data register print, the flag register says the transmitter is always ready.
(Receive, interrupts and the line-control registers come with the device service.)"""

from __future__ import annotations

from typing import Callable

BASE = 0x0900_0000
SIZE = 0x1000

UARTDR = 0x000
UARTFR = 0x018
FR_TXFE = 1 << 7  # transmit FIFO empty
FR_RXFE = 1 << 4  # receive FIFO empty


class Pl011:
    def __init__(self, console: Callable[[bytes], None]):
        self.console = console

    def read(self, offset: int, size: int) -> int:
        if offset == UARTFR:
            return FR_TXFE | FR_RXFE
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == UARTDR:
            self.console(bytes([value & 0xFF]))
