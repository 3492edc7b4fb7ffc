"""Site memory's guardrails, each on a synthetic fixed camera: what may be discounted, and what never is."""

from __future__ import annotations

import random

from tests.site_scenes import ROCK, detection, event, jitter, site_filter, view, with_patch
from trapd.config.sections import DecisionConfig
from trapd.decide import decide_event, decide_frame
from trapd.detect.base import DetectionResult
from trapd.motion import thumbnail

MINUTE = 60.0
T0 = 1_780_000_000.0


def learned_rock(**settings: object):  # type: ignore[no-untyped-def]
    """A site that has seen the rock called 'person 0.45' unchanged in 6 events over 25 minutes."""
    site = site_filter(**settings)
    scene = view()
    for i in range(6):
        event(site, jitter(scene, i), [detection(0.45)], T0 + i * 5 * MINUTE)
    return site, scene


def test_a_box_that_recurs_unchanged_becomes_scenery_and_the_reason_says_so() -> None:
    site, scene = learned_rock()
    decision = event(site, jitter(scene, 99), [detection(0.45)], T0 + 30 * MINUTE)
    assert not decision.keep
    assert "scenery: person at [0.60,0.36,0.14,0.26]" in decision.reason and "seen in 6 events since" in decision.reason
    assert decision.scenery == 1 and decision.flags == ()


def test_scenery_needs_min_sightings() -> None:
    site = site_filter()
    scene = view()
    decisions = [event(site, jitter(scene, i), [detection(0.45)], T0 + i * 10 * MINUTE) for i in range(5)]
    assert all(d.keep for d in decisions)  # 5th sighting: seen 4 times before it


def test_scenery_needs_its_sightings_spread_over_min_span() -> None:
    site = site_filter()
    scene = view()
    decisions = [event(site, jitter(scene, i), [detection(0.45)], T0 + i * MINUTE) for i in range(12)]
    assert all(d.keep for d in decisions)  # 12 sightings, but within 11 minutes < 15


def test_a_high_score_is_never_discounted() -> None:
    site, scene = learned_rock()
    decision = event(site, jitter(scene, 99), [detection(0.75)], T0 + 30 * MINUTE)
    assert decision.keep and "scenery" not in decision.reason


def test_an_animal_lying_on_the_rock_changes_its_look_and_is_kept() -> None:
    site, scene = learned_rock()
    decision = event(site, with_patch(scene, ROCK), [detection(0.45, category="animal")], T0 + 30 * MINUTE)
    assert decision.keep and "scenery" not in decision.reason


def test_other_detections_still_count() -> None:
    site, scene = learned_rock()
    decision = event(site, jitter(scene, 99), [detection(0.45), detection(0.42, (0.05, 0.6, 0.2, 0.2), "animal")],
                     T0 + 30 * MINUTE)
    assert decision.keep and "animal" in decision.reason


def labelled_empty(site, scene, n: int = 3) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        event(site, jitter(scene, 100 + i), [detection(0.45)], T0 - (n - i) * MINUTE, label="empty")


def test_a_box_marked_empty_is_scenery_at_once_while_a_change_test_guards_it() -> None:
    site = site_filter()
    scene = view()
    labelled_empty(site, scene, n=1)
    assert event(site, jitter(scene, 1), [detection(0.45)], T0).keep  # one reference: no change test yet
    site = site_filter()
    labelled_empty(site, scene, n=3)
    decision = event(site, jitter(scene, 1), [detection(0.45)], T0)
    assert not decision.keep and "marked empty by a person" in decision.reason


def test_the_change_test_keeps_what_the_detector_missed_and_says_where() -> None:
    site = site_filter()
    scene = view()
    labelled_empty(site, scene)
    missed = event(site, with_patch(scene, (0.05, 0.05, 0.15, 0.2)), [], T0)
    assert missed.keep and "site_change" in missed.flags
    assert "differs from the site's empty scene at the top left" in missed.reason
    assert "the detector alone: no detections" in missed.reason
    assert not event(site, jitter(scene, 7), [], T0 + MINUTE).keep


def test_the_change_test_ignores_a_change_of_light() -> None:
    site = site_filter()
    scene = view()
    labelled_empty(site, scene)
    dimmer = (scene.astype(float) * 0.6 + 20).astype("uint8")
    assert not event(site, dimmer, [], T0).keep


def test_the_change_test_ignores_a_burned_in_clock() -> None:
    site = site_filter()
    scene = view()
    for i in range(4):  # a clock in the top row whose digits differ in every picture
        event(site, with_patch(jitter(scene, i), (0.3, 0.0, 0.4, 0.05), seed=i), [], T0 + i * MINUTE, label="empty")
    assert not event(site, with_patch(scene, (0.3, 0.0, 0.4, 0.05), seed=77), [], T0 + 10 * MINUTE).keep
    assert event(site, with_patch(scene, (0.1, 0.5, 0.15, 0.2), seed=77), [], T0 + 11 * MINUTE).keep


def test_boxes_of_labelled_animals_never_become_scenery() -> None:
    site = site_filter()
    scene = view()
    event(site, jitter(scene, 1), [detection(0.45, category="animal")], T0, label="animal")
    decisions = [event(site, jitter(scene, i), [detection(0.45, category="animal")], T0 + i * 10 * MINUTE)
                 for i in range(2, 12)]
    assert all(d.keep for d in decisions)
    assert site.memory.entries[0].protected


def test_the_audit_sample_keeps_sampling_what_the_memory_discards() -> None:
    site, scene = learned_rock()
    result = DetectionResult("ok", (detection(0.45),))
    look = site.look(result, thumbnail(scene), scene, T0 + 30 * MINUTE)
    assert look is not None and look.scenery
    policy = DecisionConfig(audit_fraction=1.0)
    decisions, _ = decide_event([result], policy, random.Random(1), [look])
    assert not decisions[0].keep and decisions[0].audit


def test_the_memory_is_capped_and_forgets_what_it_has_not_seen() -> None:
    site = site_filter(max_entries=3, forget_after_h=1.0)
    scene = view()
    for i in range(5):
        box = (0.05 + 0.18 * i, 0.7, 0.1, 0.1)
        event(site, jitter(scene, i), [detection(0.45, box)], T0 + i * MINUTE)
    assert len(site.memory.entries) == 3
    assert [round(e.box[0], 2) for e in site.memory.entries] == [0.41, 0.59, 0.77]  # the least recently seen went
    event(site, jitter(scene, 9), [], T0 + 2 * 3600)
    assert site.memory.entries == []


def test_moving_the_camera_clears_the_memory_and_says_so() -> None:
    said: list[str] = []
    site, _ = learned_rock()
    site._warn = said.append
    elsewhere = view(seed=2)
    for i in range(2):
        event(site, jitter(elsewhere, i), [], T0 + (40 + i) * MINUTE)
    assert site.memory.entries and not said  # two events could be a person in front of the lens
    event(site, jitter(elsewhere, 3), [], T0 + 43 * MINUTE)
    assert site.memory.entries == [] and site.memory.references == []
    assert said == ["site memory of deployment test-site was cleared: the whole scene changed (camera moved or "
                    "re-aimed?); it learns the new view (trapd site show)"], "one sentence, the same each time"
    assert "camera moved" in site.memory.teachings[-1]


def test_automatic_references_come_only_from_calm_discarded_or_time_lapse_frames() -> None:
    site = site_filter(auto_reference_gap_min=0.0)
    scene = view()
    event(site, jitter(scene, 1), [detection(0.45)], T0)  # kept (0.45): no reference
    assert site.memory.references == []
    event(site, jitter(scene, 2), [], T0 + MINUTE)  # discarded, nothing changed
    event(site, jitter(scene, 3), [detection(0.45)], T0 + 2 * MINUTE, timelapse=True)
    assert [r.labelled for r in site.memory.references] == [False, False]


def test_a_failed_detection_is_decided_as_ever() -> None:
    site, scene = learned_rock()
    failed = DetectionResult("error", reason="boom")
    assert site.look(failed, thumbnail(scene), scene, T0) is None
    assert decide_frame(failed, site.policy, None).keep


def test_scenery_must_still_look_the_same_even_where_nothing_else_tells() -> None:
    # No references and no history: the appearance sample is the only guard left.
    from trapd.site.memory import Entry
    from trapd.site.pictures import crop, grey

    site = site_filter()
    scene = view()
    site.memory.entries.append(Entry(ROCK, "person", crop(grey(scene), ROCK), T0, T0 + 3600, events=9, hours=3,
                                     stable_since_s=T0, stable=9))
    assert not event(site, jitter(scene, 1), [detection(0.45)], T0 + 2 * 3600).keep
    site.memory.history.clear()
    assert event(site, with_patch(scene, ROCK), [detection(0.45)], T0 + 3 * 3600).keep


def test_the_daemon_learns_each_event_and_leaves_its_memory_on_the_card(tmp_path, mock_factory) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_config, run_one_event
    from tests.doubles import ScriptedDetector
    from trapd.site.persist import load_memory, site_file

    config = make_config(tmp_path)
    record, _, _ = run_one_event(config, mock_factory, detector=ScriptedDetector(default=[detection(0.45)]))
    memory = load_memory(site_file(tmp_path, config.deployment.id), config.deployment.id)
    assert [e.category for e in memory.entries] == ["person"] and memory.history
    assert memory.entries[0].events == 1  # one event, however many frames saw it
    assert len(record.frames) > 1


def test_a_moved_camera_also_forgets_the_thresholds_its_labels_fitted() -> None:
    site, _ = learned_rock()
    site.memory.thresholds, site.memory.thresholds_before = {"animal": 0.7}, {"animal": 0.4}
    for i in range(3):
        event(site, jitter(view(seed=2), i), [], T0 + (40 + i) * MINUTE)
    assert site.memory.thresholds == {} and site.policy.thresholds.animal == 0.4


def test_a_raised_threshold_holds_only_while_the_change_test_can_run() -> None:
    site = site_filter()
    site.memory.thresholds = {"animal": 0.7, "person": 0.3}
    assert site.policy.thresholds.animal == 0.4, "no references: the raise is not trusted"
    assert site.policy.thresholds.person == 0.3, "a lowered threshold (a labelled animal kept) always holds"
    labelled_empty(site, view())
    assert site.policy.thresholds.animal == 0.7


def test_a_failing_site_memory_costs_no_frame_and_stops_nothing(  # type: ignore[no-untyped-def]
        tmp_path, mock_factory, monkeypatch, caplog) -> None:
    import logging

    from tests.conftest import make_config, run_one_event
    from tests.doubles import ScriptedDetector
    from trapd.site.filter import SiteFilter

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug in site memory")

    monkeypatch.setattr(SiteFilter, "look", broken)
    monkeypatch.setattr(SiteFilter, "learn", broken)
    with caplog.at_level(logging.ERROR):
        record, stored, daemon = run_one_event(make_config(tmp_path), mock_factory,
                                               detector=ScriptedDetector(default=[detection(0.45)]))
    assert all(d.keep for d in record.decisions) and stored.kept == len(record.frames)
    assert daemon.pipeline.failure is None
    assert "site memory failed on event" in caplog.text and "could not learn from event" in caplog.text
    assert any("site memory failed" in w for w in daemon.status.snapshot()["warnings"])
