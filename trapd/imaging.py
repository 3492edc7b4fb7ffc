"""Pixel helpers shared by the camera adapters: decoding, colour conversion, resizing."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from trapd.frames import RGBImage

JPEG_MAGIC = b"\xff\xd8\xff"


class UndecodableImage(ValueError):
    """A JPEG that cannot be turned into pixels; ``str()`` says why in words."""


def decode_jpeg(data: bytes, at_least: int | tuple[int, int] | None = None) -> RGBImage:
    """Decode to upright RGB whatever the file holds: grayscale, CMYK or EXIF-rotated JPEGs.

    ``at_least``: decode only at a reduced size no smaller than this (a side, or a width and a
    height), using the JPEG's own DCT scaling (1/2 to 1/8): several times faster when full
    resolution is not needed.
    """
    if not data.startswith(JPEG_MAGIC):
        raise UndecodableImage("not a JPEG (no FFD8FF start-of-image marker)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if at_least is not None:
                image.draft("RGB", (at_least, at_least) if isinstance(at_least, int) else at_least)
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = upright.convert("RGB")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # Pillow reports a truncated file as OSError("image file is truncated ..."), and a header
        # claiming gigapixels as DecompressionBombError: either way kept, flagged, never a crash.
        raise UndecodableImage(f"JPEG does not decode: {exc}") from None
    return np.asarray(rgb, dtype=np.uint8)


def jpeg_size(path: Path) -> tuple[int, int]:
    """(width, height) from a JPEG's header, without decoding it; :class:`UndecodableImage` if it has none."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UndecodableImage(f"JPEG does not open: {exc}") from None


def resize_rgb(rgb: RGBImage, size: tuple[int, int]) -> RGBImage:
    """Resize to (width, height); reduces in integer steps first, which is fast and alias-free."""
    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    image = Image.fromarray(rgb)
    factor = min(image.width // size[0], image.height // size[1])
    if factor >= 2:
        image = image.reduce(factor)
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR), dtype=np.uint8)


def yuv420_to_rgb(yuv: np.ndarray, width: int, height: int) -> RGBImage:
    """Convert picamera2's planar YUV420 array, shaped (height * 3 / 2, stride), to RGB.

    The buffer holds the Y plane (height rows of ``stride`` bytes), then the U and V planes,
    each (height / 2) rows of (stride / 2) bytes. They are sliced from the flat buffer because
    a chroma plane does not fill whole rows of the array when height is not a multiple of 4
    (e.g. 480x270). picamera2 configures full-range BT.601 (sYCC), as JPEG uses.
    """
    stride = yuv.shape[1]
    flat = yuv.reshape(-1)
    chroma_size = (height // 2) * (stride // 2)
    y_end = height * stride
    y = flat[:y_end].reshape(height, stride)[:, :width].astype(np.float32)
    u = flat[y_end : y_end + chroma_size].reshape(height // 2, stride // 2)[:, : width // 2]
    v = flat[y_end + chroma_size : y_end + 2 * chroma_size].reshape(height // 2, stride // 2)[:, : width // 2]
    u = np.repeat(np.repeat(u.astype(np.float32) - 128.0, 2, axis=0), 2, axis=1)[:height, :width]
    v = np.repeat(np.repeat(v.astype(np.float32) - 128.0, 2, axis=0), 2, axis=1)[:height, :width]
    rgb = np.stack((y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u), axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def estimate_lux(rgb: RGBImage) -> float:
    """A plausible scene illuminance for fake cameras, from mean brightness (not photometry)."""
    mean = float(rgb.mean()) if rgb.size else 0.0
    # Maps a black frame to ~0 lux, mid-grey to a few hundred, white to daylight.
    brightness_percent = mean / 255.0 * 100.0
    return round(0.05 * math.pow(brightness_percent, 2.3), 2)
