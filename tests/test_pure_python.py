"""NUMBA_DISABLE_JIT=1 runs the jit core as plain Python, for stepping through it in a
debugger. This keeps that mode working on a debugging subset of the tests."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SUBSET = ["tests/test_core_api.py", "tests/test_decode_spec.py"]


def test_the_debugging_subset_passes_without_the_jit():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUBSET],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert " passed" in r.stdout
