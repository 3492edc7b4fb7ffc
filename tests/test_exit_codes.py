"""The README's table of exit codes, one real case each, run as a user runs trapd."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import trapd_cli, write_config
from trapd.errors import (
    EX_CANTCREAT,
    EX_CONFIG,
    EX_NOINPUT,
    EX_NOT_RUNNING,
    EX_OK,
    EX_UNAVAILABLE,
    EX_USAGE,
)


def _cases(tmp: Path) -> dict[str, tuple[list[str], int]]:
    config = write_config(tmp / "ok.yaml", tmp / "store")
    picamera = write_config(tmp / "pi.yaml", tmp / "pi-store", camera={"type": "picamera2"})
    bad = tmp / "bad.yaml"
    bad.write_text("burst:\n  frames: 0\n")
    aliases = tmp / "aliases.yaml"
    aliases.write_text("a: &x 1\nb: *x\n")
    blocker = tmp / "a-file"
    blocker.write_text("not a folder")
    return {
        "valid config": (["check-config", str(config)], EX_OK),
        "no daemon": (["status", "--config", str(config)], EX_NOT_RUNNING),
        "--images without --fake": (["run", "--images", str(tmp), "--config", str(config)], EX_USAGE),
        "fix-time backwards": (["fix-time", "--from", "2026-02-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z",
                                "--offset", "60", "--config", str(config)], EX_USAGE),
        "unknown option": (["status", "--frobnicate"], EX_USAGE),
        "missing config file": (["check-config", str(tmp / "nope.yaml")], EX_NOINPUT),
        "missing image folder": (["simulate", "--images", str(tmp / "nope"), "--config", str(config)], EX_NOINPUT),
        "no camera": (["run", "--config", str(picamera)], EX_UNAVAILABLE),
        "storage not writable": (["simulate", "--config", str(config), "--storage", str(blocker / "sub")],
                                 EX_CANTCREAT),
        "bad value": (["check-config", str(bad)], EX_CONFIG),
        "YAML aliases": (["check-config", str(aliases)], EX_CONFIG),
        "pin out of range at check-config, as at run": (["check-config", str(_pin(tmp))], EX_CONFIG),
    }


def _pin(tmp: Path) -> Path:
    path = tmp / "pin.yaml"
    path.write_text("pir:\n  pin: -5\n")
    return path


CASES = ["valid config", "no daemon", "--images without --fake", "fix-time backwards", "unknown option",
         "missing config file", "missing image folder", "no camera", "storage not writable", "bad value",
         "YAML aliases", "pin out of range at check-config, as at run"]


@pytest.mark.parametrize("case", CASES)
def test_each_exit_code_in_the_table(tmp_path: Path, case: str) -> None:
    args, expected = _cases(tmp_path)[case]
    result = trapd_cli(*args)
    assert result.returncode == expected, result.stderr
    assert "Traceback" not in result.stderr
    if expected not in (EX_OK, EX_NOT_RUNNING):
        assert len([line for line in result.stderr.splitlines() if line.startswith("trapd:")]) >= 1
