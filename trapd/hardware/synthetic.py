"""A camera that draws its frames: a textured background with a dark blob walking across it.

For laptops and tests with no photos at hand. Deterministic for a given seed.
"""

from __future__ import annotations

import time

import numpy as np

from trapd.frames import CameraFrame
from trapd.hardware.camera import FakeCamera, simulated_metadata
from trapd.hardware.imaging import resize_rgb


class SyntheticCamera(FakeCamera):
    def __init__(self, main_size: tuple[int, int], lores_size: tuple[int, int], seed: int = 0) -> None:
        super().__init__()
        self.model = "synthetic"
        self._main_size = main_size
        self._lores_size = lores_size
        width, height = main_size
        rng = np.random.default_rng(seed)
        # Ground and sky gradient with grain, built once: frames only move the subject.
        rows = np.linspace(170, 80, height, dtype=np.float32)[:, None, None]
        tint = np.array([0.9, 1.0, 0.75], dtype=np.float32)
        grain = rng.normal(0.0, 6.0, size=(height, width, 1)).astype(np.float32)
        self._background = np.clip(rows * tint + grain, 0, 255).astype(np.uint8)

    def capture(self) -> CameraFrame:
        called_ns = time.monotonic_ns()
        index = self._next_index()
        main = self._background.copy()
        width, height = self._main_size
        # A dark "animal" walking left to right across the lower half.
        x = int((index * 0.07 % 1.0) * width)
        y = int(height * 0.65)
        radius_x, radius_y = max(width // 12, 4), max(height // 16, 3)
        yy, xx = np.ogrid[:height, :width]
        body = ((xx - x) / radius_x) ** 2 + ((yy - y) / radius_y) ** 2 <= 1.0
        main[body] = (60, 45, 30)
        lores = resize_rgb(main, self._lores_size)
        metadata = simulated_metadata(lores, called_ns)
        return CameraFrame(main, lores, metadata, self.model, source_name=f"synthetic-{index:06d}")

    def scene_lux(self) -> float | None:
        return 300.0
