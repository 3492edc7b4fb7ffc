"""The daemon as a service: signals in, a clean stop out, and SIGHUP reloads that never leave the trap dark."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from trapd.config.model import TrapdConfig
from trapd.daemon import Daemon
from trapd.errors import ConfigError, TrapdError

log = logging.getLogger(__name__)


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
    replacement.status.clear_warnings("config reload")  # the running config is now the file's
    log.info("configuration reloaded")
    return replacement
