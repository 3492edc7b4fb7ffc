"""Logging: syslog priority prefixes under systemd, so journald keeps the levels; plain lines elsewhere."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from trapd.log import setup_logging


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_under_systemd_each_line_carries_its_priority(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    setup_logging("debug")
    logging.getLogger("trapd.test").warning("disk nearly full")
    logging.getLogger("trapd.test").info("armed")
    logging.getLogger("trapd.test").error("cannot write")
    assert capsys.readouterr().err.splitlines() == [
        "<4>trapd.test: disk nearly full", "<6>trapd.test: armed", "<3>trapd.test: cannot write",
    ]


def test_on_a_terminal_lines_are_timed_and_levelled(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    setup_logging("info")
    logging.getLogger("trapd.test").debug("not shown at info")
    logging.getLogger("trapd.test").info("armed")
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith("INFO    armed")
