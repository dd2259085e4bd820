"""The Arm PrimeCell UART (PL011) at QEMU virt's 0x0900_0000, as pure logic.

Written from the PL011 Technical Reference Manual (Arm DDI 0183). Where the TRM leaves a
choice, the model does what QEMU's hw/char/pl011.c does and the comment says "QEMU:";
where neither settles it, the comment says "Choice:".

The model has no clock. A character written to UARTDR leaves at once, through the
`console` callback, so the transmit FIFO is always empty (TXFE=1, TXFF=0, BUSY=0).
Characters from the host come in with `receive()` into a receive FIFO of 16 entries
(FEN=1) or a one-character holding register (FEN=0, "character mode"). The combined
interrupt output UARTINTR is the property `irq` = (UARTRIS & UARTIMSC) != 0, and
`on_irq(level)` is called each time that level changes (the device service forwards it
to the GIC as SPI 33).

Not modelled, stored only: baud rate divisors (and their latching by a UARTLCR_H write),
word length, parity, stop bits, IrDA SIR, hardware flow control (CTSEn/RTSEn), DMA.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

BASE = 0x0900_0000
SIZE = 0x1000

# Register offsets (DDI 0183, Table 3-1)
UARTDR = 0x000
UARTRSR = 0x004  # read: receive status; write: UARTECR, error clear
UARTECR = UARTRSR
UARTFR = 0x018
UARTILPR = 0x020
UARTIBRD = 0x024
UARTFBRD = 0x028
UARTLCR_H = 0x02C
UARTCR = 0x030
UARTIFLS = 0x034
UARTIMSC = 0x038
UARTRIS = 0x03C
UARTMIS = 0x040
UARTICR = 0x044
UARTDMACR = 0x048
UARTPERIPHID0 = 0xFE0  # .. UARTPCELLID3 at 0xFFC
UARTPCELLID0 = 0xFF0

# UARTDR, read: the received character and its error bits
DR_FE = 1 << 8  # framing error
DR_PE = 1 << 9  # parity error
DR_BE = 1 << 10  # break
DR_OE = 1 << 11  # overrun

# UARTRSR
RSR_FE, RSR_PE, RSR_BE, RSR_OE = 1 << 0, 1 << 1, 1 << 2, 1 << 3

# UARTFR
FR_CTS = 1 << 0
FR_DSR = 1 << 1
FR_DCD = 1 << 2
FR_BUSY = 1 << 3
FR_RXFE = 1 << 4  # receive FIFO empty
FR_TXFF = 1 << 5  # transmit FIFO full
FR_RXFF = 1 << 6  # receive FIFO full
FR_TXFE = 1 << 7  # transmit FIFO empty
FR_RI = 1 << 8

# UARTLCR_H
LCR_H_BRK = 1 << 0
LCR_H_PEN = 1 << 1
LCR_H_EPS = 1 << 2
LCR_H_STP2 = 1 << 3
LCR_H_FEN = 1 << 4
LCR_H_WLEN_5, LCR_H_WLEN_6, LCR_H_WLEN_7, LCR_H_WLEN_8 = 0 << 5, 1 << 5, 2 << 5, 3 << 5
LCR_H_SPS = 1 << 7

# UARTCR
CR_UARTEN = 1 << 0
CR_SIREN = 1 << 1
CR_SIRLP = 1 << 2
CR_LBE = 1 << 7
CR_TXE = 1 << 8
CR_RXE = 1 << 9
CR_DTR = 1 << 10
CR_RTS = 1 << 11
CR_OUT1 = 1 << 12
CR_OUT2 = 1 << 13
CR_RTSEN = 1 << 14
CR_CTSEN = 1 << 15

# UARTIMSC / UARTRIS / UARTMIS / UARTICR
INT_RI = 1 << 0  # RIMIM, RIRMIS, ...: nUARTRI modem status
INT_CTS = 1 << 1
INT_DCD = 1 << 2
INT_DSR = 1 << 3
INT_RX = 1 << 4  # receive
INT_TX = 1 << 5  # transmit
INT_RT = 1 << 6  # receive timeout
INT_FE = 1 << 7  # framing error
INT_PE = 1 << 8  # parity error
INT_BE = 1 << 9  # break error
INT_OE = 1 << 10  # overrun error
INT_ALL = (1 << 11) - 1

# Register widths: bits beyond them (and UARTCR's reserved bits 6:3) read as zero.
_WIDTH = {UARTILPR: 0xFF, UARTIBRD: 0xFFFF, UARTFBRD: 0x3F, UARTLCR_H: 0xFF,
          UARTCR: 0xFF87, UARTIFLS: 0x3F, UARTIMSC: INT_ALL, UARTDMACR: 0x7}

# Reset values (DDI 0183, Table 3-1); UARTFR is computed (TXFE and RXFE at reset).
RESET_CR = CR_RXE | CR_TXE  # 0x300: UARTEN is clear
RESET_IFLS = 0x12  # both trigger levels at 1/2

# PeriphID0-3 and PCellID0-3, one byte in each word from 0xFE0. QEMU: these are the
# values QEMU's "pl011" device reports: part 0x011, designer 0x41 (Arm), revision 1
# (r1p1), configuration 0. Linux's amba-pl011 reads the revision to size the FIFOs:
# below 3 it expects 16 entries.
ID_ARM = (0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1)
# The same with revision 3 (r1p5, whose FIFOs are 32 deep), for Pl011(fifo_depth=32).
ID_ARM_R1P5 = (0x11, 0x10, 0x34, 0x00, 0x0D, 0xF0, 0x05, 0xB1)

# RXIFLSEL: the receive trigger, in eighths of the FIFO ("becomes >= 1/8 full" ...).
_RX_EIGHTHS = (1, 2, 4, 6, 7)

# Loopback (UARTCR.LBE): the modem control outputs drive the modem status inputs.
_LOOPBACK_MODEM = ((CR_RTS, FR_CTS, INT_CTS), (CR_DTR, FR_DSR, INT_DSR),
                   (CR_OUT1, FR_DCD, INT_DCD), (CR_OUT2, FR_RI, INT_RI))


class Pl011:
    """One PL011. `console(data)` gets each transmitted byte; `on_irq(level)` (optional,
    may be set later) gets UARTINTR's new level whenever it changes."""

    def __init__(self, console: Callable[[bytes], None],
                 on_irq: Callable[[bool], None] | None = None, *, fifo_depth: int = 16):
        if fifo_depth not in (16, 32):
            raise ValueError(f"a PL011's FIFOs have 16 (up to r1p4) or 32 (r1p5) entries, "
                             f"not {fifo_depth}")
        self.console = console
        self.on_irq = on_irq
        self.fifo_depth = fifo_depth
        self.ids = ID_ARM if fifo_depth == 16 else ID_ARM_R1P5
        # how many characters were written while UARTEN or TXE was clear (sent anyway)
        self.tx_while_disabled = 0
        self._irq = False
        self.reset()

    def reset(self) -> None:
        """PRESETn: every register to its reset value, the receive FIFO emptied."""
        self.rsr = 0
        self.ilpr = 0
        self.ibrd = 0
        self.fbrd = 0
        self.lcr_h = 0
        self.cr = RESET_CR
        self.ifls = RESET_IFLS
        self.imsc = 0
        self.ris = 0
        self.dmacr = 0
        self._rx: deque[int] = deque()  # 12-bit entries: the character and DR_FE..DR_OE
        self._overrun = False  # a character was lost; the next one stored carries DR_OE
        self._modem = 0  # the modem status inputs as UARTFR shows them
        self._update()

    # --- state as the guest sees it ------------------------------------------------------

    @property
    def irq(self) -> bool:
        """UARTINTR, the combined interrupt: any unmasked raw interrupt."""
        return self._irq

    @property
    def fifo_enabled(self) -> bool:
        return bool(self.lcr_h & LCR_H_FEN)

    @property
    def rx_capacity(self) -> int:
        """How many characters the receive side holds: the FIFO, or one (FEN=0)."""
        return self.fifo_depth if self.fifo_enabled else 1

    @property
    def rx_level(self) -> int:
        """How many received characters wait to be read."""
        return len(self._rx)

    @property
    def rx_trigger(self) -> int:
        """The receive FIFO level at which RXIS is set (UARTIFLS.RXIFLSEL; 1 with FEN=0).
        Choice: the reserved encodings b101-b111 act as the reset value's 1/2."""
        if not self.fifo_enabled:
            return 1
        sel = (self.ifls >> 3) & 7
        eighths = _RX_EIGHTHS[sel] if sel < len(_RX_EIGHTHS) else 4
        return self.fifo_depth * eighths // 8

    @property
    def loopback(self) -> bool:
        return bool(self.cr & CR_LBE)

    @property
    def fr(self) -> int:
        """UARTFR. Transmission is instant: TXFE=1, TXFF=0, BUSY=0 always. The modem
        status inputs are not connected (QEMU: CTS, DSR, DCD and RI read 0) except in
        loopback, where they follow UARTCR's RTS, DTR, Out1 and Out2."""
        fr = FR_TXFE | self._modem
        if not self._rx:
            fr |= FR_RXFE
        if len(self._rx) >= self.rx_capacity:
            fr |= FR_RXFF
        return fr

    @property
    def mis(self) -> int:
        return self.ris & self.imsc

    # --- the host side -------------------------------------------------------------------

    def can_receive(self) -> int:
        """How many characters `receive` would store now without an overrun (0 in
        loopback, where the receive input is disconnected)."""
        return 0 if self.loopback else self.rx_capacity - len(self._rx)

    def receive(self, data: bytes) -> int:
        """Characters from the host's keyboard, in order. Those that find the receive
        FIFO full are lost and flag an overrun (UARTRSR.OE, OEIS; the next character
        stored carries UARTDR.OE). Returns how many were stored.

        QEMU: input is accepted whatever UARTEN and RXE say (the TRM would drop it): QEMU
        keeps the UART effectively enabled because guests exist that never enable it.
        QEMU: in loopback the receive input is disconnected: nothing is stored, no
        overrun is flagged, and 0 is returned."""
        if self.loopback or not data:
            return 0
        stored = sum(self._put(b) for b in data)
        self._line_idle()
        self._update()
        return stored

    def receive_break(self) -> None:
        """A break condition on the receive line: a NUL character with UARTDR.BE, and
        BEIS. (QEMU: what its chardev's break event does.)"""
        if self.loopback:
            return
        self._put(DR_BE)
        self._line_idle()
        self._update()

    # --- the bus side --------------------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        """A load of `size` bytes at `offset` in the 4 KiB frame.

        The PL011 decodes PADDR[11:2] only and has no byte strobes: an access of 1 or 2
        bytes reads (with its side effects: a UARTDR read takes a character) the whole
        register it falls in and returns its own byte lanes, little-endian. An 8-byte
        access is two 4-byte accesses, low word first (QEMU: its memory core splits it
        so). An access not aligned to its size reads 0 (the CPU's alignment fault for
        Device memory comes first in any case); so does any offset with no register."""
        if size > 4 and size % 4 == 0 and offset % 4 == 0:
            return sum(self.read(offset + i, 4) << (8 * i) for i in range(0, size, 4))
        if size not in (1, 2, 4) or offset % size or not 0 <= offset < SIZE:
            return 0
        lane = offset & 3
        return (self._read_register(offset - lane) >> (8 * lane)) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        """A store of `size` bytes at `offset`: the register it falls in is written with
        the store's bytes in their lanes and 0 in the others (no byte strobes). So a
        byte store to UARTDR (Linux's earlycon uses one) transmits that byte. 8-byte
        stores are split as loads are; unaligned stores and holes are ignored."""
        if size > 4 and size % 4 == 0 and offset % 4 == 0:
            for i in range(0, size, 4):
                self.write(offset + i, 4, (value >> (8 * i)) & 0xFFFF_FFFF)
            return
        if size not in (1, 2, 4) or offset % size or not 0 <= offset < SIZE:
            return
        lane = offset & 3
        self._write_register(offset - lane, (value & ((1 << (8 * size)) - 1)) << (8 * lane))

    def _read_register(self, offset: int) -> int:
        if offset == UARTDR:
            return self._read_dr()
        if offset == UARTRSR:
            return self.rsr
        if offset == UARTFR:
            return self.fr
        if offset == UARTRIS:
            return self.ris
        if offset == UARTMIS:
            return self.mis
        if offset in _FIELDS:
            return getattr(self, _FIELDS[offset])
        if UARTPERIPHID0 <= offset < SIZE:
            return self.ids[(offset - UARTPERIPHID0) >> 2]
        return 0  # UARTICR is write-only; reserved and test registers read as zero

    def _write_register(self, offset: int, value: int) -> None:
        if offset == UARTDR:
            self._transmit(value & 0xFF)
        elif offset == UARTECR:
            self.rsr = 0  # any value clears FE, PE, BE and OE
        elif offset == UARTLCR_H:
            self._write_lcr_h(value & _WIDTH[UARTLCR_H])
        elif offset == UARTCR:
            self.cr = value & _WIDTH[UARTCR]
            self._set_modem()
            self._update()
        elif offset == UARTIMSC:
            self.imsc = value & INT_ALL
            self._update()
        elif offset == UARTICR:
            self.ris &= ~value & INT_ALL
            self._update()
        elif offset in _FIELDS:  # ILPR, IBRD, FBRD, IFLS, DMACR: stored only
            setattr(self, _FIELDS[offset], value & _WIDTH[offset])
        # UARTFR, UARTRIS, UARTMIS, the ID registers and the holes ignore writes

    # --- behaviour -----------------------------------------------------------------------

    def _transmit(self, byte: int) -> None:
        """A character written to UARTDR goes out now: the FIFO drains at once, so it
        falls to (or below) its trigger level after every write and TXIS is set (QEMU:
        the same). The TRM sets TXIS on that transition only, so it is not set at reset
        or by enabling the UART, which is why Linux writes the first characters before
        unmasking TXIM.

        QEMU: the character is sent even with UARTEN or TXE clear (QEMU logs a guest
        error and sends): Linux's earlycon and bare-metal guests write UARTDR without
        enabling the UART, whose reset value has UARTEN=0. The count of such writes is
        kept in `tx_while_disabled`.

        WLEN does not truncate the character (QEMU: the same): the reset value of
        UARTLCR_H selects 5-bit words, and guests that never program it still print."""
        if (self.cr & (CR_UARTEN | CR_TXE)) != CR_UARTEN | CR_TXE:
            self.tx_while_disabled += 1
        self.console(bytes([byte]))
        if self.loopback:  # QEMU: looped back after it was sent to the console too
            self._put(byte)
            self._line_idle()
        self.ris |= INT_TX
        self._update()

    def _put(self, entry: int) -> bool:
        """Store one received character (with its error bits) in the receive FIFO; if it
        is full, lose it and flag an overrun. The interrupts follow, `_update` not yet."""
        if len(self._rx) >= self.rx_capacity:
            # The FIFO's contents stay valid; the character in the shift register is lost.
            # UARTRSR.OE is set at once; UARTDR.OE goes with a character read later.
            # Choice: the first character stored after the loss carries DR_OE.
            self.rsr |= RSR_OE
            self.ris |= INT_OE
            self._overrun = True
            return False
        if self._overrun:
            entry |= DR_OE
            self._overrun = False
        self._rx.append(entry)
        if entry & DR_FE:
            self.ris |= INT_FE
        if entry & DR_PE:
            self.ris |= INT_PE
        if entry & DR_BE:
            self.ris |= INT_BE
        # "Receive FIFO becomes >= 1/8 full" ...; with FEN=0, any character (trigger 1).
        # The TRM's trigger is used, not QEMU's (QEMU raises RXIS at one character
        # whatever UARTIFLS says); characters below the trigger are reported by RTIS.
        if len(self._rx) >= self.rx_trigger:
            self.ris |= INT_RX
        return True

    def _line_idle(self) -> None:
        """The end of a burst of received characters. Choice: the receive timeout (32 bit
        periods with characters waiting and none arriving) elapses at once, as the model
        has no clock: RTIS is set when a burst (one `receive`, one looped-back character)
        leaves the FIFO non-empty. QEMU never sets RTIS but raises RXIS at one character;
        with the TRM's trigger levels, RTIS is what tells a driver (Linux unmasks RTIM
        and RXIM) about fewer characters than the trigger."""
        if self._rx:
            self.ris |= INT_RT

    def _read_dr(self) -> int:
        """Take a character: bits 7:0 the data, 11:8 OE, BE, PE, FE. UARTRSR's FE, PE and
        BE become those of this character (QEMU: replaced, not accumulated); its OE,
        set at once by an overrun, stays until UARTECR is written.
        Choice: with nothing received the read returns 0 and changes nothing (QEMU
        returns a stale FIFO slot; the TRM does not say)."""
        if not self._rx:
            return 0
        entry = self._rx.popleft()
        self.rsr = (self.rsr & RSR_OE) | ((entry >> 8) & 0xF)
        if len(self._rx) < self.rx_trigger:
            self.ris &= ~INT_RX  # "cleared by reading data ... until less than the trigger"
        if not self._rx:
            self.ris &= ~INT_RT  # "cleared when the FIFO becomes empty through reading"
        self._update()
        return entry

    def _write_lcr_h(self, value: int) -> None:
        old, self.lcr_h = self.lcr_h, value
        if (old ^ value) & LCR_H_FEN:
            # QEMU: switching the FIFOs on or off empties them (the TRM does not say).
            # Choice: and the receive interrupts, which had those characters as cause,
            # are cleared with them.
            self._rx.clear()
            self._overrun = False
            self.ris &= ~(INT_RX | INT_RT)
        if value & LCR_H_BRK and not old & LCR_H_BRK and self.loopback:
            # QEMU: a break sent in loopback is received as a break character
            self._put(DR_BE)
            self._line_idle()
        self._update()

    def _set_modem(self) -> None:
        """The modem status inputs: in loopback UARTCR's RTS, DTR, Out1, Out2 drive CTS,
        DSR, DCD, RI (QEMU: the same); otherwise nothing is connected and they read 0
        (QEMU keeps the loopback values after LBE is cleared). Per the TRM, a modem status
        interrupt is set by a *change* of its input (QEMU sets it from the level)."""
        new, changed = 0, 0
        for cr_bit, fr_bit, int_bit in _LOOPBACK_MODEM:
            if self.loopback and self.cr & cr_bit:
                new |= fr_bit
            if (new ^ self._modem) & fr_bit:
                changed |= int_bit
        self._modem = new
        self.ris |= changed

    def _update(self) -> None:
        level = (self.ris & self.imsc) != 0
        if level != self._irq:
            self._irq = level
            if self.on_irq is not None:
                self.on_irq(level)


# Registers that are plain stored fields, by offset
_FIELDS = {UARTILPR: "ilpr", UARTIBRD: "ibrd", UARTFBRD: "fbrd", UARTLCR_H: "lcr_h",
           UARTCR: "cr", UARTIFLS: "ifls", UARTIMSC: "imsc", UARTDMACR: "dmacr"}
