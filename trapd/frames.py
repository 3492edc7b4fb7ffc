"""The records that travel the pipeline: triggers, camera frames, and frames within an event.

Every camera adapter, real or fake, fills the same :data:`METADATA_KEYS`, so the pipeline,
the sidecars and the tests never ask which camera produced a frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from trapd.timebase import Instant

RGBImage = npt.NDArray[np.uint8]

#: Camera metadata every adapter reports, named as libcamera names them.
#: SensorTimestamp is in ns on the monotonic clock; ExposureTime and FrameDuration in µs.
METADATA_KEYS = (
    "SensorTimestamp",
    "ExposureTime",
    "AnalogueGain",
    "DigitalGain",
    "ColourTemperature",
    "FrameDuration",
    "Lux",
)

MetadataValue = int | float | str | None

#: pir: an edge; pir-high-at-start: high when armed (no edge comes); pir-still-high: held high when
#: the event's gap ran out (a PIR in repeat-trigger mode gives no new edges); manual: `trapd trigger`;
#: timelapse: schedule.timelapse_interval_s; unknown: a frame recovered after a crash that carried no
#: record of its trigger (a damaged file, or one kept byte for byte as it came).
TriggerSource = Literal["pir", "pir-high-at-start", "pir-still-high", "manual", "timelapse", "replay", "unknown"]


@dataclass(frozen=True, slots=True)
class Trigger:
    """One accepted PIR edge (or a manual trigger): when it happened, on both clocks."""

    at: Instant
    source: TriggerSource = "pir"


@dataclass(frozen=True, slots=True)
class CameraFrame:
    """What a camera hands over: both streams as RGB arrays, plus the camera's metadata.

    ``main`` is ``None`` only when a replayed file would not decode; its bytes are then in
    ``original_jpeg`` so the file can still be kept (flagged) rather than lost.
    """

    main: RGBImage | None
    lores: RGBImage | None
    metadata: dict[str, MetadataValue]
    camera_model: str
    source_name: str | None = None
    original_jpeg: bytes | None = None
    decode_error: str | None = None
    #: Why the frame's own metadata (a photo's EXIF) could not be read; the pixels are kept, and flagged.
    metadata_error: str | None = None
    #: The source's EXIF Make, for a photo replayed from an archive (its Model is ``camera_model``): stored
    #: photos say which camera took them, not "Raspberry Pi".
    camera_make: str | None = None
    #: False when auto-exposure was still settling (a cold start, the IR just on): the frame may be over- or
    #: under-exposed, and is flagged. None where the camera does not say.
    exposure_settled: bool | None = None

    @property
    def exposure_start_ns(self) -> int:
        """Start of exposure on the monotonic clock: readout timestamp minus exposure time.

        libcamera documents SensorTimestamp as CLOCK_BOOTTIME; the Pi's camera drivers stamp it with
        CLOCK_MONOTONIC at frame start. The two differ only after a suspend, which a trap never does."""
        sensor_ns = int(self.metadata["SensorTimestamp"] or 0)
        exposure_us = float(self.metadata.get("ExposureTime") or 0)
        return sensor_ns - int(exposure_us * 1000)


@dataclass(frozen=True, slots=True)
class Frame:
    """A camera frame placed in its event: which burst, which position, which trigger. Built once, whole."""

    event_id: str
    index: int
    burst: int
    trigger: Trigger
    captured: Instant
    camera: CameraFrame
    pretrigger: bool = False
    #: When capture handed the frame on to detection (monotonic): the end of trigger latency.
    handed_ns: int = 0
    #: The event's triggers up to this frame: written with the frame, so a crash cannot lose them.
    event_triggers: tuple[Trigger, ...] = ()
    #: The frame's JPEG on disk, once written: in the spool, or already in its event folder.
    stored_at: Path | None = None
    #: Finished after a crash (power cut, kill) from what reached the disk, not in the run that captured it.
    recovered: bool = False

    @property
    def flags(self) -> tuple[str, ...]:
        """What capture knows is wrong with the frame (decisions add their own; see decide.frame_flags)."""
        return (*(("recovered",) if self.recovered else ()),
                *(("undecodable",) if self.camera.decode_error is not None else ()),
                *(("metadata_unreadable",) if self.camera.metadata_error is not None else ()),
                *(("exposure_unsettled",) if self.camera.exposure_settled is False else ()))

    def without_pixels(self) -> Frame:
        """The frame once its JPEG is on disk and its detections are known: the record, not the arrays."""
        if self.stored_at is None:
            return self  # never written: its pixels are all there is of it
        return replace(self, camera=replace(self.camera, main=None, lores=None, original_jpeg=None))

    @property
    def trigger_to_handoff_ms(self) -> float:
        """Trigger latency as a user feels it: PIR edge to the frame leaving the capture worker."""
        return (self.handed_ns - self.trigger.at.monotonic_ns) / 1e6

    @property
    def trigger_to_exposure_ms(self) -> float:
        """Delay from the PIR edge to the start of exposure; negative for pre-trigger frames."""
        return (self.camera.exposure_start_ns - self.trigger.at.monotonic_ns) / 1e6
