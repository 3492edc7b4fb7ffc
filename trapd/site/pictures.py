"""The small pictures site memory works on, and how two of them compare.

Everything here is on the low-resolution frame the detector was given: a 64x48 grey thumbnail of
it (a 16x12 grid of 4x4-pixel cells) for the change tests, and 32x32 grey crops of a box for
appearance. A few hundred microseconds a frame on a Pi-class core.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from PIL import Image

from trapd.frames import RGBImage
from trapd.motion import Thumbnail

Box = tuple[float, float, float, float]
Grey = npt.NDArray[np.uint8]
Cells = npt.NDArray[np.float32]
SiteThumb = npt.NDArray[np.float32]

#: Thumbnail (width, height): half the motion thumbnail each way, so it costs one reshape.
THUMB_SIZE = (64, 48)
#: Cell side in thumbnail pixels: a 16x12 grid, each cell 6% x 8% of the frame.
CELL_PX = 4
#: The appearance sample of a box.
CROP_SIZE = (32, 32)
#: Grey levels at or above this are clipped white (sun, IR glare): they carry no comparable detail.
CLIPPED = 250.0


def site_thumb(motion_thumbnail: Thumbnail) -> SiteThumb:
    """The 64x48 float thumbnail: the 2x2 mean of the 128x96 one motion already made."""
    big = motion_thumbnail.astype(np.float32)
    height, width = big.shape
    small: SiteThumb = big.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
    return small


def grey(lores: RGBImage) -> Image.Image:
    """The low-resolution frame in grey, as an image its boxes are sampled from."""
    return Image.fromarray(lores).convert("L")


def crop(picture: Image.Image, box: Box) -> Grey:
    """A 32x32 grey sample of a normalised [x, y, w, h] box (at least one pixel of it), resampled straight
    from the frame: no copy of the region is made."""
    x, y, w, h = box
    width, height = picture.size
    x0, y0 = min(width - 1, int(max(0.0, x) * width)), min(height - 1, int(max(0.0, y) * height))
    x1, y1 = max(x0 + 1, int(min(1.0, x + w) * width)), max(y0 + 1, int(min(1.0, y + h) * height))
    # reducing_gap: a box-average first, then bilinear: a large box costs 0.1 ms, not 0.25.
    sample = picture.resize(CROP_SIZE, Image.Resampling.BILINEAR, box=(x0, y0, x1, y1), reducing_gap=2.0)
    return np.asarray(sample, dtype=np.uint8)


def ncc(a: npt.NDArray[np.generic], b: npt.NDArray[np.generic]) -> float:
    """Normalised correlation, -1..1: blind to brightness and contrast. Two flat patches are alike."""
    x = a.astype(np.float32).ravel()
    y = b.astype(np.float32).ravel()
    x -= x.mean()
    y -= y.mean()
    xx, yy = float(x @ x), float(y @ y)
    if xx < 1e-6 or yy < 1e-6:
        return 1.0 if xx < 1e-6 and yy < 1e-6 else 0.0
    return float(x @ y) / math.sqrt(xx * yy)


def structure_similarity(a: SiteThumb, b: SiteThumb) -> float:
    """How alike two scenes' edges are (NCC of gradient magnitudes): day against night still reads high,
    another view reads near 0. Measured on the site sequences: 0.49..1 within a site, at most 0.21 across."""
    def edges(t: SiteThumb) -> SiteThumb:
        return np.abs(np.diff(t, axis=1))[:-1, :] + np.abs(np.diff(t, axis=0))[:, :-1]
    return ncc(edges(a), edges(b))


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def cell_distance(frame: SiteThumb, reference: SiteThumb) -> Cells:
    """Per cell, the mean grey difference after the best gain and offset between the two: a change of
    exposure, IR gain or daylight costs nothing, a local change does. Clipped pixels count as no change."""
    one: Cells = cell_distances(frame, reference[None])[0]
    return one


def cell_distances(frame: SiteThumb, references: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """:func:`cell_distance` to each of a stack of references at once: (n, 48, 64) in, (n, 12, 16) out."""
    count = references.shape[0]
    rows, columns = frame.shape[0] // CELL_PX, frame.shape[1] // CELL_PX
    valid = (frame < CLIPPED)[None] & (references < CLIPPED)
    pixels = valid.sum(axis=(1, 2)).astype(np.float32)
    enough = pixels >= valid[0].size // 4  # nearly all glare: nothing to compare
    counted = np.maximum(pixels, 1.0)[:, None, None]
    f = np.where(valid, frame[None], 0.0)
    r = np.where(valid, references, 0.0)
    f_mean = f.sum(axis=(1, 2))[:, None, None] / counted
    r_mean = r.sum(axis=(1, 2))[:, None, None] / counted
    f_centred = np.where(valid, f - f_mean, 0.0)
    r_centred = np.where(valid, r - r_mean, 0.0)
    spread = (f_centred * f_centred).sum(axis=(1, 2))
    gain = np.where(spread > 1e-6, (f_centred * r_centred).sum(axis=(1, 2)) / np.maximum(spread, 1e-6), 1.0)
    difference = np.where(valid, np.abs(gain[:, None, None] * f_centred - r_centred), 0.0)
    per_cell = difference.reshape(count, rows, CELL_PX, columns, CELL_PX).mean(axis=(2, 4))
    per_cell[~enough] = 0.0
    result: npt.NDArray[np.float32] = per_cell.astype(np.float32)
    return result


def cells_of(box: Box, grid: tuple[int, int]) -> tuple[slice, slice]:
    """The grid cells a normalised box covers (at least one)."""
    rows, columns = grid
    x, y, w, h = box
    x0, y0 = min(columns - 1, max(0, int(x * columns))), min(rows - 1, max(0, int(y * rows)))
    x1 = max(x0 + 1, min(columns, math.ceil((x + w) * columns)))
    y1 = max(y0 + 1, min(rows, math.ceil((y + h) * rows)))
    return slice(y0, y1), slice(x0, x1)
