"""Synthetic fixed-camera scenes for site memory tests: one textured view, with what changes in it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from trapd.config.sections import DecisionConfig
from trapd.config.site import SiteConfig
from trapd.decide import FrameDecision, decide_frame
from trapd.detect.base import Category, Detection, DetectionResult
from trapd.motion import thumbnail
from trapd.site.filter import SiteFilter
from trapd.site.memory import SiteMemory

RGB = npt.NDArray[np.uint8]
ROCK = (0.60, 0.36, 0.14, 0.26)
SIZE = 300


def view(seed: int = 1) -> RGB:
    """A scene with structure at every scale (what a camera sees of ground, rocks and trunks)."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(30, 220, (12, 12), dtype=np.uint8)).resize((SIZE, SIZE),
                                                                                     Image.Resampling.BICUBIC)
    fine = rng.normal(0, 6, (SIZE, SIZE))
    grey = np.clip(np.asarray(coarse, dtype=np.float32) + fine, 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def jitter(scene: RGB, seed: int, sigma: float = 3.0) -> RGB:
    """The same view a moment later: sensor noise only."""
    noise = np.random.default_rng(seed).normal(0, sigma, scene.shape)
    return np.clip(scene.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def with_patch(scene: RGB, box: tuple[float, float, float, float], seed: int = 9) -> RGB:
    """Something new in the box (an animal): a texture the scene does not have there."""
    out = scene.copy()
    x, y, w, h = (int(v * SIZE) for v in box)
    rng = np.random.default_rng(seed)
    out[y:y + h, x:x + w] = rng.integers(0, 255, (h, w, 1), dtype=np.uint8).repeat(3, axis=2)
    return out


def detection(score: float, box: tuple[float, float, float, float] = ROCK, category: Category = "person"
              ) -> Detection:
    return Detection(category, category, score, box)


def site_filter(**settings: object) -> SiteFilter:
    config = SiteConfig(**settings)  # type: ignore[arg-type]
    return SiteFilter(config, DecisionConfig(), SiteMemory("test-site"))


def event(site: SiteFilter, picture: RGB, detections: list[Detection], at_s: float, *,
          label: str | None = None, timelapse: bool = False) -> FrameDecision:
    """One frame, one event: looked at, decided, learned from, as the detect stage does it."""
    result = DetectionResult("ok", tuple(detections))
    look = site.look(result, thumbnail(picture), picture, at_s)
    decision = decide_frame(result, site.policy, look)
    site.learn([look], [decision.keep], label=label, timelapse=timelapse)
    return decision
