"""The PL011 UART model (smpsim/interconnect/pl011.py) against the PL011 TRM (DDI 0183),
with QEMU's behaviour where the TRM leaves a choice: registers, FIFOs, interrupts, the
access sizes, and the sequences Linux's earlycon and amba-pl011 driver use."""

import pytest

from smpsim.interconnect import pl011 as p


class Uart(p.Pl011):
    """A PL011 that records what it sends and each change of its interrupt output."""

    def __init__(self, **kw):
        self.out = bytearray()
        self.edges = []
        super().__init__(self.out.extend, self.edges.append, **kw)

    def rd(self, offset, size=4):
        return self.read(offset, size)

    def wr(self, offset, value, size=4):
        self.write(offset, size, value)


@pytest.fixture
def u():
    return Uart()


def fifo_mode(uart, ifls=p.RESET_IFLS):
    uart.wr(p.UARTIFLS, ifls)
    uart.wr(p.UARTLCR_H, p.LCR_H_FEN | p.LCR_H_WLEN_8)


def drain(uart):
    got = []
    while not uart.rd(p.UARTFR) & p.FR_RXFE:
        got.append(uart.rd(p.UARTDR))
    return got


# --- reset values and identification ---------------------------------------------------

@pytest.mark.parametrize("offset, value", [
    (p.UARTDR, 0x000),  # nothing received
    (p.UARTRSR, 0x0),
    (p.UARTFR, p.FR_TXFE | p.FR_RXFE),  # 0x90: modem inputs unconnected
    (p.UARTILPR, 0x00),
    (p.UARTIBRD, 0x0000),
    (p.UARTFBRD, 0x00),
    (p.UARTLCR_H, 0x00),
    (p.UARTCR, 0x0300),  # TXE and RXE; UARTEN clear
    (p.UARTIFLS, 0x12),
    (p.UARTIMSC, 0x000),
    (p.UARTRIS, 0x000),
    (p.UARTMIS, 0x000),
    (p.UARTICR, 0x000),  # write-only
    (p.UARTDMACR, 0x0),
])
def test_reset_values(u, offset, value):
    assert u.rd(offset) == value
    assert not u.irq and u.edges == []


@pytest.mark.parametrize("offset, value", [
    (0xFE0, 0x11), (0xFE4, 0x10), (0xFE8, 0x14), (0xFEC, 0x00),  # UARTPeriphID0-3
    (0xFF0, 0x0D), (0xFF4, 0xF0), (0xFF8, 0x05), (0xFFC, 0xB1),  # UARTPCellID0-3
])
def test_id_registers_are_qemus_arm_pl011(u, offset, value):
    assert u.rd(offset) == value
    u.wr(offset, 0xFF)  # read-only
    assert u.rd(offset) == value


def amba_ids(uart):
    """What Linux's AMBA bus reads: one byte from each of four words, twice."""
    def word(base):
        return sum((uart.rd(base + 4 * i) & 0xFF) << (8 * i) for i in range(4))
    return word(0xFE0), word(0xFF0)


def test_linux_sees_an_arm_pl011_r1p1_with_16_entry_fifos(u):
    periphid, cid = amba_ids(u)
    assert (periphid, cid) == (0x0014_1011, 0xB105_F00D)
    assert periphid & 0xFFF == 0x011 and (periphid >> 12) & 0xFF == 0x41  # part, Arm
    assert (periphid >> 20) & 0xF == 1  # revision: Linux's fifosize = 16 below 3


def test_the_32_entry_variant_says_r1p5():
    periphid, cid = amba_ids(Uart(fifo_depth=32))
    assert (periphid, cid) == (0x0034_1011, 0xB105_F00D)
    with pytest.raises(ValueError):
        p.Pl011(lambda b: None, fifo_depth=64)


# --- plain registers -------------------------------------------------------------------

@pytest.mark.parametrize("offset, written, read_back", [
    (p.UARTILPR, 0x1_FFFF, 0xFF),
    (p.UARTIBRD, 0x1_2345, 0x2345),  # 16 bits
    (p.UARTFBRD, 0xFFFF, 0x3F),  # 6 bits
    (p.UARTLCR_H, 0x1EE, 0xEE),  # SPS, WLEN, FEN, STP2, EPS, PEN: 8 bits
    (p.UARTCR, 0xFFFF, 0xFF87),  # bits 6:3 reserved
    (p.UARTCR, 0x0301, 0x0301),
    (p.UARTIFLS, 0xFF, 0x3F),
    (p.UARTIMSC, 0xFFFF, 0x7FF),
    (p.UARTDMACR, 0xF, 0x7),
])
def test_registers_keep_what_is_written_within_their_width(u, offset, written, read_back):
    u.wr(offset, written)
    assert u.rd(offset) == read_back


def registers(uart):
    return [uart.rd(o) for o in (p.UARTRSR, p.UARTFR, p.UARTILPR, p.UARTIBRD, p.UARTFBRD,
                                 p.UARTLCR_H, p.UARTCR, p.UARTIFLS, p.UARTIMSC, p.UARTRIS,
                                 p.UARTMIS, p.UARTDMACR)]


@pytest.mark.parametrize("offset", [p.UARTFR, p.UARTRIS, p.UARTMIS, 0x008, 0x00C, 0x010,
                                    0x014, 0x01C, 0x04C, 0x080, 0x08C, 0x100, 0xFDC])
def test_read_only_registers_and_holes_ignore_writes(u, offset):
    u.wr(p.UARTIMSC, p.INT_TX)
    u.wr(p.UARTDR, ord("x"))
    before = registers(u)
    u.wr(offset, 0xFFFF_FFFF)
    assert registers(u) == before
    assert bytes(u.out) == b"x"


@pytest.mark.parametrize("offset", [0x008, 0x01C, 0x04C, 0x080, 0x400, 0xFDC])
def test_holes_read_as_zero(u, offset):
    assert u.rd(offset) == 0


# --- access sizes ----------------------------------------------------------------------

def test_byte_and_halfword_reads_return_their_lanes(u):
    u.wr(p.UARTCR, 0x1234 & 0xFF87)  # 0x1204
    assert u.rd(p.UARTCR, 1) == 0x04
    assert u.rd(p.UARTCR + 1, 1) == 0x12
    assert u.rd(p.UARTCR, 2) == 0x1204
    assert u.rd(p.UARTCR + 2, 2) == 0
    assert u.rd(p.UARTFR, 1) == 0x90


def test_a_byte_store_to_dr_transmits_and_lane_stores_fill_the_rest_with_zero(u):
    u.wr(p.UARTDR, ord("k"), size=1)
    assert bytes(u.out) == b"k"
    u.wr(p.UARTIBRD, 0xFFFF)
    u.wr(p.UARTIBRD + 1, 0xAB, size=1)  # no byte strobes: the whole register is written
    assert u.rd(p.UARTIBRD) == 0xAB00


def test_doubleword_accesses_are_two_words(u):
    u.receive(b"ab")  # an overrun: UARTRSR.OE
    assert u.rd(p.UARTRSR) == p.RSR_OE
    u.write(p.UARTDR, 8, (0x55 << 32) | ord("q"))  # UARTDR, then UARTECR
    assert bytes(u.out) == b"q" and u.rd(p.UARTRSR) == 0
    u.wr(p.UARTIBRD, 7)
    u.wr(p.UARTFBRD, 9)
    assert u.read(p.UARTIBRD, 8) == (9 << 32) | 7


@pytest.mark.parametrize("offset, size", [(p.UARTFR + 1, 2), (p.UARTFR + 2, 4),
                                          (p.UARTDR + 4, 8), (p.UARTFR, 3), (0x1000, 4),
                                          (-4, 4)])
def test_unaligned_and_out_of_frame_accesses_are_raz_wi(u, offset, size):
    assert u.read(offset, size) == 0
    u.write(offset, size, 0x41)
    assert u.out == b"" and registers(u) == registers(Uart())


# --- receive FIFO ----------------------------------------------------------------------

@pytest.mark.parametrize("fen, depth, received, fr", [
    (False, 16, 0, p.FR_TXFE | p.FR_RXFE),
    (False, 16, 1, p.FR_TXFE | p.FR_RXFF),  # the holding register is full
    (True, 16, 0, p.FR_TXFE | p.FR_RXFE),
    (True, 16, 1, p.FR_TXFE),
    (True, 16, 15, p.FR_TXFE),
    (True, 16, 16, p.FR_TXFE | p.FR_RXFF),
    (True, 32, 16, p.FR_TXFE),
    (True, 32, 32, p.FR_TXFE | p.FR_RXFF),
])
def test_flags_as_the_fifo_fills(fen, depth, received, fr):
    u = Uart(fifo_depth=depth)
    if fen:
        fifo_mode(u)
    assert u.receive(bytes(range(0x41, 0x41 + received))) == received
    assert u.rd(p.UARTFR) == fr
    assert u.rd(p.UARTRSR) == 0


@pytest.mark.parametrize("fen, depth, capacity", [(False, 16, 1), (True, 16, 16),
                                                  (False, 32, 1), (True, 32, 32)])
def test_depth_with_and_without_fen(fen, depth, capacity):
    u = Uart(fifo_depth=depth)
    if fen:
        fifo_mode(u)
    assert u.can_receive() == capacity
    data = bytes(range(0x30, 0x30 + capacity + 3))
    assert u.receive(data) == capacity
    assert u.can_receive() == 0
    got = drain(u)
    assert [c & 0xFF for c in got] == list(data[:capacity])
    assert u.rd(p.UARTRSR) & p.RSR_OE


def test_flags_as_the_fifo_empties(u):
    fifo_mode(u)
    u.receive(bytes(16))
    states = []
    for _ in range(16):
        u.rd(p.UARTDR)
        states.append(u.rd(p.UARTFR) & (p.FR_RXFE | p.FR_RXFF))
    assert states == [0] * 15 + [p.FR_RXFE]


def test_dr_returns_characters_in_order_and_nothing_when_empty(u):
    fifo_mode(u)
    u.receive(b"hi")
    assert [u.rd(p.UARTDR), u.rd(p.UARTDR)] == [ord("h"), ord("i")]
    assert u.rd(p.UARTDR) == 0 and u.rd(p.UARTFR) & p.FR_RXFE


def test_switching_fen_empties_the_fifo(u):
    fifo_mode(u)
    u.receive(b"abc")
    u.wr(p.UARTLCR_H, p.LCR_H_WLEN_8)  # FEN off
    assert u.rd(p.UARTFR) & p.FR_RXFE and u.rx_level == 0
    assert u.rd(p.UARTRIS) & (p.INT_RX | p.INT_RT) == 0
    u.receive(b"d")
    u.wr(p.UARTLCR_H, p.LCR_H_WLEN_8 | p.LCR_H_PEN)  # FEN unchanged: kept
    assert u.rd(p.UARTDR) == ord("d")


# --- errors: overrun, break, UARTRSR/UARTECR -------------------------------------------

def test_overrun_keeps_the_fifo_and_marks_the_next_character(u):
    fifo_mode(u)
    assert u.receive(bytes(range(1, 17)) + b"XY") == 16
    assert u.rd(p.UARTRSR) == p.RSR_OE  # set at once
    assert u.rd(p.UARTRIS) & p.INT_OE
    assert u.rd(p.UARTDR) == 1  # the stored characters are intact, without OE
    assert u.rd(p.UARTRSR) == p.RSR_OE  # OE stays until UARTECR is written
    u.wr(p.UARTECR, 0)
    assert u.rd(p.UARTRSR) == 0
    assert u.receive(b"Z") == 1  # the first character after the loss carries OE
    assert [c for c in drain(u)] == list(range(2, 17)) + [p.DR_OE | ord("Z")]
    assert u.rd(p.UARTRSR) == p.RSR_OE
    u.receive(b"!")
    assert u.rd(p.UARTDR) == ord("!")


def test_overrun_in_character_mode(u):
    assert u.receive(b"ab") == 1
    assert u.rd(p.UARTRIS) & p.INT_OE and u.rd(p.UARTRSR) == p.RSR_OE
    assert u.rd(p.UARTDR) == ord("a")


def test_break_is_a_nul_with_be(u):
    fifo_mode(u)
    u.receive_break()
    assert u.rd(p.UARTRIS) & p.INT_BE
    assert u.rd(p.UARTDR) == p.DR_BE
    assert u.rd(p.UARTRSR) == p.RSR_BE
    u.receive(b"a")
    assert u.rd(p.UARTDR) == ord("a")
    assert u.rd(p.UARTRSR) == 0  # FE, PE, BE are those of the last character read
    u.receive_break()
    u.rd(p.UARTDR)
    u.wr(p.UARTECR, 0x1234)
    assert u.rd(p.UARTRSR) == 0


# --- interrupts ------------------------------------------------------------------------

@pytest.mark.parametrize("rxiflsel, depth, trigger", [
    (0, 16, 2), (1, 16, 4), (2, 16, 8), (3, 16, 12), (4, 16, 14), (5, 16, 8), (7, 16, 8),
    (0, 32, 4), (2, 32, 16), (4, 32, 28),
])
def test_rx_interrupt_at_the_ifls_trigger_level(rxiflsel, depth, trigger):
    u = Uart(fifo_depth=depth)
    fifo_mode(u, ifls=rxiflsel << 3)
    assert u.rx_trigger == trigger
    levels = []
    for _ in range(depth):
        u.receive(b"c")
        levels.append(bool(u.rd(p.UARTRIS) & p.INT_RX))
    assert levels == [n >= trigger for n in range(1, depth + 1)]
    cleared = []
    for _ in range(depth):
        u.rd(p.UARTDR)
        cleared.append(bool(u.rd(p.UARTRIS) & p.INT_RX))
    assert cleared == [n >= trigger for n in range(depth - 1, -1, -1)]


def test_rx_interrupt_without_fifo_is_any_character(u):
    u.wr(p.UARTIFLS, 4 << 3)  # ignored with FEN=0
    u.receive(b"a")
    assert u.rd(p.UARTRIS) & p.INT_RX
    u.rd(p.UARTDR)
    assert not u.rd(p.UARTRIS) & p.INT_RX


def test_receive_timeout_reports_characters_below_the_trigger(u):
    fifo_mode(u)  # trigger 8
    u.wr(p.UARTIMSC, p.INT_RT | p.INT_RX)
    u.receive(b"abc")
    assert u.rd(p.UARTRIS) & (p.INT_RX | p.INT_RT) == p.INT_RT
    assert u.irq and u.edges == [True]
    u.rd(p.UARTDR)
    assert u.rd(p.UARTRIS) & p.INT_RT  # until the FIFO is empty
    u.rd(p.UARTDR)
    u.rd(p.UARTDR)
    assert not u.rd(p.UARTRIS) & p.INT_RT
    assert not u.irq and u.edges == [True, False]


def test_icr_clears_the_receive_timeout_until_the_next_burst(u):
    fifo_mode(u)
    u.receive(b"ab")
    u.wr(p.UARTICR, p.INT_RT)
    assert not u.rd(p.UARTRIS) & p.INT_RT
    u.receive(b"c")
    assert u.rd(p.UARTRIS) & p.INT_RT


def test_tx_interrupt_after_each_write_not_at_reset_or_enable(u):
    u.wr(p.UARTIMSC, p.INT_TX)
    u.wr(p.UARTCR, p.CR_UARTEN | p.CR_TXE | p.CR_RXE)
    assert not u.rd(p.UARTRIS) and not u.irq
    u.wr(p.UARTDR, ord("a"))
    assert u.rd(p.UARTRIS) == p.INT_TX and u.irq
    u.wr(p.UARTICR, p.INT_TX)
    assert not u.irq
    u.wr(p.UARTDR, ord("b"))
    assert u.irq
    assert u.edges == [True, False, True]


# (action, argument, RIS afterwards, irq afterwards)
SEQUENCE = [
    ("imsc", p.INT_TX | p.INT_RX, 0, False),
    ("dr", ord("a"), p.INT_TX, True),
    ("dr", ord("b"), p.INT_TX, True),  # no edge: the level did not change
    ("receive", b"x", p.INT_TX | p.INT_RX | p.INT_RT, True),
    ("icr", p.INT_TX, p.INT_RX | p.INT_RT, True),
    ("imsc", p.INT_TX, p.INT_RX | p.INT_RT, False),  # masked
    ("imsc", p.INT_RT, p.INT_RX | p.INT_RT, True),
    ("read", p.UARTDR, 0, False),
    ("icr", p.INT_ALL, 0, False),
    ("imsc", p.INT_ALL, 0, False),
    ("dr", ord("c"), p.INT_TX, True),
    ("icr", 0, p.INT_TX, True),  # writing 0 clears nothing
    ("icr", p.INT_ALL, 0, False),
]


def test_interrupt_raise_clear_mask_and_the_callback_on_each_change(u):
    edges, level = [], False
    for action, arg, ris, irq in SEQUENCE:
        if action == "imsc":
            u.wr(p.UARTIMSC, arg)
        elif action == "icr":
            u.wr(p.UARTICR, arg)
        elif action == "dr":
            u.wr(p.UARTDR, arg)
        elif action == "receive":
            u.receive(arg)
        else:
            u.rd(arg)
        if irq != level:
            edges.append(irq)
            level = irq
        assert (u.rd(p.UARTRIS), u.irq, u.edges) == (ris, irq, edges), (action, arg)
        assert u.rd(p.UARTMIS) == ris & u.rd(p.UARTIMSC)


@pytest.mark.parametrize("bit", [p.INT_RI, p.INT_CTS, p.INT_DCD, p.INT_DSR, p.INT_RX,
                                 p.INT_TX, p.INT_RT, p.INT_FE, p.INT_PE, p.INT_BE, p.INT_OE])
def test_icr_clears_only_the_bits_written(bit):
    u = Uart()
    u.ris = p.INT_ALL  # every cause at once, which the line cannot produce by itself
    u.wr(p.UARTICR, bit)
    assert u.rd(p.UARTRIS) == p.INT_ALL & ~bit


def test_the_overrun_interrupt_through_imsc_and_icr(u):
    fifo_mode(u)
    u.wr(p.UARTIMSC, p.INT_OE)
    u.receive(bytes(17))
    assert u.irq and u.rd(p.UARTMIS) == p.INT_OE
    u.wr(p.UARTICR, p.INT_OE)
    assert not u.irq and u.edges == [True, False]


def test_reset_drops_the_interrupt(u):
    u.wr(p.UARTIMSC, p.INT_TX)
    u.wr(p.UARTDR, 0x41)
    u.receive(b"z")
    u.reset()
    assert u.edges == [True, False]
    assert registers(u) == registers(Uart())
    assert u.rd(p.UARTDR) == 0


def test_on_irq_may_be_absent_or_set_later():
    u = p.Pl011(lambda b: None)
    u.write(p.UARTIMSC, 4, p.INT_TX)
    u.write(p.UARTDR, 4, 0x41)
    assert u.irq
    seen = []
    u.on_irq = seen.append
    u.write(p.UARTICR, 4, p.INT_TX)
    assert seen == [False]


# --- enables (QEMU: not enforced) -------------------------------------------------------

@pytest.mark.parametrize("cr, counted", [(0x0000, 1), (p.CR_UARTEN, 1), (p.CR_TXE, 1),
                                         (p.RESET_CR, 1), (p.CR_UARTEN | p.CR_TXE, 0)])
def test_output_is_not_gated_by_uarten_or_txe(u, cr, counted):
    u.wr(p.UARTCR, cr)
    u.wr(p.UARTDR, ord("o"))
    assert bytes(u.out) == b"o"
    assert u.tx_while_disabled == counted


@pytest.mark.parametrize("cr", [0x0000, p.CR_UARTEN, p.CR_RXE])
def test_input_is_not_gated_by_uarten_or_rxe(u, cr):
    u.wr(p.UARTCR, cr)
    assert u.receive(b"i") == 1
    assert u.rd(p.UARTDR) == ord("i")


def test_word_length_does_not_truncate(u):
    assert u.rd(p.UARTLCR_H) & (3 << 5) == p.LCR_H_WLEN_5  # the reset value
    u.wr(p.UARTDR, 0xFF)
    assert bytes(u.out) == b"\xff"


# --- loopback (UARTCR.LBE) --------------------------------------------------------------

def test_loopback_sends_and_receives_and_disconnects_the_input(u):
    fifo_mode(u)
    u.wr(p.UARTCR, p.CR_LBE | p.CR_UARTEN | p.CR_TXE | p.CR_RXE)
    u.wr(p.UARTDR, ord("L"))
    assert bytes(u.out) == b"L"
    assert u.can_receive() == 0
    assert u.receive(b"ext") == 0
    assert u.rd(p.UARTRSR) == 0 and not u.rd(p.UARTRIS) & p.INT_OE
    assert drain(u) == [ord("L")]
    u.wr(p.UARTLCR_H, p.LCR_H_FEN | p.LCR_H_WLEN_8 | p.LCR_H_BRK)
    assert u.rd(p.UARTDR) == p.DR_BE and u.rd(p.UARTRIS) & p.INT_BE
    u.wr(p.UARTCR, p.CR_UARTEN | p.CR_TXE | p.CR_RXE)
    assert u.receive(b"e") == 1


@pytest.mark.parametrize("cr_bit, fr_bit, int_bit", [
    (p.CR_RTS, p.FR_CTS, p.INT_CTS), (p.CR_DTR, p.FR_DSR, p.INT_DSR),
    (p.CR_OUT1, p.FR_DCD, p.INT_DCD), (p.CR_OUT2, p.FR_RI, p.INT_RI),
])
def test_loopback_modem_lines_and_their_change_interrupts(u, cr_bit, fr_bit, int_bit):
    u.wr(p.UARTCR, cr_bit)  # not in loopback: the inputs stay unconnected
    assert u.rd(p.UARTFR) & fr_bit == 0 and u.rd(p.UARTRIS) == 0
    u.wr(p.UARTCR, cr_bit | p.CR_LBE)
    assert u.rd(p.UARTFR) & fr_bit and u.rd(p.UARTRIS) == int_bit
    u.wr(p.UARTICR, int_bit)
    u.wr(p.UARTCR, cr_bit | p.CR_LBE)  # no change, no interrupt
    assert u.rd(p.UARTRIS) == 0
    u.wr(p.UARTCR, p.CR_LBE)
    assert u.rd(p.UARTFR) & fr_bit == 0 and u.rd(p.UARTRIS) == int_bit


# --- the sequences Linux uses -----------------------------------------------------------

def earlycon_putc(uart, c, io32=False):
    """drivers/tty/serial/amba-pl011.c pl011_putc: wait while TXFF, write (a byte unless
    the port is MEM32), wait while BUSY. Returns the polls it took."""
    polls = 1
    while uart.read(p.UARTFR, 4) & p.FR_TXFF:
        polls += 1
    uart.write(p.UARTDR, 4 if io32 else 1, c)
    while uart.read(p.UARTFR, 4) & p.FR_BUSY:
        polls += 1
    return polls


@pytest.mark.parametrize("io32", [False, True])
def test_earlycon_polling_from_reset(u, io32):
    text = b"Booting Linux on physical CPU 0x0\n"
    assert {earlycon_putc(u, c, io32) for c in text} == {1}
    assert bytes(u.out) == text


def test_the_amba_pl011_driver_startup_receive_and_transmit(u):
    # pl011_hwinit: clear errors and receive interrupts, mask everything
    u.wr(p.UARTICR, p.INT_OE | p.INT_BE | p.INT_PE | p.INT_FE | p.INT_RT | p.INT_RX, 2)
    u.wr(p.UARTIMSC, 0, 2)
    # pl011_startup: IFLS (RX 4/8, TX 4/8), enable, then set_termios: 115200 8N1, FIFOs on
    u.wr(p.UARTIFLS, 0x12, 2)
    u.wr(p.UARTCR, p.CR_UARTEN | p.CR_TXE | p.CR_RXE, 2)
    u.wr(p.UARTIBRD, 13, 2)
    u.wr(p.UARTFBRD, 1, 2)
    u.wr(p.UARTLCR_H, p.LCR_H_WLEN_8 | p.LCR_H_FEN, 2)
    # pl011_enable_interrupts: clear RT/RX, drain, unmask RTIM | RXIM
    u.wr(p.UARTICR, p.INT_RT | p.INT_RX, 2)
    assert drain(u) == []
    u.wr(p.UARTIMSC, p.INT_RT | p.INT_RX, 2)
    assert not u.irq

    u.receive(b"ls\r")  # three keys: below the trigger, the timeout reports them
    assert u.irq
    status = u.rd(p.UARTMIS, 2)
    assert status & (p.INT_RT | p.INT_RX)
    u.wr(p.UARTICR, status & ~(p.INT_TX | p.INT_RT | p.INT_RX), 2)
    assert bytes(c & 0xFF for c in drain(u)) == b"ls\r"
    assert not u.irq

    # pl011_start_tx: write while not TXFF, then unmask TXIM if more remain
    for c in b"$ ":
        assert not u.rd(p.UARTFR, 2) & p.FR_TXFF
        u.wr(p.UARTDR, c, 2)
    u.wr(p.UARTIMSC, p.INT_RT | p.INT_RX | p.INT_TX, 2)
    assert u.irq and u.rd(p.UARTMIS) == p.INT_TX  # the TX interrupt asks for more
    u.wr(p.UARTDR, ord("x"), 2)
    u.wr(p.UARTIMSC, p.INT_RT | p.INT_RX, 2)  # pl011_stop_tx
    assert not u.irq
    assert bytes(u.out) == b"$ x"
    assert u.edges == [True, False, True, False]
    assert u.tx_while_disabled == 0
