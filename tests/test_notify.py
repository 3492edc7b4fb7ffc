"""sd_notify: READY, STATUS, WATCHDOG and STOPPING reach a fake NOTIFY_SOCKET; a stuck worker starves the watchdog."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config, pulse, spawn_trapd, start_daemon, write_config
from tests.doubles import EventSink, GatedDetector
from trapd.notify import SystemdNotifier


class FakeSystemd:
    """The receiving end of $NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.received: list[str] = []

    def read(self, timeout_s: float) -> list[str]:
        """Every message that arrives within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            self.socket.settimeout(remaining)
            try:
                self.received.append(self.socket.recv(4096).decode())
            except TimeoutError:
                break
        return self.received

    def wait_for(self, fragment: str, timeout_s: float = 10.0) -> str:
        deadline = time.monotonic() + timeout_s
        seen = 0
        while time.monotonic() < deadline:
            for message in self.received[seen:]:
                if fragment in message:
                    return message
            seen = len(self.received)
            self.socket.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                self.received.append(self.socket.recv(4096).decode())
            except TimeoutError:
                break
        raise AssertionError(f"no {fragment!r} within {timeout_s}s; got {self.received}")


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(tmp_path / "notify.sock")
    yield fake
    fake.socket.close()


def notifier_for(fake: FakeSystemd, watchdog_usec: int = 0) -> SystemdNotifier:
    return SystemdNotifier({"NOTIFY_SOCKET": str(fake.path), "WATCHDOG_USEC": str(watchdog_usec)})


def test_ready_status_and_stopping(tmp_path: Path, mock_factory: MockFactory, systemd: FakeSystemd) -> None:
    sink = EventSink()
    daemon = start_daemon(make_config(tmp_path / "store"), mock_factory, on_event_stored=sink,
                          notifier=notifier_for(systemd))
    try:
        ready = systemd.wait_for("READY=1")
        assert "STATUS=armed;" in ready and f"MAINPID={os.getpid()}" in ready
        assert "% disk free" in ready
        pulse(mock_factory)
        systemd.wait_for("STATUS=capturing")
        sink.wait_for(1)
        assert "today: events 1, frames kept 3" in systemd.wait_for("today: events 1")
    finally:
        daemon.stop()
    systemd.wait_for("STOPPING=1")


def test_the_watchdog_is_fed_only_by_heartbeats_through_the_pipeline(
    tmp_path: Path, mock_factory: MockFactory, systemd: FakeSystemd
) -> None:
    detector = GatedDetector()
    config = make_config(tmp_path / "store", event={"gap_s": 0.0})
    daemon = start_daemon(config, mock_factory, detector=detector, notifier=notifier_for(systemd, 200_000))
    try:
        systemd.wait_for("READY=1")
        healthy = [m for m in systemd.read(0.5) if m == "WATCHDOG=1"]
        assert len(healthy) >= 3, "heartbeats every 50 ms should feed the watchdog"
        pulse(mock_factory)
        assert detector.entered.wait(5)  # the detect worker is now stuck inside the detector
        # Heartbeats already past detection still land, later on a loaded machine: wait for a quiet 0.3 s.
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            systemd.received.clear()
            if not [m for m in systemd.read(0.3) if m == "WATCHDOG=1"]:
                break
        systemd.received.clear()
        stuck = [m for m in systemd.read(0.6) if m == "WATCHDOG=1"]
        assert stuck == [], "a stuck worker must starve the watchdog, so systemd restarts the trap"
        detector.release.set()
        systemd.received.clear()
        assert [m for m in systemd.read(0.6) if m == "WATCHDOG=1"], "feeding resumes once the worker recovers"
    finally:
        detector.release.set()
        daemon.stop()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled and notifier.watchdog_usec == 0
    notifier.ready("armed")  # a no-op, not an error


def test_abstract_socket_addresses() -> None:
    name = f"trapd-test-{os.getpid()}"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind("\0" + name)
    try:
        SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).status("armed")
        receiver.settimeout(2)
        assert receiver.recv(100) == b"STATUS=armed"
    finally:
        receiver.close()


def test_the_watchdog_belongs_to_the_pid_systemd_named() -> None:
    assert SystemdNotifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).watchdog_usec == 0


def test_trapd_run_says_ready_to_systemd(tmp_path: Path, systemd: FakeSystemd) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "store")
    os.environ["NOTIFY_SOCKET"] = str(systemd.path)
    try:
        daemon = spawn_trapd("run", "--fake", "--config", str(config))
    finally:
        del os.environ["NOTIFY_SOCKET"]
    try:
        ready = systemd.wait_for("READY=1", timeout_s=30)
        assert f"MAINPID={daemon.pid}" in ready
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=30)
    assert daemon.returncode == 0
    systemd.wait_for("STOPPING=1")
