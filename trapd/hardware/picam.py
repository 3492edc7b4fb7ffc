"""The Raspberry Pi camera through picamera2: the only module that imports it, and lazily.

``import picamera2`` imports libcamera, which exists only on a Pi, so nothing else in trapd
may import this module at load time (see :func:`trapd.hardware.open_camera`).

The camera is configured once: a full-resolution ``main`` stream in RGB (picamera2 calls the
RGB byte order ``BGR888``) and a ``lores`` stream in YUV420, the format every Pi's ISP can
give, sized for the detector. Frames come from ``captured_request(flush=True)``, which waits
for a frame whose exposure began after the call and always releases the request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import Field

from trapd.config.camera import CameraCommon
from trapd.config.fields import Resolution
from trapd.errors import DeviceError
from trapd.frames import METADATA_KEYS, CameraFrame, MetadataValue
from trapd.imaging import yuv420_to_rgb

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "on Raspberry Pi OS run `sudo apt install python3-picamera2` and create the venv with "
    "--system-site-packages; on a machine without a Pi camera use `--fake` or camera.type: replay"
)


class Picamera2Config(CameraCommon):
    type: Literal["picamera2"] = Field("picamera2", description="A Raspberry Pi camera, through picamera2.")
    camera_num: int = Field(0, ge=0, le=7, description="Index as listed by `rpicam-hello --list-cameras`.")
    main_size: Resolution = Field(
        (2028, 1520), description="Width, height of the full-resolution stream that is stored."
    )
    capture_timeout_s: float = Field(
        5.0, ge=0.5, le=120.0, description="A frame not delivered within this is a camera error (loose cable)."
    )


def load_picamera2() -> Any:
    """The Picamera2 class, or a :class:`DeviceError` saying how to get it."""
    try:
        from picamera2 import Picamera2
    except Exception as exc:
        raise DeviceError(f"picamera2 cannot be imported ({type(exc).__name__}: {exc}); {INSTALL_HINT}") from None
    return Picamera2


class Picamera2Camera:
    """Every picamera2 call that can fail raises :class:`DeviceError`, never libcamera's own errors."""

    def __init__(self, config: Picamera2Config) -> None:
        picamera2_class = load_picamera2()
        try:
            cameras = picamera2_class.global_camera_info()
        except RuntimeError as exc:
            raise DeviceError(f"libcamera cannot list cameras: {exc}") from None
        if config.camera_num >= len(cameras):
            raise DeviceError(
                f"no camera number {config.camera_num} found ({len(cameras)} connected); check the ribbon "
                "cable and `rpicam-hello --list-cameras`, or set camera.camera_num"
            )
        try:
            self._camera = picamera2_class(config.camera_num)
        except RuntimeError as exc:
            raise DeviceError(
                f"camera {config.camera_num} cannot be opened ({exc}); is another program using it?"
            ) from None
        try:
            still = self._camera.create_still_configuration(
                main={"size": tuple(config.main_size), "format": "BGR888"},
                lores={"size": tuple(config.lores_size), "format": "YUV420"},
                buffer_count=2,
            )
            self._camera.configure(still)
            streams = self._camera.camera_configuration()
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
            with _as_device_error("camera did not stop"):
                self._camera.stop()

    def capture(self) -> CameraFrame:
        # flush=True: a frame whose exposure began after this call, not one already queued.
        # A timeout, because a loose ribbon cable otherwise blocks the capture worker forever.
        with _as_device_error("camera capture failed"):
            try:
                with self._camera.captured_request(wait=self._timeout_s, flush=True) as request:
                    main = request.make_array("main")
                    lores_yuv = request.make_array("lores")
                    raw_metadata = request.get_metadata()
            except TimeoutError:
                self._camera.cancel_all_and_flush()
                raise DeviceError(
                    f"camera gave no frame within {self._timeout_s:g} s (camera.capture_timeout_s); "
                    "check the ribbon cable"
                ) from None
        width, height = self._lores_size
        metadata: dict[str, MetadataValue] = {key: _plain(raw_metadata.get(key)) for key in METADATA_KEYS}
        return CameraFrame(main, yuv420_to_rgb(lores_yuv, width, height), metadata, self.model)

    def scene_lux(self) -> float | None:
        if not self._started:
            return None
        with _as_device_error("camera metadata could not be read"):
            lux = self._camera.capture_metadata(wait=self._timeout_s).get("Lux")
        return float(lux) if lux is not None else None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.stop()
        finally:
            with _as_device_error("camera did not close"):
                self._camera.close()


@contextmanager
def _as_device_error(what: str) -> Iterator[None]:
    """libcamera reports failures as RuntimeError (and waits as TimeoutError); say them as DeviceError."""
    try:
        yield
    except (RuntimeError, TimeoutError, OSError) as exc:
        raise DeviceError(f"{what}: {exc}") from None


def _plain(value: Any) -> MetadataValue:
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)
