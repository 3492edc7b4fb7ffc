"""``storage.when_full: overwrite``: make room by deleting the oldest expendable frames.

What goes first, oldest first within each tier:

1. ``audit``: frames the filter discarded and kept only as an audit sample;
2. ``undetected``: kept frames of events in which no kept frame has a detection or a
   classifier's second opinion (no detector, fail-open, detector errors, time-lapse of an
   empty scene);
3. ``detected``: everything else, and only with ``storage.overwrite_detections: true``.

Sidecars always stay: the record that an event happened, and what was detected, outlives its
pictures.

A deletion must survive a power cut at any instant, so it runs in the catalog's own order, the
files being the truth and the catalog their index:

1. the event's sidecar is rewritten (atomically) with the frame's ``file`` moved to
   ``overwritten``: from now on no reader counts on the file;
2. the file is unlinked (and its folder fsynced);
3. the catalog re-indexes the event.

A cut after step 1 leaves a file that no sidecar claims; :func:`finish_overwrites`, run by every
reconciliation, unlinks it. A cut after step 2 leaves catalog rows without a file, which
reconciliation drops. No state leaves a sidecar or a row promising a file that is not there.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from trapd.files import fsync_dir
from trapd.storage.catalog import Catalog
from trapd.storage.layout import AUDIT_DIR_NAME, catalog_name, frame_path
from trapd.storage.sidecar import OverwriteTier, OverwrittenEntry, Sidecar, read_sidecar, write_sidecar
from trapd.timebase import iso_utc

log = logging.getLogger(__name__)

#: Candidates fetched from the catalog at a time; each is re-checked against the free space.
_BATCH = 64


@dataclass
class Overwritten:
    """What one call to :meth:`Overwriter.make_room` deleted."""

    frames: dict[str, int] = field(default_factory=dict)  # per tier
    freed_bytes: int = 0
    #: True when the free-space target was reached; False: nothing more may be deleted.
    enough: bool = True

    @property
    def total(self) -> int:
        return sum(self.frames.values())


class Overwriter:
    """Deletes expendable frames, oldest first, until ``room_left_mb()`` reaches ``target_mb``."""

    def __init__(self, catalog: Catalog, room_left_mb: Callable[[], float], *,
                 target_mb: float, include_detections: bool) -> None:
        self._root = catalog.root
        self._catalog = catalog
        self._room_left_mb = room_left_mb
        self._target_mb = target_mb
        self._tiers: tuple[OverwriteTier, ...] = (
            ("audit", "undetected", "detected") if include_detections else ("audit", "undetected")
        )

    def make_room(self) -> Overwritten:
        done = Overwritten()
        for tier in self._tiers:
            while self._room_left_mb() < self._target_mb:
                candidates = self._catalog.expendable_media(tier, _BATCH)
                if not candidates:
                    break
                for folder, files in _by_event(candidates):
                    done.freed_bytes += overwrite_frames(self._root, self._root / folder, files, tier,
                                                         self._catalog)
                    done.frames[tier] = done.frames.get(tier, 0) + len(files)
                    if self._room_left_mb() >= self._target_mb:
                        return done
        done.enough = self._room_left_mb() >= self._target_mb
        return done


def overwrite_frames(root: Path, folder: Path, files: list[str], tier: OverwriteTier, catalog: Catalog | None) -> int:
    """Delete some frames of one event in the crash-safe order of this module; returns bytes freed.

    ``files`` are paths relative to the storage root, as the catalog holds them.
    """
    sidecar = read_sidecar(folder)
    doomed = set(files)
    now = iso_utc(datetime.now(UTC))
    victims: list[Path] = []
    frames = []
    for frame in sidecar.frames:
        path = frame_path(folder, frame.file) if frame.file else None
        if frame.file is not None and path is not None and catalog_name(root, path) in doomed:
            frame = frame.model_copy(update={"file": None,
                                             "overwritten": OverwrittenEntry(file=frame.file, utc=now, tier=tier)})
            victims.append(path)
        frames.append(frame)
    sidecar = sidecar.model_copy(update={"frames": tuple(frames)})
    write_sidecar(folder, sidecar)  # 1. nobody counts on them now
    freed = sum(_unlink(path) for path in victims)  # 2.
    if catalog is not None:
        catalog.add_event(folder, sidecar)  # 3.
    return freed


def finish_overwrites(folder: Path, sidecar: Sidecar) -> list[Path]:
    """Unlink the files a sidecar marks as overwritten but that a power cut left behind."""
    leftovers = [frame_path(folder, frame.overwritten.file) for frame in sidecar.frames if frame.overwritten]
    leftovers = [path for path in leftovers if path.is_file()]
    for path in leftovers:
        _unlink(path)
    return leftovers


def _unlink(path: Path) -> int:
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return 0
    fsync_dir(path.parent)
    if path.parent.parent.parent.name == AUDIT_DIR_NAME:  # <deployment>/audit/<day>/<event>/<frame>.jpg
        _remove_if_empty(path.parent)
    return size


def _remove_if_empty(directory: Path) -> None:
    """An audit folder emptied by overwriting goes too (and its day, if that is empty now)."""
    for folder in (directory, directory.parent):
        try:
            os.rmdir(folder)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                return  # not empty (or already gone): stop climbing
            raise
        fsync_dir(folder.parent)


def _by_event(candidates: list[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(event folder, [file, ...]) in the order the candidates came, one group per event."""
    groups: dict[str, list[str]] = {}
    for folder, file in candidates:
        groups.setdefault(folder, []).append(file)
    yield from groups.items()
