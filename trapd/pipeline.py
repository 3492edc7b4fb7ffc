"""A frame's way from the PIR edge to the disk: trigger → burst → spool → detect → decide → store.

Four stages, each on its own thread, joined by bounded links (trapd/stages/messages.py)::

    PIR ─submit()─▶ [triggers] ▶ capture ▶ [captured] ▶ spool ▶ [spooled] ▶ detect+decide ▶ [events] ▶ store
                                 (bursts)   full-res     (JPEG on  low-res    (per frame; per    decided   (rename kept,
                                            frames        disk)    frames      event at its end)  events    unlink rest,
                                                                                                            sidecar)

1. ``submit()`` runs on the GPIO backend's thread: it counts the trigger, applies the schedule
   and queues it, never blocking.
2. **capture** (trapd/stages/capture.py, bursts in trapd/stages/burst.py) owns the camera and the
   open event; it asks the free space (trapd/storage/space.py) before each event and burst.
3. **spool** (trapd/stages/spool.py) writes each frame's JPEG the moment it is captured, into
   ``.trapd/spool/``, and lets its full-resolution pixels go: from here on a power cut loses
   nothing (trapd/storage/recover.py finishes the event at the next start).
4. **detect** (trapd/stages/detect.py) scores each frame and, when its event closes, decides it
   (trapd/event.py, trapd/decide.py).
5. **store** (trapd/stages/store.py) finishes the decided event (trapd/storage/writer.py): kept
   frames are renamed into the event folder, discarded ones unlinked, the sidecar written; then it
   makes room on a full card.

Memory is bounded by configuration, never by how long an animal stays: ``pipeline.max_frames_in_flight``
full-resolution frames between capture and spool, ``pipeline.max_frames_awaiting_detection``
low-resolution ones before the detector, and per open event only its frames' records.

This module only wires them: the links, the threads, start and stop, and the count of accepted
triggers whose event has not closed yet (:meth:`Pipeline.wait_until_quiet`). Each stage passes a
stop downstream when it ends, however it ends, so a failure anywhere still drains what was
captured and lets the daemon exit (non-zero) for systemd to restart it. The same code runs on a
Pi, a laptop and in tests.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from trapd.config.model import TrapdConfig
from trapd.detect.base import Detector
from trapd.errors import DeviceError, TrapdError
from trapd.frames import Trigger
from trapd.hardware.camera import Camera
from trapd.hardware.outputs import Illuminator, StatusLed
from trapd.hardware.pretrigger import PretriggerBuffer
from trapd.schedule import Schedule
from trapd.site.filter import site_filter_for
from trapd.stages.burst import Burster
from trapd.stages.capture import CaptureStage
from trapd.stages.detect import DetectStage
from trapd.stages.messages import (
    MAKE_ROOM,
    STOP,
    EventMessage,
    FrameMessage,
    FrameSlots,
    Heartbeat,
    Link,
    TriggerMessage,
)
from trapd.stages.spool import SpoolStage
from trapd.stages.store import EventStoredHook, StoreStage
from trapd.status import Status
from trapd.storage.framefile import FrameEncoder
from trapd.storage.space import FRAME_BYTES_GUESS, FreeSpace
from trapd.storage.writer import EventWriter
from trapd.threads import NamedThread

log = logging.getLogger(__name__)

#: Triggers are tiny; a PIR storm of 50 edges/s fills this in seconds, and the excess is counted.
TRIGGER_QUEUE_SIZE = 256


class Pipeline:
    def __init__(
        self,
        config: TrapdConfig,
        camera: Camera,
        detector: Detector,
        writer: EventWriter,
        status: Status,
        *,
        illuminator: Illuminator | None = None,
        status_led: StatusLed | None = None,
        motion_still_active: Callable[[], bool] | None = None,
        schedule: Schedule | None = None,
        on_event_stored: EventStoredHook | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        on_full: Callable[[bool], None] | None = None,
    ) -> None:
        self._camera = camera
        self._status = status
        self._schedule = schedule
        self._on_failure = on_failure
        self._warm = config.camera.mode == "warm"
        self._triggers: Link[TriggerMessage] = Link(TRIGGER_QUEUE_SIZE, "triggers")
        self._captured: Link[FrameMessage] = Link(config.pipeline.max_frames_in_flight, "captured frames")
        self._frame_slots = FrameSlots(config.pipeline.max_frames_in_flight, returned_by=self._captured)
        self._spooled: Link[FrameMessage] = Link(config.pipeline.max_frames_awaiting_detection, "spooled frames")
        self._events: Link[EventMessage] = Link(config.pipeline.max_events_in_flight, "events")
        self._stopping = threading.Event()
        # Triggers accepted but whose event has not yet closed; see wait_until_quiet().
        self._settled = threading.Condition()
        self._unsettled_triggers = 0
        self._waits_cancelled = False
        #: Why the pipeline failed (a bug in one of its threads), or None.
        self.failure: BaseException | None = None

        camera_lock = threading.Lock()
        self._pretrigger = (
            PretriggerBuffer(camera, camera_lock, config.camera.pretrigger_frames,
                             config.camera.pretrigger_interval_s, on_failure=self._fail)
            if self._warm and config.camera.pretrigger_frames
            else None
        )
        self.space = FreeSpace(writer.root, config.storage, status, writer.catalog, request_room=self._request_room,
                               burst_frames=config.burst.frames, frame_bytes_guess=frame_bytes_guess(config),
                               on_full=on_full)
        burster = Burster(config, camera, camera_lock, status, self._captured, self._stopping, slots=self._frame_slots,
                          illuminator=illuminator, pretrigger=self._pretrigger, schedule=schedule)
        capture = CaptureStage(config, camera, status, self.space, burster, triggers=self._triggers,
                               frames=self._captured, stopping=self._stopping, settle=self._settle,
                               status_led=status_led, motion_still_active=motion_still_active)
        self._threads = self._stage_threads(config, capture, detector, writer, on_event_stored)

    def _stage_threads(self, config: TrapdConfig, capture: CaptureStage, detector: Detector, writer: EventWriter,
                       on_event_stored: EventStoredHook | None) -> list[threading.Thread]:
        """One thread per stage, in the order a frame meets them, each told which link it passes a stop to."""
        status = self._status
        stages: list[tuple[str, Callable[[], None], Link[Any] | None]] = [
            ("trapd-capture", capture.run, self._captured),
            ("trapd-spool",
             SpoolStage(FrameEncoder(config), writer.root, status, self.space, captured=self._captured,
                        spooled=self._spooled, slots=self._frame_slots).run,
             self._spooled),
            ("trapd-detect",
             DetectStage(detector, config.decision, status, frames=self._spooled, events=self._events,
                         site=site_filter_for(config, writer.root, warn=status.warn)).run,
             self._events),
            ("trapd-store",
             StoreStage(writer, self.space, status, events=self._events, on_event_stored=on_event_stored).run,
             None),
        ]
        threads: list[threading.Thread] = [
            NamedThread(target=self._run_stage, args=(run, downstream), name=name, daemon=True)
            for name, run, downstream in stages]
        # Who reads each link: a put gives up only once its reader is gone, never while it can drain.
        self._captured.reader, self._spooled.reader, self._events.reader = threads[1:]
        return threads

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._warm:
            self._camera.start()
        if self._pretrigger is not None:
            self._pretrigger.start()
        self.space.check_at_start()
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Finish the open event, detect, decide and store everything captured, then return."""
        self._stopping.set()
        self.cancel_waits()
        # If the link is full the capture stage is busy with queued triggers and checks _stopping after each.
        self._triggers.offer(STOP)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
        unfinished = [thread.name for thread in self._threads if thread.is_alive()]
        if unfinished:
            message = f"pipeline did not finish within {timeout_s:.0f} s: {', '.join(unfinished)} still running"
            log.error("%s; frames still in memory are lost", message)
            self.failure = self.failure or TimeoutError(message)
        if self._pretrigger is not None:
            self._pretrigger.close()
        with contextlib.suppress(DeviceError):
            self._camera.stop()  # a camera that fails to stop is being released anyway

    def wait_until_quiet(self, timeout_s: float | None = None) -> bool:
        """Block until every accepted trigger's event has closed (its frames may still be in flight).

        Returns False on timeout, or early when :meth:`cancel_waits` is called.
        """
        with self._settled:
            return self._settled.wait_for(
                lambda: self._unsettled_triggers == 0 or self._waits_cancelled, timeout_s
            ) and self._unsettled_triggers == 0

    def heartbeat(self, on_arrival: Callable[[], None], timeout_s: float) -> bool:
        """Send a heartbeat through every stage; ``on_arrival`` runs on the store stage.

        It waits behind whatever is queued, as a trigger would, so a stuck stage anywhere stops
        heartbeats from arriving. False if it could not even be queued within ``timeout_s``.
        """
        if self._stopping.is_set():
            return False
        return self._triggers.offer(Heartbeat(on_arrival), timeout_s)

    def cancel_waits(self) -> None:
        """Wake :meth:`wait_until_quiet` callers now (a signal arrived, the pipeline is stopping)."""
        with self._settled:
            self._waits_cancelled = True
            self._settled.notify_all()

    def _request_room(self) -> None:
        self._events.offer(MAKE_ROOM)  # a busy store stage makes room after its event anyway

    def _settle(self, triggers: int) -> None:
        with self._settled:
            self._unsettled_triggers -= triggers
            self._settled.notify_all()

    # --- 1. trigger: called on the GPIO backend's thread; must not block --------------------------

    def submit(self, trigger: Trigger) -> None:
        if trigger.source == "timelapse":
            self._status.count("timelapse_captures")  # not a trigger: it must not hide a silent PIR
        else:
            self._status.note_trigger(trigger.at)
        if self._stopping.is_set():
            return
        if self._schedule is not None and not self._schedule.takes(trigger):
            self._status.count("triggers_outside_schedule")
            return
        with self._settled:
            self._unsettled_triggers += 1
        if not self._triggers.offer(trigger):
            self._settle(1)
            self._status.count("triggers_dropped")

    # --- plumbing --------------------------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        """A thread of the pipeline died: say so, and stop the daemon for systemd to restart. A device that gave
        up (a camera failing every capture) is said in its own sentence, exit 69; anything else is a bug, with
        its traceback, exit 70."""
        self.failure = exc
        self._stopping.set()
        self.cancel_waits()
        if isinstance(exc, TrapdError):
            log.critical("%s", exc)
        else:
            log.critical("pipeline thread %s failed; trapd is stopping", threading.current_thread().name,
                         exc_info=exc)
        if self._on_failure is not None:
            self._on_failure(exc)

    def _run_stage(self, run: Callable[[], None], downstream: Link[Any] | None) -> None:
        """Run a stage; however it ends, tell the next stage to finish too."""
        try:
            run()
        except BaseException as exc:
            self._fail(exc)
        finally:
            if downstream is not None:
                downstream.put(STOP)


def frame_bytes_guess(config: TrapdConfig) -> int:
    """A frame's JPEG before the first is written: 3 bits a pixel of the camera's main stream, where it is known."""
    size = getattr(config.camera, "main_size", None)
    return size[0] * size[1] * 3 // 8 if size is not None else FRAME_BYTES_GUESS
