"""The daemon's state and counters, readable at any time and mirrored to a status file.

The file is rewritten (atomically, without fsync: it is cheap to lose and must not wear the
SD card) on state changes and after each stored event, never on a timer.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal, get_args

from trapd.files import write_atomic
from trapd.timebase import Instant, clock_synced, iso_utc

log = logging.getLogger(__name__)

State = Literal["starting", "armed", "capturing", "full", "stopping", "stopped", "failed"]

#: Every counter the daemon keeps; a name that is not here is a type error, not a KeyError on a worker thread.
Counter = Literal[
    "triggers",
    "triggers_held_off",
    "triggers_dropped",
    "triggers_rate_limited",
    "triggers_outside_schedule",
    "triggers_storage_full",
    "timelapse_captures",
    "events",
    "frames_captured",
    "frames_kept",
    "frames_discarded",
    "frames_flagged",
    "frames_unfiltered",
    "frames_audited",
    "frames_unfiltered_backlog",
    "frames_overwritten",
    "frames_recovered",
    "camera_errors",
    "detector_errors",
    "storage_errors",
    "spool_errors",
    "metadata_errors",
]
COUNTERS: tuple[Counter, ...] = get_args(Counter)


#: Below this much free space the trap is reported unhealthy (the full-disk policy is storage's job).
LOW_DISK_PERCENT = 5.0

#: This many failed captures in a row make the trap unhealthy.
CAMERA_FAILURES_UNHEALTHY = 3

TODAY_COUNTERS: tuple[Counter, ...] = ("triggers", "events", "frames_kept", "frames_discarded", "frames_unfiltered",
                                      "frames_flagged")
TODAY_KEYS: tuple[str, ...] = (*TODAY_COUNTERS, "active_s")


@dataclass
class Status:
    path: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)
    #: The site's timezone: "today" is the site's day.
    zone: tzinfo = UTC
    _state: State = "starting"
    _counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    #: The site's day and its counts; ``active_s`` too: today's events' seconds from first trigger to last frame
    #: (the report counts the same from the sidecars), what `trapd power`'s per-event terms stand for.
    _today: tuple[date, dict[str, float]] | None = None
    _capture_failure_streak: int = 0
    _last_trigger_utc: str | None = None
    _last_event_id: str | None = None
    _warnings: list[str] = field(default_factory=list)
    _started: Instant = field(default_factory=Instant.now)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: Told of every saved change (the daemon forwards a one-line summary to systemd).
    on_change: Callable[[dict[str, Any]], None] | None = None

    @property
    def state(self) -> State:
        return self._state

    def set_state(self, state: State) -> None:
        with self._lock:
            changed = state != self._state
            self._state = state
        if changed:
            log.info("state: %s", state)
            self.save()

    def count(self, counter: Counter, n: int = 1) -> None:
        with self._lock:
            self._counts[counter] += n
            if counter in TODAY_COUNTERS:
                self._count_today(counter, n)

    def _count_today(self, key: str, n: float) -> None:
        day = datetime.now(self.zone).date()
        if self._today is None or self._today[0] != day:
            self._today = (day, dict.fromkeys(TODAY_KEYS, 0))
        self._today[1][key] += n

    def note_capture(self, ok: bool) -> int:
        """Track captures failing in a row (a loose ribbon cable fails every one, silently otherwise); returns
        how many have."""
        with self._lock:
            self._capture_failure_streak = 0 if ok else self._capture_failure_streak + 1
            return self._capture_failure_streak

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def note_trigger(self, at: Instant) -> None:
        self.count("triggers")
        with self._lock:
            self._last_trigger_utc = iso_utc(at.utc)

    def note_event(self, event_id: str, active_s: float = 0.0) -> None:
        """An event stored; ``active_s``: from its first trigger to its last frame."""
        self.count("events")
        with self._lock:
            self._last_event_id = event_id
            self._count_today("active_s", max(0.0, active_s))
        self.save()

    def warn(self, message: str) -> None:
        with self._lock:
            if message in self._warnings:
                return  # already said: no file rewrite, no systemd notification
            self._warnings.append(message)
        self.save()

    def clear_warnings(self, starting_with: str) -> None:
        """Forget the warnings a later event answered (a refused reload, once a reload succeeds)."""
        with self._lock:
            kept = [w for w in self._warnings if not w.startswith(starting_with)]
            if len(kept) == len(self._warnings):
                return
            self._warnings = kept
        self.save()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            today_day, today_counts = self._today or (None, {})
            current_day = datetime.now(self.zone).date()
            snapshot: dict[str, Any] = {
                "state": self._state,
                "pid": os.getpid(),
                "started_utc": iso_utc(self._started.utc),
                "uptime_s": round((time.monotonic_ns() - self._started.monotonic_ns) / 1e9, 1),
                "last_trigger_utc": self._last_trigger_utc,
                "last_event_id": self._last_event_id,
                **self._counts,
                "today": {k: round(today_counts.get(k, 0), 1) if today_day == current_day else 0 for k in TODAY_KEYS},
                "camera_failure_streak": self._capture_failure_streak,
                "warnings": list(self._warnings),
                **self.info,
            }
        snapshot |= disk_space(snapshot.get("storage_root"))
        snapshot["clock_synced"] = clock_synced()
        problems = unhealthy_reasons(snapshot)
        snapshot["healthy"] = not problems
        snapshot["problems"] = problems
        return snapshot

    def save(self) -> None:
        snapshot = self.snapshot()
        if self.on_change is not None:
            self.on_change(snapshot)
        if self.path is None:
            return
        try:
            write_atomic(self.path, (json.dumps(snapshot, indent=2) + "\n").encode(), durable=False)
        except OSError as exc:
            # The status file is a convenience; the control socket still answers. Say so, once per failure.
            log.warning("cannot write status file %s: %s", self.path, exc.strerror or exc)


def disk_space(root: str | None) -> dict[str, Any]:
    if not root:
        return {"disk_free_mb": None, "disk_free_percent": None}
    try:
        usage = shutil.disk_usage(root)
    except OSError:
        return {"disk_free_mb": None, "disk_free_percent": None}
    return {"disk_free_mb": usage.free // 2**20, "disk_free_percent": round(100 * usage.free / usage.total, 1)}


def unhealthy_reasons(snapshot: dict[str, Any]) -> list[str]:
    """Why monitoring should look at this trap: one sentence each, empty when all is well."""
    problems = []
    if snapshot["state"] == "full":
        problems.append("FULL: storage is down to its reserve, nothing is being captured; collect the card")
    elif snapshot["state"] not in ("armed", "capturing"):
        problems.append(f"state is {snapshot['state']}, not armed")
    free = snapshot.get("disk_free_percent")
    if free is not None and free < LOW_DISK_PERCENT:
        problems.append(f"only {free}% disk free")
    if snapshot.get("detector_degraded"):
        problems.append("the detector is not running (fail-open: frames are kept unfiltered)")
    if snapshot.get("storage_errors"):
        problems.append(f"{snapshot['storage_errors']} events could not be stored")
    if snapshot.get("camera_failure_streak", 0) >= CAMERA_FAILURES_UNHEALTHY:
        problems.append(f"the last {snapshot['camera_failure_streak']} captures failed: check the camera and its cable")
    if snapshot.get("schedule", "always") != "always" and snapshot.get("clock_synced") is False:
        problems.append("the clock is not synchronised, so the schedule may be off (no network time yet?)")
    return problems


def status_line(snapshot: dict[str, Any]) -> str:
    """The one line `systemctl status` shows: state, events, disk, detector, the first warning."""
    today = snapshot["today"]
    parts = [str(snapshot["state"]), f"today: events {today['events']}, frames kept {today['frames_kept']}"]
    if snapshot.get("disk_free_percent") is not None:
        parts.append(f"{snapshot['disk_free_percent']:.0f}% disk free")
    if snapshot.get("detector"):
        parts.append(f"detector {snapshot['detector']}")
    if snapshot.get("warnings"):
        parts.append(f"WARNING: {snapshot['warnings'][0]}")
    return "; ".join(parts)
