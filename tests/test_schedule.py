"""Operating hours, day and night from the sun, and time-lapse, on an injected clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config, pulse, run_one_event, start_daemon
from tests.doubles import EventSink
from trapd.config.load import parse_config
from trapd.config.model import TrapdConfig
from trapd.config.sections import ScheduleConfig
from trapd.errors import ConfigError
from trapd.frames import Trigger
from trapd.periodic import timelapse
from trapd.schedule import Schedule, is_daylight, within_hours
from trapd.timebase import Instant

LONDON = (51.5074, -0.1278)
TROMSO = (69.6492, 18.9553)
TEHRAN = (35.6892, 51.3890)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(("place", "moment", "daylight"), [
    # London, midsummer 2024: sunrise 03:43 UTC, sunset 20:21 UTC.
    (LONDON, at(2024, 6, 21, 3, 30), False), (LONDON, at(2024, 6, 21, 3, 55), True),
    (LONDON, at(2024, 6, 21, 20, 10), True), (LONDON, at(2024, 6, 21, 20, 35), False),
    # Tromsø: the midnight sun, and the polar night.
    (TROMSO, at(2024, 6, 21, 0, 0), True), (TROMSO, at(2024, 12, 21, 11, 0), False),
    # Tehran at the March equinox: sunrise ~02:35 UTC (06:05 local), sunset ~14:45 UTC.
    (TEHRAN, at(2024, 3, 20, 2, 15), False), (TEHRAN, at(2024, 3, 20, 2, 55), True),
    (TEHRAN, at(2024, 3, 20, 14, 30), True), (TEHRAN, at(2024, 3, 20, 15, 5), False),
])
def test_day_and_night_follow_the_sun(place: tuple[float, float], moment: datetime, daylight: bool) -> None:
    assert is_daylight(moment, *place) is daylight


def test_hours_may_cross_midnight() -> None:
    zone = ZoneInfo("UTC")
    assert within_hours(at(2024, 1, 1, 23, 0), time(18), time(7), zone)
    assert within_hours(at(2024, 1, 1, 6, 59), time(18), time(7), zone)
    assert not within_hours(at(2024, 1, 1, 12, 0), time(18), time(7), zone)
    assert within_hours(at(2024, 1, 1, 12, 0), time(9), time(17), zone)


def test_hours_are_the_sites_hours() -> None:
    now = [at(2024, 3, 20, 15, 0)]  # 18:30 in Tehran (+03:30)
    schedule = Schedule(ScheduleConfig(active="hours", hours=("18:00", "07:00")), ZoneInfo("Asia/Tehran"),
                        None, None, clock=lambda: now[0])
    pir = Trigger(Instant.now(), "pir")
    assert schedule.takes(pir)
    now[0] = at(2024, 3, 20, 10, 0)  # 13:30 in Tehran
    assert not schedule.takes(pir)
    assert schedule.takes(Trigger(Instant.now(), "manual")), "aiming by hand works at any hour"
    assert schedule.takes(Trigger(Instant.now(), "timelapse"))


def test_day_or_night_schedules_need_coordinates() -> None:
    with pytest.raises(ConfigError, match=r"needs deployment\.latitude"):
        parse_config("schedule:\n  active: night\n")
    with pytest.raises(ConfigError, match=r"hours\.0 = '25:00'"):
        parse_config("schedule:\n  active: hours\n  hours: ['25:00', '07:00']\n")
    with pytest.raises(ConfigError, match="at least 10"):
        parse_config("schedule:\n  timelapse_interval_s: 3\n")


def test_a_night_trap_ignores_the_pir_by_day(tmp_path: Path, mock_factory: MockFactory) -> None:
    now = [at(2024, 6, 21, 12, 0)]  # midday in London
    sink = EventSink()
    config = make_config(tmp_path, deployment={"id": "night-site", "camera_id": "c", "latitude": LONDON[0],
                                               "longitude": LONDON[1]},
                         schedule={"active": "night"})
    daemon = start_daemon(config, mock_factory, on_event_stored=sink, clock=lambda: now[0])
    try:
        pulse(mock_factory)
        assert daemon.status.counts()["triggers_outside_schedule"] == 1
        now[0] = at(2024, 6, 21, 23, 0)  # night falls
        pulse(mock_factory)
        [(record, _)] = sink.wait_for(1)
    finally:
        daemon.stop()
    assert record.triggers[0].source == "pir"
    assert daemon.status.counts()["events"] == 1


def test_the_illuminator_follows_the_sun_in_night_mode(tmp_path: Path, mock_factory: MockFactory) -> None:
    from tests.doubles import RecordingCamera
    from trapd.hardware.synthetic import SyntheticCamera

    ir = mock_factory.pin(22)
    lit: list[bool] = []
    camera = RecordingCamera(SyntheticCamera((160, 120), (80, 60)), on_capture=lambda n: lit.append(ir.state))
    camera.lux = 5000.0  # bright by the camera's reading: night mode goes by the sun, not by lux
    now = [at(2024, 6, 21, 23, 0)]
    sink = EventSink()
    config = make_config(tmp_path, deployment={"id": "s", "camera_id": "c", "latitude": LONDON[0],
                                               "longitude": LONDON[1]},
                         illuminator={"pin": 22, "mode": "night"}, burst={"frames": 1})
    daemon = start_daemon(config, mock_factory, camera=camera, on_event_stored=sink, clock=lambda: now[0])
    try:
        pulse(mock_factory)
        sink.wait_for(1)
        now[0] = at(2024, 6, 21, 12, 0)
        pulse(mock_factory)
        sink.wait_for(2)
    finally:
        daemon.stop()
    assert lit == [True, False]


def test_timelapse_captures_are_labelled_for_camtrap_dp(tmp_path: Path, mock_factory: MockFactory) -> None:
    sink = EventSink()
    config = make_config(tmp_path, event={"gap_s": 0.0}, burst={"frames": 1})
    daemon = start_daemon(config, mock_factory, on_event_stored=sink)
    captures = timelapse(daemon.pipeline, 0.05)  # the config's minimum is 10 s; the function takes any
    captures.start()
    try:
        events = sink.wait_for(2)
    finally:
        captures.stop()
        daemon.stop()
    (record, stored), _ = events[0], events[1]
    assert record.triggers[0].source == "timelapse" and record.capture_method == "timeLapse"
    assert json.loads((stored.directory / "event.json").read_text())["capture_method"] == "timeLapse"


def test_a_motion_event_is_activity_detection(tmp_path: Path, mock_factory: MockFactory) -> None:
    record, _, _ = run_one_event(make_config(tmp_path), mock_factory)
    assert record.capture_method == "activityDetection"


def test_the_default_schedule_takes_everything() -> None:
    schedule = Schedule(TrapdConfig().schedule, ZoneInfo("UTC"), None, None,
                        clock=lambda: at(2024, 1, 1) + timedelta(hours=3))
    assert schedule.takes(Trigger(Instant.now(), "pir")) and schedule.is_night() is None


def test_an_empty_hours_window_is_refused() -> None:
    with pytest.raises(ConfigError, match="same time, an empty window"):
        parse_config("schedule:\n  active: hours\n  hours: ['06:00', '06:00']\n")
