"""The TFLite detector: cards, decoders, real models on real photos, and what happens when a model is bad."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from gpiozero.pins.mock import MockFactory

from tests.conftest import SHARED, make_config, pulse, pulse_for_events, start_daemon, trapd_cli
from tests.doubles import EventSink
from trapd.config.model import TrapdConfig
from trapd.detect.base import Category, DetectionResult
from trapd.detect.build import build_detector
from trapd.detect.cards import SsdOutputNames, builtin_cards, load_card
from trapd.detect.decoders import decode_ssd, decode_yolov8, nms
from trapd.detect.detector import TfliteDetector, TfliteDetectorConfig, plan_crops
from trapd.detect.install import install, verify
from trapd.detect.models import find_model
from trapd.errors import ConfigError, ModelError
from trapd.imaging import decode_jpeg

MODELS = SHARED / "models"
IMAGES = SHARED / "images" / "camera-trap"


@pytest.fixture
def no_models() -> None:
    """Nothing on the search path: conftest's isolated_model_folders already emptied it."""


def model_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, card_name: str, *,
                 weights: bytes | None = None, labels: bytes | None = None) -> Path:
    """A models folder, alone on the search path, with a shipped card's model: weights or labels replaced if given."""
    card = builtin_cards()[card_name]
    models = tmp_path / "models"
    models.mkdir()
    (models / card.file).write_bytes(weights if weights is not None else (MODELS / card.file).read_bytes())
    (models / card.labels).write_bytes(labels if labels is not None else (MODELS / card.labels).read_bytes())
    monkeypatch.setenv("TRAPD_MODELS_DIR", str(models))
    return models


def photo(name: str) -> np.ndarray:
    return decode_jpeg((IMAGES / name).read_bytes())


# --- cards and decoders (no model files needed) ---------------------------------------------------


def test_shipped_cards_load_and_carry_checksums() -> None:
    cards = builtin_cards()
    assert set(cards) == {"ssd-mobilenet-v1-coco", "ssd-mobilenet-v2-fpnlite-coco", "yolov8n-coco",
                          "mobilenet-v2-imagenet"}
    assert all(card.sha256 for card in cards.values())
    assert cards["yolov8n-coco"].licence == "AGPL-3.0"
    assert TfliteDetectorConfig().model != "yolov8n-coco", "the AGPL model must never be the default"


def test_a_bad_card_names_the_file_and_the_field(tmp_path: Path) -> None:
    card = tmp_path / "x.card.yaml"
    card.write_text(yaml.safe_dump({"name": "x", "file": "x.tflite", "kind": "detector", "format": "ssd_postprocess",
                                    "input": {"width": 300, "height": 300, "dtype": "int4"}, "labels": "l.txt",
                                    "categories": {"animal": ["cat"]}}))
    with pytest.raises(ConfigError, match=r"x\.card\.yaml: input\.dtype"):
        load_card(card)


def _ssd_outputs() -> dict[str, np.ndarray]:
    return {
        "boxes": np.array([[[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0]]], np.float32),
        "classes": np.array([[17.0, 0.0]], np.float32),
        "scores": np.array([[0.9, 0.05]], np.float32),
        "count": np.array([2.0], np.float32),
    }


def test_ssd_outputs_by_name_and_by_shape_agree() -> None:
    outputs = _ssd_outputs()
    names = SsdOutputNames(boxes="boxes", classes="classes", scores="scores", count="count")
    by_name = decode_ssd(outputs, names, min_score=0.1)
    shuffled = {f"StatefulPartitionedCall:{i}": outputs[k] for i, k in enumerate(["count", "scores", "classes",
                                                                                    "boxes"])}
    by_shape = decode_ssd(shuffled, None, min_score=0.1)
    assert by_name == by_shape
    [only] = by_name
    assert only.class_index == 17 and only.score == pytest.approx(0.9)
    assert only.box == pytest.approx((0.2, 0.1, 0.6, 0.5))  # (ymin, xmin, ...) became (x0, y0, ...)


def test_ssd_scores_are_compared_with_min_score_at_full_precision() -> None:
    outputs = _ssd_outputs()
    outputs["scores"] = np.array([[0.12, 0.05]], np.float32)  # float32(0.12) is a hair under 0.12
    assert decode_ssd(outputs, None, min_score=0.12) == []
    assert len(decode_ssd(outputs, None, min_score=0.1199)) == 1


def test_yolov8_decoding_keeps_the_best_of_overlapping_boxes() -> None:
    anchors = 4
    table = np.zeros((1, 84, anchors), np.float32)
    table[0, :4] = np.array([[0.5, 0.5, 0.2, 0.2], [0.51, 0.5, 0.2, 0.2], [0.1, 0.1, 0.05, 0.05],
                             [0.9, 0.9, 0.1, 0.1]], np.float32).T
    table[0, 4 + 21, :3] = [0.8, 0.6, 0.7]  # class 21 (bear): two overlapping, one apart
    table[0, 4 + 0, 3] = 0.2  # a weak person, below min_score
    decoded = decode_yolov8(np.tile(table, (1, 1, 30)), min_score=0.3)  # 120 anchors > 84 features, as real
    assert decode_yolov8(np.transpose(np.tile(table, (1, 1, 30)), (0, 2, 1)), min_score=0.3) == decoded
    assert [(d.class_index, round(d.score, 2)) for d in decoded] == [(21, 0.8), (21, 0.7)]
    assert decoded[0].box == pytest.approx((0.4, 0.4, 0.6, 0.6))


def test_nms_keeps_separate_boxes() -> None:
    boxes = np.array([[0, 0, 1, 1], [0, 0, 0.98, 1], [2, 2, 3, 3]], np.float32)
    assert nms(boxes, np.array([0.5, 0.9, 0.4], np.float32), 0.5) == [1, 2]


def test_tiles_cover_the_frame_with_overlap() -> None:
    crops = plan_crops(2000, 1000, 2, 2, 0.2)
    assert crops[0].x1 == 2000 and crops[0].y1 == 1000
    tiles = crops[1:]
    assert len(tiles) == 4
    assert min(t.x0 for t in tiles) == 0 and max(t.x1 for t in tiles) == 2000
    assert tiles[0].x1 > tiles[1].x0, "neighbouring tiles overlap"
    assert plan_crops(2000, 1000, 1, 1, 0.2) == crops[:1]


# --- real models on real photos --------------------------------------------------------------------


def test_every_shipped_card_fits_its_shared_model(shared_models: Path) -> None:
    from trapd.detect.tflite import TfliteModel

    for name in builtin_cards():
        TfliteModel(find_model(name), num_threads=1)


@pytest.mark.parametrize("model", ["ssd-mobilenet-v1-coco", "ssd-mobilenet-v2-fpnlite-coco", "yolov8n-coco"])
def test_each_output_format_finds_the_dog(shared_models: Path, model: str) -> None:
    detector = TfliteDetector(TfliteDetectorConfig(model=model, tiles=(1, 1)))
    result = detector.detect_image(photo("sn_domestic_dog.jpg"))
    best = result.detections[0]
    assert best.category == "animal" and best.score > 0.4
    x, y, w, h = best.bbox
    assert 0.25 < x + w / 2 < 0.65 and 0.2 < y + h / 2 < 0.5  # the dog is left of centre, upper half
    assert detector.info.sha256 == find_model(model).card.sha256


def test_tiles_find_the_small_animal_the_whole_frame_misses(shared_models: Path) -> None:
    image = photo("ct_S1_D04_R6_PICT0128.JPG")  # a small mongoose, left side
    whole = TfliteDetector(TfliteDetectorConfig(tiles=(1, 1))).detect_image(image)
    tiled = TfliteDetector(TfliteDetectorConfig(tiles=(2, 2))).detect_image(image)
    assert tiled.invocations == 5 > whole.invocations == 1
    assert _best_animal(tiled) > _best_animal(whole)


def _best_animal(result: DetectionResult) -> float:
    return max((d.score for d in result.detections if d.category == "animal"), default=0.0)


def test_a_confident_whole_frame_detection_skips_the_tiles(shared_models: Path) -> None:
    detector = TfliteDetector(TfliteDetectorConfig(tiles=(2, 2)), keep_thresholds={"animal": 0.4})
    assert detector.detect_image(photo("sn_domestic_dog.jpg")).invocations == 1


def test_the_invocation_budget_is_respected(shared_models: Path) -> None:
    config = TfliteDetectorConfig(tiles=(3, 3), max_invocations_per_frame=3, classifier="mobilenet-v2-imagenet")
    result = TfliteDetector(config).detect_image(photo("sn_blank2.jpg"))
    assert result.invocations == 3 and result.second_opinion is None


def test_the_classifier_gives_a_second_opinion(shared_models: Path) -> None:
    config = TfliteDetectorConfig(tiles=(1, 1), classifier="mobilenet-v2-imagenet")
    result = TfliteDetector(config).detect_image(photo("sn_domestic_dog.jpg"))
    assert result.second_opinion is not None
    assert result.second_opinion.scores["animal"] > 0.5


# --- bad models: refuse, or run fail-open ------------------------------------------------------------


def test_a_missing_model_runs_fail_open_by_default(no_models: None) -> None:
    detector = build_detector(TrapdConfig())
    assert detector.info.degraded and "not found" in detector.info.degraded
    assert detector.detect(None).status == "unfiltered"  # type: ignore[arg-type]


def test_a_missing_model_refuses_to_start_when_required(no_models: None) -> None:
    config = TrapdConfig.model_validate({"detector": {"required": True}})
    with pytest.raises(ModelError, match=r"not found.*detector\.required is true"):
        build_detector(config)


def test_a_corrupt_model_is_named(tmp_path: Path, shared_models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    card = builtin_cards()["ssd-mobilenet-v1-coco"]
    model_folder(tmp_path, monkeypatch, card.name, weights=(MODELS / card.file).read_bytes()[:100_000])  # cut short
    with pytest.raises(ModelError, match=rf"{card.file}.*cannot be loaded"):
        TfliteDetector(TfliteDetectorConfig())


def test_a_damaged_classifier_is_refused_like_a_damaged_detector(tmp_path: Path, shared_models: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    models = model_folder(tmp_path, monkeypatch, "ssd-mobilenet-v1-coco")
    classifier = builtin_cards()["mobilenet-v2-imagenet"]
    weights = bytearray((MODELS / classifier.file).read_bytes())
    weights[len(weights) // 2] ^= 0xFF  # one flipped byte deep in the weights: it still loads
    (models / classifier.file).write_bytes(bytes(weights))
    shutil.copy(MODELS / classifier.labels, models)
    with pytest.raises(ModelError, match=rf"mobilenet-v2-imagenet .*{classifier.file}.* does not match the sha256"):
        TfliteDetector(TfliteDetectorConfig(classifier="mobilenet-v2-imagenet"))


def test_a_card_that_does_not_fit_its_model_is_named(tmp_path: Path, shared_models: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(MODELS / "ssd_mobilenet_v2_fpnlite_320_coco17_tf2.tflite", models)
    shutil.copy(MODELS / "ssd_mobilenet_v2_fpnlite_320_coco17_tf2_labels.txt", models)
    card = builtin_cards()["ssd-mobilenet-v2-fpnlite-coco"].model_dump(mode="json")
    card.update(name="wrong", sha256=None, input={"width": 300, "height": 300, "dtype": "uint8"})
    (models / "wrong.card.yaml").write_text(yaml.safe_dump(card))
    monkeypatch.setenv("TRAPD_MODELS_DIR", str(models))
    with pytest.raises(ModelError, match=r"wrong .* takes \[1, 320, 320, 3\] float32, but its card says "
                                         r"\[1, 300, 300, 3\] uint8"):
        TfliteDetector(TfliteDetectorConfig(model="wrong"))


def test_a_failing_detector_at_start_up_keeps_the_trap_running_fail_open(
    tmp_path: Path, mock_factory: MockFactory, no_models: None
) -> None:
    sink = EventSink()
    config = make_config(tmp_path, detector={"type": "tflite", "model": "ssd-mobilenet-v1-coco"})
    daemon = start_daemon(config, mock_factory, on_event_stored=sink)
    try:
        assert any("running fail-open" in w for w in daemon.status.snapshot()["warnings"])
        pulse(mock_factory)
        [(record, stored)] = sink.wait_for(1)
    finally:
        daemon.stop()
    assert len(stored.files) == 3
    assert all(d.keep and d.flags == ("unfiltered",) for d in record.decisions)


def test_the_daemon_filters_with_the_real_model(tmp_path: Path, mock_factory: MockFactory,
                                                shared_models: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for name in ("sn_blank2.jpg", "sn_domestic_dog.jpg"):
        shutil.copy(IMAGES / name, images)
    sink = EventSink()
    config = make_config(tmp_path / "store", camera={"type": "replay", "images_dir": str(images)},
                         detector={"type": "tflite", "tiles": [1, 1]}, burst={"frames": 1},
                         event={"gap_s": 0.05}, decision={"unsure_margin": 0.0})
    daemon = start_daemon(config, mock_factory, on_event_stored=sink)
    try:
        events = pulse_for_events(mock_factory, sink, 2)
    finally:
        daemon.stop()
    (blank, blank_stored), (dog, dog_stored) = events
    assert not blank.decisions[0].keep and blank_stored.files == ()
    assert dog.decisions[0].keep and len(dog_stored.files) == 1
    sidecar = json.loads((dog_stored.directory / "event.json").read_text())
    assert sidecar["detector"]["name"] == "ssd-mobilenet-v1-coco"
    assert sidecar["detector"]["sha256"] == builtin_cards()["ssd-mobilenet-v1-coco"].sha256
    # Species labels from a COCO model are unreliable (MODELS.md: a baboon called a bear); the category is not.
    assert sidecar["frames"][0]["detections"][0]["category"] == "animal"


# --- models install / verify / list, and the commands -----------------------------------------------


def test_install_side_loads_a_model_and_verify_checks_it(tmp_path: Path, shared_models: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    card = builtin_cards()["ssd-mobilenet-v1-coco"]
    shutil.copy(MODELS / card.file, usb)
    shutil.copy(MODELS / card.labels, usb)
    target = tmp_path / "installed"
    monkeypatch.setenv("TRAPD_MODELS_DIR", str(target))
    installed = install(usb / card.file, name="site-model", target_dir=target)
    assert installed.model_path == target / card.file
    assert load_card(target / "site-model.card.yaml").sha256 == card.sha256
    assert find_model("site-model").model_path == target / card.file
    [checked] = [v for v in verify() if v.model.card.name == "site-model"]
    assert checked.ok is True
    (target / card.file).write_bytes(b"damaged")  # bit rot on the SD card
    [checked] = [v for v in verify() if v.model.card.name == "site-model"]
    assert checked.ok is False and checked.verdict == "MISMATCH"


def test_install_refuses_a_damaged_copy(tmp_path: Path, shared_models: Path) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    card = builtin_cards()["ssd-mobilenet-v1-coco"]
    (usb / card.file).write_bytes((MODELS / card.file).read_bytes()[:-10])
    shutil.copy(MODELS / card.labels, usb)
    with pytest.raises(ModelError, match="does not match its card"):
        install(usb / card.file, target_dir=tmp_path / "installed")
    assert not (tmp_path / "installed").exists()


def test_detect_command_prints_json_lines(shared_models: Path) -> None:
    result = trapd_cli("detect", "--json", str(IMAGES / "sn_domestic_dog.jpg"),
                       str(IMAGES / "sn_african_elephants_truncated_file.jpg"),
                       env={"TRAPD_MODELS_DIR": str(MODELS)})
    assert result.returncode == 0, result.stderr
    dog, truncated = (json.loads(line) for line in result.stdout.splitlines())
    assert {"file", "keep", "reason", "detections", "latency_ms"} <= set(dog)
    assert dog["keep"] and dog["detections"][0]["category"] == "animal"
    assert len(dog["detections"][0]["bbox"]) == 4
    assert truncated["keep"] and "did not decode" in truncated["reason"]


def test_eval_command_reports_recall_and_rejection(shared_models: Path) -> None:
    result = trapd_cli("eval", str(IMAGES), "--json", env={"TRAPD_MODELS_DIR": str(MODELS)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["non_empty"], report["empty"]) == (36, 9)
    assert report["detector"] == "ssd-mobilenet-v1-coco"
    assert 0.0 <= report["recall_non_empty"] <= 1.0 and report["latency_ms_median"] > 0


def test_models_verify_command_fails_on_a_mismatch(tmp_path: Path, shared_models: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    card = builtin_cards()["mobilenet-v2-imagenet"]
    (models / card.file).write_bytes(b"not the model")
    shutil.copy(MODELS / card.labels, models)
    result = trapd_cli("models", "verify", env={"TRAPD_MODELS_DIR": str(models)})
    assert result.returncode != 0
    assert "MISMATCH" in result.stdout and "do not match their recorded sha256" in result.stderr
    assert "Traceback" not in result.stderr


def test_install_never_writes_into_the_models_search_folders_by_default(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    from trapd.detect.install import install_dir

    monkeypatch.setenv("TRAPD_MODELS_DIR", str(MODELS))
    assert install_dir() != MODELS


def test_an_invalid_install_name_writes_nothing(tmp_path: Path, shared_models: Path) -> None:
    card = builtin_cards()["ssd-mobilenet-v1-coco"]
    with pytest.raises(ConfigError, match=r"--name '\.\./escape'"):
        install(MODELS / card.file, name="../escape", target_dir=tmp_path / "installed")
    assert not (tmp_path / "installed").exists()


def test_install_into_an_unwritable_folder_is_one_sentence_and_leaves_nothing(tmp_path: Path,
                                                                             shared_models: Path) -> None:
    from trapd.errors import StorageError

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    card = builtin_cards()["ssd-mobilenet-v1-coco"]
    with pytest.raises(StorageError, match="cannot be installed"):
        install(MODELS / card.file, target_dir=blocker / "models")


def test_a_bad_card_in_a_models_folder_does_not_hide_the_good_models(tmp_path: Path, shared_models: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "broken.card.yaml").write_text("name: [not, a, name]\n")
    monkeypatch.setenv("TRAPD_MODELS_DIR", f"{models}:{MODELS}")
    assert find_model("ssd-mobilenet-v1-coco").model_path.parent == MODELS


def test_a_model_whose_checksum_changed_is_refused_at_load(tmp_path: Path, shared_models: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    card = builtin_cards()["ssd-mobilenet-v1-coco"]
    weights = bytearray((MODELS / card.file).read_bytes())
    weights[-1000] ^= 0xFF  # one flipped byte in the weights: it still loads, and silently scores worse
    model_folder(tmp_path, monkeypatch, card.name, weights=bytes(weights))
    with pytest.raises(ModelError, match="does not match the sha256 on its card"):
        TfliteDetector(TfliteDetectorConfig())


def test_labels_that_are_not_utf8_are_named(tmp_path: Path, shared_models: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    model_folder(tmp_path, monkeypatch, "ssd-mobilenet-v1-coco", labels="???\nperson\nb\xe9te\n".encode("latin-1"))
    with pytest.raises(ModelError, match="not UTF-8 text"):
        TfliteDetector(TfliteDetectorConfig())


def test_yolo_labels_must_match_the_class_scores(tmp_path: Path, shared_models: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    card = builtin_cards()["yolov8n-coco"]
    named = sorted({label for labels in card.categories.values() for label in labels})
    models = model_folder(tmp_path, monkeypatch, "yolov8n-coco", labels="\n".join(named).encode())
    # A user's card, with no labels checksum: the labels name every class it maps, but not 80 of them.
    users_card = card.model_copy(update={"labels_sha256": None}).model_dump(mode="json", exclude_defaults=True)
    (models / "yolov8n-coco.card.yaml").write_text(yaml.safe_dump(users_card))
    with pytest.raises(ModelError, match=f"outputs 80 class scores but its labels file .* names {len(named)} classes"):
        TfliteDetector(TfliteDetectorConfig(model="yolov8n-coco"))
    (models / "yolov8n-coco.card.yaml").unlink()  # the shipped card knows its labels file by checksum
    with pytest.raises(ModelError, match="do not match its card"):
        TfliteDetector(TfliteDetectorConfig(model="yolov8n-coco"))


def test_unnamed_ssd_outputs_are_told_apart_by_their_values_not_their_order() -> None:
    boxes = np.array([[[0.1, 0.2, 0.5, 0.6], [0.3, 0.3, 0.4, 0.4]]], np.float32)
    classes = np.array([[1.0, 0.0]], np.float32)  # bicycle, person: ids that also look like scores
    scores = np.array([[0.8, 0.6]], np.float32)
    count = np.array([2.0], np.float32)
    for order in ((scores, classes), (classes, scores)):
        outputs = {"a": boxes, "b": order[0], "c": order[1], "d": count}
        decoded = decode_ssd(outputs, None, min_score=0.1)
        assert [(d.class_index, round(d.score, 2)) for d in decoded] == [(1, 0.8), (0, 0.6)]


def test_early_stop_respects_each_categorys_own_threshold(shared_models: Path) -> None:
    # A false "airplane" in the whole frame is above the animal threshold but below the vehicle one:
    # it must not stop the search for the sage-grouse in the tiles.
    image = photo("md_sage-grouse-raw.jpg")
    strict_vehicles: dict[Category, float] = {"animal": 0.4, "person": 0.8, "vehicle": 0.8}
    result = TfliteDetector(TfliteDetectorConfig(tiles=(2, 2)), keep_thresholds=strict_vehicles).detect_image(image)
    assert result.invocations > 1, "the airplane alone must not end the search"
    assert any(d.category == "animal" and d.score >= 0.4 for d in result.detections)


def test_offline_commands_refuse_to_judge_without_a_model(tmp_path: Path) -> None:
    # The trap runs fail-open without its model; `detect` and `eval` would only print misleading figures.
    (tmp_path / "a.jpg").write_bytes((IMAGES / "sn_blank.jpg").read_bytes() if IMAGES.is_dir() else b"")
    result = trapd_cli("detect", str(tmp_path / "a.jpg"))
    assert result.returncode == 69
    assert "not found" in result.stderr and "detector.required is true" in result.stderr
    assert "Traceback" not in result.stderr
