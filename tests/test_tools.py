"""The benchmark tools report figures only from a trap in the state they claim."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "tools"))

import soak


def test_a_trap_that_never_drains_is_an_error_not_a_figure() -> None:
    def busy(_socket: Path, _command: str) -> dict[str, Any]:
        return {"state": "capturing", "frames_captured": 9, "frames_kept": 3, "frames_discarded": 0}

    with pytest.raises(RuntimeError, match=r"3 of 9 stored"):
        soak.drained(busy, Path("unused"), timeout_s=0.05)


def test_a_drained_trap_answers_its_status() -> None:
    status = {"state": "armed", "frames_captured": 9, "frames_kept": 3, "frames_discarded": 6}
    assert soak.drained(lambda _socket, _command: status, Path("unused"), timeout_s=0.05) == status
