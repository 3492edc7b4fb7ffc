"""Detectors: the interface, and the implementations chosen by ``detector.type``."""

from __future__ import annotations

import logging

from trapd.config import NoDetectorConfig, TrapdConfig
from trapd.detect.base import CATEGORIES, Detector, DetectorInfo
from trapd.detect.passthrough import PassthroughDetector
from trapd.errors import ModelError

log = logging.getLogger(__name__)


def build_detector(trapd_config: TrapdConfig) -> Detector:
    """The configured detector; if its model cannot be used, refuse or run fail-open as configured."""
    config = trapd_config.detector
    if isinstance(config, NoDetectorConfig):
        return PassthroughDetector()
    from trapd.detect.detector import TfliteDetector

    # A detection that would keep the frame anyway ends the search for more evidence early.
    thresholds = trapd_config.decision.thresholds
    keep_thresholds = {category: float(getattr(thresholds, category)) for category in CATEGORIES}
    try:
        return TfliteDetector(config, keep_thresholds=keep_thresholds)
    except ModelError as exc:
        if config.required:
            raise ModelError(f"{exc} (detector.required is true: trapd will not run without it)") from None
        log.warning("detector unavailable; running fail-open, every frame kept and marked unfiltered: %s", exc)
        degraded = f"detector {config.model} unavailable, running fail-open: {exc}"
        return PassthroughDetector(DetectorInfo(name=config.model, degraded=degraded),
                                   reason=f"detector unavailable ({config.model})")
