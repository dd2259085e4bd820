"""The jit core is cached as one unit: editing any of its modules drops every cached
function, so no function keeps machine code that inlined the old version of another."""

import pathlib

from smpsim.jit import compile as jit_compile


def test_an_edit_to_any_module_drops_the_whole_cache(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 1\n")
    cache = jit_compile.cache_dir(tmp_path)
    cache.mkdir(parents=True, exist_ok=True)
    assert jit_compile.drop_stale_cache(tmp_path) is True  # no stamp yet
    for name in ("a.f-1.py311.nbi", "a.f-1.py311.1.nbc", "b.g-3.py311.nbi"):
        (cache / name).write_bytes(b"")
    (cache / "other.h-1.py311.nbi").write_bytes(b"")  # not ours: kept
    assert jit_compile.drop_stale_cache(tmp_path) is False  # nothing changed
    assert len(list(cache.glob("a.*"))) == 2

    (tmp_path / "b.py").write_text("y = 2\n")
    assert jit_compile.drop_stale_cache(tmp_path) is True
    assert sorted(p.name for p in cache.iterdir() if p.suffix in (".nbi", ".nbc")) == \
        ["other.h-1.py311.nbi"]


def test_the_digest_covers_the_spec_file(tmp_path):
    (tmp_path / "a.py").write_text("")
    (tmp_path / "a64.decode").write_text("A 0 x:31\n")
    before = jit_compile.sources_digest(tmp_path)
    (tmp_path / "a64.decode").write_text("A 1 x:31\n")
    assert jit_compile.sources_digest(tmp_path) != before


def test_the_cache_directory_is_numbas_own_choice(tmp_path):
    """With NUMBA_CACHE_DIR set, the stale-cache check looks where Numba caches."""
    import os
    import subprocess
    import sys
    code = "from smpsim.jit import compile as c; print(c.cache_dir())"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out.startswith(str(tmp_path))
    assert (pathlib.Path(out) / "smpsim-jit-sources.sha256").exists()


def test_cache_is_warm_needs_the_current_sources_and_the_run_loop(tmp_path):
    from smpsim.jit import compile as jit_compile

    jit_compile.warm_cache()
    assert jit_compile.cache_is_warm()
    stamp = jit_compile.cache_dir() / jit_compile._STAMP
    digest = stamp.read_text()
    try:
        stamp.write_text("0" * 64)  # as if the sources had changed since
        assert not jit_compile.cache_is_warm()
    finally:
        stamp.write_text(digest)
    assert jit_compile.cache_is_warm()
