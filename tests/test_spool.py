"""Frames on disk when captured, and events finished after a crash from what reached the disk.

Each frame's JPEG is written the moment it is captured, into .trapd/spool/<event>/, before anything
is decided about it; a kept frame is then renamed, a discarded one unlinked. An event a kill or a
power cut left open is finished at the next start, flagged recovered, never lost.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import assert_card_is_sound, make_config, pulse, run_one_event, start_daemon, wait_until
from tests.doubles import EventSink, GatedDetector, RecordingCamera, ScriptedDetector
from trapd.config.model import TrapdConfig
from trapd.event import OpenEvent
from trapd.frames import Frame, Trigger
from trapd.hardware.synthetic import SyntheticCamera
from trapd.stages import spool as spool_stage
from trapd.stages.messages import STOP, EventClosed, FrameMessage, FrameSlots, Link
from trapd.stages.spool import SpoolStage
from trapd.status import Status
from trapd.storage.framefile import FrameEncoder, read_record
from trapd.storage.layout import SIDECAR_NAME, quarantine_dir, spool_dir
from trapd.storage.space import FreeSpace
from trapd.timebase import Instant


def spool_frames(config: TrapdConfig, count: int) -> tuple[OpenEvent, list[Frame], Status]:
    """``count`` synthetic frames of one event through the spool stage, as capture would hand them over."""
    camera = SyntheticCamera((160, 120), (80, 60))
    trigger = Trigger(Instant.now(), "pir")
    event = OpenEvent.opened_by(trigger)
    status = Status()
    captured: Link[FrameMessage] = Link(64, "captured")
    spooled: Link[FrameMessage] = Link(64, "spooled")
    slots = FrameSlots(64, returned_by=captured)
    for index in range(count):
        slots.take()  # each frame holds a slot from the camera to the card, as the burst takes it
        frame = camera.capture()
        captured.put(Frame(event.event_id, index, 0, trigger, trigger.at.at_monotonic(frame.exposure_start_ns), frame,
                           event_triggers=(trigger,)))
    captured.put(EventClosed(event))
    captured.put(STOP)
    root = config.storage.root
    stage = SpoolStage(FrameEncoder(config), root, status, FreeSpace(root, config.storage, status, None),
                       captured=captured, spooled=spooled, slots=slots)
    # On a thread of its own, as in the pipeline: the stage lowers its thread's priority, which threads started
    # later inherit, so run here it would leave the test's own thread, and every later test's stages, niced.
    thread = threading.Thread(target=stage.run)
    thread.start()
    thread.join(30)
    frames = [item for item in (spooled.get_nowait() for _ in range(count)) if isinstance(item, Frame)]
    assert isinstance(spooled.get_nowait(), EventClosed)
    return event, frames, status


def sidecar_of(root: Path, event_id: str) -> dict[str, Any]:
    [path] = root.glob(f"*/*/{event_id}/{SIDECAR_NAME}")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_the_spool_stage_writes_each_frame_and_lets_its_pixels_go(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    event, frames, _ = spool_frames(config, 2)
    for index, frame in enumerate(frames):
        assert frame.stored_at == spool_dir(tmp_path) / event.event_id / f"{event.event_id}_{index:03d}.jpg"
        assert frame.camera.main is None and frame.camera.lores is not None, "full resolution on disk, not in RAM"
        record = read_record(frame.stored_at)
        assert record is not None and (record.event_id, record.index) == (event.event_id, index)
        assert record.event_triggers[0].trigger() == event.triggers[0]


def test_a_frame_that_cannot_be_written_keeps_its_pixels_and_is_counted(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def full(path: Path, data: bytes, *, durable: bool = True) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_stage, "write_atomic", full)
    _, frames, status = spool_frames(make_config(tmp_path), 2)
    assert all(f.stored_at is None and f.camera.main is not None for f in frames), "the store tries them again"
    assert status.counts()["spool_errors"] == 2
    assert len([w for w in status.snapshot()["warnings"] if "could not be written" in w]) == 1


def test_frames_are_on_disk_before_their_event_is_decided_and_kept_ones_are_renamed(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    detector = GatedDetector()  # holds the first frame in detection: nothing is decided yet
    sink = EventSink()
    daemon = start_daemon(make_config(tmp_path, event={"gap_s": 0.0}), mock_factory, detector=detector,
                          on_event_stored=sink)
    try:
        pulse(mock_factory)
        assert detector.entered.wait(5)
        assert daemon.pipeline.wait_until_quiet(5)  # the event is closed: all three frames were captured
        wait_until(lambda: len(list(spool_dir(tmp_path).rglob("*.jpg"))) == 3, what="the burst to be written")
        spooled = sorted(spool_dir(tmp_path).rglob("*.jpg"))
        assert len(spooled) == 3, "every captured frame is a file before its event is decided"
        inodes = {path.name: path.stat().st_ino for path in spooled}
        detector.release.set()
        [(_, stored)] = sink.wait_for(1)
    finally:
        detector.release.set()
        daemon.stop()
    assert {path.name: path.stat().st_ino for path in stored.files} == inodes, "renamed, not written again"
    assert not spool_dir(tmp_path).exists() or not any(spool_dir(tmp_path).iterdir())


def test_discarded_frames_leave_nothing_behind(tmp_path: Path, mock_factory: MockFactory) -> None:
    _, stored, _ = run_one_event(make_config(tmp_path), mock_factory, detector=ScriptedDetector())
    assert not stored.files and not list(tmp_path.rglob("*.jpg"))
    assert not any(spool_dir(tmp_path).iterdir())


def test_an_event_left_open_is_finished_at_the_next_start(tmp_path: Path, mock_factory: MockFactory) -> None:
    config = make_config(tmp_path)
    event, _, _ = spool_frames(config, 3)  # and then the power went
    run_one_event(config, mock_factory)  # the next start recovers it, then runs as ever
    sidecar = sidecar_of(tmp_path, event.event_id)
    assert sidecar["end_reason"] == "interrupted"
    assert [t["utc"] for t in sidecar["triggers"]] == [event.triggers[0].at.utc.isoformat().replace("+00:00", "Z")]
    assert [f["flags"] for f in sidecar["frames"]] == [["recovered", "unfiltered"]] * 3
    assert all(f["keep"] and f["file"] for f in sidecar["frames"])
    assert not (spool_dir(tmp_path) / event.event_id).exists()
    assert_card_is_sound(tmp_path)


def test_a_store_cut_short_between_its_renames_is_finished_and_keeps_what_it_kept(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    config = make_config(tmp_path)
    event, frames, _ = spool_frames(config, 3)
    folder = tmp_path / "test-site" / event.opened.utc.strftime("%Y-%m-%d") / event.event_id
    folder.mkdir(parents=True)
    assert frames[0].stored_at is not None
    os.replace(frames[0].stored_at, folder / frames[0].stored_at.name)  # renamed; then the cut, before the sidecar
    run_one_event(config, mock_factory, detector=ScriptedDetector())  # this detector would discard everything
    sidecar = sidecar_of(tmp_path, event.event_id)
    first, *rest = sidecar["frames"]
    assert first["keep"] and first["file"] and first["reason"].startswith("kept before the interruption")
    assert not any(frame["keep"] for frame in rest)
    assert not list(quarantine_dir(tmp_path).rglob("*")), "an unfinished store is finished, not quarantined"
    assert_card_is_sound(tmp_path)


def test_a_frame_cut_short_is_kept_and_flagged(tmp_path: Path, mock_factory: MockFactory) -> None:
    config = make_config(tmp_path)
    event, frames, _ = spool_frames(config, 2)
    assert frames[1].stored_at is not None
    data = frames[1].stored_at.read_bytes()
    frames[1].stored_at.write_bytes(data[: len(data) // 2])  # a card that lost the rest
    run_one_event(config, mock_factory)
    second = sidecar_of(tmp_path, event.event_id)["frames"][1]
    assert second["keep"] and second["file"] and set(second["flags"]) >= {"recovered", "undecodable"}
    assert second["capture_utc"] == frames[1].captured.utc.isoformat().replace("+00:00", "Z"), "its record read"


def test_after_the_sidecar_what_it_discarded_goes_and_anything_else_is_quarantined(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    config = make_config(tmp_path)
    record, _, _ = run_one_event(config, mock_factory, detector=ScriptedDetector())
    leftovers = spool_dir(tmp_path) / record.event_id
    leftovers.mkdir()
    (leftovers / f"{record.event_id}_001.jpg").write_bytes(b"a discarded frame the cut left")
    (leftovers / "stranger.jpg").write_bytes(b"not trapd's")
    run_one_event(config, MockFactory())
    assert not leftovers.exists()
    [kept] = quarantine_dir(tmp_path).rglob("stranger.jpg")
    assert kept.read_bytes() == b"not trapd's"


def test_a_spool_folder_deleted_while_the_trap_runs(tmp_path: Path, mock_factory: MockFactory) -> None:
    detector = GatedDetector()
    sink = EventSink()
    daemon = start_daemon(make_config(tmp_path, event={"gap_s": 0.0}), mock_factory, detector=detector,
                          on_event_stored=sink)
    try:
        pulse(mock_factory)
        assert detector.entered.wait(5) and daemon.pipeline.wait_until_quiet(5)
        wait_until(lambda: len(list(spool_dir(tmp_path).rglob("*.jpg"))) == 3, what="the burst to be written")
        shutil.rmtree(spool_dir(tmp_path))  # a person tidying up
        detector.release.set()
        [(first, _)] = sink.wait_for(1)
        pulse(mock_factory)
        [_, (_, second)] = sink.wait_for(2)
        assert daemon.status.state == "armed"
    finally:
        detector.release.set()
        daemon.stop()
    entries = sidecar_of(tmp_path, first.event_id)["frames"]
    assert all(f["file"] is None and f["removed"]["by"] == "trapd" for f in entries), "said, not silently dropped"
    assert len(second.files) == 3, "the spool folder is made again for the next frames"
    assert_card_is_sound(tmp_path)


def test_enospc_on_the_rename_into_the_event_folder_is_retried(tmp_path: Path, mock_factory: MockFactory,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from trapd.stages import store as store_stage

    real_replace = os.replace
    refused: list[str] = []

    def replace(source: Any, destination: Any) -> None:
        moving_out_of_the_spool = spool_dir(tmp_path) in Path(source).parents and spool_dir(tmp_path) not in \
            Path(destination).parents
        if moving_out_of_the_spool and not refused:
            refused.append(str(destination))
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(store_stage, "STORE_RETRY_DELAYS_S", (0.01,))
    _, stored, daemon = run_one_event(make_config(tmp_path), mock_factory)
    assert refused and len(stored.files) == 3
    assert daemon.status.counts()["storage_errors"] == 0
    assert_card_is_sound(tmp_path)


def test_a_wind_storm_event_keeps_each_frames_record_small(tmp_path: Path) -> None:
    """A 50 edges/s storm put 3,000 triggers in one event, and its frames' records burst the XMP (exit 70)."""
    from trapd.event import TRIGGERS_PER_FRAME, recorded_triggers

    config = make_config(tmp_path)
    event = OpenEvent.opened_by(Trigger(Instant.now(), "pir"))
    event.triggers.extend(Trigger(Instant.now(), "pir") for _ in range(3000))
    camera = SyntheticCamera((160, 120), (80, 60))
    captured = camera.capture()
    frame = Frame(event.event_id, 0, 0, event.triggers[-1], event.triggers[-1].at, captured,
                  event_triggers=recorded_triggers(event))
    data = FrameEncoder(config).encode(frame)
    assert data is not None
    path = tmp_path / "frame.jpg"
    path.write_bytes(data)
    record = read_record(path)
    assert record is not None and len(record.event_triggers) == TRIGGERS_PER_FRAME
    assert record.event_triggers[0].trigger() == event.triggers[0], "the first trigger: when the event began"


def test_max_frames_in_flight_bounds_every_full_frame_between_the_camera_and_the_card(
        tmp_path: Path, mock_factory: MockFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # The setting promises the memory of at most this many full-resolution frames. Counted are the frame
    # the camera is filling, those waiting for the spool and the one it is writing: with the encoder held,
    # the camera must not be asked for a third frame. (It was asked for four: two queued, one being written,
    # one held by capture while it waited to queue it.)
    entered, release = threading.Event(), threading.Event()
    encode = FrameEncoder.encode

    def held_encode(self: FrameEncoder, frame: Frame) -> bytes | None:
        entered.set()
        release.wait(10)
        return encode(self, frame)

    monkeypatch.setattr(FrameEncoder, "encode", held_encode)
    camera = RecordingCamera(SyntheticCamera((160, 120), (80, 60)))
    sink = EventSink()
    config = make_config(tmp_path, burst={"frames": 6, "interval_s": 0.0}, pipeline={"max_frames_in_flight": 2})
    daemon = start_daemon(config, mock_factory, camera=camera, on_event_stored=sink)
    try:
        pulse(mock_factory)
        assert entered.wait(5)
        wait_until(lambda: len(camera.capture_times_ns) >= 2, what="the second frame, which has a slot")
        time.sleep(0.5)  # time for capture to run ahead, were it allowed to
        captured_while_held = len(camera.capture_times_ns)
        release.set()
        [(record, _)] = sink.wait_for(1)
    finally:
        release.set()
        daemon.stop()
    assert captured_while_held == 2
    assert len(record.frames) == 6, "capture waits for the card; it loses nothing"


def test_a_frame_slot_given_back_twice_is_a_bug_said_not_a_bound_widened() -> None:
    slots = FrameSlots(2, returned_by=Link(2, "captured"))
    slots.take()
    slots.give_back()
    with pytest.raises(RuntimeError, match="never taken"):
        slots.give_back()
    assert slots.taken == 0
