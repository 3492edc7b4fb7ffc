"""Memory an event used goes back to the system when the event is done.

A frame is one allocation of megabytes (9.2 MB at 2028x1520). glibc's malloc serves such a block
from mmap, but after the first one is freed it raises its mmap threshold to that size, and from
then on frames come from the heap: freed, they stay in the process as free heap, one burst's worth
per thread that touched them. Measured with tools/soak.py: a lingering animal left the trap 123 MB
above its armed baseline; with the threshold fixed at 1 MiB, 19 MB. A fixed threshold (which also
stops the adjusting) keeps every frame-sized block in mmap, returned whole on free.

glibc also gives each thread that allocates its own arena, and what one thread frees there is free
only to the threads that share it: the smaller blocks of an event (encoded JPEGs, thumbnails,
detector outputs) left 2-4 MB of free heap in each stage's arena, and a 10-minute wind storm ended
26 MB above the armed baseline. One arena for all (``M_ARENA_MAX`` 1): 13.7 MB after 3 minutes,
against 21.5 with one per thread, and a 6 MB lower peak. The stages allocate little under the lock:
frames are mmapped, and small Python objects come from Python's own allocator.

Only glibc has mallopt; elsewhere (musl, macOS) this does nothing, and their allocators already
return large blocks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from typing import Any

log = logging.getLogger(__name__)

#: mallopt's parameter number for the mmap threshold, from glibc's <malloc.h>.
M_MMAP_THRESHOLD = -3
#: Blocks this large or larger are mmapped: every frame, no small object.
MMAP_THRESHOLD_BYTES = 1 << 20
#: mallopt's parameter number for the most arenas malloc makes, from glibc's <malloc.h>.
M_ARENA_MAX = -8
#: One arena, shared by every thread: memory one stage frees is free to all.
ARENAS = 1


@functools.cache
def _glibc() -> Any:
    """glibc, for mallopt and malloc_trim; None on any other C library."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt, libc.malloc_trim  # noqa: B018  # both exist only in glibc
    except (OSError, AttributeError):
        return None
    return libc


def compact_malloc() -> bool:
    """Fix glibc's mmap threshold at 1 MiB and share one arena among all threads; True if malloc took both.

    Call it before the stage threads start: a thread that has already allocated keeps its arena.
    """
    libc = _glibc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    taken = True
    for parameter, value in ((M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES), (M_ARENA_MAX, ARENAS)):
        if not mallopt(parameter, value):
            log.debug("malloc did not take mallopt(%d, %d)", parameter, value)
            taken = False
    return taken


def trim_free_memory() -> None:
    """Hand free heap pages back to the system (glibc's malloc_trim): after an event, a trap that waits for
    days for the next one should not hold what the last one used."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
