"""What a report remembers between runs, so a second run reads only the events that changed.

One JSON file in the report folder: for each event folder, the sidecar's size and mtime and the
folders' mtimes (a frame deleted by hand changes its folder's), and the event's row. An event
whose key still matches is not read again, and its thumbnails are not made again. The cache is
on the card, so it is input like the rest: one that does not read as this version wrote it is
ignored, and the report is rebuilt from the sidecars.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

from trapd import __version__
from trapd.files import write_atomic
from trapd.report.summary import EventRow
from trapd.storage.layout import SIDECAR_NAME, audit_dir

log = logging.getLogger(__name__)

CACHE_NAME = "cache.json"
#: Bumped when a row's shape changes, so an older report's cache is not read as this one's.
ROW_VERSION = 2
#: Keys of a row; a cached row without all of them is from another version or was edited.
_ROW_KEYS = frozenset(EventRow.__annotations__)

#: (sidecar mtime ns, sidecar bytes, event folder mtime ns, audit folder mtime ns or 0)
StatKey = tuple[int, int, int, int]


class EventFacts(TypedDict):
    """What the overview says of a deployment, per event: not in the pages' data, which has a row per event."""

    camera: str
    timezone: str
    #: [latitude, longitude, precision], rounded as the exports round them, or None.
    site: list[float] | None
    detector: str
    sha256: str | None


_FACT_KEYS = frozenset(EventFacts.__annotations__)


@dataclass(frozen=True, slots=True)
class CachedEvent:
    key: StatKey
    row: EventRow
    facts: EventFacts


def stat_key(folder: Path) -> StatKey | None:
    """The event's key, or None when its sidecar is not there (a cut event: reconciliation's)."""
    try:
        sidecar = (folder / SIDECAR_NAME).stat()
        own = folder.stat()
    except OSError:
        return None
    try:
        audit = audit_dir(folder.parents[2], folder.parents[1].name, folder.parent.name, folder.name).stat().st_mtime_ns
    except OSError:
        audit = 0
    return sidecar.st_mtime_ns, sidecar.st_size, own.st_mtime_ns, audit


def load_cache(out: Path) -> dict[str, CachedEvent]:
    """The cached events by folder (relative to the storage root); empty when there is no usable cache."""
    try:
        data = json.loads((out / CACHE_NAME).read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("report cache %s not read (%s); rebuilding the report", out / CACHE_NAME, exc)
        return {}
    if not isinstance(data, dict) or data.get("version") != [__version__, ROW_VERSION]:
        return {}
    events: dict[str, CachedEvent] = {}
    for folder, entry in (data.get("events") or {}).items():
        if _usable(entry):
            events[folder] = CachedEvent(cast(StatKey, tuple(entry["key"])), cast(EventRow, entry["row"]),
                                         cast(EventFacts, entry["facts"]))
    return events


def _usable(entry: Any) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("key"), list) and len(entry["key"]) == 4
            and all(isinstance(v, int) for v in entry["key"]) and isinstance(entry.get("row"), dict)
            and set(entry["row"]) == _ROW_KEYS and isinstance(entry.get("facts"), dict)
            and set(entry["facts"]) == _FACT_KEYS)


def save_cache(out: Path, events: dict[str, CachedEvent]) -> None:
    """Written last, after the thumbnails it vouches for are synced to the card."""
    data = {"version": [__version__, ROW_VERSION],
            "events": {folder: {"key": list(cached.key), "row": cached.row, "facts": cached.facts}
                       for folder, cached in events.items()}}
    os.sync()
    write_atomic(out / CACHE_NAME, json.dumps(data, separators=(",", ":")).encode())
