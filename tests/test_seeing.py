"""Seeing without a browser: `detect` on folders with boxes drawn, `eval` and `replay` in words, and a progress
bar on a terminal only."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import PROJECT_ROOT, trapd_cli
from trapd.errors import EX_CANTCREAT, EX_NOINPUT

SHARED = PROJECT_ROOT.parent / "shared"
MODELS = SHARED / "models"
IMAGES = SHARED / "images" / "camera-trap"
WITH_MODELS = {"TRAPD_MODELS_DIR": str(MODELS)}


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    if not (MODELS / "ssd_mobilenet_v1_coco_quant_detect.tflite").is_file():
        pytest.skip(f"shared models and photos not found at {SHARED} (../shared is absent)")
    folder = tmp_path / "photos"
    (folder / "night").mkdir(parents=True)
    shutil.copy(IMAGES / "sn_domestic_dog.jpg", folder)
    shutil.copy(IMAGES / "sn_blank.jpg", folder / "night")
    return folder


def test_detect_takes_folders_and_shows_detections_and_latency(photos: Path) -> None:
    result = trapd_cli("detect", str(photos), env=WITH_MODELS)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    dog = next(line for line in lines if "sn_domestic_dog.jpg" in line)
    assert "KEEP" in dog and "latency_ms " in dog
    detail = lines[lines.index(dog) + 1]
    assert detail.split()[0] == "animal" and " at [" in detail
    assert any("night/sn_blank.jpg" in line for line in lines), "sub-folders too"
    assert lines[-1].startswith("2 photos: ")


def test_detect_annotate_writes_copies_with_the_boxes_drawn(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "annotated"
    result = trapd_cli("detect", str(photos), "--annotate", str(out), env=WITH_MODELS)
    assert result.returncode == 0, result.stderr
    original = np.asarray(Image.open(photos / "sn_domestic_dog.jpg").convert("RGB"), dtype=np.int16)
    copy = np.asarray(Image.open(out / "sn_domestic_dog.jpg").convert("RGB"), dtype=np.int16)
    assert copy.shape == original.shape
    changed = np.abs(copy - original).max(axis=-1) > 60
    assert changed.mean() > 0.001, "boxes and labels are drawn"
    assert (out / "night" / "sn_blank.jpg").is_file(), "the folder's layout is kept"


def test_detect_annotate_never_writes_over_a_photo(photos: Path) -> None:
    before = (photos / "sn_domestic_dog.jpg").read_bytes()
    result = trapd_cli("detect", str(photos), "--annotate", str(photos), env=WITH_MODELS)
    assert result.returncode == EX_CANTCREAT and "would write over the photo" in result.stderr
    assert (photos / "sn_domestic_dog.jpg").read_bytes() == before


def test_eval_speaks_to_a_biologist(photos: Path) -> None:
    (photos / "ground_truth.csv").write_text("file,label\nsn_domestic_dog.jpg,animal\nnight/sn_blank.jpg,empty\n")
    result = trapd_cli("eval", str(photos), env=WITH_MODELS)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("kept 1 of 1 photos with an animal, person or vehicle; threw away ")
    assert " of 1 empty photos; " in first and first.endswith(" ms per photo")
    assert "overhead" not in result.stdout and "interpreter" not in result.stdout
    verbose = trapd_cli("eval", str(photos), "--verbose", env=WITH_MODELS)
    assert "interpreter" in verbose.stdout


def test_eval_without_its_ground_truth_says_which_file_and_what_it_holds(tmp_path: Path) -> None:
    result = trapd_cli("eval", str(tmp_path))
    assert result.returncode == EX_NOINPUT
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert str(tmp_path / "ground_truth.csv") in result.stderr and "file,label" in result.stderr


def test_replay_ends_with_a_summary(photos: Path) -> None:
    result = trapd_cli("replay", str(photos), env=WITH_MODELS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("2 photos in ")
    assert "add --storage DIR" in result.stdout.splitlines()[-1]


def test_a_progress_bar_on_a_terminal_and_none_in_a_pipe(photos: Path) -> None:
    (photos / "ground_truth.csv").write_text("file,label\nsn_domestic_dog.jpg,animal\nnight/sn_blank.jpg,empty\n")
    piped = trapd_cli("eval", str(photos), env=WITH_MODELS)
    assert "photos/s" not in piped.stderr and "it/s" not in piped.stderr
    main, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # a terminal has a size
    try:
        process = subprocess.run([sys.executable, "-m", "trapd", "eval", str(photos)], stdout=subprocess.PIPE,
                                 stderr=terminal, timeout=120, env={**os.environ, **WITH_MODELS}, cwd=PROJECT_ROOT)
        os.close(terminal)
        shown = b""
        try:
            while chunk := os.read(main, 65536):
                shown += chunk
        except OSError:
            pass  # the terminal's other end closed: all of it was read
    finally:
        os.close(main)
    assert process.returncode == 0
    assert b"photos/s" in shown or b"s/ photos" in shown, shown
    assert process.stdout.decode().startswith("kept 1 of 1 photos")


def test_the_runtime_does_not_print_its_banner_among_trapds_lines(photos: Path) -> None:
    result = trapd_cli("detect", str(photos / "sn_domestic_dog.jpg"), env=WITH_MODELS)
    assert result.returncode == 0 and "XNNPACK" not in result.stderr and "INFO:" not in result.stderr


def test_a_simulation_of_a_pi_stores_frames_of_the_pis_size() -> None:
    from trapd.config.model import TrapdConfig
    from trapd.simulate import with_fake_camera

    pi = TrapdConfig.model_validate({"camera": {"type": "picamera2", "main_size": [2028, 1520]}})
    assert with_fake_camera(pi, None).camera.main_size == (2028, 1520)  # type: ignore[attr-defined]


def test_a_simulated_trap_and_replay_show_the_detector_the_same_picture(tmp_path: Path) -> None:
    """Both make the low-resolution frame at the model's input from the same reduced decode: the same photos
    give the same detections, live and replayed (the shipped 320x240 lores gave 24 of 45 photos other labels)."""
    if not (MODELS / "ssd_mobilenet_v1_coco_quant_detect.tflite").is_file():
        pytest.skip(f"shared models and photos not found at {SHARED} (../shared is absent)")
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("sn_african_elephants.jpg", "sn_domestic_dog.jpg", "sn_blank.jpg"):
        shutil.copy(IMAGES / name, photos / name)
    config = tmp_path / "c.yaml"
    config.write_text("pir:\n  holdoff_s: 0\nburst:\n  frames: 1\nevent:\n  gap_s: 0.2\ndecision:\n"
                      "  audit_fraction: 0\ndetector:\n  tiles: [1, 1]\n")
    live = trapd_cli("simulate", "--images", str(photos), "--triggers", "3", "--config", str(config),
                     "--storage", str(tmp_path / "live"), env=WITH_MODELS, timeout_s=120)
    assert live.returncode == 0, live.stderr
    seen_live = {}
    for sidecar in (tmp_path / "live").glob("trapd-dev/*/*/event.json"):
        for frame in json.loads(sidecar.read_text())["frames"]:
            seen_live[frame["source"]] = frame["detections"]
    replayed = trapd_cli("replay", str(photos), "--json", "--config", str(config), env=WITH_MODELS)
    assert replayed.returncode == 0, replayed.stderr
    seen_replayed = {line["file"]: line["detections"] for line in map(json.loads, replayed.stdout.splitlines())}
    assert len(seen_live) == 3 and seen_live == seen_replayed
