"""The picamera2 adapter against a stand-in that behaves as picamera2 0.3.36 and libcamera do (see the stub).

The real camera test (test_cameras.py) needs a Pi; these check, everywhere, that the adapter
configures and calls picamera2 the way the library requires, and survives what it does.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from tests import picamera2_stub
from tests.picamera2_stub import Picamera2, luma
from trapd.config.load import load_config
from trapd.errors import EX_CONFIG, ConfigError, DeviceError
from trapd.frames import METADATA_KEYS
from trapd.hardware.picam import Picamera2Camera, Picamera2Config


@pytest.fixture(autouse=True)
def stub_picamera2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", picamera2_stub.module())


def started(**settings: object) -> tuple[Picamera2Camera, Picamera2]:
    camera = Picamera2Camera(Picamera2Config(**settings))  # type: ignore[arg-type]
    camera.start()
    return camera, Picamera2.instances[-1]


def test_configured_once_with_an_rgb_main_a_yuv_lores_no_raw_and_both_buffers_with_libcamera() -> None:
    camera = Picamera2Camera(Picamera2Config(main_size=(2028, 1520), lores_size=(480, 270)))
    [device] = Picamera2.instances
    assert device.configured is not None
    assert device.configured["main"]["size"] == (2028, 1520)
    assert device.configured["main"]["format"] == "BGR888"  # picamera2's name for RGB byte order
    assert device.configured["lores"] == {"format": "YUV420", "size": (480, 270), "stride": 512}
    assert device.configured["raw"] is None, "a raw stream nobody reads costs two buffers of contiguous memory"
    assert device.configured["buffer_count"] == 2 and device.configured["queue"] is False
    assert camera.model == "imx477"


def test_capture_waits_for_a_fresh_frame_with_a_timeout_and_releases_it() -> None:
    camera, device = started(lores_size=(480, 270), capture_timeout_s=3.0)
    called_ns = time.monotonic_ns()
    frame = camera.capture()
    assert device.capture_calls == [{"wait": 3.0, "flush": True}]
    assert all(request.released for request in device.requests)
    assert frame.main is not None and frame.main.shape == (1520, 2028, 3)
    assert frame.lores is not None and frame.lores.shape == (270, 480, 3)
    assert set(frame.metadata) == set(METADATA_KEYS)  # only the documented keys, all plain values
    assert frame.exposure_start_ns >= called_ns


@pytest.mark.parametrize(("platform", "width", "stride"), [("pisp", 704, 768), ("vc4", 704, 704),
                                                           ("pisp", 480, 512), ("pisp", 320, 384)])
def test_the_lores_stream_reads_right_whatever_the_isp_pads(platform: str, width: int, stride: int) -> None:
    Picamera2.platform = platform
    camera, device = started(lores_size=(width, 396))
    assert device.configured is not None and device.configured["lores"]["stride"] == stride
    frame = camera.capture()
    assert frame.lores is not None
    expected = luma(width, 396).astype(int)
    assert np.abs(frame.lores[..., 1].astype(int) - expected).max() <= 1, "the ramp, not sheared or padded"


def test_a_timeout_restarts_the_camera_so_the_next_capture_works() -> None:
    """libcamera's frontend timeout stops the streams until stop() and start(); a flush alone leaves every later
    capture waiting out its timeout, while heartbeats still pass."""
    camera, device = started(capture_timeout_s=0.5)
    Picamera2.stall = True
    with pytest.raises(DeviceError, match=r"no frame within 0.5 s.*restarted it.*ribbon cable"):
        camera.capture()
    assert device.jobs == [] and device.restarts == 1, "the stale job cancelled, then the camera restarted"
    Picamera2.stall = False
    assert camera.capture().main is not None


def test_a_camera_that_stays_dead_fails_each_capture_in_bounded_time_and_still_stops() -> None:
    camera, device = started(capture_timeout_s=0.5)
    Picamera2.stall = Picamera2.cable_loose = True
    for _ in range(3):
        with pytest.raises(DeviceError, match="no frame within"):
            camera.capture()
    camera.close()  # never queues behind a timed-out job (the stub raises Hang where picamera2 would block)
    assert device.closed


def test_scene_light_is_read_from_a_frame_exposed_after_asking() -> None:
    """The request picamera2 holds was exposed before: in back-to-back bursts, with the IR still on."""
    camera, device = started()
    Picamera2.held_lux, Picamera2.scene_lux = 40.0, 3.0
    assert camera.scene_lux() == 3.0
    assert device.capture_calls[-1]["flush"] is True


def test_a_lux_reading_that_times_out_leaves_no_job_for_stop_to_wait_behind() -> None:
    camera, device = started(capture_timeout_s=0.5)
    Picamera2.stall = Picamera2.cable_loose = True
    with pytest.raises(DeviceError):
        camera.scene_lux()
    assert device.jobs == []
    camera.stop()
    camera.close()


@pytest.mark.parametrize("key", ["AeState", "AeLocked"])
def test_exposure_settles_before_the_burst_and_unsettled_frames_say_so(key: str) -> None:
    Picamera2.ae_key = key
    camera, device = started()
    first = camera.capture()
    assert first.exposure_settled is False, "a cold start's first frame: auto-exposure still searching"
    device.relight()  # the IR went on
    assert camera.settle(2.0) is True
    assert camera.capture().exposure_settled is True
    device.relight()
    Picamera2.settle_frames = 10_000
    started_at = time.monotonic()
    assert camera.settle(0.2) is False
    assert time.monotonic() - started_at < 1.0, "bounded by the timeout"


def test_a_settle_timeout_of_0_does_not_wait_for_a_frame() -> None:
    # camera.settle_timeout_s: 0 "does not wait": not even the frame it would take to read the exposure state.
    # Each frame still says in its own metadata whether it was settled.
    camera, device = started()
    device.relight()
    asked = len(device.capture_calls)
    assert camera.settle(0.0) is True
    assert len(device.capture_calls) == asked
    assert camera.capture().exposure_settled is False


def test_a_platform_that_reports_no_exposure_state_is_not_waited_for() -> None:
    Picamera2.ae_key = None
    camera, _ = started()
    assert camera.settle(5.0) is True
    assert camera.capture().exposure_settled is None


def test_a_picamera2_older_than_0_3_20_is_refused_in_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", picamera2_stub.module(picamera2_stub.OldPicamera2))
    with pytest.raises(DeviceError, match=r"picamera2 is too old: trapd needs 0.3.20 or newer"):
        Picamera2Camera(Picamera2Config())


def test_no_permission_for_the_camera_buffers_is_a_device_error_naming_the_video_group() -> None:
    Picamera2.dma_heap_denied = True
    with pytest.raises(DeviceError, match=r"no permission to /dev/dma_heap/vidbuf_cached.*video group"):
        Picamera2Camera(Picamera2Config())


def test_running_out_of_contiguous_memory_says_what_to_change_and_closes_the_camera() -> None:
    Picamera2.out_of_cma = True
    with pytest.raises(DeviceError, match=r"contiguous memory \(CMA\).*camera.main_size.*cma-512"):
        Picamera2Camera(Picamera2Config())
    assert Picamera2.instances[0].closed


def test_a_noir_tuning_file_is_loaded_by_name_and_an_unknown_one_refused() -> None:
    Picamera2Camera(Picamera2Config(tuning="imx477_noir.json"))
    assert Picamera2.instances[-1].tuning == {"version": 2.0}
    with pytest.raises(DeviceError, match=r"camera.tuning 'nope.json' cannot be loaded"):
        Picamera2Camera(Picamera2Config(tuning="nope.json"))


def test_a_lores_larger_than_main_is_a_config_error_not_a_restart_loop(tmp_path: object) -> None:
    with pytest.raises(ValueError, match=r"larger than camera.main_size"):
        Picamera2Config(main_size=(320, 240), lores_size=(640, 480))
    from pathlib import Path

    config = Path(str(tmp_path)) / "c.yaml"
    config.write_text("camera:\n  type: picamera2\n  main_size: [320, 240]\n  lores_size: [640, 480]\n")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert raised.value.exit_code == EX_CONFIG


def test_no_such_camera_is_a_device_error() -> None:
    with pytest.raises(DeviceError, match=r"no camera number 3 found \(1 connected\)"):
        Picamera2Camera(Picamera2Config(camera_num=3))


def test_scene_lux_and_close_twice() -> None:
    camera = Picamera2Camera(Picamera2Config())
    assert camera.scene_lux() is None  # not started: no reading
    camera.start()
    assert camera.scene_lux() == 3.0
    camera.close()
    camera.close()
    assert Picamera2.instances[0].closed and not Picamera2.instances[0].started
