"""The whole config file: one typed section per YAML section, each bounded and described.

The ``camera:`` and ``detector:`` sections are unions over the backends registered in
trapd/backends.py, chosen by their ``type`` key; the first registered backend is the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from trapd.backends import CAMERAS, DETECTORS
from trapd.config.camera import CameraCommon
from trapd.config.fields import Section
from trapd.config.sections import (
    BurstConfig,
    ControlConfig,
    DecisionConfig,
    DeploymentConfig,
    EventConfig,
    IlluminatorConfig,
    LoggingConfig,
    PipelineConfig,
    PirConfig,
    ScheduleConfig,
    StatusLedConfig,
    StorageConfig,
)
from trapd.config.site import SiteConfig
from trapd.detect.cards import builtin_cards
from trapd.detect.models import find_model
from trapd.errors import ConfigError, ModelError

#: Where the service looks when no ``--config`` is given (see systemd/trapd.service).
DEFAULT_CONFIG_PATH = Path("/etc/trapd/config.yaml")

if TYPE_CHECKING:
    # What code may rely on without asking which backend it has; it asks with isinstance() when it must.
    CameraConfig = CameraCommon
    DetectorConfig = Section
else:
    CameraConfig = Annotated[Union[tuple(b.config for b in CAMERAS)], Field(discriminator="type")]  # noqa: UP007
    DetectorConfig = Annotated[Union[tuple(b.config for b in DETECTORS)], Field(discriminator="type")]  # noqa: UP007


def _lores_at_the_models_input(data: dict[str, Any]) -> dict[str, Any]:
    """Unless the config sets ``camera.lores_size``, the camera makes its low-resolution stream at the detector
    model's input size: the ISP scales once, the CPU not at all, and the detector sees the picture `trapd replay`
    and `eval` give it from the same photo. From a 4:3 sensor a square input squashes the picture, as the model's
    own preprocessing (a resize to its input, not a crop) did in training."""
    camera = data.get("camera")
    camera = camera if isinstance(camera, dict) else {}
    detector = data.get("detector")
    detector = detector if isinstance(detector, dict) else {}
    if "lores_size" in camera or detector.get("type", DETECTORS[0].type) != "tflite":
        return data
    name = detector.get("model", "ssd-mobilenet-v1-coco")
    card = builtin_cards().get(name) if isinstance(name, str) else None
    if card is None and isinstance(name, str):
        try:
            card = find_model(name).card
        except (ModelError, ConfigError):
            return data  # not here: the default size; starting the detector says what is missing
    if card is None:
        return data
    size = [card.input.width, card.input.height]
    main = camera.get("main_size")
    if isinstance(main, list | tuple) and len(main) == 2 and all(isinstance(v, int) for v in main) and (
            size[0] > main[0] or size[1] > main[1]):
        return data  # a main stream smaller than the model's input: the ISP cannot scale up
    return {**data, "camera": {"type": CAMERAS[0].type, **camera, "lores_size": size}}


class TrapdConfig(Section):
    schema_version: Literal[1] = Field(1, description="Version of this file's layout.")
    deployment: DeploymentConfig = Field(default_factory=DeploymentConfig)
    pir: PirConfig = Field(default_factory=PirConfig)
    camera: CameraConfig = Field(default_factory=CAMERAS[0].config)
    burst: BurstConfig = Field(default_factory=BurstConfig)
    event: EventConfig = Field(default_factory=EventConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    illuminator: IlluminatorConfig = Field(default_factory=IlluminatorConfig)
    status_led: StatusLedConfig = Field(default_factory=StatusLedConfig)
    detector: DetectorConfig = Field(default_factory=DETECTORS[0].config)
    decision: DecisionConfig = Field(default_factory=DecisionConfig)
    site: SiteConfig = Field(default_factory=SiteConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    control: ControlConfig = Field(default_factory=ControlConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @model_validator(mode="before")
    @classmethod
    def _default_types(cls, data: Any) -> Any:
        # A section that only tunes the default backend need not name it (`type: picamera2`, `type: tflite`).
        if not isinstance(data, dict):
            return data
        for section, default_type in (("camera", CAMERAS[0].type), ("detector", DETECTORS[0].type)):
            values = data.get(section)
            if isinstance(values, dict) and "type" not in values:
                data = {**data, section: {"type": default_type, **values}}
        return _lores_at_the_models_input(data)

    @model_validator(mode="after")
    def _sun_needs_coordinates(self) -> TrapdConfig:
        located = self.deployment.latitude is not None and self.deployment.longitude is not None
        if not located and self.schedule.active in ("day", "night"):
            raise ValueError(f"schedule.active: {self.schedule.active} needs deployment.latitude and "
                             "deployment.longitude (the sun is computed for the site)")
        if not located and self.illuminator.mode == "night":
            raise ValueError("illuminator.mode: night needs deployment.latitude and deployment.longitude")
        return self

    @model_validator(mode="after")
    def _pins_distinct(self) -> TrapdConfig:
        used: dict[str, str] = {}
        for key, pin in (
            ("pir.pin", self.pir.pin),
            ("illuminator.pin", self.illuminator.pin),
            ("status_led.pin", self.status_led.pin),
        ):
            if pin is None:
                continue
            name = _canonical_pin(pin)
            if name in used:
                raise ValueError(f"{key} and {used[name]} are both {pin!r}; each device needs its own pin")
            used[name] = key
        return self


def _canonical_pin(pin: int | str) -> str:
    text = str(pin).upper()
    return f"GPIO{text}" if text.isdigit() else text
