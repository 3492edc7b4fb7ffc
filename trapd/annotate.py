"""`trapd detect --annotate`: copies of photos with the detections drawn, for people without a browser.

Boxes, labels and scores are drawn on an upright copy (the same pixels the detector saw), in the
report's colours. A copy never replaces its photo: a target that is the source itself is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from trapd.detect.base import Detection
from trapd.errors import StorageError, UsageError
from trapd.files import write_atomic
from trapd.hardware.replay import JPEG_SUFFIXES
from trapd.imaging import UndecodableImage, decode_photo

COLOURS = {"animal": (0, 158, 115), "person": (204, 121, 167), "vehicle": (0, 114, 178)}


def photos_in(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """Each photo with the name its copy gets: a file as itself, a folder's JPEGs (sub-folders too) by their
    path inside it. A path that does not exist is a one-line error."""
    found: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            found += [(p, p.relative_to(path)) for p in sorted(path.rglob("*"))
                      if p.is_file() and p.suffix.lower() in JPEG_SUFFIXES]
        elif path.is_file():
            found.append((path, Path(path.name)))
        else:
            raise UsageError(f"{path} does not exist; give JPEG photos or folders of them")
    return found


def annotated_jpeg(data: bytes, detections: tuple[Detection, ...]) -> bytes:
    """The photo, upright, with each detection's box and "label score" drawn."""
    rgb = decode_photo(data).rgb
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    width, height = image.size
    line = max(2, round(min(width, height) / 300))
    font = ImageFont.load_default(size=max(12, round(height / 45)))
    for detection in sorted(detections, key=lambda d: d.score):
        x, y, w, h = detection.bbox
        box = (x * width, y * height, (x + w) * width, (y + h) * height)
        colour = COLOURS.get(detection.category, (230, 159, 0))
        draw.rectangle(box, outline=colour, width=line)
        text = f"{detection.label} {detection.score:.2f}"
        left, top, right, bottom = draw.textbbox((box[0], box[1]), text, font=font)
        label_top = max(0.0, box[1] - (bottom - top) - 2 * line)
        draw.rectangle((box[0], label_top, box[0] + (right - left) + 2 * line, label_top + (bottom - top) + 2 * line),
                       fill=colour)
        draw.text((box[0] + line, label_top + line - (top - box[1])), text, fill=(255, 255, 255), font=font)
    buffer = BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def write_annotated(source: Path, target: Path, detections: tuple[Detection, ...]) -> str | None:
    """Write the annotated copy; None when written, else why not (a photo that does not decode)."""
    if target.resolve() == source.resolve():
        raise StorageError(f"--annotate would write over the photo {source}; give a folder of its own")
    try:
        data = annotated_jpeg(source.read_bytes(), detections)
    except UndecodableImage as exc:
        return str(exc)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data, durable=False)
    except OSError as exc:
        raise StorageError(f"--annotate {target.parent} cannot be written ({exc.strerror or exc})") from None
    return None
