"""Writes decided events: ``<root>/<deployment>/<YYYY-MM-DD>/<event-id>/``.

Inside: one JPEG per kept frame (``<event-id>_<NNN>.jpg``) and ``event.json``, the sidecar,
written last. A folder without its sidecar is therefore an event cut short by a power loss,
never a finished one; every file in it is whole, because every write is atomic.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from trapd import __version__
from trapd.config import TrapdConfig
from trapd.decide import FrameDecision, frame_flags, keep_floor
from trapd.detect.base import DetectionResult
from trapd.errors import InputError, StorageError
from trapd.event import EventRecord
from trapd.frames import Frame
from trapd.status import clock_synced
from trapd.storage.atomic import make_dirs_durable, write_atomic

if TYPE_CHECKING:
    from trapd.storage.catalog import Catalog
from trapd.storage.jpeg import ExifFields, encode_jpeg, exif_bytes, xmp_keywords
from trapd.timebase import iso_utc

log = logging.getLogger(__name__)

SIDECAR_NAME = "event.json"
SIDECAR_SCHEMA_VERSION = 1
STATE_DIR_NAME = ".trapd"
#: storage.ballast_mb lives here, in the state folder.
BALLAST_NAME = "ballast"
#: Less free space than this is "full to the last byte": SQLite and atomic rewrites need a little.
BRIM_FULL_BYTES = 2**20


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


def read_sidecar(folder: Path) -> dict[str, Any]:
    """An event folder's sidecar (OSError or ValueError if it is missing or not JSON)."""
    data: dict[str, Any] = json.loads((folder / SIDECAR_NAME).read_text(encoding="utf-8"))
    return data


def write_sidecar(folder: Path, sidecar: dict[str, Any]) -> None:
    """Replace an event folder's sidecar, atomically and durably."""
    write_atomic(folder / SIDECAR_NAME, (json.dumps(sidecar, indent=2) + "\n").encode())


def frame_path(folder: Path, name: str) -> Path:
    """Where a sidecar's frame file is. Names are relative to the event folder (audit frames are
    ``../../audit/...``); this is plain path arithmetic, no file-system call."""
    return Path(os.path.normpath(folder / name))


def catalog_name(root: Path, path: Path) -> str:
    """A stored file's name in the catalog and the exports: relative to the storage root, with '/'."""
    return Path(os.path.relpath(path, root)).as_posix()


def read_sidecars(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every event sidecar under a storage root, oldest first, with its folder."""
    if not root.is_dir():
        raise InputError(f"storage {root} does not exist; pass the --storage the trap wrote to")
    for path in sorted(root.glob(f"*/*/*/{SIDECAR_NAME}")):
        if STATE_DIR_NAME in path.parts:
            continue
        try:
            yield path.parent, read_sidecar(path.parent)
        except (OSError, ValueError) as exc:
            raise InputError(f"event sidecar {path} cannot be read ({exc}); move that event folder aside "
                             "and export again") from None


def boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def rounded_coordinate(value: float, precision: float) -> float:
    """A coordinate rounded to ``precision`` degrees, printed without float noise."""
    decimals = max(0, len(f"{precision:.10f}".rstrip("0").split(".")[1]))
    return round(round(value / precision) * precision, decimals)


def state_dir(root: Path) -> Path:
    """Where the daemon keeps its lock, status file and control socket."""
    return root / STATE_DIR_NAME


class EventStore:
    def __init__(self, config: TrapdConfig) -> None:
        self.root = config.storage.root
        self._quality = config.storage.jpeg_quality
        self._deployment = config.deployment
        self._zone = ZoneInfo(config.deployment.timezone)
        self._make = config.camera.make
        self._model = config.camera.model
        self._decision = config.decision
        self._policy = config.decision.model_dump()
        self._reserve_mb = config.storage.reserve_mb
        self._ballast_mb = config.storage.ballast_mb
        deployment = config.deployment
        latitude, longitude, precision = deployment.latitude, deployment.longitude, deployment.coordinate_precision
        self._gps = (
            (rounded_coordinate(latitude, precision), rounded_coordinate(longitude, precision))
            if deployment.gps_in_exif and latitude is not None and longitude is not None
            else None
        )
        self._boot_id = boot_id()
        #: The index written after the files (see trapd/storage/catalog.py); None: files only.
        self.catalog: Catalog | None = None

    def prepare(self) -> None:
        """Create the storage folders and prove they are writable, before anything is captured."""
        self._release_ballast_if_brim_full()
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
        self.ensure_ballast()

    def ensure_ballast(self) -> None:
        """Set ``storage.ballast_mb`` aside (see :meth:`prepare`), where there is room to spare for it."""
        path = state_dir(self.root) / BALLAST_NAME
        size = self._ballast_mb * 2**20
        if not size or path.exists() or not self.room_left_mb() >= 2 * self._ballast_mb:
            return
        try:
            write_atomic(path, bytes(size))
        except OSError as exc:  # a race with something filling the card: the trap works without it
            log.warning("storage %s: the %d MB ballast could not be set aside (%s)", self.root, self._ballast_mb,
                        exc.strerror or exc)

    def _release_ballast_if_brim_full(self) -> None:
        # A card full to the last byte leaves SQLite no room for its WAL and a deletion no room for
        # the sidecar it rewrites first: give the ballast back so both can work.
        path = state_dir(self.root) / BALLAST_NAME
        try:
            if path.exists() and shutil.disk_usage(self.root).free < BRIM_FULL_BYTES:
                path.unlink()
                log.warning("storage %s is full to the last byte: released the %d MB ballast so the catalog "
                            "and clean-up can work", self.root, self._ballast_mb)
        except OSError as exc:
            log.error("storage %s: the ballast could not be released (%s)", self.root, exc.strerror or exc)

    def room_left_mb(self) -> float:
        """Free space beyond the reserve, in MB; negative: into the reserve.

        NaN when it cannot be read: every comparison with NaN is false, so the free-space guard
        takes it as no room (capture stops) and overwriting takes it as no need (nothing deleted
        on a guess).
        """
        try:
            free = shutil.disk_usage(self.root).free
        except OSError:
            return math.nan
        return free / 2**20 - self._reserve_mb

    def event_dir(self, record: EventRecord) -> Path:
        local_day = record.opened.utc.astimezone(self._zone).strftime("%Y-%m-%d")
        return self.root / self._deployment.id / local_day / record.event_id

    def audit_dir(self, record: EventRecord) -> Path:
        """Discarded frames drawn for the audit sample: apart from the kept ones, same day and event."""
        event_dir = self.event_dir(record)
        return self.root / self._deployment.id / "audit" / event_dir.parent.name / record.event_id

    def write(self, record: EventRecord) -> StoredEvent:
        directory = self.event_dir(record)
        make_dirs_durable(directory)
        files: list[Path] = []
        frame_files: list[str | None] = []
        for frame, result, decision in zip(record.frames, record.results, record.decisions, strict=True):
            name = None
            if decision.keep or decision.audit:
                data = self._jpeg_bytes(frame, record, self._keywords(frame, result, decision))
                if data is not None:
                    folder = directory if decision.keep else self.audit_dir(record)
                    make_dirs_durable(folder)
                    path = folder / f"{record.event_id}_{frame.index:03d}.jpg"
                    write_atomic(path, data)
                    files.append(path)
                    name = Path(os.path.relpath(path, directory)).as_posix()  # audit frames: ../../audit/...
            frame_files.append(name)
        sidecar = self.sidecar(record, frame_files)
        write_sidecar(directory, sidecar)
        if self.catalog is not None:
            try:
                self.catalog.add_event(directory, sidecar)
            except sqlite3.Error as exc:
                # The event is complete on disk; the next start's reconciliation indexes it.
                log.warning("event %s stored, but not indexed yet (%s); it will be at the next start",
                            record.event_id, exc)
        kept = sum(d.keep for d in record.decisions)
        flagged = sum(bool(frame_flags(f, d)) for d, f in zip(record.decisions, record.frames, strict=True))
        audited = sum(d.audit for d in record.decisions)
        unfiltered = sum("unfiltered" in d.flags for d in record.decisions)
        return StoredEvent(directory, tuple(files), kept, len(record.frames) - kept, flagged, audited, unfiltered)

    def _keywords(self, frame: Frame, result: DetectionResult, decision: FrameDecision) -> list[str]:
        """XMP keywords: trapd, the deployment, what was seen (at the keep or unsure level), and any flag."""
        seen = {d.category for d in result.detections if d.score >= keep_floor(d, self._decision)}
        flags = {*frame_flags(frame, decision), *(["audit"] if decision.audit else [])}
        return ["trapd", self._deployment.id, *sorted(seen), *sorted(flags)]

    def _jpeg_bytes(self, frame: Frame, record: EventRecord, keywords: list[str]) -> bytes | None:
        camera_frame = frame.camera
        if camera_frame.main is None:
            # Undecodable input: keep the bytes exactly as they came; they may still hold an animal.
            return camera_frame.original_jpeg
        exif = exif_bytes(
            ExifFields(
                captured_local=frame.captured.utc.astimezone(self._zone),
                make=self._make,
                model=self._model or camera_frame.camera_model,
                camera_id=self._deployment.camera_id,
                description=f"trapd {self._deployment.id} {record.event_id} frame {frame.index}",
                metadata=camera_frame.metadata,
                size=(camera_frame.main.shape[1], camera_frame.main.shape[0]),
                gps=self._gps,
            )
        )
        return encode_jpeg(camera_frame.main, self._quality, exif, xmp_keywords(keywords))

    def sidecar(self, record: EventRecord, frame_files: list[str | None]) -> dict[str, Any]:
        assert record.decision is not None and record.detector is not None
        frames = []
        for frame, result, decision, name in zip(
            record.frames, record.results, record.decisions, frame_files, strict=True
        ):
            frames.append(
                {
                    "index": frame.index,
                    "burst": frame.burst,
                    "file": name,
                    "keep": decision.keep,
                    "audit": decision.audit,
                    "reason": decision.reason,
                    "flags": list(frame_flags(frame, decision)),
                    "pretrigger": frame.pretrigger,
                    "capture_utc": iso_utc(frame.captured.utc),
                    "capture_monotonic_ns": frame.captured.monotonic_ns,
                    "trigger_to_exposure_ms": round(frame.trigger_to_exposure_ms, 3),
                    "trigger_to_handoff_ms": round(frame.trigger_to_handoff_ms, 3) if frame.handed_ns else None,
                    "source": frame.camera.source_name,
                    "decode_error": frame.camera.decode_error,
                    "metadata": frame.camera.metadata,
                    "detector_status": result.status,
                    "detector_reason": result.reason,
                    "detector_latency_ms": round(result.latency_ms, 3),
                    "detections": [d.as_json() for d in result.detections],
                    "second_opinion": result.second_opinion.as_json() if result.second_opinion else None,
                    "invocations": result.invocations,
                }
            )
        last = record.frames[-1].captured if record.frames else record.opened
        zone_now = record.opened.utc.astimezone(self._zone)
        return {
            "schema_version": SIDECAR_SCHEMA_VERSION,
            "trapd_version": __version__,
            "deployment_id": self._deployment.id,
            "camera_id": self._deployment.camera_id,
            "event_id": record.event_id,
            "capture_method": record.capture_method,
            "timezone": self._deployment.timezone,
            "utc_offset": zone_now.isoformat()[-6:],
            "start_utc": iso_utc(record.opened.utc),
            "end_utc": iso_utc(last.utc),
            "end_reason": record.end_reason,
            # For fixing times later on a Pi without a real-time clock: the monotonic times below
            # count from this boot, and the wall clock may not have been set yet.
            "boot_id": self._boot_id,
            "clock_synced": clock_synced(),
            "triggers": [
                {"utc": iso_utc(t.at.utc), "monotonic_ns": t.at.monotonic_ns, "source": t.source}
                for t in record.triggers
            ],
            "detector": {
                "name": record.detector.name,
                "version": record.detector.version,
                "sha256": record.detector.sha256,
            },
            "decision": {"keep": record.decision.keep, "reason": record.decision.reason, "policy": self._policy},
            "counts": {
                "frames": len(record.frames),
                "kept": sum(d.keep for d in record.decisions),
                "discarded": sum(not d.keep for d in record.decisions),
            },
            "frames": frames,
        }
