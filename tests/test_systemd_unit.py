"""The service unit: hardened (systemd-analyze security) and valid (systemd-analyze verify)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

UNIT = PROJECT_ROOT / "systemd" / "trapd.service"
ANALYZE = shutil.which("systemd-analyze") or ""
needs_analyze = pytest.mark.skipif(not ANALYZE, reason="systemd-analyze is not installed here")


@needs_analyze
def test_exposure_is_at_most_1() -> None:
    result = subprocess.run([ANALYZE, "security", "--offline=yes", str(UNIT)], capture_output=True, text=True)
    match = re.search(r"Overall exposure level for trapd\.service: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 1.0


@needs_analyze
def test_the_unit_verifies(tmp_path: Path) -> None:
    # verify insists that ExecStart exists: point it at this checkout's trapd, keep all else.
    unit = tmp_path / "trapd.service"
    unit.write_text(UNIT.read_text().replace("/opt/trapd/venv/bin/trapd", shutil.which("trapd") or "/bin/true"))
    result = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "trapd.service" not in result.stderr, result.stderr


def test_the_unit_keeps_the_promises_the_daemon_relies_on() -> None:
    text = UNIT.read_text()
    for line in ("Type=notify", "RestartPreventExitStatus=78", "Restart=on-failure", "KillSignal=SIGTERM",
                 "StateDirectory=trapd", "DevicePolicy=closed", "WatchdogSec=", "UMask=0027"):
        assert line in text
