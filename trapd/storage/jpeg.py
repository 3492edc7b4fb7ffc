"""JPEG encoding with EXIF written from the capture time, not the save time.

picamera2's own ``request.save`` stamps DateTimeOriginal with ``datetime.now()`` when the file
is written; for a trap that writes seconds after a burst (or after a backlog) that is wrong,
so trapd builds its own EXIF from the frame's sensor timestamp.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from trapd import __version__
from trapd.frames import MetadataValue, RGBImage


@dataclass(frozen=True, slots=True)
class ExifFields:
    captured_local: datetime
    make: str
    model: str
    camera_id: str
    description: str
    metadata: dict[str, MetadataValue]
    #: (latitude, longitude), already rounded for privacy; None writes no GPS at all.
    gps: tuple[float, float] | None = None


def set_capture_time(exif: Image.Exif, captured_local: datetime) -> None:
    """The capture-time tags (with sub-seconds and UTC offset): trapd writes them, fix-time rewrites them."""
    stamp = captured_local.strftime("%Y:%m:%d %H:%M:%S")
    offset = captured_local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else "+00:00"
    subsec = f"{captured_local.microsecond // 1000:03d}"
    exif[ExifTags.Base.DateTime] = stamp
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    for tag, value in ((ExifTags.Base.DateTimeOriginal, stamp), (ExifTags.Base.SubsecTimeOriginal, subsec),
                       (ExifTags.Base.OffsetTimeOriginal, offset), (ExifTags.Base.DateTimeDigitized, stamp),
                       (ExifTags.Base.SubsecTimeDigitized, subsec), (ExifTags.Base.OffsetTimeDigitized, offset)):
        sub[tag] = value


def exif_bytes(fields: ExifFields) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = fields.make
    exif[ExifTags.Base.Model] = fields.model
    exif[ExifTags.Base.Software] = f"trapd {__version__}"
    exif[ExifTags.Base.ImageDescription] = fields.description
    set_capture_time(exif, fields.captured_local)
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.BodySerialNumber] = fields.camera_id
    exposure_us = fields.metadata.get("ExposureTime")
    if isinstance(exposure_us, int | float) and exposure_us > 0:
        ratio = Fraction(int(exposure_us), 1_000_000).limit_denominator(1_000_000)
        sub[ExifTags.Base.ExposureTime] = IFDRational(ratio.numerator, ratio.denominator)
    analogue, digital = fields.metadata.get("AnalogueGain"), fields.metadata.get("DigitalGain")
    if isinstance(analogue, int | float) and isinstance(digital, int | float):
        # The convention picamera2 uses: ISO 100 at unity gain.
        sub[ExifTags.Base.ISOSpeedRatings] = max(1, min(65535, round(analogue * digital * 100)))
    if fields.gps is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        latitude, longitude = fields.gps
        gps[ExifTags.GPS.GPSVersionID] = b"\x02\x03\x00\x00"
        gps[ExifTags.GPS.GPSLatitudeRef] = "N" if latitude >= 0 else "S"
        gps[ExifTags.GPS.GPSLatitude] = _degrees_minutes_seconds(abs(latitude))
        gps[ExifTags.GPS.GPSLongitudeRef] = "E" if longitude >= 0 else "W"
        gps[ExifTags.GPS.GPSLongitude] = _degrees_minutes_seconds(abs(longitude))
    return exif.tobytes()


def _degrees_minutes_seconds(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction((value - degrees - minutes / 60) * 3600).limit_denominator(1000)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds.numerator, seconds.denominator)


def encode_jpeg(rgb: RGBImage, quality: int, exif: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality, exif=exif)
    return buffer.getvalue()
