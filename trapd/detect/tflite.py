"""One TFLite model as its card describes it: built once, fed RGB, read back as boxes or probabilities."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from trapd.detect.cards import ModelCard
from trapd.detect.decoders import RawDetection, classifier_probabilities, decode_ssd, decode_yolov8
from trapd.detect.models import ResolvedModel
from trapd.detect.runtime import load_interpreter
from trapd.errors import ModelError
from trapd.frames import RGBImage
from trapd.imaging import resize_rgb


def read_labels(card: ModelCard, path: Path) -> list[str]:
    """The labels, refused in a sentence when they cannot be the card's: a wrong file names classes wrongly, and an
    empty or short one leaves every animal unnamed, so that the filter discards it as "no detections"."""
    try:
        data = path.read_bytes()
        labels = data.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ModelError(f"labels {path} of model {card.name} cannot be read ({reason or exc}); it must be a UTF-8 "
                         "text file, one label per line") from None
    if card.labels_sha256 is not None and hashlib.sha256(data).hexdigest() != card.labels_sha256:
        raise ModelError(f"labels {path} of model {card.name} do not match its card (labels_sha256); reinstall "
                         "the model with its own labels file")
    named = {line.strip() for line in labels}
    missing = sorted({label for names in card.categories.values() for label in names} - named)
    if missing:
        raise ModelError(f"labels {path} of model {card.name} do not name {', '.join(missing[:5])}"
                         f"{' and more' if len(missing) > 5 else ''}, which its card maps to categories: the file "
                         f"is empty, short or another model's ({len(labels)} lines); reinstall the model")
    return labels


class TfliteModel:
    def __init__(self, resolved: ResolvedModel, num_threads: int) -> None:
        self.card: ModelCard = resolved.card
        self.resolved = resolved
        self._interpreter = load_interpreter(resolved.model_path, num_threads)
        self._input = self._interpreter.get_input_details()[0]
        self._outputs = {d["name"]: d for d in self._interpreter.get_output_details()}
        self._check_against_card()
        self.labels = read_labels(self.card, resolved.labels_path)
        self._check_outputs_against_labels()
        self.invoke_ns = 0  # total time inside invoke(), for overhead accounting
        self.invocations = 0
        self._warm_up()
        self.invoke_ns, self.invocations = 0, 0  # the warm-up is not the work being accounted

    def _warm_up(self) -> None:
        """One invocation at load: the delegate sets up its buffers now (about 6 MB), not on the first animal,
        and a model that loads but will not run is refused here, not flagged on every frame."""
        spec = self.card.input
        try:
            self._run(np.zeros((spec.height, spec.width, 3), np.uint8))
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"model {self.card.name} ({self.resolved.model_path.name}) loads but does not run "
                             f"({exc}); check it with `trapd models verify`") from None

    def _check_against_card(self) -> None:
        card, spec = self.card, self.card.input
        shape = [int(v) for v in self._input["shape"]]
        dtype = np.dtype(self._input["dtype"]).name
        expected = [1, spec.height, spec.width, 3]
        if shape != expected or dtype != spec.dtype:
            raise ModelError(
                f"model {card.name} ({self.resolved.model_path.name}) takes {shape} {dtype}, but its card says "
                f"{expected} {spec.dtype}; fix the card's input section or use the right model file"
            )
        if card.format == "ssd_postprocess" and card.outputs is not None:
            missing = [n for n in card.outputs.model_dump().values() if n not in self._outputs]
            if missing:
                raise ModelError(f"model {card.name} has no output named {', '.join(missing)} (it has "
                                 f"{', '.join(sorted(self._outputs))}); fix the card's outputs section")
        if card.format == "yolov8" and (len(self._outputs) != 1 or len(self._only_output()["shape"]) != 3):
            raise ModelError(f"model {card.name} is not a raw YOLOv8 export (expected one [1, 4+classes, anchors] "
                             "output); check the card's format")

    def _check_outputs_against_labels(self) -> None:
        card = self.card
        if card.format == "yolov8":
            features = min(int(v) for v in self._only_output()["shape"][1:])
            classes = len([line for line in self.labels if line.strip()]) - max(0, card.label_offset)
            if features - 4 != classes:
                raise ModelError(f"model {card.name} outputs {features - 4} class scores but its labels file "
                                 f"{card.labels} names {classes} classes; fix the labels or the card")
        if card.format == "classifier":
            outputs = int(np.prod(self._only_output()["shape"]))
            highest = max(hi for ranges in card.category_indices.values() for _, hi in ranges)
            if highest >= outputs:
                raise ModelError(f"model {card.name} has {outputs} outputs but its card's category_indices "
                                 f"reach {highest}; fix the card")

    def _only_output(self) -> dict[str, Any]:
        return next(iter(self._outputs.values()))

    def label(self, class_index: int) -> str:
        line = class_index + self.card.label_offset
        return self.labels[line].strip() if 0 <= line < len(self.labels) else f"class {class_index}"

    def _prepare(self, rgb: RGBImage) -> npt.NDArray[Any]:
        spec = self.card.input
        # A lores stream or tile made to measure passes untouched; anything else is box-reduced
        # first (fast, and no aliasing of small animals), then resized.
        resized = resize_rgb(rgb, (spec.width, spec.height))
        if spec.dtype == "uint8":
            return resized[np.newaxis]
        return (resized.astype(np.float32) * spec.scale + spec.offset)[np.newaxis]

    def _run(self, rgb: RGBImage) -> dict[str, npt.NDArray[Any]]:
        self._interpreter.set_tensor(self._input["index"], self._prepare(rgb))
        started = time.perf_counter_ns()
        self._interpreter.invoke()
        self.invoke_ns += time.perf_counter_ns() - started
        self.invocations += 1
        return {name: self._interpreter.get_tensor(d["index"]) for name, d in self._outputs.items()}

    def detect(self, rgb: RGBImage, min_score: float) -> list[RawDetection]:
        outputs = self._run(rgb)
        if self.card.format == "yolov8":
            return decode_yolov8(next(iter(outputs.values())), min_score)
        return decode_ssd(outputs, self.card.outputs, min_score)

    def classify(self, rgb: RGBImage) -> npt.NDArray[np.float32]:
        output = next(iter(self._run(rgb).values()))
        scale, zero_point = self._only_output()["quantization"]
        return classifier_probabilities(output, float(scale), int(zero_point))
