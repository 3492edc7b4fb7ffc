"""The capture stage: triggers in, frames out. It owns the camera, the open event and its bursts.

It blocks on the trigger link, so an armed trap sleeps. A trigger opens an event and starts a
burst at once (trapd/stages/burst.py); triggers that arrive before the event has been quiet for
``event.gap_s`` extend it with another burst, and so does a PIR still held high when the gap runs
out. Capture never waits for detection or disk: a trigger that lands while the previous burst is
still being detected or written starts its burst at once. Before each event and after each burst
it asks the free space (trapd/storage/space.py) whether it may go on, and before each event the
storm limit (trapd/stages/storm.py) whether the event is one too many.

When an event ends, however it ends, :class:`~trapd.stages.messages.EventClosed` follows its last
frame, so everything captured is decided and stored.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

from trapd.config.model import TrapdConfig
from trapd.errors import DeviceError
from trapd.event import EndReason, OpenEvent
from trapd.frames import Trigger
from trapd.hardware.camera import Camera
from trapd.hardware.outputs import StatusLed
from trapd.stages.burst import Burster
from trapd.stages.messages import EventClosed, FrameMessage, Heartbeat, Link, Stop, TriggerMessage
from trapd.stages.storm import StormLimit
from trapd.status import Status
from trapd.storage.space import FreeSpace
from trapd.timebase import Instant

log = logging.getLogger(__name__)


class CaptureStage:
    def __init__(self, config: TrapdConfig, camera: Camera, status: Status, space: FreeSpace, burster: Burster, *,
                 triggers: Link[TriggerMessage], frames: Link[FrameMessage], stopping: threading.Event,
                 settle: Callable[[int], None], status_led: StatusLed | None = None,
                 motion_still_active: Callable[[], bool] | None = None) -> None:
        """``settle(n)``: tells the pipeline that n accepted triggers' events have closed (or never will)."""
        self._event_config = config.event
        self._warm = config.camera.mode == "warm"
        self._camera = camera
        self._status = status
        self._space = space
        self._burster = burster
        self._triggers = triggers
        self._frames = frames
        self._stopping = stopping
        self._settle = settle
        self._status_led = status_led
        self._motion_still_active = motion_still_active
        self._storm = StormLimit(config.event.max_per_minute, status)

    def run(self) -> None:
        while not self._stopping.is_set():
            trigger = self._triggers.get()  # blocks: an armed trap sleeps here
            if isinstance(trigger, Heartbeat):
                self._frames.put(trigger)
                continue
            if isinstance(trigger, Stop):
                break
            if self._stopping.is_set():
                self._settle(1)
                break
            if self._storm.refuses(trigger) or not self._space.may_capture():
                self._settle(1)
                continue
            next_trigger: Trigger | None = trigger
            while next_trigger is not None:
                # An event closed at max_frames while the PIR is still high continues as a new event,
                # within the storm limit: a PIR stuck high must not capture forever.
                next_trigger = self._capture_event(next_trigger)
                if next_trigger is not None and self._storm.refuses(next_trigger):
                    break
        # Triggers still queued at shutdown will never be captured: settle them so no one waits.
        while True:
            try:
                leftover = self._triggers.get_nowait()
            except queue.Empty:
                break
            if isinstance(leftover, Trigger):
                self._settle(1)

    def _capture_event(self, first: Trigger) -> Trigger | None:
        """Capture one event; returns a trigger for a follow-on event if the PIR is still high at max_frames."""
        event = OpenEvent.opened_by(first)
        accepted = 1 if first.source != "pir-still-high" else 0
        if self._status_led is not None:
            self._status_led.show_capturing(True)
        try:
            started_now = not self._warm and self._start_cold_camera(event.event_id)
            accepted += self._bursts(event, first, started_now)
        finally:
            if not self._warm:
                with contextlib.suppress(DeviceError):
                    self._camera.stop()
            if self._status_led is not None:
                self._status_led.show_capturing(False)
            if not self._stopping.is_set() and not self._space.full:
                self._status.set_state("armed")
            # Always close the event, even on failure, so frames already captured get stored.
            self._frames.put(EventClosed(event))
            self._settle(accepted)
        if event.end_reason == "max_frames" and not self._stopping.is_set() and self._motion_held():
            return Trigger(Instant.now(), "pir-still-high")
        return None

    def _bursts(self, event: OpenEvent, first: Trigger, camera_started_now: bool) -> int:
        """Burst after burst until the event ends (its reason is set on ``event``); returns the triggers accepted."""
        accepted = 0
        frames_in_event = 0
        trigger = first
        for burst in itertools.count():
            frames_in_event = self._burster.take(event, trigger, burst, frames_in_event,
                                                 camera_just_started=burst == 0 and camera_started_now)
            if burst == 0:
                # Only now: the status file, its disk check and sd_notify must not delay the first frame.
                self._status.set_state("capturing")
            end = self._end_after_burst(frames_in_event, first)
            if end is not None:
                event.end_reason = end
                return accepted
            if first.source == "timelapse":
                return accepted  # one burst is the picture; an animal arriving now gets its own event
            queued, stop_seen = self._take_queued_triggers()
            event.triggers.extend(queued)
            accepted += len(queued)
            if stop_seen:
                event.end_reason = "shutdown"
                return accepted
            if queued:
                # Motion went on during the burst: one more burst answers all of it. Taking them
                # one burst each would build a backlog (and keep heartbeats waiting behind it).
                trigger = queued[-1]
                continue
            waited = self._wait_for_trigger(self._event_config.gap_s)
            if waited is None:
                if not self._motion_held():
                    return accepted  # quiet for gap_s: the event is over
                waited = Trigger(Instant.now(), "pir-still-high")
            elif isinstance(waited, Stop):
                event.end_reason = "shutdown"
                return accepted
            else:
                accepted += 1
            event.triggers.append(waited)
            trigger = waited
        raise AssertionError("unreachable")  # itertools.count() never ends

    def _end_after_burst(self, frames_in_event: int, first: Trigger) -> EndReason | None:
        if self._stopping.is_set():
            return "shutdown"
        if frames_in_event >= self._event_config.max_frames:
            return "max_frames"
        if not self._space.may_capture():
            return "storage_full"
        return None

    def _take_queued_triggers(self) -> tuple[list[Trigger], bool]:
        """Every trigger already waiting (heartbeats passed on), and whether a stop was among them."""
        taken: list[Trigger] = []
        while True:
            try:
                item = self._triggers.get_nowait()
            except queue.Empty:
                return taken, False
            if isinstance(item, Stop):
                return taken, True
            if isinstance(item, Heartbeat):
                self._frames.put(item)
            else:
                taken.append(item)

    def _wait_for_trigger(self, gap_s: float) -> Trigger | Stop | None:
        """The next trigger within ``gap_s``, passing heartbeats on; None when the gap passes quietly."""
        deadline = time.monotonic() + gap_s
        while True:
            try:
                item = self._triggers.get(timeout_s=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if not isinstance(item, Heartbeat):
                return item
            self._frames.put(item)

    def _motion_held(self) -> bool:
        return self._motion_still_active is not None and self._motion_still_active()

    def _start_cold_camera(self, event_id: str) -> bool:
        """True if the camera started. Not settled here: the first burst waits for the exposure once it knows
        whether the IR goes on."""
        try:
            self._camera.start()
        except DeviceError as exc:
            # The burst's captures will fail and be counted too; the event (its triggers) is still recorded.
            self._status.count("camera_errors")
            log.warning("event %s: camera did not start: %s", event_id, exc)
            return False
        return True
