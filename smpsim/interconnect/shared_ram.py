"""Guest physical RAM as one POSIX shared-memory segment that every CPU process maps.

The creator (the boot controller, or a test) owns the segment and unlinks it; the
processes that attach only map it. Python 3.11's resource tracker would unlink a
segment when *any* attaching process exits, so attachers unregister it from theirs.
"""

from __future__ import annotations

import os
import secrets
from multiprocessing import resource_tracker, shared_memory

import numpy as np

NAME_PREFIX = "smpsim-"


class SharedRam:
    """A shared-memory segment viewed as a uint8 array (`.array`)."""

    def __init__(self, shm: shared_memory.SharedMemory, size: int, owner: bool):
        self._shm = shm
        self.name = shm.name
        self.size = size
        self.owner = owner
        self.array = np.ndarray((size,), dtype=np.uint8, buffer=shm.buf)

    @classmethod
    def create(cls, size: int, tag: str = "ram") -> "SharedRam":
        if size <= 0 or size % 4096:
            raise ValueError(f"RAM size must be a positive multiple of 4 KiB, not {size}")
        name = f"{NAME_PREFIX}{os.getpid()}-{tag}-{secrets.token_hex(4)}"
        return cls(shared_memory.SharedMemory(name=name, create=True, size=size), size, True)

    @classmethod
    def attach(cls, name: str, size: int) -> "SharedRam":
        shm = shared_memory.SharedMemory(name=name, create=False)
        # the owner unlinks it; do not let this process's resource tracker do so too
        resource_tracker.unregister(shm._name, "shared_memory")  # noqa: SLF001
        if shm.size < size:
            shm.close()
            raise ValueError(f"shared RAM {name} has {shm.size} bytes, expected {size}")
        return cls(shm, size, False)

    def close(self) -> None:
        """Unmap (and, for the owner, remove) the segment."""
        self.array = None
        try:
            self._shm.close()
        except BufferError:
            pass  # a view is still alive somewhere; the mapping goes with the process
        if self.owner:
            try:
                self._shm.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> "SharedRam":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
