"""Sampling effort: the periods the trap was armed, full, paused or stopped, recorded as they happen."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config, pulse, start_daemon
from tests.doubles import EventSink
from trapd.config.sections import ScheduleConfig
from trapd.schedule import Schedule
from trapd.storage.effort import EffortMark, effort_path, periods, rate_limited_drops, read_marks
from trapd.storage.layout import catalog_path

T0 = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)


def mark(minutes: float, kind: str, deployment: str = "site") -> EffortMark:
    return EffortMark(T0 + timedelta(minutes=minutes), deployment, kind)  # type: ignore[arg-type]


def test_periods_follow_the_marks_and_a_power_cut_ends_at_the_last_sign_of_life() -> None:
    marks = [mark(0, "start"), mark(0, "armed"), mark(60, "full"), mark(90, "armed"), mark(120, "alive"),
             mark(180, "alive"),  # then the power went: no stop
             mark(300, "start"), mark(300, "paused"), mark(360, "armed"), mark(420, "stop")]
    got = [(p.state, (p.start - T0).total_seconds() / 60, (p.end - T0).total_seconds() / 60) for p in periods(marks)]
    assert got == [("armed", 0, 60), ("full", 60, 90), ("armed", 90, 180), ("paused", 300, 360), ("armed", 360, 420)]


def test_a_trap_still_running_counts_until_now() -> None:
    [period] = periods([mark(0, "start"), mark(0, "armed"), mark(30, "alive")], now=T0 + timedelta(minutes=45))
    assert period.end == T0 + timedelta(minutes=45)
    [cut] = periods([mark(0, "start"), mark(0, "armed"), mark(30, "alive")], now=T0 + timedelta(days=3))
    assert cut.end == T0 + timedelta(minutes=30), "silent for days: it stopped at its last mark"


def test_deployments_are_counted_apart() -> None:
    marks = [mark(0, "armed", "a"), mark(10, "armed", "b"), mark(60, "stop", "a"), mark(70, "stop", "b")]
    assert sorted((p.deployment_id, p.days * 1440) for p in periods(marks)) == [("a", 60.0), ("b", 60.0)]


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    (tmp_path / ".trapd").mkdir()
    effort_path(tmp_path).write_text('{"utc": "2026-03-01T18:00:00Z", "deployment_id": "s", "mark": "armed"}\n'
                                     '{"utc": "2026-03-01T19:00:00Z", "deploym')
    assert [m.mark for m in read_marks(tmp_path)] == ["armed"]


def test_the_daemon_records_start_armed_full_and_stop(tmp_path: Path, mock_factory: MockFactory,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from trapd.storage.space import FreeSpace

    room = [10.0]
    monkeypatch.setattr(FreeSpace, "room_left_mb", lambda self: room[0])
    sink = EventSink()
    daemon = start_daemon(make_config(tmp_path), mock_factory, on_event_stored=sink)
    try:
        room[0] = -1.0
        pulse(mock_factory)  # refused: FULL
        assert daemon.pipeline.wait_until_quiet(5)
        room[0] = 10.0
        pulse(mock_factory)
        sink.wait_for(1)
    finally:
        daemon.stop()
    lines = [json.loads(line)["mark"] for line in effort_path(tmp_path).read_text().splitlines()]
    assert lines == ["start", "armed", "full", "armed", "stop"]
    with sqlite3.connect(catalog_path(tmp_path)) as db:
        assert db.execute("SELECT COUNT(*) FROM effort").fetchone()[0] == 5, "indexed too"


def test_storm_drops_are_counted_at_each_sign_of_life_and_each_run_starts_from_zero() -> None:
    def counted(minutes: float, kind: str, dropped: int) -> EffortMark:
        return EffortMark(T0 + timedelta(minutes=minutes), "site", kind, rate_limited=dropped)  # type: ignore[arg-type]

    marks = [mark(0, "start"), counted(60, "alive", 0), counted(120, "alive", 40), counted(180, "alive", 40),
             counted(200, "stop", 45), mark(300, "start"), counted(360, "alive", 7)]
    assert [(m.utc - T0, n) for m, n in rate_limited_drops(marks)] == [
        (timedelta(minutes=120), 40), (timedelta(minutes=200), 5), (timedelta(minutes=360), 7)]


def test_the_daemon_counts_storm_drops_in_its_stop_mark(tmp_path: Path, mock_factory: MockFactory) -> None:
    sink = EventSink()
    config = make_config(tmp_path, event={"max_per_minute": 1, "gap_s": 0.2}, pir={"holdoff_s": 0})
    daemon = start_daemon(config, mock_factory, on_event_stored=sink)
    try:
        pulse(mock_factory)
        sink.wait_for(1)
        for _ in range(3):
            pulse(mock_factory)  # a second and third event within the minute: dropped
        assert daemon.pipeline.wait_until_quiet(5)
    finally:
        daemon.stop()
    [stop] = [m for m in read_marks(tmp_path) if m.mark == "stop"]
    assert stop.rate_limited == 3


def test_the_schedule_says_when_it_next_opens_or_closes() -> None:
    schedule = Schedule(ScheduleConfig(active="hours", hours=("18:00", "07:00")), ZoneInfo("Asia/Tehran"), None, None)
    noon = datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("Asia/Tehran"))
    assert not schedule.open_at(noon)
    opening = schedule.next_change(noon)
    assert opening is not None and opening.astimezone(ZoneInfo("Asia/Tehran")).strftime("%H:%M:%S") == "18:00:00"
    closing = schedule.next_change(opening + timedelta(seconds=1))
    assert closing is not None and closing.astimezone(ZoneInfo("Asia/Tehran")).strftime("%H:%M") == "07:00"
    sun = Schedule(ScheduleConfig(active="night"), ZoneInfo("UTC"), 78.2, 15.6, clock=lambda: noon)  # Svalbard
    assert sun.next_change(datetime(2026, 6, 21, 12, 0, tzinfo=UTC)) is None, "the midnight sun never sets"
