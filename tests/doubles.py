"""Test doubles: stand-ins for the detector, the camera and the event hook, each behaving like the real
thing in the one way a test needs to control (scripted scores, a failure, a gate, a record of calls)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from trapd.detect.base import Detection, DetectionResult, DetectorInfo
from trapd.errors import DeviceError
from trapd.event import DecidedEvent
from trapd.frames import CameraFrame, Frame
from trapd.hardware.camera import Camera
from trapd.storage.writer import StoredEvent


class EventSink:
    """Collects stored events; tests wait on it instead of sleeping."""

    def __init__(self) -> None:
        self.events: list[tuple[DecidedEvent, StoredEvent]] = []
        self._changed = threading.Condition()

    def __call__(self, record: DecidedEvent, stored: StoredEvent) -> None:
        with self._changed:
            self.events.append((record, stored))
            self._changed.notify_all()

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[tuple[DecidedEvent, StoredEvent]]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.events) >= count, timeout_s):
                raise AssertionError(f"expected {count} stored events within {timeout_s}s, got {len(self.events)}")
            return list(self.events)


class ScriptedDetector:
    """Returns the detections scripted for each source file name (or for every frame)."""

    info = DetectorInfo(name="scripted", version="test")

    def __init__(self, by_source: dict[str, list[Detection]] | None = None,
                 default: list[Detection] | None = None) -> None:
        self._by_source = by_source or {}
        self._default = default or []
        self.seen: list[str | None] = []

    def detect(self, frame: Frame) -> DetectionResult:
        self.seen.append(frame.camera.source_name)
        detections = self._by_source.get(frame.camera.source_name or "", self._default)
        return DetectionResult("ok", tuple(detections))

    def close(self) -> None:
        pass


class FailingDetector:
    info = DetectorInfo(name="failing", version="test")

    def detect(self, frame: Frame) -> DetectionResult:
        raise RuntimeError("interpreter exploded")

    def close(self) -> None:
        pass


class GatedDetector:
    """Blocks inside detect() until released, to hold a burst "in detection"."""

    info = DetectorInfo(name="gated", version="test")

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def detect(self, frame: Frame) -> DetectionResult:
        self.entered.set()
        if not self.release.wait(20.0):
            raise AssertionError("GatedDetector was never released")
        return DetectionResult("ok", (Detection("animal", "test", 0.9, (0.1, 0.1, 0.2, 0.2)),))

    def close(self) -> None:
        pass


class RecordingCamera:
    """Wraps a camera and records every call, with the time of each capture."""

    def __init__(self, inner: Camera, *, fail_every: int = 0,
                 on_capture: Callable[[int], None] | None = None) -> None:
        self._inner = inner
        self.model = inner.model
        self.calls: list[str] = []
        self.capture_times_ns: list[int] = []
        self._fail_every = fail_every
        self._on_capture = on_capture
        self.lux: float | None = 300.0

    def start(self) -> None:
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")

    def capture(self) -> CameraFrame:
        count = len(self.capture_times_ns) + 1
        self.capture_times_ns.append(time.monotonic_ns())
        if self._on_capture is not None:
            self._on_capture(count)
        if self._fail_every and count % self._fail_every == 0:
            raise DeviceError("injected camera failure")
        return self._inner.capture()

    def scene_lux(self) -> float | None:
        return self.lux

    def settle(self, timeout_s: float) -> bool:
        self.calls.append("settle")
        return True

    def close(self) -> None:
        self.calls.append("close")


def set_at(count: int, event: threading.Event) -> Callable[[int], None]:
    """An ``on_capture`` hook that sets ``event`` once ``count`` captures have been made."""

    def check(captures: int) -> None:
        if captures >= count:
            event.set()

    return check
