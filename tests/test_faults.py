"""Fault injection (issue 6): a PIR storm, and a camera that fails one capture in twenty.

Short versions run in CI; `pytest -m slow` runs the long ones (a 60 s storm, 1,000 captures).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config, start_daemon
from tests.doubles import EventSink, RecordingCamera
from trapd.hardware.synthetic import SyntheticCamera
from trapd.status import CAMERA_FAILURES_UNHEALTHY


def rss_mb() -> float:
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def storm(tmp_path: Path, factory: MockFactory, seconds: float) -> dict[str, int]:
    """50 PIR edges a second for ``seconds``, with no hold-off: the worst wind a PIR can report."""
    sink = EventSink()
    config = make_config(tmp_path, pir={"holdoff_s": 0.0}, burst={"frames": 2, "interval_s": 0.02},
                         event={"gap_s": 0.1, "max_frames": 10, "max_per_minute": 12})
    daemon = start_daemon(config, factory, on_event_stored=sink)
    pin = factory.pin(17)
    before_mb = rss_mb()
    peak_mb = before_mb
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pin.drive_high()
            pin.drive_low()
            time.sleep(0.02)
            peak_mb = max(peak_mb, rss_mb())
        assert daemon.pipeline.wait_until_quiet(30), "the storm's backlog must drain"
    finally:
        daemon.stop()
    counts = daemon.status.counts()
    assert daemon.exit_code() == 0
    assert peak_mb - before_mb <= 20, f"memory grew {peak_mb - before_mb:.1f} MB in the storm"
    print(f"storm {seconds:.0f} s: {counts['triggers']} triggers, {counts['events']} events, "
          f"{counts['triggers_rate_limited']} rate-limited, memory +{peak_mb - before_mb:.1f} MB")
    return counts


def test_a_short_pir_storm_is_bounded_and_rate_limited(tmp_path: Path, mock_factory: MockFactory) -> None:
    counts = storm(tmp_path, mock_factory, seconds=5)
    assert counts["triggers"] >= 150
    assert counts["events"] <= 12, "event.max_per_minute holds"
    assert counts["triggers_rate_limited"] > 0


@pytest.mark.slow
def test_a_minute_long_pir_storm(tmp_path: Path, mock_factory: MockFactory) -> None:
    counts = storm(tmp_path, mock_factory, seconds=60)
    assert counts["events"] <= 24  # at most two minutes' worth, as the window slides
    assert counts["triggers_rate_limited"] > 0


def camera_errors(tmp_path: Path, factory: MockFactory, captures: int) -> None:
    camera = RecordingCamera(SyntheticCamera((160, 120), (80, 60)), fail_every=20)
    sink = EventSink()
    config = make_config(tmp_path, burst={"frames": 10, "interval_s": 0.0}, event={"gap_s": 0.0, "max_per_minute": 0})
    daemon = start_daemon(config, factory, camera=camera, on_event_stored=sink)
    try:
        for stored in range(1, captures // 10 + 1):
            factory.pin(17).drive_high()
            factory.pin(17).drive_low()
            sink.wait_for(stored)
    finally:
        daemon.stop()
    counts = daemon.status.counts()
    assert counts["camera_errors"] == captures // 20
    assert counts["frames_captured"] == captures - captures // 20
    assert counts["events"] == captures // 10, "every event was stored despite the errors"
    streak = daemon.status.snapshot()["camera_failure_streak"]
    assert streak < CAMERA_FAILURES_UNHEALTHY, "isolated errors are not a dead camera"


def test_a_camera_failing_one_capture_in_twenty(tmp_path: Path, mock_factory: MockFactory) -> None:
    camera_errors(tmp_path, mock_factory, captures=200)


@pytest.mark.slow
def test_a_thousand_captures_with_one_in_twenty_failing(tmp_path: Path, mock_factory: MockFactory) -> None:
    camera_errors(tmp_path, mock_factory, captures=1000)


def test_a_camera_that_fails_every_capture_stops_the_trap_with_exit_69(tmp_path: Path,
                                                                        mock_factory: MockFactory) -> None:
    """Each failure already restarts the camera; when that does not help, only a restart of the service might
    (systemd's Restart=on-failure), and `trapd status` says why it stopped."""
    camera = RecordingCamera(SyntheticCamera((160, 120), (80, 60)), fail_every=1)
    sink = EventSink()
    config = make_config(tmp_path, burst={"frames": 10, "interval_s": 0.0}, camera={"max_failures_in_a_row": 4})
    daemon = start_daemon(config, mock_factory, camera=camera, on_event_stored=sink)
    try:
        mock_factory.pin(17).drive_high()
        mock_factory.pin(17).drive_low()
        assert daemon.stop_requested.wait(10), "the daemon asked to stop"
        [(record, _)] = sink.wait_for(1)
    finally:
        daemon.stop()
    assert daemon.exit_code() == 69
    assert len(camera.capture_times_ns) == 4, "no more captures after the limit"
    assert record.frames == ()
    snapshot = daemon.status.snapshot()
    assert snapshot["state"] == "failed"
    assert any("failed 4 captures in a row" in warning for warning in snapshot["warnings"])
