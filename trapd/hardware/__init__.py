"""Hardware behind small interfaces: the PIR, the camera, the lights. Each has a fake.

``open_camera`` picks the adapter named by ``camera.type``. The picamera2 adapter module is
imported only when chosen, because importing picamera2 needs libcamera (a Pi).
"""

from __future__ import annotations

from trapd.config import CameraConfig, Picamera2Config, ReplayCameraConfig, SyntheticCameraConfig
from trapd.hardware.camera import Camera


def open_camera(config: CameraConfig) -> Camera:
    if isinstance(config, ReplayCameraConfig):
        from trapd.hardware.replay import ReplayCamera

        return ReplayCamera(config.images_dir, config.lores_size)
    if isinstance(config, SyntheticCameraConfig):
        from trapd.hardware.synthetic import SyntheticCamera

        return SyntheticCamera(config.main_size, config.lores_size, seed=config.seed)
    if isinstance(config, Picamera2Config):
        from trapd.hardware.picam import Picamera2Camera

        return Picamera2Camera(config)
    raise TypeError(f"unknown camera config {type(config).__name__}")
