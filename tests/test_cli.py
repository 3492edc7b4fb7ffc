"""The command line as a user meets it: real processes, signals, exit codes, one-line errors."""

from __future__ import annotations

import json
import signal
from functools import partial
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from tests.conftest import spawn_trapd, trapd_cli, wait_until, write_config
from trapd.errors import EX_CANTCREAT, EX_NOINPUT, EX_NOT_RUNNING, EX_TEMPFAIL, EX_USAGE
from trapd.storage.layout import SIDECAR_NAME


def assert_one_clear_line(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("trapd: ")]
    assert len(lines) == 1, stderr
    for needle in needles:
        assert needle in lines[0]


def has_events(common: tuple[str, ...], count: int) -> bool:
    return int(json.loads(trapd_cli("status", "--json", *common).stdout)["events"]) == count


def test_version_and_module_entry_point() -> None:
    result = trapd_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("trapd ")


def test_usage_errors_exit_64() -> None:
    result = trapd_cli("simulate", "--triggers", "0")
    assert result.returncode == EX_USAGE
    assert "must be at least 1" in result.stderr


def test_simulate_leaves_events_a_person_can_open(tmp_path: Path, camera_trap_images: Path) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "unused", event={"gap_s": 0.1})
    storage = tmp_path / "store"
    result = trapd_cli("simulate", "--images", str(camera_trap_images), "--triggers", "3", "--interval-s", "1.0",
                       "--config", str(config), "--storage", str(storage), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["triggers"] == 3
    assert summary["events"] == 3
    assert summary["frames_captured"] == 9
    assert summary["frames_kept"] == 9 and summary["frames_discarded"] == 0
    assert summary["storage_root"] == str(storage)
    assert len(summary["event_dirs"]) == 3
    for event_dir in map(Path, summary["event_dirs"]):
        assert event_dir.is_relative_to(storage / "test-site")
        sidecar = json.loads((event_dir / SIDECAR_NAME).read_text())
        assert len(sidecar["frames"]) == 3
        for frame in sidecar["frames"]:
            with Image.open(event_dir / frame["file"]) as image:
                image.load()
                assert ExifTags.Base.DateTimeOriginal in image.getexif().get_ifd(ExifTags.IFD.Exif)


def test_simulate_without_images_uses_the_synthetic_camera(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "unused", event={"gap_s": 0.05})
    result = trapd_cli("simulate", "--triggers", "1", "--config", str(config), "--storage", str(tmp_path / "s"),
                       "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["frames_kept"] == 3


@pytest.mark.parametrize(("setup", "needle"), [("missing", "does not exist"), ("empty", "it is empty"),
                                               ("no-jpegs", "no .jpg/.jpeg files")])
def test_bad_image_folders_exit_66_with_one_line(tmp_path: Path, setup: str, needle: str) -> None:
    images = tmp_path / "images"
    if setup != "missing":
        images.mkdir()
    if setup == "no-jpegs":
        (images / "notes.txt").write_text("x")
    storage = tmp_path / "store"
    result = trapd_cli("simulate", "--images", str(images), "--triggers", "1", "--storage", str(storage))
    assert result.returncode == EX_NOINPUT
    assert_one_clear_line(result.stderr, needle, str(images))
    assert not list(storage.glob("trapd-dev/*/*")), "no event may be half-written"


def test_unusable_storage_exits_73(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = trapd_cli("simulate", "--triggers", "1", "--storage", str(blocker / "store"))
    assert result.returncode == EX_CANTCREAT
    assert_one_clear_line(result.stderr, str(blocker / "store"), "--storage")


def test_trigger_and_status_without_a_daemon_exit_3(tmp_path: Path) -> None:
    for command in ("trigger", "status"):
        result = trapd_cli(command, "--storage", str(tmp_path))
        assert result.returncode == EX_NOT_RUNNING
        assert_one_clear_line(result.stderr, "no trapd is running")


def test_status_json_without_a_daemon_is_still_json_for_monitoring(tmp_path: Path) -> None:
    result = trapd_cli("status", "--json", "--storage", str(tmp_path))
    assert result.returncode == EX_NOT_RUNNING
    answer = json.loads(result.stdout)
    assert answer["running"] is False and answer["healthy"] is False
    assert "no trapd is running" in answer["problems"][0]


def test_status_reads_as_a_line_and_a_table_and_a_held_off_trigger_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "store", pir={"holdoff_s": 30})
    common = ("--config", str(config))
    daemon = spawn_trapd("run", "--fake", *common)
    try:
        wait_until(lambda: trapd_cli("status", *common).returncode == 0, what="the daemon to answer")
        assert trapd_cli("trigger", *common).returncode == 0
        held = trapd_cli("trigger", *common)
        assert held.returncode == 1 and held.stdout == ""
        assert_one_clear_line(held.stderr, "held off", "pir.holdoff_s (30.0 s)")
        manual = trapd_cli("trigger", "--manual", *common)  # a person at the trap: no hold-off
        assert manual.returncode == 0 and "trigger sent (manual)" in manual.stdout
        status = trapd_cli("status", *common)
        lines = status.stdout.splitlines()
        assert lines[0].startswith("armed; today: events")
        assert any(line.split() == ["triggers", "2", "taken;", "not", "taken:", "held", "off", "1,", "dropped", "0,",
                                    "wind-storm",
                                    "limit", "0,", "outside", "schedule", "0,", "card", "full", "0"]
                   for line in lines), status.stdout
        for python_repr in ("None", "{", "[", "'"):
            assert python_repr not in status.stdout
        assert len(lines) < 20
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=30)


def test_simulate_says_when_its_interval_is_inside_the_holdoff(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "store", pir={"holdoff_s": 5})
    result = trapd_cli("simulate", "--triggers", "2", "--interval-s", "1", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "shorter than pir.holdoff_s (5 s)" in result.stderr
    assert "1 of 2 triggers were held off" in result.stdout


def test_run_fake_arms_stores_an_event_per_trigger_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "store", event={"gap_s": 0.1})
    common = ("--config", str(config))
    daemon = spawn_trapd("run", "--fake", *common)
    try:
        wait_until(lambda: trapd_cli("status", *common).returncode == 0, what="the daemon to answer")
        status = json.loads(trapd_cli("status", "--json", *common).stdout)
        assert status["state"] == "armed"
        assert status["pid"] == daemon.pid

        second = trapd_cli("run", "--fake", *common)
        assert second.returncode == EX_TEMPFAIL
        assert_one_clear_line(second.stderr, "in use by another trapd", f"pid {daemon.pid}")

        for expected_events in (1, 2):
            fired = trapd_cli("trigger", *common)
            assert fired.returncode == 0, fired.stderr
            assert "mock-pin" in fired.stdout
            wait_until(partial(has_events, common, expected_events), what=f"{expected_events} stored events")
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, stderr
    assert "Traceback" not in stderr
    sidecars = sorted((tmp_path / "store" / "test-site").glob(f"*/*/{SIDECAR_NAME}"))
    assert len(sidecars) == 2
    final = json.loads((tmp_path / "store" / ".trapd" / "status.json").read_text())
    assert final["state"] == "stopped"


def test_sigterm_mid_burst_keeps_every_frame_already_captured(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "store", burst={"frames": 100, "interval_s": 0.05})
    common = ("--config", str(config))
    daemon = spawn_trapd("run", "--fake", *common)
    try:
        wait_until(lambda: trapd_cli("status", *common).returncode == 0, what="the daemon to answer")
        assert trapd_cli("trigger", *common).returncode == 0
        wait_until(lambda: json.loads(trapd_cli("status", "--json", *common).stdout)["frames_captured"] >= 5,
                   what="five captured frames")
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, stderr
    [sidecar_path] = (tmp_path / "store" / "test-site").glob(f"*/*/{SIDECAR_NAME}")
    sidecar = json.loads(sidecar_path.read_text())
    assert sidecar["end_reason"] == "shutdown"
    frames = sidecar["frames"]
    assert 5 <= len(frames) < 100
    final = json.loads((tmp_path / "store" / ".trapd" / "status.json").read_text())
    assert final["frames_captured"] == len(frames) == final["frames_kept"]
    for frame in frames:
        with Image.open(sidecar_path.parent / frame["file"]) as image:
            image.load()


def test_a_run_that_cannot_find_its_camera_creates_nothing_on_the_storage(tmp_path: Path) -> None:
    """No picamera2 (exit 69): /var/lib/trapd/.trapd/{ballast, catalog.sqlite, lock} were created anyway."""
    config = write_config(tmp_path / "c.yaml", tmp_path / "store", camera={"type": "picamera2"},
                          storage={"ballast_mb": 1})
    result = trapd_cli("run", "--config", str(config))
    assert result.returncode == 69 and "picamera2" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "store").exists()
