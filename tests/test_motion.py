"""Motion between an event's frames: a walking animal reads high, a tree and a lighting change do not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config, run_one_event
from tests.doubles import ScriptedDetector
from trapd.config.sections import DecisionConfig
from trapd.decide import decide_event, decide_frame
from trapd.detect.base import Detection, DetectionResult
from trapd.frames import CameraFrame, Frame, Trigger
from trapd.motion import Thumbnail, thumbnail, with_motion
from trapd.storage.layout import SIDECAR_NAME
from trapd.timebase import Instant

TREE = (0.10, 0.20, 0.15, 0.50)  # normalised x, y, w, h: it stands in every frame
WIDTH, HEIGHT = 320, 240


def scene(animal_x: float | None, brightness: int = 0) -> Frame:
    """A textured background with a dark tree, and a bright animal at ``animal_x`` (None: no animal)."""
    rng = np.random.default_rng(7)  # the same background in every frame
    grey = rng.integers(90, 110, (HEIGHT, WIDTH)).astype(np.int16) + brightness
    x, y, w, h = (int(v * s) for v, s in zip(TREE, (WIDTH, HEIGHT, WIDTH, HEIGHT), strict=True))
    grey[y:y + h, x:x + w] = 30 + brightness
    if animal_x is not None:
        left = int(animal_x * WIDTH)
        grey[150:200, left:left + 40] = 220
    rgb = np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    now = Instant.now()
    return Frame("e", 0, 0, Trigger(now, "pir"), now, CameraFrame(rgb, rgb, {}, "test"))


def thumbnails_of(frames: list[Frame]) -> list[Thumbnail | None]:
    return [thumbnail(frame.camera.lores) for frame in frames]


def animal_at(x: float) -> Detection:
    return Detection("animal", "fox", 0.35, (x, 150 / HEIGHT, 40 / WIDTH, 50 / HEIGHT))


TREE_AS_GIRAFFE = Detection("animal", "giraffe", 0.5, TREE)


def test_a_walking_animal_moves_and_the_tree_it_passes_does_not() -> None:
    positions = [0.4, 0.55, 0.7]
    frames = [scene(x) for x in positions]
    results = [DetectionResult("ok", (animal_at(x), TREE_AS_GIRAFFE)) for x in positions]
    for result in with_motion(thumbnails_of(frames), results):
        animal, tree = result.detections
        assert animal.motion is not None and animal.motion > 10
        assert tree.motion is not None and tree.motion < 1


def test_a_lighting_change_moves_everything_alike_so_nothing_stands_out() -> None:
    frames = [scene(None), scene(None, brightness=40)]  # the IR light came on
    results = [DetectionResult("ok", (TREE_AS_GIRAFFE,))] * 2
    measured = with_motion(thumbnails_of(frames), results)
    assert all(r.detections[0].motion is not None and r.detections[0].motion < 2 for r in measured)


def test_a_single_frame_has_nothing_to_compare_with() -> None:
    [result] = with_motion(thumbnails_of([scene(0.5)]), [DetectionResult("ok", (animal_at(0.5),))])
    assert result.detections[0].motion is None
    assert "motion" not in result.detections[0].as_json()


def test_static_detections_count_only_above_static_min_score_when_it_is_set() -> None:
    still = Detection("animal", "giraffe", 0.5, TREE, motion=0.8)
    moving = Detection("animal", "fox", 0.35, TREE, motion=9.0)
    confident_still = Detection("animal", "elephant", 0.8, TREE, motion=0.5)
    default, gated = DecisionConfig(), DecisionConfig(static_min_score=0.7)
    assert decide_frame(DetectionResult("ok", (still,)), default).keep, "off by default: a resting animal is kept"
    decision = decide_frame(DetectionResult("ok", (still,)), gated)
    assert not decision.keep and decision.reason.startswith("static: animal (giraffe) 0.50 did not move")
    assert decide_frame(DetectionResult("ok", (still, moving)), gated).reason.startswith("unsure: animal (fox)")
    assert decide_frame(DetectionResult("ok", (confident_still,)), gated).confident


def test_the_background_giraffe_no_longer_keeps_a_burst_once_static_detections_are_gated() -> None:
    frames = [scene(None) for _ in range(3)]
    results = with_motion(thumbnails_of(frames), [DetectionResult("ok", (TREE_AS_GIRAFFE,))] * 3)
    decisions, event = decide_event(results, DecisionConfig(static_min_score=0.7, audit_fraction=0.0))
    assert not event.keep and not any(d.keep for d in decisions)
    decisions, event = decide_event(results, DecisionConfig(audit_fraction=0.0))
    assert event.keep, "the default keeps it: recall first"


def test_every_stored_detection_of_a_burst_records_its_motion(tmp_path: Path, mock_factory: MockFactory) -> None:
    detector = ScriptedDetector(default=[Detection("animal", "fox", 0.9, (0.2, 0.2, 0.3, 0.3))])
    _, stored, _ = run_one_event(make_config(tmp_path), mock_factory, detector=detector)
    sidecar = json.loads((stored.directory / SIDECAR_NAME).read_text())
    motions = [d["motion"] for frame in sidecar["frames"] for d in frame["detections"]]
    assert len(motions) == 3 and all(isinstance(m, float) and m >= 0 for m in motions)
