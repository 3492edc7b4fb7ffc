"""Sampling effort, as ecologists count it: when the trap was armed, full, outside its hours, or stopped.

A camera-day is a day the trap could have photographed an animal, so the periods are recorded as
they happen, not inferred from the events: ``start`` and ``stop`` of the daemon, ``armed``,
``full`` (down to the reserve) and ``paused`` (outside ``schedule.active``), and an ``alive`` mark
every hour, which is where a period a power cut ended is taken to end. ``alive`` and ``stop``
also carry how many triggers the wind-storm limit dropped since ``start``, so the report can
count a day's storm drops beside its events.

Each mark is one JSON line appended to ``.trapd/effort.jsonl`` and fsynced (the file is the truth; a
line a power cut tore is skipped on reading), and indexed in the catalog's ``effort`` table.
:func:`periods` turns the marks into intervals; the report and the Camtrap DP export read those.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, get_args

from trapd.files import fsync_dir
from trapd.storage.catalog import Catalog
from trapd.storage.layout import state_dir
from trapd.timebase import iso_utc, parse_utc

log = logging.getLogger(__name__)

EFFORT_NAME = "effort.jsonl"
Mark = Literal["start", "armed", "full", "paused", "alive", "stop"]
MARKS: tuple[Mark, ...] = get_args(Mark)
#: How often a running trap says it still is: the most a power cut can add to its counted effort.
ALIVE_EVERY_S = 3600.0
PeriodState = Literal["armed", "full", "paused"]


def effort_path(root: Path) -> Path:
    return state_dir(root) / EFFORT_NAME


@dataclass(frozen=True, slots=True)
class EffortMark:
    utc: datetime
    deployment_id: str
    mark: Mark
    boot_id: str | None = None
    #: On ``alive`` and ``stop``: triggers the wind-storm limit dropped since this run's ``start``.
    rate_limited: int | None = None


@dataclass(frozen=True, slots=True)
class Period:
    deployment_id: str
    state: PeriodState
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


class EffortLog:
    """What the running daemon says of its own state; thread-safe, and silent about repeats."""

    def __init__(self, root: Path, deployment_id: str, boot_id: str | None, catalog: Catalog | None,
                 rate_limited: Callable[[], int] = lambda: 0) -> None:
        """``rate_limited``: the daemon's count of triggers the wind-storm limit dropped since it started."""
        self._path = effort_path(root)
        self._rate_limited = rate_limited
        self._deployment_id = deployment_id
        self._boot_id = boot_id
        self._catalog = catalog
        self._lock = threading.Lock()
        self._full = False
        self._paused = False
        self._said: PeriodState | None = None

    def start(self) -> None:
        self._write("start")

    def stop(self) -> None:
        with self._lock:
            self._said = None
        self._write("stop")

    def alive(self) -> None:
        self._write("alive")

    def set_full(self, full: bool) -> None:
        with self._lock:
            self._full = full
        self._say_state()

    def set_paused(self, paused: bool) -> None:
        with self._lock:
            self._paused = paused
        self._say_state()

    def armed(self) -> None:
        """The PIR is armed: from now on the trap is counted as watching, unless full or paused."""
        self._say_state(force=True)

    def _say_state(self, force: bool = False) -> None:
        with self._lock:
            state: PeriodState = "full" if self._full else "paused" if self._paused else "armed"
            if state == self._said or (self._said is None and not force):
                return
            self._said = state
        self._write(state)

    def _write(self, mark: Mark) -> None:
        dropped = self._rate_limited() if mark in ("alive", "stop") else None
        entry = EffortMark(datetime.now(UTC), self._deployment_id, mark, self._boot_id, dropped)
        fields: dict[str, object] = {"utc": iso_utc(entry.utc), "deployment_id": entry.deployment_id, "mark": mark,
                  "boot_id": entry.boot_id}
        if dropped is not None:
            fields["triggers_rate_limited"] = dropped
        line = json.dumps(fields) + "\n"
        try:
            with self._lock:
                created = not self._path.exists()
                fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
                try:
                    os.write(fd, line.encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if created:
                    fsync_dir(self._path.parent)
        except OSError as exc:  # a full card: the trap goes on; this mark is missing from the effort
            log.warning("effort mark %s not recorded (%s)", mark, exc.strerror or exc)
            return
        if self._catalog is not None:
            try:
                self._catalog.add_effort([entry])
            except sqlite3.Error as exc:  # the file has it; the next start indexes it
                log.warning("effort mark %s not indexed yet (%s)", mark, exc)


def read_marks(root: Path) -> list[EffortMark]:
    """Every mark in the effort file, in order; a line a power cut tore, or a person mangled, is skipped."""
    try:
        text = effort_path(root).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    marks = []
    for line in text.splitlines():
        try:
            data = json.loads(line)
            mark = data["mark"]
            dropped = data.get("triggers_rate_limited")
            if mark in MARKS and isinstance(data["deployment_id"], str):
                marks.append(EffortMark(parse_utc(str(data["utc"])), data["deployment_id"], mark,
                                        data.get("boot_id") if isinstance(data.get("boot_id"), str) else None,
                                        dropped if isinstance(dropped, int) and dropped >= 0 else None))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return marks


def periods(marks: list[EffortMark], now: datetime | None = None) -> list[Period]:
    """The armed, full and paused intervals of each deployment. A run that ends without ``stop`` (a power
    cut) ends at its last mark; one still running (its last mark within an hour and a bit) ends now."""
    result: list[Period] = []
    by_deployment: dict[str, list[EffortMark]] = {}
    for mark in sorted(marks, key=lambda m: m.utc):
        by_deployment.setdefault(mark.deployment_id, []).append(mark)
    for deployment, own in by_deployment.items():
        state: PeriodState | None = None
        since = own[0].utc
        last = own[0].utc
        for mark in own:
            if state is not None and mark.mark in ("start", "stop", "armed", "full", "paused"):
                end = last if mark.mark == "start" else mark.utc  # a start after no stop: the run before was cut
                result.append(Period(deployment, state, since, max(since, end)))
                state = None
            if mark.mark in ("armed", "full", "paused"):
                state, since = mark.mark, mark.utc
            last = mark.utc
        if state is not None:
            still_running = now is not None and now - last <= timedelta(seconds=ALIVE_EVERY_S * 1.5)
            result.append(Period(deployment, state, since, now if still_running and now else last))
    return [p for p in result if p.end > p.start]


def rate_limited_drops(marks: list[EffortMark]) -> list[tuple[EffortMark, int]]:
    """The triggers the wind-storm limit dropped, as counted at each ``alive`` and ``stop`` mark: each mark with
    the drops since the run's previous count (a run's counts start at 0 with its ``start``)."""
    result: list[tuple[EffortMark, int]] = []
    counted: dict[str, int] = {}
    for mark in sorted(marks, key=lambda m: m.utc):
        if mark.mark == "start":
            counted[mark.deployment_id] = 0
        elif mark.rate_limited is not None:
            before = counted.get(mark.deployment_id, 0)
            if mark.rate_limited > before:
                result.append((mark, mark.rate_limited - before))
            counted[mark.deployment_id] = mark.rate_limited
    return result
