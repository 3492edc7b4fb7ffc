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
    #: Frames drawn once at start-up and served in a loop: a camera hands over ready buffers, so
    #: the fake must not spend its capture time drawing (that would be timed as trigger latency).
    #: Few of them: at full resolution each costs ~9 MB, which would be billed to the trap.
    LOOP_FRAMES = 4

    def __init__(self, main_size: tuple[int, int], lores_size: tuple[int, int], seed: int = 0) -> None:
        super().__init__()
        self.model = "synthetic"
        width, height = main_size
        rng = np.random.default_rng(seed)
        # Ground and sky gradient with grain; each frame moves a dark "animal" across the lower half.
        rows = np.linspace(170, 80, height, dtype=np.float32)[:, None, None]
        tint = np.array([0.9, 1.0, 0.75], dtype=np.float32)
        grain = rng.normal(0.0, 6.0, size=(height, width, 1)).astype(np.float32)
        background = np.clip(rows * tint + grain, 0, 255).astype(np.uint8)
        radius_x, radius_y = max(width // 12, 4), max(height // 16, 3)
        yy, xx = np.ogrid[:height, :width]
        self._loop: list[tuple[np.ndarray, np.ndarray]] = []
        for step in range(self.LOOP_FRAMES):
            main = background.copy()
            x, y = int(step / self.LOOP_FRAMES * width), int(height * 0.65)
            main[((xx - x) / radius_x) ** 2 + ((yy - y) / radius_y) ** 2 <= 1.0] = (60, 45, 30)
            self._loop.append((main, resize_rgb(main, lores_size)))

    @classmethod
    def from_config(cls, config: SyntheticCameraConfig) -> SyntheticCamera:
        return cls(config.main_size, config.lores_size, seed=config.seed)

    def capture(self) -> CameraFrame:
        called_ns = time.monotonic_ns()
        index = self._next_index()
        main, lores = self._loop[index % self.LOOP_FRAMES]
        metadata = simulated_metadata(lores, called_ns)
        return CameraFrame(main, lores, metadata, self.model, source_name=f"synthetic-{index:06d}")

    def scene_lux(self) -> float | None:
        return 300.0
