"""`trapd export megadetector`: the on-device detections in MegaDetector's batch-output JSON.

Timelapse and the other tools built around MegaDetector read this format: one entry per image
with its detections (category "1" animal, "2" person, "3" vehicle; ``conf``; a normalised
``[x, y, width, height]`` box from the top-left), ``detection_categories`` and ``info``. Every
stored frame is listed; a frame the detector could not judge carries ``failure`` instead of
detections, as the format does for images MegaDetector could not process.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trapd import __version__
from trapd.errors import StorageError
from trapd.files import make_dirs_durable, write_atomic
from trapd.progress import SILENT, Progress
from trapd.storage.export_dir import claim_output_file
from trapd.storage.layout import catalog_name, frame_path
from trapd.storage.sidecar import read_sidecars

CATEGORY_IDS = {"animal": "1", "person": "2", "vehicle": "3"}
FORMAT_VERSION = "1.4"


def megadetector_json(root: Path, progress: Progress = SILENT) -> tuple[dict[str, Any], int]:
    """The document, and how many frames a sidecar names whose file is gone (left out, not a crash)."""
    images: list[dict[str, Any]] = []
    detectors: set[str] = set()
    missing = 0
    for folder, sidecar in read_sidecars(root, progress):
        detectors.add(sidecar.detector.name)
        for frame in sidecar.frames:
            if not frame.file:
                continue  # discarded: not on the card, so nothing for a viewer to show
            if not frame_path(folder, frame.file).is_file():
                missing += 1
                continue
            entry: dict[str, Any] = {"file": catalog_name(root, frame_path(folder, frame.file))}
            if frame.detector_status == "ok":
                detections = [
                    {"category": CATEGORY_IDS[d.category], "conf": round(d.score, 4),
                     "bbox": [round(v, 4) for v in d.bbox]}
                    for d in frame.detections
                ]
                entry["detections"] = detections
                entry["max_detection_conf"] = max((round(d.score, 4) for d in frame.detections), default=0.0)
            else:
                entry["failure"] = f"{frame.detector_status}: {frame.detector_reason}"
            images.append(entry)
    return {
        "images": images,
        "detection_categories": {value: key for key, value in CATEGORY_IDS.items()},
        "info": {
            "format_version": FORMAT_VERSION,
            "detector": ", ".join(sorted(detectors)) or "none",
            "detection_completion_time": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "classifier": None,
            "trapd_version": __version__,
        },
    }, missing


def export_megadetector(root: Path, out: Path, progress: Progress = SILENT) -> tuple[int, int]:
    """Write the JSON atomically; returns how many images it lists, and how many missing files it left out."""
    claim_output_file(out)
    document, missing = megadetector_json(root, progress)
    try:
        make_dirs_durable(out.parent.resolve())
    except OSError as exc:
        raise StorageError(f"--out {out}: its folder cannot be created ({exc.strerror or exc})") from None
    write_atomic(out, (json.dumps(document, indent=1) + "\n").encode())
    return len(document["images"]), missing
