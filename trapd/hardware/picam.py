"""The Raspberry Pi camera through picamera2: the only module that imports it, and lazily.

``import picamera2`` imports libcamera, which exists only on a Pi, so nothing else in trapd
may import this module at load time (see :func:`trapd.hardware.open_camera`).

Written against picamera2 0.3.20 to 0.3.36 and Raspberry Pi's libcamera 0.3 to 0.7, as read:

* The camera is configured once: a full-resolution ``main`` stream in RGB (picamera2 calls the
  RGB byte order ``BGR888``) and a ``lores`` stream in YUV420, which every Pi's ISP gives, sized
  for the detector. No raw stream (``raw=None``): the application does not read it, and at
  2028x1520 its two buffers are 9 MB of contiguous memory. Two buffers, not queued
  (``queue=False``): both stay with libcamera, so frames keep flowing; a queued buffer would
  be handed back already exposed, and trapd wants frames exposed after it asks.
* Every frame, and the light reading, come from ``captured_request(wait=, flush=True)``: a frame
  whose exposure began after the call, within a timeout, always released. ``capture_metadata``
  would return the request picamera2 already holds, which in back-to-back bursts was exposed
  with the IR still on.
* A timeout leaves picamera2's job queued, and libcamera's own frontend timeout stops every
  stream until the camera is stopped and started again. So a timeout cancels the queue, then
  restarts the camera; ``stop()`` would otherwise wait forever behind the stale job.
* Auto-exposure reports ``AeLocked`` up to libcamera 0.4 and ``AeState`` from 0.5: trapd reads
  either, and marks a frame taken before exposure settled.
"""

from __future__ import annotations

import concurrent.futures
import errno
import inspect
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from trapd.config.camera import CameraCommon
from trapd.config.fields import Resolution
from trapd.errors import DeviceError
from trapd.frames import METADATA_KEYS, CameraFrame, MetadataValue
from trapd.imaging import yuv420_to_rgb
from trapd.threads import NamedThread

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "on Raspberry Pi OS run `sudo apt install python3-picamera2` and create the venv with "
    "--system-site-packages; on a machine without a Pi camera use `--fake` or camera.type: replay"
)
#: captured_request(wait=, flush=) and cancel_all_and_flush() arrived together in picamera2 0.3.20.
MINIMUM_PICAMERA2 = "0.3.20"
CMA_HINT = ("the camera could not get contiguous memory (CMA) for its buffers: lower camera.main_size, or give "
            "the camera more (`dtoverlay=vc4-kms-v3d,cma-512` in /boot/firmware/config.txt), and reboot")
#: libcamera's AeState while exposure is still searching (0 idle: manual exposure; 2 converged).
AE_SEARCHING = 1
#: How long stop() and close() may take before the camera is given up as hung (a dead cable, a stuck driver).
STOP_TIMEOUT_S = 5.0


class Picamera2Config(CameraCommon):
    type: Literal["picamera2"] = Field("picamera2", description="A Raspberry Pi camera, through picamera2.")
    camera_num: int = Field(0, ge=0, le=7, description="Index as listed by `rpicam-hello --list-cameras`.")
    main_size: Resolution = Field(
        (2028, 1520), description="Width, height of the full-resolution stream that is stored."
    )
    capture_timeout_s: float = Field(
        5.0, ge=0.5, le=120.0, description="A frame not delivered within this is a camera error (loose cable)."
    )
    tuning: str | None = Field(
        None, max_length=256,
        description="libcamera tuning file: a name such as imx219_noir.json (NoIR modules, without the IR-cut "
        "filter, need their own) or a path; null: the sensor's default.",
    )

    @model_validator(mode="after")
    def _lores_fits_in_main(self) -> Picamera2Config:
        if self.lores_size[0] > self.main_size[0] or self.lores_size[1] > self.main_size[1]:
            raise ValueError(f"camera.lores_size {list(self.lores_size)} is larger than camera.main_size "
                             f"{list(self.main_size)}; the ISP only scales down")
        return self


def load_picamera2() -> Any:
    """The Picamera2 class, or a :class:`DeviceError` saying how to get it."""
    try:
        from picamera2 import Picamera2
    except Exception as exc:
        raise DeviceError(f"picamera2 cannot be imported ({type(exc).__name__}: {exc}); {INSTALL_HINT}") from None
    parameters = inspect.signature(Picamera2.captured_request).parameters
    if not {"wait", "flush"} <= set(parameters) or not hasattr(Picamera2, "cancel_all_and_flush"):
        raise DeviceError(f"picamera2 is too old: trapd needs {MINIMUM_PICAMERA2} or newer (captures with a "
                          "timeout); run `sudo apt update && sudo apt full-upgrade`")
    return Picamera2


def exposure_settled(metadata: dict[str, Any]) -> bool | None:
    """Whether auto-exposure had settled for this frame: from ``AeState`` (libcamera 0.5 and later) or
    ``AeLocked`` (before); None when the platform reports neither."""
    state = metadata.get("AeState")
    if state is not None:
        return int(state) != AE_SEARCHING
    locked = metadata.get("AeLocked")
    return None if locked is None else bool(locked)


class Picamera2Camera:
    """Every picamera2 call that can fail raises :class:`DeviceError`, never libcamera's own errors."""

    def __init__(self, config: Picamera2Config) -> None:
        picamera2_class = load_picamera2()
        self._camera = _open(picamera2_class, config)
        try:
            still = self._camera.create_still_configuration(
                main={"size": tuple(config.main_size), "format": "BGR888"},
                lores={"size": tuple(config.lores_size), "format": "YUV420"},
                raw=None, buffer_count=2, queue=False,
            )
            self._camera.configure(still)
            streams = self._camera.camera_configuration()
        except OSError as exc:
            self._camera.close()
            raise DeviceError(f"camera {config.camera_num} cannot be configured: {_hint(exc)}") from None
        except (RuntimeError, ValueError) as exc:
            self._camera.close()
            raise DeviceError(f"camera {config.camera_num} rejected the configuration: {exc}") from None
        self._lores_size: tuple[int, int] = tuple(streams["lores"]["size"])
        self.model = str(self._camera.camera_properties.get("Model", "picamera2"))
        self._timeout_s = config.capture_timeout_s
        self._started = False
        self._closed = False

    def start(self) -> None:
        if not self._started:
            with _as_device_error("camera did not start"):
                self._camera.start()
            self._started = True

    def stop(self) -> None:
        if self._started:
            self._started = False
            # No job may be left queued: picamera2 runs stop behind it, and a dead camera never finishes it.
            self._camera.cancel_all_and_flush()
            _bounded(self._camera.stop, "camera did not stop")

    def capture(self) -> CameraFrame:
        main, lores_yuv, raw_metadata = self._fresh(lambda r: (r.make_array("main"), r.make_array("lores"),
                                                               r.get_metadata()))
        width, height = self._lores_size
        metadata: dict[str, MetadataValue] = {key: _plain(raw_metadata.get(key)) for key in METADATA_KEYS}
        return CameraFrame(main, yuv420_to_rgb(lores_yuv, width, height), metadata, self.model,
                           exposure_settled=exposure_settled(raw_metadata))

    def settle(self, timeout_s: float) -> bool:
        """Wait, at most ``timeout_s``, for auto-exposure to settle (after a start, or the IR going on). True when
        it has, or when the platform does not say; False when it is still searching at the deadline."""
        if not self._started:
            return False
        if timeout_s <= 0:
            return True  # told not to wait, not even for one frame: each frame's metadata still says if it settled
        deadline = time.monotonic() + timeout_s
        while True:
            settled = exposure_settled(self._fresh(lambda r: r.get_metadata()))
            if settled is not False:
                return True
            if time.monotonic() >= deadline:
                return False

    def scene_lux(self) -> float | None:
        if not self._started:
            return None
        lux = self._fresh(lambda r: r.get_metadata()).get("Lux")
        return float(lux) if lux is not None else None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.stop()
        finally:
            _bounded(self._camera.close, "camera did not close")

    def _fresh(self, read: Callable[[Any], Any]) -> Any:
        """``read`` a request exposed after this call, within the timeout. A timeout cancels picamera2's queue
        and restarts the camera (a libcamera frontend timeout stops its streams until then)."""
        try:
            with _as_device_error("camera capture failed"), \
                    self._camera.captured_request(wait=self._timeout_s, flush=True) as request:
                return read(request)
        except concurrent.futures.TimeoutError:
            restarted = self._restart()
            raise DeviceError(f"camera gave no frame within {self._timeout_s:g} s (camera.capture_timeout_s); "
                              f"{restarted}; check the ribbon cable") from None

    def _restart(self) -> str:
        self._camera.cancel_all_and_flush()
        try:
            _bounded(self._camera.stop, "camera did not stop")
            with _as_device_error("camera did not start again"):
                self._camera.start()
        except DeviceError as exc:
            log.error("%s", exc)
            return "restarting it failed"
        return "restarted it"


def _open(picamera2_class: Any, config: Picamera2Config) -> Any:
    try:
        cameras = picamera2_class.global_camera_info()
    except RuntimeError as exc:
        raise DeviceError(f"libcamera cannot list cameras: {exc}") from None
    if config.camera_num >= len(cameras):
        raise DeviceError(
            f"no camera number {config.camera_num} found ({len(cameras)} connected); check the ribbon "
            "cable and `rpicam-hello --list-cameras`, or set camera.camera_num"
        )
    tuning = None
    if config.tuning is not None:
        try:
            tuning = picamera2_class.load_tuning_file(Path(config.tuning).name, dir=_folder_of(config.tuning))
        except (RuntimeError, OSError, ValueError) as exc:
            raise DeviceError(f"camera.tuning {config.tuning!r} cannot be loaded ({exc}); name a file in "
                              "/usr/share/libcamera/ipa/rpi/*/ such as imx219_noir.json, or a path") from None
    try:
        return picamera2_class(config.camera_num, tuning=tuning)
    except PermissionError as exc:
        raise DeviceError(f"camera {config.camera_num}: no permission to {exc.filename or 'its buffers'}; run trapd "
                          "as a member of the video group (the service unit does)") from None
    except (RuntimeError, IndexError, OSError) as exc:
        raise DeviceError(
            f"camera {config.camera_num} cannot be opened ({exc}); is another program using it?"
        ) from None


def _folder_of(tuning: str) -> str | None:
    folder = Path(tuning).parent
    return str(folder) if str(folder) != "." else None


def _bounded(call: Callable[[], object], what: str, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Run a camera call that has no timeout of its own (stop, close) on a thread, and give up after
    ``timeout_s``: a hung driver must not hang trapd's shutdown, which systemd would then have to kill."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            failure.append(exc)

    worker = NamedThread(target=run, name="trapd-camera-stop", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise DeviceError(f"{what} within {timeout_s:g} s: the camera is hung (check the ribbon cable)")
    if failure:
        with _as_device_error(what):
            raise failure[0]


@contextmanager
def _as_device_error(what: str) -> Iterator[None]:
    """libcamera reports failures as RuntimeError, and memory as OSError; say them as DeviceError. A timeout
    (concurrent.futures.TimeoutError, which is the builtin TimeoutError only from Python 3.11) passes through."""
    try:
        yield
    except concurrent.futures.TimeoutError:
        raise
    except (OSError, RuntimeError) as exc:
        raise DeviceError(f"{what}: {_hint(exc)}") from None


def _hint(exc: OSError | RuntimeError) -> str:
    """What a camera failure says: the CMA advice when memory ran out (an OSError from the dma-heap, or
    libcamera's RuntimeError text), else the error itself."""
    if isinstance(exc, OSError):
        return CMA_HINT if exc.errno == errno.ENOMEM else f"{exc.strerror or exc}"
    return CMA_HINT if "Cannot allocate memory" in str(exc) else str(exc)


def _plain(value: Any) -> MetadataValue:
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)
