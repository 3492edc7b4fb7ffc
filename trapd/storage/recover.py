"""Recovery: finishing, from what reached the disk, the events a power cut or a kill left open.

Every frame is written to ``.trapd/spool/<event>/`` the moment it is captured
(trapd/stages/spool.py), with trapd's record of it inside the JPEG (trapd/storage/framefile.py).
An event that never closed therefore leaves its frames there, and perhaps some already renamed
into its event folder by a store that was cut short. At every start, and in ``trapd fsck``,
before reconciliation, each spool folder is resolved:

* **an event that was never stored** is finished: its frames are read back, scored by the
  detector when there is one (else kept unfiltered), decided like any other event and stored
  (trapd/storage/writer.py): kept frames renamed, sidecar, catalog. Every frame is flagged
  ``recovered``, the event ends ``interrupted``, and the triggers recorded before the crash keep
  their times. Frames are never deleted here: one that will not decode is kept, flagged.
* **an event whose sidecar was written** (the cut came while the discarded frames were being
  let go) loses what its sidecar says was discarded; anything else in its spool folder is moved
  to quarantine for a person.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from trapd.config.sections import DecisionConfig
from trapd.detect.base import DetectionResult, Detector, run_detector
from trapd.event import DecidedEvent, OpenEvent, close_event
from trapd.files import fsync_dir
from trapd.frames import CameraFrame, Frame, Trigger
from trapd.imaging import UndecodableImage, decode_jpeg, resize_rgb
from trapd.motion import Thumbnail, thumbnail
from trapd.storage.framefile import read_record
from trapd.storage.layout import AUDIT_DIR_NAME, SIDECAR_NAME, deployment_dirs, spool_dir
from trapd.storage.reconcile import Reconciliation, move_to_quarantine
from trapd.storage.sidecar import SidecarError, read_sidecar
from trapd.storage.writer import EventWriter
from trapd.timebase import Instant

log = logging.getLogger(__name__)

_FRAME_NAME = re.compile(r"^(?P<event>[A-Za-z0-9][A-Za-z0-9._-]*)_(?P<index>\d{3,})\.jpg$")
_EVENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


@dataclass
class Recovery:
    recovered_events: list[str] = field(default_factory=list)
    recovered_frames: int = 0
    #: Discarded frames of events stored before the cut, let go now.
    let_go: int = 0


def recover(root: Path, writer: EventWriter, detector: Callable[[], Detector], policy: DecisionConfig,
            lores_size: Callable[[Detector], tuple[int, int]], report: Reconciliation | None = None) -> Recovery:
    """Resolve every spool folder (see the module's doc). ``detector`` is called only if there is an
    event to decide; ``lores_size`` gives the low-resolution frame it wants."""
    recovery = Recovery()
    spool = spool_dir(root)
    if not spool.is_dir():
        return recovery
    judge: Detector | None = None
    for folder in sorted(p for p in spool.iterdir() if p.is_dir()):
        if not _EVENT_NAME.match(folder.name):
            _quarantine(root, folder, "a spool folder trapd would not have named so", report)
            continue
        stored = _stored_sidecar_folder(root, folder.name)
        if stored is not None:
            recovery.let_go += _let_go_after_sidecar(root, folder, stored, report)
            continue
        paths = _frames_of(root, folder)
        if not paths:
            _remove_empty(folder)
            continue
        if judge is None:
            judge = detector()
        event, frames, results, thumbnails = _read_back(folder.name, paths, judge, lores_size(judge))
        decided = _respect_earlier_keeps(close_event(event, frames, results, thumbnails, judge.info, policy), root)
        try:
            writer.write(decided)
        except OSError as exc:  # a full card, most likely: the frames stay where they are, for the next start
            log.error("event %s left open by an interruption could not be finished now (%s); its frames stay in "
                      "%s for the next start", event.event_id, exc.strerror or exc, folder)
            continue
        log.warning("event %s recovered after an interruption: %d frames read back from the disk, %d kept",
                    event.event_id, len(frames), sum(d.keep for d in decided.decisions))
        recovery.recovered_events.append(event.event_id)
        recovery.recovered_frames += len(frames)
    return recovery


def _event_places(root: Path, event_id: str) -> list[Path]:
    """The event's folders under the storage root: ``<deployment>/<day>/<event>`` and the audit ones."""
    return [p for deployment in deployment_dirs(root) for pattern in (f"*/{event_id}", f"{AUDIT_DIR_NAME}/*/{event_id}")
            for p in deployment.glob(pattern) if p.is_dir()]


def _stored_sidecar_folder(root: Path, event_id: str) -> Path | None:
    """The event folder holding this event's sidecar, if the event was stored."""
    for candidate in _event_places(root, event_id):
        if candidate.parent.name != AUDIT_DIR_NAME and (candidate / SIDECAR_NAME).is_file():
            return candidate
    return None


def _frames_of(root: Path, folder: Path) -> list[Path]:
    """The event's JPEGs, wherever a store cut short left them: the spool, its event and audit folders."""
    event_id = folder.name
    places = [folder, *_event_places(root, event_id)]
    found = [path for place in places for path in place.iterdir()
             if (match := _FRAME_NAME.match(path.name)) and match["event"] == event_id]
    return sorted(found, key=lambda path: int(_FRAME_NAME.match(path.name)["index"]))  # type: ignore[index]


def _read_back(event_id: str, paths: list[Path], detector: Detector, lores_size: tuple[int, int]
               ) -> tuple[OpenEvent, list[Frame], list[DetectionResult], list[Thumbnail | None]]:
    """Each frame from its file, scored one at a time (only its thumbnail stays in memory)."""
    frames, results, thumbnails = [], [], []
    for path in paths:
        frame = _frame_from_file(event_id, path, lores_size)
        results.append(run_detector(detector, frame))
        thumbnails.append(thumbnail(frame.camera.lores))
        frames.append(frame.without_pixels())
    triggers = sorted({t for frame in frames for t in (*frame.event_triggers, frame.trigger)},
                      key=lambda t: (t.at.utc, t.at.monotonic_ns))
    boot = next((b for b in (_boot_of(p) for p in paths) if b), None)
    event = OpenEvent(event_id, triggers[0].at, triggers, end_reason="interrupted", boot_id=boot)
    return event, frames, results, thumbnails


def _frame_from_file(event_id: str, path: Path, lores_size: tuple[int, int]) -> Frame:
    record = read_record(path)
    if record is not None and record.event_id == event_id:
        frame = record.frame(path)
    else:  # no record (kept byte for byte, or damaged): the file's own time, and nothing made up
        index = int(_FRAME_NAME.match(path.name)["index"])  # type: ignore[index]
        at = Instant(0, datetime.fromtimestamp(path.stat().st_mtime, tz=UTC))
        frame = Frame(event_id, index, 0, Trigger(at, "unknown"), at, CameraFrame(None, None, {}, "unknown"),
                      stored_at=path, recovered=True)
    try:
        lores = resize_rgb(decode_jpeg(path.read_bytes(), at_least=lores_size), lores_size)
    except (OSError, UndecodableImage) as exc:
        reason = str(exc.strerror if isinstance(exc, OSError) else exc)
        return replace(frame, camera=replace(frame.camera, decode_error=reason))
    return replace(frame, camera=replace(frame.camera, lores=lores))


def _respect_earlier_keeps(decided: DecidedEvent, root: Path) -> DecidedEvent:
    """A frame a store cut short had already put in its event or audit folder stays there: deciding again
    (another audit draw, a changed threshold) must not take back what was kept."""
    decisions = list(decided.decisions)
    for position, frame in enumerate(decided.frames):
        place = frame.stored_at.parent.parent.parent.name if frame.stored_at is not None else None
        decision = decisions[position]
        if frame.stored_at is None or frame.stored_at.is_relative_to(spool_dir(root)) or decision.keep:
            continue
        if place == AUDIT_DIR_NAME:
            decisions[position] = replace(decision, audit=True)
        else:
            decisions[position] = replace(decision, keep=True,
                                          reason=f"kept before the interruption; {decision.reason}")
    return replace(decided, decisions=tuple(decisions))


def _boot_of(path: Path) -> str | None:
    record = read_record(path)
    return record.boot_id if record is not None else None


def _let_go_after_sidecar(root: Path, folder: Path, stored: Path, report: Reconciliation | None) -> int:
    """The event was stored: what its sidecar says was discarded goes; anything else goes to quarantine."""
    try:
        sidecar = read_sidecar(stored)
    except (OSError, SidecarError):
        _quarantine(root, folder, "spool of an event whose sidecar does not read", report)
        return 0
    discarded = {frame.index for frame in sidecar.frames if not frame.keep and not frame.audit}
    let_go = 0
    for path in list(folder.iterdir()):
        match = _FRAME_NAME.match(path.name)
        if match and match["event"] == folder.name and int(match["index"]) in discarded:
            path.unlink()
            let_go += 1
    if any(folder.iterdir()):
        _quarantine(root, folder, "frames in the spool that the event's sidecar does not account for", report)
    else:
        _remove_empty(folder)
    return let_go


def _remove_empty(folder: Path) -> None:
    os.rmdir(folder)
    fsync_dir(folder.parent)


def _quarantine(root: Path, folder: Path, reason: str, report: Reconciliation | None) -> None:
    name = move_to_quarantine(root, folder, reason, report if report is not None else Reconciliation())
    if report is not None:
        report.quarantined.append(name)
