"""smpsim: a process-per-CPU AArch64 multi-core simulator."""

__version__ = "0.1.0"
