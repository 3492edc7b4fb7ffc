"""The daemon's state and counters, readable at any time and mirrored to a status file.

The file is rewritten (atomically, without fsync: it is cheap to lose and must not wear the
SD card) on state changes and after each stored event, never on a timer.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from trapd.storage.atomic import write_atomic
from trapd.timebase import Instant, iso_utc

log = logging.getLogger(__name__)

State = Literal["starting", "armed", "capturing", "stopping", "stopped", "failed"]

COUNTERS = (
    "triggers",
    "triggers_held_off",
    "triggers_dropped",
    "events",
    "frames_captured",
    "frames_kept",
    "frames_discarded",
    "frames_flagged",
    "frames_audited",
    "frames_unfiltered_backlog",
    "camera_errors",
    "detector_errors",
    "storage_errors",
)


@dataclass
class Status:
    path: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)
    _state: State = "starting"
    _counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
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

    def count(self, counter: str, n: int = 1) -> None:
        with self._lock:
            self._counts[counter] += n

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def note_trigger(self, at: Instant) -> None:
        with self._lock:
            self._counts["triggers"] += 1
            self._last_trigger_utc = iso_utc(at.utc)

    def note_event(self, event_id: str) -> None:
        with self._lock:
            self._counts["events"] += 1
            self._last_event_id = event_id
        self.save()

    def warn(self, message: str) -> None:
        with self._lock:
            if message not in self._warnings:
                self._warnings.append(message)
        self.save()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "state": self._state,
                "pid": os.getpid(),
                "started_utc": iso_utc(self._started.utc),
                "uptime_s": round((time.monotonic_ns() - self._started.monotonic_ns) / 1e9, 1),
                "last_trigger_utc": self._last_trigger_utc,
                "last_event_id": self._last_event_id,
                **self._counts,
                "warnings": list(self._warnings),
                **self.info,
            }

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
