"""Shared test set-up: compile the jit core once per test session, up front, so that the
first test that runs a core does not carry the (cold, ~30 s) Numba compile alone."""

import struct

import numpy as np
import pytest

from smpsim.jit.core import Core


@pytest.fixture(scope="session", autouse=True)
def compiled_core():
    core = Core(np.zeros(4096, dtype=np.uint8), ram_base=0x4000_0000)
    core.load(0x4000_0000, struct.pack("<I", 0xD4400000))  # hlt #0
    core.pc = 0x4000_0000
    core.run(1)
    return core
