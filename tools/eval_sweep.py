#!/usr/bin/env python3
"""Score several detector/decision settings on a labelled folder and print a Markdown table.

Each row is `trapd eval DIR --config <that setting>`: recall of non-empty frames, empty frames
rejected, per-frame decision time (median and p90, excluding JPEG decoding of the source) and
detector-stage overhead against raw invoke time.

    TRAPD_MODELS_DIR=../shared/models python tools/eval_sweep.py ../shared/images/camera-trap
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

SETTINGS = [
    ("default: SSD v1, whole frame + 2x2 tiles, keep >= 0.4, unsure margin 0.1", {}),
    ("SSD v1, whole + 2x2 tiles, no unsure margin", {"decision": {"unsure_margin": 0.0}}),
    ("SSD v1, whole + 3x2 tiles", {"detector": {"tiles": [3, 2]}}),
    ("SSD v1, whole frame only", {"detector": {"tiles": [1, 1]}}),
    ("SSD v1, whole frame only, no unsure margin", {"detector": {"tiles": [1, 1]}, "decision": {"unsure_margin": 0.0}}),
    ("SSD v1, whole + 2x2 tiles + MobileNetV2 second opinion",
     {"detector": {"classifier": "mobilenet-v2-imagenet"}}),
    ("FPNLite, whole frame only", {"detector": {"model": "ssd-mobilenet-v2-fpnlite-coco", "tiles": [1, 1]}}),
    ("YOLOv8n (AGPL: comparison only), whole frame only", {"detector": {"model": "yolov8n-coco", "tiles": [1, 1]}}),
]


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"  # a folder with no empty (or no non-empty) photo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images_dir", type=Path)
    args = parser.parse_args()
    print("| setting | non-empty kept | empty rejected | median ms | p90 ms | overhead |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, settings in SETTINGS:
            config = Path(tmp) / "config.yaml"
            config.write_text(json.dumps(settings))  # JSON is YAML
            run = subprocess.run([sys.executable, "-m", "trapd", "eval", str(args.images_dir), "--json",
                                  "--config", str(config)], capture_output=True, text=True, cwd=PROJECT_ROOT)
            if run.returncode != 0:
                print(run.stderr, file=sys.stderr)
                return run.returncode
            r = json.loads(run.stdout)
            print(f"| {name} | {r['kept_non_empty']}/{r['non_empty']} ({_share(r['recall_non_empty'])}) | "
                  f"{r['rejected_empty']}/{r['empty']} ({_share(r['empty_rejection'])}) | {r['latency_ms_median']} | "
                  f"{r['latency_ms_p90']} | {r['overhead_ratio']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
