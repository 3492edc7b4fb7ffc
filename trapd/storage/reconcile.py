"""Reconciliation: make the catalog and the files agree after whatever happened.

Run at every start, and by ``trapd fsck``. The files are the truth and the catalog their index
(trapd/storage/catalog.py), so a power cut at any instant, or a person's hands on the card,
leaves one of these states, each repaired here:

* an event with its sidecar but no rows: indexed from the sidecar;
* a folder with JPEGs but no sidecar (cut mid-event), or with a sidecar that does not read or
  does not validate (trapd/storage/sidecar.py): moved whole to ``.trapd/quarantine``, never
  deleted, with a note saying why, for a person to look at;
* rows whose file has gone: dropped (the index must not promise what is not there);
* a frame its sidecar marks as overwritten (``storage.when_full: overwrite``) whose file is still
  there: the deletion is finished (see trapd/storage/overwrite.py);
* leftover temporary files (``.<name>.<pid>-<tid>.tmp``): partial writes that were never visible
  under a final name; removed.
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
from trapd.storage.catalog import Catalog
from trapd.storage.layout import SIDECAR_NAME, audit_folders, event_folders, quarantine_dir, state_dir
from trapd.storage.overwrite import finish_overwrites
from trapd.storage.sidecar import SidecarError, read_sidecar
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
    #: Why each quarantined folder was moved, by its new place.
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.indexed or self.quarantined or self.dropped_rows or self.removed_temporaries
                    or self.unreadable_sidecars or self.finished_overwrites or self.not_indexed)

    def as_json(self) -> dict[str, Any]:
        return {"clean": self.clean, "indexed": self.indexed, "quarantined": self.quarantined,
                "dropped_rows": self.dropped_rows, "removed_temporaries": self.removed_temporaries,
                "unreadable_sidecars": self.unreadable_sidecars, "finished_overwrites": self.finished_overwrites,
                "not_indexed": self.not_indexed, "reasons": self.reasons}


def reconcile(root: Path, catalog: Catalog) -> Reconciliation:
    """Make the catalog and the files agree after whatever happened (see the module's doc)."""
    report = Reconciliation()
    for temporary in sorted(p for p in root.rglob(f".*{TMP_SUFFIX}") if state_dir(root) not in p.parents):
        temporary.unlink()
        report.removed_temporaries.append(temporary.relative_to(root).as_posix())
    indexed = catalog.indexed_events()
    for folder in event_folders(root):
        if not (folder / SIDECAR_NAME).is_file():
            report.quarantined.append(_quarantine(root, folder, "no sidecar: cut short before it was written",
                                                  report))
            continue
        try:
            sidecar = read_sidecar(folder)
        except (OSError, SidecarError) as exc:
            reason = f"sidecar cannot be read: {exc.strerror or exc}" if isinstance(exc, OSError) else \
                f"sidecar is not valid: {exc}"
            report.unreadable_sidecars.append(_quarantine(root, folder, reason, report))
            continue
        report.finished_overwrites.extend(p.relative_to(root).as_posix() for p in finish_overwrites(folder, sidecar))
        if sidecar.event_id not in indexed:
            try:
                catalog.add_event(folder, sidecar)
            except sqlite3.OperationalError as exc:  # a full card: the files stay the truth; the next start indexes it
                log.error("event %s not indexed (%s); it will be at the next start", sidecar.event_id, exc)
                report.not_indexed.append(sidecar.event_id)
                continue
            report.indexed.append(sidecar.event_id)
    indexed = catalog.indexed_events() | set(report.not_indexed)  # not indexed yet, but complete on disk
    for folder in audit_folders(root):
        if folder.name not in indexed:  # audit frames of an event whose sidecar never landed
            report.quarantined.append(_quarantine(root, folder, "audit frames of an event without a sidecar",
                                                  report))
    missing = [f for f in catalog.media_files() if not (root / f).is_file()]
    if missing:
        catalog.drop_media(missing)
        report.dropped_rows.extend(missing)
    if not report.clean:
        log.warning("storage reconciled: %s", json.dumps(report.as_json()))
    return report


def _quarantine(root: Path, folder: Path, reason: str, report: Reconciliation) -> str:
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
