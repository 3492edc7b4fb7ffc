"""An event: the triggers, frames, detections and decisions of one sequence (Camtrap DP eventID)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal

from trapd.config import DecisionConfig
from trapd.decide import EventDecision, FrameDecision, decide_event
from trapd.detect.base import DetectionResult, DetectorInfo
from trapd.frames import Frame, Trigger
from trapd.motion import with_motion
from trapd.timebase import Instant

#: quiet: no trigger for event.gap_s; max_frames: event.max_frames reached, a new event follows;
#: shutdown: the daemon was asked to stop; storage_full: the storage reserve was reached.
EndReason = Literal["quiet", "max_frames", "shutdown", "storage_full"]


def new_event_id(at: Instant) -> str:
    """``20261121T084512.345Z-a1b2``: UTC trigger time, sortable, plus 16 random bits.

    The suffix keeps ids unique when a Pi without a real-time clock boots to the same wrong
    time twice.
    """
    stamp = at.utc.strftime("%Y%m%dT%H%M%S")
    return f"{stamp}.{at.utc.microsecond // 1000:03d}Z-{secrets.token_hex(2)}"


@dataclass(slots=True)
class EventRecord:
    event_id: str
    opened: Instant
    triggers: list[Trigger]
    frames: list[Frame] = field(default_factory=list)
    results: list[DetectionResult] = field(default_factory=list)
    decisions: list[FrameDecision] = field(default_factory=list)
    decision: EventDecision | None = None
    detector: DetectorInfo | None = None
    end_reason: EndReason = "quiet"

    def decide(self, frames: list[Frame], results: list[DetectionResult], detector: DetectorInfo,
               policy: DecisionConfig) -> None:
        """Close the event as the trap decides it, live or replayed: motion between its frames
        (pre-trigger ones included) is evidence too, then keep or discard per frame and per event."""
        self.frames = frames
        self.results = with_motion(frames, results)
        self.detector = detector
        if frames:
            self.decisions, self.decision = decide_event(self.results, policy)
        else:
            self.decisions, self.decision = [], EventDecision(False, "no frames captured (camera errors)")

    @property
    def capture_method(self) -> str:
        """Camtrap DP captureMethod: what made the camera fire."""
        return "timeLapse" if self.triggers and self.triggers[0].source == "timelapse" else "activityDetection"
