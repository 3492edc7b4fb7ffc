from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config, start_daemon
from trapd.control import ControlServer, request
from trapd.errors import ControlError, NotRunningError


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ControlServer]:
    control = ControlServer(tmp_path / "c.sock", {"status": lambda: {"state": "armed"}})
    control.start()
    yield control
    control.close()
    control.close()  # twice is fine


def _send_raw(path: Path, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(5)
        client.connect(str(path))
        try:
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)
            return client.recv(65536)
        except ConnectionResetError:
            return b""  # an oversized request is cut off once the server has read its limit


def test_status_round_trip(server: ControlServer) -> None:
    assert request(server.path, "status") == {"ok": True, "state": "armed"}


def test_unknown_commands_are_refused_with_the_known_ones(server: ControlServer) -> None:
    with pytest.raises(ControlError, match="unknown command 'dance'; known: status"):
        request(server.path, "dance")


@pytest.mark.parametrize("garbage", [b"[" * 3000, b"\xff\xfe", b'"just a string"', b"{" + b"x" * 10000])
def test_garbage_does_not_kill_the_server(server: ControlServer, garbage: bytes) -> None:
    reply = _send_raw(server.path, garbage)
    assert reply == b"" or json.loads(reply)["ok"] is False
    assert request(server.path, "status")["state"] == "armed"


def test_a_slow_client_cannot_hold_the_server(server: ControlServer) -> None:
    with socket.socket(socket.AF_UNIX) as slow:
        slow.connect(str(server.path))
        slow.sendall(b"{")  # ...and never finishes
        started = time.monotonic()
        assert request(server.path, "status", timeout_s=10)["state"] == "armed"
    assert time.monotonic() - started < 5


def test_no_daemon_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotRunningError, match="no trapd is running"):
        request(tmp_path / "absent.sock", "status")


def test_a_storage_path_too_long_for_a_unix_socket_still_works(tmp_path: Path, mock_factory: MockFactory) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    assert len(str(deep / ".trapd" / "control.sock")) > 108
    daemon = start_daemon(make_config(deep), mock_factory)
    try:
        assert (deep / ".trapd" / "control.sock").exists()
        assert request(deep / ".trapd" / "control.sock", "status")["state"] == "armed"
    finally:
        daemon.stop()


@pytest.mark.parametrize("idle", [3, 10, 200])
def test_idle_connections_never_delay_a_request(server: ControlServer, idle: int) -> None:
    """Three idle clients made `trapd trigger` wait 5 s and fail; ten crashed it; a flood of 200 too."""
    lurkers = []
    try:
        for _ in range(idle):
            lurker = socket.socket(socket.AF_UNIX)
            lurker.setblocking(False)
            with contextlib.suppress(BlockingIOError):  # the backlog is full: the flood is real
                lurker.connect(str(server.path))
            lurkers.append(lurker)
        started = time.monotonic()
        assert request(server.path, "status", timeout_s=10)["state"] == "armed"
        assert time.monotonic() - started < 1.0
    finally:
        for lurker in lurkers:
            lurker.close()


def test_many_clients_at_once_are_each_answered(server: ControlServer) -> None:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda _: request(server.path, "status", timeout_s=10)["state"], range(100)))
    assert replies == ["armed"] * 100
