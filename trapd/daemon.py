"""Wiring and lifecycle: config in; storage, hardware, pipeline and control socket up; clean stop.

Start-up order matters: the devices and the model are opened first, so a trap that cannot run
says so having created nothing on the storage; storage is then locked before anything on it is
touched; and the PIR is armed last, once everything downstream of it is running. Every resource is
registered for release as soon as it is acquired, so a failure half-way through start-up
releases what was opened (GPIO pins, camera, lock) and leaves nothing half-written.
Signals and reloads are trapd/service.py's; timers (time-lapse, watchdog) trapd/periodic.py's.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from trapd import __version__
from trapd.backends import open_camera, type_name
from trapd.config.model import TrapdConfig
from trapd.control import ControlServer, socket_path_for
from trapd.detect.base import Detector
from trapd.detect.build import build_detector
from trapd.errors import EX_OK, EX_SOFTWARE, TrapdError
from trapd.event import DecidedEvent
from trapd.hardware import fake_pir
from trapd.hardware.camera import Camera
from trapd.hardware.outputs import Illuminator, StatusLed
from trapd.hardware.pir import PirSensor
from trapd.notify import SystemdNotifier
from trapd.periodic import Every, ScheduleWatch, timelapse, watchdog_heartbeat
from trapd.pipeline import Pipeline
from trapd.replay import lores_size_for
from trapd.schedule import Clock, Schedule, utc_now
from trapd.stages.store import EventStoredHook
from trapd.status import Status, status_line
from trapd.storage.catalog import catalog_unless_full
from trapd.storage.effort import ALIVE_EVERY_S, EffortLog
from trapd.storage.layout import STATUS_NAME, lock_path, state_dir
from trapd.storage.lock import StorageLock
from trapd.storage.reconcile import reconcile
from trapd.storage.recover import recover
from trapd.storage.space import ensure_ballast, free_mb_beyond, release_ballast_if_brim_full
from trapd.storage.writer import EventWriter, StoredEvent
from trapd.timebase import boot_id

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Gpio:
    illuminator: Illuminator
    status_led: StatusLed
    pir: PirSensor


class Daemon:
    def __init__(
        self,
        config: TrapdConfig,
        *,
        pin_factory: Any = None,
        camera: Camera | None = None,
        detector: Detector | None = None,
        on_event_stored: EventStoredHook | None = None,
        notifier: SystemdNotifier | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.config = config
        self._pin_factory = pin_factory
        self._camera = camera
        self._detector = detector
        #: Called on the store worker after each event is written (simulate and tests use it).
        self.on_event_stored = on_event_stored
        self.status = Status()
        #: Set to ask the daemon to stop (signals via request_stop(), a failed pipeline worker).
        self.stop_requested = threading.Event()
        self._notifier = notifier if notifier is not None else SystemdNotifier()
        self._clock = clock
        self._resources = contextlib.ExitStack()
        self._pir: PirSensor | None = None
        self._pipeline: Pipeline | None = None
        self._started = False

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            raise RuntimeError("the daemon has not been started")
        return self._pipeline

    @property
    def pir(self) -> PirSensor:
        if self._pir is None:
            raise RuntimeError("the daemon has not been started")
        return self._pir

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self._notifier.close()  # this daemon never ran: nothing more to say to systemd
            raise

    def _start(self) -> None:
        with contextlib.ExitStack() as resources:
            # Devices and the model first: a trap that cannot run (no camera, a pin in use, a required
            # model missing) says so having created nothing on the storage.
            camera = self._camera if self._camera is not None else open_camera(self.config.camera)
            resources.callback(camera.close)
            devices = self._open_gpio(resources)
            detector = self._open_detector(resources)
            writer = self._open_storage(resources)
            self._repair(writer, detector)
            self._describe(writer, camera, detector)
            pipeline = self._wire(writer, camera, detector, devices)
            self._arm(resources, writer, pipeline, devices.pir)
            self._resources = resources.pop_all()
        self._started = True

    def _open_gpio(self, resources: contextlib.ExitStack) -> _Gpio:
        """The lights and the PIR; the PIR feeds the pipeline once it exists, and only once it is armed."""
        config = self.config
        illuminator = Illuminator(config.illuminator, pin_factory=self._pin_factory)
        resources.callback(illuminator.close)
        status_led = StatusLed(config.status_led, pin_factory=self._pin_factory)
        resources.callback(status_led.close)
        pir = PirSensor(config.pir, lambda trigger: self.pipeline.submit(trigger), pin_factory=self._pin_factory,
                        on_held_off=lambda: self.status.count("triggers_held_off"))
        resources.callback(pir.close)
        self._pir = pir
        return _Gpio(illuminator, status_led, pir)

    def _open_storage(self, resources: contextlib.ExitStack) -> EventWriter:
        """Storage locked first, then proven writable, before any device is opened."""
        writer = EventWriter(self.config)
        root, storage = writer.root, self.config.storage
        writer.make_state_dir()
        lock = StorageLock(lock_path(root))
        lock.acquire()
        resources.callback(lock.release)
        release_ballast_if_brim_full(root, storage.ballast_mb)
        writer.prepare()
        ensure_ballast(root, storage.ballast_mb, lambda: free_mb_beyond(root, storage.reserve_mb))
        catalog = catalog_unless_full(root)
        if catalog is None:
            self.status.warn("storage full: catalog not opened; events are kept as files and indexed at "
                             "the next start")
        else:
            resources.callback(catalog.close)
            writer.catalog = catalog
        self._effort = EffortLog(root, self.config.deployment.id, boot_id(), catalog,
                                 rate_limited=lambda: self.status.counts()["triggers_rate_limited"])
        self.status.path = state_dir(root) / STATUS_NAME
        self.status.on_change = lambda snapshot: self._notifier.status(status_line(snapshot))
        return writer

    def _open_detector(self, resources: contextlib.ExitStack) -> Detector:
        detector = self._detector if self._detector is not None else build_detector(self.config)
        resources.callback(detector.close)
        if detector.info.degraded:
            self.status.warn(detector.info.degraded)
        return detector

    def _repair(self, writer: EventWriter, detector: Detector) -> None:
        """Whatever the last run ended in (a power cut, a kill): the events it left open are finished from
        the frames on disk, and files and index agree, before arming."""
        root = writer.root
        recovery = recover(root, writer, lambda: detector, self.config.decision,
                           lambda judge: lores_size_for(judge, self.config))
        if recovery.recovered_events:
            self.status.count("frames_recovered", recovery.recovered_frames)
            self.status.warn(f"{len(recovery.recovered_events)} events left open by an interruption (power cut, "
                             f"kill) finished from {recovery.recovered_frames} frames on disk")
        if writer.catalog is None:
            return
        repairs = reconcile(root, writer.catalog)
        if not repairs.clean:
            self.status.warn(f"storage reconciled at start: {len(repairs.indexed)} events indexed, "
                             f"{len(repairs.quarantined) + len(repairs.unreadable_sidecars)} folders "
                             f"quarantined, {len(repairs.removed_temporaries)} partial writes removed")

    def _describe(self, writer: EventWriter, camera: Camera, detector: Detector) -> None:
        """What `trapd status` says about this trap, besides its state and counters."""
        config = self.config
        self.status.info = {
            "trapd_version": __version__,
            "deployment_id": config.deployment.id,
            "storage_root": str(writer.root),
            "camera": f"{type_name(type(config.camera))} ({camera.model}, {config.camera.mode})",
            "detector": detector.info.name,
            "detector_sha256": detector.info.sha256,
            "detector_degraded": detector.info.degraded,
            "schedule": config.schedule.active,
        }
        self.status.zone = ZoneInfo(config.deployment.timezone)

    def _wire(self, writer: EventWriter, camera: Camera, detector: Detector, devices: _Gpio) -> Pipeline:
        """The pipeline, between the devices and the storage; nothing is armed yet."""
        config = self.config
        self._schedule = Schedule(config.schedule, ZoneInfo(config.deployment.timezone), config.deployment.latitude,
                                  config.deployment.longitude, clock=self._clock)
        pipeline = Pipeline(
            config, camera, detector, writer, self.status,
            illuminator=devices.illuminator, status_led=devices.status_led, schedule=self._schedule,
            motion_still_active=lambda: devices.pir.is_active,
            on_event_stored=self._event_stored, on_failure=lambda _exc: self.stop_requested.set(),
            on_full=self._effort.set_full,
        )
        self._pipeline = pipeline
        return pipeline

    def _arm(self, resources: contextlib.ExitStack, writer: EventWriter, pipeline: Pipeline,
             pir: PirSensor) -> None:
        """Start everything downstream of the PIR, then arm it, then tell systemd."""
        config = self.config
        self._effort.start()
        pipeline.start()
        resources.callback(pipeline.stop)
        control = ControlServer(
            socket_path_for(state_dir(writer.root), config.control.socket),
            {"status": self.status.snapshot, "trigger": self._trigger_handler,
             "trigger-manual": lambda: fake_pir.fire_manual(self.pipeline.submit)},
        )
        control.start()
        resources.callback(control.close)
        pir.arm()
        self._record_effort(resources)
        if config.schedule.timelapse_interval_s:
            captures = timelapse(pipeline, config.schedule.timelapse_interval_s)
            captures.start()
            resources.callback(captures.stop)
        if self.status.state != "full":  # a full card stays reported as FULL, though the trap is up
            self.status.set_state("armed")
        self._notifier.ready(status_line(self.status.snapshot()))
        if self._notifier.watchdog_usec:
            heartbeat = watchdog_heartbeat(pipeline, self._notifier)
            heartbeat.start()
            resources.callback(heartbeat.stop)
        log.info("trapd %s armed: PIR on %s, camera %s, detector %s, storage %s", __version__,
                 pir.pin_name, self.status.info["camera"], self.status.info["detector"], writer.root)

    def _record_effort(self, resources: contextlib.ExitStack) -> None:
        """From the moment the PIR is armed: the effort periods, as they happen (trapd/storage/effort.py)."""
        effort = self._effort
        effort.armed()
        resources.callback(effort.stop)
        if self.config.schedule.active != "always":
            watch = ScheduleWatch(self._schedule, effort.set_paused)
            watch.start()
            resources.callback(watch.stop)
        alive = Every(ALIVE_EVERY_S, effort.alive, "trapd-alive")
        alive.start()
        resources.callback(alive.stop)

    def stop(self, *, reloading: bool = False) -> None:
        """Disarm, finish the open event, store everything captured, release every device. Idempotent."""
        if not self._started:
            return
        self._started = False
        if reloading:
            self._notifier.reloading("reloading the configuration")
        else:
            self._notifier.stopping("stopping: finishing the open event")
        self.status.set_state("stopping")
        if self._pir is not None:
            self._pir.disarm()
        self._resources.close()
        failed = self._pipeline is not None and self._pipeline.failure is not None
        self.status.set_state("failed" if failed else "stopped")
        self._notifier.close()

    def touch_watchdog(self) -> None:
        """Tell systemd's watchdog the process is alive (for long steps on the main thread, like a reload)."""
        if self._notifier.watchdog_usec:
            self._notifier.watchdog()

    def request_stop(self) -> None:
        """Ask the daemon to stop, waking anything waiting on it (safe from a signal handler)."""
        self.stop_requested.set()
        if self._pipeline is not None:
            self._pipeline.cancel_waits()

    def __enter__(self) -> Daemon:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def fire_trigger(self) -> str:
        """What `trapd trigger` does: pulse a mock PIR pin, or inject a manual trigger on real GPIO."""
        return fake_pir.fire(self.pir, self.pipeline.submit)

    def _event_stored(self, record: DecidedEvent, stored: StoredEvent) -> None:
        if self.on_event_stored is not None:
            self.on_event_stored(record, stored)

    def _trigger_handler(self) -> dict[str, Any]:
        return fake_pir.fire_and_tell(self.pir, self.pipeline.submit, self.config.pir.holdoff_s)

    def exit_code(self) -> int:
        failure = self._pipeline.failure if self._pipeline is not None else None
        if failure is None:
            return EX_OK
        return failure.exit_code if isinstance(failure, TrapdError) else EX_SOFTWARE
