"""`trapd export camtrap-dp`: a package that validates against the official Camtrap DP schemas."""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import pytest
import yaml
from gpiozero.pins.mock import MockFactory

from tests.conftest import CAMERA_TRAP_IMAGES, PROJECT_ROOT, SHARED, config_data, make_config, run_one_event, trapd_cli
from trapd.storage.sidecar import read_sidecars

SCHEMAS = SHARED / "camtrap-dp"
sys.path.insert(0, str(PROJECT_ROOT / "tools"))


@pytest.fixture
def site_config(tmp_path: Path) -> Path:
    data = config_data(tmp_path / "store", event={"gap_s": 0.1})
    data["deployment"] |= {"id": "leopard-ridge-07", "timezone": "Asia/Tehran", "latitude": 36.123456,
                           "longitude": 53.654321, "feature_type": "trailGame", "camera_height_m": 0.6,
                           "tags": ["persian-leopard-survey", "season:winter"],
                           "coordinate_precision": 0.01}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_simulated_session_exports_a_valid_package(tmp_path: Path, site_config: Path) -> None:
    if not SCHEMAS.is_dir() or not CAMERA_TRAP_IMAGES.is_dir():
        pytest.skip(f"the official Camtrap DP schemas or photos are not at {SHARED} (../shared is absent)")
    from validate_camtrap_dp import validate

    run = trapd_cli("simulate", "--images", str(CAMERA_TRAP_IMAGES), "--triggers", "2", "--interval-s", "0.5",
                    "--config", str(site_config))
    assert run.returncode == 0, run.stderr
    package = tmp_path / "package"
    export = trapd_cli("export", "camtrap-dp", "--config", str(site_config), "--out", str(package))
    assert export.returncode == 0, export.stderr
    assert validate(package, SCHEMAS) == []

    descriptor = json.loads((package / "datapackage.json").read_text())
    assert descriptor["spatial"] == {"type": "Point", "coordinates": [53.65, 36.12]}, "rounded for privacy"
    [deployment] = csv.DictReader((package / "deployments.csv").open())
    assert (deployment["latitude"], deployment["longitude"]) == ("36.12", "53.65")
    assert deployment["deploymentTags"] == "persian-leopard-survey|season:winter"
    media = list(csv.DictReader((package / "media.csv").open()))
    assert len(media) == 6 and all((package / m["filePath"]).is_file() for m in media)
    assert {m["captureMethod"] for m in media} == {"activityDetection"}
    assert media[0]["timestamp"].endswith("+03:30")
    observations = list(csv.DictReader((package / "observations.csv").open()))
    assert {o["observationLevel"] for o in observations} == {"event"}  # detector none: no boxes to report
    assert {o["observationType"] for o in observations} == {"unclassified"}
    assert all(o["classificationMethod"] == "machine" for o in observations)


def test_the_validator_catches_a_broken_package(tmp_path: Path, site_config: Path) -> None:
    if not SCHEMAS.is_dir():
        pytest.skip(f"the official Camtrap DP schemas are not at {SCHEMAS} (../shared is absent)")
    from validate_camtrap_dp import validate

    assert trapd_cli("simulate", "--triggers", "1", "--config", str(site_config)).returncode == 0
    package = tmp_path / "package"
    assert trapd_cli("export", "camtrap-dp", "--config", str(site_config), "--out", str(package)).returncode == 0
    assert validate(package, SCHEMAS) == []
    descriptor = json.loads((package / "datapackage.json").read_text())
    del descriptor["project"]
    (package / "datapackage.json").write_text(json.dumps(descriptor))
    errors = validate(package, SCHEMAS)
    assert any("'project' is a required property" in e for e in errors)


def test_without_coordinates_the_export_says_what_is_missing(tmp_path: Path, mock_factory: MockFactory) -> None:
    run_one_event(make_config(tmp_path / "store"), mock_factory)  # a trap set up without its site
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(config_data(tmp_path / "store")))
    result = trapd_cli("export", "camtrap-dp", "--config", str(config), "--out", str(tmp_path / "p"))
    assert result.returncode == 78
    assert "deployment.latitude and deployment.longitude" in result.stderr and "Traceback" not in result.stderr


def test_machine_detections_export_as_media_observations_with_boxes(tmp_path: Path, site_config: Path) -> None:
    models = SHARED / "models"
    if not SCHEMAS.is_dir() or not CAMERA_TRAP_IMAGES.is_dir() or not models.is_dir():
        pytest.skip(f"the Camtrap DP schemas, photos or models are not at {SHARED} (../shared is absent)")
    from validate_camtrap_dp import validate

    data = yaml.safe_load(site_config.read_text())
    data["detector"] = {"type": "tflite", "tiles": [1, 1]}
    site_config.write_text(yaml.safe_dump(data))
    env = {"TRAPD_MODELS_DIR": str(models)}
    assert trapd_cli("simulate", "--images", str(CAMERA_TRAP_IMAGES), "--triggers", "2", "--interval-s", "0.5",
                     "--config", str(site_config), env=env).returncode == 0
    package = tmp_path / "package"
    assert trapd_cli("export", "camtrap-dp", "--config", str(site_config), "--out", str(package)).returncode == 0
    assert validate(package, SCHEMAS) == []
    observations = list(csv.DictReader((package / "observations.csv").open()))
    boxed = [o for o in observations if o["observationLevel"] == "media"]
    assert boxed and all(o["bboxX"] and o["mediaID"] and o["classifiedBy"].startswith("ssd-mobilenet-v1-coco")
                         for o in boxed)
    events = [o for o in observations if o["observationLevel"] == "event"]
    assert len(events) == 2, "one event observation per trigger (a subset check alone passes on none)"
    assert {o["observationType"] for o in events} <= {"animal", "human", "vehicle", "blank"}


def test_a_card_from_two_sites_exports_each_deployment_with_its_own_times(
        tmp_path: Path, mock_factory: MockFactory) -> None:
    from trapd.storage.camtrap_dp import export_camtrap_dp

    site = {"latitude": 36.1, "longitude": 53.6, "timezone": "UTC"}
    first = make_config(tmp_path / "card", deployment={**site, "id": "ridge-1"})
    run_one_event(first, mock_factory)
    time.sleep(1.1)  # exports stamp whole seconds: the second site's events must fall in a later one
    run_one_event(make_config(tmp_path / "card", deployment={**site, "id": "ridge-2"}), mock_factory)
    export_camtrap_dp(first, tmp_path / "package")  # the config names ridge-1; the card holds both
    ridge_1, ridge_2 = csv.DictReader((tmp_path / "package" / "deployments.csv").open())
    assert (ridge_1["deploymentID"], ridge_2["deploymentID"]) == ("ridge-1", "ridge-2"), "none dropped"
    [(_, sidecar)] = [(f, s) for f, s in read_sidecars(tmp_path / "card") if s.deployment_id == "ridge-1"]
    assert ridge_1["deploymentStart"][:19] <= sidecar.start_utc[:19], "the trap was running before its event"
    assert ridge_1["deploymentEnd"] < ridge_2["deploymentStart"], "each deployment its own times"
    media = list(csv.DictReader((tmp_path / "package" / "media.csv").open()))
    assert {m["deploymentID"] for m in media} == {"ridge-1", "ridge-2"}
