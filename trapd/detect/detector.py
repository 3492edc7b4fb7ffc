"""The TFLite detector: the whole frame, then full-resolution tiles, then an optional second opinion.

A 2,000-pixel frame squeezed into 300x300 loses the small and distant animals; a fixed camera
trap can afford to look again at full resolution. Inference is spent in order of value, within
``detector.max_invocations_per_frame``:

1. the whole frame (what a naive detector does);
2. if nothing in it is confident yet, a grid of overlapping full-resolution tiles;
3. if still nothing is confident and a classifier is configured, the classifier on the whole
   frame: its animal probability is a second opinion the decision step can weigh.

Detections are mapped back onto the frame, merged across tiles per category, and returned
with their scores; keep or discard is decided elsewhere (trapd/decide.py).
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import Field

from trapd.config.fields import Section, TileGrid
from trapd.config.sections import DecisionConfig
from trapd.detect.base import CATEGORIES, Category, Detection, DetectionResult, DetectorInfo, SecondOpinion
from trapd.detect.decoders import nms
from trapd.detect.models import ResolvedModel, find_model
from trapd.detect.pixels import Crop, FullFrame, ReducedFrame
from trapd.detect.tflite import TfliteModel
from trapd.errors import ModelError
from trapd.frames import Frame, RGBImage

#: Boxes of one category overlapping more than this across tiles are one animal.
MERGE_IOU = 0.5


class TfliteDetectorConfig(Section):
    type: Literal["tflite"] = Field("tflite", description="An on-device TFLite model described by a model card.")
    model: str = Field(
        "ssd-mobilenet-v1-coco", description="Model card name, found on the model search path ($TRAPD_MODELS_DIR, ...)."
    )
    required: bool = Field(
        False,
        description="true: refuse to start without a working model; false: run fail-open "
        "(keep every frame, marked 'unfiltered', and warn).",
    )
    num_threads: int = Field(2, ge=1, le=8, description="Interpreter threads.")
    tiles: TileGrid = Field(
        (2, 2), description="Columns, rows of full-resolution tiles scored besides the whole frame; [1, 1]: none."
    )
    tile_overlap: float = Field(0.2, ge=0.0, le=0.5, description="Fraction by which neighbouring tiles overlap.")
    max_invocations_per_frame: int = Field(
        8, ge=1, le=64, description="Budget of model invocations per frame (whole frame first, then tiles)."
    )
    min_score: float = Field(0.1, ge=0.0, le=1.0, description="Detections below this score are not recorded.")
    classifier: str | None = Field(
        None, description="Optional classifier card name for a second opinion on frames the detector is unsure of."
    )


def plan_crops(width: int, height: int, columns: int, rows: int, overlap: float) -> list[Crop]:
    """The whole frame, then a columns x rows grid of tiles overlapping by ``overlap``."""
    crops = [Crop(0, 0, width, height)]
    if columns * rows == 1:
        return crops
    tile_w = round(width / (columns - (columns - 1) * overlap))
    tile_h = round(height / (rows - (rows - 1) * overlap))
    for row in range(rows):
        for column in range(columns):
            x0 = round(column * (width - tile_w) / max(1, columns - 1))
            y0 = round(row * (height - tile_h) / max(1, rows - 1))
            crops.append(Crop(x0, y0, min(width, x0 + tile_w), min(height, y0 + tile_h)))
    return crops


def _verified_sha256(resolved: ResolvedModel) -> str:
    """The model file's sha256, refused if its card records another."""
    checksum = resolved.sha256()
    if resolved.card.sha256 is not None and checksum != resolved.card.sha256:
        raise ModelError(f"model {resolved.card.name} ({resolved.model_path}) does not match the sha256 on its "
                         f"card ({checksum[:12]}... vs {resolved.card.sha256[:12]}...); the file is damaged "
                         "or replaced: reinstall it (`trapd models install`)")
    return checksum


class TfliteDetector:
    def __init__(self, config: TfliteDetectorConfig, *,
                 keep_thresholds: dict[Category, float] | None = None) -> None:
        """``keep_thresholds``: a detection at its category's threshold ends the search for more evidence."""
        resolved = find_model(config.model)
        if resolved.card.kind != "detector":
            raise ModelError(f"model {config.model} is a {resolved.card.kind}, not a detector; "
                             "set detector.model to a detector card")
        self._config = config
        self._model = TfliteModel(resolved, config.num_threads)
        self._category_of = resolved.card.category_of_label()
        # Without thresholds nothing is "confident" early: every crop in the budget is looked at.
        self._keep_thresholds = keep_thresholds or {}
        self._classifier: TfliteModel | None = None
        if config.classifier is not None:
            classifier = find_model(config.classifier)
            if classifier.card.kind != "classifier":
                raise ModelError(f"model {config.classifier} is not a classifier; fix detector.classifier")
            self._classifier = TfliteModel(classifier, config.num_threads)
            _verified_sha256(classifier)  # a damaged second opinion is as wrong as a damaged detector
        checksum = _verified_sha256(resolved)
        self.info = DetectorInfo(name=resolved.card.name, version=resolved.card.version, sha256=checksum,
                                 input_size=(resolved.card.input.width, resolved.card.input.height))

    @classmethod
    def from_config(cls, config: TfliteDetectorConfig, policy: DecisionConfig) -> TfliteDetector:
        """A detection that would keep the frame anyway ends the search for more evidence early."""
        return cls(config, keep_thresholds={c: float(getattr(policy.thresholds, c)) for c in CATEGORIES})

    @property
    def invoke_ns(self) -> int:
        """Time spent inside the interpreters so far (for overhead accounting)."""
        return self._model.invoke_ns + (self._classifier.invoke_ns if self._classifier else 0)

    @property
    def invocations(self) -> int:
        """Model invocations so far, the classifier's included."""
        return self._model.invocations + (self._classifier.invocations if self._classifier else 0)

    def detect(self, frame: Frame) -> DetectionResult:
        """The frame's low-resolution stream first; its full resolution, from memory or from its JPEG once
        written, only for the tiles and the classifier."""
        main, lores = frame.camera.main, frame.camera.lores
        if main is not None:
            return self.detect_full(FullFrame(rgb=main), lores)
        if frame.stored_at is not None:
            return self.detect_full(FullFrame(path=frame.stored_at), lores)
        if lores is not None:
            return self.detect_full(FullFrame(rgb=lores), lores)
        return DetectionResult("error", reason="frame has no pixels")

    def detect_image(self, rgb: RGBImage, lores: RGBImage | None = None) -> DetectionResult:
        """Detect in a full-resolution picture; ``lores`` (the camera's scaled stream) serves the whole-frame pass."""
        return self.detect_full(FullFrame(rgb=rgb), lores)

    def detect_full(self, full: FullFrame, lores: RGBImage | None) -> DetectionResult:
        started = time.perf_counter_ns()
        width, height = full.width, full.height
        spec = self._model.card.input
        budget = self._config.max_invocations_per_frame
        columns, rows = self._config.tiles
        detections: list[Detection] = []
        invocations = 0
        reduced: ReducedFrame | None = None
        for crop in plan_crops(width, height, columns, rows, self._config.tile_overlap):
            if invocations >= budget or self._confident(detections):
                break
            whole = crop == Crop(0, 0, width, height)
            if whole and lores is not None and self._big_enough(lores):
                # The ISP already scaled this stream for the detector: free, where resizing main is not.
                detections += self._detect_crop(lores, Crop(0, 0, lores.shape[1], lores.shape[0]),
                                                lores.shape[1], lores.shape[0])
            elif whole:
                detections += self._detect_crop(full.at_least(spec.width, spec.height), crop, width, height)
            else:
                if reduced is None:
                    reduced = full.reduced_for(crop, spec.width, spec.height)
                detections += self._detect_crop(reduced.tile(crop), crop, width, height)
            invocations += 1
        opinion = None
        if self._classifier is not None and invocations < budget and not self._confident(detections):
            classifier_input = self._classifier.card.input
            opinion = self._second_opinion(full.at_least(classifier_input.width, classifier_input.height))
            invocations += 1
        return DetectionResult("ok", tuple(_merge(detections)), latency_ms=(time.perf_counter_ns() - started) / 1e6,
                               second_opinion=opinion, invocations=invocations)

    def _big_enough(self, lores: RGBImage) -> bool:
        # Upscaling a stream much smaller than the model's input would throw away what the camera saw.
        spec = self._model.card.input
        return bool(lores.shape[1] >= spec.width * 0.9 and lores.shape[0] >= spec.height * 0.6)

    def _confident(self, detections: list[Detection]) -> bool:
        # Per category: a false "airplane" above the *animal* threshold must not end the search for animals.
        return any(d.score >= self._keep_thresholds.get(d.category, 2.0) for d in detections)

    def _detect_crop(self, pixels: RGBImage, crop: Crop, width: int, height: int) -> list[Detection]:
        """Detect in ``pixels``, the picture of ``crop`` (of a ``width`` x ``height`` frame) at any scale."""
        found = []
        crop_w, crop_h = crop.x1 - crop.x0, crop.y1 - crop.y0
        for raw in self._model.detect(pixels, self._config.min_score):
            label = self._model.label(raw.class_index)
            category = self._category_of.get(label)
            if category is None:
                continue  # a label the card does not map (a chair, a kite): not evidence of anything
            x0, y0, x1, y1 = raw.box
            left = (crop.x0 + x0 * crop_w) / width
            top = (crop.y0 + y0 * crop_h) / height
            found.append(Detection(category, label, raw.score,
                                   (left, top, (x1 - x0) * crop_w / width, (y1 - y0) * crop_h / height)))
        return found

    def _second_opinion(self, rgb: RGBImage) -> SecondOpinion:
        assert self._classifier is not None
        probabilities = self._classifier.classify(rgb)
        card = self._classifier.card
        scores: dict[Category, float] = {}
        labels: dict[Category, str] = {}
        for category, ranges in card.category_indices.items():
            indices = np.concatenate([np.arange(lo, hi + 1) for lo, hi in ranges])
            scores[category] = float(probabilities[indices].sum())
            labels[category] = self._classifier.label(int(indices[np.argmax(probabilities[indices])]))
        return SecondOpinion(card.name, scores, labels)

    def close(self) -> None:
        pass


def _merge(detections: list[Detection]) -> list[Detection]:
    """One detection per animal: the same animal seen in the whole frame and in a tile counts once."""
    merged: list[Detection] = []
    for category in sorted({d.category for d in detections}):
        group = [d for d in detections if d.category == category]
        boxes = np.array([(x, y, x + w, y + h) for x, y, w, h in (d.bbox for d in group)], dtype=np.float32)
        scores = np.array([d.score for d in group], dtype=np.float32)
        merged += [group[i] for i in nms(boxes, scores, MERGE_IOU)]
    merged.sort(key=lambda d: d.score, reverse=True)
    return merged
