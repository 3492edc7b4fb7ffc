"""Pixel helpers shared by the camera adapters: decoding, colour conversion, resizing."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError

from trapd.frames import RGBImage

JPEG_MAGIC = b"\xff\xd8\xff"
#: The EXIF tag saying how a photo must be turned to stand upright.
ORIENTATION = 0x0112
MAKE, MODEL = 0x010F, 0x0110


class UndecodableImage(ValueError):
    """A JPEG that cannot be turned into pixels; ``str()`` says why in words."""


@dataclass(frozen=True, slots=True)
class Decoded:
    rgb: RGBImage
    #: Why the photo's EXIF could not be read (it is then taken as upright), or None. A frame whose
    #: metadata is damaged is still a frame: kept, and flagged.
    metadata_error: str | None = None
    #: The camera that took the photo, from its EXIF Make and Model (printable ASCII, as EXIF holds), if given.
    make: str | None = None
    model: str | None = None


def decode_jpeg(data: bytes, at_least: int | tuple[int, int] | None = None) -> RGBImage:
    """The pixels of :func:`decode_photo`."""
    return decode_photo(data, at_least).rgb


def decode_photo(data: bytes, at_least: int | tuple[int, int] | None = None) -> Decoded:
    """Decode to upright RGB whatever the file holds: grayscale, CMYK or EXIF-rotated JPEGs.

    ``at_least``: decode only at a reduced size no smaller than this (a side, or a width and a
    height), using the JPEG's own DCT scaling (1/2 to 1/8): several times faster when full
    resolution is not needed.

    A plain photo (YCbCr or grey, upright) is decoded by libjpeg-turbo straight into its array
    (simplejpeg); anything else, and anything it refuses, by Pillow. Both give the same pixels;
    the first holds one copy of the frame where Pillow holds three at its peak (its own 4-byte
    pixels, its export, and the array): 9 MB against 30 MB for a 2028x1520 frame.
    """
    if not data.startswith(JPEG_MAGIC):
        raise UndecodableImage("not a JPEG (no FFD8FF start-of-image marker)")
    wanted = (at_least, at_least) if isinstance(at_least, int) else at_least
    try:
        with Image.open(io.BytesIO(data)) as image:  # the header only, for the EXIF orientation
            orientation, metadata_error = _orientation(image)
            make, model = _camera_of(image) if metadata_error is None else (None, None)
            if orientation == 1:
                plain = _decode_plain(data, wanted)
                if plain is not None:
                    return Decoded(plain, metadata_error, make, model)
            if wanted is not None:
                image.draft("RGB", wanted)
            image.load()
            upright = image.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else image
            rgb = upright.convert("RGB") if upright.mode != "RGB" else upright
            return Decoded(np.asarray(rgb, dtype=np.uint8), metadata_error, make, model)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # Pillow reports a truncated file as OSError("image file is truncated ..."), and a header
        # claiming gigapixels as DecompressionBombError: either way kept, flagged, never a crash.
        raise UndecodableImage(f"JPEG does not decode: {exc}") from None


#: How to turn a photo upright for each EXIF orientation (done here, not by ImageOps.exif_transpose,
#: which rewrites the EXIF it read and fails on the damaged EXIF real cards carry).
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


def _decode_plain(data: bytes, wanted: tuple[int, int] | None) -> RGBImage | None:
    """libjpeg-turbo's decode of a YCbCr or grey JPEG; None for anything Pillow must handle."""
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        if colorspace not in ("YCbCr", "Gray") or width * height > Image.MAX_IMAGE_PIXELS:
            return None
        scale = _power_of_two_scale(width, height, wanted)
        decoded: RGBImage = simplejpeg.decode_jpeg(data, "RGB", min_width=-(-width // scale),
                                                   min_height=-(-height // scale))
        return decoded
    except ValueError:
        return None  # truncated, damaged or odd: Pillow decodes it, or says why it cannot


def _orientation(image: Image.Image) -> tuple[int, str | None]:
    """The EXIF orientation (1: upright), and why it could not be read, if it could not."""
    try:
        orientation = image.getexif().get(ORIENTATION, 1)
    except Exception as exc:
        # Pillow's EXIF parser meets whatever a card holds and fails in many ways (struct.error,
        # TypeError, AttributeError, ...). The pixels do not depend on it: they are kept, and this
        # reason flags the frame.
        return 1, f"EXIF does not read ({type(exc).__name__}: {str(exc)[:120]})"
    return (orientation, None) if isinstance(orientation, int) and 1 <= orientation <= 8 else (1, None)


def _camera_of(image: Image.Image) -> tuple[str | None, str | None]:
    """EXIF Make and Model, kept only as the printable ASCII EXIF holds (a card's bytes are input)."""
    try:
        exif = image.getexif()
        found = [exif.get(tag) for tag in (MAKE, MODEL)]
    except Exception:  # already said by _orientation, which read the same EXIF
        return None, None
    plain = [text.strip("\x00 ")[:64] if isinstance(text, str) else "" for text in found]
    clean = [text if text and all(" " <= c <= "~" for c in text) else None for text in plain]
    return clean[0], clean[1]


def _power_of_two_scale(width: int, height: int, wanted: tuple[int, int] | None) -> int:
    """The largest of 1, 2, 4 and 8 that keeps the decoded size at least ``wanted``: the reduction Pillow's
    draft() chooses, so both decoders give the same pixels."""
    if wanted is None:
        return 1
    most = min(width // wanted[0], height // wanted[1])
    return next(scale for scale in (8, 4, 2, 1) if most >= scale or scale == 1)


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
