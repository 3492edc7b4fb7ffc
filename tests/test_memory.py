"""What an event used goes back to the system: glibc's malloc told so at start (trapd/memory.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from trapd import memory

pytestmark = pytest.mark.skipif(memory._glibc() is None, reason="mallopt is glibc's; this C library has none")


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60,
                            check=True)
    return result.stdout + result.stderr


def arenas_after_four_threads_allocate(compact: bool) -> int:
    output = run_python(f"""
        import ctypes, threading
        from trapd.memory import _glibc, compact_malloc
        if {compact}:
            assert compact_malloc()
        def allocate():
            blocks = [bytearray(100_000) for _ in range(20)]  # beyond Python's small-object allocator: malloc's
            del blocks
        threads = [threading.Thread(target=allocate) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _glibc().malloc_stats()  # one "Arena n:" block per arena, on stderr
        """)
    return output.count("Arena ")


def test_every_thread_shares_one_arena() -> None:
    # A stage's own arena keeps what that stage freed, free to no one else: 26 MB after a 10-minute storm.
    assert arenas_after_four_threads_allocate(compact=False) > 1, "the check must see glibc's arenas"
    assert arenas_after_four_threads_allocate(compact=True) == 1


def resident_growth_mb_after_two_frames(compact: bool) -> float:
    output = run_python(f"""
        from pathlib import Path
        from trapd.memory import compact_malloc
        if {compact}:
            assert compact_malloc()
        def resident_mb():
            return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1e6
        before = resident_mb()
        for _ in range(2):  # the first frame sets glibc's adjusting threshold; the second would stay behind
            frame = bytearray(2028 * 1520 * 3)
            del frame
        print(resident_mb() - before)
        """)
    return float(output.split()[-1])


def test_a_freed_frame_goes_back_to_the_system() -> None:
    assert resident_growth_mb_after_two_frames(compact=False) > 5, "the check must see a frame stay behind"
    assert resident_growth_mb_after_two_frames(compact=True) < 1
