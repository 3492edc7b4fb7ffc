"""Writes decided events: ``<root>/<deployment>/<YYYY-MM-DD>/<event-id>/`` (trapd/storage/layout.py).

Inside: one JPEG per kept frame (``<event-id>_<NNN>.jpg``) and ``event.json``, the sidecar,
written last. A folder without its sidecar is therefore an event cut short by a power loss,
never a finished one; every file in it is whole, because every write is atomic. The catalog is
told last of all.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from trapd import __version__
from trapd.config.model import TrapdConfig
from trapd.decide import FrameDecision, frame_flags
from trapd.detect.base import DetectionResult
from trapd.errors import StorageError
from trapd.event import DecidedEvent
from trapd.files import fsync_dir, make_dirs_durable, write_atomic
from trapd.frames import Frame
from trapd.storage.catalog import Catalog
from trapd.storage.framefile import FrameEncoder
from trapd.storage.layout import audit_dir, event_dir, frame_file_name, spool_dir, state_dir
from trapd.storage.sidecar import (
    SCHEMA_VERSION,
    CountsEntry,
    DecisionEntry,
    DetectionEntry,
    DetectorEntry,
    FrameEntry,
    RemovedEntry,
    SecondOpinionEntry,
    Sidecar,
    SiteEntry,
    TriggerEntry,
    write_sidecar,
)
from trapd.timebase import boot_id, clock_synced, iso_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    directory: Path
    files: tuple[Path, ...]
    kept: int
    discarded: int
    flagged: int
    audited: int = 0
    #: Kept without a detector's judgement (none configured, fail-open, or a backlog).
    unfiltered: int = 0


class EventWriter:
    def __init__(self, config: TrapdConfig) -> None:
        self.root = config.storage.root
        self._deployment = config.deployment
        self._zone = ZoneInfo(config.deployment.timezone)
        self._decision = config.decision
        self._encoder = FrameEncoder(config)
        site = config.deployment.rounded_site()
        self._site = None if site is None else SiteEntry(latitude=site[0], longitude=site[1],
                                                         coordinate_precision=config.deployment.coordinate_precision)
        self._boot_id = boot_id()
        #: The index written after the files (see trapd/storage/catalog.py); None: files only.
        self.catalog: Catalog | None = None

    def make_state_dir(self) -> None:
        """The state folder, where the storage lock is taken before anything else is touched."""
        try:
            make_dirs_durable(state_dir(self.root))
        except PermissionError:
            raise StorageError(
                f"storage {self.root} is not writable by this user; fix its permissions or pass --storage DIR"
            ) from None
        except OSError as exc:
            raise StorageError(f"storage {self.root} cannot be used ({exc.strerror or exc}); "
                               "pass --storage DIR naming a writable folder") from None

    def prepare(self) -> None:
        """Create the storage folders and prove they are writable, before anything is captured."""
        try:
            make_dirs_durable(state_dir(self.root))
            make_dirs_durable(self.root / self._deployment.id)
            probe = state_dir(self.root) / f"write-probe-{os.getpid()}"
            write_atomic(probe, b"ok\n")
            probe.unlink()
        except PermissionError:
            raise StorageError(
                f"storage {self.root} is not writable by this user; fix its permissions or pass --storage DIR"
            ) from None
        except OSError as exc:
            folders_exist = state_dir(self.root).is_dir() and (self.root / self._deployment.id).is_dir()
            if exc.errno == errno.ENOSPC and folders_exist:
                # A trap restarted on a full card (a reboot, a crash) must run and say FULL, not stay dead:
                # the free-space guard keeps capture off, and an overwrite policy makes room.
                log.error("storage %s is full at start: the trap runs, but captures nothing until space is freed",
                          self.root)
                return
            if exc.errno == errno.ENOSPC:
                raise StorageError(f"storage {self.root} is full; free space or pass --storage DIR") from None
            raise StorageError(
                f"storage {self.root} cannot be used ({exc.strerror or exc}); "
                "pass --storage DIR naming a writable folder"
            ) from None

    def _local_day(self, event: DecidedEvent) -> str:
        return event.opened.utc.astimezone(self._zone).strftime("%Y-%m-%d")

    def event_dir(self, event: DecidedEvent) -> Path:
        return event_dir(self.root, self._deployment.id, self._local_day(event), event.event_id)

    def audit_dir(self, event: DecidedEvent) -> Path:
        return audit_dir(self.root, self._deployment.id, self._local_day(event), event.event_id)

    def write(self, event: DecidedEvent) -> StoredEvent:
        """Finish a decided event on disk: kept frames into the event folder, audit frames into the audit
        folder (renamed from the spool where they were written at capture), the sidecar, the catalog; then
        the discarded frames' spool files go. A cut anywhere leaves a state recovery finishes."""
        directory = self.event_dir(event)
        make_dirs_durable(directory)
        files: list[Path] = []
        frame_files: list[str | None] = []
        vanished: set[int] = set()
        renamed_from: set[Path] = set()
        for frame, decision in zip(event.frames, event.decisions, strict=True):
            name = None
            if decision.keep or decision.audit:
                folder = directory if decision.keep else self.audit_dir(event)
                make_dirs_durable(folder)
                path = folder / frame_file_name(event.event_id, frame.index)
                if self._place(frame, path, renamed_from):
                    files.append(path)
                    name = Path(os.path.relpath(path, directory)).as_posix()  # audit frames: ../../audit/...
                elif frame.stored_at is not None:
                    vanished.add(frame.index)
            frame_files.append(name)
        for folder in {*(path.parent for path in files), *renamed_from}:
            fsync_dir(folder)  # the renames are durable before the sidecar promises their files
        sidecar = self.sidecar(event, frame_files, vanished)
        write_sidecar(directory, sidecar)
        if self.catalog is not None:
            try:
                self.catalog.add_event(directory, sidecar)
            except sqlite3.Error as exc:
                # The event is complete on disk; the next start's reconciliation indexes it.
                log.warning("event %s stored, but not indexed yet (%s); it will be at the next start",
                            event.event_id, exc)
        let_go_of_spool(self.root, event)
        kept = sum(d.keep for d in event.decisions)
        flagged = sum(bool(frame_flags(f, d)) for d, f in zip(event.decisions, event.frames, strict=True))
        audited = sum(d.audit for d in event.decisions)
        unfiltered = sum("unfiltered" in d.flags for d in event.decisions)
        return StoredEvent(directory, tuple(files), kept, len(event.frames) - kept, flagged, audited, unfiltered)

    def _place(self, frame: Frame, path: Path, renamed_from: set[Path]) -> bool:
        """Put a frame's JPEG at ``path``: renamed from where it was written at capture, or written now (a frame
        that could not be spooled, a replayed photo). False when there is nothing to put there."""
        if frame.stored_at is not None:
            if frame.stored_at != path:
                try:
                    os.replace(frame.stored_at, path)
                except FileNotFoundError:
                    if not path.is_file():  # not moved there by an earlier, interrupted store either
                        log.error("event %s frame %d: its file %s is gone (deleted by hand?)", frame.event_id,
                                  frame.index, frame.stored_at)
                        return False
                renamed_from.add(frame.stored_at.parent)
            return True
        data = self._encoder.encode(frame)
        if data is None:
            return False  # an undecodable frame that came with no bytes at all: nothing to keep
        write_atomic(path, data)
        return True

    def sidecar(self, event: DecidedEvent, frame_files: list[str | None],
                vanished: set[int] | frozenset[int] = frozenset()) -> Sidecar:
        """``vanished``: indices of frames whose file was deleted from the spool before the event was stored."""
        now = iso_utc(datetime.now(UTC))
        frames = [
            _frame_entry(frame, result, decision, name,
                         RemovedEntry(file=None, utc=now, by="trapd") if frame.index in vanished else None)
            for frame, result, decision, name in zip(event.frames, event.results, event.decisions, frame_files,
                                                     strict=True)
        ]
        this_boot = event.boot_id in (None, self._boot_id)
        kept = sum(d.keep for d in event.decisions)
        return Sidecar(
            schema_version=SCHEMA_VERSION,
            trapd_version=__version__,
            deployment_id=self._deployment.id,
            camera_id=self._deployment.camera_id,
            site=self._site,
            event_id=event.event_id,
            capture_method=event.capture_method,
            timezone=self._deployment.timezone,
            utc_offset=event.opened.utc.astimezone(self._zone).isoformat()[-6:],
            start_utc=iso_utc(event.opened.utc),
            end_utc=iso_utc(event.last_capture.utc),
            end_reason=event.end_reason,
            boot_id=event.boot_id or self._boot_id,
            clock_synced=clock_synced() if this_boot else None,
            triggers=tuple(TriggerEntry(utc=iso_utc(t.at.utc), monotonic_ns=t.at.monotonic_ns, source=t.source)
                           for t in event.triggers),
            detector=DetectorEntry(name=event.detector.name, version=event.detector.version,
                                   sha256=event.detector.sha256),
            decision=DecisionEntry(keep=event.decision.keep, reason=event.decision.reason, policy=self._decision),
            counts=CountsEntry(frames=len(event.frames), kept=kept, discarded=len(event.frames) - kept),
            frames=tuple(frames),
        )


def _frame_entry(frame: Frame, result: DetectionResult, decision: FrameDecision, name: str | None,
                 removed: RemovedEntry | None) -> FrameEntry:
    opinion = result.second_opinion
    return FrameEntry(
        index=frame.index,
        burst=frame.burst,
        file=name,
        keep=decision.keep,
        audit=decision.audit,
        reason=decision.reason,
        flags=frame_flags(frame, decision),
        pretrigger=frame.pretrigger,
        capture_utc=iso_utc(frame.captured.utc),
        capture_monotonic_ns=frame.captured.monotonic_ns,
        trigger_to_exposure_ms=round(frame.trigger_to_exposure_ms, 3),
        trigger_to_handoff_ms=round(frame.trigger_to_handoff_ms, 3) if frame.handed_ns else None,
        source=frame.camera.source_name,
        decode_error=frame.camera.decode_error,
        metadata_error=frame.camera.metadata_error,
        metadata=frame.camera.metadata,
        detector_status=result.status,
        detector_reason=result.reason,
        detector_latency_ms=round(result.latency_ms, 3),
        detections=tuple(DetectionEntry.model_validate(d.as_json()) for d in result.detections),
        second_opinion=None if opinion is None else SecondOpinionEntry.model_validate(opinion.as_json()),
        invocations=result.invocations,
        removed=removed,
    )


def let_go_of_spool(root: Path, event: DecidedEvent) -> None:
    """After the sidecar: the discarded frames' files, then the event's spool folder, go."""
    folder = spool_dir(root) / event.event_id
    for frame in event.frames:
        if frame.stored_at is not None and frame.stored_at.parent == folder:
            frame.stored_at.unlink(missing_ok=True)  # still in the spool: a frame nobody kept
    try:
        folder.rmdir()
    except FileNotFoundError:
        return  # never spooled (replay, a full card), or already gone
    except OSError as exc:  # something else is in it: the next start's recovery looks at it
        log.warning("spool folder %s not removed (%s)", folder, exc.strerror or exc)
        return
    fsync_dir(folder.parent)
