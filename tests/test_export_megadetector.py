"""`trapd export megadetector`: the format Timelapse and MegaDetector's tools read."""

from __future__ import annotations

import json
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config, run_one_event, trapd_cli
from tests.doubles import FailingDetector, ScriptedDetector
from trapd.detect.base import Detection


def test_stored_frames_export_with_megadetector_categories_and_boxes(tmp_path: Path,
                                                                     mock_factory: MockFactory) -> None:
    fox = Detection("animal", "fox", 0.91, (0.1, 0.2, 0.3, 0.4))
    ranger = Detection("person", "person", 0.55, (0.5, 0.5, 0.1, 0.3))
    config = make_config(tmp_path / "store")
    run_one_event(config, mock_factory, detector=ScriptedDetector(default=[fox, ranger]))
    run_one_event(config, MockFactory(), detector=FailingDetector())
    out = tmp_path / "out" / "md.json"
    result = trapd_cli("export", "megadetector", "--storage", str(tmp_path / "store"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["detection_categories"] == {"1": "animal", "2": "person", "3": "vehicle"}
    assert document["info"]["format_version"] == "1.4"
    assert document["info"]["detector"] == "failing, scripted"
    images = document["images"]
    assert len(images) == 6
    judged = [image for image in images if "detections" in image]
    failed = [image for image in images if "failure" in image]
    assert len(judged) == 3 and len(failed) == 3
    first = judged[0]
    assert first["detections"] == [{"category": "1", "conf": 0.91, "bbox": [0.1, 0.2, 0.3, 0.4]},
                                   {"category": "2", "conf": 0.55, "bbox": [0.5, 0.5, 0.1, 0.3]}]
    assert first["max_detection_conf"] == 0.91
    assert all((tmp_path / "store" / image["file"]).is_file() for image in images), "paths relative to the root"
    assert "interpreter exploded" in failed[0]["failure"]


def test_exporting_a_missing_storage_is_one_sentence(tmp_path: Path) -> None:
    result = trapd_cli("export", "megadetector", "--storage", str(tmp_path / "nope"), "--out", str(tmp_path / "x"))
    assert result.returncode == 66 and "does not exist" in result.stderr and "Traceback" not in result.stderr
