"""The config sections that are not backends: the site, the PIR, bursts and events, lights,
schedules, the keep/discard policy, storage, the pipeline's bounds, the control socket, logging."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from trapd.config.fields import ExifText, PathSetting, PinName, PlainId, Section
from trapd.storage.layout import RESERVED_NAMES


class DeploymentConfig(Section):
    id: PlainId = Field(
        "trapd-dev",
        description="Camtrap DP deploymentID; names the storage folder and goes into every sidecar.",
    )
    camera_id: ExifText = Field(
        "trapd-cam-1",
        description="Camtrap DP cameraID (serial or label of this unit); EXIF BodySerialNumber.",
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
    location_id: PlainId | None = Field(None, description="Camtrap DP locationID.")
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

    @field_validator("id")
    @classmethod
    def _not_a_reserved_folder(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(f"{value!r} names trapd's own folder in the storage; choose another deployment id")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
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
        60, ge=1, le=1000,
        description="An event this long is closed and a new one begun (with the PIR still high, at once). Frames are "
                    "on the card as they are captured, so this no longer bounds memory; it bounds the work of closing "
                    "an event (motion compares each frame with the others), its sidecar, and how much one decision "
                    "keeps or discards at once.",
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
        4, ge=1, le=1024,
        description="Full-resolution frames in memory at once, from the one the camera is filling to the one being "
                    "written to the card. Each holds width x height x 3 bytes (9.2 MB at 2028x1520), so this bounds "
                    "memory; capture waits when it is reached. Keep it above burst.frames: then a trigger that comes "
                    "right after a burst never waits for the card.",
    )
    max_frames_awaiting_detection: int = Field(
        64, ge=4, le=1024,
        description="Frames written but not yet scored, each holding only its low-resolution stream (0.3 MB at "
                    "320x240); past half of this, frames skip the detector and are kept, flagged unfiltered.",
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
