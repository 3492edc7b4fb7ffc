"""Detectors: the interface, and the implementations chosen by ``detector.type``."""

from __future__ import annotations

from trapd.config import DetectorConfig
from trapd.detect.base import Detector
from trapd.detect.passthrough import PassthroughDetector


def build_detector(config: DetectorConfig) -> Detector:
    # Only one type exists so far; the TFLite detector joins this dispatch.
    return PassthroughDetector()
