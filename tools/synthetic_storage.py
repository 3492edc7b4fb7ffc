#!/usr/bin/env python3
"""A storage as a long deployment leaves it, for measuring and testing `trapd report` at scale.

    python tools/synthetic_storage.py OUT [--events 20000] [--days 365] [--photos DIR] [--seed 1]

Each event has 2 to 8 frames with detections, decisions, flags and an audit sample, as trapd's
own sidecar model (trapd/storage/sidecar.py) requires, spread over the days with more activity
at night. The frames are hard links to real camera-trap photos (default: ../shared's), so a
year of events takes the disk space of the photos once, and every thumbnail is made from a real
photo of the real size. Effort marks say the trap was armed throughout, with a day full and
a wind storm's dropped triggers now and then. Sidecars are written without fsync: this is a
fixture, not a trap.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from trapd.config.sections import DecisionConfig  # noqa: E402
from trapd.storage.effort import effort_path  # noqa: E402
from trapd.storage.layout import audit_dir, audit_reference, event_dir, frame_file_name, state_dir  # noqa: E402
from trapd.storage.sidecar import (  # noqa: E402
    SCHEMA_VERSION,
    CountsEntry,
    DecisionEntry,
    DetectionEntry,
    DetectorEntry,
    FrameEntry,
    Sidecar,
    SiteEntry,
    TriggerEntry,
)
from trapd.timebase import iso_utc  # noqa: E402

DEFAULT_PHOTOS = PROJECT.parent / "shared" / "images" / "camera-trap"
DEPLOYMENT = "synthetic-site"
START = datetime(2025, 12, 1, tzinfo=UTC)
LABELS = {"animal": ["leopard", "ibex", "fox", "bird"], "person": ["person"], "vehicle": ["car", "truck"]}


def photos_in(folder: Path) -> list[Path]:
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg") and p.stat().st_size > 10_000)
    if not found:
        sys.exit(f"no photos in {folder}; pass --photos DIR with camera-trap JPEGs")
    return found


def make_storage(root: Path, events: int, days: int, photos: list[Path], seed: int = 1,
                 start: datetime = START) -> list[Path]:
    """Write ``events`` events into ``root`` over ``days`` days from ``start`` (and effort marks, unless the
    storage has them already); returns their folders."""
    rng = random.Random(seed)
    state_dir(root).mkdir(parents=True, exist_ok=True)
    moments = sorted(_moment(rng, start, days) for _ in range(events))
    folders = [_event(root, rng, at, seed * 1_000_000 + number, photos) for number, at in enumerate(moments)]
    if not effort_path(root).exists():
        _effort(root, rng, days)
    return folders


def _moment(rng: random.Random, start: datetime, days: int) -> datetime:
    """Mostly at night: a camera trap's animals are."""
    hour = rng.choice([rng.uniform(18, 30), rng.uniform(0, 24)]) % 24
    return start + timedelta(days=rng.randrange(days), hours=hour)


def _event(root: Path, rng: random.Random, at: datetime, number: int, photos: list[Path]) -> Path:
    event_id = f"{at:%Y%m%dT%H%M%S}.{at.microsecond // 1000:03d}Z-{number % 65536:04x}"
    day = f"{at:%Y-%m-%d}"
    folder = event_dir(root, DEPLOYMENT, day, event_id)
    folder.mkdir(parents=True)
    keep = rng.random() < 0.35
    category = rng.choice(["animal", "animal", "animal", "person", "vehicle"]) if keep else None
    frames = []
    for index in range(rng.randint(2, 8)):
        detections = _detections(rng, category)
        audit = not keep and rng.random() < 0.05
        name = None
        if keep or audit:
            name = frame_file_name(event_id, index)
            place = folder if keep else audit_dir(root, DEPLOYMENT, day, event_id)
            place.mkdir(parents=True, exist_ok=True)
            _link(rng.choice(photos), place / name)
            name = name if keep else audit_reference(day, event_id, name)
        flags = ("detector_error",) if rng.random() < 0.01 else ()
        captured = at + timedelta(seconds=index * 0.5)
        frames.append(FrameEntry(
            index=index, burst=index // 3, file=name, keep=keep, audit=audit,
            reason="kept with its event" if keep else "no detections" if not detections else "best below threshold",
            flags=flags, capture_utc=iso_utc(captured), capture_monotonic_ns=index * 500_000_000,
            trigger_to_exposure_ms=rng.uniform(40, 120), source="synthetic", decode_error=None,
            metadata={"ExposureTime": rng.randint(1000, 30000), "AnalogueGain": round(rng.uniform(1, 8), 2)},
            detector_status="error" if flags else "ok", detector_latency_ms=rng.uniform(20, 60),
            detections=tuple(detections)))
    kept = sum(f.keep for f in frames)
    sidecar = Sidecar(
        schema_version=SCHEMA_VERSION, trapd_version="synthetic", deployment_id=DEPLOYMENT, camera_id="cam-1",
        site=SiteEntry(latitude=37.12, longitude=58.45, coordinate_precision=0.01), event_id=event_id,
        capture_method="activityDetection", timezone="UTC", utc_offset="+00:00", start_utc=iso_utc(at),
        end_utc=iso_utc(at + timedelta(seconds=len(frames) * 0.5)), end_reason="quiet",
        triggers=tuple(TriggerEntry(utc=iso_utc(at + timedelta(seconds=i)), monotonic_ns=i, source="pir")
                       for i in range(rng.randint(1, 4))),
        detector=DetectorEntry(name="ssd-mobilenet-v1-coco", version="synthetic", sha256="0" * 64),
        decision=DecisionEntry(keep=keep, reason="kept: animal" if keep else "discarded: nothing moved",
                               policy=DecisionConfig()),
        counts=CountsEntry(frames=len(frames), kept=kept, discarded=len(frames) - kept), frames=tuple(frames))
    (folder / "event.json").write_bytes(sidecar.encode())
    return folder


def _link(photo: Path, target: Path) -> None:
    """A hard link takes no space; across file systems, a symbolic link does the same for a reader."""
    try:
        os.link(photo, target)
    except OSError:
        target.symlink_to(photo.resolve())


def _detections(rng: random.Random, category: str | None) -> list[DetectionEntry]:
    found = []
    if category is not None:
        x, y = rng.uniform(0, 0.6), rng.uniform(0.2, 0.6)
        found.append(DetectionEntry(category=category, label=rng.choice(LABELS[category]),
                                    score=round(rng.uniform(0.5, 0.97), 3),
                                    bbox=(round(x, 4), round(y, 4), round(rng.uniform(0.1, 0.4), 4),
                                          round(rng.uniform(0.1, 0.35), 4))))
    for _ in range(rng.randint(0, 2)):
        found.append(DetectionEntry(category="animal", label="rock", score=round(rng.uniform(0.1, 0.3), 3),
                                    bbox=(round(rng.uniform(0, 0.8), 4), round(rng.uniform(0, 0.8), 4), 0.1, 0.1)))
    return found


def _effort(root: Path, rng: random.Random, days: int) -> None:
    lines: list[tuple[str, datetime, int | None]] = [("start", START, None), ("armed", START, None)]
    dropped = 0
    for day in range(days):
        at = START + timedelta(days=day, hours=23)
        if rng.random() < 0.01:
            lines += [("full", at - timedelta(hours=5), None), ("armed", at - timedelta(hours=1), None)]
        dropped += 40 if rng.random() < 0.1 else 0  # a windy day
        lines.append(("alive", at, dropped))
    lines.append(("stop", START + timedelta(days=days), dropped))
    with effort_path(root).open("w") as stream:
        for mark, at, count in lines:
            entry: dict[str, object] = {"utc": iso_utc(at), "deployment_id": DEPLOYMENT, "mark": mark, "boot_id": None}
            if count is not None:
                entry["triggers_rate_limited"] = count
            stream.write(json.dumps(entry) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the storage root to create (must not exist)")
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.out.exists():
        sys.exit(f"{args.out} exists; give a new folder")
    folders = make_storage(args.out, args.events, args.days, photos_in(args.photos), args.seed)
    print(f"{len(folders)} events in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
