#!/usr/bin/env python3
"""SD-card wear: bytes trapd writes to the card per event, for events kept and events discarded.

    python tools/wear.py [--events 20] [--project DIR] [--json]

Runs `trapd run --fake` on the shared photos scaled to 2028x1520 (tools/soak.py prepares them),
fires one trigger per event (3-frame bursts, events apart), and reads ``write_bytes`` from
``/proc/<pid>/io``: what the process sent to the block device, page-cache writeback and fsyncs
included. Two runs: every frame kept (``detector.type: none``), and every frame discarded (the
default model with thresholds of 1.0, no unsure margin, no audit sample). The storage is on the
project's own disk, not a tmpfs, where nothing would reach a device.

``--project`` runs another checkout (an older version in a git worktree) for a before-and-after.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))

from soak import SHARED, prepare_photos, start_fake_trap, wait_for  # noqa: E402

DISCARD_ALL = ("detector:\n  type: tflite\ndecision:\n  unsure_margin: 0\n  audit_fraction: 0\n"
               "  thresholds: {animal: 1.0, person: 1.0, vehicle: 1.0}\n")
KEEP_ALL = "detector:\n  type: none\n"


def write_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise KeyError("write_bytes")


def run(kind: str, events: int, project: Path, photos: Path, work: Path) -> dict[str, Any]:
    sys.path.insert(0, str(project))
    from trapd.control import request

    root = work / kind
    config = work / f"{kind}.yaml"
    config.write_text(f"storage:\n  root: {root}\n  reserve_mb: 0\nevent:\n  gap_s: 0.5\n"
                      + (KEEP_ALL if kind == "kept" else DISCARD_ALL))
    daemon = start_fake_trap(project, photos, config)
    socket_path = root / ".trapd" / "control.sock"
    try:
        wait_for(lambda: request(socket_path, "status"), 60)
        time.sleep(2.0)
        os.sync()
        before = write_bytes(daemon.pid)
        for _ in range(events):
            request(socket_path, "trigger")
            time.sleep(3.0)  # the burst, the 0.5 s gap, detection and storing: one event each
        status = request(socket_path, "status")
        os.sync()
        written = write_bytes(daemon.pid) - before
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=120)
    frames = status["frames_captured"]
    return {"kind": kind, "events": status["events"], "frames": frames, "frames_kept": status["frames_kept"],
            "bytes_per_event": round(written / max(1, status["events"])),
            "bytes_per_frame": round(written / max(1, frames))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--project", type=Path, default=TOOLS.parent)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (SHARED / "models").is_dir():
        print(f"wear: {SHARED} is absent; nothing measured", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory(dir=TOOLS.parent) as tmp:  # the project's disk, not a tmpfs /tmp
        work = Path(tmp)
        photos = work / "photos"
        photos.mkdir()
        prepare_photos(photos)
        for kind in ("kept", "discarded"):
            result = run(kind, args.events, args.project.resolve(), photos, work)
            print(json.dumps(result) if args.json else f"{kind}: {result['bytes_per_event']} bytes an event, "
                  f"{result['bytes_per_frame']} a frame ({result['events']} events)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
