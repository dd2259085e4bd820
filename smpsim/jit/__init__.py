"""The Numba-compiled AArch64 core: pure computation on arrays, no I/O.

With NUMBA_DISABLE_JIT=1 the same code runs as plain Python (slowly) for debugging;
guest arithmetic wraps modulo 2**64 there too, so NumPy's overflow warnings are off.
"""

from numba import config as _config

if _config.DISABLE_JIT:
    import numpy as _np

    _np.seterr(over="ignore")
