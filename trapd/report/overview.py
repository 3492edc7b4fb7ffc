"""The report's first section: each deployment's facts and counts, the storage, and what needs a person.

Facts come from the sidecars (an export needs no config, and neither does the report): the
camera, the site as the events recorded it (already rounded as the exports round it), the
model and its sha256. Problems are the ones `trapd status` names, read from the status file the
daemon last wrote, plus what the report itself found on the card.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from trapd.report.activity import DeploymentEffort
from trapd.report.cache import CachedEvent
from trapd.status import unhealthy_reasons
from trapd.storage.layout import STATUS_NAME, quarantine_dir, state_dir

#: A status file larger than this is not one trapd wrote.
MAX_STATUS_BYTES = 2**20
COUNTED = ("triggers", "frames", "kept", "audit", "flagged", "recovered")


@dataclass
class DeploymentOverview:
    id: str
    cameras: list[str] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)
    timezones: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    first: str = ""
    last: str = ""
    events: int = 0
    events_kept: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))
    effort: DeploymentEffort | None = None
    #: Per site day: [triggers, seconds active], for comparing with `trapd power`'s estimate.
    per_day: dict[str, list[float]] = field(default_factory=dict)

    @property
    def last_day(self) -> tuple[str, float, float] | None:
        """The last day with events: (day, triggers, seconds active)."""
        if not self.per_day:
            return None
        day = max(self.per_day)
        return day, self.per_day[day][0], self.per_day[day][1]

    @property
    def daily_mean(self) -> tuple[float, float]:
        """Triggers and seconds active per day with events, on average."""
        days = len(self.per_day) or 1
        return (sum(v[0] for v in self.per_day.values()) / days, sum(v[1] for v in self.per_day.values()) / days)

    @property
    def discarded(self) -> int:
        return self.counts["frames"] - self.counts["kept"]


def deployments(events: list[CachedEvent], effort: dict[str, DeploymentEffort]) -> list[DeploymentOverview]:
    found: dict[str, DeploymentOverview] = {}
    for cached in sorted(events, key=lambda c: c.row["start"]):
        row, facts = cached.row, cached.facts
        overview = found.setdefault(row["deployment"], DeploymentOverview(row["deployment"]))
        overview.first = overview.first or row["start"]
        overview.last = row["start"]
        overview.events += 1
        overview.events_kept += row["keep"]
        for name in COUNTED:
            overview.counts[name] += int(row[name])  # type: ignore[literal-required]
        day = overview.per_day.setdefault(row["day"], [0.0, 0.0])
        day[0] += row["triggers"]
        day[1] += float(row.get("active_s", 0.0))
        site = facts["site"]
        _add(overview.cameras, facts["camera"])
        _add(overview.timezones, facts["timezone"])
        _add(overview.sites, f"{site[0]}, {site[1]} (to {site[2]}°)" if site else "not recorded")
        _add(overview.models, f"{facts['detector']} (sha256 {facts['sha256'] or 'not recorded'})")
    for deployment_id, spent in effort.items():
        found.setdefault(deployment_id, DeploymentOverview(deployment_id)).effort = spent
    return sorted(found.values(), key=lambda d: d.id)


def _add(values: list[str], value: str) -> None:
    if value not in values:
        values.append(value)


def storage(root: Path, events: list[CachedEvent]) -> dict[str, float | None]:
    """Megabytes: the events' files, and the card's total and free space."""
    used = sum(cached.row["bytes"] for cached in events) / 2**20
    try:
        usage = shutil.disk_usage(root)
    except OSError:
        return {"events_mb": round(used, 1), "total_mb": None, "free_mb": None, "free_percent": None}
    return {"events_mb": round(used, 1), "total_mb": round(usage.total / 2**20, 1),
            "free_mb": round(usage.free / 2**20, 1), "free_percent": round(100 * usage.free / usage.total, 1)}


def problems(root: Path, unreadable: list[str]) -> tuple[str | None, list[str]]:
    """The daemon's last state (or None) and every problem, one sentence each."""
    found: list[str] = []
    state = None
    path = state_dir(root) / STATUS_NAME
    try:
        with path.open("rb") as stream:
            snapshot: Any = json.loads(stream.read(MAX_STATUS_BYTES))
        state = f"{snapshot['state']} (status written {_written(path)})"
        # A trap stopped to collect its card is not a problem; what it said before it stopped may be.
        found += unhealthy_reasons({**snapshot, "state": "armed"} if snapshot["state"] == "stopped" else snapshot)
        found += [str(w) for w in snapshot.get("warnings") or []][:10]
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        found.append(f"the status file {path} does not read as trapd wrote it")
    quarantined = sorted(p.name for p in quarantine_dir(root).iterdir()) if quarantine_dir(root).is_dir() else []
    if quarantined:
        found.append(f"{len(quarantined)} folders are in quarantine ({quarantine_dir(root)}): look at them and their "
                     "QUARANTINED.txt")
    if unreadable:
        found.append(f"{len(unreadable)} event sidecars cannot be read and are not in this report "
                     f"({', '.join(unreadable[:3])}{', …' if len(unreadable) > 3 else ''}); run `trapd fsck`")
    return state, found


def _written(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat(timespec="minutes")
