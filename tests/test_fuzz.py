"""Every parser fed hostile input: configs, model cards, sidecars, photos' headers, socket requests.

Each answers with a result or trapd's own refusal, never another exception, never a hang, and a
photo never comes back with neither pixels nor a reason. The mutations are tools/fuzz.py's,
driven here by hypothesis (which shrinks a failure to its smallest input); the long campaign and
its counts are in BENCHMARKS.md.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PROJECT_ROOT, make_config, run_one_event, trapd_cli

sys.path.insert(0, str(PROJECT_ROOT / "tools"))
import fuzz

PHOTOS = Path(__file__).parent / "fixtures" / "photos"
DAMAGED = sorted(PHOTOS.glob("damaged_exif_*.jpg"))
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[object, object]]]:
    yield fuzz.targets(tmp_path_factory.mktemp("fuzz"))  # type: ignore[misc]


@pytest.mark.parametrize("name", ["config", "model_card", "sidecar", "jpeg", "socket"])
@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_a_parser_answers_or_refuses_and_nothing_else(name: str, rng: random.Random,
                                                      targets: dict[str, tuple[object, object]]) -> None:
    target, generate = targets[name]
    data = generate(rng)  # type: ignore[operator]
    started = time.monotonic()
    assert target(data) in ("accepted", "refused")  # type: ignore[operator]
    # Never a hang: the campaign counts one past fuzz.HANG_S; here, with room for a loaded CI machine.
    assert time.monotonic() - started < 5 * fuzz.HANG_S


@pytest.mark.parametrize("photo", DAMAGED, ids=[p.stem for p in DAMAGED])
def test_a_photo_whose_exif_is_damaged_is_kept_and_flagged(tmp_path: Path, mock_factory: MockFactory,
                                                           photo: Path) -> None:
    """Such a photo killed the capture stage (exit 70, the frame lost, camera_errors 0); now it is a frame."""
    images = tmp_path / "images"
    images.mkdir()
    (images / photo.name).write_bytes(photo.read_bytes())
    config = make_config(tmp_path / "store", camera={"type": "replay", "images_dir": str(images)}, burst={"frames": 1})
    record, stored, daemon = run_one_event(config, mock_factory)
    assert daemon.exit_code() == 0 and len(stored.files) == 1 and record.frames[0].camera.decode_error is None
    assert daemon.status.counts()["camera_errors"] == 0


def test_exif_that_does_not_read_leaves_the_pixels_and_flags_the_frame(tmp_path: Path, mock_factory: MockFactory,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import struct

    from PIL import Image

    def damaged(self: Image.Image) -> Image.Exif:
        raise struct.error("unpack requires a buffer of 12 bytes")

    monkeypatch.setattr(Image.Image, "getexif", damaged)
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(DAMAGED[0].read_bytes())
    config = make_config(tmp_path / "store", camera={"type": "replay", "images_dir": str(images)}, burst={"frames": 1})
    record, stored, daemon = run_one_event(config, mock_factory)
    assert len(stored.files) == 1 and record.frames[0].flags == ("metadata_unreadable",)
    assert "EXIF does not read (error: unpack" in str(record.frames[0].camera.metadata_error)
    assert daemon.status.counts()["metadata_errors"] == 1


def test_photo_commands_go_on_past_a_damaged_photo(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for photo in DAMAGED:
        (images / photo.name).write_bytes(photo.read_bytes())
    result = trapd_cli("replay", str(images), "--config", str(_no_detector(tmp_path)))
    assert result.returncode == 0 and "Traceback" not in result.stderr and "Warning" not in result.stderr
    *frames, summary = result.stdout.splitlines()
    assert len(frames) == len(DAMAGED) and summary.startswith(f"{len(DAMAGED)} photos in ")


def _no_detector(tmp_path: Path) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text("detector:\n  type: none\n")
    return path
