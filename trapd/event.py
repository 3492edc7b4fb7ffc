"""An event: the triggers, frames, detections and decisions of one sequence (Camtrap DP eventID).

Two values, one for each half of an event's life. Capture fills an :class:`OpenEvent` (its
triggers, and why it ended); the frames travel on their own. When the event closes,
:func:`close_event` turns the open event, its frames and their detections into a frozen
:class:`DecidedEvent`: the same function for the daemon and for replay, with no state of its own.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from trapd.config.sections import DecisionConfig
from trapd.decide import ALWAYS_STORED, EventDecision, FrameDecision, decide_event, stored_whatever_the_filter_says
from trapd.detect.base import DetectionResult, DetectorInfo
from trapd.frames import Frame, Trigger
from trapd.motion import Thumbnail, with_motion
from trapd.site.look import SiteLook
from trapd.timebase import Instant

#: quiet: no trigger for event.gap_s; max_frames: event.max_frames reached, a new event follows;
#: shutdown: the daemon was asked to stop; storage_full: the storage reserve was reached;
#: interrupted: the trap stopped without closing it (a power cut, a kill) and it was recovered.
EndReason = Literal["quiet", "max_frames", "shutdown", "storage_full", "interrupted"]
CaptureMethod = Literal["activityDetection", "timeLapse"]


def new_event_id(at: Instant) -> str:
    """``20261121T084512.345Z-a1b2``: UTC trigger time, sortable, plus 16 random bits.

    The suffix keeps ids unique when a Pi without a real-time clock boots to the same wrong
    time twice.
    """
    stamp = at.utc.strftime("%Y%m%dT%H%M%S")
    return f"{stamp}.{at.utc.microsecond // 1000:03d}Z-{secrets.token_hex(2)}"


#: Triggers each frame carries of its event, for recovery: the first, and the latest before it. A wind
#: storm adds hundreds a minute to one event; every one is in its sidecar, but a frame's own record stays small.
TRIGGERS_PER_FRAME = 32


def recorded_triggers(event: OpenEvent) -> tuple[Trigger, ...]:
    """The event's triggers a frame carries: the first, and the latest up to :data:`TRIGGERS_PER_FRAME`."""
    triggers = event.triggers
    if len(triggers) <= TRIGGERS_PER_FRAME:
        return tuple(triggers)
    return (triggers[0], *triggers[-(TRIGGERS_PER_FRAME - 1):])


def capture_method_of(triggers: Sequence[Trigger]) -> CaptureMethod:
    """Camtrap DP captureMethod: what made the camera fire."""
    return "timeLapse" if triggers and triggers[0].source == "timelapse" else "activityDetection"


@dataclass(slots=True)
class OpenEvent:
    """An event while capture owns it: triggers are added as they come, and it ends for a reason."""

    event_id: str
    opened: Instant
    triggers: list[Trigger] = field(default_factory=list)
    end_reason: EndReason = "quiet"
    #: The boot the event was captured in, when that was not this run's (an event recovered after a crash).
    boot_id: str | None = None

    @classmethod
    def opened_by(cls, trigger: Trigger) -> OpenEvent:
        return cls(new_event_id(trigger.at), trigger.at, [trigger])


@dataclass(frozen=True, slots=True)
class DecidedEvent:
    """A closed event, every frame judged: what the store writes and the hooks are told of."""

    event_id: str
    opened: Instant
    triggers: tuple[Trigger, ...]
    frames: tuple[Frame, ...]
    results: tuple[DetectionResult, ...]
    decisions: tuple[FrameDecision, ...]
    decision: EventDecision
    detector: DetectorInfo
    end_reason: EndReason = "quiet"
    boot_id: str | None = None

    @property
    def capture_method(self) -> CaptureMethod:
        return capture_method_of(self.triggers)

    @property
    def last_capture(self) -> Instant:
        return self.frames[-1].captured if self.frames else self.opened


def close_event(event: OpenEvent, frames: Sequence[Frame], results: Sequence[DetectionResult],
                thumbnails: Sequence[Thumbnail | None], detector: DetectorInfo, policy: DecisionConfig,
                rng: random.Random | None = None, looks: Sequence[SiteLook | None] | None = None) -> DecidedEvent:
    """Decide an event as the trap decides it, live, replayed or recovered: motion between its frames'
    thumbnails (pre-trigger ones included) is evidence too, and what site memory saw in each frame
    (``looks``), then keep or discard per frame and per event."""
    measured = with_motion(thumbnails, results)
    if frames:
        decisions, decision = decide_event(measured, policy, rng, looks)
        source = event.triggers[0].source if event.triggers else None
        if source in ALWAYS_STORED:
            decisions, decision = stored_whatever_the_filter_says(str(source), decisions, decision)
    else:
        decisions, decision = [], EventDecision(False, "no frames captured (camera errors)")
    return DecidedEvent(event.event_id, event.opened, tuple(event.triggers), tuple(frames), tuple(measured),
                        tuple(decisions), decision, detector, event.end_reason, event.boot_id)
