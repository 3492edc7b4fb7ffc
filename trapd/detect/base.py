"""The detector interface: frames in, scored detections out. Keep/discard is decided elsewhere."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from trapd.frames import Frame

log = logging.getLogger(__name__)

#: MegaDetector's categories, which every model card maps its labels onto.
Category = Literal["animal", "person", "vehicle"]
CATEGORIES: tuple[Category, ...] = ("animal", "person", "vehicle")

#: ``ok``: the detector ran; ``unfiltered``: no detector looked at the frame (none configured,
#: backlog, model missing); ``error``: the detector or decoding failed on this frame.
DetectionStatus = Literal["ok", "unfiltered", "error"]


@dataclass(frozen=True, slots=True)
class Detection:
    category: Category
    label: str
    score: float
    #: Normalised [x, y, width, height] from the top-left corner, as MegaDetector writes it.
    bbox: tuple[float, float, float, float]
    #: Change inside the box between the event's frames, over the frame's typical change
    #: (trapd/motion.py): about 1 or below for background, far above for a moving animal.
    #: None where the event had no other frame to compare with.
    motion: float | None = None

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {"category": self.category, "label": self.label, "score": round(self.score, 4),
                                   "bbox": [round(v, 4) for v in self.bbox]}
        if self.motion is not None:
            data["motion"] = self.motion
        return data


@dataclass(frozen=True, slots=True)
class SecondOpinion:
    """A classifier's view of the whole frame: probability mass per category, and its top label."""

    model: str
    scores: dict[Category, float]
    labels: dict[Category, str]

    def as_json(self) -> dict[str, object]:
        return {"model": self.model, "scores": {k: round(v, 4) for k, v in self.scores.items()},
                "labels": self.labels}


@dataclass(frozen=True, slots=True)
class DetectionResult:
    status: DetectionStatus
    detections: tuple[Detection, ...] = ()
    reason: str = ""
    latency_ms: float = 0.0
    second_opinion: SecondOpinion | None = None
    #: How many model invocations the frame cost.
    invocations: int = 0


@dataclass(frozen=True, slots=True)
class DetectorInfo:
    """What goes into every event's metadata about the detector that judged it."""

    name: str
    version: str = ""
    sha256: str | None = None
    #: Why the configured detector is not running (the trap runs fail-open), or None.
    degraded: str | None = None
    #: (width, height) the model takes: a low-resolution frame of this size goes in without a resize.
    input_size: tuple[int, int] | None = None


class Detector(Protocol):
    info: DetectorInfo

    def detect(self, frame: Frame) -> DetectionResult:
        """Score one frame. May raise; the pipeline turns any exception into a kept, flagged frame."""
        ...

    def close(self) -> None: ...


def run_detector(detector: Detector, frame: Frame) -> DetectionResult:
    """Score a frame; any failure or malformed result becomes an ``error`` result (kept, flagged), never "empty"."""
    if frame.camera.lores is None and frame.camera.main is None:
        return DetectionResult("error", reason=f"frame did not decode: {frame.camera.decode_error}")
    started_ns = time.perf_counter_ns()
    try:
        result = _checked(detector.detect(frame))
        if not result.latency_ms:
            result = replace(result, latency_ms=(time.perf_counter_ns() - started_ns) / 1e6)
    except Exception as exc:
        log.warning("event %s frame %d: detector failed, frame kept: %s: %s",
                    frame.event_id, frame.index, type(exc).__name__, exc)
        return DetectionResult("error", reason=f"{type(exc).__name__}: {exc}")
    return result


def _checked(result: DetectionResult) -> DetectionResult:
    """Reject a malformed detector result, so it is flagged instead of breaking the decision step."""
    if not isinstance(result, DetectionResult):
        raise TypeError(f"detector returned {type(result).__name__}, not DetectionResult")
    for detection in result.detections:
        if detection.category not in CATEGORIES:
            raise ValueError(f"detector returned unknown category {detection.category!r}")
        if not 0.0 <= detection.score <= 1.0:
            raise ValueError(f"detector returned score {detection.score} outside 0..1")
    return result
