"""A full card stops capture, not the trap; ENOSPC never leaves a corrupt file or kills the daemon."""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import assert_card_is_sound, make_config, pulse, run_one_event, small_card, start_daemon, wait_until
from tests.doubles import EventSink
from trapd.status import Status
from trapd.storage.layout import SIDECAR_NAME
from trapd.storage.space import FreeSpace


def test_a_full_card_stops_capture_reports_full_and_recovers(tmp_path: Path, mock_factory: MockFactory,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    room = [-5.0]
    monkeypatch.setattr(FreeSpace, "room_left_mb", lambda self: room[0])
    sink = EventSink()
    daemon = start_daemon(make_config(tmp_path, storage={"reserve_mb": 200}), mock_factory, on_event_stored=sink)
    try:
        pulse(mock_factory)
        assert daemon.pipeline.wait_until_quiet(5)
        snapshot = daemon.status.snapshot()
        assert snapshot["state"] == "full" and snapshot["triggers_storage_full"] == 1
        assert snapshot["events"] == 0 and not snapshot["healthy"]
        assert snapshot["problems"][0].startswith("FULL")
        room[0] = 500.0  # the card was collected
        pulse(mock_factory)
        sink.wait_for(1)
        assert daemon.status.state == "armed"
    finally:
        daemon.stop()


def test_filling_up_mid_event_ends_it_and_keeps_what_was_captured(tmp_path: Path, mock_factory: MockFactory,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    checks = iter([10.0, 10.0, -1.0] + [-1.0] * 10)  # at start-up, for the event, then gone after its first burst
    monkeypatch.setattr(FreeSpace, "room_left_mb", lambda self: next(checks))
    record, stored, _ = run_one_event(make_config(tmp_path, event={"gap_s": 1.0}), mock_factory)
    assert record.end_reason == "storage_full"
    assert len(stored.files) == 3
    assert json.loads((stored.directory / SIDECAR_NAME).read_text())["end_reason"] == "storage_full"


def test_enospc_while_writing_leaves_no_corrupt_file_and_the_trap_alive(tmp_path: Path, mock_factory: MockFactory,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from trapd.files import write_atomic as real_write
    from trapd.stages import spool as spool_stage
    from trapd.stages import store as store_stage
    from trapd.storage import writer as event_writer
    full = [True]

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def write(path: Path, data: bytes, *, durable: bool = True) -> None:
        if full[0] and path.suffix == ".jpg":
            # The real write_atomic, whose temporary is written and then refused by the disk: its
            # own clean-up is what must leave nothing behind.
            with monkeypatch.context() as disk:
                disk.setattr(os, "fsync", no_space)
                real_write(path, data, durable=durable)
        real_write(path, data, durable=durable)

    monkeypatch.setattr(event_writer, "write_atomic", write)
    monkeypatch.setattr(spool_stage, "write_atomic", write)  # frames are first written when captured
    monkeypatch.setattr(store_stage, "STORE_RETRY_DELAYS_S", ())  # the disk stays full: no retry can help
    sink = EventSink()
    daemon = start_daemon(make_config(tmp_path), mock_factory, on_event_stored=sink)
    try:
        pulse(mock_factory)
        wait_until(lambda: daemon.status.counts()["storage_errors"] == 1, what="the failed write to be counted")
        daemon_alive = daemon.status.state == "armed"
        full[0] = False
        pulse(mock_factory)
        [(_, stored)] = sink.wait_for(1)
    finally:
        daemon.stop()
    assert daemon_alive
    assert daemon.status.counts()["storage_errors"] == 1
    assert any("could not be stored" in w for w in daemon.status.snapshot()["warnings"])
    jpegs = list((tmp_path / "test-site").rglob("*.jpg"))
    assert sorted(jpegs) == sorted(stored.files), "no file from the failed event, whole or partial"
    assert not list(tmp_path.rglob("*.tmp")), "write_atomic removed the temporary the disk refused"


def test_a_real_small_card_fills_up_without_a_corrupt_file(tmp_path: Path, mock_factory: MockFactory,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A 6 MB tmpfs, a 1 MB reserve, 1.3 MB events: the guard stops capture, or the disk runs out mid-event."""
    from trapd.stages import store as store_stage

    monkeypatch.setattr(store_stage, "STORE_RETRY_DELAYS_S", ())  # nobody will clear this card
    with small_card(tmp_path / "card", 6) as card:
        sink = EventSink()
        config = make_config(card, camera={"type": "synthetic", "main_size": [1024, 768], "lores_size": [80, 60]},
                             burst={"frames": 6, "interval_s": 0.01}, event={"max_per_minute": 0},
                             storage={"reserve_mb": 1})
        daemon = start_daemon(config, mock_factory, on_event_stored=sink)
        try:
            for _ in range(12):
                pulse(mock_factory)
                assert daemon.pipeline.wait_until_quiet(10)
                if daemon.status.state == "full":
                    break
            state = daemon.status.state
        finally:
            daemon.stop()  # writes (or gives up on) whatever was captured
        counts = daemon.status.counts()
        print(f"{counts['events']} events stored, {counts['storage_errors']} lost to ENOSPC, then FULL")
        assert state == "full" and counts["triggers_storage_full"] == 1, "FULL, and the trap alive"
        assert daemon.pipeline.failure is None
        assert counts["events"] >= 2
        assert_card_is_sound(card)


def fill(card: Path, leave_bytes: int = 0) -> Path:
    """Fill a card with one file until only ``leave_bytes`` are free (0: until the disk refuses more)."""
    import shutil

    filler = card / "filler.bin"
    with filler.open("wb") as out:
        while shutil.disk_usage(card).free > leave_bytes + 65536:
            try:
                out.write(b"\0" * min(1 << 20, shutil.disk_usage(card).free - leave_bytes - 65536))
                out.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    if not leave_bytes:
        with contextlib.suppress(OSError), filler.open("ab") as out:
            while True:
                out.write(b"\0" * 4096)
                out.flush()
    return filler


@pytest.mark.parametrize("ballast_mb", [1, 0])
def test_a_trap_restarted_on_a_brim_full_card_runs_and_says_full(tmp_path: Path, mock_factory: MockFactory,
                                                                 ballast_mb: int) -> None:
    """A reboot on a card something else filled to the last byte: the service runs, reports FULL, recovers.

    The ballast, given back, leaves the catalog room to open; without one the trap runs on files alone.
    """
    with small_card(tmp_path / "card", 4) as card:
        config = make_config(card, storage={"reserve_mb": 1, "ballast_mb": ballast_mb})
        start_daemon(config, mock_factory).stop()  # a first run made the folders (and set the ballast aside)
        assert (card / ".trapd" / "ballast").exists() == bool(ballast_mb)
        filler = fill(card)
        sink = EventSink()
        daemon = start_daemon(config, mock_factory, on_event_stored=sink)
        try:
            catalog_missing = any("catalog not opened" in w for w in daemon.status.snapshot()["warnings"])
            assert catalog_missing == (not ballast_mb)
            assert daemon.status.state == "full"
            pulse(mock_factory)
            assert daemon.pipeline.wait_until_quiet(5)
            assert daemon.status.counts()["triggers_storage_full"] == 1
            filler.unlink()  # the card was cleared
            pulse(mock_factory)
            sink.wait_for(1)
            assert daemon.status.snapshot()["state"] == "armed"
        finally:
            daemon.stop()


def test_a_full_trap_resumes_only_with_room_for_a_whole_burst(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resuming on a sliver would start an event the card cannot hold: it waits for the reserve plus a burst."""
    config = make_config(tmp_path, storage={"reserve_mb": 1})
    status = Status()
    space = FreeSpace(tmp_path, config.storage, status, None, burst_frames=3, frame_bytes_guess=2**20)
    room = [-0.5]
    monkeypatch.setattr(space, "room_left_mb", lambda: room[0])
    assert not space.may_capture() and status.state == "full"
    room[0] = 1.5  # a megabyte and a half freed: not three frames' worth
    assert (space.may_capture(), space.full) == (False, True)
    room[0] = 3.0
    assert (space.may_capture(), space.full) == (True, False)
    room[0] = 0.5  # capturing again: room for less than a burst does not stop an armed trap until the reserve
    assert space.may_capture()


def test_the_largest_frame_written_sizes_the_burst(tmp_path: Path) -> None:
    space = FreeSpace(tmp_path, make_config(tmp_path).storage, Status(), None, burst_frames=3, frame_bytes_guess=100)
    space.note_frame_bytes(2**20)
    space.note_frame_bytes(1000)
    assert space.burst_mb == 3.0


def test_a_given_back_ballast_never_counts_as_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    config = make_config(tmp_path, storage={"reserve_mb": 1, "ballast_mb": 4})
    (tmp_path / ".trapd").mkdir()
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage._replace(free=6 * 2**20))
    space = FreeSpace(tmp_path, config.storage, Status(), None)
    assert space.room_left_mb() == 1.0, "6 MB free, less the reserve, less the 4 MB ballast given back"
    (tmp_path / ".trapd" / "ballast").write_bytes(b"")
    assert space.room_left_mb() == 5.0


def test_stale_temporaries_in_the_state_folder_are_removed_at_start(tmp_path: Path,
                                                                    mock_factory: MockFactory) -> None:
    state = tmp_path / ".trapd"
    state.mkdir()
    stale = state / ".status.json.4242-1234.tmp"  # a status write a kill cut short
    stale.write_bytes(b"{")
    start_daemon(make_config(tmp_path), mock_factory).stop()
    assert not stale.exists()


def test_the_storage_lock_is_taken_before_anything_is_touched(tmp_path: Path, mock_factory: MockFactory) -> None:
    from trapd.daemon import Daemon
    from trapd.errors import StorageBusyError
    from trapd.storage.lock import StorageLock

    config = make_config(tmp_path, storage={"ballast_mb": 1})
    (tmp_path / ".trapd").mkdir()
    holder = StorageLock(tmp_path / ".trapd" / "lock")
    holder.acquire()  # another trapd runs here, and has given its ballast back
    try:
        with pytest.raises(StorageBusyError):
            Daemon(config, pin_factory=mock_factory).start()
    finally:
        holder.release()
    assert sorted(p.name for p in (tmp_path / ".trapd").iterdir()) == ["lock"], "no ballast, probe or catalog"
    assert not (tmp_path / "test-site").exists()
