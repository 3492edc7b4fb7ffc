"""Typed, validated configuration: one model per YAML section.

Every field has a description and bounds; unknown keys are errors; types are strict (``"5"`` is
not a number). :func:`load_config` turns any problem into a :class:`ConfigError` with one line per
problem naming the file, YAML line, key path, bad value and what is expected. Nothing ever
falls back to a default because a value was wrong.
"""

from __future__ import annotations

import difflib
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from trapd.errors import ConfigError

#: Where the service looks when no ``--config`` is given (see systemd/trapd.service).
DEFAULT_CONFIG_PATH = Path("/etc/trapd/config.yaml")

PinName = Annotated[
    int | str,
    Field(description="BCM GPIO number (17) or any gpiozero pin name ('GPIO17', 'BOARD11')"),
]
Pixels = Annotated[int, Field(ge=16, le=16384, strict=True)]
# YAML gives lists; accept them for the two-element sizes (strict mode would demand tuples).
Resolution = Annotated[tuple[Pixels, Pixels], Field(strict=False)]
PathSetting = Annotated[Path, Field(strict=False)]
TileCount = Annotated[int, Field(ge=1, le=8, strict=True)]
TileGrid = Annotated[tuple[TileCount, TileCount], Field(strict=False)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DeploymentConfig(Section):
    id: str = Field(
        "trapd-dev",
        description="Camtrap DP deploymentID; names the storage folder and goes into every sidecar.",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
    )
    camera_id: str = Field(
        "trapd-cam-1",
        description="Camtrap DP cameraID (serial or label of this unit); EXIF BodySerialNumber.",
        min_length=1,
        max_length=64,
    )
    timezone: str = Field(
        "UTC",
        description="IANA timezone of the site: day folders use its local date, EXIF times its offset.",
    )
    latitude: float | None = Field(
        None, ge=-90.0, le=90.0, description="Camtrap DP latitude (WGS84); day/night schedules need it."
    )
    longitude: float | None = Field(
        None, ge=-180.0, le=180.0, description="Camtrap DP longitude (WGS84); day/night schedules need it."
    )
    coordinate_precision: float = Field(
        0.01, gt=0.0, le=1.0,
        description="Coordinates in exports are rounded to this many degrees (0.01 ~ 1 km): the locations "
        "of rare animals are poachers' targets. Camtrap DP coordinatePrecision.",
    )
    gps_in_exif: bool = Field(
        False, description="Write the (rounded) site coordinates into each JPEG's EXIF. Off: photos travel."
    )
    coordinate_uncertainty_m: int | None = Field(None, ge=1, description="Camtrap DP coordinateUncertainty.")
    location_id: str | None = Field(None, max_length=128, description="Camtrap DP locationID.")
    location_name: str | None = Field(None, max_length=256, description="Camtrap DP locationName.")
    setup_by: str | None = Field(None, max_length=256, description="Camtrap DP setupBy: who set the trap up.")
    camera_height_m: float | None = Field(None, ge=0.0, le=100.0, description="Camtrap DP cameraHeight.")
    camera_tilt_deg: int | None = Field(None, ge=-90, le=90, description="Camtrap DP cameraTilt.")
    camera_heading_deg: int | None = Field(None, ge=0, le=360, description="Camtrap DP cameraHeading.")
    bait_use: bool | None = Field(None, description="Camtrap DP baitUse.")
    feature_type: Literal[
        "roadPaved", "roadDirt", "trailHiking", "trailGame", "roadUnderpass", "roadOverpass", "roadBridge",
        "culvert", "burrow", "nestSite", "carcass", "waterSource", "fruitingTree",
    ] | None = Field(None, description="Camtrap DP featureType: what the camera watches.")
    comments: str | None = Field(None, max_length=4096, description="Camtrap DP deploymentComments.")
    tags: list[Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^|]+$")]] = Field(
        default_factory=list, max_length=64,
        description="Camtrap DP deploymentTags, e.g. 'snow-leopard-survey' or 'season:winter' (no '|').",
    )
    project_title: str = Field("trapd camera trap", max_length=256, description="Camtrap DP project title.")
    contact: str = Field("trapd operator", max_length=256, description="Contact person, listed as contributor.")

    def rounded_site(self) -> tuple[float, float] | None:
        """(latitude, longitude) rounded to ``coordinate_precision``, as every export and EXIF gives them; None
        when the site is not set."""
        if self.latitude is None or self.longitude is None:
            return None
        return (rounded_coordinate(self.latitude, self.coordinate_precision),
                rounded_coordinate(self.longitude, self.coordinate_precision))

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {name!r} (e.g. 'UTC', 'Asia/Tehran')") from None
        return name


def rounded_coordinate(value: float, precision: float) -> float:
    """A coordinate rounded to ``precision`` degrees, printed without float noise."""
    decimals = max(0, len(f"{precision:.10f}".rstrip("0").split(".")[1]))
    return round(round(value / precision) * precision, decimals)


class PirConfig(Section):
    pin: PinName = 17
    pull: Literal["down", "up", "none"] = Field(
        "down",
        description="Internal resistor: 'down' for push-pull PIRs that go high on motion (HC-SR501), "
        "'up' for open-collector PIRs that pull low, 'none' for an external resistor.",
    )
    active_high: bool | None = Field(
        None, description="Only with pull: none: true if the PIR output goes high on motion."
    )
    bounce_ms: int = Field(0, ge=0, le=1000, description="Debounce given to the GPIO backend; 0 disables.")
    holdoff_s: float = Field(
        2.0, ge=0.0, le=3600.0, description="Edges sooner than this after an accepted trigger are ignored."
    )

    @model_validator(mode="after")
    def _active_level_only_when_floating(self) -> PirConfig:
        if self.pull == "none" and self.active_high is None:
            raise ValueError("pir.active_high must be true or false when pir.pull is 'none'")
        if self.pull != "none" and self.active_high is not None:
            raise ValueError(
                "pir.active_high is implied by pir.pull ('down' = active high, 'up' = active low); "
                "remove it or set pull: none"
            )
        return self


class CameraCommon(Section):
    mode: Literal["warm", "cold"] = Field(
        "warm",
        description="warm: camera runs between events (fast trigger, more power); "
        "cold: started per event (slower trigger, less power).",
    )
    lores_size: Resolution = Field(
        (320, 240), description="Width, height of the low-resolution stream the detector reads."
    )
    pretrigger_frames: int = Field(
        0, ge=0, le=30, description="Frames held from before the PIR edge (warm mode only); 0 disables."
    )
    pretrigger_interval_s: float = Field(
        0.25, gt=0.0, le=10.0, description="Spacing of the frames in the pre-trigger buffer."
    )
    make: str = Field("Raspberry Pi", description="EXIF Make.", min_length=1, max_length=64)
    model: str | None = Field(
        None, description="EXIF Model; null uses the camera's own sensor name.", max_length=64
    )

    @model_validator(mode="after")
    def _pretrigger_needs_warm(self) -> CameraCommon:
        if self.pretrigger_frames and self.mode == "cold":
            raise ValueError(
                "camera.pretrigger_frames needs camera.mode: warm (a cold camera is off before the trigger)"
            )
        return self


class Picamera2Config(CameraCommon):
    type: Literal["picamera2"] = Field("picamera2", description="A Raspberry Pi camera, through picamera2.")
    camera_num: int = Field(0, ge=0, le=7, description="Index as listed by `rpicam-hello --list-cameras`.")
    main_size: Resolution = Field(
        (2028, 1520), description="Width, height of the full-resolution stream that is stored."
    )
    capture_timeout_s: float = Field(
        5.0, ge=0.5, le=120.0, description="A frame not delivered within this is a camera error (loose cable)."
    )


class ReplayCameraConfig(CameraCommon):
    type: Literal["replay"] = Field(description="A folder of JPEGs served as camera frames.")
    images_dir: PathSetting = Field(description="Folder of JPEGs served in name order, cycling.")


class SyntheticCameraConfig(CameraCommon):
    type: Literal["synthetic"] = Field(description="Generated frames, for machines with no photos at hand.")
    main_size: Resolution = Field((1280, 960), description="Width, height of the generated frames.")
    seed: int = Field(0, ge=0, description="Seed of the generated scenes, for repeatable runs.")


CameraConfig = Annotated[
    Picamera2Config | ReplayCameraConfig | SyntheticCameraConfig, Field(discriminator="type")
]


class BurstConfig(Section):
    frames: int = Field(3, ge=1, le=100, description="Frames captured per trigger.")
    interval_s: float = Field(0.5, ge=0.0, le=60.0, description="Time between frames of a burst.")


class EventConfig(Section):
    gap_s: float = Field(
        5.0,
        ge=0.0,
        le=3600.0,
        description="A trigger this soon after the last burst ends extends the event (one Camtrap DP "
        "sequence) instead of starting a new one.",
    )
    max_frames: int = Field(
        60, ge=1, le=1000, description="An event this long is closed and a new one begun (bounds memory)."
    )
    max_per_minute: int = Field(
        12, ge=0, le=600,
        description="Wind-storm limit: new events beyond this many in a minute are dropped (counted); 0: none.",
    )


class IlluminatorConfig(Section):
    pin: PinName | None = Field(None, description="GPIO driving the IR LED transistor; null: none fitted.")
    active_high: bool = Field(True, description="True if driving the pin high switches the LEDs on.")
    mode: Literal["auto", "night", "always", "never"] = Field(
        "auto",
        description="auto: on during bursts when the scene is darker than night_lux_below; "
        "night: when the sun is down at the site (needs deployment coordinates).",
    )
    night_lux_below: float = Field(5.0, ge=0.0, le=100000.0, description="Scene lux that counts as night.")


class StatusLedConfig(Section):
    pin: PinName | None = Field(None, description="GPIO of a status LED; null: none fitted.")
    active_high: bool = Field(True, description="True if driving the pin high lights the LED.")


class ScheduleConfig(Section):
    active: Literal["always", "hours", "day", "night"] = Field(
        "always",
        description="When PIR triggers are taken: always; between the hours below; or by day or by night "
        "from the sun at the site (needs deployment coordinates). Manual and time-lapse captures always are.",
    )
    hours: tuple[Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")],
                 Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]] = Field(
        ("18:00", "07:00"), strict=False,
        description="Start and end (HH:MM, site time) for active: hours; may cross midnight.",
    )
    timelapse_interval_s: int = Field(
        0, ge=0, le=86400,
        description="A time-lapse capture (Camtrap DP timeLapse) every this many seconds, at least 10; 0: none.",
    )

    @model_validator(mode="after")
    def _timelapse_not_too_often(self) -> ScheduleConfig:
        if 0 < self.timelapse_interval_s < 10:
            raise ValueError("schedule.timelapse_interval_s must be 0 (off) or at least 10")
        if self.hours[0] == self.hours[1]:
            raise ValueError("schedule.hours starts and ends at the same time, an empty window; "
                             "use active: always for all day")
        return self

    def hours_window(self) -> tuple[time, time]:
        start, end = (time.fromisoformat(value) for value in self.hours)
        return start, end


class NoDetectorConfig(Section):
    type: Literal["none"] = Field(description="Keep every frame, marked 'unfiltered'.")


class TfliteDetectorConfig(Section):
    type: Literal["tflite"] = Field("tflite", description="An on-device TFLite model described by a model card.")
    model: str = Field(
        "ssd-mobilenet-v1-coco", description="Model card name, found on the model search path ($TRAPD_MODELS_DIR, ...)."
    )
    required: bool = Field(
        False,
        description="true: refuse to start without a working model; false: run fail-open "
        "(keep every frame, marked 'unfiltered', and warn).",
    )
    num_threads: int = Field(2, ge=1, le=8, description="Interpreter threads.")
    tiles: TileGrid = Field(
        (2, 2), description="Columns, rows of full-resolution tiles scored besides the whole frame; [1, 1]: none."
    )
    tile_overlap: float = Field(0.2, ge=0.0, le=0.5, description="Fraction by which neighbouring tiles overlap.")
    max_invocations_per_frame: int = Field(
        8, ge=1, le=64, description="Budget of model invocations per frame (whole frame first, then tiles)."
    )
    min_score: float = Field(0.1, ge=0.0, le=1.0, description="Detections below this score are not recorded.")
    classifier: str | None = Field(
        None, description="Optional classifier card name for a second opinion on frames the detector is unsure of."
    )


DetectorConfig = Annotated[NoDetectorConfig | TfliteDetectorConfig, Field(discriminator="type")]


class CategoryThresholds(Section):
    animal: float = Field(0.4, ge=0.0, le=1.0, description="Score at which an animal detection keeps a frame.")
    person: float = Field(0.4, ge=0.0, le=1.0, description="Score at which a person detection keeps a frame.")
    vehicle: float = Field(0.4, ge=0.0, le=1.0, description="Score at which a vehicle detection keeps a frame.")


class DecisionConfig(Section):
    thresholds: CategoryThresholds = Field(default_factory=CategoryThresholds)
    unsure_margin: float = Field(
        0.1, ge=0.0, le=1.0, description="Frames scoring within this margin below a threshold are kept as unsure."
    )
    event_level: bool = Field(
        True, description="Keep every frame of an event in which any frame is a confident detection."
    )
    audit_fraction: float = Field(
        0.02, ge=0.0, le=1.0,
        description="Share of discarded frames kept anyway in an audit folder, so people can check the filter.",
    )
    moving_ratio: float = Field(
        3.0, ge=1.0, le=100.0,
        description="A detection whose box changed this many times more than the whole frame did, between "
                    "the event's frames, counts as moving (trapd/motion.py).",
    )
    static_min_score: float | None = Field(
        None, ge=0.0, le=1.0,
        description="If set: a detection that did not move between the event's frames keeps a frame only at or "
                    "above this score (a tree or rock a generic model takes for an animal, again and again). "
                    "null: off, because a resting animal does not move either.",
    )
    second_opinion_threshold: float = Field(
        0.5, ge=0.0, le=1.0,
        description="A classifier's animal probability at or above this keeps a frame the detector was unsure of.",
    )


class StorageConfig(Section):
    root: PathSetting = Field(Path("/var/lib/trapd"), description="Where events are stored.")
    jpeg_quality: int = Field(90, ge=1, le=100, description="JPEG quality of stored frames.")
    reserve_mb: int = Field(
        200, ge=0, le=1_000_000,
        description="Free space kept in reserve, checked before each event and burst; 0: none.",
    )
    when_full: Literal["stop", "overwrite"] = Field(
        "stop",
        description="stop: capture nothing more, keep running, report FULL in status and logs. "
                    "overwrite: delete the oldest audit frames, then the oldest frames of events with no "
                    "detection, to make room (sidecars stay); FULL when nothing more may go.",
    )
    ballast_mb: int = Field(
        1, ge=0, le=64,
        description="Space set aside in .trapd/ballast and given back when the card is full to the last byte "
                    "(filled by something else), so the catalog and overwriting can still work; 0: none.",
    )
    overwrite_detections: bool = Field(
        False,
        description="With overwrite: frames with detections may go too, oldest first, once nothing else is left.",
    )
    overwrite_free_mb: int = Field(
        100, ge=1, le=1_000_000,
        description="With overwrite: room kept free beyond the reserve; deleting starts below it and frees "
                    "twice this, so it runs now and then, never before each burst.",
    )


class PipelineConfig(Section):
    max_frames_in_flight: int = Field(
        64, ge=4, le=1024, description="Frames captured but not yet detected (bounds memory)."
    )
    max_events_in_flight: int = Field(
        4, ge=1, le=64, description="Decided events waiting to be written (bounds memory)."
    )


class ControlConfig(Section):
    socket: PathSetting | None = Field(
        None, description="UNIX socket for `trapd trigger`/`status`; null: <storage root>/.trapd/control.sock."
    )


class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Least severe level logged.")


class TrapdConfig(Section):
    schema_version: Literal[1] = Field(1, description="Version of this file's layout.")
    deployment: DeploymentConfig = Field(default_factory=DeploymentConfig)
    pir: PirConfig = Field(default_factory=PirConfig)
    camera: CameraConfig = Field(default_factory=Picamera2Config)
    burst: BurstConfig = Field(default_factory=BurstConfig)
    event: EventConfig = Field(default_factory=EventConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    illuminator: IlluminatorConfig = Field(default_factory=IlluminatorConfig)
    status_led: StatusLedConfig = Field(default_factory=StatusLedConfig)
    detector: DetectorConfig = Field(default_factory=TfliteDetectorConfig)
    decision: DecisionConfig = Field(default_factory=DecisionConfig)
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
        for section, default_type in (("camera", "picamera2"), ("detector", "tflite")):
            values = data.get(section)
            if isinstance(values, dict) and "type" not in values:
                data = {**data, section: {"type": default_type, **values}}
        return data

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


# --- loading ---------------------------------------------------------------------------------


def load_config(path: Path) -> TrapdConfig:
    """Read and validate a YAML config file; every problem becomes a :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found; pass --config FILE or create it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "<config>") -> TrapdConfig:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: YAML syntax error: {problem}; fix the file's indentation or quoting") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the config must be a mapping of sections (deployment:, pir:, ...)")
    duplicates = _duplicate_keys(root, source)
    if duplicates:
        raise ConfigError(duplicates)
    try:
        return TrapdConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, root, source)) from None


def _duplicate_keys(node: yaml.Node | None, source: str, path: str = "") -> list[str]:
    # PyYAML silently keeps the last of two equal keys; a config where that happens is a mistake.
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            dotted = f"{path}.{key}" if path else key
            if key in seen:
                problems.append(f"{source}:{key_node.start_mark.line + 1}: {dotted}: key appears twice")
            seen.add(key)
            problems.extend(_duplicate_keys(value_node, source, dotted))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems.extend(_duplicate_keys(item, source, f"{path}[{index}]"))
    return problems


def _describe(exc: ValidationError, root: yaml.Node | None, source: str) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):
        if error["type"] == "union_tag_invalid":
            # Pydantic blames the whole section; the culprit is its `type` key.
            tags = str(error.get("ctx", {}).get("expected_tags", ""))
            loc = [*_data_path(root, error["loc"]), "type"]
            where = f"{source}:{_line_of(root, loc)}"
            lines.append(f"{where}: {'.'.join(str(p) for p in loc)} = {error['ctx']['tag']!r}: "
                         f"unknown type; use one of {tags}")
            continue
        loc = _data_path(root, error["loc"])
        key_path = ".".join(str(part) for part in loc) or "(top level)"
        line = _line_of(root, loc)
        where = f"{source}:{line}" if line else source
        if error["type"] == "extra_forbidden":
            lines.append(f"{where}: {key_path}: unknown key{_suggestion(loc)}")
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            lines.append(f"{where}: {key_path}: required key is missing")
        elif loc:
            lines.append(f"{where}: {key_path} = {error['input']!r}: {message}")
        else:
            lines.append(f"{where}: {message}")
    return lines


def _data_path(root: yaml.Node | None, loc: tuple[int | str, ...]) -> list[int | str]:
    """Drop the parts of a pydantic error location that are not in the YAML (union tags)."""
    path: list[int | str] = []
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(part)), None)
            if child is None and part in _UNION_TAGS:
                continue
            path.append(part)
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            path.append(part)
            node = node.value[part] if part < len(node.value) else None
        elif node is None and part in _UNION_TAGS:
            continue
        else:
            path.append(part)
            node = None
    return path


_UNION_TAGS = frozenset({"picamera2", "replay", "synthetic", "none", "tflite", "int", "str"})


def _line_of(root: yaml.Node | None, path: list[int | str]) -> int | None:
    node = root
    line = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if pair is None:
                break
            line = pair[0].start_mark.line + 1
            node = pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    if line is None and isinstance(root, yaml.Node):
        return root.start_mark.line + 1
    return line


def _suggestion(loc: list[int | str]) -> str:
    model: type[BaseModel] | None = TrapdConfig
    for part in loc[:-1]:
        model = _section_model(model, str(part))
    if model is None:
        return ""
    valid = sorted(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (valid keys here: {', '.join(valid)})"


def _section_model(model: type[BaseModel] | None, key: str) -> type[BaseModel] | None:
    if model is None or key not in model.model_fields:
        return None
    annotation: Any = model.model_fields[key].annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None

