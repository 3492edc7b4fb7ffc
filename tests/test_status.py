"""`trapd status`: health at a glance, and an exit code monitoring can use."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import spawn_trapd, trapd_cli, wait_until, write_config
from trapd import status as status_module
from trapd import timebase
from trapd.status import Status, unhealthy_reasons


def _answers(config: Path) -> bool:
    return trapd_cli("status", "--config", str(config)).returncode in (0, 1)


def test_a_running_healthy_trap_exits_0_and_an_unhealthy_one_1(tmp_path: Path) -> None:
    healthy = write_config(tmp_path / "ok.yaml", tmp_path / "ok")
    # A tflite detector with no model anywhere: the trap runs fail-open, which monitoring must see.
    degraded = write_config(tmp_path / "degraded.yaml", tmp_path / "degraded",
                            detector={"type": "tflite", "model": "ssd-mobilenet-v1-coco"})
    daemons = [spawn_trapd("run", "--fake", "--config", str(c)) for c in (healthy, degraded)]
    try:
        for config in (healthy, degraded):
            wait_until(partial(_answers, config), what="the daemon to answer")
        ok = trapd_cli("status", "--json", "--config", str(healthy))
        assert ok.returncode == 0, ok.stdout
        report = json.loads(ok.stdout)
        assert report["healthy"] is True and report["problems"] == []
        for key in ("state", "uptime_s", "last_trigger_utc", "today", "frames_kept", "frames_discarded",
                    "frames_unfiltered",
                    "frames_flagged", "disk_free_percent", "detector", "detector_sha256", "clock_synced", "warnings"):
            assert key in report
        bad = trapd_cli("status", "--json", "--config", str(degraded))
        assert bad.returncode == 1
        assert any("fail-open" in problem for problem in json.loads(bad.stdout)["problems"])
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
            daemon.communicate(timeout=30)


def test_today_counts_restart_with_the_sites_day(monkeypatch: pytest.MonkeyPatch) -> None:
    status = Status()
    status.count("events", 2)
    assert status.snapshot()["today"]["events"] == 2
    tomorrow = datetime.now(UTC) + timedelta(days=1)

    class Tomorrow(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return tomorrow

    monkeypatch.setattr(status_module, "datetime", Tomorrow)
    snapshot = status.snapshot()
    assert snapshot["today"]["events"] == 0 and snapshot["events"] == 2


def test_low_disk_and_a_stopped_trap_are_problems() -> None:
    base = {"state": "armed", "disk_free_percent": 50.0, "detector_degraded": None, "storage_errors": 0}
    assert unhealthy_reasons(base) == []
    assert unhealthy_reasons({**base, "disk_free_percent": 3.2}) == ["only 3.2% disk free"]
    assert unhealthy_reasons({**base, "state": "stopping"}) == ["state is stopping, not armed"]
    assert unhealthy_reasons({**base, "storage_errors": 2}) == ["2 events could not be stored"]


def test_clock_sync_is_read_from_timesyncd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    flag = tmp_path / "timesync" / "synchronized"
    monkeypatch.setattr(timebase, "TIMESYNC_FLAG", flag)
    assert timebase.clock_synced() is None  # no timesyncd: unknown, not "false"
    flag.parent.mkdir()
    assert timebase.clock_synced() is False
    flag.touch()
    assert timebase.clock_synced() is True


def test_sighup_reloads_a_valid_config_and_keeps_the_old_one_on_an_invalid_one(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "store")
    daemon = spawn_trapd("run", "--fake", "--config", str(config))
    # Ask by storage, as monitoring does: the config file is about to become invalid, and a client
    # reading it would (rightly) stop at the config error.
    common = ("--storage", str(tmp_path / "store"))

    def status() -> dict[str, Any]:
        """The daemon's status; empty while it restarts for a reload (its socket is briefly gone)."""
        result = trapd_cli("status", "--json", *common)
        return json.loads(result.stdout) if result.stdout.strip() else {}

    def deployment() -> str:
        return str(status().get("deployment_id"))

    try:
        wait_until(lambda: bool(status()), what="the daemon to answer")
        assert deployment() == "test-site"
        write_config(config, tmp_path / "store", deployment={"id": "reloaded-site", "camera_id": "cam-2"})
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: deployment() == "reloaded-site", what="the reloaded config")

        config.write_text(config.read_text() + "\nburst:\n  frames: many\n")  # invalid (and a duplicate key)
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: any("reload refused" in w for w in status().get("warnings", [])),
                   what="the refusal in status")
        assert deployment() == "reloaded-site", "an invalid config must leave the running one in place"
        assert trapd_cli("trigger", *common).returncode == 0, "and the trap still works"

        write_config(config, tmp_path / "store", deployment={"id": "fixed-site", "camera_id": "cam-2"})
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: deployment() == "fixed-site", what="the mended config")
        assert not any("reload" in w for w in status().get("warnings", [])), "the refusal is answered"
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, stderr
    assert "config reload refused" in stderr and "Traceback" not in stderr


def test_a_reload_that_cannot_start_goes_back_to_the_old_config(tmp_path: Path) -> None:
    from gpiozero import DigitalInputDevice
    from gpiozero.pins.mock import MockFactory

    from tests.conftest import make_config
    from trapd.config.model import TrapdConfig
    from trapd.daemon import Daemon
    from trapd.service import _reloaded

    factory = MockFactory()
    holder = DigitalInputDevice(5, pin_factory=factory)  # the new config's PIR pin is taken
    old, new = make_config(tmp_path), make_config(tmp_path, pir={"pin": 5})

    def build(config: TrapdConfig) -> Daemon:
        return Daemon(config, pin_factory=factory)

    running = build(old)
    running.start()
    current = _reloaded(running, build, lambda: new, threading.Event())
    try:
        assert current is not running and current.config == old
        assert current.status.state == "armed"
        assert any("reload failed to start" in w for w in current.status.snapshot()["warnings"])
    finally:
        current.stop()
        holder.close()
        factory.reset()


class SlowFakeDaemon:
    """Stands in for Daemon in the supervisor: starting and stopping take time, as on a Pi."""

    made: list[SlowFakeDaemon] = []  # noqa: RUF012 - a per-test log, reset by the test

    def __init__(self, config: object) -> None:
        self.config = config
        self.stop_requested = threading.Event()
        self.pipeline = type("Pipeline", (), {"failure": None})()
        self.status = type("Status", (), {"warn": lambda self, message: None,
                                          "clear_warnings": lambda self, prefix: None})()
        self.events: list[str] = []
        self.running = False
        SlowFakeDaemon.made.append(self)

    def start(self) -> None:
        time.sleep(0.2)
        self.running = True
        self.events.append("start")

    def stop(self, reloading: bool = False) -> None:
        if self.running:
            self.running = False
            self.events.append("stop")
            time.sleep(0.5)

    def touch_watchdog(self) -> None:
        pass

    def exit_code(self) -> int:
        return 0


@pytest.mark.timeout(20)
@pytest.mark.parametrize("second", ["SIGTERM", "SIGHUP then SIGTERM"])
def test_a_signal_during_a_reload_is_not_lost(second: str) -> None:
    from trapd.service import run_until_signalled

    SlowFakeDaemon.made = []

    def send() -> None:
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.3)  # the old daemon is stopping now
        if second == "SIGHUP then SIGTERM":
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=send, daemon=True).start()
    code = run_until_signalled(SlowFakeDaemon("old"), build=SlowFakeDaemon,  # type: ignore[arg-type]
                               reload_config=lambda: "new")  # type: ignore[arg-type,return-value]
    assert code == 0
    assert not any(d.running for d in SlowFakeDaemon.made), "every daemon started was stopped"


def test_a_camera_that_fails_every_capture_makes_the_trap_unhealthy(tmp_path: Path) -> None:
    from gpiozero.pins.mock import MockFactory

    from tests.conftest import make_config, run_one_event
    from tests.doubles import RecordingCamera
    from trapd.hardware.synthetic import SyntheticCamera

    camera = RecordingCamera(SyntheticCamera((160, 120), (80, 60)), fail_every=1)  # a loose ribbon cable
    factory = MockFactory()
    _, _, daemon = run_one_event(make_config(tmp_path), factory, camera=camera)
    problems = unhealthy_reasons({**daemon.status.snapshot(), "state": "armed"})
    assert problems == ["the last 3 captures failed: check the camera and its cable"]


def test_a_schedule_on_an_unsynchronised_clock_is_a_problem() -> None:
    base = {"state": "armed", "disk_free_percent": 50.0, "clock_synced": False}
    assert unhealthy_reasons({**base, "schedule": "always"}) == []
    assert "clock is not synchronised" in unhealthy_reasons({**base, "schedule": "night"})[0]


def test_today_counts_the_seconds_its_events_were_active() -> None:
    from trapd.cli.status_view import status_lines

    status = Status()
    status.count("triggers", 4)
    status.note_event("a", 2.5)
    status.note_event("b", 61.0)
    today = status.snapshot()["today"]
    assert today["active_s"] == 63.5 and today["events"] == 2 and today["triggers"] == 4
    assert any("4 triggers, 2 events, 1 min active" in line for line in status_lines(status.snapshot()))
