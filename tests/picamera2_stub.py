"""A stand-in for the `picamera2` module that behaves as picamera2 0.3.36 and Raspberry Pi's libcamera do.

Read from their sources (picamera2 v0.3.20 to v0.3.36, raspberrypi/libcamera v0.3 to v0.7+rpt):

* Signatures as the library's, keyword names included, so a call it would reject fails here.
* A capture with ``wait=`` seconds raises ``concurrent.futures.TimeoutError`` and leaves its job
  queued; ``stop()`` runs behind queued jobs, so with one still queued on a camera that gives no
  frames it never returns (here: :class:`Hang`). ``cancel_all_and_flush()`` empties the queue.
* libcamera's frontend timeout (a frame not delivered) stops every stream: no frame comes until
  ``stop()`` and ``start()``. A loose cable (``cable_loose``) gives none even then.
* ``capture_metadata()`` returns the request picamera2 already holds (exposed earlier), while a
  flushed ``captured_request`` waits for a frame exposed after the call.
* Auto-exposure settles ``settle_frames`` frames after a start or a change of light, reported as
  ``AeLocked`` (libcamera before 0.5) or ``AeState`` (0.5 and later).
* YUV420 rows are padded as the ISP pads them: on a Pi 5 (``platform = "pisp"``) the chroma stride
  is the half width rounded up to 64 and the luma stride twice that (704 wide: 768); on older Pis
  the stride is the width rounded up to 64. Frames carry a pattern, not flat grey, so a wrong
  stride shows.
* ``Picamera2()`` on a card whose ``/dev/dma_heap`` the user may not open raises the raw
  ``PermissionError`` picamera2 lets through; ``configure()`` out of contiguous memory raises
  ``OSError(ENOMEM)``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

NOT_GIVEN: Any = object()
#: A fast sensor mode's frame interval (the tests' frames need not wait a real 33 ms).
FRAME_INTERVAL_S = 0.005
TimeoutError = concurrent.futures.TimeoutError


class Hang(AssertionError):
    """Where picamera2 would block forever: a test must never get here."""


def luma(width: int, height: int) -> np.ndarray:
    """The Y plane every frame carries: a horizontal ramp, so a wrong stride shears it."""
    return np.tile((np.arange(width) * 200 // max(1, width - 1) + 20).astype(np.uint8), (height, 1))


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
        buffer = np.full(height * 3 // 2 * stride, 77, np.uint8)  # padding bytes are junk, never grey
        y = buffer[: height * stride].reshape(height, stride)
        y[:, :width] = luma(width, height)
        chroma = (height // 2) * (stride // 2)
        for plane in (1, 2):
            start = height * stride + (plane - 1) * chroma
            buffer[start: start + chroma].reshape(height // 2, stride // 2)[:, : width // 2] = 128
        return buffer.reshape(height * 3 // 2, stride)

    def get_metadata(self) -> dict[str, Any]:
        return dict(self._metadata)

    def release(self) -> None:
        self.released = True


class Picamera2:
    cameras: ClassVar[list[dict[str, Any]]] = [
        {"Model": "imx477", "Location": 2, "Rotation": 0, "Id": "/base/imx477", "Num": 0}
    ]
    instances: ClassVar[list[Picamera2]] = []
    platform: ClassVar[str] = "vc4"
    #: Set to make frames stop coming: libcamera's frontend times out, and streams stay off until restarted.
    stall = False
    #: Set, with ``stall``, for a camera that gives nothing even after a restart.
    cable_loose = False
    #: "AeLocked" (libcamera before 0.5), "AeState" (0.5 and later) or None (a platform that reports neither).
    ae_key: ClassVar[str | None] = "AeState"
    settle_frames: ClassVar[int] = 3
    #: The light a fresh frame sees, and what the request picamera2 already holds says.
    scene_lux: ClassVar[float] = 3.0
    held_lux: ClassVar[float] = 3.0
    dma_heap_denied = False
    out_of_cma = False
    tuning_files: ClassVar[dict[str, dict[str, Any]]] = {"imx477_noir.json": {"version": 2.0}}

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return list(Picamera2.cameras)

    @staticmethod
    def load_tuning_file(tuning_file: str, dir: str | None = None) -> dict[str, Any]:
        if tuning_file not in Picamera2.tuning_files:
            raise RuntimeError("Tuning file not found")
        return Picamera2.tuning_files[tuning_file]

    def __init__(self, camera_num: int = 0, verbose_console: Any = None, tuning: Any = None,
                 allocator: Any = None) -> None:
        if camera_num >= len(self.cameras):
            raise IndexError("list index out of range")  # global_camera_info()[camera_num]
        Picamera2.instances.append(self)
        self.tuning = tuning
        self.camera_properties = {"Model": self.cameras[camera_num]["Model"]}
        self.started = False
        self.closed = False
        self.configured: dict[str, Any] | None = None
        self.capture_calls: list[dict[str, Any]] = []
        self.requests: list[CompletedRequest] = []
        self.jobs: list[str] = []  # picamera2's job list: a timed-out job stays on it
        self.restarts = 0
        self._frames_since_change = 0
        self._streaming_error = False
        if Picamera2.dma_heap_denied:  # DmaAllocator() at the end of __init__, after the camera is acquired
            raise PermissionError(errno.EACCES, "Permission denied", "/dev/dma_heap/vidbuf_cached")

    def create_still_configuration(self, main: Any = NOT_GIVEN, lores: Any = None, raw: Any = NOT_GIVEN,
                                   transform: Any = None, colour_space: Any = None, buffer_count: int = 1,
                                   controls: Any = NOT_GIVEN, display: Any = None, encode: Any = None,
                                   queue: bool = True, sensor: Any = NOT_GIVEN,
                                   use_case: str = "still") -> dict[str, Any]:
        main = {"format": "BGR888", "size": (4056, 3040), **(main if main is not NOT_GIVEN else {})}
        if lores is not None:
            lores = {"format": "YUV420", **lores}
        raw = {"format": "SRGGB12_CSI2P", "size": main["size"]} if raw is NOT_GIVEN else raw
        return {"use_case": use_case, "buffer_count": buffer_count, "queue": queue, "main": main, "lores": lores,
                "raw": raw}

    def configure(self, camera_config: Any = None) -> None:
        config = dict(camera_config)
        lores, main = config.get("lores"), config["main"]
        if lores and (lores["size"][0] > main["size"][0] or lores["size"][1] > main["size"][1]):
            raise RuntimeError("lores stream dimensions may not exceed main stream")
        if Picamera2.out_of_cma:  # DmaHeap.alloc: fcntl.ioctl raises, the `ret < 0` check never runs
            raise OSError(errno.ENOMEM, "Cannot allocate memory")
        for name in ("main", "lores"):
            if config.get(name):
                width = config[name]["size"][0]
                config[name] = {**config[name], "stride": _stride(width, config[name]["format"])}
        self.configured = config

    def camera_configuration(self) -> dict[str, Any]:
        assert self.configured is not None
        return self.configured

    def start(self, config: Any = None, show_preview: bool = False) -> None:
        self.started = True
        self._frames_since_change = 0
        self._streaming_error = False

    def stop(self) -> None:
        if self.jobs and not self._frames_flow():
            raise Hang("stop() queues behind a timed-out job on a camera that gives no frames: it never returns")
        self.started = False
        self.restarts += 1

    def relight(self) -> None:
        """The scene's light changed (the IR went on): auto-exposure searches again."""
        self._frames_since_change = 0

    def _frames_flow(self) -> bool:
        if Picamera2.cable_loose or (Picamera2.stall and self.started):
            self._streaming_error = True
        return self.started and not self._streaming_error and not Picamera2.cable_loose

    def _next_metadata(self) -> dict[str, Any]:
        self._frames_since_change += 1
        metadata: dict[str, Any] = {
            "SensorTimestamp": time.monotonic_ns() + 10_000_000, "ExposureTime": 10_000, "AnalogueGain": 2.5,
            "DigitalGain": 1.0, "ColourTemperature": 4800, "FrameDuration": 33_333, "Lux": Picamera2.scene_lux,
            "ColourGains": (1.5, 2.1),
        }
        settled = self._frames_since_change > Picamera2.settle_frames
        if Picamera2.ae_key == "AeState":
            metadata["AeState"] = 2 if settled else 1
        elif Picamera2.ae_key == "AeLocked":
            metadata["AeLocked"] = settled
        return metadata

    @contextlib.contextmanager
    def captured_request(self, wait: Any = None, flush: Any = None) -> Iterator[CompletedRequest]:
        assert self.started, "capture on a stopped camera blocks forever in picamera2"
        self.capture_calls.append({"wait": wait, "flush": flush})
        if not self._frames_flow():
            if wait is None or wait is True:
                raise Hang("captured_request() without a timeout on a camera that gives no frames")
            self.jobs.append("captured_request")
            raise TimeoutError()
        assert self.configured is not None
        time.sleep(FRAME_INTERVAL_S)  # frames come at the sensor's pace, not as fast as they are asked for
        request = CompletedRequest(self.configured, self._next_metadata())
        self.requests.append(request)
        try:
            yield request
        finally:
            request.release()

    def capture_metadata(self, wait: Any = None, signal_function: Any = None) -> dict[str, Any]:
        return {**self._next_metadata(), "Lux": Picamera2.held_lux}  # the held request, exposed earlier

    def cancel_all_and_flush(self) -> None:
        self.jobs.clear()

    def close(self) -> None:
        self.started = False  # close() stops the preview first, so its stop() cannot queue behind a job
        self.closed = True


def _stride(width: int, pixel_format: str) -> int:
    if pixel_format == "BGR888":
        return width * 3
    if Picamera2.platform == "pisp":
        return 2 * (-(-(width // 2) // 64) * 64)  # libpisp: chroma stride aligned to 64, luma twice it
    return -(-width // 64) * 64


class OldPicamera2:
    """picamera2 0.3.19: captured_request() takes no timeout and cannot flush; no cancel_all_and_flush()."""

    global_camera_info = Picamera2.global_camera_info

    def captured_request(self) -> contextlib.AbstractContextManager[CompletedRequest]:
        raise AssertionError("never called: trapd refuses this version first")


def module(picamera2_class: type[Picamera2] | type[OldPicamera2] = Picamera2) -> ModuleType:
    stub = ModuleType("picamera2")
    stub.Picamera2 = picamera2_class  # type: ignore[attr-defined]
    stub.TimeoutError = TimeoutError  # type: ignore[attr-defined]
    Picamera2.instances = []
    Picamera2.stall = False
    Picamera2.cable_loose = False
    Picamera2.platform = "vc4"
    Picamera2.ae_key = "AeState"
    Picamera2.settle_frames = 3
    Picamera2.scene_lux = Picamera2.held_lux = 3.0
    Picamera2.dma_heap_denied = Picamera2.out_of_cma = False
    return stub
