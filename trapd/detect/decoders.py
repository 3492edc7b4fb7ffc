"""Turning raw output tensors into boxes and scores, for each output format a card can name.

Boxes come out as normalised (x0, y0, x1, y1) in the model's input frame; the detector maps
them back onto the camera frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trapd.detect.cards import SsdOutputNames

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class RawDetection:
    class_index: int
    score: float
    box: Box  # normalised x0, y0, x1, y1


def decode_ssd(outputs: Mapping[str, npt.NDArray[np.float32]], names: SsdOutputNames | None,
               min_score: float) -> list[RawDetection]:
    """TFLite_Detection_PostProcess outputs: boxes [1,N,4] as (ymin, xmin, ymax, xmax), classes, scores, count."""
    boxes, classes, scores, count = _ssd_tensors(outputs, names)
    valid = min(int(count.reshape(-1)[0]), scores.size)
    all_scores = scores.reshape(-1)[:valid]
    chosen = np.flatnonzero(all_scores.astype(np.float64) >= min_score)  # as float(score) >= min_score did
    clipped = np.clip(boxes.reshape(-1, 4)[chosen], 0.0, 1.0).tolist()
    return [RawDetection(int(class_index), float(score), (xmin, ymin, xmax, ymax))
            for class_index, score, (ymin, xmin, ymax, xmax)
            in zip(classes.reshape(-1)[chosen].tolist(), all_scores[chosen].tolist(), clipped, strict=True)]


def _ssd_tensors(outputs: Mapping[str, npt.NDArray[np.float32]], names: SsdOutputNames | None,
                 ) -> tuple[npt.NDArray[np.float32], ...]:
    if names is not None:
        return tuple(outputs[n] for n in (names.boxes, names.classes, names.scores, names.count))
    # No names on the card: tell the four apart by shape, and scores from classes by their values:
    # scores lie in [0, 1] sorted best first (the post-process sorts them), class ids are whole numbers.
    boxes = next(t for t in outputs.values() if t.shape[-1] == 4 and t.ndim == 3)
    count = next(t for t in outputs.values() if t.size == 1)
    first, second = (t for t in outputs.values() if t.ndim == 2)
    first_is_scores = _looks_like_scores(first) and not (_looks_like_scores(second) and _whole_numbers(first))
    scores, classes = (first, second) if first_is_scores else (second, first)
    return boxes, classes, scores, count


def _looks_like_scores(tensor: npt.NDArray[np.float32]) -> bool:
    values = tensor.reshape(-1)
    return bool(np.all((values >= 0.0) & (values <= 1.0)) and np.all(np.diff(values) <= 0))


def _whole_numbers(tensor: npt.NDArray[np.float32]) -> bool:
    return bool(np.all(np.mod(tensor, 1) == 0))


def decode_yolov8(output: npt.NDArray[np.float32], min_score: float, iou_threshold: float = 0.5,
                  max_detections: int = 100) -> list[RawDetection]:
    """Raw YOLOv8 output [1, 4 + classes, anchors]: cx, cy, w, h (normalised), then class scores. No NMS inside.

    Anchors (8,400 at 640 px) always outnumber features (84 for COCO), so the smaller axis is
    the features one; some exports give [1, anchors, 4 + classes].
    """
    table = output[0]
    if table.shape[0] > table.shape[1]:
        table = table.T
    class_scores = table[4:]
    best_class = class_scores.argmax(axis=0)
    best_score = class_scores[best_class, np.arange(class_scores.shape[1])]
    keep = best_score >= min_score
    if not np.any(keep):
        return []
    cx, cy, w, h = table[:4, keep]
    boxes = np.clip(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1), 0.0, 1.0)
    scores, classes = best_score[keep], best_class[keep]
    detections = []
    for class_index in np.unique(classes):
        members = np.flatnonzero(classes == class_index)
        for i in members[nms(boxes[members], scores[members], iou_threshold)]:
            x0, y0, x1, y1 = (float(v) for v in boxes[i])
            detections.append(RawDetection(int(class_index), float(scores[i]), (x0, y0, x1, y1)))
    detections.sort(key=lambda d: d.score, reverse=True)
    return detections[:max_detections]


def nms(boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression; returns the indices kept, best first."""
    order = np.argsort(-scores)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        kept.append(best)
        x0 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[best, 3], boxes[rest, 3])
        overlap = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        iou = overlap / np.maximum(areas[best] + areas[rest] - overlap, 1e-9)
        order = rest[iou <= iou_threshold]
    return kept


def classifier_probabilities(output: npt.NDArray[np.generic], scale: float, zero_point: int) -> npt.NDArray[np.float32]:
    """Dequantise a classifier's output into probabilities (a float output is taken as it is)."""
    values = output.reshape(-1).astype(np.float32)
    if np.issubdtype(output.dtype, np.integer) and scale:
        values = (values - zero_point) * scale
    return values
