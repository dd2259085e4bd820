"""How every function of the jit core is compiled.

`jit` is `numba.njit` with the compile cache on and Numba's reference-counting runtime
(NRT) off. The core never allocates arrays; it only works on arrays its caller owns
for the whole call. With NRT on, every call that LLVM does not inline increments and
decrements the reference counts of its array arguments with atomic instructions,
which measured ~20 ns per call: more than most instructions take to interpret.
(`_nrt` is a Numba flag without a public spelling; pyproject.toml pins the Numba
versions it was measured with.)
"""

from numba import njit

jit = njit(cache=True, _nrt=False)
