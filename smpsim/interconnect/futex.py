"""Blocking on a 32-bit word of shared memory until another process changes it (Linux
futex(2), shared across processes, through ctypes), so that a waiting CPU process
sleeps in the kernel and wakes within microseconds of its doorbell ringing, with no
socket in between.

Where futexes are not available (not Linux, or an architecture whose syscall number
we do not know), `wait` degrades to a short sleep: still correct, only slower to wake.
"""

from __future__ import annotations

import ctypes
import platform
import sys
import time

_FUTEX_WAIT, _FUTEX_WAKE = 0, 1  # without FUTEX_PRIVATE_FLAG: the word is shared memory
_SYS_FUTEX = {"x86_64": 202, "aarch64": 98}.get(platform.machine())
_POLL_FALLBACK = 0.0005  # seconds a waiter without futexes sleeps between looks


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_libc = None
if sys.platform.startswith("linux") and _SYS_FUTEX is not None:
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
        _syscall = _libc.syscall
    except (OSError, AttributeError):
        _libc = None

AVAILABLE = _libc is not None


def wait(address: int, expected: int, timeout: float) -> None:
    """Sleep while the uint32 at `address` holds `expected`, at most `timeout` seconds.
    May return early (a signal, a spurious wake): callers look again."""
    if timeout <= 0:
        return
    if _libc is None:
        time.sleep(min(timeout, _POLL_FALLBACK))
        return
    ts = _Timespec(int(timeout), int((timeout % 1.0) * 1e9))
    _syscall(_SYS_FUTEX, ctypes.c_void_p(address), _FUTEX_WAIT,
             ctypes.c_uint32(expected & 0xFFFF_FFFF), ctypes.byref(ts), None, 0)


def wake(address: int) -> None:
    """Wake every process sleeping on the uint32 at `address`."""
    if _libc is not None:
        _syscall(_SYS_FUTEX, ctypes.c_void_p(address), _FUTEX_WAKE, 0x7FFF_FFFF, None, None, 0)
