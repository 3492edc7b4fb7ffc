"""Motion between the frames of one event: did what a detection boxed actually move?

The camera is fixed, so the background is the same in every frame of a burst, and of a sequence
of photos; an animal moves. For each detection, the change inside its box (against the other
frames of the event) is divided by the frame's typical change, its median: a gust that stirs
all the grass, or the IR light switching on, changes everything and so reads as about 1, while
a walking animal reads far higher. The ratio is recorded on every detection (``motion``), and
``decision.static_min_score`` may use it (trapd/decide.py).

It costs a grey thumbnail per frame and a few array operations per event: about a millisecond.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt
from PIL import Image

from trapd.detect.base import DetectionResult
from trapd.frames import Frame

#: The grey thumbnail motion is measured on: fine enough for a box a few percent of the frame wide.
THUMBNAIL_SIZE = (128, 96)
#: Grey levels of change that count as noise, added to the typical change: two identical frames
#: (a still scene) read 0, never a division by zero.
NOISE_FLOOR = 1.0

Thumbnail = npt.NDArray[np.float32]


def with_motion(frames: Sequence[Frame], results: Sequence[DetectionResult]) -> list[DetectionResult]:
    """The results with each detection's motion ratio filled in; unchanged where there is nothing to compare."""
    thumbnails = [_thumbnail(frame) for frame in frames]
    if sum(t is not None for t in thumbnails) < 2:
        return list(results)
    measured = []
    for index, (thumbnail, result) in enumerate(zip(thumbnails, results, strict=True)):
        others = [t for other, t in enumerate(thumbnails) if other != index and t is not None]
        if thumbnail is None or not result.detections:
            measured.append(result)
            continue
        change = np.mean([np.abs(thumbnail - other) for other in others], axis=0)
        typical = float(np.median(change)) + NOISE_FLOOR
        detections = tuple(replace(d, motion=round(_inside(change, d.bbox) / typical, 2)) for d in result.detections)
        measured.append(replace(result, detections=detections))
    return measured


def _thumbnail(frame: Frame) -> Thumbnail | None:
    lores = frame.camera.lores
    if lores is None:
        return None
    grey = Image.fromarray(lores).convert("L").resize(THUMBNAIL_SIZE, Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.float32)


def _inside(change: Thumbnail, bbox: tuple[float, float, float, float]) -> float:
    """Mean change inside a normalised [x, y, w, h] box (at least one thumbnail pixel)."""
    height, width = change.shape
    x, y, w, h = bbox
    x0, y0 = min(width - 1, max(0, int(x * width))), min(height - 1, max(0, int(y * height)))
    x1, y1 = max(x0 + 1, min(width, round((x + w) * width))), max(y0 + 1, min(height, round((y + h) * height)))
    return float(change[y0:y1, x0:x1].mean())
