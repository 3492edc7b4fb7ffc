"""A detector that looks at nothing: every frame is kept, marked unfiltered.

Used for ``detector.type: none``, and in place of a model that is missing or broken when
``detector.required`` is false (fail-open: the trap goes on capturing and keeps everything).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from trapd.config.fields import Section
from trapd.config.sections import DecisionConfig
from trapd.detect.base import DetectionResult, DetectorInfo
from trapd.frames import Frame


class NoDetectorConfig(Section):
    type: Literal["none"] = Field(description="Keep every frame, marked 'unfiltered'.")


class PassthroughDetector:
    def __init__(self, info: DetectorInfo | None = None,
                 reason: str = "no detector configured (detector.type: none)") -> None:
        self.info = info or DetectorInfo(name="none")
        self._reason = reason

    @classmethod
    def from_config(cls, config: NoDetectorConfig, policy: DecisionConfig) -> PassthroughDetector:
        return cls()

    def detect(self, frame: Frame) -> DetectionResult:
        return DetectionResult(status="unfiltered", reason=self._reason)

    def close(self) -> None:
        pass
