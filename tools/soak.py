#!/usr/bin/env python3
"""Memory under a lingering animal and under a wind storm: peak RSS of `trapd run --fake` with real frames.

    python tools/soak.py [--minutes 10] [--scenario linger|storm|both] [--json]

* Frames: the shared camera-trap photos scaled to 2028x1520 (a Pi HQ camera's default main
  stream), so every frame is 9.2 MB in memory, served by the replay camera (`--fake --images`).
* The default config otherwise: the default model loaded (``../shared/models``), bursts of 3 frames
  0.5 s apart, event.gap_s 5, event.max_frames 60, the storm limit at 12 events a minute.
* ``linger``: a trigger every 2.5 s, as an animal that stays at a bait keeps a PIR firing.
* ``storm``: 50 PIR edges a second with ``pir.holdoff_s: 0``, as wind in the grass can.
* RSS is read from ``/proc/<pid>/status``: the armed baseline, the peak (``VmHWM``), and the RSS
  once everything captured is stored.

It runs whichever trapd is importable from ``--project`` (default: this checkout), so the same
tool measures an older version in a git worktree for a before-and-after. Without ../shared it
says so and measures nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from PIL import Image

TOOLS = Path(__file__).resolve().parent
SHARED = TOOLS.parent.parent / "shared"
FRAME_SIZE = (2028, 1520)


def prepare_photos(destination: Path) -> int:
    """The shared photos, cropped to 4:3 and scaled to 2028x1520, as a fixed sensor mode frames them."""
    from PIL import ImageOps

    count = 0
    for source in sorted((SHARED / "images" / "camera-trap").iterdir()):
        if source.suffix.lower() not in (".jpg", ".jpeg"):
            continue
        try:
            with Image.open(source) as image:
                framed = ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), FRAME_SIZE)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            continue  # the broken ones are other tests' business
        framed.save(destination / f"{source.stem}.jpg", quality=92)
        count += 1
    return count


def _rss_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


class Sampler(threading.Thread):
    """Reads VmRSS twice a second; keeps the highest, and a coarse trace."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.trace: list[tuple[float, float]] = []
        self._done = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self._done.wait(0.5):
            try:
                self.trace.append((round(time.monotonic() - started, 1), _rss_kb(self.pid, "VmRSS") / 1024))
            except (OSError, KeyError):
                return

    def stop(self) -> None:
        self._done.set()
        self.join()


def scenario(name: str, minutes: float, project: Path, photos: Path, work: Path, extra: str = "") -> dict[str, Any]:
    sys.path.insert(0, str(project))
    from trapd.control import request  # the project's own client, old or new
    from trapd.errors import TrapdError

    root = work / name
    config = work / f"{name}.yaml"
    holdoff = "pir:\n  holdoff_s: 0\n" if name == "storm" else ""
    config.write_text(f"storage:\n  root: {root}\n  reserve_mb: 0\n{holdoff}{extra}")
    daemon = start_fake_trap(project, photos, config)
    socket_path = root / ".trapd" / "control.sock"
    try:
        status = wait_for(lambda: request(socket_path, "status"), 60)
        time.sleep(5.0)  # settle: imports done, model loaded, armed
        baseline = _rss_kb(daemon.pid, "VmRSS") / 1024
        sampler = Sampler(daemon.pid)
        sampler.start()
        interval_s = 2.5 if name == "linger" else 1 / 50
        fired, refused, started = 0, 0, time.monotonic()
        while time.monotonic() - started < minutes * 60:
            if daemon.poll() is not None:
                tail = config.with_suffix(".log").read_text(errors="replace").splitlines()[-15:]
                raise RuntimeError(f"trapd exited with {daemon.returncode} during the {name}:\n" + "\n".join(tail))
            try:
                request(socket_path, "trigger")
            except TrapdError:  # a dropped trigger, or a dead daemon the next round reports: counted, not fired
                refused += 1
            fired += 1  # paces the next one
            time.sleep(max(0.0, started + fired * interval_s - time.monotonic()))
        status = drained(request, socket_path)
        after = _rss_kb(daemon.pid, "VmRSS") / 1024
        peak = _rss_kb(daemon.pid, "VmHWM") / 1024
        sampler.stop()
    finally:
        daemon.send_signal(signal.SIGTERM)
        exit_code = daemon.wait(timeout=120)
    return {
        "scenario": name, "minutes": minutes, "triggers_fired": fired - refused, "triggers_refused": refused,
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(peak, 1), "after_rss_mb": round(after, 1),
        "after_minus_baseline_mb": round(after - baseline, 1),
        "events": status.get("events"), "frames_captured": status.get("frames_captured"),
        "frames_kept": status.get("frames_kept"), "frames_discarded": status.get("frames_discarded"),
        "triggers_rate_limited": status.get("triggers_rate_limited"), "detector": status.get("detector"),
        "detector_degraded": status.get("detector_degraded"), "exit_code": exit_code,
        "rss_trace_mb": sampler.trace[:: max(1, len(sampler.trace) // 40)],
    }


def start_fake_trap(project: Path, photos: Path, config: Path) -> subprocess.Popen[bytes]:
    """`trapd run --fake` of ``project`` on these photos, with the shared models on its search path; its log
    goes to ``<config>.log`` beside the config."""
    env = {**os.environ, "TRAPD_MODELS_DIR": str(SHARED / "models")}
    with config.with_suffix(".log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "trapd", "run", "--fake", "--images", str(photos), "--config",
                                 str(config)], cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=log)


def wait_for(call: Any, timeout_s: float) -> Any:
    """``call()``'s result once it stops raising (a daemon starting up), or its last error after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def drained(request: Any, socket_path: Path, timeout_s: float = 300.0) -> dict[str, Any]:
    """Status once every captured frame is stored (kept or discarded). A trap still busy after ``timeout_s`` is
    an error, not a figure: its RSS "after", or its CPU per event, would be measured mid-work."""
    deadline = time.monotonic() + timeout_s
    while True:
        status: dict[str, Any] = request(socket_path, "status")
        stored = status.get("frames_kept", 0) + status.get("frames_discarded", 0)
        if status.get("state") == "armed" and stored >= status.get("frames_captured", 0):
            return status
        if time.monotonic() > deadline:
            raise RuntimeError(f"trapd had not stored every captured frame after {timeout_s:g} s "
                               f"(state {status.get('state')}, {stored} of {status.get('frames_captured')} stored)")
        time.sleep(min(1.0, timeout_s))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long each scenario fires (default 10)")
    parser.add_argument("--scenario", choices=("linger", "storm", "both"), default="both")
    parser.add_argument("--project", type=Path, default=TOOLS.parent, help="the trapd checkout to run")
    parser.add_argument("--json", action="store_true", help="one JSON object per scenario")
    parser.add_argument("--config", default="",
                        help="YAML sections added to the config, e.g. 'pipeline: {max_frames_in_flight: 1}'")
    args = parser.parse_args()
    if not (SHARED / "images" / "camera-trap").is_dir() or not (SHARED / "models").is_dir():
        print(f"soak: {SHARED} is absent; nothing measured", file=sys.stderr)
        return 0
    names = ("linger", "storm") if args.scenario == "both" else (args.scenario,)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photos = work / "photos"
        photos.mkdir()
        prepare_photos(photos)
        for name in names:
            extra = args.config + "\n" if args.config else ""
            result = scenario(name, args.minutes, args.project.resolve(), photos, work, extra)
            if args.json:
                print(json.dumps(result), flush=True)
            else:
                print(f"{name}: baseline {result['baseline_rss_mb']} MB, peak {result['peak_rss_mb']} MB, after "
                      f"{result['after_rss_mb']} MB; {result['events']} events, {result['frames_captured']} frames",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
