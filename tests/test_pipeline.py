"""The whole trap in one process: MockFactory PIR -> pipeline -> store, on fake cameras."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from PIL import ExifTags, Image

from tests.conftest import make_config, pulse, pulse_for_events, run_one_event, start_daemon
from tests.doubles import EventSink, GatedDetector, RecordingCamera, ScriptedDetector, set_at
from trapd.detect.base import Detection
from trapd.errors import DeviceError
from trapd.event import DecidedEvent
from trapd.frames import CameraFrame
from trapd.hardware.replay import ReplayCamera
from trapd.hardware.synthetic import SyntheticCamera
from trapd.storage.layout import SIDECAR_NAME
from trapd.storage.writer import StoredEvent


def synthetic() -> SyntheticCamera:
    return SyntheticCamera((160, 120), (80, 60))


def test_a_pir_edge_becomes_a_stored_event(tmp_path: Path, mock_factory: MockFactory,
                                           camera_trap_images: Path) -> None:
    config = make_config(tmp_path, camera={"type": "replay", "images_dir": str(camera_trap_images),
                                           "lores_size": [80, 60]})
    sink = EventSink()
    daemon = start_daemon(config, mock_factory, on_event_stored=sink)
    try:
        assert daemon.status.state == "armed"
        pulse(mock_factory)
        [(record, stored)] = sink.wait_for(1)
    finally:
        daemon.stop()
    assert len(stored.files) == 3
    for jpeg in stored.files:
        with Image.open(jpeg) as image:
            image.load()
            exif = image.getexif().get_ifd(ExifTags.IFD.Exif)
        assert exif[ExifTags.Base.BodySerialNumber] == "cam-test"
        assert ExifTags.Base.DateTimeOriginal in exif
    sidecar = json.loads((stored.directory / SIDECAR_NAME).read_text())
    assert sidecar["event_id"] == record.event_id
    assert [f["source"] for f in sidecar["frames"]] == sorted(p.name for p in camera_trap_images.glob("*.*")
                                                               if p.suffix.lower() in (".jpg", ".jpeg"))[:3]
    assert all(f["flags"] == ["unfiltered"] for f in sidecar["frames"])
    assert all(f["trigger_to_exposure_ms"] >= 0 for f in sidecar["frames"])
    assert sidecar["end_reason"] == "quiet"
    assert daemon.status.snapshot()["state"] == "stopped"


def test_holdoff_in_the_daemon(tmp_path: Path, mock_factory: MockFactory) -> None:
    sink = EventSink()
    daemon = start_daemon(make_config(tmp_path, pir={"holdoff_s": 30.0}), mock_factory, on_event_stored=sink)
    try:
        for _ in range(5):
            pulse(mock_factory)
        sink.wait_for(1)
    finally:
        daemon.stop()
    counts = daemon.status.counts()
    assert (counts["triggers"], counts["triggers_held_off"], counts["events"]) == (1, 4, 1)


def test_overlapping_triggers_extend_one_event(tmp_path: Path, mock_factory: MockFactory) -> None:
    first_burst_done = threading.Event()
    camera = RecordingCamera(synthetic(), on_capture=set_at(3, first_burst_done))
    sink = EventSink()
    config = make_config(tmp_path, event={"gap_s": 2.0})
    daemon = start_daemon(config, mock_factory, camera=camera, on_event_stored=sink)
    try:
        pulse(mock_factory)
        assert first_burst_done.wait(5)
        pulse(mock_factory)  # within gap_s of the first burst: same event
        [(record, _)] = sink.wait_for(1, timeout_s=10)
    finally:
        daemon.stop()
    assert len(record.triggers) == 2
    assert [f.burst for f in record.frames] == [0, 0, 0, 1, 1, 1]
    assert [f.index for f in record.frames] == list(range(6))
    assert daemon.status.counts()["events"] == 1


def test_triggers_after_the_gap_start_a_new_event(tmp_path: Path, mock_factory: MockFactory) -> None:
    sink = EventSink()
    daemon = start_daemon(make_config(tmp_path, event={"gap_s": 0.05}), mock_factory, on_event_stored=sink)
    try:
        events = pulse_for_events(mock_factory, sink, 2)
    finally:
        daemon.stop()
    assert events[0][0].event_id != events[1][0].event_id


def test_a_trigger_during_detection_of_the_previous_burst_starts_at_once(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    detector = GatedDetector()
    camera = RecordingCamera(synthetic())
    sink = EventSink()
    daemon = start_daemon(make_config(tmp_path, event={"gap_s": 0.0}), mock_factory, camera=camera,
                          detector=detector, on_event_stored=sink)
    try:
        pulse(mock_factory)
        assert detector.entered.wait(5), "the first burst never reached the detector"
        daemon.pipeline.wait_until_quiet(5)
        pulse(mock_factory)  # the detector is still busy with the first burst
        assert daemon.pipeline.wait_until_quiet(5)
        captured_while_detecting = len(camera.capture_times_ns)
        detector.release.set()
        events = sink.wait_for(2)
    finally:
        detector.release.set()
        daemon.stop()
    assert captured_while_detecting == 6, "the second burst must not wait for the first one's detection"
    assert all(d.keep for record, _ in events for d in record.decisions)


def test_stopping_mid_burst_keeps_every_captured_frame(tmp_path: Path, mock_factory: MockFactory) -> None:
    third_frame = threading.Event()
    camera = RecordingCamera(synthetic(), on_capture=set_at(3, third_frame))
    sink = EventSink()
    config = make_config(tmp_path, burst={"frames": 50, "interval_s": 0.05})
    daemon = start_daemon(config, mock_factory, camera=camera, on_event_stored=sink)
    pulse(mock_factory)
    assert third_frame.wait(5)
    daemon.stop()  # what SIGTERM does
    [(record, stored)] = sink.events
    captured = len(camera.capture_times_ns)
    assert 3 <= captured < 50
    assert len(record.frames) == captured == len(stored.files)
    assert record.end_reason == "shutdown"
    assert daemon.status.counts()["frames_kept"] == captured
    assert daemon.status.counts()["frames_unfiltered"] == captured  # detector.type: none judges nothing


def test_empty_frames_are_discarded_and_animals_kept_with_reasons(tmp_path: Path, mock_factory: MockFactory,
                                                                   camera_trap_images: Path) -> None:
    animal = Detection("animal", "zebra", 0.85, (0.2, 0.3, 0.2, 0.2))
    names = sorted(p.name for p in camera_trap_images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    detector = ScriptedDetector({names[0]: [animal]})
    sink = EventSink()
    config = make_config(tmp_path, camera={"type": "replay", "images_dir": str(camera_trap_images),
                                           "lores_size": [80, 60]},
                         burst={"frames": 2}, event={"gap_s": 0.05}, decision={"event_level": False})
    daemon = start_daemon(config, mock_factory, detector=detector, on_event_stored=sink)
    try:
        events = pulse_for_events(mock_factory, sink, 2)
    finally:
        daemon.stop()
    first, second = (record for record, _ in events)
    assert [d.keep for d in first.decisions] == [True, False]
    assert first.decisions[0].reason == "animal (zebra) 0.85 >= 0.40"
    assert first.decisions[1].reason == "no detections"
    assert not second.decision.keep
    sidecar = json.loads((events[1][1].directory / SIDECAR_NAME).read_text())
    assert sidecar["decision"]["keep"] is False and sidecar["frames"][0]["file"] is None
    counts = daemon.status.counts()
    assert (counts["frames_kept"], counts["frames_discarded"]) == (1, 3)


def test_an_undecodable_frame_is_kept_byte_for_byte(tmp_path: Path, mock_factory: MockFactory,
                                                   camera_trap_images: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    truncated = (camera_trap_images / "sn_african_elephants_truncated_file.jpg").read_bytes()
    (images / "broken.jpg").write_bytes(truncated)
    config = make_config(tmp_path / "store", camera={"type": "replay", "images_dir": str(images)},
                         burst={"frames": 1})
    _, stored, _ = run_one_event(config, mock_factory, detector=ScriptedDetector())
    assert stored.files[0].read_bytes() == truncated
    sidecar = json.loads((stored.directory / SIDECAR_NAME).read_text())
    frame = sidecar["frames"][0]
    assert frame["keep"] and set(frame["flags"]) == {"detector_error", "undecodable"}
    assert "truncated" in frame["reason"]


def test_pretrigger_frames_come_from_before_the_edge(tmp_path: Path, mock_factory: MockFactory) -> None:
    camera = RecordingCamera(synthetic())
    buffered = threading.Event()
    camera._on_capture = set_at(2, buffered)
    sink = EventSink()
    config = make_config(tmp_path, camera={"type": "synthetic", "main_size": [160, 120], "lores_size": [80, 60],
                                           "pretrigger_frames": 2, "pretrigger_interval_s": 0.01})
    daemon = start_daemon(config, mock_factory, camera=camera, on_event_stored=sink)
    try:
        assert buffered.wait(5), "the pre-trigger buffer never filled"
        pulse(mock_factory)
        [(record, stored)] = sink.wait_for(1)
    finally:
        daemon.stop()
    early = [f for f in record.frames if f.pretrigger]
    assert 1 <= len(early) <= 2
    assert all(f.trigger_to_exposure_ms < 0 for f in early)
    assert [f.pretrigger for f in record.frames] == [True] * len(early) + [False] * 3
    assert len(stored.files) == len(early) + 3


def test_warm_mode_starts_the_camera_once(tmp_path: Path, mock_factory: MockFactory) -> None:
    camera = RecordingCamera(synthetic())
    sink = EventSink()
    daemon = start_daemon(make_config(tmp_path), mock_factory, camera=camera, on_event_stored=sink)
    try:
        pulse(mock_factory)
        sink.wait_for(1)
        assert camera.calls == ["start"]
    finally:
        daemon.stop()
    assert camera.calls == ["start", "stop", "close"]


def test_a_pin_in_use_fails_start_up_and_releases_everything(tmp_path: Path, mock_factory: MockFactory) -> None:
    from gpiozero import DigitalInputDevice

    from trapd.daemon import Daemon

    holder = DigitalInputDevice(17, pin_factory=mock_factory)
    config = make_config(tmp_path, illuminator={"pin": 22})
    camera = RecordingCamera(synthetic())
    with pytest.raises(DeviceError, match=r"pir\.pin 17 is already in use"):
        Daemon(config, pin_factory=mock_factory, camera=camera).start()
    holder.close()
    assert camera.calls == ["close"]
    assert not list(tmp_path.iterdir()), "nothing written at all: the devices are checked before the storage"
    # Everything was released: the lock, and the illuminator's pin; a new daemon starts.
    daemon = start_daemon(config, mock_factory)
    daemon.stop()
    daemon.stop()  # stop is idempotent


def test_a_second_daemon_on_the_same_storage_is_refused(tmp_path: Path, mock_factory: MockFactory) -> None:
    from trapd.daemon import Daemon
    from trapd.errors import StorageBusyError

    daemon = start_daemon(make_config(tmp_path), mock_factory)
    try:
        with pytest.raises(StorageBusyError, match="in use by another trapd"):
            Daemon(make_config(tmp_path, pir={"pin": 5}), pin_factory=MockFactory()).start()
    finally:
        daemon.stop()


def test_replay_camera_on_all_shared_photos_never_crashes(tmp_path: Path, mock_factory: MockFactory,
                                                         camera_trap_images: Path) -> None:
    count = len(ReplayCamera(camera_trap_images, (80, 60)).files)
    config = make_config(tmp_path, camera={"type": "replay", "images_dir": str(camera_trap_images),
                                           "lores_size": [80, 60]},
                         burst={"frames": count, "interval_s": 0.0}, event={"max_frames": 1000})
    record, stored, _ = run_one_event(config, mock_factory, detector=ScriptedDetector())
    assert len(record.frames) == count
    undecodable = [f.camera.source_name for f in record.frames if "undecodable" in f.flags]
    assert undecodable == ["sn_african_elephants_truncated_file.jpg"]
    # No detections at all: only the undecodable frame is kept (flagged), nothing else.
    assert len(stored.files) == 1


# --- failures the pipeline must survive, or at least end cleanly on -------------------------------


def test_a_dead_worker_stops_the_daemon_with_exit_70_instead_of_hanging(
    tmp_path: Path, mock_factory: MockFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trapd.storage.writer import EventWriter

    def bug(self: EventWriter, record: object) -> None:
        raise KeyError("a bug, not an expected error")

    monkeypatch.setattr(EventWriter, "write", bug)
    daemon = start_daemon(make_config(tmp_path), mock_factory)
    pulse(mock_factory)
    assert daemon.stop_requested.wait(10), "a failed worker must ask the daemon to stop"
    daemon.stop()
    assert daemon.exit_code() == 70
    assert daemon.status.snapshot()["state"] == "failed"
    assert not any(t.is_alive() for t in daemon.pipeline._threads)


def test_a_failure_elsewhere_still_drains_every_captured_event_to_disk(
    tmp_path: Path, mock_factory: MockFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dying pre-trigger filler (or any worker) while storage is slow: what was captured is still stored."""
    import time

    from trapd.frames import Trigger
    from trapd.stages import messages
    from trapd.storage.writer import EventWriter
    from trapd.timebase import Instant

    real_write = EventWriter.write

    def slow_card(self: EventWriter, record: DecidedEvent) -> StoredEvent:
        time.sleep(0.4)
        return real_write(self, record)

    monkeypatch.setattr(EventWriter, "write", slow_card)
    monkeypatch.setattr(messages, "BACKPRESSURE_CHECK_S", 0.05)  # blocked puts look up often
    sink = EventSink()
    config = make_config(tmp_path, event={"gap_s": 0.0, "max_per_minute": 0}, burst={"frames": 1},
                         pipeline={"max_events_in_flight": 1})
    daemon = start_daemon(config, mock_factory, on_event_stored=sink)
    for _ in range(4):
        daemon.pipeline.submit(Trigger(Instant.now(), "manual"))
        assert daemon.pipeline.wait_until_quiet(5)
    daemon.pipeline._fail(RuntimeError("a bug in another pipeline thread"))
    daemon.stop()
    assert len(sink.events) == 4
    assert not any(t.is_alive() for t in daemon.pipeline._threads)


def test_a_cold_camera_that_will_not_start_is_counted_and_the_trap_stays_armed(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    class DeadCamera(RecordingCamera):
        def start(self) -> None:
            raise DeviceError("camera did not start: ENODEV")

        def capture(self) -> CameraFrame:
            raise DeviceError("no camera")

    sink = EventSink()
    daemon = start_daemon(make_config(tmp_path, camera={"type": "synthetic", "mode": "cold"}), mock_factory,
                          camera=DeadCamera(synthetic()), on_event_stored=sink)
    try:
        pulse(mock_factory)
        [(record, stored)] = sink.wait_for(1)
        assert daemon.status.state == "armed"
    finally:
        daemon.stop()
    assert not record.frames and record.decision is not None
    assert record.decision.reason == "no frames captured (camera errors)"
    assert json.loads((stored.directory / SIDECAR_NAME).read_text())["triggers"], "the trigger itself is recorded"
    assert daemon.status.counts()["camera_errors"] == 4  # the start, and each of 3 captures


def test_waiting_for_quiet_can_be_cancelled(tmp_path: Path, mock_factory: MockFactory) -> None:
    daemon = start_daemon(make_config(tmp_path, event={"gap_s": 60.0}), mock_factory)
    try:
        pulse(mock_factory)
        threading.Timer(0.2, daemon.request_stop).start()
        assert daemon.pipeline.wait_until_quiet(10) is False  # woken by the request, not the 60 s gap
    finally:
        daemon.stop()


def test_discarded_frames_drawn_for_audit_are_kept_apart(tmp_path: Path, mock_factory: MockFactory) -> None:
    config = make_config(tmp_path, decision={"audit_fraction": 1.0})
    record, stored, daemon = run_one_event(config, mock_factory, detector=ScriptedDetector())
    assert not any(d.keep for d in record.decisions) and all(d.audit for d in record.decisions)
    assert [p.name for p in stored.directory.iterdir()] == [SIDECAR_NAME], "the event folder holds only kept frames"
    audit = tmp_path / "test-site" / "audit" / stored.directory.parent.name / record.event_id
    assert sorted(stored.files) == sorted(audit.iterdir())
    sidecar = json.loads((stored.directory / SIDECAR_NAME).read_text())
    for frame in sidecar["frames"]:
        assert frame["audit"] is True and frame["keep"] is False
        assert (stored.directory / frame["file"]).resolve().parent == audit.resolve()
    assert daemon.status.counts()["frames_audited"] == 3


def test_backpressure_is_reported_once_not_per_frame(tmp_path: Path, mock_factory: MockFactory,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    detector = GatedDetector()
    camera = RecordingCamera(synthetic())
    sink = EventSink()
    config = make_config(tmp_path, burst={"frames": 12},
                         pipeline={"max_frames_in_flight": 4, "max_frames_awaiting_detection": 4})
    daemon = start_daemon(config, mock_factory, camera=camera, detector=detector, on_event_stored=sink)
    try:
        pulse(mock_factory)
        assert detector.entered.wait(5)
        threading.Timer(0.5, detector.release.set).start()  # capture backs up against the full queue first
        [(record, _)] = sink.wait_for(1)
    finally:
        detector.release.set()
        daemon.stop()
    assert len(record.frames) == 12, "backpressure delays capture; it loses nothing"
    waits = [r for r in caplog.records if "capture is waiting" in r.getMessage()]
    assert 1 <= len(waits) <= 2  # once per episode (it may refill after draining); never once per frame
    assert any("capture waited for storage" in w for w in daemon.status.snapshot()["warnings"])


def test_a_timelapse_capture_is_one_burst_and_not_counted_as_a_trigger(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    from trapd.frames import Trigger
    from trapd.timebase import Instant

    sink = EventSink()
    daemon = start_daemon(make_config(tmp_path, event={"gap_s": 30.0}), mock_factory, on_event_stored=sink)
    try:
        daemon.pipeline.submit(Trigger(Instant.now(), "timelapse"))
        [(record, _)] = sink.wait_for(1, timeout_s=5)  # not after the 30 s gap: it closes at once
    finally:
        daemon.stop()
    assert record.capture_method == "timeLapse" and record.end_reason == "quiet"
    counts = daemon.status.counts()
    assert counts["timelapse_captures"] == 1 and counts["triggers"] == 0


def test_a_pir_stuck_high_is_held_to_the_storm_limit(tmp_path: Path, mock_factory: MockFactory) -> None:
    sink = EventSink()
    config = make_config(tmp_path, burst={"frames": 3, "interval_s": 0.0},
                         event={"gap_s": 0.0, "max_frames": 3, "max_per_minute": 2})
    daemon = start_daemon(config, mock_factory, on_event_stored=sink)
    try:
        mock_factory.pin(17).drive_high()  # and it never comes down
        sink.wait_for(2)
        assert daemon.pipeline.wait_until_quiet(5)
    finally:
        daemon.stop()
    counts = daemon.status.counts()
    assert counts["events"] == 2
    assert counts["triggers_rate_limited"] >= 1


def test_a_pretrigger_filler_that_dies_of_a_bug_stops_the_trap_loudly(tmp_path: Path,
                                                                      mock_factory: MockFactory) -> None:
    class BuggyCamera(RecordingCamera):
        def capture(self) -> CameraFrame:
            raise ZeroDivisionError("a bug, not a DeviceError")

    config = make_config(tmp_path, camera={"type": "synthetic", "pretrigger_frames": 2, "pretrigger_interval_s": 0.01})
    daemon = start_daemon(config, mock_factory, camera=BuggyCamera(synthetic()))
    assert daemon.stop_requested.wait(5), "the daemon must hear of it, not lose its pre-trigger frames silently"
    daemon.stop()
    assert daemon.exit_code() == 70


@pytest.mark.parametrize("source", ["timelapse", "manual"])
def test_a_time_lapse_or_manual_capture_of_an_empty_scene_is_stored_and_says_what_the_filter_thought(
        tmp_path: Path, mock_factory: MockFactory, source: str) -> None:
    """Aiming the camera by hand, or a time-lapse every 10 s of an empty scene, must leave pictures, not
    `3 frames, 0 kept`; and each still records the detections and what the filter would have done."""
    from tests.doubles import ScriptedDetector
    from trapd.frames import Trigger
    from trapd.timebase import Instant

    sink = EventSink()
    config = make_config(tmp_path, decision={"audit_fraction": 0})
    daemon = start_daemon(config, mock_factory, on_event_stored=sink, detector=ScriptedDetector())
    try:
        daemon.pipeline.submit(Trigger(Instant.now(), source))  # type: ignore[arg-type]
        [(record, stored)] = sink.wait_for(1, timeout_s=10)
        pulse(mock_factory)  # a PIR trigger on the same empty scene: filtered as ever
        [_, (pir_record, _)] = sink.wait_for(2, timeout_s=10)
    finally:
        daemon.stop()
    assert record.decision.keep and len(stored.files) == len(record.frames) == 3
    assert all(d.keep and "the filter would discard it: no detections" in d.reason for d in record.decisions)
    assert all("filter_discards" in d.flags for d in record.decisions)
    assert not pir_record.decision.keep


def test_the_kernel_knows_each_stage_thread_by_name(tmp_path: Path, mock_factory: MockFactory) -> None:
    """`top -H` and tools/energy.py tell the stages apart by the names the kernel holds; the spool runs niced."""
    daemon = start_daemon(make_config(tmp_path), mock_factory)
    try:
        tasks = list(Path("/proc/self/task").iterdir())
        names = {(task / "comm").read_text().strip(): task for task in tasks}
        nice = {name: int((task / "stat").read_text().rsplit(")", 1)[1].split()[16]) for name, task in names.items()}
    finally:
        daemon.stop()
    assert {"trapd-capture", "trapd-spool", "trapd-detect", "trapd-store", "trapd-control"} <= set(names)
    # The encoder yields its core to capture; nothing else is ranked down (it would hold the GIL while waiting).
    assert nice["trapd-spool"] == 10 and nice["trapd-capture"] == nice["trapd-detect"] == nice["trapd-store"] == 0
