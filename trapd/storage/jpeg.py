"""JPEG encoding with EXIF written from the capture time, not the save time.

picamera2's own ``request.save`` stamps DateTimeOriginal with ``datetime.now()`` when the file
is written; for a trap that writes seconds after a burst (or after a backlog) that is wrong,
so trapd builds its own EXIF from the frame's sensor timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape, unescape

import numpy as np
import simplejpeg
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
    #: (width, height) of the image the EXIF goes into.
    size: tuple[int, int]
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
    """EXIF 2.32 with every tag the standard requires in a JPEG (``exiftool -validate``: no warnings)."""
    exif = Image.Exif()
    exif[ExifTags.Base.XResolution] = IFDRational(72, 1)
    exif[ExifTags.Base.YResolution] = IFDRational(72, 1)
    exif[ExifTags.Base.ResolutionUnit] = 2  # inches
    exif[ExifTags.Base.YCbCrPositioning] = 1  # centred, as libjpeg subsamples
    exif[ExifTags.Base.Make] = fields.make
    exif[ExifTags.Base.Model] = fields.model
    exif[ExifTags.Base.Software] = f"trapd {__version__}"
    exif[ExifTags.Base.ImageDescription] = fields.description
    set_capture_time(exif, fields.captured_local)
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.ExifVersion] = b"0232"
    sub[ExifTags.Base.FlashPixVersion] = b"0100"
    sub[ExifTags.Base.ComponentsConfiguration] = b"\x01\x02\x03\x00"  # Y, Cb, Cr
    sub[ExifTags.Base.ColorSpace] = 1  # sRGB
    sub[ExifTags.Base.ExifImageWidth], sub[ExifTags.Base.ExifImageHeight] = fields.size
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
    return serialise_exif(exif)


def serialise_exif(exif: Image.Exif) -> bytes:
    """``Exif\\0\\0`` and the TIFF structure, as an APP1 segment carries it.

    Pillow writes ComponentsConfiguration as BYTE where EXIF says UNDEFINED; both are one byte
    per value, so the entry is retyped in place. Should Pillow ever write it otherwise, the bytes
    are left as they are: a pedantic validator's warning is no reason to fail storing a frame.
    """
    data = exif.tobytes()
    order: Literal["big", "little"] = "big" if data[6:8] == b"MM" else "little"
    as_byte = 0x9101.to_bytes(2, order) + (1).to_bytes(2, order) + (4).to_bytes(4, order)
    if data.count(as_byte) != 1:
        return data
    return data.replace(as_byte, 0x9101.to_bytes(2, order) + (7).to_bytes(2, order) + (4).to_bytes(4, order))


def _degrees_minutes_seconds(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction((value - degrees - minutes / 60) * 3600).limit_denominator(1000)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds.numerator, seconds.denominator)


#: trapd's own XMP namespace: the frame's record (trapd/storage/framefile.py) as one property.
TRAPD_XMP_NAMESPACE = "urn:trapd:xmp:1.0"
_FRAME_OPEN, _FRAME_CLOSE = "<trapd:frame>", "</trapd:frame>"
_XMP_IDENTIFIER = b"http://ns.adobe.com/xap/1.0/\x00"


def xmp_keywords(keywords: list[str], frame_record: str | None = None) -> bytes:
    """An XMP packet with ``dc:subject`` keywords: what Lightroom and digiKam list as the photo's
    keywords, so a person can filter a card without trapd; and, given one, trapd's record of the frame."""
    items = "".join(f"<rdf:li>{escape(keyword)}</rdf:li>" for keyword in keywords)
    record = f"{_FRAME_OPEN}{escape(frame_record)}{_FRAME_CLOSE}" if frame_record is not None else ""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:trapd="{TRAPD_XMP_NAMESPACE}">'
        f"<dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject>{record}"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def read_frame_record(path: Path) -> str | None:
    """The text of trapd's frame record in a JPEG's XMP, reading only the segments before the image data.
    None when there is none (or the file ends first)."""
    try:
        with path.open("rb") as stream:
            if stream.read(2) != b"\xff\xd8":
                return None
            while True:
                header = stream.read(4)
                if len(header) < 4 or header[0] != 0xFF or header[1] in (0xDA, 0xD9):
                    return None  # the image data (or the end) came first
                payload = stream.read(int.from_bytes(header[2:4], "big") - 2)
                if header[1] == 0xE1 and payload.startswith(_XMP_IDENTIFIER):
                    text = payload[len(_XMP_IDENTIFIER):].decode("utf-8", errors="replace")
                    start, end = text.find(_FRAME_OPEN), text.find(_FRAME_CLOSE)
                    return unescape(text[start + len(_FRAME_OPEN):end]) if 0 <= start < end else None
    except OSError:
        return None


def encode_jpeg(rgb: RGBImage, quality: int, exif: bytes, xmp: bytes | None = None) -> bytes:
    """A baseline JPEG (4:2:0, as Pillow and cameras write them) with EXIF and XMP in APP1 segments.

    libjpeg-turbo encodes straight from the array (simplejpeg): Pillow would first copy the frame
    into its own 4-byte pixels, 12 MB more for each 2028x1520 frame while it is being written.
    """
    encoded: bytes = simplejpeg.encode_jpeg(np.ascontiguousarray(rgb), quality=quality, colorspace="RGB",
                                           colorsubsampling="420", fastdct=False)
    segments = [app1_segment(exif)]
    if xmp is not None:
        segments.append(app1_segment(_XMP_IDENTIFIER + xmp))
    return with_segments(encoded, segments)


def app1_segment(payload: bytes) -> bytes:
    if len(payload) > 65_533:
        raise ValueError(f"an APP1 segment holds 65,533 bytes at most, not {len(payload)}")
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def with_segments(jpeg: bytes, segments: list[bytes]) -> bytes:
    """The JPEG with ``segments`` right after its start-of-image marker and its JFIF APP0, if it has one."""
    position = 2
    if jpeg[2:4] == b"\xff\xe0":
        position = 4 + int.from_bytes(jpeg[4:6], "big")
    return jpeg[:position] + b"".join(segments) + jpeg[position:]
