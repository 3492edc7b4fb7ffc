"""The camera interface every adapter (picamera2, replay, synthetic) implements."""

from __future__ import annotations

import threading
from typing import Protocol

from trapd.frames import CameraFrame, MetadataValue, RGBImage
from trapd.imaging import estimate_lux


class Camera(Protocol):
    #: Sensor or adapter name, used as EXIF Model when the config gives none.
    model: str

    def start(self) -> None:
        """Start streaming. Idempotent; warm mode calls it once, cold mode once per event."""
        ...

    def stop(self) -> None:
        """Stop streaming (cold mode, between events). Idempotent."""
        ...

    def capture(self) -> CameraFrame:
        """Block until a frame whose exposure began after this call, and return it.

        Raises :class:`trapd.errors.DeviceError` when the camera fails.
        """
        ...

    def scene_lux(self) -> float | None:
        """The camera's current estimate of scene illuminance, or None if it has none."""
        ...

    def settle(self, timeout_s: float) -> bool:
        """Wait at most ``timeout_s`` for auto-exposure to settle; False if it had not by then."""
        ...

    def close(self) -> None:
        """Release the camera. Safe to call twice."""
        ...


class FakeCamera:
    """What the fake cameras share: no hardware to start or stop, and a thread-safe frame counter."""

    model = "fake"

    def __init__(self) -> None:
        self._frames_served = 0
        self._counter_lock = threading.Lock()

    def _next_index(self) -> int:
        with self._counter_lock:
            index = self._frames_served
            self._frames_served += 1
        return index

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def settle(self, timeout_s: float) -> bool:
        return True  # a photo or a drawing has no exposure to settle

    def close(self) -> None:
        pass


def simulated_metadata(
    rgb: RGBImage | None, exposure_start_ns: int, frame_duration_us: int = 33_333
) -> dict[str, MetadataValue]:
    """Metadata with the real keys and plausible values, for cameras without a sensor.

    Exposure starts at ``exposure_start_ns`` (when ``capture()`` was called, as for the first
    frame after a flushing capture, not after the fake's own decoding work); darker scenes get
    longer exposures and more gain, as auto-exposure would give them.
    """
    lux = estimate_lux(rgb) if rgb is not None else 0.0
    dark = lux < 5.0
    exposure_us = 30_000 if dark else 2_000
    return {
        "SensorTimestamp": exposure_start_ns + exposure_us * 1000,
        "ExposureTime": exposure_us,
        "AnalogueGain": 8.0 if dark else 1.0,
        "DigitalGain": 1.0,
        "ColourTemperature": 4000 if dark else 5600,
        "FrameDuration": frame_duration_us,
        "Lux": lux,
    }
