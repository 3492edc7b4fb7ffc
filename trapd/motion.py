"""Motion between the frames of one event: did what a detection boxed actually move?

The camera is fixed, so the background is the same in every frame of a burst, and of a sequence
of photos; an animal moves. For each detection, the change inside its box (against the other
frames of the event) is divided by the frame's typical change, its median: a gust that stirs
all the grass, or the IR light switching on, changes everything and so reads as about 1, while
a walking animal reads far higher. The ratio is recorded on every detection (``motion``), and
``decision.static_min_score`` may use it (trapd/decide.py).

It costs a grey thumbnail per frame, made when the frame is scored (12 KB: an event holds these, not
its frames' pixels), and a few array operations per event: about a millisecond.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt
from PIL import Image

from trapd.detect.base import DetectionResult
from trapd.frames import RGBImage

#: The grey thumbnail motion is measured on: fine enough for a box a few percent of the frame wide.
THUMBNAIL_SIZE = (128, 96)
#: Grey levels of change that count as noise, added to the typical change: two identical frames
#: (a still scene) read 0, never a division by zero.
NOISE_FLOOR = 1.0

Thumbnail = npt.NDArray[np.uint8]


def thumbnail(lores: RGBImage | None) -> Thumbnail | None:
    """The grey thumbnail motion is measured on, from the low-resolution frame; None without one."""
    if lores is None:
        return None
    return np.asarray(Image.fromarray(lores).convert("L").resize(THUMBNAIL_SIZE, Image.Resampling.BOX))


def with_motion(thumbnails: Sequence[Thumbnail | None], results: Sequence[DetectionResult]) -> list[DetectionResult]:
    """The results with each detection's motion ratio filled in; unchanged where there is nothing to compare."""
    if sum(t is not None for t in thumbnails) < 2:
        return list(results)
    greys = [None if t is None else t.astype(np.float32) for t in thumbnails]
    measured = []
    for index, (grey, result) in enumerate(zip(greys, results, strict=True)):
        others = [t for other, t in enumerate(greys) if other != index and t is not None]
        if grey is None or not result.detections:
            measured.append(result)
            continue
        change = np.mean([np.abs(grey - other) for other in others], axis=0)
        typical = float(np.median(change)) + NOISE_FLOOR
        detections = tuple(replace(d, motion=round(_inside(change, d.bbox) / typical, 2)) for d in result.detections)
        measured.append(replace(result, detections=detections))
    return measured


def _inside(change: npt.NDArray[np.float32], bbox: tuple[float, float, float, float]) -> float:
    """Mean change inside a normalised [x, y, w, h] box (at least one thumbnail pixel)."""
    height, width = change.shape
    x, y, w, h = bbox
    x0, y0 = min(width - 1, max(0, int(x * width))), min(height - 1, max(0, int(y * height)))
    x1, y1 = max(x0 + 1, min(width, round((x + w) * width))), max(y0 + 1, min(height, round((y + h) * height)))
    return float(change[y0:y1, x0:x1].mean())
