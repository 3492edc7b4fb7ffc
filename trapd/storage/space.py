"""The full card, in one place: the reserve, the ballast, overwriting and the FULL episode.

:class:`FreeSpace` answers the two questions the pipeline asks of free space:

* **may I capture?** (:meth:`FreeSpace.may_capture`), asked by the capture stage before each
  event and after each burst. Below ``storage.reserve_mb`` the answer is no: capture stops, the
  trap keeps running, and the state is FULL. Said once when it starts, once when it ends. It ends
  only when the reserve *and a whole burst* fit (the largest frame written so far, times
  ``burst.frames``): resuming on a sliver would start an event the card cannot hold. A trap that
  starts on a card with less than that starts FULL.
* **make room now** (:meth:`FreeSpace.make_room`), run by the store stage after each event, before
  a write that hit ENOSPC is retried, and when a refused trigger asks for it. With
  ``storage.when_full: overwrite`` it deletes the oldest expendable frames
  (trapd/storage/overwrite.py); otherwise it does nothing.

Threads: the capture stage owns the FULL flag and the last time it asked for room; the store stage
owns the "nothing left to overwrite" flag; the spool stage reports the size of each frame it
writes. None touches another's.

The ballast (``storage.ballast_mb`` in ``.trapd/ballast``) is given back when the card is full
to the last byte at start-up, so the catalog and overwriting can still work, and set aside again
once overwriting has made room. While it is given back its space is borrowed, not room: it never
counts towards capturing.
"""

from __future__ import annotations

import logging
import math
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from trapd.config.sections import StorageConfig
from trapd.files import write_atomic
from trapd.status import Status
from trapd.storage.catalog import Catalog
from trapd.storage.layout import BALLAST_NAME, BRIM_FULL_BYTES, state_dir
from trapd.storage.overwrite import Overwriter

log = logging.getLogger(__name__)

#: While FULL with storage.when_full: overwrite, how often a refused trigger asks again for room
#: (the last attempt may have failed: a sidecar that would not read, a card briefly unwritable).
ROOM_RETRY_S = 60.0
#: A frame's JPEG before any has been written: a 2028x1520 frame at 3 bits a pixel, generous for quality 90.
FRAME_BYTES_GUESS = 2028 * 1520 * 3 // 8


def free_mb_beyond(root: Path, reserve_mb: float) -> float:
    """Free space beyond the reserve, in MB; negative: into the reserve.

    NaN when it cannot be read: every comparison with NaN is false, so the free-space guard
    takes it as no room (capture stops) and overwriting takes it as no need (nothing deleted
    on a guess).
    """
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        return math.nan
    return free / 2**20 - reserve_mb


def release_ballast_if_brim_full(root: Path, ballast_mb: int) -> None:
    """A card full to the last byte leaves SQLite no room for its WAL and a deletion no room for
    the sidecar it rewrites first: give the ballast back so both can work."""
    path = state_dir(root) / BALLAST_NAME
    try:
        if path.exists() and shutil.disk_usage(root).free < BRIM_FULL_BYTES:
            path.unlink()
            log.warning("storage %s is full to the last byte: released the %d MB ballast so the catalog "
                        "and clean-up can work", root, ballast_mb)
    except OSError as exc:
        log.error("storage %s: the ballast could not be released (%s)", root, exc.strerror or exc)


def ensure_ballast(root: Path, ballast_mb: int, room_left_mb: Callable[[], float]) -> None:
    """Set ``storage.ballast_mb`` aside, where there is room to spare for it."""
    path = state_dir(root) / BALLAST_NAME
    size = ballast_mb * 2**20
    if not size or path.exists() or not room_left_mb() >= 2 * ballast_mb:
        return
    try:
        write_atomic(path, bytes(size))
    except OSError as exc:  # a race with something filling the card: the trap works without it
        log.warning("storage %s: the %d MB ballast could not be set aside (%s)", root, ballast_mb,
                    exc.strerror or exc)


class FreeSpace:
    def __init__(self, root: Path, config: StorageConfig, status: Status, catalog: Catalog | None, *,
                 request_room: Callable[[], None] | None = None, burst_frames: int = 1,
                 frame_bytes_guess: int = FRAME_BYTES_GUESS, on_full: Callable[[bool], None] | None = None) -> None:
        """``request_room``: how a refused trigger gets the store stage to make room (overwrite only).
        ``burst_frames`` and ``frame_bytes_guess`` size the room a resumed trap must have for one burst."""
        self.root = root
        self._config = config
        self._status = status
        self._request_room = request_room
        self._on_full = on_full
        self._burst_frames = burst_frames
        self._largest_frame_bytes = frame_bytes_guess  # spool stage writes, capture stage reads
        # storage.when_full: overwrite, where there is a catalog to choose by (a brim-full card
        # without a ballast may leave the daemon running on files alone).
        self._overwriter = (
            Overwriter(catalog, self.room_left_mb, target_mb=2 * config.overwrite_free_mb,
                       include_detections=config.overwrite_detections)
            if config.when_full == "overwrite" and catalog is not None
            else None
        )
        self._full = False  # capture stage
        self._room_asked_s = -ROOM_RETRY_S  # capture stage
        self._nothing_to_overwrite = False  # store stage

    @property
    def overwriting(self) -> bool:
        return self._overwriter is not None

    @property
    def full(self) -> bool:
        """In a FULL episode: capture is stopped until there is room."""
        return self._full

    def room_left_mb(self) -> float:
        """Free space beyond the reserve, less the ballast while it is given back (see free_mb_beyond)."""
        borrowed = 0 if (state_dir(self.root) / BALLAST_NAME).exists() else self._config.ballast_mb
        return free_mb_beyond(self.root, self._config.reserve_mb + borrowed)

    @property
    def burst_mb(self) -> float:
        """Room for one burst: what a FULL trap waits for beyond the reserve before it captures again."""
        return self._burst_frames * self._largest_frame_bytes / 2**20

    def note_frame_bytes(self, size: int) -> None:
        """The spool stage wrote a frame of this size: bursts are sized by the largest seen."""
        if size > self._largest_frame_bytes:
            self._largest_frame_bytes = size

    def check_at_start(self) -> None:
        """A card the last run left full (or too full for a burst) is FULL from the start, not from the
        first trigger; with overwrite, room is made before any trigger comes."""
        if not self.room_left_mb() >= self.burst_mb:
            self._say_full()
        self._ask_for_room()

    def may_capture(self) -> bool:
        """Before each event and burst: a full card stops capture, not the trap."""
        if self.room_left_mb() >= (self.burst_mb if self._full else 0):
            if self._full:
                self._full = False
                log.info("storage has room again: capturing")
                self._status.set_state("armed")
                if self._on_full is not None:
                    self._on_full(False)
            return True
        self._status.count("triggers_storage_full")
        self._say_full()
        self._ask_for_room()
        return False

    def _ask_for_room(self) -> None:
        """With overwrite: have the store stage make room, at most once every ROOM_RETRY_S."""
        now = time.monotonic()
        if self._overwriter is None or self._request_room is None or now - self._room_asked_s < ROOM_RETRY_S:
            return
        self._room_asked_s = now
        self._request_room()

    def _say_full(self) -> None:
        if not self._full:
            self._full = True
            log.error("storage %s is FULL (down to storage.reserve_mb): capturing stops until space is "
                      "freed; the trap keeps running", self.root)
            self._status.warn("storage reached its reserve: capture stopped (FULL)")
            self._status.set_state("full")
            if self._on_full is not None:
                self._on_full(True)

    def make_room(self) -> None:
        """With ``storage.when_full: overwrite``: below ``overwrite_free_mb`` of room, delete old expendable frames."""
        config = self._config
        if self._overwriter is None:
            return
        room_mb = self.room_left_mb()
        if math.isnan(room_mb):
            log.warning("free space of %s cannot be read: nothing overwritten on a guess", self.root)
            return
        if room_mb >= config.overwrite_free_mb:
            return
        try:
            done = self._overwriter.make_room()
        except (OSError, ValueError, sqlite3.Error) as exc:
            self._status.count("storage_errors")
            self._status.warn(f"storage.when_full: overwrite could not delete old frames: {exc}")
            log.error("storage.when_full: overwrite could not delete old frames (%s); run `trapd fsck`", exc)
            return
        if done.total:
            self._status.count("frames_overwritten", done.total)
            log.info("storage nearly full: %d old frames overwritten (%s), %.1f MB freed", done.total,
                     ", ".join(f"{tier} {count}" for tier, count in done.frames.items()), done.freed_bytes / 2**20)
        if done.enough:
            # Given back on a brim-full start: set aside again now there is room.
            ensure_ballast(self.root, config.ballast_mb, self.room_left_mb)
        if not done.enough and not self._nothing_to_overwrite:
            hint = ("" if config.overwrite_detections
                    else "; frames with detections are kept (storage.overwrite_detections)")
            self._status.warn("storage nearly full and nothing left that overwrite may delete" + hint)
            log.warning("storage nearly full and nothing left that storage.when_full: overwrite may delete%s", hint)
        self._nothing_to_overwrite = not done.enough
