#!/usr/bin/env python3
"""Measure what an armed, idle trap costs, from outside the process, via /proc.

Starts `trapd run --fake`, waits until it answers `trapd status`, then reads the kernel's
accounting for the daemon before and after an idle window: CPU time (utime + stime) and each
thread's voluntary context switches (how often it woke). Optionally fires triggers afterwards
to show the same daemon still captures. Linux only.

    python tools/measure_idle.py --seconds 60 [--json] [--triggers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from trapd.control import request, socket_path_for  # noqa: E402
from trapd.errors import TrapdError  # noqa: E402
from trapd.storage.layout import state_dir  # noqa: E402


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))


def thread_wakeups(pid: int) -> dict[str, int]:
    wakeups = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        status = (task / "status").read_text()
        name = (task / "comm").read_text().strip()
        switches = next(line for line in status.splitlines() if line.startswith("voluntary_ctxt_switches"))
        wakeups[f"{task.name}:{name}"] = int(switches.split()[1])
    return wakeups


def wait_for_daemon(socket_path: Path, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"trapd exited early with {process.returncode}")
        try:
            request(socket_path, "status")
            return
        except TrapdError:
            time.sleep(0.1)
    raise SystemExit("trapd did not answer within 30 s")


def measure_idle(seconds: float, triggers: int = 0, extra_config: str = "",
                 models_dir: Path | None = None) -> dict[str, Any]:
    """Start `trapd run --fake`, read its idle cost from /proc over ``seconds``, then fire ``triggers``."""
    with tempfile.TemporaryDirectory(prefix="trapd-idle-") as tmp:
        storage = Path(tmp) / "store"
        config = Path(tmp) / "config.yaml"
        config.write_text("pir:\n  holdoff_s: 0\nevent:\n  gap_s: 0.5\n" + extra_config)
        process = subprocess.Popen(
            [sys.executable, "-m", "trapd", "run", "--fake", "--config", str(config), "--storage", str(storage)],
            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, **({"TRAPD_MODELS_DIR": str(models_dir)} if models_dir else {})},
        )
        try:
            socket_path = socket_path_for(state_dir(storage), None)
            wait_for_daemon(socket_path, process)
            time.sleep(1.0)  # let start-up work (imports, first status write) finish
            ticks0, wake0, t0 = cpu_ticks(process.pid), thread_wakeups(process.pid), time.monotonic()
            time.sleep(seconds)
            ticks1, wake1, t1 = cpu_ticks(process.pid), thread_wakeups(process.pid), time.monotonic()
            elapsed = t1 - t0
            cpu_percent = (ticks1 - ticks0) / os.sysconf("SC_CLK_TCK") / elapsed * 100
            per_thread = {tid: (wake1.get(tid, 0) - count) / elapsed for tid, count in wake0.items()}
            events = 0
            for fired in range(1, triggers + 1):
                request(socket_path, "trigger")
                deadline = time.monotonic() + 30
                while events < fired and time.monotonic() < deadline:
                    time.sleep(0.1)
                    events = request(socket_path, "status")["events"]
            status = request(socket_path, "status")
            peak_rss_kb = int(next(line.split()[1] for line in Path(f"/proc/{process.pid}/status").read_text()
                                   .splitlines() if line.startswith("VmHWM")))
        finally:
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(timeout=60)
    return {
        "idle_seconds": round(elapsed, 1),
        "idle_cpu_percent": round(cpu_percent, 3),
        "idle_wakeups_per_s": round(sum(per_thread.values()), 3),
        "max_thread_wakeups_per_s": round(max(per_thread.values()), 3),
        "threads": len(per_thread),
        "triggers_fired_after": triggers,
        "events_stored_after": events,
        "peak_rss_mb": round(peak_rss_kb / 1024, 1),
        "detector": status["detector"],
        "detector_warnings": [w for w in status["warnings"] if "detector" in w],
        "exit_code_on_sigterm": exit_code,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="idle window (default 60)")
    parser.add_argument("--triggers", type=int, default=2, help="triggers fired after the window (default 2)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report(measure_idle(args.seconds, args.triggers), as_json=args.json)
    return 0


def report(figures: dict[str, Any], *, as_json: bool) -> None:
    """Figures as one JSON object, or as an aligned table for a person."""
    if as_json:
        print(json.dumps(figures))
        return
    width = max(map(len, figures), default=0) + 2
    for key, value in figures.items():
        print(f"{key:{width}} {value}")


if __name__ == "__main__":
    raise SystemExit(main())
