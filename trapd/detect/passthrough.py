"""The stand-in detector (``detector.type: none``): looks at nothing, so every frame is unfiltered."""

from __future__ import annotations

from trapd.detect.base import DetectionResult, DetectorInfo
from trapd.frames import Frame


class PassthroughDetector:
    info = DetectorInfo(name="none", version="")

    def detect(self, frame: Frame) -> DetectionResult:
        return DetectionResult(status="unfiltered", reason="no detector configured (detector.type: none)")

    def close(self) -> None:
        pass
