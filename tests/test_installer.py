"""tools/install-pi.sh: its dry run lists every step and changes nothing."""

from __future__ import annotations

import subprocess

from tests.conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "tools" / "install-pi.sh"


def test_dry_run_lists_every_step_and_changes_nothing() -> None:
    result = subprocess.run(["bash", str(SCRIPT), "--dry-run"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("--system-site-packages", "pip install --upgrade", "systemctl enable trapd",
                     "trapd.service", "check-config", "dry run: nothing was changed"):
        assert expected in out, out
    # Whatever this machine lacks is planned, never done: every action line is a "would".
    assert all(line.startswith(("would:", "       ", "ok:", "dry run:")) for line in out.splitlines()), out
    assert "systemctl restart trapd" not in out, "--start was not given"


def test_unknown_options_are_refused() -> None:
    result = subprocess.run(["bash", str(SCRIPT), "--yes-please"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 64 and "unknown option --yes-please" in result.stderr
