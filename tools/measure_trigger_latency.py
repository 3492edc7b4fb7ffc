#!/usr/bin/env python3
"""Trigger latency on fake hardware: PIR edge to the start of the first frame's exposure.

Runs `trapd simulate` (mock PIR pin driven high, warm synthetic camera, one-frame bursts) with
many triggers, then reads `trigger_to_exposure_ms` of each event's first frame from the
sidecars: the same figure the daemon records for every frame on a Pi.

    python tools/measure_trigger_latency.py --triggers 500 [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

CONFIG = """\
pir:
  holdoff_s: 0
event:
  gap_s: 0.02
  max_per_minute: 0
burst:
  frames: 1
camera:
  type: synthetic
  main_size: [640, 480]
"""


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--triggers", type=int, default=500)
    parser.add_argument("--interval-s", type=float, default=0.06, help="time between triggers (default 0.06)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="trapd-latency-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(CONFIG)
        storage = Path(tmp) / "store"
        run = subprocess.run(
            [sys.executable, "-m", "trapd", "simulate", "--triggers", str(args.triggers),
             "--interval-s", str(args.interval_s), "--config", str(config), "--storage", str(storage), "--json"],
            cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
        )
        if run.returncode != 0:
            print(run.stderr, file=sys.stderr)
            return run.returncode
        latencies = sorted(
            json.loads(sidecar.read_text())["frames"][0]["trigger_to_exposure_ms"]
            for sidecar in storage.glob("*/*/*/event.json")
        )
    result = {
        "triggers": args.triggers,
        "events": len(latencies),
        "trigger_latency_p50_ms": round(statistics.median(latencies), 3),
        "trigger_latency_p99_ms": round(percentile(latencies, 0.99), 3),
        "trigger_latency_max_ms": round(latencies[-1], 3),
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k:24} {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
