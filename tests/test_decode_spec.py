"""The encoding spec (smpsim/jit/a64.decode) and the decoder generated from it."""

import inspect
import random

import pytest

from smpsim.jit import a64_decoder, decodegen, ops
from smpsim.jit import branches_exceptions_system, data_processing_immediate
from smpsim.jit import data_processing_register, loads_stores

MODULES = {m.__name__.rsplit(".", 1)[1]: m for m in (
    branches_exceptions_system, data_processing_immediate, data_processing_register, loads_stores)}

SPEC = decodegen.load_spec()
IMPLEMENTED = [p for p in SPEC if p.implemented]


def test_spec_has_no_overlaps_or_dead_patterns():
    assert decodegen.check_spec(SPEC) == []


def test_generated_decoder_is_up_to_date():
    assert decodegen.DECODER_PATH.read_text() == decodegen.generate(SPEC), \
        "a64_decoder.py is stale: run python -m smpsim.jit.decodegen"


@pytest.mark.parametrize("pattern", IMPLEMENTED, ids=lambda p: p.name)
def test_decode_function_takes_the_pattern_fields(pattern):
    func = getattr(MODULES[pattern.module], pattern.name)
    params = list(inspect.signature(getattr(func, "py_func", func)).parameters)
    assert params == [f.name for f in pattern.fields]


def _field_values(pattern, word):
    return [(word >> f.lsb) & ((1 << f.width) - 1) for f in pattern.fields]


@pytest.mark.parametrize("pattern", IMPLEMENTED, ids=lambda p: p.name)
def test_decoder_routes_each_pattern_to_its_function(pattern):
    rng = random.Random(pattern.name)
    func = getattr(MODULES[pattern.module], pattern.name)
    for _ in range(50):
        word = pattern.value | (rng.getrandbits(32) & ~pattern.mask & 0xFFFF_FFFF)
        assert a64_decoder.decode(word) == func(*_field_values(pattern, word)), hex(word)


def test_words_outside_every_pattern_are_undefined():
    rng = random.Random(1)
    checked = 0
    while checked < 2000:
        word = rng.getrandbits(32)
        if any(p.matches(word) for p in IMPLEMENTED):
            continue
        assert a64_decoder.decode(word)[0] == ops.UNDEFINED, hex(word)
        checked += 1


@pytest.mark.parametrize("pattern", [p for p in SPEC if not p.implemented], ids=lambda p: p.name)
def test_unimplemented_encodings_decode_as_undefined(pattern):
    rng = random.Random(pattern.name)
    for _ in range(20):
        word = pattern.value | (rng.getrandbits(32) & ~pattern.mask & 0xFFFF_FFFF)
        if not any(p.matches(word) for p in IMPLEMENTED):
            assert a64_decoder.decode(word)[0] == ops.UNDEFINED, hex(word)


def test_every_op_is_produced_by_the_decoder():
    """No op id is dead: random words from the spec reach every op."""
    rng = random.Random(7)
    seen = set()
    for pattern in IMPLEMENTED:
        for _ in range(10000):
            word = pattern.value
            for f in pattern.fields:  # aliases live at small and all-ones field values
                value = rng.choice((rng.getrandbits(f.width), rng.randrange(min(8, 1 << f.width)),
                                    (1 << f.width) - 1))
                word |= value << f.lsb
            seen.add(int(a64_decoder.decode(word)[0]))
    missing = set(range(ops.COUNT)) - set(ops.CACHE_MARKERS) - seen
    assert not missing, sorted(ops.name(o) for o in missing)


# --- the spec checker itself ---------------------------------------------------------

def _spec(body):
    return decodegen.parse_spec("@class m\n" + body)


def test_checker_rejects_a_pattern_that_is_not_32_bits():
    with pytest.raises(decodegen.SpecError, match="31 bits"):
        _spec("A  0 Rd:30\n")


def test_checker_rejects_unreadable_tokens_and_repeated_fields():
    with pytest.raises(decodegen.SpecError, match="cannot read"):
        _spec("A  0x12 Rd:30\n")
    with pytest.raises(decodegen.SpecError, match="named twice"):
        _spec("A  Rd:16 Rd:16\n")


def test_checker_reports_overlaps_outside_groups():
    spec = _spec("A  0 x:31\nB  0 1 y:30\n")
    assert any("overlap" in p for p in decodegen.check_spec(spec))


def test_checker_allows_ordered_overlaps_inside_a_group_but_not_dead_ones():
    ok = _spec("{\nA  0 1 y:30\nB  0 x:31\n}\n")
    assert decodegen.check_spec(ok) == []
    dead = _spec("{\nB  0 x:31\nA  0 1 y:30\n}\n")
    assert any("never match" in p for p in decodegen.check_spec(dead))


def test_generator_refuses_a_bad_spec():
    with pytest.raises(decodegen.SpecError):
        decodegen.generate(_spec("A  0 x:31\nB  0 1 y:30\n"))
