"""Performance harness for smpsim (run `python -m benchmarks.bench_core`); not a test suite."""
