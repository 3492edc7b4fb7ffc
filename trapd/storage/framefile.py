"""A captured frame as the JPEG trapd writes: EXIF from the capture time, XMP keywords, and the frame's record.

The record (:class:`FrameRecord`) is trapd's own account of the frame: its event, index and burst,
the event's triggers so far, the capture time on both clocks, the camera's metadata and the boot it
was taken in. It travels inside the JPEG, as one property of its XMP (``trapd:frame``, beside the
keywords; photo software shows it or ignores it, and ``exiftool -validate`` finds nothing to say),
in the header before the image data. So a frame is self-describing from the moment it is written:
after a power cut, an event that never closed is rebuilt from its files alone
(trapd/storage/recover.py), even from a file cut short after its first few kilobytes.

The frame is written once, when it is captured, and a kept frame is later only renamed. So the
JPEG says what is known at capture (trapd, the deployment, the camera, the time); what the
detector saw is in ``event.json`` and the exports.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError

from trapd.config.model import TrapdConfig
from trapd.frames import CameraFrame, Frame, MetadataValue, Trigger, TriggerSource
from trapd.storage.jpeg import ExifFields, encode_jpeg, exif_bytes, read_frame_record, xmp_keywords
from trapd.timebase import Instant, boot_id, iso_utc, parse_utc

log = logging.getLogger(__name__)

#: An APP1 segment holds 65,533 bytes, less the XMP identifier.
MAX_XMP_BYTES = 65_533 - 29

class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstantRecord(_Record):
    utc: str
    monotonic_ns: int

    @classmethod
    def of(cls, at: Instant) -> InstantRecord:
        return cls(utc=iso_utc(at.utc), monotonic_ns=at.monotonic_ns)

    def instant(self) -> Instant:
        return Instant(self.monotonic_ns, parse_utc(self.utc))


class TriggerRecord(_Record):
    at: InstantRecord
    source: TriggerSource

    def trigger(self) -> Trigger:
        return Trigger(self.at.instant(), self.source)


class FrameRecord(_Record):
    """Everything about a frame but its pixels, as written into its JPEG."""

    event_id: str
    index: int
    burst: int
    pretrigger: bool
    trigger: TriggerRecord
    event_triggers: tuple[TriggerRecord, ...]
    captured: InstantRecord
    handed_ns: int
    metadata: dict[str, MetadataValue]
    camera_model: str
    source_name: str | None
    decode_error: str | None
    metadata_error: str | None = None
    boot_id: str | None

    @classmethod
    def of(cls, frame: Frame, boot: str | None) -> FrameRecord:
        camera = frame.camera
        return cls(event_id=frame.event_id, index=frame.index, burst=frame.burst, pretrigger=frame.pretrigger,
                   trigger=TriggerRecord(at=InstantRecord.of(frame.trigger.at), source=frame.trigger.source),
                   event_triggers=tuple(TriggerRecord(at=InstantRecord.of(t.at), source=t.source)
                                        for t in frame.event_triggers),
                   captured=InstantRecord.of(frame.captured), handed_ns=frame.handed_ns, metadata=camera.metadata,
                   camera_model=camera.camera_model, source_name=camera.source_name,
                   decode_error=camera.decode_error, metadata_error=camera.metadata_error, boot_id=boot)

    def frame(self, stored_at: Path) -> Frame:
        """The frame again, without its pixels, flagged as recovered."""
        camera = CameraFrame(None, None, self.metadata, self.camera_model, source_name=self.source_name,
                             decode_error=self.decode_error, metadata_error=self.metadata_error)
        return Frame(self.event_id, self.index, self.burst, self.trigger.trigger(), self.captured.instant(), camera,
                     pretrigger=self.pretrigger, handed_ns=self.handed_ns,
                     event_triggers=tuple(t.trigger() for t in self.event_triggers), stored_at=stored_at,
                     recovered=True)


def read_record(path: Path) -> FrameRecord | None:
    """The record a trapd JPEG carries, or None (not written by trapd, cut short before it, or mangled)."""
    text = read_frame_record(path)
    if text is None:
        return None
    try:
        return FrameRecord.model_validate(json.loads(text))
    except (ValueError, ValidationError, RecursionError):
        log.warning("%s: trapd's record in it does not read", path)
        return None


class FrameEncoder:
    """Turns a captured frame into the bytes of its JPEG, once, at capture."""

    def __init__(self, config: TrapdConfig) -> None:
        deployment = config.deployment
        self._quality = config.storage.jpeg_quality
        self._zone = ZoneInfo(deployment.timezone)
        self._make = config.camera.make
        self._model = config.camera.model
        self._camera_id = deployment.camera_id
        self._deployment_id = deployment.id
        self._gps = deployment.rounded_site() if deployment.gps_in_exif else None
        self._boot = boot_id()

    def encode(self, frame: Frame) -> bytes | None:
        """The JPEG, record included; None for an undecodable frame that came with no bytes at all."""
        camera = frame.camera
        if camera.main is None:
            # Undecodable input: keep the bytes exactly as they came, unannotated; they may still hold an animal.
            return camera.original_jpeg or None
        exif = exif_bytes(ExifFields(
            captured_local=frame.captured.utc.astimezone(self._zone),
            make=camera.camera_make or self._make,
            model=camera.camera_model if camera.camera_make else self._model or camera.camera_model,
            camera_id=self._camera_id,
            description=f"trapd {self._deployment_id} {frame.event_id} frame {frame.index}",
            metadata=camera.metadata,
            size=(camera.main.shape[1], camera.main.shape[0]),
            gps=self._gps,
        ))
        keywords = ["trapd", self._deployment_id, *frame.flags]
        xmp = xmp_keywords(keywords, FrameRecord.of(frame, self._boot).model_dump_json())
        if len(xmp) > MAX_XMP_BYTES:  # bounded by design (recorded_triggers); never a reason to lose the frame
            log.error("event %s frame %d: its record is %d bytes, too large for XMP; written without it",
                      frame.event_id, frame.index, len(xmp))
            xmp = xmp_keywords(keywords)
        return encode_jpeg(camera.main, self._quality, exif, xmp)
