"""The sidecar, ``event.json``: one typed model, written by the store and read by everything else.

Writers build a :class:`Sidecar`; readers (the catalog, reconciliation, overwriting, fix-time and
both exports) get one back from :func:`read_sidecar`, never a raw dict. Reading validates the
whole shape, and every file name in it: a frame's file is a plain name in its event folder, or
the event's own audit folder (``../../audit/<day>/<event>/<name>``). A card is hostile input (a
person may have edited it, a power cut or a failing SD card may have mangled it), so a sidecar
that fails any of this is a :class:`SidecarError` with a one-line reason, which reconciliation
turns into a quarantined folder, never a crash.

``schema_version: 1`` sidecars of every earlier trapd still read: fields added since the first
release (``audit``, ``invocations``, ``second_opinion``, ``boot_id``, ``clock_synced``,
``trigger_to_handoff_ms``) have defaults that say what an older trap meant by leaving them out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from trapd.config.sections import DecisionConfig
from trapd.detect.base import Category, DetectionStatus
from trapd.errors import InputError
from trapd.event import EndReason
from trapd.files import write_atomic
from trapd.frames import MetadataValue, TriggerSource
from trapd.progress import SILENT, Progress
from trapd.storage.layout import AUDIT_DIR_NAME, SIDECAR_NAME, deployment_dirs

SCHEMA_VERSION = 1
#: A sidecar of a 1,000-frame event is about 1.5 MB; anything far larger is not one trapd wrote.
MAX_SIDECAR_BYTES = 16 * 2**20

#: File and event names trapd writes: no separators, no leading dot (temporaries), no "..".
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OverwriteTier = Literal["audit", "undetected", "detected"]
Bbox = tuple[float, float, float, float]


class SidecarError(ValueError):
    """A sidecar that cannot be used; ``str()`` is the one-line reason quarantine records."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TriggerEntry(_Entry):
    utc: str
    monotonic_ns: int
    source: TriggerSource


class DetectorEntry(_Entry):
    name: str
    version: str
    sha256: str | None


class DecisionEntry(_Entry):
    keep: bool
    reason: str
    #: The decision section the event was decided with, so it can be judged again by the same rules.
    policy: DecisionConfig


class SiteEntry(_Entry):
    """Where the event was taken, rounded as the exports round it: an export needs no config to place it."""

    latitude: float = Field(ge=-90.0, le=90.0)
    longitude: float = Field(ge=-180.0, le=180.0)
    coordinate_precision: float = Field(gt=0.0, le=1.0)


class CountsEntry(_Entry):
    frames: int = Field(ge=0)
    kept: int = Field(ge=0)
    discarded: int = Field(ge=0)


class OverwrittenEntry(_Entry):
    """A frame deleted by ``storage.when_full: overwrite``: which file it was, when, and why."""

    file: str
    utc: str
    tier: OverwriteTier


class RemovedEntry(_Entry):
    """A kept frame whose file was deleted by someone else: by hand (found by fsck), or from the spool
    before its event was stored. The entry stays; the file is gone."""

    file: str | None
    utc: str
    by: Literal["fsck", "trapd"]


class DetectionEntry(_Entry):
    category: Category
    label: str
    score: float = Field(ge=0.0, le=1.0)
    bbox: Bbox
    motion: float | None = None


class SecondOpinionEntry(_Entry):
    model: str
    scores: dict[Category, float]
    labels: dict[Category, str]


class FrameEntry(_Entry):
    index: int = Field(ge=0)
    burst: int = Field(ge=0)
    #: Relative to the event folder; None when the frame was discarded or overwritten.
    file: str | None
    keep: bool
    audit: bool = False
    reason: str
    flags: tuple[str, ...]
    pretrigger: bool = False
    capture_utc: str
    capture_monotonic_ns: int
    trigger_to_exposure_ms: float
    trigger_to_handoff_ms: float | None = None
    source: str | None = None
    decode_error: str | None = None
    metadata_error: str | None = None
    metadata: dict[str, MetadataValue]
    detector_status: DetectionStatus
    detector_reason: str = ""
    detector_latency_ms: float = 0.0
    detections: tuple[DetectionEntry, ...]
    second_opinion: SecondOpinionEntry | None = None
    invocations: int = 0
    overwritten: OverwrittenEntry | None = None
    removed: RemovedEntry | None = None


EventName = Annotated[str, Field(pattern=_PLAIN_NAME.pattern)]


class Sidecar(_Entry):
    schema_version: Literal[1]
    trapd_version: str
    deployment_id: EventName
    camera_id: str
    site: SiteEntry | None = None
    event_id: EventName
    capture_method: Literal["activityDetection", "timeLapse"]
    timezone: str
    utc_offset: str
    start_utc: str
    end_utc: str
    end_reason: EndReason
    #: The monotonic times count from this boot; a Pi without a real-time clock may not have had
    #: the right wall time yet (clock_synced), so times can be corrected afterwards.
    boot_id: str | None = None
    clock_synced: bool | None = None
    triggers: tuple[TriggerEntry, ...]
    detector: DetectorEntry
    decision: DecisionEntry
    counts: CountsEntry
    frames: tuple[FrameEntry, ...]
    #: Ids of the `trapd fix-time` runs applied to this event (see trapd/storage/fix_time.py).
    time_fixes: tuple[str, ...] = ()

    @field_validator("frames")
    @classmethod
    def _indices_unique(cls, frames: tuple[FrameEntry, ...]) -> tuple[FrameEntry, ...]:
        indices = [frame.index for frame in frames]
        if len(set(indices)) != len(indices):
            raise ValueError("two frames share an index")
        return frames

    @model_validator(mode="after")
    def _files_stay_in_their_folders(self) -> Sidecar:
        for frame in self.frames:
            gone = [entry.file for entry in (frame.overwritten, frame.removed) if entry is not None]
            for name in (frame.file, *gone):
                if name is not None and not _own_file(name, self.event_id):
                    raise ValueError(f"frame {frame.index} names file {name!r}, outside its event and audit "
                                     "folders")
        return self

    def as_json(self) -> dict[str, Any]:
        """What goes into ``event.json``: optional entries appear only where they apply."""
        data = self.model_dump(mode="json")
        if not self.time_fixes:
            del data["time_fixes"]
        if self.site is None:
            del data["site"]
        for frame in data["frames"]:
            for optional in ("overwritten", "removed", "metadata_error"):
                if frame[optional] is None:
                    del frame[optional]
            for detection in frame["detections"]:
                if detection["motion"] is None:
                    del detection["motion"]
        return data

    def encode(self) -> bytes:
        return (json.dumps(self.as_json(), indent=2) + "\n").encode()


def _own_file(name: str, event_id: str) -> bool:
    """A plain name in the event folder, or one in this event's own audit folder."""
    if _PLAIN_NAME.match(name):
        return True
    parts = PurePosixPath(name).parts
    return (len(parts) == 6 and parts[:3] == ("..", "..", AUDIT_DIR_NAME) and bool(_DAY.match(parts[3]))
            and parts[4] == event_id and bool(_PLAIN_NAME.match(parts[5])))


def parse_sidecar(data: bytes, folder_name: str | None = None) -> Sidecar:
    """Validate a sidecar's bytes; ``folder_name``: the event folder it was found in, which must match."""
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise SidecarError(f"not JSON ({exc})") from None
    try:
        sidecar = Sidecar.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise SidecarError(f"{where}: {first['msg'].removeprefix('Value error, ')}{more}") from None
    if folder_name is not None and sidecar.event_id != folder_name:
        raise SidecarError(f"event_id {sidecar.event_id!r} is not its folder's name {folder_name!r}")
    return sidecar


def read_sidecar(folder: Path) -> Sidecar:
    """An event folder's sidecar. OSError if it cannot be read, :class:`SidecarError` if it is not a valid one."""
    path = folder / SIDECAR_NAME
    with path.open("rb") as stream:
        data = stream.read(MAX_SIDECAR_BYTES + 1)
    if len(data) > MAX_SIDECAR_BYTES:
        raise SidecarError(f"larger than {MAX_SIDECAR_BYTES // 2**20} MB")
    return parse_sidecar(data, folder.name)


def write_sidecar(folder: Path, sidecar: Sidecar) -> None:
    """Replace an event folder's sidecar, atomically and durably."""
    write_atomic(folder / SIDECAR_NAME, sidecar.encode())


def read_sidecars(root: Path, progress: Progress = SILENT) -> Iterator[tuple[Path, Sidecar]]:
    """Every event sidecar under a storage root, oldest first, with its folder (for the exports)."""
    if not root.is_dir():
        raise InputError(f"storage {root} does not exist; pass the --storage the trap wrote to")
    paths = sorted(p for deployment in deployment_dirs(root) for p in deployment.glob(f"*/*/{SIDECAR_NAME}"))
    for path in progress.over(paths, len(paths), "events"):
        try:
            yield path.parent, read_sidecar(path.parent)
        except (OSError, SidecarError) as exc:
            reason = exc.strerror or exc if isinstance(exc, OSError) else exc
            raise InputError(f"event sidecar {path} cannot be used ({reason}); run `trapd fsck`, which moves "
                             "it aside, and export again") from None
