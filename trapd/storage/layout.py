"""Where everything lives under a storage root: names, paths and the few constants of the layout.

A leaf: plain path arithmetic, imported by every other storage module, importing none of them::

    <root>/
      .trapd/                 state: lock, status.json, control.sock, catalog.sqlite, ballast,
                              spool/<event>/ (frames of events not closed yet), quarantine/
                              (folders a person must look at)
      report/                 `trapd report`'s pages, thumbnails and its cache: rebuilt from the rest, never
                              read by the trap (trapd/report/)
      <deployment>/
        <YYYY-MM-DD>/<event>/  kept frames <event>_<NNN>.jpg and the sidecar event.json
        audit/<YYYY-MM-DD>/<event>/   discarded frames drawn for the audit sample
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_NAME = ".trapd"
SIDECAR_NAME = "event.json"
AUDIT_DIR_NAME = "audit"
QUARANTINE_DIR_NAME = "quarantine"
#: `trapd report`'s default folder, beside the deployments; no deployment may take its name.
REPORT_DIR_NAME = "report"
#: Top-level names that are not deployments.
RESERVED_NAMES = frozenset({STATE_DIR_NAME, REPORT_DIR_NAME})
SPOOL_DIR_NAME = "spool"
#: storage.ballast_mb lives here, in the state folder.
BALLAST_NAME = "ballast"
LOCK_NAME = "lock"
CATALOG_NAME = "catalog.sqlite"
STATUS_NAME = "status.json"
#: Less free space than this is "full to the last byte": SQLite and atomic rewrites need a little.
BRIM_FULL_BYTES = 2**20


def state_dir(root: Path) -> Path:
    """Where the daemon keeps its lock, status file, catalog and control socket."""
    return root / STATE_DIR_NAME


def catalog_path(root: Path) -> Path:
    return state_dir(root) / CATALOG_NAME


def lock_path(root: Path) -> Path:
    return state_dir(root) / LOCK_NAME


def quarantine_dir(root: Path) -> Path:
    return state_dir(root) / QUARANTINE_DIR_NAME


def spool_dir(root: Path) -> Path:
    """Frames written the moment they are captured, until their event is decided. On the storage's own file
    system, so a kept frame is renamed into its event folder, never written twice."""
    return state_dir(root) / SPOOL_DIR_NAME


def event_dir(root: Path, deployment_id: str, local_day: str, event_id: str) -> Path:
    """``<root>/<deployment>/<YYYY-MM-DD>/<event>``: the site's local day, so a night stays in one folder."""
    return root / deployment_id / local_day / event_id


def audit_dir(root: Path, deployment_id: str, local_day: str, event_id: str) -> Path:
    """Discarded frames drawn for the audit sample: apart from the kept ones, same day and event."""
    return root / deployment_id / AUDIT_DIR_NAME / local_day / event_id


def frame_file_name(event_id: str, index: int) -> str:
    return f"{event_id}_{index:03d}.jpg"


def audit_reference(local_day: str, event_id: str, name: str) -> str:
    """How a sidecar names one of its audit frames: relative to the event folder."""
    return f"../../{AUDIT_DIR_NAME}/{local_day}/{event_id}/{name}"


def frame_path(folder: Path, name: str) -> Path:
    """Where a sidecar's frame file is. Names are relative to the event folder (audit frames are
    ``../../audit/...``); this is plain path arithmetic, no file-system call."""
    return Path(os.path.normpath(folder / name))


def catalog_name(root: Path, path: Path) -> str:
    """A stored file's name in the catalog and the exports: relative to the storage root, with '/'."""
    return Path(os.path.relpath(path, root)).as_posix()


def report_dir(root: Path) -> Path:
    return root / REPORT_DIR_NAME


def deployment_dirs(root: Path) -> list[Path]:
    """The top-level folders that hold a deployment's events: all but the state and report folders, and
    hidden ones, which no deployment id can name (an OS's ``.Trash-1000`` or ``.Spotlight-V100``)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name not in RESERVED_NAMES
                  and not p.name.startswith("."))


def event_folders(root: Path) -> list[Path]:
    """``<root>/<deployment>/<day>/<event>`` (audit folders are ``<deployment>/audit/<day>/<event>``)."""
    return sorted(p for deployment in deployment_dirs(root) for p in deployment.glob("*/*")
                  if p.is_dir() and p.parent.name != AUDIT_DIR_NAME)


def audit_folders(root: Path) -> list[Path]:
    return sorted(p for deployment in deployment_dirs(root) for p in deployment.glob(f"{AUDIT_DIR_NAME}/*/*")
                  if p.is_dir())
