"""Threads the kernel can name and rank: `top -H`, `ps -L` and /proc show ``trapd-detect``, not ``python3``.

Python 3.11 names its threads for itself only. A field engineer asking which stage eats the CPU,
and tools/energy.py measuring each stage's CPU time, read the kernel's name (at most 15 bytes).
The spool stage runs at a lower priority (nice 10): the JPEG encoder then does not make the next
trigger's capture wait for a core (BENCHMARKS.md, issue 11). Only it: the others run Python, and a
thread ranked down while it holds the GIL makes everyone wait (measured: p99 worse, not better).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading

log = logging.getLogger(__name__)

_PR_SET_NAME = 15
_libc: ctypes.CDLL | None = None


class NamedThread(threading.Thread):
    """A thread that gives its name to the kernel as it starts: every trapd thread is one."""

    def run(self) -> None:
        name_this_thread()
        super().run()


def name_this_thread() -> None:
    """Give the calling thread's Python name to the kernel; nothing happens where that cannot be done."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        _libc.prctl(_PR_SET_NAME, threading.current_thread().name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError) as exc:  # not Linux, or no libc: the names are a convenience
        log.debug("thread name not given to the kernel: %s", exc)


#: How much less a background stage thread weighs with the scheduler than capture (nice, 0..19).
BACKGROUND_NICE = 10


def run_in_background() -> None:
    """Lower the calling thread's priority: Linux ranks each thread on its own; elsewhere nothing happens."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
    except (OSError, AttributeError) as exc:
        log.debug("thread priority left as it is: %s", exc)
