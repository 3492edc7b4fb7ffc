"""Fixtures: a fresh gpiozero MockFactory, fast configs, the shared photos, and test doubles."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from gpiozero.pins.mock import MockFactory
from PIL import Image

from tests.doubles import EventSink
from trapd.config.model import TrapdConfig
from trapd.daemon import Daemon
from trapd.event import DecidedEvent
from trapd.files import TMP_SUFFIX
from trapd.storage.catalog import Catalog
from trapd.storage.layout import STATE_DIR_NAME, catalog_name, frame_path
from trapd.storage.reconcile import reconcile
from trapd.storage.sidecar import read_sidecars
from trapd.storage.writer import StoredEvent

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
CAMERA_TRAP_IMAGES = SHARED / "images" / "camera-trap"


@pytest.fixture(autouse=True)
def isolated_model_folders(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reads or writes this machine's model folders (~/.local/share, /var/lib/trapd), subprocesses included."""
    home = tmp_path_factory.mktemp("machine")
    monkeypatch.delenv("TRAPD_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg"))
    monkeypatch.setenv("STATE_DIRECTORY", str(home / "state"))


@pytest.fixture
def mock_factory() -> Iterator[MockFactory]:
    """A fresh MockFactory, passed explicitly to devices; gpiozero's global is never touched."""
    factory = MockFactory()
    try:
        yield factory
    finally:
        factory.reset()


@pytest.fixture
def shared_models(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared pretrained models, on TRAPD_MODELS_DIR (subprocesses included)."""
    models = SHARED / "models"
    if not (models / "ssd_mobilenet_v1_coco_quant_detect.tflite").is_file():
        pytest.skip(f"shared models not found at {models} (../shared is absent)")
    monkeypatch.setenv("TRAPD_MODELS_DIR", str(models))
    return models


@pytest.fixture
def site_sequences() -> Path:
    """The fixed-camera site sequences, every frame labelled (labels.csv: site,file,label)."""
    sites = SHARED / "images" / "sites"
    if not (sites / "labels.csv").is_file():
        pytest.skip(f"shared site sequences not found at {sites} (../shared is absent)")
    return sites


@pytest.fixture
def camera_trap_images() -> Path:
    if not CAMERA_TRAP_IMAGES.is_dir():
        pytest.skip(f"shared camera-trap photos not found at {CAMERA_TRAP_IMAGES} (../shared is absent)")
    return CAMERA_TRAP_IMAGES


@contextlib.contextmanager
def small_card(mount_point: Path, size_mb: int) -> Iterator[Path]:
    """A real, small file system (tmpfs) that can really fill up; skips unless this runs as root."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; tests with an injected ENOSPC cover this path")
    mount_point.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); injected-ENOSPC tests cover this path")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def jpegs(root: Path) -> set[str]:
    """Every JPEG under a storage root but its state folder (quarantine), relative to the root."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*.jpg") if STATE_DIR_NAME not in p.parts}


def assert_files_and_catalog_agree(root: Path, catalog: Catalog) -> None:
    """Every file a sidecar claims exists, every JPEG is claimed, and the catalog indexes exactly those."""
    claimed = set()
    for folder, sidecar in read_sidecars(root):
        for frame in sidecar.frames:
            if frame.file:
                claimed.add(catalog_name(root, frame_path(folder, frame.file)))
    assert claimed == jpegs(root)
    assert set(catalog.media_files()) == claimed


def assert_card_is_sound(root: Path) -> None:
    """What a restart must find, whatever happened: no partial file, every JPEG whole, files and catalog agreeing."""
    catalog = Catalog(root)
    try:
        reconcile(root, catalog)
        assert not list(root.rglob(f"*{TMP_SUFFIX}")), "a partial write was left behind"
        for path in root.rglob("*.jpg"):
            with Image.open(path) as image:
                image.load()
        assert_files_and_catalog_agree(root, catalog)
    finally:
        catalog.close()


def exiftool(path: Path) -> dict[str, Any]:
    """What exiftool, which photo software relies on, reads from a JPEG (numbers unformatted).

    ``ExifTool:Validate`` counts errors, warnings and minor warnings: "0 0 0" is a clean file.
    """
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (apt install libimage-exiftool-perl; .ci/run installs it)")
    run = subprocess.run(["exiftool", "-json", "-n", "-a", "-G1", "-all", "-composite:all", "-validate", "-warning",
                          str(path)],
                         capture_output=True, text=True, check=True)
    tags: dict[str, Any] = json.loads(run.stdout)[0]
    return tags


def config_data(root: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """A config for tests: synthetic camera, tiny frames, short bursts and gaps; sections merged in."""
    data: dict[str, Any] = {
        "deployment": {"id": "test-site", "camera_id": "cam-test", "timezone": "UTC"},
        "pir": {"holdoff_s": 0.0},
        "camera": {"type": "synthetic", "main_size": [160, 120], "lores_size": [80, 60]},
        "burst": {"frames": 3, "interval_s": 0.01},
        "event": {"gap_s": 0.2},
        "detector": {"type": "none"},
        "decision": {"audit_fraction": 0.0},  # the audit draw is random; tests that want it set it to 1
        "storage": {"root": str(root), "reserve_mb": 0, "ballast_mb": 0},  # guard and ballast have tests of their own
    }
    for name, values in sections.items():
        if name in ("camera", "detector") and "type" in values:
            data[name] = dict(values)
        else:
            data[name] = {**data.get(name, {}), **values}
    return data


def make_config(root: Path, **sections: dict[str, Any]) -> TrapdConfig:
    return TrapdConfig.model_validate(config_data(root, **sections))


def write_config(path: Path, root: Path, **sections: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config_data(root, **sections)))
    return path


def pulse(factory: MockFactory, pin: int = 17) -> None:
    """What a PIR does on motion: the line goes high, then low again."""
    factory.pin(pin).drive_high()
    factory.pin(pin).drive_low()


def pulse_for_events(factory: MockFactory, sink: EventSink, count: int) -> list[tuple[DecidedEvent, StoredEvent]]:
    """Fire the PIR ``count`` times, each once the previous event is stored: ``count`` more separate events.

    Returns every event the sink holds, those stored before the call included.
    """
    events = list(sink.events)
    for stored in range(len(events) + 1, len(events) + count + 1):
        pulse(factory)
        events = sink.wait_for(stored)
    return events


def run_one_event(config: TrapdConfig, factory: MockFactory,
                  **kwargs: Any) -> tuple[DecidedEvent, StoredEvent, Daemon]:
    """Start a daemon, fire the PIR once, wait for that event to be stored, stop; the daemon is returned stopped."""
    sink = EventSink()
    daemon = start_daemon(config, factory, on_event_stored=sink, **kwargs)
    try:
        pulse(factory)
        [(record, stored)] = sink.wait_for(1)
    finally:
        daemon.stop()
    return record, stored, daemon


def start_daemon(config: TrapdConfig, factory: MockFactory, **kwargs: Any) -> Daemon:
    daemon = Daemon(config, pin_factory=factory, **kwargs)
    daemon.start()
    return daemon


# --- the CLI as a user runs it ---------------------------------------------------------------------


def trapd_cli(
    *args: str, timeout_s: float = 60.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trapd", *args],
        capture_output=True, text=True, timeout=timeout_s, env={**os.environ, **(env or {})}, cwd=PROJECT_ROOT,
    )


def spawn_trapd(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "trapd", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT,
    )


def wait_until(predicate: Callable[[], bool], timeout_s: float = 15.0, what: str = "condition") -> None:
    """For observing another process, which offers no event to wait on: check every 50 ms."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)
