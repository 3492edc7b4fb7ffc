"""Reconciliation: make the catalog and the files agree after whatever happened.

Run at every start, and by ``trapd fsck``. The files are the truth and the catalog their index
(trapd/storage/catalog.py), so a power cut at any instant, or a person's hands on the card,
leaves one of these states, each repaired here:

* an event with its sidecar but no rows: indexed from the sidecar;
* a folder with JPEGs but no sidecar (cut mid-event), or with a sidecar that does not read or
  does not validate (trapd/storage/sidecar.py): moved whole to ``.trapd/quarantine``, never
  deleted, with a note saying why, for a person to look at;
* rows whose file has gone: dropped (the index must not promise what is not there), and events
  whose folder has gone with them;
* a frame file a person deleted by hand: its sidecar entry says ``removed`` (when, by fsck)
  instead of naming a file that is not there, so both exports keep working;
* a frame its sidecar marks as overwritten (``storage.when_full: overwrite``) whose file is still
  there: the deletion is finished (see trapd/storage/overwrite.py);
* leftover temporary files (``.<name>.<pid>-<tid>.tmp``): partial writes that were never visible
  under a final name; removed, in the state folder too.

Events still in the spool are recovery's (trapd/storage/recover.py), which runs first.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trapd.files import TMP_SUFFIX, fsync_dir, make_dirs_durable, write_atomic
from trapd.progress import SILENT, Progress
from trapd.storage.catalog import Catalog
from trapd.storage.effort import read_marks
from trapd.storage.layout import (
    SIDECAR_NAME,
    audit_folders,
    catalog_name,
    event_folders,
    frame_path,
    quarantine_dir,
    report_dir,
    spool_dir,
)
from trapd.storage.overwrite import finish_overwrites
from trapd.storage.sidecar import RemovedEntry, Sidecar, SidecarError, read_sidecar, write_sidecar
from trapd.timebase import iso_utc

log = logging.getLogger(__name__)

#: Written into each quarantined folder: why it is there, for the person who finds it.
QUARANTINE_NOTE = "QUARANTINED.txt"


@dataclass
class Reconciliation:
    indexed: list[str] = field(default_factory=list)  # events found on disk, added to the catalog
    quarantined: list[str] = field(default_factory=list)  # folders without a sidecar, moved aside
    dropped_rows: list[str] = field(default_factory=list)  # catalog rows whose file was gone
    removed_temporaries: list[str] = field(default_factory=list)  # partial writes, never visible
    unreadable_sidecars: list[str] = field(default_factory=list)  # quarantined as well
    finished_overwrites: list[str] = field(default_factory=list)  # deletions a power cut interrupted
    not_indexed: list[str] = field(default_factory=list)  # complete events the catalog could not take (disk full)
    dropped_events: list[str] = field(default_factory=list)  # catalog events whose folder was gone
    removed_by_hand: list[str] = field(default_factory=list)  # frame files gone; their sidecar entries now say so
    #: Why each quarantined folder was moved, by its new place.
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.indexed or self.quarantined or self.dropped_rows or self.removed_temporaries
                    or self.unreadable_sidecars or self.finished_overwrites or self.not_indexed
                    or self.dropped_events or self.removed_by_hand)

    def as_json(self) -> dict[str, Any]:
        return {"clean": self.clean, "indexed": self.indexed, "quarantined": self.quarantined,
                "dropped_rows": self.dropped_rows, "removed_temporaries": self.removed_temporaries,
                "unreadable_sidecars": self.unreadable_sidecars, "finished_overwrites": self.finished_overwrites,
                "not_indexed": self.not_indexed, "dropped_events": self.dropped_events,
                "removed_by_hand": self.removed_by_hand, "reasons": self.reasons}


def reconcile(root: Path, catalog: Catalog, progress: Progress = SILENT) -> Reconciliation:
    """Make the catalog and the files agree after whatever happened (see the module's doc)."""
    report = Reconciliation()
    _remove_temporaries(root, report)
    in_progress = _spooled_events(root)
    indexed = catalog.indexed_events()
    folders = event_folders(root)
    for folder in progress.over(folders, len(folders), "events"):
        if folder.name not in in_progress:
            _reconcile_event(root, folder, catalog, indexed, report)
    indexed = catalog.indexed_events() | set(report.not_indexed)  # not indexed yet, but complete on disk
    for folder in audit_folders(root):
        if folder.name not in indexed and folder.name not in in_progress:  # an event whose sidecar never landed
            report.quarantined.append(move_to_quarantine(root, folder, "audit frames of an event without a sidecar",
                                                         report))
    gone_events = [event_id for event_id, folder in catalog.event_folders() if not (root / folder).is_dir()]
    if gone_events:
        catalog.drop_events(gone_events)
        report.dropped_events.extend(gone_events)
    catalog.add_effort(read_marks(root))  # the effort file is the truth; the index catches up with it
    missing = [f for f in catalog.media_files() if not (root / f).is_file()]
    if missing:
        catalog.drop_media(missing)
        report.dropped_rows.extend(missing)
    if not report.clean:
        log.warning("storage reconciled: %s", json.dumps(report.as_json()))
    return report


def _remove_temporaries(root: Path, report: Reconciliation) -> None:
    """Partial writes of a killed trapd, never visible under a final name, in the state folder too (the
    spool, the status file); not in quarantine, which is a person's, nor in the report, which `trapd report`
    may be writing right now."""
    spared = (quarantine_dir(root), report_dir(root))
    for temporary in sorted(p for p in root.rglob(f".*{TMP_SUFFIX}") if not any(s in p.parents for s in spared)):
        temporary.unlink()
        report.removed_temporaries.append(temporary.relative_to(root).as_posix())


def _spooled_events(root: Path) -> set[str]:
    """Events whose frames are still in the spool: recovery's (trapd/storage/recover.py), not reconciliation's."""
    spool = spool_dir(root)
    return {p.name for p in spool.iterdir() if p.is_dir()} if spool.is_dir() else set()


def _reconcile_event(root: Path, folder: Path, catalog: Catalog, indexed: set[str], report: Reconciliation) -> None:
    if not (folder / SIDECAR_NAME).is_file():
        report.quarantined.append(move_to_quarantine(root, folder, "no sidecar: cut short before it was written",
                                                     report))
        return
    try:
        sidecar = read_sidecar(folder)
    except (OSError, SidecarError) as exc:
        reason = f"sidecar cannot be read: {exc.strerror or exc}" if isinstance(exc, OSError) else \
            f"sidecar is not valid: {exc}"
        report.unreadable_sidecars.append(move_to_quarantine(root, folder, reason, report))
        return
    report.finished_overwrites.extend(p.relative_to(root).as_posix() for p in finish_overwrites(folder, sidecar))
    sidecar, removed = _note_removed_files(root, folder, sidecar)
    report.removed_by_hand.extend(removed)
    if sidecar.event_id in indexed and not removed:
        return
    try:
        catalog.add_event(folder, sidecar)
    except sqlite3.OperationalError as exc:  # a full card: the files stay the truth; the next start indexes it
        log.error("event %s not indexed (%s); it will be at the next start", sidecar.event_id, exc)
        report.not_indexed.append(sidecar.event_id)
        return
    if sidecar.event_id not in indexed:
        report.indexed.append(sidecar.event_id)


def _note_removed_files(root: Path, folder: Path, sidecar: Sidecar) -> tuple[Sidecar, list[str]]:
    """A frame file a person deleted: the sidecar says so (``removed``), rather than naming a file that is not there."""
    now = iso_utc(datetime.now(UTC))
    removed: list[str] = []
    frames = []
    for frame in sidecar.frames:
        if frame.file is not None and not frame_path(folder, frame.file).is_file():
            removed.append(catalog_name(root, frame_path(folder, frame.file)))
            frame = frame.model_copy(update={"file": None,
                                             "removed": RemovedEntry(file=frame.file, utc=now, by="fsck")})
        frames.append(frame)
    if not removed:
        return sidecar, []
    sidecar = sidecar.model_copy(update={"frames": tuple(frames)})
    write_sidecar(folder, sidecar)
    log.warning("event %s: %d frame files were deleted by hand; its sidecar now says so", sidecar.event_id,
                len(removed))
    return sidecar, removed


def move_to_quarantine(root: Path, folder: Path, reason: str, report: Reconciliation) -> str:
    """Move a folder aside, whole, under .trapd/quarantine (kept for a person: never deleted), saying why."""
    destination = quarantine_dir(root) / folder.relative_to(root)
    make_dirs_durable(destination.parent)
    shutil.move(os.fspath(folder), os.fspath(destination))
    fsync_dir(folder.parent)
    fsync_dir(destination.parent)
    note = f"{iso_utc(datetime.now(UTC))}: moved here from {folder.relative_to(root).as_posix()}: {reason}\n"
    try:
        write_atomic(destination / QUARANTINE_NOTE, note.encode())
    except OSError as exc:  # a full card: the folder is safe, only the note is missing; the log says why
        log.error("quarantine note for %s not written (%s)", destination, exc.strerror or exc)
    log.warning("event folder %s quarantined (%s); moved to %s", folder, reason, destination)
    name = destination.relative_to(root).as_posix()
    report.reasons[name] = reason
    return name
