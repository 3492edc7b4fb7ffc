"""The change test: does this frame differ from the scene known to be empty, beyond how much that scene varies?

Evidence that does not depend on the detector. Per cell of the 16x12 grid, the distance to the
nearest empty reference (after gain and offset, trapd/site/pictures.py), divided by the cell's
noise: how far apart the references themselves are there. A burned-in clock, waving foliage or
flickering water is noisy in every reference, so a change there means little; a cat in a still
corner means a lot. ``z`` is that ratio; the frame has changed when some cell's z passes
``site.change_z``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from trapd.site.pictures import Box, Cells, SiteThumb, cell_distances, cells_of

#: A cell whose reference-to-reference change is over this many times the median cell's is volatile:
#: its noise is lent to its left and right neighbours, because burned-in date, time and temperature
#: text runs along a row, and a few references never show every digit it will take.
VOLATILE = 5.0
#: The noise of a median cell, weighted in everywhere: one quiet cell must not make a hair-trigger.
NOISE_GLOBAL_WEIGHT = 2.0
#: Grey levels: two identical references still give a finite z.
NOISE_FLOOR = 0.5
#: A test needs at least this many pictures: with one there is no noise to measure.
MIN_PICTURES = 2


def noise_of(pictures: Sequence[SiteThumb]) -> Cells:
    """Per cell, the mean distance of each picture to its nearest other one."""
    return noise_from_pairs(pair_distances(pictures))


def pair_distances(pictures: Sequence[SiteThumb]) -> npt.NDArray[np.float32]:
    """(n, n, rows, columns): the cell distance of every picture to every other; infinite to itself."""
    stack = np.stack(pictures).astype(np.float32)
    pairs = np.stack([cell_distances(p, stack) for p in pictures])
    for i in range(len(pictures)):
        pairs[i, i] = np.inf
    return pairs


def noise_from_pairs(pairs: npt.NDArray[np.float32]) -> Cells:
    """Per cell, the mean distance of each picture to its nearest other one; volatile cells spread."""
    noise = pairs.min(axis=1).mean(axis=0).astype(np.float32)
    volatile = np.where(noise > VOLATILE * float(np.median(noise)), noise, 0.0)
    padded = np.pad(volatile, ((0, 0), (1, 1)))
    spread: Cells = np.maximum(noise, np.maximum(padded[:, :-2], padded[:, 2:])).astype(np.float32)
    return spread


def z_map(frame: SiteThumb, pictures: Sequence[SiteThumb], noise: Cells) -> Cells:
    """Per cell: the distance to the nearest picture, in units of the pictures' own noise."""
    distance = cell_distances(frame, np.stack(pictures).astype(np.float32)).min(axis=0)
    z: Cells = (distance / (noise + NOISE_GLOBAL_WEIGHT * float(np.median(noise)) + NOISE_FLOOR)).astype(np.float32)
    return z


def where_most(z: Cells) -> str:
    """The cell that changed most, in words a person can find on the photo."""
    row, column = np.unravel_index(int(np.argmax(z)), z.shape)
    across = ("left", "centre", "right")[min(2, 3 * int(column) // z.shape[1])]
    down = ("top", "middle", "bottom")[min(2, 3 * int(row) // z.shape[0])]
    return f"{down} {across} (cell x{int(column)} y{int(row)} of {z.shape[1]}x{z.shape[0]})"


def box_max(z: Cells, box: Box) -> float:
    rows, columns = cells_of(box, (z.shape[0], z.shape[1]))
    return float(z[rows, columns].max())
