"""The contact sheet's thumbnails: small upright JPEGs of stored frames, made once and kept.

A thumbnail is decoded at a reduced size by the JPEG's own DCT scaling (trapd/imaging.py), so a
2028x1520 frame costs a few milliseconds. They are written by rename without an fsync each: a
report is rebuilt from the card, and build.py syncs them once before its cache says they exist.
A frame that will not decode (a damaged card, a truncated write) gets no thumbnail; its card says so.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import simplejpeg

from trapd.files import write_atomic
from trapd.imaging import UndecodableImage, decode_photo, resize_rgb

log = logging.getLogger(__name__)

#: The longest side of a thumbnail, in pixels: twice what a contact sheet shows of it (sharp on a laptop's
#: high-density screen), enough for an audit card; about 9 KB each.
THUMB_SIDE_PX = 240
THUMB_QUALITY = 72
#: Larger files are not frames trapd wrote; they are not read whole into memory to be thumbnailed.
MAX_FRAME_BYTES = 64 * 2**20


@dataclass(frozen=True, slots=True)
class ThumbJob:
    source: Path
    target: Path


def thumbnail_jpeg(data: bytes) -> bytes:
    """A thumbnail of a JPEG; :class:`UndecodableImage` when it does not decode."""
    rgb = decode_photo(data, at_least=(THUMB_SIDE_PX // 2, THUMB_SIDE_PX // 2)).rgb
    height, width = rgb.shape[:2]
    scale = THUMB_SIDE_PX / max(width, height)
    if scale < 1:
        rgb = resize_rgb(rgb, (max(1, round(width * scale)), max(1, round(height * scale))))
    encoded: bytes = simplejpeg.encode_jpeg(rgb, quality=THUMB_QUALITY, colorspace="RGB")
    return encoded


def make_thumbnail(job: ThumbJob) -> str | None:
    """Write one thumbnail; None when done, else why not, in words."""
    try:
        with job.source.open("rb") as stream:
            data = stream.read(MAX_FRAME_BYTES + 1)
        if len(data) > MAX_FRAME_BYTES:
            return f"larger than {MAX_FRAME_BYTES // 2**20} MB"
        thumb = thumbnail_jpeg(data)
        job.target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(job.target, thumb, durable=False)
    except UndecodableImage as exc:
        return str(exc)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


class Thumbnailer:
    """Makes thumbnails on every core: decoding and encoding release the GIL, so threads do."""

    def __init__(self, workers: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1, thread_name_prefix="trapd-thumb")

    def make(self, jobs: list[ThumbJob]) -> list[str | None]:
        """For each job, in order: None when made, else why not."""
        return list(self._pool.map(make_thumbnail, jobs))

    def close(self) -> None:
        self._pool.shutdown()

    def __enter__(self) -> Thumbnailer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
