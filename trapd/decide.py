"""Keep or discard: per frame, then per event, each with a reason a biologist can read.

Separate from detection so the policy is testable with scripted scores. The rules, in order:

1. A frame no detector judged (``unfiltered``) or on which detection failed (``error``) is kept
   and flagged. An error is never "empty".
2. A detection at or above its category's threshold keeps the frame (``confident``). With
   ``static_min_score`` set, a detection whose box did not move between the event's frames
   (trapd/motion.py) counts only at or above that score.
3. One within ``unsure_margin`` below the threshold keeps it too, as unsure.
4. So does a classifier's second opinion at or above ``second_opinion_threshold``.
5. Anything else is discarded, with the best score it had.
6. With ``event_level``, a confident frame keeps every frame of its event: the animal that
   triggered the burst is usually in the frames the detector missed too.
7. With site memory (trapd/site/), a detection that is this site's known scenery does not count,
   and a frame that differs from the site's empty scene is kept whatever the detector says.
8. A random ``audit_fraction`` of the discarded frames is kept apart, marked ``audit``, so a
   biologist can measure what the filter throws away: scenery discounts included.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from trapd.config.sections import DecisionConfig
from trapd.detect.base import Category, Detection, DetectionResult
from trapd.frames import Frame
from trapd.site.look import SiteLook


@dataclass(frozen=True, slots=True)
class FrameDecision:
    keep: bool
    reason: str
    #: A confident detection: the evidence an event-level decision rests on.
    confident: bool = False
    flags: tuple[str, ...] = ()
    #: A discarded frame drawn for the audit sample: stored apart, so the filter can be checked.
    audit: bool = False
    #: Detections site memory discounted as this site's scenery (the reason says which).
    scenery: int = 0


@dataclass(frozen=True, slots=True)
class EventDecision:
    keep: bool
    reason: str


def frame_flags(frame: Frame, decision: FrameDecision) -> tuple[str, ...]:
    """Everything flagged about a frame: by its decision (detector_error, unfiltered) and its capture (undecodable)."""
    return tuple(sorted(set(decision.flags) | set(frame.flags)))


def decide_frame(result: DetectionResult, policy: DecisionConfig, look: SiteLook | None = None) -> FrameDecision:
    """One frame's keep or discard; ``look`` is what site memory made of it (trapd/site/), if anything."""
    if look is None or result.status != "ok":
        return _decide_on_detections(result, policy)
    evidence = tuple(d for index, d in enumerate(result.detections) if index not in look.scenery)
    decision = _decide_on_detections(replace(result, detections=evidence), policy)
    scenery = len(look.scenery)
    if not decision.keep and look.changed:
        return FrameDecision(True, f"kept: {look.change_reason()}; the detector alone: {decision.reason}",
                             flags=("site_change",), scenery=scenery)
    if look.scenery_notes and not decision.keep:
        notes = look.scenery_notes
        said = "; ".join(notes[:2]) + (f"; and {len(notes) - 2} more scenery boxes" if len(notes) > 2 else "")
        return replace(decision, reason=f"{decision.reason}; discounted {said}", scenery=scenery)
    return replace(decision, scenery=scenery)


def _decide_on_detections(result: DetectionResult, policy: DecisionConfig) -> FrameDecision:
    if result.status == "error":
        return FrameDecision(True, f"kept, detection failed: {result.reason}", flags=("detector_error",))
    if result.status == "unfiltered":
        return FrameDecision(True, f"kept unfiltered: {result.reason}", flags=("unfiltered",))
    evidence = [d for d in result.detections if not _static_and_weak(d, policy)]
    best = max(evidence, key=lambda d: d.score - threshold_of(d.category, policy), default=None)
    if best is not None:
        threshold = threshold_of(best.category, policy)
        if best.score >= threshold:
            return FrameDecision(True, f"{_describe(best)} >= {threshold:.2f}", confident=True)
        if best.score >= keep_floor(best.category, policy):
            return FrameDecision(
                True, f"unsure: {_describe(best)} within {policy.unsure_margin:.2f} of {threshold:.2f}"
            )
    opinion = result.second_opinion
    animal = opinion.scores.get("animal", 0.0) if opinion is not None else 0.0
    if opinion is not None and animal >= policy.second_opinion_threshold:
        return FrameDecision(True, f"second opinion: {opinion.model} says animal ({opinion.labels.get('animal')}) "
                                   f"{animal:.2f} >= {policy.second_opinion_threshold:.2f}")
    if best is None and result.detections:
        still = max(result.detections, key=lambda d: d.score)
        return FrameDecision(False, f"static: {_describe(still)} did not move (motion {still.motion:.1f} < "
                                    f"{policy.moving_ratio:.1f}) and is under {policy.static_min_score:.2f}")
    if best is None:
        return FrameDecision(False, "no detections")
    return FrameDecision(False, f"best {_describe(best)} < {keep_floor(best.category, policy):.2f}")


def _static_and_weak(detection: Detection, policy: DecisionConfig) -> bool:
    """With ``static_min_score``: a box that stayed still across the event, scoring under it, is background."""
    return (policy.static_min_score is not None and detection.motion is not None
            and detection.motion < policy.moving_ratio and detection.score < policy.static_min_score)


def decide_event(
    results: Sequence[DetectionResult], policy: DecisionConfig, rng: random.Random | None = None,
    looks: Sequence[SiteLook | None] | None = None,
) -> tuple[list[FrameDecision], EventDecision]:
    """Per-frame decisions, the event-level rule, then the audit draw among what is discarded."""
    seen = looks if looks is not None else [None] * len(results)
    decisions = [decide_frame(result, policy, look) for result, look in zip(results, seen, strict=True)]
    anchor = next((i for i, d in enumerate(decisions) if d.confident), None)
    if policy.event_level and anchor is not None:
        because = f"kept with its event: frame {anchor} has {decisions[anchor].reason}"
        decisions = [d if d.keep else replace(d, keep=True, reason=because) for d in decisions]
    draw = rng or random
    decisions = [replace(d, audit=True) if not d.keep and draw.random() < policy.audit_fraction else d
                 for d in decisions]
    kept = sum(d.keep for d in decisions)
    if anchor is not None:
        event = EventDecision(True, f"frame {anchor}: {decisions[anchor].reason}")
    elif kept:
        first = next(d for d in decisions if d.keep)
        event = EventDecision(True, f"{kept} of {len(decisions)} frames kept; first: {first.reason}")
    else:
        event = EventDecision(False, f"all {len(decisions)} frames discarded" if len(decisions) != 1
                              else f"its one frame discarded: {decisions[0].reason}")
    return decisions, event


#: Captures a person or a schedule asked for: stored whatever the filter says. Aiming the camera by hand, or
#: a time-lapse of an empty scene, must leave pictures, not "3 frames, 0 kept".
ALWAYS_STORED = frozenset({"manual", "timelapse"})


def stored_whatever_the_filter_says(source: str, decisions: list[FrameDecision], decision: EventDecision
                                    ) -> tuple[list[FrameDecision], EventDecision]:
    """Keep every frame of a manual or time-lapse capture; each reason, and the flag ``filter_discards``, say
    what the filter would have done (for evaluation: the detections are recorded as ever)."""
    kept = [replace(d, keep=True, audit=False,  # its scenery count and confidence stay as the filter found them
                    reason=f"kept: {source} capture (the filter would {'keep' if d.keep else 'discard'} it: "
                           f"{d.reason})",
                    flags=(*d.flags, *(() if d.keep else ("filter_discards",))))
            for d in decisions]
    return kept, EventDecision(True, f"kept: {source} capture, stored whatever the filter says (it would "
                                     f"{'keep' if decision.keep else 'discard'} it: {decision.reason})")


def keep_floor(category: Category, policy: DecisionConfig) -> float:
    """The lowest score at which a detection of this category keeps its frame: its threshold, less the unsure
    margin. The exports ask it too, of the policy each event recorded, so "kept" means one thing everywhere."""
    return threshold_of(category, policy) - policy.unsure_margin


def threshold_of(category: Category, policy: DecisionConfig) -> float:
    return float(getattr(policy.thresholds, category))


def _describe(detection: Detection) -> str:
    return f"{detection.category} ({detection.label}) {detection.score:.2f}"
