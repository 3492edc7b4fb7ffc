"""The catalog: an SQLite index of events, media and detections that a power cut cannot desync.

The files are the truth and the catalog is an index of them, so the write order is: JPEGs
(each atomic), then the sidecar (atomic: the event is now complete on disk), then one
transaction for the catalog. A cut at any instant leaves a state that reconciliation
(trapd/storage/reconcile.py, at every start and in ``trapd fsck``) repairs.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from trapd.errors import InputError, StorageError
from trapd.files import make_dirs_durable
from trapd.storage.layout import BRIM_FULL_BYTES, catalog_name, catalog_path, frame_path, lock_path, state_dir
from trapd.storage.lock import StorageLock
from trapd.storage.sidecar import Sidecar
from trapd.timebase import iso_utc

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, deployment_id TEXT NOT NULL, folder TEXT NOT NULL, start_utc TEXT NOT NULL,
    end_utc TEXT NOT NULL, capture_method TEXT NOT NULL, keep INTEGER NOT NULL, reason TEXT NOT NULL,
    detector TEXT, detector_sha256 TEXT, boot_id TEXT, clock_synced INTEGER
);
CREATE TABLE IF NOT EXISTS media (
    media_id TEXT PRIMARY KEY, event_id TEXT NOT NULL REFERENCES events(event_id) ON DELETE CASCADE,
    file TEXT NOT NULL UNIQUE, capture_utc TEXT NOT NULL, audit INTEGER NOT NULL, reason TEXT NOT NULL,
    flags TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS detections (
    media_id TEXT NOT NULL REFERENCES media(media_id) ON DELETE CASCADE, number INTEGER NOT NULL,
    category TEXT NOT NULL, label TEXT NOT NULL, score REAL NOT NULL,
    x REAL NOT NULL, y REAL NOT NULL, width REAL NOT NULL, height REAL NOT NULL,
    PRIMARY KEY (media_id, number)
);
CREATE TABLE IF NOT EXISTS effort (
    utc TEXT NOT NULL, deployment_id TEXT NOT NULL, mark TEXT NOT NULL, boot_id TEXT,
    PRIMARY KEY (utc, deployment_id, mark)
);
"""


@contextmanager
def offline_catalog(root: Path) -> Iterator[Catalog]:
    """The catalog of a storage no daemon is running on (fsck, fix-time): locked while in use."""
    if not state_dir(root).is_dir():
        raise InputError(f"{root} is not a trapd storage (no {state_dir(root).name}); "
                         "pass the --storage the trap wrote to")
    lock = StorageLock(lock_path(root))
    lock.acquire()  # a running daemon owns its storage: stop it first
    try:
        catalog = Catalog(root)
        try:
            yield catalog
        finally:
            catalog.close()
    finally:
        lock.release()


def catalog_unless_full(root: Path) -> Catalog | None:
    """The catalog, or None on a card too full for SQLite to open it (it needs room for its WAL).

    The files are the truth, so the daemon can run without its index: events are stored as
    files and the next start, with room, indexes them.
    """
    try:
        return Catalog(root)
    except sqlite3.OperationalError as exc:
        if shutil.disk_usage(root).free >= BRIM_FULL_BYTES:  # not for want of room for its WAL files
            raise StorageError(f"catalog {catalog_path(root)} cannot be opened ({exc}); move it aside and run "
                               "`trapd fsck`, which rebuilds it from the event sidecars") from None
        log.error("catalog %s cannot be opened on a full card (%s): events are stored as files and indexed "
                  "at the next start with room", catalog_path(root), exc)
        return None


class EffortEntry(Protocol):
    """An effort mark, as trapd/storage/effort.py records it."""

    @property
    def utc(self) -> datetime: ...
    @property
    def deployment_id(self) -> str: ...
    @property
    def mark(self) -> str: ...
    @property
    def boot_id(self) -> str | None: ...


class Catalog:
    """The index. Thread-safe: the store stage writes events while other threads record effort."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.RLock()
        make_dirs_durable(state_dir(root))
        self._db = sqlite3.connect(catalog_path(root), isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a committed event survives a power cut
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(SCHEMA)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def add_event(self, folder: Path, sidecar: Sidecar) -> None:
        """Index one event from its sidecar, all rows or none."""
        relative = folder.relative_to(self.root).as_posix()
        detector, decision = sidecar.detector, sidecar.decision
        with self._transaction():
            self._db.execute("DELETE FROM events WHERE event_id = ?", (sidecar.event_id,))
            self._db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sidecar.event_id, sidecar.deployment_id, relative, sidecar.start_utc, sidecar.end_utc,
                 sidecar.capture_method, int(decision.keep), decision.reason, detector.name, detector.sha256,
                 sidecar.boot_id, None if sidecar.clock_synced is None else int(sidecar.clock_synced)),
            )
            for frame in sidecar.frames:
                if not frame.file:
                    continue
                file = catalog_name(self.root, frame_path(folder, frame.file))
                media_id = Path(frame.file).stem
                self._db.execute(
                    "INSERT INTO media VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (media_id, sidecar.event_id, file, frame.capture_utc, int(frame.audit), frame.reason,
                     ",".join(frame.flags)),
                )
                for number, d in enumerate(frame.detections):
                    self._db.execute("INSERT INTO detections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                     (media_id, number, d.category, d.label, d.score, *d.bbox))

    def add_effort(self, marks: Iterable[EffortEntry]) -> None:
        """Index effort marks (trapd/storage/effort.py); a mark already indexed is left as it is."""
        with self._transaction():
            self._db.executemany("INSERT OR IGNORE INTO effort VALUES (?, ?, ?, ?)",
                                 [(iso_utc(m.utc), m.deployment_id, m.mark, m.boot_id) for m in marks])

    def indexed_events(self) -> set[str]:
        return {row[0] for row in self._rows("SELECT event_id FROM events")}

    def _rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def event_folders(self) -> list[tuple[str, str]]:
        """(event id, folder relative to the root) of every indexed event."""
        return self._rows("SELECT event_id, folder FROM events")

    def drop_events(self, event_ids: list[str]) -> None:
        """Forget events, with their media and detections."""
        with self._transaction():
            self._db.executemany("DELETE FROM events WHERE event_id = ?", [(e,) for e in event_ids])

    def media_files(self) -> list[str]:
        return [row[0] for row in self._rows("SELECT file FROM media")]

    def counts(self) -> dict[str, int]:
        return {table: self._rows(f"SELECT COUNT(*) FROM {table}")[0][0] for table in ("events", "media", "detections")}

    def expendable_media(self, tier: str, limit: int) -> list[tuple[str, str]]:
        """(event folder, media file) that ``storage.when_full: overwrite`` may delete in this tier, oldest first.

        ``audit``: audit-sample frames; ``undetected``: kept frames of events whose kept frames have
        no detection and no classifier's second opinion; ``detected``: any kept frame (see
        trapd/storage/overwrite.py).
        """
        where = {
            "audit": "m.audit = 1",
            # A frame kept on a classifier's word has no detection rows, but is evidence all the same.
            "undetected": "m.audit = 0 AND NOT EXISTS (SELECT 1 FROM media k LEFT JOIN detections d "
                          "ON d.media_id = k.media_id WHERE k.event_id = m.event_id AND k.audit = 0 "
                          "AND (d.media_id IS NOT NULL OR k.reason LIKE 'second opinion:%'))",
            "detected": "m.audit = 0",
        }[tier]
        return self._rows(f"SELECT e.folder, m.file FROM media m JOIN events e USING (event_id) WHERE {where} "
                          "ORDER BY m.capture_utc, m.file LIMIT ?", (limit,))

    def drop_media(self, files: list[str]) -> None:
        with self._transaction():
            self._db.executemany("DELETE FROM media WHERE file = ?", [(f,) for f in files])

    def _transaction(self) -> Any:
        return _Transaction(self._db, self._lock)


class _Transaction:
    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()
