"""Things the daemon does on a timer, each on a thread of its own that sleeps on an Event between runs:
time-lapse captures, and feeding systemd's watchdog from the pipeline itself."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from trapd.frames import Trigger
from trapd.notify import SystemdNotifier
from trapd.pipeline import Pipeline
from trapd.schedule import Schedule
from trapd.threads import NamedThread
from trapd.timebase import Instant

log = logging.getLogger(__name__)


class Every:
    """Run ``action`` every ``interval_s`` on a thread of its own until stopped (it sleeps on an Event)."""

    def __init__(self, interval_s: float, action: Callable[[], None], name: str) -> None:
        self._interval_s = interval_s
        self._action = action
        self._stopped = threading.Event()
        self._thread = NamedThread(target=self._run, name=name, daemon=True)

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


class ScheduleWatch:
    """Tells the effort log when the schedule opens and closes, as it happens: asleep until the next change."""

    def __init__(self, schedule: Schedule, on_paused: Callable[[bool], None]) -> None:
        self._schedule = schedule
        self._on_paused = on_paused
        self._stopped = threading.Event()
        self._thread = NamedThread(target=self._run, name="trapd-schedule", daemon=True)

    def start(self) -> None:
        self._on_paused(not self._schedule.open_at(self._schedule.now()))
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while True:
            now = self._schedule.now()
            change = self._schedule.next_change(now)
            wait_s = (change - now).total_seconds() + 1.0 if change is not None else 86_400.0
            if self._stopped.wait(wait_s):
                return
            try:
                self._on_paused(not self._schedule.open_at(self._schedule.now()))
            except Exception:
                log.exception("the schedule could not be checked; trying again at its next change")
