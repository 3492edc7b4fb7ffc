"""A stand-in for the `picamera2` module, so the adapter's calls are checked where no Pi exists.

Each method has the signature of picamera2 0.3.38 (keyword names included), so a call the
real library would reject fails here too. Frames are flat grey with the real YUV420 layout.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

NOT_GIVEN: Any = object()


class CompletedRequest:
    def __init__(self, config: dict[str, Any], metadata: dict[str, Any]) -> None:
        self.config = config
        self._metadata = metadata
        self.released = False

    def make_array(self, name: str) -> np.ndarray:
        stream = self.config[name]
        width, height = stream["size"]
        if stream["format"] == "BGR888":
            return np.full((height, width, 3), 100, np.uint8)
        assert stream["format"] == "YUV420"
        stride = stream["stride"]
        return np.full((height * 3 // 2, stride), 128, np.uint8)

    def get_metadata(self) -> dict[str, Any]:
        return dict(self._metadata)

    def release(self) -> None:
        self.released = True


class Picamera2:
    cameras: ClassVar[list[dict[str, Any]]] = [
        {"Model": "imx477", "Location": 2, "Rotation": 0, "Id": "/base/imx477", "Num": 0}
    ]
    instances: ClassVar[list[Picamera2]] = []
    #: Set to make the next capture time out, as a camera with a loose cable does.
    stall = False

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return list(Picamera2.cameras)

    def __init__(self, camera_num: int = 0, verbose_console: Any = None, tuning: Any = None,
                 allocator: Any = None) -> None:
        if camera_num >= len(self.cameras):
            raise RuntimeError(f"No camera number {camera_num} found")
        self.camera_properties = {"Model": self.cameras[camera_num]["Model"]}
        self.started = False
        self.closed = False
        self.configured: dict[str, Any] | None = None
        self.capture_calls: list[dict[str, Any]] = []
        self.requests: list[CompletedRequest] = []
        self.flushed = False
        Picamera2.instances.append(self)

    def create_still_configuration(self, main: Any = NOT_GIVEN, lores: Any = None, raw: Any = NOT_GIVEN,
                                   transform: Any = None, colour_space: Any = None, buffer_count: int = 1,
                                   controls: Any = NOT_GIVEN, display: Any = None, encode: Any = None,
                                   queue: bool = True, sensor: Any = NOT_GIVEN,
                                   use_case: str = "still") -> dict[str, Any]:
        main = {"format": "BGR888", "size": (4056, 3040), **(main if main is not NOT_GIVEN else {})}
        if lores is not None:
            lores = {"format": "YUV420", **lores}
        return {"use_case": use_case, "buffer_count": buffer_count, "queue": queue, "main": main, "lores": lores}

    def configure(self, camera_config: Any = None) -> None:
        config = dict(camera_config)
        lores, main = config.get("lores"), config["main"]
        if lores and (lores["size"][0] > main["size"][0] or lores["size"][1] > main["size"][1]):
            raise RuntimeError("lores stream dimensions may not exceed main stream")
        for name in ("main", "lores"):
            if config.get(name):
                width = config[name]["size"][0]
                # The ISP pads rows: YUV420 strides come in multiples of 64 here.
                stride = width * 3 if config[name]["format"] == "BGR888" else -(-width // 64) * 64
                config[name] = {**config[name], "stride": stride}
        self.configured = config

    def camera_configuration(self) -> dict[str, Any]:
        assert self.configured is not None
        return self.configured

    def start(self, config: Any = None, show_preview: bool = False) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    @contextlib.contextmanager
    def captured_request(self, wait: Any = None, flush: Any = None) -> Iterator[CompletedRequest]:
        assert self.started, "capture on a stopped camera blocks forever in picamera2"
        self.capture_calls.append({"wait": wait, "flush": flush})
        if Picamera2.stall:
            raise TimeoutError()
        assert self.configured is not None
        now_ns = time.monotonic_ns()
        request = CompletedRequest(self.configured, {
            "SensorTimestamp": now_ns + 10_000_000, "ExposureTime": 10_000, "AnalogueGain": 2.5,
            "DigitalGain": 1.0, "ColourTemperature": 4800, "FrameDuration": 33_333, "Lux": 42.0,
            "ColourGains": (1.5, 2.1),
        })
        self.requests.append(request)
        try:
            yield request
        finally:
            request.release()

    def capture_metadata(self, wait: Any = None, signal_function: Any = None) -> dict[str, Any]:
        return {"Lux": 3.0}

    def cancel_all_and_flush(self) -> None:
        self.flushed = True

    def close(self) -> None:
        self.closed = True


def module() -> ModuleType:
    stub = ModuleType("picamera2")
    stub.Picamera2 = Picamera2  # type: ignore[attr-defined]
    Picamera2.instances = []
    Picamera2.stall = False
    return stub
