"""A camera that serves a folder of real JPEGs, in name order, cycling.

Used by ``trapd run --fake --images DIR``, ``trapd simulate`` and the tests, so the whole
pipeline runs on real camera-trap photos with no Pi. A file that will not decode is still
served, with its bytes and the reason, so the pipeline keeps and flags it like any bad frame.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from trapd.config.camera import CameraCommon
from trapd.config.fields import PathSetting
from trapd.errors import DeviceError, InputError
from trapd.frames import CameraFrame
from trapd.hardware.camera import FakeCamera, simulated_metadata
from trapd.imaging import UndecodableImage, decode_photo, resize_rgb

log = logging.getLogger(__name__)

JPEG_SUFFIXES = frozenset({".jpg", ".jpeg"})


class ReplayCameraConfig(CameraCommon):
    type: Literal["replay"] = Field(description="A folder of JPEGs served as camera frames.")
    images_dir: PathSetting = Field(description="Folder of JPEGs served in name order, cycling.")


def list_jpegs(images_dir: Path) -> list[Path]:
    """The JPEG files of a folder in name order; a clear :class:`InputError` when there are none."""
    if not images_dir.exists():
        raise InputError(f"image folder {images_dir} does not exist; pass --images DIR with your JPEGs")
    if not images_dir.is_dir():
        raise InputError(f"{images_dir} is not a folder; pass --images DIR with your JPEGs")
    try:
        entries = sorted(p for p in images_dir.iterdir() if p.is_file())
    except PermissionError:
        raise InputError(f"image folder {images_dir} is not readable; check its permissions") from None
    jpegs = [p for p in entries if p.suffix.lower() in JPEG_SUFFIXES]
    others = [p.name for p in entries if p.suffix.lower() not in JPEG_SUFFIXES]
    if not jpegs:
        found = f" (it holds {len(others)} other files)" if others else " (it is empty)"
        raise InputError(f"no .jpg/.jpeg files in {images_dir}{found}; point --images at a folder of JPEGs")
    if others:
        log.info("replay camera: ignoring %d non-JPEG files in %s (%s)", len(others), images_dir,
                 ", ".join(others[:5]) + (", ..." if len(others) > 5 else ""))
    return jpegs


def jpeg_camera_frame(path: Path, lores_size: tuple[int, int], exposure_ns: int, model: str,
                      source_name: str, at_least: int | None = None, source_camera: bool = False) -> CameraFrame:
    """A JPEG file as a camera would hand it over, with the low-resolution stream its ISP would make.

    One that will not read or decode keeps what bytes there are and says why, as a bad frame from
    a camera would: it is kept and flagged downstream, never taken for an empty scene.
    ``at_least``: decode only this large (see :func:`decode_jpeg`). ``source_camera``: the frame names the
    camera that took the photo (its EXIF Make and Model; ``model`` where it has none), as an archive's photo
    stored by `trapd replay` should; the replay camera of a simulated trap stands in for a Pi's and does not.
    """
    data = b""
    try:
        data = path.read_bytes()
        # The low-resolution frame always comes from a decode reduced to just above its size, whatever the
        # main frame needs: then `trapd replay`, `eval` and a simulated trap show the detector the same pixels.
        small = decode_photo(data, at_least=max(lores_size))
        decoded = small if at_least is not None and at_least <= max(lores_size) else decode_photo(data, at_least)
    except (OSError, UndecodableImage) as exc:
        reason = f"cannot read {path.name}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
        return CameraFrame(None, None, simulated_metadata(None, exposure_ns), model, source_name=source_name,
                           original_jpeg=data or None, decode_error=reason)
    lores = resize_rgb(small.rgb, lores_size)
    if source_camera:
        return CameraFrame(decoded.rgb, lores, simulated_metadata(lores, exposure_ns), decoded.model or model,
                           source_name=source_name, metadata_error=decoded.metadata_error,
                           camera_make=decoded.make or "unknown")
    return CameraFrame(decoded.rgb, lores, simulated_metadata(lores, exposure_ns), model, source_name=source_name,
                       metadata_error=decoded.metadata_error)


def _is_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError:
        return False  # unreadable: served, and flagged as a frame that would not read


class ReplayCamera(FakeCamera):
    def __init__(self, images_dir: Path, lores_size: tuple[int, int], model: str = "replay") -> None:
        super().__init__()
        self._files = list_jpegs(images_dir)
        self._lores_size = lores_size
        self._last_lux: float | None = None
        self.model = model

    @classmethod
    def from_config(cls, config: ReplayCameraConfig) -> ReplayCamera:
        return cls(config.images_dir, config.lores_size)

    @property
    def files(self) -> list[Path]:
        return list(self._files)

    def capture(self) -> CameraFrame:
        called_ns = time.monotonic_ns()
        path = self._files[self._next_index() % len(self._files)]
        if _is_empty(path):
            # A camera hands over no frame of 0 bytes: there is nothing to keep or to flag, so it is a camera error.
            raise DeviceError(f"replayed photo {path.name} is empty (0 bytes)")
        frame = jpeg_camera_frame(path, self._lores_size, called_ns, self.model, path.name)
        if frame.lores is not None:
            self._last_lux = float(frame.metadata["Lux"] or 0.0)
        return frame

    def scene_lux(self) -> float | None:
        # The scene is whatever photo was served last, as a warm camera's last frame would be.
        return self._last_lux
