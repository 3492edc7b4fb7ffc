#!/usr/bin/env python3
"""What trapd itself costs in CPU, wakeups and card writes: per event and per idle hour, warm and cold.

    python tools/energy.py [--events 20] [--idle-s 60] [--json]

Runs `trapd run --fake` on the shared camera-trap photos scaled to 2028x1520 (a Pi HQ camera's
main stream), the default model and config, bursts of 3 frames. Reads the kernel's accounting:

* CPU seconds per event, per stage thread (the stages name their threads: trapd-capture,
  trapd-spool for the JPEG encode, trapd-detect, trapd-store), from /proc/<pid>/task/*/stat;
* wakeups per second while armed and idle (voluntary context switches of every thread) and CPU;
* bytes written per event, from /proc/<pid>/io (``wchar``: what trapd hands to write(2));
* trigger to first exposure in cold mode, from the sidecars (the fake camera starts at once: a
  real camera's start-up is added in `trapd power`, see the README).

`trapd power` uses these figures (trapd/power.py); BENCHMARKS.md gives the run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parent
sys.path[:0] = [str(TOOLS.parent), str(TOOLS)]

from soak import SHARED, drained, prepare_photos, start_fake_trap, wait_for  # noqa: E402

from trapd.control import request  # noqa: E402

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
STAGES = ("trapd-capture", "trapd-spool", "trapd-detect", "trapd-store")


def thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) by the kernel's thread name; unnamed threads summed as 'other'."""
    seconds: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a thread that ended between listing and reading
        key = name if name.startswith("trapd-") else "other"
        seconds[key] = seconds.get(key, 0.0) + (int(fields[11]) + int(fields[12])) / TICKS_PER_S
    return seconds


def wakeups(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:
            continue
        total += int(next(line for line in status.splitlines() if line.startswith("voluntary_ctxt_switches"))
                     .split()[1])
    return total


def io_counters(pid: int) -> dict[str, int]:
    return {key: int(value) for key, value in
            (line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())}


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def measure(mode: str, events: int, idle_s: float, photos: Path, work: Path) -> dict[str, Any]:
    root = work / mode
    config = work / f"{mode}.yaml"
    # gap_s 1: each trigger its own event; no storm limit: every trigger fired is an event measured.
    config.write_text(f"storage:\n  root: {root}\n  reserve_mb: 0\ncamera:\n  mode: {mode}\n"
                      "event:\n  gap_s: 1\n  max_per_minute: 0\n")
    daemon = start_fake_trap(TOOLS.parent, photos, config)
    socket_path = root / ".trapd" / "control.sock"
    try:
        wait_for(lambda: request(socket_path, "status"), 60)
        time.sleep(5.0)  # imports done, model loaded, armed
        idle_cpu, idle_wakeups, started = process_cpu_s(daemon.pid), wakeups(daemon.pid), time.monotonic()
        time.sleep(idle_s)
        idle_window = time.monotonic() - started
        idle = {"idle_cpu_percent": round(100 * (process_cpu_s(daemon.pid) - idle_cpu) / idle_window, 2),
                "idle_wakeups_per_s": round((wakeups(daemon.pid) - idle_wakeups) / idle_window, 2)}
        cpu_before, io_before = thread_cpu_s(daemon.pid), io_counters(daemon.pid)
        for _ in range(events):
            request(socket_path, "trigger")
            time.sleep(3.5)  # a burst (1 s), the quiet gap (1 s), then decided and stored
        status = drained(request, socket_path)
        cpu_after, io_after = thread_cpu_s(daemon.pid), io_counters(daemon.pid)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
    stored = status["events"]
    per_stage = {name: round((cpu_after.get(name, 0.0) - cpu_before.get(name, 0.0)) / stored, 3)
                 for name in (*STAGES, "other")}
    latencies = [frame["trigger_to_exposure_ms"] for sidecar in root.glob("*/*/*/event.json")
                 for frame in json.loads(sidecar.read_text())["frames"][:1]]
    return {
        "mode": mode, "events": stored, "frames": status["frames_captured"], "frames_kept": status["frames_kept"],
        "cpu_s_per_event": round(sum(per_stage.values()), 3), "cpu_s_per_event_by_thread": per_stage,
        "written_mb_per_event": round((io_after["wchar"] - io_before["wchar"]) / stored / 2**20, 3),
        "trigger_to_first_exposure_ms_median": round(statistics.median(latencies), 2) if latencies else None,
        **idle,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--idle-s", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (SHARED / "models").is_dir():
        print(f"no shared models at {SHARED / 'models'}: nothing measured", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="trapd-energy-", dir=TOOLS.parent.parent) as scratch:
        work = Path(scratch)
        photos = work / "photos"
        photos.mkdir()
        prepare_photos(photos)
        results = [measure(mode, args.events, args.idle_s, photos, work) for mode in ("warm", "cold")]
    print(json.dumps(results) if args.json else json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
