"""What the report shows of one event: a row for the contact sheet, and the detail for its own page.

Both are plain JSON, built from the sidecar alone (the files are the truth, trapd/storage/catalog.py),
and every value in them came from a card: the pages put them into the document as text, never as
markup (trapd/report/static/report.js).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal, TypedDict

from trapd.storage.layout import AUDIT_DIR_NAME, audit_reference, catalog_name, frame_file_name, frame_path
from trapd.storage.sidecar import DetectionEntry, FrameEntry, Sidecar
from trapd.timebase import parse_utc

#: What an event is filed under: its best detection's category, or none.
EventCategory = Literal["animal", "person", "vehicle", "none"]
#: Thumbnails on an event's card: the best frame first, the others spread over the event.
THUMBS_PER_EVENT = 3
#: Boxes drawn on a contact sheet thumbnail: the strongest; the event page draws them all.
BOXES_PER_THUMB = 3
#: [category, label, score, x, y, width, height]: a box, normalised from the top-left corner.
Box = list[Any]


#: A thumbnail: [frame index, 1 when made (0: the frame does not decode), boxes].
Thumb = list[Any]
#: A frame whose file is on the card: [frame index, 1 if in the audit folder, and its file relative to the root
#: only when it is not named as trapd names frames (<event>_<NNN>.jpg)].
Stored = list[Any]


class EventRow(TypedDict):
    """An event on the contact sheet: compact, since a year's 20,000 of them load with the page."""

    id: str
    deployment: str
    day: str
    #: Local time at the site, ISO 8601 with its offset.
    start: str
    hour: float
    keep: bool
    reason: str
    category: EventCategory
    label: str
    score: float
    flags: list[str]
    frames: int
    kept: int
    audit: int
    triggers: int
    #: Seconds from the first trigger to the last frame (what `trapd status` counts as active, for `trapd power`).
    active_s: float
    #: Frames with any flag, and frames finished after a crash.
    flagged: int
    recovered: int
    #: Bytes of the event's files on the card.
    bytes: int
    #: The event folder relative to the root, when it is not <deployment>/<day>/<id>; else "".
    dir: str
    stored: list[Stored]
    #: The card's thumbnails first (the best frame, then others spread over the event), then every
    #: discarded frame kept for the audit sample.
    thumbs: list[Thumb]


def site_time(sidecar: Sidecar, utc_text: str) -> datetime:
    """A recorded UTC time at the site's offset, as the event's folders and EXIF give it."""
    offset = sidecar.utc_offset
    sign = -1 if offset.startswith("-") else 1
    hours, _, minutes = offset.lstrip("+-").partition(":")
    try:
        zone = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))
    except ValueError:
        zone = UTC
    return parse_utc(utc_text).astimezone(zone)


def _boxes(detections: tuple[DetectionEntry, ...], limit: int | None = None) -> list[Box]:
    strongest = sorted(detections, key=lambda d: -d.score)[:limit]
    return [[d.category, d.label, round(d.score, 3), *(round(v, 4) for v in d.bbox)] for d in strongest]


def _best(sidecar: Sidecar) -> DetectionEntry | None:
    detections = [d for frame in sidecar.frames for d in frame.detections]
    return max(detections, key=lambda d: d.score, default=None)


def event_flags(sidecar: Sidecar) -> list[str]:
    """Flags of any of its frames, ``audit`` if some discarded frames were kept for checking, ``scenery`` if a
    box was discounted as background (it did not move, or site memory knows it), ``recovered`` if a crash
    interrupted it."""
    flags = {flag for frame in sidecar.frames for flag in frame.flags}
    if any(frame.audit and frame.file for frame in sidecar.frames):
        flags.add("audit")
    if any(frame.reason.startswith("static:") or "discounted scenery:" in frame.reason for frame in sidecar.frames):
        flags.add("scenery")
    if sidecar.end_reason == "interrupted":
        flags.add("recovered")
    return sorted(flags)


def frame_file(root: Path, folder: Path, frame: FrameEntry) -> str | None:
    return catalog_name(root, frame_path(folder, frame.file)) if frame.file else None


def thumb_frames(stored: list[FrameEntry]) -> list[FrameEntry]:
    """The frames on the event's card: the one with the best detection, then others spread evenly."""
    if len(stored) <= THUMBS_PER_EVENT:
        return stored
    best = max(stored, key=lambda f: max((d.score for d in f.detections), default=-1.0))
    others = [frame for frame in stored if frame is not best]
    step = len(others) / (THUMBS_PER_EVENT - 1)
    chosen = [best, *(others[int(i * step)] for i in range(THUMBS_PER_EVENT - 1))]
    return sorted(chosen, key=lambda f: f.index)


def local_day(sidecar: Sidecar) -> str:
    return site_time(sidecar, sidecar.start_utc).strftime("%Y-%m-%d")


def event_dir_of(row: EventRow) -> str:
    return row["dir"] or f"{row['deployment']}/{row['day']}/{row['id']}"


def stored_files(row: EventRow) -> dict[int, tuple[str, bool]]:
    """Each stored frame's file (relative to the storage root) and whether it is an audit frame, by index."""
    folder = event_dir_of(row)
    deployment, day, event = folder.split("/")
    files = {}
    for index, audit, *named in row["stored"]:
        if named:
            files[index] = (named[0], bool(audit))
        else:
            name = frame_file_name(event, index)
            files[index] = (f"{deployment}/{AUDIT_DIR_NAME}/{day}/{event}/{name}" if audit else f"{folder}/{name}",
                            bool(audit))
    return files


def thumb_src(row: EventRow, index: int) -> str:
    """Relative to the report folder: one folder per deployment and day, so no folder holds a year's thumbnails
    (a FAT card looks a name up by reading its folder)."""
    deployment, day, event = event_dir_of(row).split("/")
    return f"thumbs/{deployment}/{day}/{frame_file_name(event, index)}"


def event_row(root: Path, folder: Path, sidecar: Sidecar, sizes: dict[str, int]) -> EventRow:
    """``sizes``: the bytes of each of the event's files that is on the card, by its name relative to the root
    (a file a person deleted is not there, and is not shown)."""
    start = site_time(sidecar, sidecar.start_utc)
    day = start.strftime("%Y-%m-%d")
    best = _best(sidecar)
    here = catalog_name(root, folder)
    conventional_dir = f"{sidecar.deployment_id}/{day}/{sidecar.event_id}"
    stored_frames = [frame for frame in sidecar.frames if frame_file(root, folder, frame) in sizes]
    audit_frames = [frame for frame in stored_frames if frame.audit and not frame.keep]
    shown = thumb_frames(stored_frames)
    return EventRow(
        id=sidecar.event_id, deployment=sidecar.deployment_id, day=day, start=start.isoformat(timespec="seconds"),
        hour=round(start.hour + start.minute / 60, 3), keep=sidecar.decision.keep, reason=sidecar.decision.reason,
        category=best.category if best else "none", label=best.label if best else "", score=best.score if best else 0.0,
        flags=event_flags(sidecar), frames=len(sidecar.frames), kept=sidecar.counts.kept, audit=len(audit_frames),
        triggers=len(sidecar.triggers), active_s=_active_s(sidecar), flagged=sum(1 for f in sidecar.frames if f.flags),
        recovered=sum(1 for f in sidecar.frames if "recovered" in f.flags), bytes=sum(sizes.values()),
        dir="" if here == conventional_dir else here,
        stored=[_stored(root, folder, frame) for frame in stored_frames],
        thumbs=[[frame.index, 1, _boxes(frame.detections, BOXES_PER_THUMB)]
                for frame in [*shown, *(f for f in audit_frames if f not in shown)]],
    )


def _active_s(sidecar: Sidecar) -> float:
    try:
        return round(max(0.0, (parse_utc(sidecar.end_utc) - parse_utc(sidecar.start_utc)).total_seconds()), 1)
    except ValueError:
        return 0.0


def _stored(root: Path, folder: Path, frame: FrameEntry) -> Stored:
    audit = frame.audit and not frame.keep
    name = frame_file_name(folder.name, frame.index)
    conventional = audit_reference(folder.parent.name, folder.name, name) if audit else name
    return [frame.index, int(audit)] if frame.file == conventional else [frame.index, int(audit),
                                                                          frame_file(root, folder, frame)]


def event_detail(root: Path, folder: Path, sidecar: Sidecar, present: set[str]) -> dict[str, Any]:
    """Everything the event's own page shows: every frame, its boxes, motion, timing and camera metadata.
    ``present``: the event's files that are on the card."""
    return {
        "id": sidecar.event_id,
        "deployment": sidecar.deployment_id,
        "camera": sidecar.camera_id,
        "start": site_time(sidecar, sidecar.start_utc).isoformat(timespec="milliseconds"),
        "end": site_time(sidecar, sidecar.end_utc).isoformat(timespec="milliseconds"),
        "timezone": sidecar.timezone,
        "end_reason": sidecar.end_reason,
        "capture_method": sidecar.capture_method,
        "clock_synced": sidecar.clock_synced,
        "keep": sidecar.decision.keep,
        "reason": sidecar.decision.reason,
        "detector": f"{sidecar.detector.name} {sidecar.detector.version}",
        "detector_sha256": sidecar.detector.sha256,
        "flags": event_flags(sidecar),
        "triggers": [[site_time(sidecar, t.utc).isoformat(timespec="milliseconds"), t.source]
                     for t in sidecar.triggers],
        "frames": [_frame_detail(root, folder, sidecar, frame, present) for frame in sidecar.frames],
    }


def _frame_detail(root: Path, folder: Path, sidecar: Sidecar, frame: FrameEntry, present: set[str]) -> dict[str, Any]:
    entry = frame.removed or frame.overwritten
    name = frame_file(root, folder, frame)
    if entry is not None:
        gone: str | None = f"{'overwritten' if frame.overwritten else 'removed'} {entry.utc}"
    else:
        gone = "missing from the card" if name is not None and name not in present else None
    return {
        "index": frame.index,
        "burst": frame.burst,
        "file": name if name in present else None,
        "keep": frame.keep,
        "audit": frame.audit,
        "reason": frame.reason,
        "flags": list(frame.flags),
        "pretrigger": frame.pretrigger,
        "captured": site_time(sidecar, frame.capture_utc).isoformat(timespec="milliseconds"),
        "trigger_to_exposure_ms": frame.trigger_to_exposure_ms,
        "trigger_to_handoff_ms": frame.trigger_to_handoff_ms,
        "detector_status": frame.detector_status,
        "detector_reason": frame.detector_reason,
        "detector_latency_ms": frame.detector_latency_ms,
        "boxes": _boxes(frame.detections),
        "motion": [d.motion for d in frame.detections],
        "second_opinion": frame.second_opinion.model_dump(mode="json") if frame.second_opinion else None,
        "decode_error": frame.decode_error,
        "metadata_error": frame.metadata_error,
        "metadata": frame.metadata,
        "gone": gone,
    }
