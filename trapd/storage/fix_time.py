"""`trapd fix-time`: shift the recorded times of a range of events (a Pi that booted with a wrong clock).

A trap without a real-time clock can run for hours on a wrong date before the network (or a
person) sets it. The monotonic times and boot id in each sidecar tell which events were taken
on that clock; this shifts their wall-clock times by a known offset in the sidecars, the EXIF of
their JPEGs and the catalog, and keeps an audit record.

It is crash-safe and idempotent: the fix is logged first (``.trapd/time-fixes.jsonl``), each
sidecar lists the fixes applied to it, and every file is replaced atomically. Run the same
command again after an interruption and it finishes the events it had not reached, shifting
none twice. EXIF is rewritten in place (the APP1 segment swapped) so no JPEG is re-encoded.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image

from trapd.files import write_atomic
from trapd.storage.catalog import Catalog
from trapd.storage.jpeg import serialise_exif, set_capture_time
from trapd.storage.layout import frame_path, state_dir
from trapd.storage.sidecar import Sidecar, read_sidecars, write_sidecar
from trapd.timebase import iso_utc, parse_utc

AUDIT_LOG = "time-fixes.jsonl"


@dataclass(frozen=True, slots=True)
class TimeFix:
    start: datetime  # recorded (wrong) start_utc range, inclusive
    end: datetime
    offset: timedelta

    @property
    def fix_id(self) -> str:
        text = f"{iso_utc(self.start)}|{iso_utc(self.end)}|{self.offset.total_seconds()}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class FixOutcome:
    shifted: list[str] = field(default_factory=list)
    #: Events this same fix had shifted before (the command run again): left as they are.
    already: list[str] = field(default_factory=list)


def fix_time(root: Path, fix: TimeFix, catalog: Catalog) -> FixOutcome:
    """Shift every event whose recorded start lies in the range, once."""
    audit = state_dir(root) / AUDIT_LOG
    entry = {"fix_id": fix.fix_id, "from": iso_utc(fix.start), "to": iso_utc(fix.end),
             "offset_s": fix.offset.total_seconds(), "logged_utc": iso_utc(datetime.now().astimezone())}
    existing = audit.read_text() if audit.exists() else ""
    if fix.fix_id not in existing:
        write_atomic(audit, (existing + json.dumps(entry) + "\n").encode())  # logged before anything moves
    outcome = FixOutcome()
    for folder, sidecar in read_sidecars(root):
        if fix.fix_id in sidecar.time_fixes:  # already shifted: re-indexed, not moved twice
            outcome.already.append(sidecar.event_id)
        elif fix.start <= parse_utc(sidecar.start_utc) <= fix.end:
            sidecar = _shift_event(folder, sidecar, fix)
            outcome.shifted.append(sidecar.event_id)
        else:
            continue
        catalog.add_event(folder, sidecar)
    return outcome


def _shift_event(folder: Path, sidecar: Sidecar, fix: TimeFix) -> Sidecar:
    """Shift one event's times in its JPEGs' EXIF, then in its sidecar (written last: it records the fix)."""
    zone = ZoneInfo(sidecar.timezone)
    frames = []
    for frame in sidecar.frames:
        frame = frame.model_copy(update={"capture_utc": _shifted(frame.capture_utc, fix.offset)})
        if frame.file:
            path = frame_path(folder, frame.file)
            if path.is_file():
                _rewrite_exif_time(path, parse_utc(frame.capture_utc).astimezone(zone))
        frames.append(frame)
    shifted = sidecar.model_copy(update={
        "start_utc": _shifted(sidecar.start_utc, fix.offset),
        "end_utc": _shifted(sidecar.end_utc, fix.offset),
        "triggers": tuple(t.model_copy(update={"utc": _shifted(t.utc, fix.offset)}) for t in sidecar.triggers),
        "frames": tuple(frames),
        "time_fixes": (*sidecar.time_fixes, fix.fix_id),
    })
    write_sidecar(folder, shifted)
    return shifted


def _shifted(text: str, offset: timedelta) -> str:
    return iso_utc(parse_utc(text) + offset)


def _rewrite_exif_time(path: Path, local: datetime) -> None:
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
    set_capture_time(exif, local)
    write_atomic(path, _with_app1(data, serialise_exif(exif)))


def _with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """The same JPEG with its EXIF APP1 segment replaced (or added): no pixel is re-encoded."""
    position, segments = 2, []
    while position + 4 <= len(jpeg) and jpeg[position] == 0xFF:
        marker = jpeg[position + 1]
        if marker in (0xDA, 0xD9):  # start of scan: the rest is image data
            break
        length = struct.unpack(">H", jpeg[position + 2:position + 4])[0]
        segment = jpeg[position:position + 2 + length]
        if not (marker == 0xE1 and segment[4:10] == b"Exif\x00\x00"):
            segments.append(segment)
        position += 2 + length
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    jfif = segments[:1] if segments and segments[0][1] == 0xE0 else []  # JFIF's APP0 stays first
    return jpeg[:2] + b"".join(jfif) + app1 + b"".join(segments[len(jfif):]) + jpeg[position:]
