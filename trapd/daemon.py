"""Wiring and lifecycle: config in; storage, hardware, pipeline and control socket up; clean stop.

Start-up order matters: storage is proven writable and locked before any device is opened,
and the PIR is armed last, once everything downstream of it is running. Every resource is
registered for release as soon as it is acquired, so a failure half-way through start-up
releases what was opened (GPIO pins, camera, lock) and leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from trapd import __version__
from trapd.config import TrapdConfig
from trapd.control import ControlServer, socket_path_for
from trapd.detect import build_detector
from trapd.detect.base import Detector
from trapd.errors import EX_OK, EX_SOFTWARE, ConfigError, TrapdError
from trapd.event import DecidedEvent
from trapd.frames import Trigger
from trapd.hardware import open_camera
from trapd.hardware.camera import Camera
from trapd.hardware.outputs import Illuminator, StatusLed
from trapd.hardware.pir import PirSensor
from trapd.notify import SystemdNotifier
from trapd.pipeline import Pipeline
from trapd.schedule import Clock, Schedule, utc_now
from trapd.stages.store import EventStoredHook
from trapd.status import Status
from trapd.storage.catalog import catalog_unless_full
from trapd.storage.layout import lock_path, state_dir
from trapd.storage.lock import StorageLock
from trapd.storage.reconcile import Reconciliation, reconcile
from trapd.storage.space import ensure_ballast, free_mb_beyond, release_ballast_if_brim_full
from trapd.storage.writer import EventWriter, StoredEvent
from trapd.timebase import Instant

log = logging.getLogger(__name__)


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
        config = self.config
        with contextlib.ExitStack() as resources:
            store = EventWriter(config)
            storage = config.storage
            release_ballast_if_brim_full(store.root, storage.ballast_mb)
            store.prepare()
            ensure_ballast(store.root, storage.ballast_mb, lambda: free_mb_beyond(store.root, storage.reserve_mb))
            lock = StorageLock(lock_path(store.root))
            lock.acquire()
            resources.callback(lock.release)
            # Whatever the last run ended in (a power cut, a kill), files and index agree before arming.
            catalog = catalog_unless_full(store.root)
            if catalog is None:
                repairs = Reconciliation()
                self.status.warn("storage full: catalog not opened; events are kept as files and indexed at "
                                 "the next start")
            else:
                resources.callback(catalog.close)
                repairs = reconcile(store.root, catalog)
                store.catalog = catalog
            self.status.path = state_dir(store.root) / "status.json"
            self.status.on_change = lambda snapshot: self._notifier.status(status_line(snapshot))

            camera = self._camera if self._camera is not None else open_camera(config.camera)
            resources.callback(camera.close)
            detector = self._detector if self._detector is not None else build_detector(config)
            resources.callback(detector.close)
            if detector.info.degraded:
                self.status.warn(detector.info.degraded)
            if not repairs.clean:
                self.status.warn(f"storage reconciled at start: {len(repairs.indexed)} events indexed, "
                                 f"{len(repairs.quarantined)} folders quarantined, "
                                 f"{len(repairs.removed_temporaries)} partial writes removed")
            illuminator = Illuminator(config.illuminator, pin_factory=self._pin_factory)
            resources.callback(illuminator.close)
            status_led = StatusLed(config.status_led, pin_factory=self._pin_factory)
            resources.callback(status_led.close)

            self.status.info = {
                "trapd_version": __version__,
                "deployment_id": config.deployment.id,
                "storage_root": str(store.root),
                "camera": f"{config.camera.type} ({camera.model}, {config.camera.mode})",
                "detector": detector.info.name,
                "detector_sha256": detector.info.sha256,
                "detector_degraded": detector.info.degraded,
                "schedule": config.schedule.active,
            }
            self.status.zone = ZoneInfo(config.deployment.timezone)
            schedule = Schedule(config.schedule, ZoneInfo(config.deployment.timezone), config.deployment.latitude,
                                config.deployment.longitude, clock=self._clock)
            pipeline = Pipeline(
                config, camera, detector, store, self.status,
                illuminator=illuminator, status_led=status_led, schedule=schedule,
                motion_still_active=lambda: self._pir is not None and self._pir.is_active,
                on_event_stored=self._event_stored, on_failure=lambda _exc: self.stop_requested.set(),
            )
            pir = PirSensor(config.pir, pipeline.submit, pin_factory=self._pin_factory,
                            on_held_off=lambda: self.status.count("triggers_held_off"))
            resources.callback(pir.close)
            self._pipeline, self._pir = pipeline, pir
            pipeline.start()
            resources.callback(pipeline.stop)
            control = ControlServer(
                socket_path_for(state_dir(store.root), config.control.socket),
                {"status": self.status.snapshot, "trigger": self._trigger_handler},
            )
            control.start()
            resources.callback(control.close)

            pir.arm()
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
                     pir.pin_name, self.status.info["camera"], detector.info.name, store.root)
            self._resources = resources.pop_all()
        self._started = True

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
        if self.pir.pin_is_mock:
            self.pir.pulse_mock_pin()
            return "mock-pin"
        self.pipeline.submit(Trigger(Instant.now(), "manual"))
        return "manual"

    def _event_stored(self, record: DecidedEvent, stored: StoredEvent) -> None:
        if self.on_event_stored is not None:
            self.on_event_stored(record, stored)

    def _trigger_handler(self) -> dict[str, Any]:
        return {"fired": self.fire_trigger()}

    def exit_code(self) -> int:
        return EX_SOFTWARE if self._pipeline is not None and self._pipeline.failure is not None else EX_OK


def status_line(snapshot: dict[str, Any]) -> str:
    """The one line `systemctl status` shows: state, events, disk, detector, the first warning."""
    today = snapshot["today"]
    parts = [str(snapshot["state"]), f"today: events {today['events']}, frames kept {today['frames_kept']}"]
    if snapshot.get("disk_free_percent") is not None:
        parts.append(f"{snapshot['disk_free_percent']:.0f}% disk free")
    if snapshot.get("detector"):
        parts.append(f"detector {snapshot['detector']}")
    if snapshot.get("warnings"):
        parts.append(f"WARNING: {snapshot['warnings'][0]}")
    return "; ".join(parts)


class Every:
    """Run ``action`` every ``interval_s`` on a thread of its own until stopped (it sleeps on an Event)."""

    def __init__(self, interval_s: float, action: Callable[[], None], name: str) -> None:
        self._interval_s = interval_s
        self._action = action
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval_s):
            try:
                self._action()
            except Exception:
                log.exception("%s failed; trying again in %.0f s", self._thread.name, self._interval_s)


def timelapse(pipeline: Pipeline, interval_s: float) -> Every:
    """A capture every schedule.timelapse_interval_s (Camtrap DP timeLapse), when no event is open.

    A control series alongside motion triggers: what the site looks like when nothing fired.
    """

    def tick() -> None:
        if pipeline.wait_until_quiet(0):  # the camera is busy with an animal: skip this one
            pipeline.submit(Trigger(Instant.now(), "timelapse"))

    return Every(interval_s, tick, "trapd-timelapse")


def watchdog_heartbeat(pipeline: Pipeline, notifier: SystemdNotifier) -> Every:
    """Feeds systemd's watchdog only from the pipeline itself.

    A timer thread that pinged WATCHDOG=1 on its own would go on lying while a worker hangs;
    here each WATCHDOG=1 is sent by the store worker when a heartbeat has come through
    capture and detection, so a stuck worker anywhere starves the watchdog and systemd
    restarts the trap. Heartbeats go every quarter of the watchdog period (30 s for 120 s).
    """
    interval_s = notifier.watchdog_usec / 1e6 / 4

    def beat() -> None:
        if not pipeline.heartbeat(notifier.watchdog, timeout_s=interval_s):
            log.warning("watchdog heartbeat could not be queued: the pipeline is not taking work")

    notifier.watchdog()  # armed and healthy now: the first period starts clean
    return Every(interval_s, beat, "trapd-watchdog")


@contextlib.contextmanager
def stop_on_signals(request_stop: Callable[[], None]) -> Iterator[None]:
    """Turn the first SIGTERM or SIGINT into ``request_stop()`` for the duration (main thread only).

    Python's default SIGTERM kills without cleanup (atexit does not run), which would leave
    GPIO pins claimed, the camera open and the open event unstored. A second signal gets the
    default behaviour back, so an operator can still interrupt a stop that takes too long.
    """
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: finishing the current event and stopping (send it again to abort)",
                 signal.Signals(signum).name)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        request_stop()

    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_until_signalled(daemon: Daemon, build: Callable[[TrapdConfig], Daemon] | None = None,
                        reload_config: Callable[[], TrapdConfig] | None = None) -> int:
    """Run the daemon until SIGTERM or SIGINT, then stop it cleanly. Returns the exit code.

    With ``build`` and ``reload_config``, SIGHUP reloads: the config is read and validated
    first, and an invalid one leaves the running trap untouched (the reason goes to the log and
    to status). A valid one restarts the daemon in place; if the new one cannot start (a pin
    in use, say), the old config is started again rather than leaving the trap dark.

    The signals set events owned here, not by a daemon: one that arrives in the middle of a
    reload, while one daemon stops and the next starts, is still acted on.
    """
    wake = threading.Event()  # a signal came, or a pipeline worker failed
    terminate = threading.Event()
    reload_wanted = threading.Event()

    def adopt(new: Daemon) -> Daemon:
        new.stop_requested = wake  # a failing worker wakes this loop, whichever daemon it belongs to
        return new

    def on_terminate() -> None:
        terminate.set()
        wake.set()

    def on_hangup(_signum: int, _frame: FrameType | None) -> None:
        reload_wanted.set()
        wake.set()

    reloadable = build is not None and reload_config is not None
    previous_hup = signal.signal(signal.SIGHUP, on_hangup) if reloadable else None
    current = adopt(daemon)
    try:
        with stop_on_signals(on_terminate):
            try:
                current.start()
                while True:
                    wake.wait()
                    wake.clear()
                    failed = current.pipeline.failure is not None
                    if terminate.is_set() or failed or not reload_wanted.is_set():
                        break
                    reload_wanted.clear()
                    assert build is not None and reload_config is not None
                    current = _reloaded(current, lambda config: adopt(build(config)), reload_config, terminate)
            finally:
                current.stop()
    finally:
        if previous_hup is not None:
            signal.signal(signal.SIGHUP, previous_hup)
    return current.exit_code()


def _reloaded(running: Daemon, build: Callable[[TrapdConfig], Daemon], reload_config: Callable[[], TrapdConfig],
              terminate: threading.Event) -> Daemon:
    log.info("SIGHUP received: reloading the configuration")
    try:
        config = reload_config()
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("config reload refused, the running configuration stays: %s", problem)
        running.status.warn(f"config reload refused: {exc.problems[0]}")
        return running
    running.touch_watchdog()  # draining the old pipeline may take a while; the watchdog keeps running
    running.stop(reloading=True)
    if terminate.is_set():
        return running  # asked to stop meanwhile: do not start anything new
    replacement = build(config)
    replacement.status = running.status  # counters and today's figures go on across a reload
    try:
        replacement.start()
    except TrapdError as exc:
        log.error("the reloaded configuration does not start (%s); going back to the previous one", exc)
        replacement = build(running.config)
        replacement.status = running.status
        replacement.start()
        replacement.status.warn(f"config reload failed to start: {exc}")
        return replacement
    log.info("configuration reloaded")
    return replacement
