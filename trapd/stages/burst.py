"""One burst: the frames a trigger buys, each handed on to detection the moment it is captured.

First any pre-trigger frames the warm camera held from before the edge, then ``burst.frames``
shots ``burst.interval_s`` apart, with the IR illuminator on around them when the scene is dark.
Whether it is dark is decided once per event, before its first burst: a reading taken between two
bursts could see a scene still lit by the IR, or an exposure still adapted to it. After the IR
goes on, the burst waits (``camera.settle_timeout_s`` at most) for the exposure to settle.

A failed capture is counted and the burst goes on; ``camera.max_failures_in_a_row`` failures stop
the trap (exit 69), so systemd restarts it: a camera that gives nothing is a trap that sees nothing.
Runs on the capture stage's thread, which owns everything here.
"""

from __future__ import annotations

import logging
import threading
import time

from trapd.config.model import TrapdConfig
from trapd.errors import DeviceError
from trapd.event import OpenEvent, recorded_triggers
from trapd.frames import CameraFrame, Frame, Trigger
from trapd.hardware.camera import Camera
from trapd.hardware.outputs import Illuminator
from trapd.hardware.pretrigger import PretriggerBuffer
from trapd.schedule import Schedule
from trapd.stages.messages import FrameMessage, FrameSlots, Link
from trapd.status import Status
from trapd.timebase import iso_utc

log = logging.getLogger(__name__)


class Burster:
    def __init__(self, config: TrapdConfig, camera: Camera, camera_lock: threading.Lock, status: Status,
                 frames: Link[FrameMessage], stopping: threading.Event, *, slots: FrameSlots,
                 illuminator: Illuminator | None = None,
                 pretrigger: PretriggerBuffer | None = None, schedule: Schedule | None = None) -> None:
        self._burst = config.burst
        self._max_frames = config.event.max_frames
        self._camera = camera
        self._camera_lock = camera_lock
        self._status = status
        self._frames = frames
        self._slots = slots
        self._stopping = stopping
        self._illuminator = illuminator
        self._pretrigger = pretrigger
        self._schedule = schedule
        self._backpressure = False
        self._settle_timeout_s = config.camera.settle_timeout_s
        self._max_failures = config.camera.max_failures_in_a_row
        #: The event the light was last judged for, and whether it needed the IR.
        self._lit_for: tuple[str, bool] | None = None

    def take(self, event: OpenEvent, trigger: Trigger, burst: int, index: int, *,
             camera_just_started: bool = False) -> int:
        """Capture one burst (plus any pre-trigger frames); returns the event's next frame index.

        The burst waits for the exposure to settle after the IR goes on, or after a cold start: once, after
        both, as an exposure settled in the dark is undone by the IR."""
        event_id = event.event_id
        if self._pretrigger is not None:
            index = self._hand_on_held(self._pretrigger, event, trigger, burst, index)
        illuminator = self._illuminator
        lit = illuminator is not None and self._needs_light(event_id, illuminator)
        if illuminator is not None and lit:
            illuminator.on()
        if lit or camera_just_started:
            self._settle(event_id, "the IR went on" if lit else "the camera started")
        try:
            started = time.monotonic()
            for shot in range(self._burst.frames):
                if index >= self._max_frames:
                    break
                due = started + shot * self._burst.interval_s
                if shot and self._stopping.wait(max(0.0, due - time.monotonic())):
                    break  # stopping: keep what was captured, take no more
                index = self._shoot(event, trigger, burst, index)
        finally:
            if illuminator is not None and lit:
                illuminator.off()
            if self._pretrigger is not None:
                self._pretrigger.resume()
        return index

    def _hand_on_held(self, pretrigger: PretriggerBuffer, event: OpenEvent, trigger: Trigger, burst: int,
                      index: int) -> int:
        """The warm camera's held frames, those from before the edge flagged so; the event's next frame index."""
        for held in pretrigger.pause_and_drain():
            self._take_slot()
            before_the_edge = held.exposure_start_ns < trigger.at.monotonic_ns
            index = self._hand_on(held, event, trigger, burst, index, pretrigger=before_the_edge)
        return index

    def _shoot(self, event: OpenEvent, trigger: Trigger, burst: int, index: int) -> int:
        """One frame from the camera, handed on; the event's next frame index. A frame of its own function:
        its pixels are not held here while the next shot waits."""
        self._take_slot()
        try:
            with self._camera_lock:
                captured = self._camera.capture()
        except DeviceError as exc:
            self._slots.give_back()
            self._camera_failed(event.event_id, index, exc)
            return index
        except BaseException:
            self._slots.give_back()  # a bug: the stage ends, and the spool still drains what it holds
            raise
        self._status.note_capture(ok=True)
        return self._hand_on(captured, event, trigger, burst, index, pretrigger=False)

    def _hand_on(self, captured: CameraFrame, event: OpenEvent, trigger: Trigger, burst: int, index: int, *,
                 pretrigger: bool) -> int:
        self._status.count("frames_captured")
        if captured.metadata_error is not None:
            self._status.count("metadata_errors")
        event_id = event.event_id
        frame = Frame(
            event_id=event_id,
            index=index,
            burst=burst,
            trigger=trigger,
            captured=trigger.at.at_monotonic(captured.exposure_start_ns),
            camera=captured,
            pretrigger=pretrigger,
            handed_ns=time.monotonic_ns(),
            event_triggers=recorded_triggers(event),
        )
        self._frames.put(frame)
        # What tools/power_cut.py counts as captured, from the daemon's own word.
        log.debug("captured: event %s frame %d at %s", event_id, index, iso_utc(frame.captured.utc))
        return index + 1

    def _take_slot(self) -> None:
        """A slot for the next full-resolution frame (see FrameSlots). Said once when capture starts waiting
        for the card, and once when it stops: not per frame."""
        waited = self._slots.take()
        if waited and not self._backpressure:
            self._backpressure = True
            self._status.warn("capture waited for storage (pipeline.max_frames_in_flight reached)")
            log.warning("capture is waiting: %d frames in flight (pipeline.max_frames_in_flight); "
                        "storage is not keeping up", self._slots.limit)
        elif not waited and self._backpressure and self._slots.taken <= self._slots.limit // 2:
            self._backpressure = False
            log.info("storage caught up: %d frames in flight", self._slots.taken)

    def _needs_light(self, event_id: str, illuminator: Illuminator) -> bool:
        if self._lit_for is None or self._lit_for[0] != event_id:
            self._lit_for = (event_id, illuminator.needed(self._read_scene_lux, self._sun_down))
        return self._lit_for[1]

    def _settle(self, event_id: str, after: str) -> None:
        try:
            with self._camera_lock:
                settled = self._camera.settle(self._settle_timeout_s)
        except DeviceError as exc:
            log.warning("event %s: exposure not read after %s: %s", event_id, after, exc)
            return
        if not settled:
            log.info("event %s: exposure had not settled within camera.settle_timeout_s after %s; the first frames "
                     "are flagged exposure_unsettled", event_id, after)

    def _camera_failed(self, event_id: str, index: int, exc: DeviceError) -> None:
        self._status.count("camera_errors")
        streak = self._status.note_capture(ok=False)
        log.warning("event %s: frame %d not captured: %s", event_id, index, exc)
        if streak >= self._max_failures:
            message = (f"the camera failed {streak} captures in a row (camera.max_failures_in_a_row); trapd stops "
                       "with exit 69 so that systemd restarts it and the camera. Last: " + str(exc))
            self._status.warn(message)
            raise DeviceError(message)

    def _sun_down(self) -> bool | None:
        return self._schedule.is_night() if self._schedule is not None else None

    def _read_scene_lux(self) -> float | None:
        try:
            with self._camera_lock:
                return self._camera.scene_lux()
        except DeviceError as exc:
            log.warning("cannot read scene light, treating it as dark: %s", exc)
            return None
