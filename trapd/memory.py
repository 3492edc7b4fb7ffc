"""Frame-sized memory goes back to the system when a frame is let go.

A frame is one allocation of megabytes (9.2 MB at 2028x1520). glibc's malloc serves such a block
from mmap, but after the first one is freed it raises its mmap threshold to that size, and from
then on frames come from the heap: freed, they stay in the process as free heap, one burst's worth
per thread that touched them. Measured with tools/soak.py: a lingering animal left the trap 123 MB
above its armed baseline; with the threshold fixed at 1 MiB, 19 MB. A fixed threshold (which also
stops the adjusting) keeps every frame-sized block in mmap, returned whole on free.

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


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold at 1 MiB; True if the allocator took it."""
    libc = _glibc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    taken = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    if not taken:
        log.debug("malloc did not take an mmap threshold of %d bytes", MMAP_THRESHOLD_BYTES)
    return taken


def trim_free_memory() -> None:
    """Hand free heap pages back to the system (glibc's malloc_trim): after an event, a trap that waits for
    days for the next one should not hold what the last one used."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
