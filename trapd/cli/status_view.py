"""`trapd status` as people read it: the one line systemd shows, then a short aligned table.

Every value is put into words here (counts together, times as times, no Python reprs), from
the snapshot the daemon answers with (trapd/status.py), which `--json` prints as it is.
"""

from __future__ import annotations

from typing import Any

from trapd.status import status_line


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min" if minutes else f"{int(seconds)} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days {hours % 24} h"


def _time(utc: Any) -> str:
    return str(utc).replace("T", " ")[:19] + " UTC" if utc else "never"


def _counts(snapshot: dict[str, Any], names: list[tuple[str, str]]) -> str:
    return ", ".join(f"{label} {snapshot.get(key, 0)}" for key, label in names)


def _today(today: dict[str, Any]) -> str:
    """The site's day so far, as `trapd power` counts it: triggers, and events' seconds from trigger to last frame."""
    return (f"{today.get('triggers', 0)} triggers, {today.get('events', 0)} events, "
            f"{_duration(float(today.get('active_s') or 0))} active (first trigger to last frame)")


def status_lines(snapshot: dict[str, Any]) -> list[str]:
    sha = snapshot.get("detector_sha256")
    detector = str(snapshot.get("detector") or "none")
    if sha:
        detector += f" (sha256 {str(sha)[:12]}…)"
    if snapshot.get("detector_degraded"):
        detector += f"; NOT RUNNING: {snapshot['detector_degraded']}"
    free = snapshot.get("disk_free_mb")
    storage = str(snapshot.get("storage_root") or "?")
    if free is not None:
        storage += f" ({free:,} MB free, {snapshot.get('disk_free_percent')}%)"
    rows = [
        ("state", f"{snapshot.get('state')}, up {_duration(float(snapshot.get('uptime_s') or 0))} "
                  f"(pid {snapshot.get('pid')}, trapd {snapshot.get('trapd_version', '?')})"),
        ("deployment", str(snapshot.get("deployment_id", "?"))),
        ("storage", storage),
        ("camera", str(snapshot.get("camera", "?"))),
        ("detector", detector),
        ("schedule", str(snapshot.get("schedule", "always"))),
        ("last trigger", _time(snapshot.get("last_trigger_utc"))),
        ("last event", str(snapshot.get("last_event_id") or "none yet")),
        ("triggers", f"{snapshot.get('triggers', 0)} taken; not taken: " + _counts(snapshot, [
            ("triggers_held_off", "held off"), ("triggers_dropped", "dropped"),
            ("triggers_rate_limited", "wind-storm limit"), ("triggers_outside_schedule", "outside schedule"),
            ("triggers_storage_full", "card full")])),
        ("events", str(snapshot.get("events", 0))),
        ("today", _today(snapshot.get("today") or {})),
        ("frames", f"{snapshot.get('frames_captured', 0)} captured: " + _counts(snapshot, [
            ("frames_kept", "kept"), ("frames_discarded", "discarded"), ("frames_audited", "audit sample"),
            ("frames_flagged", "flagged"), ("frames_unfiltered", "unfiltered"), ("frames_recovered", "recovered"),
            ("frames_overwritten", "overwritten")])),
        ("errors", _counts(snapshot, [("camera_errors", "camera"), ("detector_errors", "detector"),
                                      ("storage_errors", "storage"), ("spool_errors", "spool"),
                                      ("metadata_errors", "metadata")])),
    ]
    problems = [str(p) for p in snapshot.get("problems") or []]
    warnings = [str(w) for w in snapshot.get("warnings") or [] if w not in problems]
    rows.append(("problems", "; ".join(problems) or "none"))
    if warnings:
        rows.append(("warnings", "; ".join(warnings)))
    width = max(len(name) for name, _ in rows)
    return [status_line(snapshot), *(f"  {name:<{width}}  {value}" for name, value in rows)]
