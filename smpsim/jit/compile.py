"""How every function of the jit core is compiled and cached.

`jit` is `numba.njit` with the compile cache on and Numba's reference-counting runtime
(NRT) off. The core never allocates arrays; it only works on arrays its caller owns
for the whole call. With NRT on, every call that LLVM does not inline increments and
decrements the reference counts of its array arguments with atomic instructions,
which measured ~20 ns per call: more than most instructions take to interpret.
(`_nrt` is a Numba flag without a public spelling; pyproject.toml pins the Numba
versions it was measured with.)

Numba checks a cached function against its own source file only, so after an edit
to one module, a function of another module that inlined the old code would load
stale machine code. The core is therefore cached as one unit: when the digest of
all its sources changes, every cached function of the package is dropped.

Switches are compiled without jump tables (`_NO_JUMP_TABLES`). The run loop's
dispatch on the op id is a switch; as a jump table it is one host indirect branch per
guest instruction, and the host's indirect-branch predictor holds the history of only
about 1,500 of them: on a random stream of 4,000 instructions the interpreter fell
from ~400 to ~110 MIPS. Lowered as a binary search of conditional branches, whose
predictor is far larger, the same stream runs at ~340 MIPS; a tight loop loses ~15%
(more branches to predict). benchmarks/README.md has the figures. The option is
LLVM's and process-wide: it applies to whatever Numba compiles in this process.
"""

from __future__ import annotations

import hashlib
import pathlib

import llvmlite.binding
from numba import njit

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
_STAMP = "smpsim-jit-sources.sha256"


def sources_digest(package_dir: pathlib.Path = PACKAGE_DIR) -> str:
    h = hashlib.sha256()
    for path in sorted(package_dir.glob("*.py")) + sorted(package_dir.glob("*.decode")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def cache_dir(package_dir: pathlib.Path = PACKAGE_DIR) -> pathlib.Path:
    """Where Numba caches the functions of this package (as Numba's own locators decide)."""
    from numba.core import caching

    source = str(package_dir / "compile.py")
    # the locator list is internal to Numba (named CacheImpl, earlier _CacheImpl): a
    # Numba without it fails here, loudly, rather than leave a stale cache in place
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
    for locator in impl._locator_classes:
        found = locator.from_function(sources_digest, source)  # any function of the package
        if found is not None:
            return pathlib.Path(found.get_cache_path())
    return package_dir / "__pycache__"


def drop_stale_cache(package_dir: pathlib.Path = PACKAGE_DIR) -> bool:
    """Remove this package's cached functions if its sources changed; True if it did."""
    directory = cache_dir(package_dir)
    stamp = directory / _STAMP
    digest = sources_digest(package_dir)
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    modules = {p.stem for p in package_dir.glob("*.py")}
    try:
        for entry in directory.iterdir():
            if entry.suffix in (".nbi", ".nbc") and entry.name.split(".", 1)[0] in modules:
                entry.unlink(missing_ok=True)
        stamp.write_text(digest)
    except OSError:
        pass  # a read-only or missing cache directory: Numba will not cache there either
    return True


def cache_is_warm(package_dir: pathlib.Path = PACKAGE_DIR) -> bool:
    """Whether the run loop is in the cache for these sources (a process that builds a
    Core then loads it rather than compiling for ~40 s)."""
    directory = cache_dir(package_dir)
    try:
        if (directory / _STAMP).read_text() != sources_digest(package_dir):
            return False
    except OSError:
        return False
    return any(directory.glob("interpreter.run-*.nbi"))


def warm_cache() -> None:
    """Compile the core into the cache (what `smpsim compile` does)."""
    import numpy as np

    from smpsim.jit.core import Core

    core = Core(np.zeros(4096, dtype=np.uint8))
    core.load(core.ram_base, (0xD4400000).to_bytes(4, "little"))  # hlt #0
    core.pc = core.ram_base
    core.run(1)


_NO_JUMP_TABLES = "-min-jump-table-entries=1000000"
llvmlite.binding.set_option("smpsim", _NO_JUMP_TABLES)
drop_stale_cache()
jit = njit(cache=True, _nrt=False)
# for the executors of the common ops: Numba inlines them into the run loop itself, as
# LLVM would not (a call that passes the state arrays costs several nanoseconds)
jit_inline = njit(cache=True, _nrt=False, inline="always")
