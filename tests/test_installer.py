"""tools/install-pi.sh: its dry run lists every step and changes nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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


# --- --low-power, against a fake /boot/firmware and a fake systemctl ---------------------------------------------

FAKE_SYSTEMCTL = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls"
case "$1" in
  is-enabled) if [ -f "$(dirname "$0")/disabled-$2" ]; then echo disabled
              else case "$2" in
                     bluetooth.service|avahi-daemon.service) echo enabled ;;
                     *) echo not-found; exit 1 ;;
                   esac
              fi ;;
  disable) touch "$(dirname "$0")/disabled-$3" ;;
  enable) rm -f "$(dirname "$0")/disabled-$3" ;;
esac
"""
CONFIG_TXT = "dtparam=audio=on\n[cm4]\notg_mode=1\n"
CMDLINE_TXT = "console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 rootwait\n"


def low_power(boot: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRAPD_BOOT_DIR": str(boot), "TRAPD_SYSTEMCTL": str(boot / "systemctl"),
           "TRAPD_LOW_POWER_STATE": str(boot / "state")}
    return subprocess.run(["bash", str(SCRIPT), *options], capture_output=True, text=True, timeout=60, env=env)


def fake_boot(tmp_path: Path) -> Path:
    (tmp_path / "config.txt").write_text(CONFIG_TXT)
    (tmp_path / "cmdline.txt").write_text(CMDLINE_TXT)
    (tmp_path / "systemctl").write_text(FAKE_SYSTEMCTL)
    (tmp_path / "systemctl").chmod(0o755)
    return tmp_path


def test_low_power_dry_run_lists_each_step_with_its_saving_and_changes_nothing(tmp_path: Path) -> None:
    boot = fake_boot(tmp_path)
    result = low_power(boot, "--low-power", "--dry-run")
    assert result.returncode == 0, result.stderr
    for expected in ("dtoverlay=disable-wifi", "40 mA", "act_led_trigger=none", "5 mA per LED", "video=HDMI-A-1:d",
                     "25 mA", "cpufreq.default_governor=powersave", "no published saving",
                     "would: disable bluetooth.service", "dry run: nothing was changed"):
        assert expected in result.stdout, result.stdout
    assert (boot / "config.txt").read_text() == CONFIG_TXT and (boot / "cmdline.txt").read_text() == CMDLINE_TXT
    assert "disable" not in (boot / "calls").read_text().replace("is-enabled", "")


def test_low_power_twice_changes_nothing_the_second_time_and_undo_puts_everything_back(tmp_path: Path) -> None:
    boot = fake_boot(tmp_path)
    first = low_power(boot, "--low-power")
    assert first.returncode == 0, first.stderr
    config, cmdline = (boot / "config.txt").read_text(), (boot / "cmdline.txt").read_text()
    assert config.startswith(CONFIG_TXT) and "[all]\ndtoverlay=disable-wifi\n" in config
    assert cmdline == CMDLINE_TXT.rstrip("\n") + " video=HDMI-A-1:d cpufreq.default_governor=powersave\n"
    second = low_power(boot, "--low-power")
    assert second.returncode == 0 and "nothing to change" in second.stdout
    assert (boot / "config.txt").read_text() == config and (boot / "cmdline.txt").read_text() == cmdline
    assert (boot / "calls").read_text().count("disable --now") == 2  # bluetooth and avahi, once each
    undo = low_power(boot, "--undo-low-power")
    assert undo.returncode == 0, undo.stderr
    assert (boot / "config.txt").read_text() == CONFIG_TXT and (boot / "cmdline.txt").read_text() == CMDLINE_TXT
    assert "enable --now bluetooth.service" in (boot / "calls").read_text() and not (boot / "state").exists()
