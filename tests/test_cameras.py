"""One contract for every camera adapter, plus what is particular to each."""

from __future__ import annotations

import importlib.util
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory
from PIL import Image

from trapd.errors import DeviceError, InputError
from trapd.frames import METADATA_KEYS
from trapd.hardware.camera import Camera
from trapd.hardware.picam import Picamera2Config
from trapd.hardware.replay import ReplayCamera
from trapd.hardware.synthetic import SyntheticCamera
from trapd.imaging import yuv420_to_rgb

LORES = (80, 60)


@pytest.fixture(params=["replay", "synthetic"])
def camera(request: pytest.FixtureRequest) -> Camera:
    if request.param == "replay":
        # Only the replay camera needs the shared photos (and skips without them).
        return ReplayCamera(request.getfixturevalue("camera_trap_images"), LORES)
    return SyntheticCamera((160, 120), LORES)


def test_camera_contract(camera: Camera) -> None:
    camera.start()
    called_ns = time.monotonic_ns()
    frame = camera.capture()
    camera.stop()
    camera.close()
    camera.close()  # twice is fine
    assert frame.main is not None and frame.main.dtype == np.uint8 and frame.main.shape[2] == 3
    assert frame.lores is not None and frame.lores.shape == (LORES[1], LORES[0], 3)
    assert set(METADATA_KEYS) <= set(frame.metadata)
    assert all(frame.metadata[key] is not None for key in METADATA_KEYS)
    assert frame.exposure_start_ns >= called_ns, "a frame must not be exposed before capture() was called"
    assert frame.camera_model


def test_each_capture_hands_over_its_own_pixels(camera: Camera) -> None:
    # picamera2's capture_array copies each frame out of the camera's buffer; a fake that served one array
    # twice would let a stage that changes a frame change another, and bill its frames to no one.
    frames = [camera.capture() for _ in range(SyntheticCamera.LOOP_FRAMES + 1)]
    for i, first in enumerate(frames):
        for second in frames[i + 1:]:
            assert first.main is not None and second.main is not None
            assert not np.shares_memory(first.main, second.main)
            assert not np.shares_memory(first.lores, second.lores)


def test_a_full_resolution_synthetic_camera_costs_about_one_frame_of_memory() -> None:
    # A peak RSS measured on a synthetic trap must be the trap's: drawing the scene whole in floating point
    # took over 9 frames at start-up and held 4 drawn frames for good.
    frame_bytes = 2028 * 1520 * 3
    tracemalloc.start()
    try:
        camera = SyntheticCamera((2028, 1520), (320, 240))
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 1.5 * frame_bytes
    assert peak < 3 * frame_bytes
    assert camera.capture().main is not None


@pytest.mark.skipif(importlib.util.find_spec("picamera2") is None,
                    reason="picamera2 is not importable here (it needs libcamera: a Raspberry Pi)")
def test_picamera2_adapter_contract() -> None:
    from trapd.hardware.picam import Picamera2Camera

    try:
        camera = Picamera2Camera(Picamera2Config(lores_size=LORES))
    except DeviceError as exc:
        pytest.skip(f"no camera connected: {exc}")
    try:
        camera.start()
        called_ns = time.monotonic_ns()
        frame = camera.capture()
        assert frame.lores is not None and frame.lores.shape == (LORES[1], LORES[0], 3)
        assert set(METADATA_KEYS) - {"Lux"} <= {k for k, v in frame.metadata.items() if v is not None}
        assert frame.exposure_start_ns >= called_ns
    finally:
        camera.close()


@pytest.mark.skipif(importlib.util.find_spec("picamera2") is not None, reason="picamera2 is installed here")
def test_without_picamera2_the_adapter_says_how_to_install_it() -> None:
    from trapd.hardware.picam import Picamera2Camera

    with pytest.raises(DeviceError, match=r"python3-picamera2.*--fake"):
        Picamera2Camera(Picamera2Config())


def test_replay_serves_jpegs_in_name_order_and_cycles(tmp_path: Path) -> None:
    for name, shade in (("b.jpg", 200), ("a.JPG", 10), ("c.jpeg", 120)):
        Image.new("RGB", (64, 48), (shade, shade, shade)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a photo")
    camera = ReplayCamera(tmp_path, (32, 24))
    served = [camera.capture().source_name for _ in range(4)]
    assert served == ["a.JPG", "b.jpg", "c.jpeg", "a.JPG"]


def test_replay_refuses_missing_empty_and_photo_less_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        ReplayCamera(tmp_path / "nope", LORES)
    with pytest.raises(InputError, match="it is empty"):
        ReplayCamera(tmp_path, LORES)
    (tmp_path / "readme.md").write_text("hi")
    with pytest.raises(InputError, match="holds 1 other files"):
        ReplayCamera(tmp_path, LORES)
    with pytest.raises(InputError, match="is not a folder"):
        ReplayCamera(tmp_path / "readme.md", LORES)


def test_replay_keeps_the_bytes_of_a_file_that_will_not_decode(camera_trap_images: Path, tmp_path: Path) -> None:
    truncated = (camera_trap_images / "sn_african_elephants_truncated_file.jpg").read_bytes()
    (tmp_path / "x.jpg").write_bytes(truncated)
    frame = ReplayCamera(tmp_path, LORES).capture()
    assert frame.main is None and frame.lores is None
    assert frame.original_jpeg == truncated
    assert frame.decode_error and "truncated" in frame.decode_error
    assert set(METADATA_KEYS) <= set(frame.metadata)


def test_a_non_jpeg_with_a_jpeg_name_is_undecodable_not_fatal(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "fake.jpg", format="PNG")
    frame = ReplayCamera(tmp_path, LORES).capture()
    assert frame.main is None and frame.decode_error and "not a JPEG" in frame.decode_error


def test_a_jpeg_claiming_gigapixels_is_undecodable_not_fatal(tmp_path: Path) -> None:
    """A corrupt header can claim 60000x60000: Pillow refuses it as a decompression bomb; kept, flagged."""
    Image.new("RGB", (8, 8)).save(tmp_path / "bomb.jpg", format="JPEG")
    data = bytearray((tmp_path / "bomb.jpg").read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = (60000).to_bytes(2, "big") * 2  # height, width
    (tmp_path / "bomb.jpg").write_bytes(bytes(data))
    frame = ReplayCamera(tmp_path, LORES).capture()
    assert frame.main is None and frame.decode_error and "does not decode" in frame.decode_error
    assert frame.original_jpeg == bytes(data)


@pytest.mark.parametrize(
    ("name", "height", "width"),
    [
        ("sn_african_elephants_bw.jpg", None, None),
        ("sn_african_elephants_cmyk.jpg", None, None),
        ("sn_african_elephants_with_exif_orientation.jpg", 1536, 2048),
    ],
)
def test_odd_jpegs_decode_to_upright_rgb(camera_trap_images: Path, tmp_path: Path, name: str,
                                         height: int | None, width: int | None) -> None:
    (tmp_path / name).write_bytes((camera_trap_images / name).read_bytes())
    frame = ReplayCamera(tmp_path, LORES).capture()
    assert frame.decode_error is None
    assert frame.main is not None and frame.main.ndim == 3 and frame.main.shape[2] == 3
    if height is not None:
        assert frame.main.shape[:2] == (height, width), "EXIF orientation 6 must be applied"


def _as_yuv420(rgb: np.ndarray, stride: int) -> np.ndarray:
    """Lay out an RGB image as picamera2 hands over YUV420: planes in a (h * 3 / 2, stride) array."""
    height, width, _ = rgb.shape
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    planes = [np.zeros((height, stride), np.uint8)]
    planes[0][:, :width] = np.clip(np.round(y), 0, 255)
    for chroma in ((b - y) / 1.772 + 128, (r - y) / 1.402 + 128):
        plane = np.zeros((height // 2, stride // 2), np.uint8)
        plane[:, : width // 2] = np.clip(np.round(chroma[::2, ::2]), 0, 255)
        planes.append(plane)
    return np.concatenate([p.reshape(-1) for p in planes]).reshape(height * 3 // 2, stride)


@pytest.mark.parametrize(("width", "height", "stride"), [(8, 4, 16), (8, 6, 16), (480, 270, 512)])
def test_yuv420_converts_back_to_rgb(width: int, height: int, stride: int) -> None:
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, : width // 2] = (200, 30, 30)
    rgb[:, width // 2 :] = (20, 40, 220)
    back = yuv420_to_rgb(_as_yuv420(rgb, stride), width, height)
    assert back.shape == (height, width, 3)
    assert np.abs(back.astype(int) - rgb.astype(int)).max() <= 3


def test_an_empty_photo_is_a_camera_error_not_a_kept_frame_without_a_file(tmp_path: Path,
                                                                         mock_factory: MockFactory) -> None:
    from tests.conftest import make_config, run_one_event

    images = tmp_path / "images"
    images.mkdir()
    (images / "empty.jpg").write_bytes(b"")
    config = make_config(tmp_path / "store", camera={"type": "replay", "images_dir": str(images)}, burst={"frames": 2})
    record, stored, daemon = run_one_event(config, mock_factory)
    assert not record.frames and not stored.files
    assert daemon.status.counts()["camera_errors"] == 2
    assert daemon.status.counts()["frames_kept"] == 0
