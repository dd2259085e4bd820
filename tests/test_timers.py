"""The generic timer of one core (Arm ARM D12, and the register pages of D24.10): the
counter driven by retired instructions, CNTFRQ/CNTPCT/CNTVCT and CNTVOFF_EL2, the four
timers (CNTP, CNTV, CNTHP, CNTHV) with their outputs reported as TIMER exits, TVAL, the
E2H redirections and *_EL02 aliases, and the EL0/EL1 access controls of CNTKCTL_EL1 and
CNTHCTL_EL2.

Programs are assembly text, encoded (and checked against capstone) by the assembler of
test_exception_model.py; cores come from its make_core (vector tables full of ERETs,
stop_on_exception). Every case is a table row naming the behaviour, with the expected
values fixed from the Arm ARM. The counter rates used are exact in binary, so that the
count after k instructions is exactly base + floor(k * rate).
"""

from __future__ import annotations

import math

import pytest

from test_exception_model import (_SYSREG_ENC, CODE, CUR_SPX, LOWER, SYNC, VBAR1, VBAR2,
                                  check_exception, check_undefined, code, esr, hcr,
                                  make_core)
from smpsim.jit import exits
from smpsim.jit.exceptions import EC_SYSREG
from smpsim.jit.features import Features

FREQ = 62_500_000  # CNTFRQ_EL0 at reset
LOOP = "b .+0"  # a branch to itself
READ = CODE + 0x800  # where the tests put the code they run after a timer fires

# timer: (CTL, CVAL, TVAL register names, its PPI, the EL that uses it, HCR_EL2 there)
TIMERS = {
    "cntp": ("cntp_ctl_el0", "cntp_cval_el0", "cntp_tval_el0", 30, 1, hcr()),
    "cntv": ("cntv_ctl_el0", "cntv_cval_el0", "cntv_tval_el0", 27, 1, hcr()),
    "cnthp": ("cnthp_ctl_el2", "cnthp_cval_el2", "cnthp_tval_el2", 26, 2, hcr()),
    "cnthv": ("cnthv_ctl_el2", "cnthv_cval_el2", "cnthv_tval_el2", 28, 2, hcr("E2H")),
}
ENABLE, IMASK, ISTATUS = 1, 2, 4


def timer_core(*lines, rate=0.5, count=1000, **kw):
    core = make_core(*lines, **kw)
    core.set_counter_rate(rate)
    core.rebase_counter(count)
    return core


def sysreg_iss(name: str, rt: int, read: bool) -> int:
    """ISS of an EC 0x18 trap (ESR_ELx, D24.2.45): Op0, Op2, Op1, CRn, Rt, CRm, direction."""
    op0, op1, crn, crm, op2 = _SYSREG_ENC[name]
    return (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) | (rt << 5) | (crm << 1) \
        | int(read)


# --- the counter ------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [0.0, 0.125, 0.5, 0.625, 0.75])
def test_counter_advances_by_the_rate_per_instruction(rate):
    core = timer_core(LOOP, rate=rate, count=5000)
    assert core.run(1000).kind == exits.BUDGET
    assert core.counter == 5000 + int(1000 * rate)
    assert core.run(600).kind == exits.BUDGET
    assert core.counter == 5000 + int(1600 * rate)


@pytest.mark.parametrize("rate", [0.25, 0.5, 0.625])
def test_cntpct_reads_the_count_of_the_instructions_retired_before_it(rate):
    # 10 NOPs, then two reads: the count after 10 and after 11 instructions
    core = timer_core(*["nop"] * 10, "mrs x0, cntpct_el0", "mrs x1, cntpct_el0",
                      rate=rate, count=10_000)
    assert core.run(12).kind == exits.BUDGET
    assert (core.x(0), core.x(1)) == (10_000 + math.floor(10 * rate),
                                      10_000 + math.floor(11 * rate))


# CNTVCT_EL0 = CNTPCT_EL0 - CNTVOFF_EL2, except at EL2 with E2H = 1 and at EL0 with
# E2H = TGE = 1 (CNTVCT_EL0 pseudocode): (id, features, EL, HCR_EL2 bits, CNTVOFF, offset
# applied)
VIRTUAL_COUNT = [
    ("el1", Features(), 1, (), 0x1234, True),
    ("el2_e2h0", Features(), 2, (), 0x1234, True),
    ("el2_e2h1", Features(), 2, ("E2H",), 0x1234, False),
    ("el0", Features(), 0, (), 0x1234, True),
    ("el0_guest_e2h1_tge0", Features(), 0, ("E2H",), 0x1234, True),
    ("el0_tge_e2h0", Features(), 0, ("TGE",), 0x1234, True),
    ("el0_host", Features(), 0, ("E2H", "TGE"), 0x1234, False),
    ("el1_offset_beyond_the_count_wraps", Features(), 1, (), 2_000_000, True),
    ("el1_no_el2", Features(el2=False, vhe=False), 1, None, 0, False),
]


@pytest.mark.parametrize("features, el, bits, cntvoff, applied",
                         [pytest.param(*r[1:], id=r[0]) for r in VIRTUAL_COUNT])
def test_cntvct_and_the_virtual_offset(features, el, bits, cntvoff, applied):
    core = timer_core("mrs x0, cntpct_el0", "mrs x1, cntvct_el0", features=features, el=el,
                      hcr_bits=None if bits is None else hcr(*bits), rate=0.0,
                      count=1_000_000,
                      sysregs={"CNTKCTL_EL1": 0x3, **({"CNTVOFF_EL2": cntvoff,
                                                       "CNTHCTL_EL2": 0x403}
                                                      if features.el2 else {})})
    assert core.run(2).kind == exits.BUDGET
    assert core.x(0) == 1_000_000
    assert core.x(1) == ((1_000_000 - cntvoff) % (1 << 64) if applied else 1_000_000)


# CNTFRQ_EL0: readable everywhere (EL0 when CNTKCTL_EL1.EL0PCTEN or EL0VCTEN), written
# only at the highest implemented EL: (id, features, EL, CNTKCTL_EL1, write, result:
# "ok" or "undefined")
CNTFRQ_CASES = [
    ("read_el2", Features(), 2, 0, False, "ok"),
    ("read_el1", Features(), 1, 0, False, "ok"),
    ("read_el0_el0pcten", Features(), 0, 0x1, False, "ok"),
    ("read_el0_el0vcten", Features(), 0, 0x2, False, "ok"),
    ("write_el2_highest", Features(), 2, 0, True, "ok"),
    ("write_el1_with_el2_undefined", Features(), 1, 0, True, "undefined"),
    ("write_el0_undefined", Features(), 0, 0x3, True, "undefined"),
    ("write_el1_without_el2_highest", Features(el2=False, vhe=False), 1, 0, True, "ok"),
    ("read_el1_without_el2", Features(el2=False, vhe=False), 1, 0, False, "ok"),
]


@pytest.mark.parametrize("features, el, kctl, write, result",
                         [pytest.param(*r[1:], id=r[0]) for r in CNTFRQ_CASES])
def test_cntfrq_el0(features, el, kctl, write, result):
    lines = ("msr cntfrq_el0, x1", "mrs x0, cntfrq_el0") if write else ("mrs x0, cntfrq_el0",)
    core = timer_core(*lines, features=features, el=el, sysregs={"CNTKCTL_EL1": kctl})
    core.set_x(1, 50_000_000)
    if result == "undefined":
        target = max(el, 1)
        check_undefined(core.run(2), target,
                        VBAR1 + (LOWER if el == 0 else CUR_SPX) + SYNC)
        assert core.sysreg("CNTFRQ_EL0") == FREQ
    else:
        assert core.run(len(lines)).kind == exits.BUDGET
        assert core.x(0) == (50_000_000 if write else FREQ)


def test_cntfrq_el0_at_el0_is_trapped_without_a_counter_enabled():
    core = timer_core("mrs x3, cntfrq_el0", el=0, sysregs={"CNTKCTL_EL1": 0x300})
    check_exception(core.run(1), 1, VBAR1 + LOWER + SYNC,
                    esr(EC_SYSREG, sysreg_iss("cntfrq_el0", 3, True)), CODE)


# --- the four timers ---------------------------------------------------------------------------

@pytest.mark.parametrize("timer", list(TIMERS))
def test_timer_fires_at_cval_with_its_ppi(timer):
    ctl, cval, _, ppi, el, bits = TIMERS[timer]
    # the EL1 virtual timer compares CNTPCT - CNTVOFF_EL2 with its CVAL: 1100 - 300 = 800
    cval_value = 800 if timer == "cntv" else 1100
    core = timer_core(f"msr {cval}, x1", f"msr {ctl}, x2", LOOP, el=el, hcr_bits=bits,
                      rate=0.5, count=1000, sysregs={"CNTVOFF_EL2": 300})
    core.set_x(1, cval_value)
    core.set_x(2, ENABLE)
    core.load(READ, code(f"mrs x3, {ctl}", f"msr {ctl}, x4", f"mrs x5, {ctl}"))

    ex = core.run(100_000)
    assert (ex.kind, ex.a, core.timer_levels) == (exits.TIMER, 1 << ppi, 1 << ppi)
    assert (core.icount, core.counter) == (200, 1100)  # the count reached the compare value
    assert core.run(1000).kind == exits.BUDGET  # nothing changes while it stays asserted

    # ISTATUS; IMASK masks the output but not ISTATUS; unmasking asserts it again
    core.pc = READ
    core.set_x(4, ENABLE | IMASK)
    assert core.run(1).kind == exits.BUDGET and core.x(3) == ENABLE | ISTATUS
    ex = core.run(1)
    assert (ex.kind, ex.a, core.timer_levels) == (exits.TIMER, 0, 0)
    assert core.run(1).kind == exits.BUDGET and core.x(5) == ENABLE | IMASK | ISTATUS
    core.pc = READ + 4
    core.set_x(4, ENABLE)
    ex = core.run(1)
    assert (ex.kind, ex.a, core.timer_levels) == (exits.TIMER, 1 << ppi, 1 << ppi)

    # disabling drops the output (ISTATUS is UNKNOWN while ENABLE = 0: this core reads 0)
    core.pc = READ + 4
    core.set_x(4, 0)
    ex = core.run(1)
    assert (ex.kind, ex.a, core.timer_levels) == (exits.TIMER, 0, 0)
    assert core.run(1).kind == exits.BUDGET and core.x(5) == 0


@pytest.mark.parametrize("timer", list(TIMERS))
def test_timer_already_met_fires_when_enabled(timer):
    ctl, cval, _, ppi, el, bits = TIMERS[timer]
    core = timer_core(f"msr {cval}, x1", f"msr {ctl}, x2", "nop", el=el, hcr_bits=bits,
                      count=1000)
    core.set_x(1, 10)
    core.set_x(2, ENABLE)
    ex = core.run(10)
    assert (ex.kind, ex.a, ex.pc, core.icount) == (exits.TIMER, 1 << ppi, CODE + 8, 2)


@pytest.mark.parametrize("ctl_value", [ENABLE | IMASK, IMASK, 0],
                         ids=["masked", "disabled_masked", "disabled"])
@pytest.mark.parametrize("timer", list(TIMERS))
def test_masked_or_disabled_timer_never_asserts(timer, ctl_value):
    ctl, cval, _, _, el, bits = TIMERS[timer]
    core = timer_core(f"msr {cval}, x1", f"msr {ctl}, x2", LOOP, el=el, hcr_bits=bits,
                      count=1000)
    core.set_x(1, 1010)
    core.set_x(2, ctl_value)
    assert core.run(1000).kind == exits.BUDGET
    assert core.timer_levels == 0 and core.next_timer_deadline() is None


# the first TIMER exit comes on the instruction at which the count reaches CVAL: (id,
# counter rate, compare value - count at the start)
EXACT = [
    ("rate_1_2_d_1", 0.5, 10),
    ("rate_1_2_d_1001", 0.5, 1001),
    ("rate_5_8_d_100", 0.625, 100),
    ("rate_5_8_d_101", 0.625, 101),
    ("rate_1_8_d_77", 0.125, 77),
    ("rate_3_4_d_12345", 0.75, 12345),
]


@pytest.mark.parametrize("rate, distance", [pytest.param(*r[1:], id=r[0]) for r in EXACT])
def test_timer_exit_arrives_exactly_when_the_count_reaches_cval(rate, distance):
    base = 7_000
    core = timer_core("nop", "nop", "nop", "msr cnthp_cval_el2, x1", "msr cnthp_ctl_el2, x2",
                      LOOP, rate=rate, count=base)
    core.set_x(1, base + distance)
    core.set_x(2, ENABLE)
    n = math.ceil(distance / rate)  # the first k with floor(k * rate) >= distance
    assert n > 5
    assert core.run(5).kind == exits.BUDGET
    assert core.next_timer_deadline() == base + distance
    assert core.run(n - 1 - 5).kind == exits.BUDGET and core.timer_levels == 0
    assert core.counter == base + distance - 1
    ex = core.run(1_000_000)
    assert (ex.kind, ex.a, ex.pc) == (exits.TIMER, 1 << 26, CODE + 20)
    assert (core.icount, core.counter) == (n, base + distance)


def test_next_deadline_of_the_virtual_timer_counts_cntvoff():
    core = timer_core("msr cntv_cval_el0, x1", "msr cntv_ctl_el0, x2", LOOP, el=1,
                      count=1000, sysregs={"CNTVOFF_EL2": 300})
    core.set_x(1, 5000)
    core.set_x(2, ENABLE)
    assert core.run(2).kind == exits.BUDGET
    assert core.next_timer_deadline() == 5300


# --- TVAL ------------------------------------------------------------------------------------

# TVAL reads (CVAL - (count - offset))[31:0], zero-extended; a write sets CVAL to
# (count - offset) + SignExtend(value[31:0]). The timer is enabled and masked (TVAL is
# UNKNOWN while disabled). (id, EL, HCR_EL2 bits, CTL, CVAL and TVAL registers, CNTVOFF,
# the offset the register applies)
C = 50_000  # the count
TVAL_REGS = [
    ("cntp_el1", 1, (), "cntp_ctl_el0", "cntp_cval_el0", "cntp_tval_el0", 1000, 0),
    ("cntv_el1", 1, (), "cntv_ctl_el0", "cntv_cval_el0", "cntv_tval_el0", 1000, 1000),
    ("cntv_el2_e2h0", 2, (), "cntv_ctl_el0", "cntv_cval_el0", "cntv_tval_el0", 1000, 1000),
    ("cntv_el0", 0, (), "cntv_ctl_el0", "cntv_cval_el0", "cntv_tval_el0", 1000, 1000),
    ("cnthp_el2", 2, (), "cnthp_ctl_el2", "cnthp_cval_el2", "cnthp_tval_el2", 1000, 0),
    ("cnthv_el2_e2h1", 2, ("E2H",), "cnthv_ctl_el2", "cnthv_cval_el2", "cnthv_tval_el2",
     1000, 0),
    ("cntv_el2_e2h1_is_cnthv", 2, ("E2H",), "cntv_ctl_el0", "cntv_cval_el0",
     "cntv_tval_el0", 1000, 0),
    ("cntv_el0_host_is_cnthv", 0, ("E2H", "TGE"), "cntv_ctl_el0", "cntv_cval_el0",
     "cntv_tval_el0", 1000, 0),
    # the EL2 virtual timer never applies CNTVOFF_EL2 (CNTHV_TVAL_EL2 pseudocode)
    ("cnthv_el2_e2h0", 2, (), "cnthv_ctl_el2", "cnthv_cval_el2", "cnthv_tval_el2", 1000, 0),
    # CNTV_TVAL_EL02 is the EL1 virtual timer's view: it always applies CNTVOFF_EL2
    ("cntv_el02", 2, ("E2H",), "cntv_ctl_el02", "cntv_cval_el02", "cntv_tval_el02",
     1000, 1000),
]
# (id, CVAL - (count - offset), TVAL read)
TVAL_READS = [("ahead", 100, 100), ("behind", -5, 0xFFFF_FFFB),
              ("beyond_32_bits", 0x1_0000_0010, 0x10)]
# (id, value written to TVAL, CVAL - (count - offset))
TVAL_WRITES = [("positive", 0x7FFF_FFFF, 0x7FFF_FFFF),
               ("negative_sign_extended", 0xFFFF_FFFB, -5),
               ("upper_bits_ignored", 0xABCD_0000_0000_0040, 0x40)]


def _tval_params(ops):
    out = []
    for reg in TVAL_REGS:
        for op in ops:
            out.append(pytest.param(*reg[1:], *op[1:], id=f"{reg[0]}_{op[0]}"))
    return out


def _tval_core(lines, el, bits, cntvoff):
    return timer_core(*lines, el=el, hcr_bits=hcr(*bits), rate=0.0, count=C,
                      sysregs={"CNTVOFF_EL2": cntvoff, "CNTKCTL_EL1": 0x303,
                               "CNTHCTL_EL2": 0x303 | (0xC00 if "E2H" in bits else 0)})


@pytest.mark.parametrize("el, bits, ctl, cval, tval, cntvoff, offset, delta, read",
                         _tval_params(TVAL_READS))
def test_tval_reads_cval_minus_the_count(el, bits, ctl, cval, tval, cntvoff, offset,
                                         delta, read):
    core = _tval_core((f"msr {ctl}, x2", f"msr {cval}, x1", f"mrs x0, {tval}"), el, bits,
                      cntvoff)
    core.set_x(1, (C - offset + delta) % (1 << 64))
    core.set_x(2, ENABLE | IMASK)
    assert core.run(3).kind == exits.BUDGET
    assert core.x(0) == read


@pytest.mark.parametrize("el, bits, ctl, cval, tval, cntvoff, offset, value, delta",
                         _tval_params(TVAL_WRITES))
def test_tval_write_sets_cval(el, bits, ctl, cval, tval, cntvoff, offset, value, delta):
    core = _tval_core((f"msr {ctl}, x2", f"msr {tval}, x1", f"mrs x0, {cval}"), el, bits,
                      cntvoff)
    core.set_x(1, value)
    core.set_x(2, ENABLE | IMASK)
    assert core.run(3).kind == exits.BUDGET
    assert core.x(0) == (C - offset + delta) % (1 << 64)


# --- E2H: CNTP_*/CNTV_* at EL2 reach EL2's timers, *_EL02 reach EL1's ----------------------------

# (id, HCR_EL2 bits, EL, CVAL and CTL registers written, the PPI that fires, the register
# that then reads the CVAL written, one that must still read 0). CNTVOFF_EL2 = 0.
REDIRECTION = [
    ("el2_e2h1_cntp_is_cnthp", ("E2H",), 2, "cntp_cval_el0", "cntp_ctl_el0", 26,
     "cnthp_cval_el2", "cntp_cval_el02"),
    ("el2_e2h1_cntv_is_cnthv", ("E2H",), 2, "cntv_cval_el0", "cntv_ctl_el0", 28,
     "cnthv_cval_el2", "cntv_cval_el02"),
    ("el2_e2h1_cntp_el02_is_el1_physical", ("E2H",), 2, "cntp_cval_el02", "cntp_ctl_el02", 30,
     "cntp_cval_el02", "cnthp_cval_el2"),
    ("el2_e2h1_cntv_el02_is_el1_virtual", ("E2H",), 2, "cntv_cval_el02", "cntv_ctl_el02", 27,
     "cntv_cval_el02", "cnthv_cval_el2"),
    ("el2_e2h0_cntp_is_el1_physical", (), 2, "cntp_cval_el0", "cntp_ctl_el0", 30,
     "cntp_cval_el0", "cnthp_cval_el2"),
    ("el2_e2h0_cntv_is_el1_virtual", (), 2, "cntv_cval_el0", "cntv_ctl_el0", 27,
     "cntv_cval_el0", "cnthv_cval_el2"),
    ("el0_host_cntp_is_cnthp", ("E2H", "TGE"), 0, "cntp_cval_el0", "cntp_ctl_el0", 26,
     None, None),
    ("el0_host_cntv_is_cnthv", ("E2H", "TGE"), 0, "cntv_cval_el0", "cntv_ctl_el0", 28,
     None, None),
]


@pytest.mark.parametrize("bits, el, cval, ctl, ppi, same, other",
                         [pytest.param(*r[1:], id=r[0]) for r in REDIRECTION])
def test_timer_register_redirection(bits, el, cval, ctl, ppi, same, other):
    core = timer_core(f"msr {cval}, x1", f"msr {ctl}, x2", LOOP, el=el, hcr_bits=hcr(*bits),
                      count=1000, sysregs={"CNTHCTL_EL2": 0x303, "CNTVOFF_EL2": 0})
    core.set_x(1, 1050)
    core.set_x(2, ENABLE)
    ex = core.run(100_000)
    assert (ex.kind, ex.a, core.counter) == (exits.TIMER, 1 << ppi, 1050)
    if same is not None:  # read back at EL2 (still E2H = 1 where the row has it)
        core.load(READ, code(f"mrs x3, {same}", f"mrs x4, {other}"))
        core.pc = READ
        assert core.run(2).kind == exits.BUDGET
        assert (core.x(3), core.x(4)) == (1050, 0)


def test_el1_virtual_timer_programmed_through_el02_fires_against_cntvoff():
    # at EL2 with E2H = 1 (a VHE host running a guest's timer): count - 300 >= 750
    core = timer_core("msr cntv_cval_el02, x1", "msr cntv_ctl_el02, x2", LOOP, el=2,
                      hcr_bits=hcr("E2H"), count=1000, sysregs={"CNTVOFF_EL2": 300})
    core.set_x(1, 750)
    core.set_x(2, ENABLE)
    ex = core.run(100_000)
    assert (ex.kind, ex.a, core.counter, core.icount) == (exits.TIMER, 1 << 27, 1050, 100)


@pytest.mark.parametrize("insn", ["mrs x0, cntp_ctl_el02", "msr cntv_cval_el02, x0",
                                  "mrs x0, cntv_tval_el02", "msr cntp_tval_el02, x0"])
def test_el02_aliases_are_undefined_with_e2h_0(insn):
    core = timer_core(insn, el=2)  # a VHE CPU, E2H = 0
    check_undefined(core.run(1), 2, VBAR2 + CUR_SPX + SYNC)


@pytest.mark.parametrize("insn", ["mrs x0, cntp_ctl_el02", "mrs x0, cnthp_ctl_el2"])
def test_el02_and_el2_timers_are_undefined_at_el1(insn):
    core = timer_core(insn, el=1, hcr_bits=hcr("E2H"))
    check_undefined(core.run(1), 1, VBAR1 + CUR_SPX + SYNC)


# --- access controls -----------------------------------------------------------------------

# EL0 accesses: CNTKCTL_EL1 (or, with E2H = TGE = 1, CNTHCTL_EL2) EL0PCTEN 0, EL0VCTEN 1,
# EL0VTEN 8, EL0PTEN 9; a closed gate traps (EC 0x18) to EL1, or to EL2 when TGE = 1.
# (id, HCR_EL2 bits, CNTKCTL_EL1, CNTHCTL_EL2, instruction, None = allowed, or the EL
# trapped to). In the host rows CNTKCTL_EL1 is set to the opposite, to show it is ignored.
EL0_GATES = [
    ("cntpct_el0pcten", (), 0x001, 0x3, "mrs x1, cntpct_el0", None),
    ("cntpct_without", (), 0x302, 0x3, "mrs x1, cntpct_el0", 1),
    ("cntvct_el0vcten", (), 0x002, 0x3, "mrs x1, cntvct_el0", None),
    ("cntvct_without", (), 0x301, 0x3, "mrs x1, cntvct_el0", 1),
    ("cntp_ctl_el0pten", (), 0x200, 0x3, "mrs x1, cntp_ctl_el0", None),
    ("cntp_ctl_without", (), 0x103, 0x3, "mrs x1, cntp_ctl_el0", 1),
    ("cntp_cval_write_without", (), 0x103, 0x3, "msr cntp_cval_el0, x1", 1),
    ("cntv_ctl_el0vten", (), 0x100, 0x3, "mrs x1, cntv_ctl_el0", None),
    ("cntv_tval_without", (), 0x203, 0x3, "mrs x1, cntv_tval_el0", 1),
    ("cntv_cval_write_without", (), 0x203, 0x3, "msr cntv_cval_el0, x1", 1),
    ("tge_cntpct_without_to_el2", ("TGE",), 0x302, 0x3, "mrs x1, cntpct_el0", 2),
    ("tge_cntpct_el0pcten", ("TGE",), 0x001, 0x3, "mrs x1, cntpct_el0", None),
    ("host_cntpct_el0pcten", ("E2H", "TGE"), 0x000, 0x001, "mrs x1, cntpct_el0", None),
    ("host_cntpct_without", ("E2H", "TGE"), 0x303, 0x302, "mrs x1, cntpct_el0", 2),
    ("host_cntvct_el0vcten", ("E2H", "TGE"), 0x000, 0x002, "mrs x1, cntvct_el0", None),
    ("host_cntvct_without", ("E2H", "TGE"), 0x303, 0x301, "mrs x1, cntvct_el0", 2),
    ("host_cntp_ctl_el0pten", ("E2H", "TGE"), 0x000, 0x200, "mrs x1, cntp_ctl_el0", None),
    ("host_cntp_ctl_without", ("E2H", "TGE"), 0x303, 0x103, "mrs x1, cntp_ctl_el0", 2),
    ("host_cntv_ctl_el0vten", ("E2H", "TGE"), 0x000, 0x100, "mrs x1, cntv_ctl_el0", None),
    ("host_cntv_ctl_without", ("E2H", "TGE"), 0x303, 0x203, "msr cntv_ctl_el0, x1", 2),
    ("host_cntfrq_without_counters", ("E2H", "TGE"), 0x303, 0x300, "mrs x1, cntfrq_el0", 2),
]


def _trap_check(core, insn, target, from_el):
    mnemonic, _, ops = insn.partition(" ")
    read = mnemonic == "mrs"
    reg = ops.split(",")[1 if read else 0].strip()
    check_exception(core.run(1), target,
                    {1: VBAR1, 2: VBAR2}[target] + LOWER + SYNC if from_el < target
                    else {1: VBAR1, 2: VBAR2}[target] + CUR_SPX + SYNC,
                    esr(EC_SYSREG, sysreg_iss(reg, 1, read)), CODE)


@pytest.mark.parametrize("bits, kctl, hctl, insn, trap",
                         [pytest.param(*r[1:], id=r[0]) for r in EL0_GATES])
def test_el0_access_controls(bits, kctl, hctl, insn, trap):
    core = timer_core(insn, el=0, hcr_bits=hcr(*bits), daif=0,
                      sysregs={"CNTKCTL_EL1": kctl, "CNTHCTL_EL2": hctl})
    core.set_x(1, 0x5555)
    if trap is None:
        assert core.run(1).kind == exits.BUDGET and core.el == 0
    else:
        _trap_check(core, insn, trap, 0)


# CNTHCTL_EL2 traps of EL1 (and EL0) accesses to the physical counter (EL1PCTEN) and timer
# (EL1PCEN/EL1PTEN), to EL2: bits 0 and 1 with E2H = 0, bits 10 and 11 with E2H = 1.
# (id, HCR_EL2 bits, EL, CNTHCTL_EL2, instruction, trapped)
EL1_PHYSICAL = [
    ("e2h0_cntpct_el1pcten_0", (), 1, 0x002, "mrs x1, cntpct_el0", True),
    ("e2h0_cntpct_el1pcten_1", (), 1, 0x001, "mrs x1, cntpct_el0", False),
    ("e2h0_cntp_ctl_el1pcen_0", (), 1, 0x001, "mrs x1, cntp_ctl_el0", True),
    ("e2h0_cntp_cval_write_el1pcen_0", (), 1, 0x001, "msr cntp_cval_el0, x1", True),
    ("e2h0_cntp_tval_el1pcen_1", (), 1, 0x002, "mrs x1, cntp_tval_el0", False),
    ("e2h0_cntvct_never_trapped", (), 1, 0x000, "mrs x1, cntvct_el0", False),
    ("e2h0_cntv_ctl_never_trapped", (), 1, 0x000, "mrs x1, cntv_ctl_el0", False),
    ("e2h0_bits_10_11_do_not_count", (), 1, 0xC00, "mrs x1, cntpct_el0", True),
    ("e2h0_el0_cntpct_el1pcten_0", (), 0, 0x002, "mrs x1, cntpct_el0", True),
    ("e2h1_cntpct_el1pcten_0", ("E2H",), 1, 0x803, "mrs x1, cntpct_el0", True),
    ("e2h1_cntpct_el1pcten_1", ("E2H",), 1, 0x400, "mrs x1, cntpct_el0", False),
    ("e2h1_cntp_ctl_el1pten_0", ("E2H",), 1, 0x403, "mrs x1, cntp_ctl_el0", True),
    ("e2h1_cntp_ctl_el1pten_1", ("E2H",), 1, 0x800, "msr cntp_ctl_el0, x1", False),
    ("e2h1_cntvct_never_trapped", ("E2H",), 1, 0x000, "mrs x1, cntvct_el0", False),
    ("e2h1_el0_cntp_ctl_el1pten_0", ("E2H",), 0, 0x403, "mrs x1, cntp_ctl_el0", True),
]


@pytest.mark.parametrize("bits, el, hctl, insn, trapped",
                         [pytest.param(*r[1:], id=r[0]) for r in EL1_PHYSICAL])
def test_cnthctl_traps_of_the_physical_counter_and_timer(bits, el, hctl, insn, trapped):
    core = timer_core(insn, el=el, hcr_bits=hcr(*bits), daif=0,
                      sysregs={"CNTHCTL_EL2": hctl, "CNTKCTL_EL1": 0x303})
    core.set_x(1, 0)
    if trapped:
        _trap_check(core, insn, 2, el)
    else:
        assert core.run(1).kind == exits.BUDGET and core.el == el


# --- event streams (TestEventCNTP, TestEventCNTV): when the next WFE wake-up is ---------------

# EVNTEN bit 2, EVNTDIR bit 3 (0: on a 0 -> 1 transition), EVNTI bits 7:4 (the counter bit)
def stream(bit, falling=False):
    return 1 << 2 | int(falling) << 3 | bit << 4


@pytest.mark.parametrize("hcr_bits, kctl, hctl, cntvoff, expected", [
    # the virtual counter's stream (CNTKCTL_EL1): bit 4 of CNTVCT rises at 16, 48, ...;
    # the physical count 1000 is CNTVCT 1000 - 5 = 995: the next rise is at 1008 + 5
    (hcr(), stream(4), 0, 5, 1013),
    (hcr(), stream(4, falling=True), 0, 5, 1029),  # falls at 1024 (+ 5)
    # the physical counter's (CNTHCTL_EL2) runs whatever EL the CPU is at: bit 6 rises at 1088
    (hcr(), 0, stream(6), 5, 1088),
    (hcr(), stream(8), stream(6), 0, 1088),  # both: the sooner (virtual bit 8 rises at 1280)
    (hcr(), stream(3), stream(6), 0, 1016),  # (bit 3 rises at 16k + 8: 1000 is one, 1016 next)
    # with E2H and TGE set CNTKCTL_EL1 makes no stream: only CNTHCTL_EL2's
    (hcr("E2H", "TGE"), stream(3), stream(6), 0, 1088),
    (hcr("E2H", "TGE"), stream(3), 0, 0, None),
    (hcr(), 0, 0, 0, None),
])
def test_both_event_streams_wake_a_wfe(hcr_bits, kctl, hctl, cntvoff, expected):
    core = timer_core(LOOP, el=1, hcr_bits=hcr_bits, features=Features(el2=True, vhe=True),
                      sysregs={"CNTKCTL_EL1": kctl, "CNTHCTL_EL2": hctl,
                               "CNTVOFF_EL2": cntvoff})
    assert core.counter == 1000
    assert core.next_event_stream() == expected
