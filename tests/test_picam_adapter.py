"""The picamera2 adapter against a stand-in module with picamera2 0.3.38's signatures.

The real camera test (test_cameras.py) needs a Pi; this one checks, everywhere, that the
adapter configures and calls picamera2 the way its API requires.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from tests import picamera2_stub
from tests.picamera2_stub import Picamera2
from trapd.errors import DeviceError
from trapd.frames import METADATA_KEYS
from trapd.hardware.picam import Picamera2Camera, Picamera2Config


@pytest.fixture(autouse=True)
def stub_picamera2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", picamera2_stub.module())


def test_configured_once_with_an_rgb_main_and_a_yuv_lores_stream() -> None:
    camera = Picamera2Camera(Picamera2Config(main_size=(2028, 1520), lores_size=(480, 270)))
    [device] = Picamera2.instances
    assert device.configured is not None
    assert device.configured["main"]["size"] == (2028, 1520)
    assert device.configured["main"]["format"] == "BGR888"  # picamera2's name for RGB byte order
    assert device.configured["lores"] == {"format": "YUV420", "size": (480, 270), "stride": 512}
    assert device.configured["buffer_count"] >= 2
    assert camera.model == "imx477"


def test_capture_waits_for_a_fresh_frame_with_a_timeout_and_releases_it() -> None:
    camera = Picamera2Camera(Picamera2Config(lores_size=(480, 270), capture_timeout_s=3.0))
    camera.start()
    called_ns = time.monotonic_ns()
    frame = camera.capture()
    [device] = Picamera2.instances
    assert device.capture_calls == [{"wait": 3.0, "flush": True}]
    assert all(request.released for request in device.requests)
    assert frame.main is not None and frame.main.shape == (1520, 2028, 3)
    assert frame.lores is not None and frame.lores.shape == (270, 480, 3)
    assert np.all(np.abs(frame.lores.astype(int) - 128) <= 1)  # grey in, grey out
    assert set(frame.metadata) == set(METADATA_KEYS)  # only the documented keys, all plain values
    assert frame.exposure_start_ns >= called_ns


def test_a_stalled_camera_is_a_device_error_and_the_queue_is_flushed() -> None:
    camera = Picamera2Camera(Picamera2Config())
    camera.start()
    Picamera2.stall = True
    with pytest.raises(DeviceError, match=r"no frame within 5 s.*ribbon cable"):
        camera.capture()
    assert Picamera2.instances[0].flushed


def test_no_such_camera_is_a_device_error() -> None:
    with pytest.raises(DeviceError, match=r"no camera number 3 found \(1 connected\)"):
        Picamera2Camera(Picamera2Config(camera_num=3))


def test_a_rejected_configuration_closes_the_camera() -> None:
    with pytest.raises(DeviceError, match="rejected the configuration"):
        Picamera2Camera(Picamera2Config(main_size=(320, 240), lores_size=(640, 480)))
    assert Picamera2.instances[0].closed


def test_scene_lux_and_close_twice() -> None:
    camera = Picamera2Camera(Picamera2Config())
    assert camera.scene_lux() is None  # not started: no reading
    camera.start()
    assert camera.scene_lux() == 3.0
    camera.close()
    camera.close()
    assert Picamera2.instances[0].closed and not Picamera2.instances[0].started
