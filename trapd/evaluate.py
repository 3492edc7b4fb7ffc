"""Judging photos outside a running trap: `trapd detect` (one line per photo) and `trapd eval`
(a labelled folder scored against its ground truth, in the format of ``ground_truth.csv``).

Both run the same detector and decision step the daemon runs, one frame at a time.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from trapd.config.model import TrapdConfig
from trapd.decide import decide_frame, frame_flags
from trapd.detect.base import DetectionResult, Detector, run_detector
from trapd.errors import InputError
from trapd.frames import Trigger
from trapd.progress import SILENT, Progress
from trapd.replay import full_resolution_needed, lores_size_for, photo_frame
from trapd.timebase import Instant

NON_EMPTY = ("animal", "person", "vehicle")


@dataclass(frozen=True, slots=True)
class Judgement:
    file: str
    keep: bool
    reason: str
    flags: tuple[str, ...]
    result: DetectionResult

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "keep": self.keep,
            "reason": self.reason,
            "flags": list(self.flags),
            "detections": [d.as_json() for d in self.result.detections],
            "second_opinion": self.result.second_opinion.as_json() if self.result.second_opinion else None,
            "invocations": self.result.invocations,
            "latency_ms": round(self.result.latency_ms, 2),
        }


def judge(path: Path, detector: Detector, config: TrapdConfig) -> Judgement:
    """Detect and decide one photo, as the daemon would a captured frame. Undecodable: kept, flagged."""
    if not path.is_file():
        raise InputError(f"{path} is not a file; give the paths of JPEG photos")
    now = Instant.now()
    frame = photo_frame(path, lores_size_for(detector, config), "detect", 0, Trigger(now, "manual"), now,
                        full_resolution=full_resolution_needed(config, storing=False))
    result = run_detector(detector, frame)
    decision = decide_frame(result, config.decision)
    return Judgement(path.name, decision.keep, decision.reason, frame_flags(frame, decision), result)


@dataclass
class EvalReport:
    rows: list[tuple[str, str, Judgement]]  # (file, ground-truth label, judgement)
    detector: str
    invoke_ms: float | None = None  # time inside the interpreters, where the detector reports it
    #: With --events: the files of each event that holds labelled photos, as replay grouped them.
    events: list[list[str]] | None = None

    def _event_recall(self) -> tuple[int, int] | None:
        """Events with an animal, person or vehicle in them, and how many kept at least one such frame."""
        if self.events is None:
            return None
        by_file = {file: (label, j.keep) for file, label, j in self.rows}
        positive = [[by_file[f] for f in event if f in by_file and by_file[f][0] in NON_EMPTY]
                    for event in self.events]
        positive = [frames for frames in positive if frames]
        return sum(any(keep for _, keep in frames) for frames in positive), len(positive)

    def _kept(self, labels: tuple[str, ...]) -> tuple[int, int]:
        chosen = [j for _, label, j in self.rows if label in labels]
        return sum(j.keep for j in chosen), len(chosen)

    def as_json(self) -> dict[str, Any]:
        kept_positive, positives = self._kept(NON_EMPTY)
        kept_empty, empties = self._kept(("empty",))
        latencies = sorted(j.result.latency_ms for _, _, j in self.rows if j.result.status == "ok")
        events = self._event_recall()
        per_category = {}
        for label in NON_EMPTY:
            kept, total = self._kept((label,))
            if total:
                per_category[label] = {"kept": kept, "total": total}
        return {
            "detector": self.detector,
            "frames": len(self.rows),
            "recall_non_empty": round(kept_positive / positives, 4) if positives else None,
            "kept_non_empty": kept_positive,
            "non_empty": positives,
            "empty_rejection": round((empties - kept_empty) / empties, 4) if empties else None,
            "rejected_empty": empties - kept_empty,
            "empty": empties,
            "per_category": per_category,
            "event_recall": round(events[0] / events[1], 4) if events and events[1] else None,
            "events_kept": events[0] if events else None,
            "events_non_empty": events[1] if events else None,
            "latency_ms_median": round(statistics.median(latencies), 2) if latencies else None,
            "latency_ms_p90": round(latencies[int(0.9 * (len(latencies) - 1))], 2) if latencies else None,
            # Preprocessing, tiling, output decoding and NMS, as a fraction of the invoke time they drive.
            "overhead_ratio": round((sum(latencies) - self.invoke_ms) / self.invoke_ms, 3)
            if self.invoke_ms and latencies else None,
            "missed": [f for f, label, j in self.rows if label in NON_EMPTY and not j.keep],
            "empty_kept": [f for f, label, j in self.rows if label == "empty" and j.keep],
        }


def read_ground_truth(path: Path) -> list[tuple[str, str]]:
    """``file,label`` rows (a ``ground_truth.csv``, or the review CSV `trapd report` downloads)."""
    rows = read_labels(path, ("file", "label"), "ground truth", "give --ground-truth a CSV with the columns file,label "
                       "(file relative to the photo folder; label animal, person, vehicle or empty)")
    return [(file, label) for file, label in rows]


def read_labels(path: Path, columns: tuple[str, ...], what: str, expected: str) -> list[tuple[str, ...]]:
    """A labels CSV's ``columns``, the last of them a label (animal, person, vehicle or empty); anything else, a
    missing column or an unknown label, is one sentence naming ``what`` and ``expected``."""
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist; {expected}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:  # -sig: Excel's "CSV UTF-8" starts with a BOM
            rows = [tuple(row[column] or "" for column in columns) for row in csv.DictReader(stream)]
    except (OSError, KeyError, UnicodeDecodeError, csv.Error) as exc:
        reason = f"no {exc} column" if isinstance(exc, KeyError) else str(exc)
        raise InputError(f"{what} {path} cannot be read ({reason}); it must be a UTF-8 CSV: {expected}") from None
    unknown = sorted({row[-1] for row in rows} - {*NON_EMPTY, "empty"})
    if unknown:
        raise InputError(f"{what} {path} has labels {unknown}; use animal, person, vehicle or empty")
    return rows


_Outcome = TypeVar("_Outcome")


def _timed(detector: Detector, config: TrapdConfig, warm_up: Path | None,
           run: Callable[[], _Outcome]) -> tuple[_Outcome, float | None]:
    """``run()``, after one warm-up photo (the first invoke is slow), with the ms it spent inside
    the interpreters, where the detector counts them."""
    if warm_up is not None:
        judge(warm_up, detector, config)
    before = getattr(detector, "invoke_ns", None)
    outcome = run()
    after = getattr(detector, "invoke_ns", None)
    if isinstance(before, int) and isinstance(after, int):
        return outcome, (after - before) / 1e6
    return outcome, None


def evaluate(images_dir: Path, ground_truth: Path, detector: Detector, config: TrapdConfig,
             progress: Progress = SILENT) -> EvalReport:
    labelled = read_ground_truth(ground_truth)
    rows, invoke_ms = _timed(detector, config, images_dir / labelled[0][0] if labelled else None,
                             lambda: [(name, label, judge(images_dir / name, detector, config))
                                      for name, label in progress.over(labelled, len(labelled), "photos")])
    return EvalReport(rows, detector.info.name, invoke_ms)


def evaluate_events(images_dir: Path, ground_truth: Path, detector: Detector, config: TrapdConfig,
                    progress: Progress = SILENT) -> EvalReport:
    """As the trap decides: photos grouped into events as ``trapd replay`` groups them (by folder and
    capture time), then decided per event, with event-level keeping and motion between frames."""
    from trapd.replay import replay

    labels = dict(read_ground_truth(ground_truth))

    def score() -> tuple[list[tuple[str, str, Judgement]], list[list[str]]]:
        rows, events = [], []
        for record, _ in replay(images_dir, detector, config, progress=progress):  # one event in memory at a time
            files = []
            for frame, result, decision in zip(record.frames, record.results, record.decisions, strict=True):
                file = frame.camera.source_name or ""
                files.append(file)
                if file in labels:
                    judgement = Judgement(file, decision.keep, decision.reason, frame_flags(frame, decision), result)
                    rows.append((file, labels[file], judgement))
            events.append(files)
        return rows, events

    (rows, events), invoke_ms = _timed(detector, config, images_dir / next(iter(labels)) if labels else None, score)
    missing = sorted(set(labels) - {file for file, _, _ in rows})
    if missing:
        raise InputError(f"ground truth {ground_truth} names photos not in {images_dir}: {', '.join(missing[:5])}")
    return EvalReport(rows, detector.info.name, invoke_ms, events)
