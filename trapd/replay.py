"""`trapd replay DIR`: the trap's decision pipeline over an archive of photos, as if captured.

Photos are grouped into events the way a trap would have made them: photos in the same folder
(at any depth, e.g. ``DCIM/100MEDIA``) whose capture times lie within ``event.gap_s`` of each
other. Capture time is EXIF DateTimeOriginal, read in the site's timezone unless the camera
wrote its offset, else the file's modification time. Each event is detected and decided exactly
as the daemon does it, event-level rule and audit sample included; with ``--storage`` the events
are stored as the daemon stores them.

It is also how a researcher tunes thresholds on their own archive before a deployment.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image

from trapd.config.model import TrapdConfig
from trapd.decide import frame_flags
from trapd.detect.base import Detector, run_detector
from trapd.detect.detector import TfliteDetectorConfig
from trapd.errors import InputError
from trapd.event import DecidedEvent, OpenEvent, close_event
from trapd.frames import Frame, Trigger
from trapd.hardware.replay import JPEG_SUFFIXES, jpeg_camera_frame
from trapd.motion import thumbnail
from trapd.progress import SILENT, Progress
from trapd.site.filter import SiteFilter
from trapd.storage.writer import EventWriter, StoredEvent
from trapd.timebase import Instant, iso_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Photo:
    path: Path
    taken: datetime  # aware, UTC
    #: The time came from the camera (EXIF), not from the file system: it may join an event.
    camera_time: bool = True


def full_resolution_needed(config: TrapdConfig, *, storing: bool) -> bool:
    """Whether photos must be decoded whole: for tiles, or to store them. Otherwise libjpeg decodes
    them only as large as the low-resolution frame needs (detect, replay and eval alike)."""
    detector = config.detector
    tiles = detector.tiles if isinstance(detector, TfliteDetectorConfig) else (1, 1)
    return storing or tiles[0] * tiles[1] > 1


def lores_size_for(detector: Detector, config: TrapdConfig) -> tuple[int, int]:
    """The low-resolution frame a photo is given: at the model's input size, made on the decoding
    side as a Pi's ISP would make it, so the detector does no resize (detect, replay and eval alike)."""
    return detector.info.input_size or config.camera.lores_size


def photo_frame(path: Path, lores_size: tuple[int, int], event_id: str, index: int, trigger: Trigger,
                taken: Instant, source_name: str | None = None, full_resolution: bool = True) -> Frame:
    """A photo as the camera would have handed it over. One that will not read or decode keeps
    what bytes there are and is flagged, as a bad frame from a camera would be.

    Without ``full_resolution`` (no tiles to look at, nothing to store) the photo is decoded only
    as large as the low-resolution stream needs.
    """
    camera = jpeg_camera_frame(path, lores_size, taken.monotonic_ns, "unknown camera", source_name or path.name,
                               at_least=None if full_resolution else max(lores_size), source_camera=True)
    return Frame(event_id, index, 0, trigger, taken, camera)


def camera_time(path: Path, zone: ZoneInfo) -> datetime | None:
    """The capture time the camera wrote into the photo's EXIF, in UTC: DateTimeOriginal, with
    OffsetTimeOriginal if the camera wrote one, else read in the site's timezone. None if it wrote none."""
    try:
        with Image.open(path) as image:
            exif = image.getexif().get_ifd(ExifTags.IFD.Exif)
        stamp, offset = exif.get(ExifTags.Base.DateTimeOriginal), exif.get(ExifTags.Base.OffsetTimeOriginal)
        if isinstance(stamp, str):
            taken = datetime.strptime(stamp.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
            if isinstance(offset, str) and offset.strip():
                return datetime.fromisoformat(f"{taken.isoformat()}{offset.strip()}").astimezone(UTC)
            return taken.replace(tzinfo=zone).astimezone(UTC)
    except Exception as exc:
        # Pillow's EXIF parser fails in many ways on what cards hold (struct.error, TypeError, ...): the
        # photo is still replayed, placed by its file's time.
        log.debug("%s: no readable EXIF time (%s: %s)", path, type(exc).__name__, exc)
    return None


def group_into_events(folder: Path, gap_s: float, zone: ZoneInfo) -> list[list[Photo]]:
    """Photos in every folder below ``folder``; within each folder, split where capture times gap."""
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder of photos; give the archive's folder")
    events: list[list[Photo]] = []
    for directory in [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]:
        try:
            paths = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in JPEG_SUFFIXES)
        except OSError as exc:
            raise InputError(f"folder {directory} cannot be read ({exc.strerror or exc}); "
                             "check its permissions") from None
        photos = sorted((photo_taken(p, zone) for p in paths), key=lambda photo: (photo.taken, photo.path.name))
        events += _split_by_gaps(photos, gap_s)
    if not events:
        raise InputError(f"no .jpg/.jpeg photos in {folder} or below it")
    return sorted(events, key=lambda event: event[0].taken)


def photo_per_event(folder: Path, zone: ZoneInfo, interval_s: float) -> list[list[Photo]]:
    """Each photo its own event, in file-name order (one site's sequence): a photo without a capture time
    comes ``interval_s`` after the one before it, so site memory's time-based guardrails apply."""
    from trapd.annotate import photos_in

    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder of photos; give the site's folder")
    paths = [path for path, _ in photos_in([folder])]
    if not paths:
        raise InputError(f"no .jpg/.jpeg photos in {folder} or below it")
    events: list[list[Photo]] = []
    for path in paths:
        photo = photo_taken(path, zone)
        if not photo.camera_time and events:
            photo = Photo(path, events[-1][0].taken + timedelta(seconds=interval_s))
        events.append([photo])
    return events


def photo_taken(path: Path, zone: ZoneInfo) -> Photo:
    """When the photo was taken: its EXIF time, else its file's (which joins no event)."""
    taken = camera_time(path, zone)
    if taken is not None:
        return Photo(path, taken)
    # The file's own time orders it, but copying sets that time, so it joins no event: photos of
    # different cameras copied together would otherwise become one "burst".
    try:
        return Photo(path, datetime.fromtimestamp(path.stat().st_mtime, tz=UTC), camera_time=False)
    except OSError:
        return Photo(path, datetime.fromtimestamp(0, tz=UTC), camera_time=False)  # unreadable: kept, flagged


def _split_by_gaps(photos: list[Photo], gap_s: float) -> list[list[Photo]]:
    events: list[list[Photo]] = []
    for photo in photos:
        previous = events[-1][-1] if events else None
        if (previous is not None and photo.camera_time and previous.camera_time
                and photo.taken - previous.taken <= timedelta(seconds=gap_s)):
            events[-1].append(photo)
        else:
            events.append([photo])
    return events


#: Photos decoded ahead on a second thread while the interpreter works on the current one: a few
#: at full resolution (about 9 MB each at 2048x1536), more when decoded only as large as the
#: low-resolution stream needs (under 1 MB each), so a run of big files does not stall the detector.
PREFETCH_PHOTOS = 4
PREFETCH_SMALL_PHOTOS = 16


def interpreter_threads(configured: int) -> int:
    """Interpreter threads for replay: ``detector.num_threads``, less the core that decodes photos.

    The daemon decodes no JPEG (the camera hands over raw buffers), so it gives the interpreter
    every thread configured. Replay decodes photos as fast as the interpreter eats them; on two
    cores, a second interpreter thread would only fight the decoder for its core (measured: the
    same frames per second either way, BENCHMARKS.md).
    """
    return max(1, min(configured, len(os.sched_getaffinity(0)) - 1))


def replay(folder: Path, detector: Detector, config: TrapdConfig, store: EventWriter | None = None,
           progress: Progress = SILENT, site: SiteFilter | None = None, events: list[list[Photo]] | None = None
           ) -> Iterator[tuple[DecidedEvent, StoredEvent | None]]:
    """Decide (and, given a store, store) each event of the archive, in time order: ``events`` if given
    (:func:`photo_per_event`), else the photos grouped as a trap would have grouped them. With ``site``,
    site memory judges each frame and learns from each event, as in the daemon.

    Decoding runs ahead on a worker thread (JPEG decoding and the interpreter both release the
    GIL), so on two cores the detector, not the decoder, sets the pace.
    """
    full_resolution = full_resolution_needed(config, storing=store is not None)
    lores_size = lores_size_for(detector, config)
    plans = []
    if events is None:
        events = group_into_events(folder, config.event.gap_s, ZoneInfo(config.deployment.timezone))
    for photos in events:
        # Photos carry wall-clock times only; lay them on a monotonic scale starting now.
        opened = Instant(time.monotonic_ns(), photos[0].taken)
        plans.append((OpenEvent.opened_by(Trigger(opened, "replay")), photos))

    def load(record: OpenEvent, index: int, photo: Photo) -> Frame:
        offset_ns = int((photo.taken - record.opened.utc).total_seconds() * 1e9)
        taken = Instant(record.opened.monotonic_ns + offset_ns, photo.taken)
        return photo_frame(photo.path, lores_size, record.event_id, index, record.triggers[0], taken,
                           source_name=photo.path.relative_to(folder).as_posix(), full_resolution=full_resolution)

    jobs = iter([(record, index, photo) for record, photos in plans for index, photo in enumerate(photos)])
    with (ThreadPoolExecutor(max_workers=1, thread_name_prefix="trapd-decode") as decoder,
          progress.bar(sum(len(photos) for _, photos in plans), "photos") as bar):
        ahead: deque[Future[Frame]] = deque()

        def decode_next() -> None:
            job = next(jobs, None)
            if job is not None:
                ahead.append(decoder.submit(load, *job))

        for _ in range(PREFETCH_PHOTOS if full_resolution else PREFETCH_SMALL_PHOTOS):
            decode_next()
        for record, photos in plans:
            frames, results, thumbnails, looks = [], [], [], []
            for _ in photos:
                frame = ahead.popleft().result()
                decode_next()
                result = run_detector(detector, frame)
                grey = thumbnail(frame.camera.lores)
                frames.append(frame)
                results.append(result)
                thumbnails.append(grey)
                looks.append(None if site is None else site.look_at(frame, result, grey))
                bar.advance()
            policy = config.decision if site is None else site.policy
            decided = close_event(record, frames, results, thumbnails, detector.info, policy, looks=looks)
            if site is not None:
                site.learn_from(decided, looks)
            yield decided, (store.write(decided) if store is not None else None)


def frame_lines(record: DecidedEvent) -> Iterator[dict[str, Any]]:
    """The JSON lines of `trapd replay`: one per photo, its file relative to the archive folder."""
    for frame, result, decision in zip(record.frames, record.results, record.decisions, strict=True):
        yield {
            "file": frame.camera.source_name,
            "event": record.event_id,
            "taken": iso_utc(frame.captured.utc),
            "keep": decision.keep,
            "audit": decision.audit,
            "reason": decision.reason,
            "flags": list(frame_flags(frame, decision)),
            "detections": [d.as_json() for d in result.detections],
            "latency_ms": round(result.latency_ms, 2),
        }
