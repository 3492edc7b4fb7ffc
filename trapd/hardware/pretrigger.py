"""The pre-trigger buffer: the last K frames from a warm camera, so the moment of the edge is kept.

A PIR fires when the animal is already in view; the frames just before the edge are often
the best. This buffer costs CPU and memory (K full-resolution frames) all the time the trap is
armed, which is why it is off by default. It only exists in warm mode.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from trapd.errors import DeviceError
from trapd.frames import CameraFrame
from trapd.hardware.camera import Camera
from trapd.threads import NamedThread

log = logging.getLogger(__name__)


class PretriggerBuffer:
    def __init__(self, camera: Camera, camera_lock: threading.Lock, frames: int, interval_s: float, *,
                 on_failure: Callable[[BaseException], None] | None = None) -> None:
        """``on_failure``: told if the filler dies of a bug, so the trap stops loudly, not without its buffer."""
        if frames < 1:
            raise ValueError("a pre-trigger buffer needs at least one frame")
        self._camera = camera
        self._camera_lock = camera_lock
        self._interval_s = interval_s
        self._on_failure = on_failure
        self._ring: deque[CameraFrame] = deque(maxlen=frames)
        self._ring_lock = threading.Lock()
        self._filling = threading.Event()
        self._closed = threading.Event()
        self._thread = NamedThread(target=self._fill, name="trapd-pretrigger", daemon=True)
        self.errors = 0

    def start(self) -> None:
        self._filling.set()
        self._thread.start()

    def pause_and_drain(self) -> list[CameraFrame]:
        """Stop filling (a burst owns the camera now) and hand over every frame held, oldest first.

        Taken under the camera lock, so a capture in progress finishes and lands in the ring
        first: no frame is lost between the buffer and the burst, and none is left behind to
        turn up, stale, in a later event.
        """
        with self._camera_lock:
            self._filling.clear()
            with self._ring_lock:
                held = list(self._ring)
                self._ring.clear()
        return held

    def resume(self) -> None:
        self._filling.set()

    def close(self) -> None:
        self._closed.set()
        self._filling.set()  # wake a paused filler so it can see it is closed
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _fill(self) -> None:
        try:
            self._fill_until_closed()
        except BaseException as exc:
            if self._on_failure is None:
                raise
            self._on_failure(exc)

    def _fill_until_closed(self) -> None:
        while not self._closed.is_set():
            self._filling.wait()
            if self._closed.is_set():
                return
            with self._camera_lock:
                if not self._filling.is_set():
                    continue  # a burst paused us while we waited for the camera
                try:
                    frame = self._camera.capture()
                except DeviceError as exc:
                    self.errors += 1
                    log.warning("pre-trigger buffer: %s", exc)
                else:
                    with self._ring_lock:
                        self._ring.append(frame)
            self._closed.wait(self._interval_s)
