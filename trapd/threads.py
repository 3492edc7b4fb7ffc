"""Threads the kernel can name: `top -H`, `ps -L` and /proc show ``trapd-detect``, not ``python3``.

Python 3.11 names its threads for itself only. A field engineer asking which stage eats the CPU,
and tools/energy.py measuring each stage's CPU time, read the kernel's name (at most 15 bytes).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading

log = logging.getLogger(__name__)

_PR_SET_NAME = 15
_libc: ctypes.CDLL | None = None


def name_this_thread() -> None:
    """Give the calling thread's Python name to the kernel; nothing happens where that cannot be done."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        _libc.prctl(_PR_SET_NAME, threading.current_thread().name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError) as exc:  # not Linux, or no libc: the names are a convenience
        log.debug("thread name not given to the kernel: %s", exc)
