"""The report's counts: effort as ecologists count it, and activity by day and by hour of the day.

Pure functions of the event rows (trapd/report/summary.py) and the effort marks
(trapd/storage/effort.py), so the figures and the tables they are drawn from are tested apart
from any drawing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import get_args

from trapd.report.summary import EventCategory, EventRow
from trapd.storage.effort import EffortMark, Period, periods, rate_limited_drops

CATEGORIES: tuple[EventCategory, ...] = get_args(EventCategory)
#: The diel activity's panels: kept events by category, then the discarded ones.
DIEL_PANELS: tuple[str, ...] = (*CATEGORIES, "discarded")


@dataclass
class DayCounts:
    kept: int = 0
    discarded: int = 0
    #: Triggers the wind-storm limit dropped: each would have opened an event.
    storm_dropped: int = 0
    triggers_kept: int = 0
    triggers_discarded: int = 0


@dataclass
class DeploymentEffort:
    deployment_id: str
    periods: list[Period] = field(default_factory=list)
    #: From the first mark to the last: the span the stopped time is counted in.
    first: datetime | None = None
    last: datetime | None = None

    def days(self, state: str) -> float:
        return sum(p.days for p in self.periods if p.state == state)

    @property
    def camera_days(self) -> float:
        """Days the trap was armed: could have photographed an animal (not full, not outside its hours)."""
        return self.days("armed")

    @property
    def stopped_days(self) -> float:
        """Days within the deployment's span that no run covered: the trap was off (or its power was)."""
        if self.first is None or self.last is None:
            return 0.0
        covered = sum(p.days for p in self.periods)
        return max(0.0, (self.last - self.first).total_seconds() / 86400 - covered)


def effort_by_deployment(marks: list[EffortMark], now: datetime) -> dict[str, DeploymentEffort]:
    result: dict[str, DeploymentEffort] = {}
    for mark in marks:
        effort = result.setdefault(mark.deployment_id, DeploymentEffort(mark.deployment_id))
        effort.first = mark.utc if effort.first is None else min(effort.first, mark.utc)
        effort.last = mark.utc if effort.last is None else max(effort.last, mark.utc)
    for period in periods(marks, now):
        effort = result[period.deployment_id]
        effort.periods.append(period)
        effort.last = max(effort.last or period.end, period.end)
    return result


def per_day(rows: list[EventRow], marks: list[EffortMark], zones: dict[str, tzinfo]) -> dict[str, DayCounts]:
    """Events, triggers and storm drops by the site's day. ``zones``: each deployment's timezone."""
    days: dict[str, DayCounts] = {}
    for row in rows:
        counts = days.setdefault(row["day"], DayCounts())
        if row["keep"]:
            counts.kept += 1
            counts.triggers_kept += row["triggers"]
        else:
            counts.discarded += 1
            counts.triggers_discarded += row["triggers"]
    for mark, dropped in rate_limited_drops(marks):
        zone = zones.get(mark.deployment_id)
        # Counted at the hourly mark after the drops: an hour late at most, so a day ends at the mark's hour.
        day = (mark.utc - timedelta(minutes=1)).astimezone(zone).strftime("%Y-%m-%d")
        days.setdefault(day, DayCounts()).storm_dropped += dropped
    return dict(sorted(days.items()))


def diel(rows: list[EventRow]) -> dict[str, list[int]]:
    """Events by hour of the day at the site: kept events by the category of their best detection (``none``:
    kept with no detection, unfiltered say), and the discarded ones apart, whatever the detector called them
    (the rock it calls an animal every night is not an animal's activity)."""
    hours: dict[str, Counter[int]] = {panel: Counter() for panel in DIEL_PANELS}
    for row in rows:
        hours[row["category"] if row["keep"] else "discarded"][int(row["hour"]) % 24] += 1
    return {panel: [counts[h] for h in range(24)] for panel, counts in hours.items()}
