from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from tests.conftest import PROJECT_ROOT, trapd_cli
from trapd.config.load import load_config, parse_config
from trapd.config.model import TrapdConfig
from trapd.errors import EX_CONFIG, ConfigError

SHIPPED = PROJECT_ROOT / "config.yaml"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="t.yaml")
    return caught.value.problems


def test_shipped_config_is_the_built_in_defaults() -> None:
    assert load_config(SHIPPED) == TrapdConfig()


def test_every_key_of_the_shipped_config_has_a_comment() -> None:
    bare = [
        line for line in SHIPPED.read_text().splitlines()
        if re.match(r"^\s*[a-z_]+:", line) and "#" not in line
    ]
    assert bare == []


def _section_models(annotation: Any) -> list[type[BaseModel]]:
    """The config models behind a field: the model itself, or each member of a union of backends."""
    members = typing.get_args(annotation) or (annotation,)
    return [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]


def _leaf_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for name, info in model.model_fields.items():
        sections = _section_models(info.annotation)
        if not sections:
            found.append((prefix + name, info))
        for section in sections:
            found.extend(_leaf_fields(section, f"{prefix}{name}."))
    return found


def test_every_setting_has_a_description() -> None:
    undescribed = [path for path, info in _leaf_fields(TrapdConfig) if not info.description]
    # Pins describe themselves through their annotated type (PinName).
    assert [p for p in undescribed if not p.endswith("pin")] == []


def test_empty_file_gives_the_defaults() -> None:
    assert parse_config("") == TrapdConfig()


def test_unknown_key_names_line_path_and_suggestion() -> None:
    [line] = problems("burst:\n  frames: 3\n  intervl_s: 0.2\n")
    assert line.startswith("t.yaml:3: burst.intervl_s: unknown key")
    assert "did you mean 'interval_s'" in line


def test_out_of_range_value_names_line_path_and_value() -> None:
    [line] = problems("deployment:\n  id: x\nburst:\n  frames: 0\n")
    assert line.startswith("t.yaml:4: burst.frames = 0:")
    assert "greater than or equal to 1" in line


def test_strings_are_not_numbers() -> None:
    [line] = problems('burst:\n  frames: "5"\n')
    assert line.startswith("t.yaml:2: burst.frames = '5':")


def test_wrong_type_for_a_section() -> None:
    [line] = problems("pir: 17\n")
    assert line.startswith("t.yaml:1: pir = 17:")


def test_every_problem_is_reported_not_just_the_first() -> None:
    lines = problems("burst:\n  frames: 0\n  interval_s: -1\nstorage:\n  jpeg_quality: 101\n")
    assert [line.split(":")[1] for line in lines] == ["2", "3", "5"]


def test_camera_union_errors_point_into_the_camera_section() -> None:
    [line] = problems("camera:\n  type: replay\n  images_dir: /x\n  main_size: [10, 10]\n")
    assert line.startswith("t.yaml:4: camera.main_size: unknown key")


def test_replay_camera_needs_its_folder() -> None:
    [line] = problems("camera:\n  type: replay\n")
    assert "camera.images_dir: required key is missing" in line


def test_unknown_backend_type_names_the_type_key_and_the_choices() -> None:
    [line] = problems("camera:\n  mode: warm\n  type: webcam\n")
    assert line == "t.yaml:3: camera.type = 'webcam': unknown type; use one of 'picamera2', 'replay', 'synthetic'"


def test_yaml_syntax_error_names_the_line() -> None:
    [line] = problems("burst:\n  frames: 3\n interval_s: [\n")
    assert line.startswith("t.yaml:")
    assert "YAML syntax error" in line


def test_duplicate_keys_are_errors_not_last_one_wins() -> None:
    [line] = problems("burst:\n  frames: 3\n  frames: 5\n")
    assert line == "t.yaml:3: burst.frames: key appears twice"


def test_devices_cannot_share_a_pin() -> None:
    [line] = problems("pir:\n  pin: 17\nilluminator:\n  pin: GPIO17\n")
    assert "each device needs its own pin" in line


def test_pretrigger_needs_a_warm_camera() -> None:
    [line] = problems("camera:\n  mode: cold\n  pretrigger_frames: 2\n")
    assert "needs camera.mode: warm" in line


def test_active_high_only_with_floating_pull() -> None:
    assert "active_high is implied" in problems("pir:\n  active_high: true\n")[0]
    assert "must be true or false" in problems("pir:\n  pull: none\n")[0]


def test_unknown_timezone() -> None:
    [line] = problems("deployment:\n  timezone: Mars/Olympus\n")
    assert "unknown IANA timezone" in line


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")


def test_check_config_cli_valid_and_invalid(tmp_path: Path) -> None:
    good = trapd_cli("check-config", str(SHIPPED))
    assert good.returncode == 0, good.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"burst": {"frames": "many"}, "camera": {"moed": "warm"}}))
    result = trapd_cli("check-config", str(bad))
    assert result.returncode == EX_CONFIG
    assert "burst.frames = 'many'" in result.stderr
    assert "camera.moed: unknown key; did you mean 'mode'?" in result.stderr, "the camera's keys, by its type"
    assert "Traceback" not in result.stderr


def test_a_size_with_one_number_says_it_needs_two(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera:\n  main_size: [2028]\n")
    result = trapd_cli("check-config", str(bad))
    assert result.returncode == EX_CONFIG
    assert "camera.main_size = [2028]: needs 2 numbers, not 1" in result.stderr


def test_check_config_warns_when_the_named_model_is_not_on_the_search_path(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("detector:\n  model: no-such-model\n")
    result = trapd_cli("check-config", str(config), env={"TRAPD_MODELS_DIR": str(tmp_path), "HOME": str(tmp_path)})
    assert result.returncode == 0 and "valid" in result.stdout
    assert "detector.model 'no-such-model' is not on the model search path" in result.stderr


def test_daemon_refuses_a_bad_config_with_exit_78(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("pir:\n  holdoff_s: soon\n")
    result = trapd_cli("run", "--fake", "--config", str(bad), "--storage", str(tmp_path / "s"))
    assert result.returncode == EX_CONFIG
    assert "pir.holdoff_s = 'soon'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "s").exists(), "nothing may be written for a config that does not validate"


def test_a_timezone_too_long_for_a_file_name_is_an_unknown_timezone() -> None:
    # Found by tools/fuzz.py: ZoneInfo raised OSError (ENAMETOOLONG), a traceback instead of exit 78.
    [line] = problems(f"deployment:\n  timezone: 'UTC{' ' * 300}x'\n")
    assert "unknown IANA timezone" in line
