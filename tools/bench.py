#!/usr/bin/env python3
"""trapd's figures on fake hardware: trigger latency, recovery, pre-trigger, idle cost, memory, replay.

    python tools/bench.py [--quick] [--json]

* Trigger latency: PIR edge (a MockFactory pin driven high; the gpiozero callback reads the
  clock) to the burst's first frame handed from capture to detection. Warm synthetic camera.
* Recovery: the same, for triggers fired while the previous burst is still being detected
  (a detector that takes 40 ms a frame) and written.
* Pre-trigger: frames stored from before the edge, with `camera.pretrigger_frames: 2`.
* Idle cost and peak RSS: read from /proc of a real `trapd run --fake` (see measure_idle.py);
  RSS with the default model loaded and a burst of full-resolution (2028x1520) frames stored.
* Replay: `trapd replay` over >= 500 photos, whole-frame detector; the overhead ratio is the
  time per frame over the detector's raw invoke time per frame, measured in the same run.

The machine is shared and noisy: ratios within one run are what to compare. Without
../shared/models the model-dependent figures are reported as null.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from gpiozero.pins.mock import MockFactory  # noqa: E402
from measure_idle import measure_idle, report  # noqa: E402

from trapd.config.model import TrapdConfig  # noqa: E402
from trapd.daemon import Daemon  # noqa: E402
from trapd.detect.base import DetectionResult, DetectorInfo  # noqa: E402
from trapd.event import DecidedEvent  # noqa: E402
from trapd.frames import Frame  # noqa: E402
from trapd.storage.writer import StoredEvent  # noqa: E402


class SlowDetector:
    """Stands for a real model on a Pi: 40 ms a frame, so bursts pile up behind it."""

    info = DetectorInfo(name="slow-40ms")

    def detect(self, frame: Frame) -> DetectionResult:
        time.sleep(0.04)
        return DetectionResult("ok")

    def close(self) -> None:
        pass


def _config(root: Path, **sections: Any) -> TrapdConfig:
    data: dict[str, Any] = {
        "pir": {"holdoff_s": 0.0},
        "camera": {"type": "synthetic", "main_size": [640, 480], "lores_size": [320, 240]},
        "burst": {"frames": 1, "interval_s": 0.0},
        "event": {"gap_s": 0.0, "max_per_minute": 0},  # hundreds of triggers a minute, on purpose
        "detector": {"type": "none"},
        "decision": {"audit_fraction": 0.0},
        "storage": {"root": str(root), "jpeg_quality": 80},
        **sections,
    }
    return TrapdConfig.model_validate(data)


def _fire(config: TrapdConfig, triggers: int, detector: Any = None, settle_s: float = 0.0) -> list[DecidedEvent]:
    """Run a daemon, fire ``triggers`` PIR edges each once capture is idle, return the stored events."""
    records: list[DecidedEvent] = []
    lock = threading.Lock()

    def stored(record: DecidedEvent, _stored: StoredEvent) -> None:
        with lock:
            records.append(record)

    factory = MockFactory()
    daemon = Daemon(config, pin_factory=factory, detector=detector, on_event_stored=stored)
    daemon.start()
    try:
        if settle_s:
            time.sleep(settle_s)
        pin = factory.pin(17)
        for _ in range(triggers):
            pin.drive_high()
            pin.drive_low()
            # Next trigger as soon as capture is free: detection and storage may still be busy.
            daemon.pipeline.wait_until_quiet(10)
    finally:
        daemon.stop()
    return records


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def trigger_latency(triggers: int, mode: str = "warm") -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = _config(Path(tmp), camera={"type": "synthetic", "main_size": [640, 480], "lores_size": [320, 240],
                                            "mode": mode})
        records = _fire(config, triggers)
    latencies = [r.frames[0].trigger_to_handoff_ms for r in records if r.frames]
    prefix = "trigger_latency" if mode == "warm" else f"trigger_latency_{mode}"
    figures = {f"{prefix}_p50_ms": round(statistics.median(latencies), 3),
               f"{prefix}_p99_ms": round(_percentile(latencies, 0.99), 3)}
    if mode == "warm":
        figures["trigger_latency_samples"] = len(latencies)
    return figures


def recovery_latency(triggers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = _config(Path(tmp), burst={"frames": 3, "interval_s": 0.0})
        records = _fire(config, triggers, detector=SlowDetector())
    # Every trigger after the first lands while earlier frames wait for the 40 ms detector.
    latencies = [r.frames[0].trigger_to_handoff_ms for r in records[1:] if r.frames]
    return {"recovery_latency_p50_ms": round(statistics.median(latencies), 3),
            "recovery_latency_p99_ms": round(_percentile(latencies, 0.99), 3)}


def pretrigger() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        config = _config(Path(tmp), camera={"type": "synthetic", "main_size": [640, 480], "lores_size": [320, 240],
                                            "pretrigger_frames": 2, "pretrigger_interval_s": 0.05})
        [record] = _fire(config, 1, settle_s=0.3)
    return {"pretrigger_frames_before_edge": sum(f.trigger_to_exposure_ms < 0 for f in record.frames)}


def replay_throughput(frames: int) -> dict[str, Any]:
    """`trapd replay` over ``frames`` photos, as the command runs it, timed per photo.

    The overhead ratio is trapd's own share: the time per photo over the time the interpreter
    spent on it *in the same run*. The interpreter runs slower while replay's decoding thread
    shares the machine (memory bandwidth and caches: 10-20% on a 2-vCPU VM), so a reference
    invoke time measured alone, afterwards, folds that contention into "overhead" and varies from
    machine to machine; it is reported beside it (``replay_contention``), with the ratio against
    it (``replay_vs_solo_invoke_ratio``, what BENCHMARKS.md gave before).
    """
    models, images = SHARED / "models", SHARED / "images" / "camera-trap"
    if not (models.is_dir() and images.is_dir()):
        return {"replay_frames_per_s": None, "replay_overhead_ratio": None, "replay_note": "../shared absent"}
    import json
    import os

    from trapd.cli.common import offline_detector
    from trapd.config.load import parse_config
    from trapd.detect.detector import TfliteDetector, TfliteDetectorConfig
    from trapd.replay import frame_lines, interpreter_threads, replay

    os.environ["TRAPD_MODELS_DIR"] = str(models)
    sources = sorted(p for p in images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    config = parse_config("detector:\n  tiles: [1, 1]\ndecision:\n  audit_fraction: 0\n")
    with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as sink:
        archive = Path(tmp) / "archive"
        for copy in range(-(-frames // len(sources))):
            folder = archive / f"card{copy:02d}"
            folder.mkdir(parents=True)
            for source in sources:
                (folder / source.name).symlink_to(source)
        started = time.monotonic()
        detector = offline_detector(config, decoding_alongside=True)  # as `trapd replay` builds it
        assert isinstance(detector, TfliteDetector)
        line_times: list[float] = []
        for record, _ in replay(archive, detector, config):
            for line in frame_lines(record):
                print(json.dumps(line), file=sink, flush=True)
                line_times.append(time.monotonic())
        in_run_invoke_s = detector.invoke_ns / detector.invocations / 1e9
        solo_invoke_s = _solo_invoke_s(detector)
        detector.close()
    replayed = len(line_times)
    # A rate is steady state: from the first photo's line to the last one's. Start-up (imports,
    # model load, reading every photo's EXIF to group them) is reported on its own.
    per_frame_s = (line_times[-1] - line_times[0]) / (replayed - 1)
    return {"replay_frames": replayed, "replay_frames_per_s": round(1 / per_frame_s, 2),
            "replay_invoke_ms": round(in_run_invoke_s * 1000, 2),
            "replay_solo_invoke_ms": round(solo_invoke_s * 1000, 2),
            "replay_interpreter_threads": interpreter_threads(TfliteDetectorConfig().num_threads),
            "replay_startup_s": round(line_times[0] - started, 2),
            "replay_overhead_ratio": round(per_frame_s / in_run_invoke_s, 3),
            "replay_contention": round(in_run_invoke_s / solo_invoke_s, 3),
            "replay_vs_solo_invoke_ratio": round(per_frame_s / solo_invoke_s, 3)}


def _solo_invoke_s(detector: Any) -> float:
    """The same interpreter's invoke time with nothing else running: 5 warm-up and 50 timed invocations."""
    probe = np.zeros((300, 300, 3), np.uint8)
    model = detector._model
    for _ in range(5):
        model.detect(probe, 0.5)
    before_ns, before = model.invoke_ns, model.invocations
    for _ in range(50):
        model.detect(probe, 0.5)
    return float((model.invoke_ns - before_ns) / (model.invocations - before) / 1e9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller samples: under a minute")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    quick = args.quick
    started = time.monotonic()
    figures: dict[str, Any] = {}
    figures |= trigger_latency(100 if quick else 500)
    figures |= trigger_latency(50 if quick else 200, mode="cold")
    figures |= recovery_latency(30 if quick else 200)
    figures |= pretrigger()
    # Memory as in the field: the default model loaded, a burst of full-resolution frames stored.
    models = SHARED / "models"
    idle_config = "camera:\n  type: synthetic\n  main_size: [2028, 1520]\ndetector:\n  type: tflite\n"
    idle = measure_idle(10.0 if quick else 60.0, triggers=1, extra_config=idle_config,
                        models_dir=models if models.is_dir() else None)
    figures |= {key: idle[key] for key in ("idle_cpu_percent", "idle_wakeups_per_s", "max_thread_wakeups_per_s",
                                           "peak_rss_mb", "idle_seconds")}
    figures["peak_rss_model_loaded"] = not idle["detector_warnings"]
    figures |= replay_throughput(540)  # --quick measures replay exactly as the full run does
    figures["bench_seconds"] = round(time.monotonic() - started, 1)
    figures["quick"] = quick
    report(figures, as_json=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
