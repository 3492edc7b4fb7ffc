from __future__ import annotations

from trapd.config.sections import DecisionConfig
from trapd.decide import decide_event, decide_frame
from trapd.detect.base import Detection, DetectionResult

POLICY = DecisionConfig()  # thresholds 0.4, unsure margin 0.1


def scored(*detections: tuple[str, float]) -> DetectionResult:
    return DetectionResult(
        "ok", tuple(Detection(category, "x", score, (0.1, 0.1, 0.1, 0.1)) for category, score in detections)  # type: ignore[arg-type]
    )


def test_a_detector_error_keeps_the_frame_and_flags_it() -> None:
    decision = decide_frame(DetectionResult("error", reason="boom"), POLICY)
    assert decision.keep and decision.flags == ("detector_error",) and "boom" in decision.reason


def test_an_unfiltered_frame_is_kept_and_flagged() -> None:
    decision = decide_frame(DetectionResult("unfiltered", reason="no detector"), POLICY)
    assert decision.keep and decision.flags == ("unfiltered",)


def test_confident_detection_keeps() -> None:
    decision = decide_frame(scored(("animal", 0.41)), POLICY)
    assert decision.keep and decision.confident and "animal (x) 0.41 >= 0.40" in decision.reason


def test_unsure_detection_keeps_but_is_not_confident() -> None:
    decision = decide_frame(scored(("animal", 0.32)), POLICY)
    assert decision.keep and not decision.confident and decision.reason.startswith("unsure")


def test_weak_detections_and_no_detections_discard_with_a_reason() -> None:
    weak = decide_frame(scored(("animal", 0.2), ("vehicle", 0.05)), POLICY)
    assert not weak.keep and weak.reason == "best animal (x) 0.20 < 0.30"
    empty = decide_frame(scored(), POLICY)
    assert not empty.keep and empty.reason == "no detections"


def test_thresholds_are_per_category() -> None:
    policy = DecisionConfig.model_validate({"thresholds": {"person": 0.9}})
    assert not decide_frame(scored(("person", 0.7)), policy).keep
    assert decide_frame(scored(("animal", 0.7)), policy).keep


def test_one_confident_frame_keeps_its_whole_event() -> None:
    decisions, event = decide_event([scored(), scored(("animal", 0.8)), scored(("animal", 0.1))], POLICY)
    assert [d.keep for d in decisions] == [True, True, True]
    assert decisions[0].reason.startswith("kept with its event: frame 1")
    assert event.keep and event.reason.startswith("frame 1")


def test_without_event_level_each_frame_stands_alone() -> None:
    policy = DecisionConfig(event_level=False)
    decisions, event = decide_event([scored(), scored(("animal", 0.8))], policy)
    assert [d.keep for d in decisions] == [False, True]
    assert event.keep


def test_an_event_of_empty_frames_is_discarded() -> None:
    decisions, event = decide_event([scored(), scored(("animal", 0.1))], POLICY)
    assert not any(d.keep for d in decisions)
    assert not event.keep and event.reason == "all 2 frames discarded"


def test_unsure_frames_do_not_pull_in_the_rest_of_the_event() -> None:
    decisions, event = decide_event([scored(("animal", 0.35)), scored()], POLICY)
    assert [d.keep for d in decisions] == [True, False]
    assert event.keep


def test_the_audit_sample_draws_only_from_discarded_frames() -> None:
    import random

    policy = DecisionConfig(audit_fraction=0.5, event_level=False)
    results = [scored(("animal", 0.9))] + [scored() for _ in range(400)]
    decisions, _ = decide_event(results, policy, random.Random(7))
    assert decisions[0].keep and not decisions[0].audit
    audited = sum(d.audit for d in decisions[1:])
    assert 150 < audited < 250  # about half of the 400 discarded frames
    assert not any(d.keep for d in decisions[1:])
    none, _ = decide_event(results, DecisionConfig(audit_fraction=0.0, event_level=False), random.Random(7))
    assert sum(not d.keep for d in none) == 400 and not any(d.audit for d in none)


def test_an_event_of_one_discarded_frame_says_why_in_one_sentence() -> None:
    _, event = decide_event([scored(("animal", 0.1))], POLICY)
    assert event.reason == "its one frame discarded: best animal (x) 0.10 < 0.30"
