"""Each stage alone, with fakes: no daemon, no PIR, only the stage's inbox and outbox.

The whole trap (tests/test_pipeline.py) is tested with the daemon; what one stage decides on its
own is tested here, where a failure points at one file.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config
from tests.doubles import FailingDetector, RecordingCamera, ScriptedDetector, set_at
from trapd.detect.base import Detection
from trapd.errors import DeviceError
from trapd.event import DecidedEvent, OpenEvent
from trapd.frames import Frame, Trigger
from trapd.hardware.outputs import Illuminator, StatusLed
from trapd.hardware.synthetic import SyntheticCamera
from trapd.stages import messages
from trapd.stages import store as store_stage
from trapd.stages.burst import Burster
from trapd.stages.capture import CaptureStage
from trapd.stages.detect import DetectStage
from trapd.stages.messages import STOP, EventClosed, EventMessage, FrameMessage, FrameSlots, Link, TriggerMessage
from trapd.stages.store import StoreStage
from trapd.status import Status
from trapd.storage.space import FreeSpace
from trapd.storage.writer import EventWriter, StoredEvent
from trapd.timebase import Instant


def synthetic() -> SyntheticCamera:
    return SyntheticCamera((160, 120), (80, 60))


class CaptureRig:
    """The capture stage on a thread of its own: triggers go in, frames and closed events come out."""

    def __init__(self, tmp_path: Path, fake: RecordingCamera, *, motion: threading.Event | None = None,
                 illuminator: Illuminator | None = None, status_led: StatusLed | None = None,
                 **sections: dict[str, Any]) -> None:
        self.config = make_config(tmp_path, **sections)
        self.status = Status()
        self.triggers: Link[TriggerMessage] = Link(256, "triggers")
        self.frames: Link[FrameMessage] = Link(1000, "frames")
        self.stopping = threading.Event()
        self.settled = 0
        self._settling = threading.Condition()
        space = FreeSpace(tmp_path, self.config.storage, self.status, None)
        burster = Burster(self.config, fake, threading.Lock(), self.status, self.frames, self.stopping,
                          slots=FrameSlots(1000, returned_by=self.frames), illuminator=illuminator)
        stage = CaptureStage(self.config, fake, self.status, space, burster, triggers=self.triggers,
                             frames=self.frames, stopping=self.stopping, settle=self._settle, status_led=status_led,
                             motion_still_active=motion.is_set if motion is not None else None)
        self._thread = threading.Thread(target=stage.run, name="capture-under-test", daemon=True)
        self._thread.start()

    def _settle(self, n: int) -> None:
        with self._settling:
            self.settled += n
            self._settling.notify_all()

    def fire(self, source: str = "pir") -> None:
        self.triggers.put(Trigger(Instant.now(), source))  # type: ignore[arg-type]

    def fire_and_settle(self) -> None:
        """Fire, and wait until the trigger's event has closed (or the trigger was refused)."""
        with self._settling:
            before = self.settled
            self.fire()
            assert self._settling.wait_for(lambda: self.settled > before, 10)

    def next_event(self, timeout_s: float = 10.0) -> tuple[OpenEvent, list[Frame]]:
        """The frames of the next event to close, and the event."""
        frames: list[Frame] = []
        while True:
            item = self.frames.get(timeout_s)
            if isinstance(item, EventClosed):
                return item.event, frames
            assert isinstance(item, Frame)
            frames.append(item)

    def stop(self) -> None:
        self.stopping.set()
        self.triggers.put(STOP)
        self._thread.join(10)


@pytest.fixture
def rigs() -> Any:
    made: list[CaptureRig] = []
    yield made
    for rig in made:
        rig.stop()


def test_capture_camera_errors_are_counted_and_the_burst_goes_on(tmp_path: Path, rigs: list[CaptureRig]) -> None:
    camera = RecordingCamera(synthetic(), fail_every=2)
    rigs.append(rig := CaptureRig(tmp_path, camera, burst={"frames": 4}))
    rig.fire()
    _, frames = rig.next_event()
    assert len(camera.capture_times_ns) == 4 and len(frames) == 2
    assert rig.status.counts()["camera_errors"] == 2


def test_capture_triggers_queued_during_a_burst_earn_one_more_burst_not_one_each(
    tmp_path: Path, rigs: list[CaptureRig]
) -> None:
    first_frame = threading.Event()
    camera = RecordingCamera(synthetic(), on_capture=set_at(1, first_frame))
    rigs.append(rig := CaptureRig(tmp_path, camera, burst={"frames": 3, "interval_s": 0.05}, event={"gap_s": 0.1}))
    rig.fire()
    assert first_frame.wait(5)
    for _ in range(20):  # a PIR chattering through the burst
        rig.fire()
    event, frames = rig.next_event()
    assert len(event.triggers) == 21, "every trigger is recorded with its event"
    assert sorted({f.burst for f in frames}) == [0, 1], "but they bought one more burst, not twenty"


def test_capture_a_wind_storm_is_rate_limited_and_counted(tmp_path: Path, rigs: list[CaptureRig]) -> None:
    rigs.append(rig := CaptureRig(tmp_path, RecordingCamera(synthetic()), burst={"frames": 1},
                                  event={"gap_s": 0.0, "max_per_minute": 3}))
    for _ in range(10):
        rig.fire_and_settle()
    events = [rig.next_event() for _ in range(3)]
    assert len(events) == 3 and rig.frames.qsize() == 0, "three events, and not one more"
    assert rig.status.counts()["triggers_rate_limited"] == 7
    assert rig.settled == 10, "every trigger is settled, captured or refused"


def test_capture_a_timelapse_is_one_burst_and_closes_at_once(tmp_path: Path, rigs: list[CaptureRig]) -> None:
    rigs.append(rig := CaptureRig(tmp_path, RecordingCamera(synthetic()), event={"gap_s": 30.0}))
    rig.fire("timelapse")
    event, frames = rig.next_event(timeout_s=5)  # not after the 30 s gap
    assert [t.source for t in event.triggers] == ["timelapse"] and event.end_reason == "quiet"
    assert len(frames) == 3


def test_capture_a_pir_held_high_keeps_the_event_going(tmp_path: Path, rigs: list[CaptureRig]) -> None:
    held = threading.Event()
    second_burst = threading.Event()
    camera = RecordingCamera(synthetic(), on_capture=set_at(6, second_burst))
    rigs.append(rig := CaptureRig(tmp_path, camera, motion=held, event={"gap_s": 0.05}))
    held.set()  # the animal stays: no further edges come
    rig.fire()
    assert second_burst.wait(5), "a PIR still high after the gap must extend the event"
    held.clear()
    event, _ = rig.next_event()
    assert event.triggers[0].source == "pir"
    assert {t.source for t in event.triggers[1:]} == {"pir-still-high"}


def test_capture_cold_mode_starts_and_stops_the_camera_per_event(tmp_path: Path, rigs: list[CaptureRig]) -> None:
    camera = RecordingCamera(synthetic())
    rigs.append(rig := CaptureRig(tmp_path, camera, camera={"type": "synthetic", "mode": "cold"}))
    assert camera.calls == []
    rig.fire()
    rig.next_event()
    assert camera.calls == ["start", "settle", "stop"]


@pytest.mark.parametrize(("lux", "lit_during_capture"), [(0.5, True), (500.0, False)])
def test_burst_lights_the_illuminator_only_around_night_captures(tmp_path: Path, mock_factory: MockFactory,
                                                                 rigs: list[CaptureRig], lux: float,
                                                                 lit_during_capture: bool) -> None:
    ir_pin, led_pin = mock_factory.pin(22), mock_factory.pin(27)
    seen: list[tuple[bool, bool]] = []
    camera = RecordingCamera(synthetic(), on_capture=lambda n: seen.append((ir_pin.state, led_pin.state)))
    camera.lux = lux
    config = make_config(tmp_path, illuminator={"pin": 22}, status_led={"pin": 27})
    with (Illuminator(config.illuminator, pin_factory=mock_factory) as illuminator,
          StatusLed(config.status_led, pin_factory=mock_factory) as led):
        rigs.append(rig := CaptureRig(tmp_path, camera, illuminator=illuminator, status_led=led))
        assert (ir_pin.state, led_pin.state) == (False, False)
        rig.fire()
        rig.next_event()
        assert (ir_pin.state, led_pin.state) == (False, False), "IR and LED off after the burst"
    assert seen == [(lit_during_capture, True)] * 3


# --- detect ------------------------------------------------------------------------------------------


def detect_event(config_root: Path, detector: Any, frame_count: int = 3) -> tuple[DecidedEvent, Status]:
    """Three synthetic frames and their EventClosed through a detect stage; the decided event it passes on."""
    config = make_config(config_root)
    status = Status()
    frames: Link[FrameMessage] = Link(64, "frames")
    events: Link[EventMessage] = Link(4, "events")
    camera = synthetic()
    trigger = Trigger(Instant.now())
    event = OpenEvent.opened_by(trigger)
    for index in range(frame_count):
        captured = camera.capture()
        frames.put(Frame(event.event_id, index, 0, trigger, trigger.at.at_monotonic(captured.exposure_start_ns),
                         captured))
    frames.put(EventClosed(event))
    frames.put(STOP)
    DetectStage(detector, config.decision, status, frames=frames, events=events).run()
    decided = events.get(0)
    assert isinstance(decided, DecidedEvent)
    return decided, status


def test_detect_an_exception_keeps_and_flags_the_frames(tmp_path: Path) -> None:
    decided, status = detect_event(tmp_path, FailingDetector())
    assert all(d.keep and d.flags == ("detector_error",) for d in decided.decisions)
    assert "interpreter exploded" in decided.decisions[0].reason
    assert status.counts()["detector_errors"] == 3


def test_detect_a_malformed_result_is_flagged_not_fatal(tmp_path: Path) -> None:
    bogus = Detection("unicorn", "x", 0.9, (0, 0, 1, 1))  # type: ignore[arg-type]
    decided, _ = detect_event(tmp_path, ScriptedDetector(default=[bogus]))
    assert all(d.flags == ("detector_error",) and "unicorn" in d.reason for d in decided.decisions)


def test_detect_a_backlog_passes_frames_on_unfiltered_rather_than_making_capture_wait(tmp_path: Path) -> None:
    """32 frames waiting on a link of 64 is a backlog: those frames skip the detector, kept and flagged."""
    detector = ScriptedDetector()
    decided, status = detect_event(tmp_path, detector, frame_count=40)
    unfiltered = [d for d in decided.decisions if "unfiltered" in d.flags]
    assert unfiltered and all(d.keep for d in unfiltered)
    assert status.counts()["frames_unfiltered_backlog"] == len(unfiltered) == 40 - len(detector.seen)


# --- store -------------------------------------------------------------------------------------------


def test_store_a_transient_write_error_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decided, _ = detect_event(tmp_path, ScriptedDetector(default=[Detection("animal", "cat", 0.9, (0, 0, 1, 1))]))
    config = make_config(tmp_path)
    writer = EventWriter(config)
    writer.prepare()
    real_write = writer.write
    attempts = itertools.count(1)

    def flaky(event: DecidedEvent) -> StoredEvent:
        if next(attempts) == 1:
            raise OSError(5, "Input/output error")
        return real_write(event)

    monkeypatch.setattr(writer, "write", flaky)
    monkeypatch.setattr(store_stage, "STORE_RETRY_DELAYS_S", (0.01, 0.01))
    status = Status()
    events: Link[EventMessage] = Link(4, "events")
    stored: list[StoredEvent] = []
    events.put(decided)
    events.put(STOP)
    StoreStage(writer, FreeSpace(tmp_path, config.storage, status, None), status, events=events,
               on_event_stored=lambda _event, done: stored.append(done)).run()
    assert next(attempts) == 3, "one failure, one success"
    assert len(stored[0].files) == 3
    assert status.counts()["storage_errors"] == 0 and status.counts()["frames_kept"] == 3


def test_store_runs_a_heartbeat_that_reaches_it(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    status = Status()
    events: Link[EventMessage] = Link(4, "events")
    arrived = threading.Event()
    events.put(messages.Heartbeat(arrived.set))
    events.put(STOP)
    StoreStage(EventWriter(config), FreeSpace(tmp_path, config.storage, status, None), status, events=events).run()
    assert arrived.is_set()


# --- links and free space ----------------------------------------------------------------------------


def test_a_link_gives_up_a_put_only_once_its_reader_has_died(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messages, "BACKPRESSURE_CHECK_S", 0.02)
    link: Link[int] = Link(1, "numbers")
    reader = threading.Thread(target=lambda: None)
    reader.start()
    reader.join()
    link.reader = reader
    link.put(1)
    link.put(2)  # full, and nothing will ever read it: dropped, not a hang
    assert link.qsize() == 1


def test_free_space_says_full_once_asks_for_room_once_and_recovers(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(tmp_path, storage={"when_full": "overwrite"})
    status = Status()
    asked: list[int] = []
    from trapd.storage.catalog import Catalog

    catalog = Catalog(tmp_path)
    try:
        space = FreeSpace(tmp_path, config.storage, status, catalog, request_room=lambda: asked.append(1))
        room = [-1.0]
        monkeypatch.setattr(space, "room_left_mb", lambda: room[0])
        assert not space.may_capture() and not space.may_capture()
        assert space.full and status.state == "full" and len(asked) == 1, "once a minute at most"
        assert status.counts()["triggers_storage_full"] == 2
        assert status.snapshot()["warnings"] == ["storage reached its reserve: capture stopped (FULL)"]
        room[0] = 10.0
        assert space.may_capture()
        assert (space.full, status.snapshot()["state"]) == (False, "armed")
    finally:
        catalog.close()


class CountingLux(RecordingCamera):
    """Counts light readings; the scene is dark."""

    def __init__(self) -> None:
        super().__init__(synthetic())
        self.lux = 1.0
        self.readings = 0

    def scene_lux(self) -> float | None:
        self.readings += 1
        self.calls.append("lux")
        return self.lux


def test_capture_light_is_judged_once_per_event_and_the_burst_waits_for_exposure_after_the_ir(
        tmp_path: Path, rigs: list[CaptureRig]) -> None:
    """A reading between two bursts of one event could see the scene still lit by the IR, or an exposure still
    adapted to it; and the IR's first frame is exposed for darkness unless the burst waits for it to settle."""
    camera = CountingLux()
    factory = MockFactory()
    illuminator = Illuminator(make_config(tmp_path, illuminator={"pin": 22}).illuminator, pin_factory=factory)
    first_burst = threading.Event()
    camera._on_capture = set_at(2, first_burst)
    rigs.append(rig := CaptureRig(tmp_path, camera, illuminator=illuminator, burst={"frames": 2, "interval_s": 0.0},
                                  event={"gap_s": 0.5}))
    rig.fire()
    assert first_burst.wait(5)
    rig.fire()  # a second burst in the same event
    _, frames = rig.next_event()
    assert len(frames) == 4
    assert camera.readings == 1, "the light of an event is read once, before its first burst"
    assert camera.calls.count("settle") == 2, "after the IR goes on, each burst waits for the exposure"
    assert camera.calls.index("lux") < camera.calls.index("settle")
    illuminator.close()


def test_a_cold_dark_event_waits_for_the_exposure_once_after_the_ir_not_also_after_the_start(
        tmp_path: Path, rigs: list[CaptureRig]) -> None:
    # Settling after the start, in the dark, was wasted: the exposure it waited for is undone when the IR goes on.
    camera = CountingLux()
    factory = MockFactory()
    illuminator = Illuminator(make_config(tmp_path, illuminator={"pin": 22}).illuminator, pin_factory=factory)
    rigs.append(rig := CaptureRig(tmp_path, camera, illuminator=illuminator,
                                  camera={"type": "synthetic", "mode": "cold"}, burst={"frames": 2, "interval_s": 0.0}))
    rig.fire()
    rig.next_event()
    assert [call for call in camera.calls if call in ("start", "lux", "settle", "stop")] == [
        "start", "lux", "settle", "stop"]
    illuminator.close()


class WontStart(RecordingCamera):
    def start(self) -> None:
        super().start()
        raise DeviceError("injected: camera did not start")


def test_a_camera_that_did_not_start_is_not_waited_for(tmp_path: Path, rigs: list[CaptureRig]) -> None:
    camera = WontStart(synthetic())
    rigs.append(rig := CaptureRig(tmp_path, camera, camera={"type": "synthetic", "mode": "cold"}))
    rig.fire()
    rig.next_event()
    assert "settle" not in camera.calls, "no exposure to wait for: the failed start is counted and logged"
    assert rig.status.counts()["camera_errors"] >= 1

