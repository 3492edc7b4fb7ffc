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
    assert all(line.startswith(("would:", "       ", "ok:", "dry run:", "model:")) for line in out.splitlines()), out
    assert "systemctl restart trapd" not in out, "--start was not given"


def test_unknown_options_are_refused() -> None:
    result = subprocess.run(["bash", str(SCRIPT), "--yes-please"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 64 and "unknown option --yes-please" in result.stderr


def test_dry_run_with_a_model_shows_the_model_step_and_says_the_trap_will_filter() -> None:
    result = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--model", "ssd-mobilenet-v1-coco"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "trapd models fetch ssd-mobilenet-v1-coco --dir /var/lib/trapd/models" in result.stdout
    assert "model: ssd-mobilenet-v1-coco installed; the trap will filter empty frames" in result.stdout


def test_without_a_model_the_installer_says_the_trap_runs_fail_open() -> None:
    result = subprocess.run(["bash", str(SCRIPT), "--dry-run"], capture_output=True, text=True, timeout=60)
    assert "NOT installed; the trap will run fail-open" in result.stdout and "--model ssd-mobilenet-v1-coco" in \
        result.stdout
