#!/usr/bin/env python3
"""The power-cut window: SIGKILL a trap at random moments of long events; is every frame older than a second kept?

    python tools/power_cut.py [--kills 200] [--seed 1] [--model] [--json]

Each round starts `trapd run --fake` (which first recovers what the last kill left open), fires
a trigger every 0.3 s so one long event stays open, and SIGKILLs it 1 to 4 s in. What counts as
*captured* is the daemon's own word: the ``captured: event E frame N at T`` line it logs (at debug
level) as each frame is handed on, read from its stderr. After the restart that follows each kill,
every frame captured at least ``--window-s`` (1 s) before the kill must be on disk: in its event's
sidecar, and, kept, as a whole JPEG the catalog indexes. At the end: every JPEG decodes, no
temporary is left, and catalog and files agree both ways (after a last `trapd fsck`).

Reported: rounds, frames captured before kills, those lost (must be 0), the widest window among
frames that were lost anyway (the last moments before a kill), corrupt files and mismatches (0).
With ``--model`` the default detector decides (needs ../shared/models); otherwise every frame is
kept unfiltered, which is the stricter test: every frame must then be on disk.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parent
PROJECT = TOOLS.parent
SHARED = PROJECT.parent / "shared"
sys.path.insert(0, str(PROJECT))

from PIL import Image  # noqa: E402

from trapd.control import request  # noqa: E402
from trapd.errors import TrapdError  # noqa: E402
from trapd.timebase import parse_utc  # noqa: E402

CAPTURED = re.compile(r"captured: event (?P<event>\S+) frame (?P<index>\d+) at (?P<utc>\S+)")


def config_text(root: Path, model: bool) -> str:
    detector = "detector:\n  type: tflite\n" if model else "detector:\n  type: none\n"
    return (f"storage:\n  root: {root}\n  reserve_mb: 0\n  ballast_mb: 0\n"
            "camera:\n  type: synthetic\n  main_size: [1024, 768]\n  lores_size: [320, 240]\n"
            "burst:\n  frames: 3\n  interval_s: 0.1\nevent:\n  gap_s: 2.0\n  max_per_minute: 0\n"
            f"pir:\n  holdoff_s: 0\nlogging:\n  level: debug\n{detector}")


def start(config: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen([sys.executable, "-m", "trapd", "run", "--fake", "--config", str(config)],
                                cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def wait_ready(socket_path: Path, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        try:
            request(socket_path, "status", timeout_s=2)
            return
        except TrapdError:
            time.sleep(0.02)
    raise RuntimeError(f"trapd did not come up (exit {process.poll()})")


def captured_frames(log: Path) -> dict[tuple[str, int], datetime]:
    frames = {}
    for line in log.read_text(errors="replace").splitlines():
        match = CAPTURED.search(line)
        if match:
            frames[(match["event"], int(match["index"]))] = parse_utc(match["utc"])
    return frames


def recorded_frames(root: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """Every frame some sidecar accounts for, with its entry."""
    recorded = {}
    for sidecar in root.glob("*/*/*/event.json"):
        if ".trapd" in sidecar.parts:
            continue
        data = json.loads(sidecar.read_text())
        for frame in data["frames"]:
            recorded[(data["event_id"], frame["index"])] = {**frame, "folder": sidecar.parent}
    return recorded


def indexed_files(root: Path) -> set[str]:
    with sqlite3.connect(root / ".trapd" / "catalog.sqlite") as db:
        return {row[0] for row in db.execute("SELECT file FROM media")}


def check_round(root: Path, kill_utc: datetime, captured: dict[tuple[str, int], datetime], window_s: float,
                ) -> tuple[set[tuple[str, int]], list[str], float]:
    """Frames captured ``window_s`` before the kill, those of them not on disk, and the widest loss window."""
    recorded = recorded_frames(root)
    indexed = indexed_files(root)
    due = {key: at for key, at in captured.items() if (kill_utc - at).total_seconds() >= window_s}
    lost = []
    for key, at in due.items():
        entry = recorded.get(key)
        if entry is None:
            lost.append(f"{key[0]} frame {key[1]} (captured {(kill_utc - at).total_seconds():.2f} s before the kill)")
            continue
        if entry["file"]:
            path = Path(os.path.normpath(entry["folder"] / entry["file"]))
            if not path.is_file() or path.relative_to(root).as_posix() not in indexed:
                lost.append(f"{key[0]} frame {key[1]}: its file is missing or not indexed")
    widest = max(((kill_utc - at).total_seconds() for key, at in captured.items()
                  if key not in recorded and at <= kill_utc), default=0.0)
    return set(due), lost, widest


def final_checks(root: Path, config: Path, env: dict[str, str]) -> dict[str, Any]:
    fsck = subprocess.run([sys.executable, "-m", "trapd", "fsck", "--json", "--config", str(config)], cwd=PROJECT,
                          env=env, capture_output=True, text=True, timeout=600)
    corrupt = 0
    for path in root.rglob("*.jpg"):
        try:
            with Image.open(path) as image:
                image.load()
        except (OSError, SyntaxError):
            corrupt += 1
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*.jpg") if ".trapd" not in p.parts}
    indexed = indexed_files(root)
    return {"fsck_exit": fsck.returncode, "corrupt_files": corrupt,
            "temporaries_left": len(list(root.rglob("*.tmp"))),
            "catalog_file_mismatches": len(on_disk ^ indexed),
            "spool_left": len(list((root / ".trapd" / "spool").rglob("*.jpg")))}


def storm(kills: int, seed: int, model: bool, window_s: float, work: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    root, config, log = work / "store", work / "trapd.yaml", work / "trapd.log"
    config.write_text(config_text(root, model))
    env = {**os.environ, "TRAPD_MODELS_DIR": str(SHARED / "models")}
    socket_path = root / ".trapd" / "control.sock"
    due_all: set[tuple[str, int]] = set()
    lost_all: list[str] = []
    widest = 0.0
    process = start(config, log, env)
    wait_ready(socket_path, process)
    for _ in range(kills):
        kill_after_s = rng.uniform(1.0, 4.0)
        fired = time.monotonic()
        while time.monotonic() - fired < kill_after_s:
            with contextlib.suppress(TrapdError):  # a trigger the busy daemon drops is not what is measured
                request(socket_path, "trigger", timeout_s=2)
            time.sleep(0.3)
        kill_utc = datetime.now(UTC)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        captured = captured_frames(log)
        process = start(config, log, env)  # recovers what the kill left open, then arms
        wait_ready(socket_path, process)
        due, lost, window = check_round(root, kill_utc, captured, window_s)
        due_all |= due
        lost_all += [item for item in lost if item not in lost_all]
        widest = max(widest, window)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    return {"kills": kills, "seed": seed, "model": model, "window_s": window_s,
            "frames_captured": len(captured_frames(log)), "frames_due": len(due_all), "frames_lost": len(lost_all),
            "lost": lost_all[:10], "widest_loss_window_s": round(widest, 3), **final_checks(root, config, env)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window-s", type=float, default=1.0, help="frames this much older than a kill must survive")
    parser.add_argument("--model", action="store_true", help="decide with the default model (../shared/models)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = storm(args.kills, args.seed, args.model, args.window_s, Path(tmp))
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    ok = not result["frames_lost"] and not result["corrupt_files"] and not result["catalog_file_mismatches"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
