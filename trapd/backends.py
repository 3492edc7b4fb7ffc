"""The registry of backends: every camera and detector ``type`` trapd knows, each with its config.

This is the one place that lists them. The config's ``camera:`` and ``detector:`` unions, their
default types and the names the config loader recognises are derived from these lists, so adding
a camera is one new file (its config section, a subclass of
:class:`~trapd.config.camera.CameraCommon` with a ``type`` literal, and its class with a
``from_config``) and one line below. The first entry of each list is the default.

Importing a backend's module must not need its hardware: the picamera2 adapter imports
picamera2 only when a camera is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, get_args

from pydantic import BaseModel

from trapd.config.sections import DecisionConfig
from trapd.detect.base import Detector
from trapd.detect.detector import TfliteDetector, TfliteDetectorConfig
from trapd.detect.passthrough import NoDetectorConfig, PassthroughDetector
from trapd.hardware.camera import Camera
from trapd.hardware.picam import Picamera2Camera, Picamera2Config
from trapd.hardware.replay import ReplayCamera, ReplayCameraConfig
from trapd.hardware.synthetic import SyntheticCamera, SyntheticCameraConfig

Settings = TypeVar("Settings", bound=BaseModel)
Built = TypeVar("Built")


@dataclass(frozen=True, slots=True)
class Backend(Generic[Settings, Built]):
    """A backend: its config section's model and how to build it from that section."""

    config: type[Settings]
    build: Callable[..., Built]

    @property
    def type(self) -> str:
        """The ``type:`` value that selects it, read from its config model's literal default or annotation."""
        return type_name(self.config)


def type_name(model: type[BaseModel]) -> str:
    """``"picamera2"`` for a section whose ``type`` is ``Literal["picamera2"]``."""
    (name,) = get_args(model.model_fields["type"].annotation)
    return str(name)


CAMERAS: tuple[Backend[Any, Camera], ...] = (
    Backend(Picamera2Config, Picamera2Camera),
    Backend(ReplayCameraConfig, ReplayCamera.from_config),
    Backend(SyntheticCameraConfig, SyntheticCamera.from_config),
)

DETECTORS: tuple[Backend[Any, Detector], ...] = (
    Backend(TfliteDetectorConfig, TfliteDetector.from_config),
    Backend(NoDetectorConfig, PassthroughDetector.from_config),
)


def _backend_for(backends: tuple[Backend[Any, Built], ...], config: BaseModel) -> Backend[Any, Built]:
    for backend in backends:
        if isinstance(config, backend.config):
            return backend
    raise TypeError(f"no backend is registered for {type(config).__name__}")


def open_camera(config: BaseModel) -> Camera:
    """The camera the ``camera:`` section names."""
    return _backend_for(CAMERAS, config).build(config)


def open_detector(config: BaseModel, policy: DecisionConfig) -> Detector:
    """The detector the ``detector:`` section names (trapd/detect/build.py adds fail-open around it)."""
    return _backend_for(DETECTORS, config).build(config, policy)
