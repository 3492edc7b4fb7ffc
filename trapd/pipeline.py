"""A frame's path from the PIR edge to the disk: trigger → burst → detect → decide → store.

Three worker threads joined by bounded queues::

    PIR edge ──submit()──▶ [triggers] ──▶ capture ──▶ [frames] ──▶ detect+decide ──▶ [events] ──▶ store
                                          (bursts)                (per frame; per          (JPEG+EXIF,
                                                                   event at its end)        sidecar)

* **capture** owns the camera. It blocks on the trigger queue, so an armed trap uses no CPU.
  A trigger opens an event and starts a burst at once; triggers that arrive before the event
  has been quiet for ``event.gap_s`` extend it with another burst, and so does a PIR still
  held high when the gap runs out. Capture never waits for detection or disk: a trigger that
  lands while the previous burst is still being detected or written starts its burst at once.
* **detect** scores each frame as it arrives and, when the event closes, decides keep/discard
  for every frame and the event. A detector exception, a malformed result or an undecodable
  frame is never "empty": the frame is kept and flagged. If frames pile up faster than the
  detector can score them, the excess is passed on unfiltered (kept) rather than making
  capture wait.
* **store** writes kept frames and the event's sidecar, atomically, retrying transient errors.
  With ``storage.when_full: overwrite`` it also makes room after each event, deleting the
  oldest expendable frames, so capture never waits for that either.

Each worker passes a stop sentinel downstream when it ends, however it ends, so a failure
anywhere still drains what was captured and lets the daemon exit (non-zero) for systemd to
restart it. The same code runs on a Pi, a laptop and in tests.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import math
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from trapd.config import TrapdConfig
from trapd.detect.base import DetectionResult, Detector, run_detector
from trapd.errors import DeviceError
from trapd.event import EndReason, EventRecord, new_event_id
from trapd.frames import CameraFrame, Frame, Trigger
from trapd.hardware.camera import Camera
from trapd.hardware.outputs import Illuminator, StatusLed
from trapd.hardware.pretrigger import PretriggerBuffer
from trapd.schedule import Schedule
from trapd.status import Status
from trapd.storage.event_store import EventStore, StoredEvent
from trapd.storage.overwrite import Overwriter
from trapd.timebase import Instant

log = logging.getLogger(__name__)

#: Triggers are tiny; a PIR storm of 50 edges/s fills this in seconds, and the excess is counted.
TRIGGER_QUEUE_SIZE = 256
#: Waits before each retry of an event that could not be written (EIO, a full card being cleared).
STORE_RETRY_DELAYS_S = (0.5, 2.0, 5.0)
#: While FULL with storage.when_full: overwrite, how often a refused trigger asks again for room
#: (the last attempt may have failed: a sidecar that would not read, a card briefly unwritable).
ROOM_RETRY_S = 60.0
#: How often a producer blocked on a full queue checks whether its consumer has died.
_BACKPRESSURE_CHECK_S = 1.0


class _Stop:
    """Sentinel that tells a worker to finish; each passes it on to the next."""


_STOP = _Stop()


@dataclass(frozen=True, slots=True)
class _Heartbeat:
    """Travels capture -> detect -> store like a frame would; arriving proves every worker is alive."""

    on_arrival: Callable[[], None]


class _MakeRoom:
    """Asks the store worker to make room now (``storage.when_full: overwrite``)."""


_MAKE_ROOM = _MakeRoom()


@dataclass(frozen=True, slots=True)
class _EventClosed:
    """Sent after an event's last frame: the detect worker may now decide it."""

    record: EventRecord


EventStoredHook = Callable[[EventRecord, StoredEvent], None]
_Item = TypeVar("_Item")


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
        motion_still_active: Callable[[], bool] | None = None,
        schedule: Schedule | None = None,
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
        self._motion_still_active = motion_still_active
        self._schedule = schedule
        self._on_event_stored = on_event_stored
        self._on_failure = on_failure
        self._warm = config.camera.mode == "warm"
        self._triggers: queue.Queue[Trigger | _Heartbeat | _Stop] = queue.Queue(maxsize=TRIGGER_QUEUE_SIZE)
        self._frames: queue.Queue[Frame | _EventClosed | _Heartbeat | _Stop] = queue.Queue(
            maxsize=config.pipeline.max_frames_in_flight
        )
        self._events: queue.Queue[EventRecord | _Heartbeat | _MakeRoom | _Stop] = queue.Queue(
            maxsize=config.pipeline.max_events_in_flight
        )
        # Above this many waiting frames the detector is skipped (frames kept unfiltered).
        self._backlog_limit = max(2, config.pipeline.max_frames_in_flight // 2)
        self._camera_lock = threading.Lock()
        self._backpressure = False
        self._full = False
        storage = config.storage
        # storage.when_full: overwrite, where there is a catalog to choose by (a brim-full card
        # without a ballast may leave the daemon running on files alone).
        self._overwriter = (
            Overwriter(store.catalog, store.room_left_mb, target_mb=2 * storage.overwrite_free_mb,
                       include_detections=storage.overwrite_detections)
            if storage.when_full == "overwrite" and store.catalog is not None
            else None
        )
        self._nothing_to_overwrite = False
        self._room_asked_s = -ROOM_RETRY_S
        # Start times (monotonic ns) of the events of the last minute, for event.max_per_minute.
        self._recent_events: deque[int] = deque()
        self._rate_limiting = False
        self._pretrigger = (
            PretriggerBuffer(camera, self._camera_lock, config.camera.pretrigger_frames,
                             config.camera.pretrigger_interval_s, on_failure=self._fail)
            if self._warm and config.camera.pretrigger_frames
            else None
        )
        self._stopping = threading.Event()
        # Triggers accepted but whose event has not yet closed; see wait_until_quiet().
        self._settled = threading.Condition()
        self._unsettled_triggers = 0
        self._waits_cancelled = False
        self._threads = [
            threading.Thread(target=self._run_worker, args=(self._capture_loop, self._frames),
                             name="trapd-capture", daemon=True),
            threading.Thread(target=self._run_worker, args=(self._detect_loop, self._events),
                             name="trapd-detect", daemon=True),
            threading.Thread(target=self._run_worker, args=(self._store_loop, None),
                             name="trapd-store", daemon=True),
        ]
        # Who reads each queue: a put gives up only once its reader is gone, never while it can drain.
        self._readers = {id(self._frames): self._threads[1], id(self._events): self._threads[2]}
        self.failure: BaseException | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._warm:
            self._camera.start()
        if self._pretrigger is not None:
            self._pretrigger.start()
        if self._store.room_left_mb() < 0:
            self._report_full()  # left full by the last run: FULL from the start, not at the first trigger
        self._ask_for_room()  # with overwrite, room is made before any trigger
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Finish the open event, detect, decide and store everything captured, then return."""
        self._stopping.set()
        self.cancel_waits()
        # If the queue is full the capture worker is busy with queued triggers and checks _stopping after each.
        with contextlib.suppress(queue.Full):
            self._triggers.put_nowait(_STOP)
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
        """Send a heartbeat through all three workers; ``on_arrival`` runs on the store worker.

        It waits behind whatever is queued, as a trigger would, so a stuck worker anywhere stops
        heartbeats from arriving. False if it could not even be queued within ``timeout_s``.
        """
        if self._stopping.is_set():
            return False
        try:
            self._triggers.put(_Heartbeat(on_arrival), timeout=timeout_s)
        except queue.Full:
            return False
        return True

    def cancel_waits(self) -> None:
        """Wake :meth:`wait_until_quiet` callers now (a signal arrived, the pipeline is stopping)."""
        with self._settled:
            self._waits_cancelled = True
            self._settled.notify_all()

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
        try:
            self._triggers.put_nowait(trigger)
        except queue.Full:
            self._settle(1)
            self._status.count("triggers_dropped")

    # --- 2. burst: the capture worker -------------------------------------------------------------

    def _capture_loop(self) -> None:
        while not self._stopping.is_set():
            trigger = self._triggers.get()  # blocks: an armed trap sleeps here
            if isinstance(trigger, _Heartbeat):
                self._put(self._frames, trigger)
                continue
            if isinstance(trigger, _Stop):
                break
            if self._stopping.is_set():
                self._settle(1)
                break
            if self._rate_limited(trigger) or not self._room_to_capture():
                self._settle(1)
                continue
            next_trigger: Trigger | None = trigger
            while next_trigger is not None:
                # An event closed at max_frames while the PIR is still high continues as a new event,
                # within the storm limit: a PIR stuck high must not capture forever.
                next_trigger = self._capture_event(next_trigger)
                if next_trigger is not None and self._rate_limited(next_trigger):
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
        record = EventRecord(new_event_id(first.at), first.at, [first])
        accepted = 1 if first.source != "pir-still-high" else 0
        if self._status_led is not None:
            self._status_led.show_capturing(True)
        frames_in_event = 0
        end_reason: EndReason = "quiet"
        trigger = first
        try:
            if not self._warm:
                self._start_cold_camera(record.event_id)
            for burst in itertools.count():
                frames_in_event = self._capture_burst(record.event_id, trigger, burst, frames_in_event)
                if burst == 0:
                    # Only now: the status file, its disk check and sd_notify must not delay the first frame.
                    self._status.set_state("capturing")
                if self._stopping.is_set():
                    end_reason = "shutdown"
                    break
                if frames_in_event >= self._config.event.max_frames:
                    end_reason = "max_frames"
                    break
                if not self._room_to_capture():
                    end_reason = "storage_full"
                    break
                if first.source == "timelapse":
                    break  # one burst is the picture; an animal arriving now gets its own event
                queued, stop_seen = self._take_queued_triggers()
                record.triggers.extend(queued)
                accepted += len(queued)
                if stop_seen:
                    end_reason = "shutdown"
                    break
                if queued:
                    # Motion went on during the burst: one more burst answers all of it. Taking them
                    # one burst each would build a backlog (and keep heartbeats waiting behind it).
                    trigger = queued[-1]
                    continue
                next_trigger = self._wait_for_trigger(self._config.event.gap_s)
                if next_trigger is None:
                    if not self._motion_held():
                        break  # quiet for gap_s: the event is over
                    next_trigger = Trigger(Instant.now(), "pir-still-high")
                elif isinstance(next_trigger, _Stop):
                    end_reason = "shutdown"
                    break
                else:
                    accepted += 1
                record.triggers.append(next_trigger)
                trigger = next_trigger
        finally:
            if not self._warm:
                with contextlib.suppress(DeviceError):
                    self._camera.stop()
            if self._status_led is not None:
                self._status_led.show_capturing(False)
            if not self._stopping.is_set() and not self._full:
                self._status.set_state("armed")
            record.end_reason = end_reason
            # Always close the event, even on failure, so frames already captured get stored.
            self._put(self._frames, _EventClosed(record))
            self._settle(accepted)
        if end_reason == "max_frames" and not self._stopping.is_set() and self._motion_held():
            return Trigger(Instant.now(), "pir-still-high")
        return None

    def _take_queued_triggers(self) -> tuple[list[Trigger], bool]:
        """Every trigger already waiting (heartbeats passed on), and whether a stop was among them."""
        taken: list[Trigger] = []
        while True:
            try:
                item = self._triggers.get_nowait()
            except queue.Empty:
                return taken, False
            if isinstance(item, _Stop):
                return taken, True
            if isinstance(item, _Heartbeat):
                self._put(self._frames, item)
            else:
                taken.append(item)

    def _wait_for_trigger(self, gap_s: float) -> Trigger | _Stop | None:
        """The next trigger within ``gap_s``, passing heartbeats on; None when the gap passes quietly."""
        deadline = time.monotonic() + gap_s
        while True:
            try:
                item = self._triggers.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if not isinstance(item, _Heartbeat):
                return item
            self._put(self._frames, item)

    def _room_to_capture(self) -> bool:
        """The free-space guard, before each event and burst: a full card stops capture, not the trap."""
        if self._store.room_left_mb() >= 0:
            if self._full:
                self._full = False
                log.info("storage has room again: capturing")
                self._status.set_state("armed")
            return True
        self._status.count("triggers_storage_full")
        self._report_full()
        self._ask_for_room()
        return False

    def _ask_for_room(self) -> None:
        """With overwrite: have the store worker make room, at most once every ROOM_RETRY_S."""
        now = time.monotonic()
        if self._overwriter is None or now - self._room_asked_s < ROOM_RETRY_S:
            return
        self._room_asked_s = now
        with contextlib.suppress(queue.Full):  # a busy store worker makes room after its event anyway
            self._events.put_nowait(_MAKE_ROOM)

    def _report_full(self) -> None:
        if not self._full:
            self._full = True
            log.error("storage %s is FULL (down to storage.reserve_mb): capturing stops until space is "
                      "freed; the trap keeps running", self._store.root)
            self._status.warn("storage reached its reserve: capture stopped (FULL)")
            self._status.set_state("full")

    def _rate_limited(self, trigger: Trigger) -> bool:
        """True if this trigger would open one event too many this minute (a wind storm)."""
        limit = self._config.event.max_per_minute
        if not limit or trigger.source == "timelapse":
            return False  # scheduled captures are not a storm
        now = trigger.at.monotonic_ns
        while self._recent_events and now - self._recent_events[0] > 60_000_000_000:
            self._recent_events.popleft()
        if len(self._recent_events) >= limit:
            self._status.count("triggers_rate_limited")
            if not self._rate_limiting:
                self._rate_limiting = True
                log.warning("more than %d events a minute (wind?): new triggers dropped until it calms "
                            "(event.max_per_minute)", limit)
            return True
        if self._rate_limiting:
            self._rate_limiting = False
            log.info("trigger rate back under %d events a minute", limit)
        self._recent_events.append(now)
        return False

    def _motion_held(self) -> bool:
        return self._motion_still_active is not None and self._motion_still_active()

    def _start_cold_camera(self, event_id: str) -> None:
        try:
            self._camera.start()
        except DeviceError as exc:
            # The burst's captures will fail and be counted too; the event (its triggers) is still recorded.
            self._status.count("camera_errors")
            log.warning("event %s: camera did not start: %s", event_id, exc)

    def _capture_burst(self, event_id: str, trigger: Trigger, burst: int, index: int) -> int:
        """Capture one burst (plus any pre-trigger frames); returns the event's next frame index."""
        if self._pretrigger is not None:
            for held in self._pretrigger.pause_and_drain():
                pretrigger = held.exposure_start_ns < trigger.at.monotonic_ns
                index = self._hand_on(held, event_id, trigger, burst, index, pretrigger=pretrigger)
        lit = self._illuminator is not None and self._illuminator.needed(self._read_scene_lux, self._sun_down)
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
                    self._status.note_capture(ok=False)
                    log.warning("event %s: frame %d not captured: %s", event_id, index, exc)
                    continue
                self._status.note_capture(ok=True)
                index = self._hand_on(captured, event_id, trigger, burst, index, pretrigger=False)
        finally:
            if lit:
                assert self._illuminator is not None
                self._illuminator.off()
            if self._pretrigger is not None:
                self._pretrigger.resume()
        return index

    def _note_backpressure(self) -> None:
        """Say once when capture starts waiting for storage, and once when it stops: not per frame."""
        waiting = self._frames.qsize()
        if not self._backpressure and waiting >= self._frames.maxsize:
            self._backpressure = True
            self._status.warn("capture waited for storage (pipeline.max_frames_in_flight reached)")
            log.warning("capture is waiting: %d frames in flight (pipeline.max_frames_in_flight); "
                        "storage is not keeping up", waiting)
        elif self._backpressure and waiting < self._frames.maxsize // 2:
            self._backpressure = False
            log.info("storage caught up: %d frames in flight", waiting)

    def _sun_down(self) -> bool | None:
        return self._schedule.is_night() if self._schedule is not None else None

    def _read_scene_lux(self) -> float | None:
        try:
            with self._camera_lock:
                return self._camera.scene_lux()
        except DeviceError as exc:
            log.warning("cannot read scene light, treating it as dark: %s", exc)
            return None

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
        frame.handed_ns = time.monotonic_ns()
        self._note_backpressure()
        self._put(self._frames, frame)
        return index + 1

    # --- 3 and 4. detect and decide: the detect worker ----------------------------------------------

    def _detect_loop(self) -> None:
        scored: dict[str, list[tuple[Frame, DetectionResult]]] = {}
        while True:
            item = self._frames.get()
            if isinstance(item, _Stop):
                break
            if isinstance(item, _Heartbeat):
                self._put(self._events, item)
                continue
            if isinstance(item, _EventClosed):
                self._decide(item.record, scored.pop(item.record.event_id, []))
                continue
            scored.setdefault(item.event_id, []).append((item, self._detect(item)))

    def _detect(self, frame: Frame) -> DetectionResult:
        waiting = self._frames.qsize()
        if frame.camera.lores is not None and waiting >= self._backlog_limit:
            self._status.count("frames_unfiltered_backlog")
            return DetectionResult("unfiltered", reason=f"detector backlog ({waiting} frames waiting)")
        result = run_detector(self._detector, frame)
        if result.status == "error" and frame.camera.decode_error is None:
            self._status.count("detector_errors")
        return result

    def _decide(self, record: EventRecord, scored: list[tuple[Frame, DetectionResult]]) -> None:
        record.decide([frame for frame, _ in scored], [result for _, result in scored], self._detector.info,
                      self._config.decision)
        self._put(self._events, record)

    # --- 5. store: the store worker -------------------------------------------------------------------

    def _store_loop(self) -> None:
        while True:
            record = self._events.get()
            if isinstance(record, _Stop):
                break
            if isinstance(record, _Heartbeat):
                record.on_arrival()
                continue
            if isinstance(record, _MakeRoom):
                self._make_room()
                continue
            stored = self._write_with_retries(record)
            self._make_room()
            if stored is None:
                continue
            self._status.count("frames_kept", stored.kept)
            self._status.count("frames_discarded", stored.discarded)
            self._status.count("frames_flagged", stored.flagged)
            self._status.count("frames_audited", stored.audited)
            self._status.count("frames_unfiltered", stored.unfiltered)
            self._status.note_event(record.event_id)
            log.info("event %s: %d frames, %d kept, %d discarded (%s) -> %s", record.event_id,
                     len(record.frames), stored.kept, stored.discarded,
                     record.decision.reason if record.decision else "", stored.directory)
            if self._on_event_stored is not None:
                self._on_event_stored(record, stored)

    def _write_with_retries(self, record: EventRecord) -> StoredEvent | None:
        for attempt, delay_s in enumerate((*STORE_RETRY_DELAYS_S, None), start=1):
            try:
                return self._store.write(record)
            except OSError as exc:
                if delay_s is None:
                    self._status.count("storage_errors")
                    self._status.warn(f"event {record.event_id} could not be stored: {exc.strerror or exc}")
                    log.error("event %s could not be stored after %d attempts (%d frames lost): %s",
                              record.event_id, attempt, len(record.frames), exc)
                    return None
                log.warning("event %s: write failed (%s); retrying in %.1f s", record.event_id,
                            exc.strerror or exc, delay_s)
                if exc.errno == errno.ENOSPC:
                    self._make_room()  # with overwrite, the retry finds room rather than the same full card
                time.sleep(delay_s)  # a stop must not cut the retries short: the frames are in memory
        return None

    def _make_room(self) -> None:
        """With ``storage.when_full: overwrite``: below ``overwrite_free_mb`` of room, delete old expendable frames."""
        storage = self._config.storage
        if self._overwriter is None:
            return
        room_mb = self._store.room_left_mb()
        if math.isnan(room_mb):
            log.warning("free space of %s cannot be read: nothing overwritten on a guess", self._store.root)
            return
        if room_mb >= storage.overwrite_free_mb:
            return
        try:
            done = self._overwriter.make_room()
        except (OSError, ValueError, sqlite3.Error) as exc:
            self._status.count("storage_errors")
            self._status.warn(f"storage.when_full: overwrite could not delete old frames: {exc}")
            log.error("storage.when_full: overwrite could not delete old frames (%s); run `trapd fsck`", exc)
            return
        if done.total:
            self._status.count("frames_overwritten", done.total)
            log.info("storage nearly full: %d old frames overwritten (%s), %.1f MB freed", done.total,
                     ", ".join(f"{tier} {count}" for tier, count in done.frames.items()), done.freed_bytes / 2**20)
        if done.enough:
            self._store.ensure_ballast()  # given back on a brim-full start: set aside again now there is room
        if not done.enough and not self._nothing_to_overwrite:
            hint = ("" if storage.overwrite_detections
                    else "; frames with detections are kept (storage.overwrite_detections)")
            self._status.warn("storage nearly full and nothing left that overwrite may delete" + hint)
            log.warning("storage nearly full and nothing left that storage.when_full: overwrite may delete%s", hint)
        self._nothing_to_overwrite = not done.enough

    # --- plumbing --------------------------------------------------------------------------------------

    def _put(self, destination: queue.Queue[_Item], item: _Item) -> None:
        """Put, blocking while the reader is busy; give up only if the reader has died.

        A failure elsewhere (a dead capture worker, a dead pre-trigger filler) must not cost what
        is already captured: the readers downstream of it are alive and drain it.
        """
        reader = self._readers[id(destination)]
        while True:
            try:
                destination.put(item, timeout=_BACKPRESSURE_CHECK_S)
                return
            except queue.Full:
                if not reader.is_alive():
                    log.error("dropping %s: %s has died and nothing reads it", type(item).__name__, reader.name)
                    return

    def _fail(self, exc: BaseException) -> None:
        """A thread of the pipeline died of a bug: say so, and stop the daemon (exit 70) for systemd to restart."""
        self.failure = exc
        self._stopping.set()
        self.cancel_waits()
        log.critical("pipeline thread %s failed; trapd is stopping", threading.current_thread().name, exc_info=exc)
        if self._on_failure is not None:
            self._on_failure(exc)

    def _run_worker(self, loop: Callable[[], None], downstream: queue.Queue[Any] | None) -> None:
        """Run a worker loop; however it ends, tell the next worker to finish too."""
        try:
            loop()
        except BaseException as exc:
            self._fail(exc)
        finally:
            if downstream is not None:
                self._put(downstream, _STOP)

