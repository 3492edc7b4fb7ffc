"""Malformed configs, generated: every one is exit 78 with its key path, and never a traceback.

The default run checks 150 generated configs; `pytest -m slow` checks 1,000 (issue 6).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from trapd.cli import main
from trapd.config.load import parse_config
from trapd.config.model import TrapdConfig
from trapd.errors import EX_CONFIG, ConfigError

SHIPPED = yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yaml").read_text())


def _leaf_paths(data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(data, dict):
        return [path for key, value in data.items() for path in _leaf_paths(value, (*prefix, key))]
    return [prefix]


LEAVES = _leaf_paths(SHIPPED)
SECTIONS = [key for key, value in SHIPPED.items() if isinstance(value, dict)]

bad_values = st.one_of(
    st.text(max_size=12), st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def malformed(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The shipped config with one thing wrong; returns it and the key path that is wrong."""
    data = yaml.safe_load(yaml.safe_dump(SHIPPED))
    kind = draw(st.sampled_from(["value", "unknown key", "section type"]))
    if kind == "value":
        path = draw(st.sampled_from(LEAVES))
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = draw(bad_values)
    elif kind == "unknown key":
        section = draw(st.sampled_from(SECTIONS))
        key = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10))
        path = (section, key)
        data[section][key] = draw(bad_values)
    else:
        section = draw(st.sampled_from(SECTIONS))
        path = (section,)
        data[section] = draw(st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)))
    return data, path


def _is_valid(data: dict[str, Any]) -> bool:
    try:
        parse_config(yaml.safe_dump(data))
    except ConfigError:
        return False
    return True


def check(case: tuple[dict[str, Any], tuple[str, ...]], tmp_path: Path) -> None:
    data, path = case
    assume(not _is_valid(data))  # a mutation that happens to be allowed (null where null is fine) is redrawn
    config = tmp_path / "fuzzed.yaml"
    config.write_text(yaml.safe_dump(data))
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["check-config", str(config)])
    message = stderr.getvalue()
    assert code == EX_CONFIG, message
    assert "Traceback" not in message
    # The broken key is named by its full dotted path, after the file and line.
    assert f": {'.'.join(path)}" in message, (path, message)
    assert all(line.startswith(f"trapd: {config}") for line in message.splitlines()), message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=malformed())
def test_generated_malformed_configs_exit_78_with_the_key_path(case: tuple[dict[str, Any], tuple[str, ...]],
                                                               tmp_path: Path) -> None:
    check(case, tmp_path)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=malformed())
def test_a_thousand_malformed_configs(case: tuple[dict[str, Any], tuple[str, ...]], tmp_path: Path) -> None:
    check(case, tmp_path)


def test_the_shipped_config_is_the_valid_base_the_fuzzer_mutates() -> None:
    assert TrapdConfig.model_validate(SHIPPED) == TrapdConfig()
