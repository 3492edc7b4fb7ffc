"""A camera that draws its frames: a textured background with a dark blob walking across it.

For laptops and tests with no photos at hand. Deterministic for a given seed.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import Field

from trapd.config.camera import CameraCommon
from trapd.config.fields import Resolution
from trapd.frames import CameraFrame
from trapd.hardware.camera import FakeCamera, simulated_metadata
from trapd.imaging import resize_rgb


class SyntheticCameraConfig(CameraCommon):
    type: Literal["synthetic"] = Field(description="Generated frames, for machines with no photos at hand.")
    main_size: Resolution = Field((1280, 960), description="Width, height of the generated frames.")
    seed: int = Field(0, ge=0, description="Seed of the generated scenes, for repeatable runs.")


class SyntheticCamera(FakeCamera):
    #: Where the "animal" stands in successive frames, served in a loop.
    LOOP_FRAMES = 4
    #: Rows of the background drawn at a time: drawing it whole in floating point would take several
    #: times the frame in memory at start-up (over 100 MB at 2028x1520), and a peak RSS measured on a
    #: synthetic trap would be the fake's, not the trap's.
    DRAW_ROWS = 128

    def __init__(self, main_size: tuple[int, int], lores_size: tuple[int, int], seed: int = 0) -> None:
        super().__init__()
        self.model = "synthetic"
        width, height = main_size
        # Ground and sky gradient with grain; each frame moves a dark "animal" across the lower half.
        self._background = _grainy_gradient(width, height, np.random.default_rng(seed), self.DRAW_ROWS)
        radius_x, radius_y = max(width // 12, 4), max(height // 16, 3)
        yy, xx = np.ogrid[-radius_y:radius_y + 1, -radius_x:radius_x + 1]
        self._blob = (xx / radius_x) ** 2 + (yy / radius_y) ** 2 <= 1.0
        self._radius = (radius_x, radius_y)
        self._lores: list[np.ndarray] = [resize_rgb(self._drawn(step), lores_size) for step in range(self.LOOP_FRAMES)]

    def _drawn(self, step: int) -> np.ndarray:
        """A new frame: the background with the animal at ``step``. New each time, as picamera2's
        capture_array copies each frame out of the camera's buffer: a frame never shares pixels with another."""
        main = self._background.copy()
        height, width = main.shape[:2]
        radius_x, radius_y = self._radius
        x, y = int(step / self.LOOP_FRAMES * width), int(height * 0.65)
        top, left = y - radius_y, x - radius_x
        rows = slice(max(top, 0), min(y + radius_y + 1, height))
        cols = slice(max(left, 0), min(x + radius_x + 1, width))
        blob = self._blob[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left]
        main[rows, cols][blob] = (60, 45, 30)
        return main

    @classmethod
    def from_config(cls, config: SyntheticCameraConfig) -> SyntheticCamera:
        return cls(config.main_size, config.lores_size, seed=config.seed)

    def capture(self) -> CameraFrame:
        called_ns = time.monotonic_ns()
        index = self._next_index()
        step = index % self.LOOP_FRAMES
        lores = self._lores[step].copy()
        metadata = simulated_metadata(lores, called_ns)
        return CameraFrame(self._drawn(step), lores, metadata, self.model, source_name=f"synthetic-{index:06d}")

    def scene_lux(self) -> float | None:
        return 300.0


def _grainy_gradient(width: int, height: int, rng: np.random.Generator, block_rows: int) -> np.ndarray:
    """Sky to ground, light to dark, with grain: drawn ``block_rows`` at a time into one uint8 frame."""
    background = np.empty((height, width, 3), dtype=np.uint8)
    rows = np.linspace(170, 80, height, dtype=np.float32)[:, None, None]
    tint = np.array([0.9, 1.0, 0.75], dtype=np.float32)
    for top in range(0, height, block_rows):
        bottom = min(top + block_rows, height)
        grain = rng.normal(0.0, 6.0, size=(bottom - top, width, 1)).astype(np.float32)
        background[top:bottom] = np.clip(rows[top:bottom] * tint + grain, 0, 255)
    return background
