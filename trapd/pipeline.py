"""A frame's path from the PIR edge to the disk: trigger → burst → detect → decide → store.

Three worker threads joined by bounded queues::

    PIR edge ──submit()──▶ [triggers] ──▶ capture ──▶ [frames] ──▶ detect+decide ──▶ [events] ──▶ store
                                          (bursts)                (per frame; per          (JPEG+EXIF,
                                                                   event at its end)        sidecar)

* **capture** owns the camera. It blocks on the trigger queue, so an armed trap uses no CPU.
  A trigger opens an event and starts a burst at once; triggers that arrive before the event
  has been quiet for ``event.gap_s`` extend it with another burst. Capture never waits for
  detection or disk: a trigger that lands while the previous burst is still being detected or
  written starts its burst straight away.
* **detect** scores each frame as it arrives and, when the event closes, decides keep/discard
  for every frame and the event. A detector exception or an undecodable frame is never
  "empty": the frame is kept and flagged. If frames pile up faster than the detector can
  score them, the excess is passed on unfiltered (kept) rather than making capture wait.
* **store** writes kept frames and the event's sidecar, atomically.

The same code runs on a Pi, a laptop and in tests; only the camera, detector and PIR differ.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from trapd.config import TrapdConfig
from trapd.decide import EventDecision, decide_event
from trapd.detect.base import DetectionResult, Detector
from trapd.errors import DeviceError
from trapd.event import EndReason, EventRecord, new_event_id
from trapd.frames import CameraFrame, Frame, Trigger
from trapd.hardware.camera import Camera
from trapd.hardware.outputs import Illuminator, StatusLed
from trapd.hardware.pretrigger import PretriggerBuffer
from trapd.status import Status
from trapd.storage.event_store import EventStore, StoredEvent

log = logging.getLogger(__name__)

#: Triggers are tiny; a PIR storm of 50 edges/s fills this in seconds, and the excess is counted.
TRIGGER_QUEUE_SIZE = 256


class _Stop:
    """Sentinel that tells a worker to finish; each passes it on to the next."""


_STOP = _Stop()


@dataclass(frozen=True, slots=True)
class _EventClosed:
    """Sent after an event's last frame: the detect worker may now decide it."""

    record: EventRecord


EventStoredHook = Callable[[EventRecord, StoredEvent], None]


class Pipeline:
    def __init__(
        self,
        config: TrapdConfig,
        camera: Camera,
        detector: Detector,
        store: EventStore,
        status: Status,
        *,
        illuminator: Illuminator | None = None,
        status_led: StatusLed | None = None,
        on_event_stored: EventStoredHook | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._config = config
        self._camera = camera
        self._detector = detector
        self._store = store
        self._status = status
        self._illuminator = illuminator
        self._status_led = status_led
        self._on_event_stored = on_event_stored
        self._on_failure = on_failure
        self._warm = config.camera.mode == "warm"
        self._triggers: queue.Queue[Trigger | _Stop] = queue.Queue(maxsize=TRIGGER_QUEUE_SIZE)
        self._frames: queue.Queue[Frame | _EventClosed | _Stop] = queue.Queue(
            maxsize=config.pipeline.max_frames_in_flight
        )
        self._events: queue.Queue[EventRecord | _Stop] = queue.Queue(maxsize=config.pipeline.max_events_in_flight)
        # Above this many waiting frames the detector is skipped (frames kept unfiltered).
        self._backlog_limit = max(2, config.pipeline.max_frames_in_flight // 2)
        self._camera_lock = threading.Lock()
        self._pretrigger = (
            PretriggerBuffer(camera, self._camera_lock, config.camera.pretrigger_frames,
                             config.camera.pretrigger_interval_s)
            if self._warm and config.camera.pretrigger_frames
            else None
        )
        self._stopping = threading.Event()
        # Set while the capture worker waits for a trigger with none queued (see wait_until_quiet).
        self._quiet = threading.Event()
        self._threads = [
            threading.Thread(target=self._run_worker, args=(self._capture_loop,), name="trapd-capture"),
            threading.Thread(target=self._run_worker, args=(self._detect_loop,), name="trapd-detect"),
            threading.Thread(target=self._run_worker, args=(self._store_loop,), name="trapd-store"),
        ]
        self.failure: BaseException | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._warm:
            self._camera.start()
        if self._pretrigger is not None:
            self._pretrigger.start()
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Finish the open event, detect, decide and store everything captured, then return."""
        self._stopping.set()
        # If the queue is full the capture worker is busy with queued triggers and checks _stopping after each.
        with contextlib.suppress(queue.Full):
            self._triggers.put_nowait(_STOP)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self._pretrigger is not None:
            self._pretrigger.close()
        self._camera.stop()

    def wait_until_quiet(self, timeout_s: float | None = None) -> bool:
        """Block until every submitted trigger's event has closed (its frames may still be in flight)."""
        return self._quiet.wait(timeout_s)

    # --- 1. trigger: called on the GPIO backend's thread; must not block --------------------------

    def submit(self, trigger: Trigger) -> None:
        self._status.note_trigger(trigger.at)
        if self._stopping.is_set():
            return
        self._quiet.clear()
        try:
            self._triggers.put_nowait(trigger)
        except queue.Full:
            self._status.count("triggers_dropped")

    # --- 2. burst: the capture worker -------------------------------------------------------------

    def _capture_loop(self) -> None:
        while not self._stopping.is_set():
            if self._triggers.empty():
                self._quiet.set()
            trigger = self._triggers.get()  # blocks: an armed trap sleeps here
            self._quiet.clear()
            if isinstance(trigger, _Stop) or self._stopping.is_set():
                break
            self._capture_event(trigger)
        self._frames.put(_STOP)

    def _capture_event(self, first: Trigger) -> None:
        record = EventRecord(new_event_id(first.at), first.at, [first])
        self._status.set_state("capturing")
        if self._status_led is not None:
            self._status_led.show_capturing(True)
        if not self._warm:
            self._camera.start()
        frames_in_event = 0
        end_reason: EndReason = "quiet"
        trigger = first
        try:
            for burst in itertools.count():
                frames_in_event = self._capture_burst(record.event_id, trigger, burst, frames_in_event)
                if self._stopping.is_set():
                    end_reason = "shutdown"
                    break
                if frames_in_event >= self._config.event.max_frames:
                    end_reason = "max_frames"
                    break
                try:
                    next_trigger = self._triggers.get(timeout=self._config.event.gap_s)
                except queue.Empty:
                    break  # quiet for gap_s: the event is over
                if isinstance(next_trigger, _Stop):
                    end_reason = "shutdown"
                    break
                record.triggers.append(next_trigger)
                trigger = next_trigger
        finally:
            if not self._warm:
                self._camera.stop()
            if self._status_led is not None:
                self._status_led.show_capturing(False)
            if not self._stopping.is_set():
                self._status.set_state("armed")
        record.end_reason = end_reason
        self._frames.put(_EventClosed(record))

    def _capture_burst(self, event_id: str, trigger: Trigger, burst: int, index: int) -> int:
        """Capture one burst (plus any pre-trigger frames); returns the event's next frame index."""
        if self._pretrigger is not None:
            self._pretrigger.pause()
            for early in self._pretrigger.take_before(trigger.at.monotonic_ns):
                index = self._hand_on(early, event_id, trigger, burst, index, pretrigger=True)
        lit = self._illuminator is not None and self._illuminator.needed(self._camera.scene_lux)
        if lit:
            assert self._illuminator is not None
            self._illuminator.on()
        try:
            started = time.monotonic()
            for shot in range(self._config.burst.frames):
                if index >= self._config.event.max_frames:
                    break
                due = started + shot * self._config.burst.interval_s
                if shot and self._stopping.wait(max(0.0, due - time.monotonic())):
                    break  # stopping: keep what was captured, take no more
                try:
                    with self._camera_lock:
                        captured = self._camera.capture()
                except DeviceError as exc:
                    self._status.count("camera_errors")
                    log.warning("event %s: frame %d not captured: %s", event_id, index, exc)
                    continue
                index = self._hand_on(captured, event_id, trigger, burst, index, pretrigger=False)
        finally:
            if lit:
                assert self._illuminator is not None
                self._illuminator.off()
            if self._pretrigger is not None:
                self._pretrigger.resume()
        return index

    def _hand_on(
        self, captured: CameraFrame, event_id: str, trigger: Trigger, burst: int, index: int, *, pretrigger: bool
    ) -> int:
        frame = Frame(
            event_id=event_id,
            index=index,
            burst=burst,
            trigger=trigger,
            captured=trigger.at.at_monotonic(captured.exposure_start_ns),
            camera=captured,
            pretrigger=pretrigger,
        )
        if captured.decode_error is not None:
            frame.flags.append("undecodable")
        self._status.count("frames_captured")
        if self._frames.full():
            log.warning("capture is waiting: %d frames in flight (pipeline.max_frames_in_flight); "
                        "storage is not keeping up", self._frames.qsize())
        self._frames.put(frame)
        return index + 1

    # --- 3 and 4. detect and decide: the detect worker ----------------------------------------------

    def _detect_loop(self) -> None:
        scored: dict[str, list[tuple[Frame, DetectionResult]]] = {}
        while True:
            item = self._frames.get()
            if isinstance(item, _Stop):
                break
            if isinstance(item, _EventClosed):
                self._decide(item.record, scored.pop(item.record.event_id, []))
                continue
            scored.setdefault(item.event_id, []).append((item, self._detect(item)))
        self._events.put(_STOP)

    def _detect(self, frame: Frame) -> DetectionResult:
        if frame.camera.lores is None:
            return DetectionResult("error", reason=f"frame did not decode: {frame.camera.decode_error}")
        waiting = self._frames.qsize()
        if waiting >= self._backlog_limit:
            self._status.count("frames_unfiltered_backlog")
            return DetectionResult("unfiltered", reason=f"detector backlog ({waiting} frames waiting)")
        started_ns = time.perf_counter_ns()
        try:
            result = self._detector.detect(frame)
        except Exception as exc:
            self._status.count("detector_errors")
            log.warning("event %s frame %d: detector failed, frame kept: %s: %s",
                        frame.event_id, frame.index, type(exc).__name__, exc)
            return DetectionResult("error", reason=f"{type(exc).__name__}: {exc}")
        if not result.latency_ms:
            result = replace(result, latency_ms=(time.perf_counter_ns() - started_ns) / 1e6)
        return result

    def _decide(self, record: EventRecord, scored: list[tuple[Frame, DetectionResult]]) -> None:
        record.frames = [frame for frame, _ in scored]
        record.results = [result for _, result in scored]
        record.detector = self._detector.info
        if scored:
            record.decisions, record.decision = decide_event(record.results, self._config.decision)
        else:
            record.decisions, record.decision = [], EventDecision(False, "no frames captured (camera errors)")
        self._events.put(record)

    # --- 5. store: the store worker -------------------------------------------------------------------

    def _store_loop(self) -> None:
        while True:
            record = self._events.get()
            if isinstance(record, _Stop):
                break
            try:
                stored = self._store.write(record)
            except OSError as exc:
                self._status.count("storage_errors")
                self._status.warn(f"event {record.event_id} could not be stored: {exc.strerror or exc}")
                log.error("event %s could not be stored (%d frames lost): %s",
                          record.event_id, len(record.frames), exc)
                continue
            self._status.count("frames_kept", stored.kept)
            self._status.count("frames_discarded", stored.discarded)
            self._status.count("frames_flagged", stored.flagged)
            self._status.note_event(record.event_id)
            log.info("event %s: %d frames, %d kept, %d discarded (%s) -> %s", record.event_id,
                     len(record.frames), stored.kept, stored.discarded,
                     record.decision.reason if record.decision else "", stored.directory)
            if self._on_event_stored is not None:
                self._on_event_stored(record, stored)

    # --- a worker that dies is a bug: say so and stop the daemon -------------------------------------

    def _run_worker(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except BaseException as exc:
            self.failure = exc
            self._stopping.set()
            self._quiet.set()  # release anyone waiting for the pipeline to settle
            log.critical("pipeline worker %s failed; trapd is stopping", threading.current_thread().name,
                         exc_info=exc)
            if self._on_failure is not None:
                self._on_failure(exc)
