from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

from tests.conftest import exiftool, make_config
from trapd.decide import EventDecision, FrameDecision
from trapd.detect.base import Detection, DetectionResult, DetectorInfo
from trapd.errors import StorageBusyError, StorageError
from trapd.event import DecidedEvent
from trapd.files import write_atomic
from trapd.frames import CameraFrame, Frame, MetadataValue, Trigger
from trapd.storage.framefile import read_record
from trapd.storage.layout import SIDECAR_NAME
from trapd.storage.lock import StorageLock
from trapd.storage.writer import EventWriter
from trapd.timebase import Instant

CAPTURED = Instant(1_000_000_000_000, datetime(2024, 3, 1, 22, 15, 30, 250_000, tzinfo=UTC))


def test_write_atomic_replaces_whole_and_leaves_no_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    write_atomic(target, b"old")
    write_atomic(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a.bin"
    write_atomic(target, b"old")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def _record(frames: list[CameraFrame], keep: list[bool], results: dict[int, DetectionResult] | None = None,
            decisions: dict[int, FrameDecision] | None = None) -> DecidedEvent:
    """An event decided as scripted: every frame a leopard, kept as ``keep`` says, unless ``results`` and
    ``decisions`` say otherwise for a frame."""
    trigger = Trigger(CAPTURED)
    leopard = DetectionResult("ok", (Detection("animal", "leopard", 0.9, (0.1, 0.2, 0.3, 0.4)),))
    return DecidedEvent(
        "20240301T221530.250Z-abcd", CAPTURED, (trigger,),
        frames=tuple(Frame("20240301T221530.250Z-abcd", index, 0, trigger,
                           CAPTURED.at_monotonic(CAPTURED.monotonic_ns + index * 10**9), camera_frame)
                     for index, camera_frame in enumerate(frames)),
        results=tuple((results or {}).get(index, leopard) for index in range(len(frames))),
        decisions=tuple((decisions or {}).get(index, FrameDecision(k, "because")) for index, k in enumerate(keep)),
        decision=EventDecision(any(keep), "because"),
        detector=DetectorInfo("scripted", "1"),
    )


def _frame(shade: int = 90) -> CameraFrame:
    main = np.full((48, 64, 3), shade, np.uint8)
    metadata: dict[str, MetadataValue] = {
        "SensorTimestamp": CAPTURED.monotonic_ns + 4_000_000, "ExposureTime": 4000, "AnalogueGain": 2.0,
        "DigitalGain": 1.0, "ColourTemperature": 5000, "FrameDuration": 33333, "Lux": 80.0,
    }
    return CameraFrame(main, main[::4, ::4], metadata, "imx477")


def test_kept_frames_carry_exif_from_the_capture_time_in_site_time(tmp_path: Path) -> None:
    config = make_config(tmp_path, deployment={"id": "site-7", "camera_id": "cam-007", "timezone": "Asia/Tehran"})
    store = EventWriter(config)
    store.prepare()
    stored = store.write(_record([_frame()], [True]))
    [jpeg] = stored.files
    # 22:15:30 UTC on 1 March 2024 is 01:45:30 on 2 March in Tehran (+03:30): the day folder follows the site.
    assert jpeg.parent.parent.name == "2024-03-02"
    image = Image.open(jpeg)
    exif = image.getexif()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    assert sub[ExifTags.Base.DateTimeOriginal] == "2024:03:02 01:45:30"
    assert sub[ExifTags.Base.SubsecTimeOriginal] == "250"
    assert sub[ExifTags.Base.OffsetTimeOriginal] == "+03:30"
    assert sub[ExifTags.Base.BodySerialNumber] == "cam-007"
    assert sub[ExifTags.Base.ISOSpeedRatings] == 200
    assert float(sub[ExifTags.Base.ExposureTime]) == pytest.approx(0.004)
    assert exif[ExifTags.Base.Make] == "Raspberry Pi"
    assert exif[ExifTags.Base.Model] == "imx477"


def test_exiftool_reads_capture_time_camera_and_gps_and_validates_the_exif(tmp_path: Path) -> None:
    site = {"id": "site-7", "camera_id": "cam-007", "timezone": "Asia/Tehran", "latitude": 36.123456,
            "longitude": -53.654321, "gps_in_exif": True}
    store = EventWriter(make_config(tmp_path, deployment=site))
    store.prepare()
    [jpeg] = store.write(_record([_frame()], [True])).files
    tags = exiftool(jpeg)
    assert tags["ExifTool:Validate"] == "0 0 0", tags.get("ExifTool:Warning")
    assert tags["Composite:SubSecDateTimeOriginal"] == "2024:03:02 01:45:30.250+03:30"
    assert tags["IFD0:Make"] == "Raspberry Pi" and tags["IFD0:Model"] == "imx477"
    assert tags["ExifIFD:SerialNumber"] == "cam-007"
    assert (tags["Composite:GPSLatitude"], tags["Composite:GPSLongitude"]) == pytest.approx((36.12, -53.65))
    assert tags["XMP-dc:Subject"] == ["trapd", "site-7"], "keywords photo software can filter on"
    assert '"event_id":"20240301T221530.250Z-abcd"' in tags["XMP-trapd:Frame"], "trapd's own record of the frame"
    assert (tags["ExifIFD:ExifImageWidth"], tags["ExifIFD:ExifImageHeight"]) == (tags["File:ImageWidth"],
                                                                                 tags["File:ImageHeight"])


def test_a_kept_frame_carries_what_was_known_at_capture_and_its_record(tmp_path: Path) -> None:
    """Written once, at capture, and only renamed when kept: its XMP says what capture knew (trapd, the
    deployment), not what the detector saw (that is in event.json), and carries trapd's record of the frame."""
    store = EventWriter(make_config(tmp_path, deployment={"id": "ridge-7"}))
    store.prepare()
    record = _record([_frame(), _frame()], [True, True],
                     results={1: DetectionResult("error", reason="interpreter failed")},
                     decisions={1: FrameDecision(True, "kept, detection failed", flags=("detector_error",))})
    first, _ = store.write(record).files
    data = first.read_bytes()
    assert b"<rdf:li>trapd</rdf:li><rdf:li>ridge-7</rdf:li></rdf:Bag>" in data
    recorded = read_record(first)
    assert recorded is not None and (recorded.event_id, recorded.index) == (record.event_id, 0)
    assert recorded.captured.instant() == record.frames[0].captured
    assert recorded.frame(first).trigger == record.frames[0].trigger


def test_layout_and_sidecar(tmp_path: Path) -> None:
    store = EventWriter(make_config(tmp_path))
    store.prepare()
    stored = store.write(_record([_frame(), _frame(30)], [True, False]))
    event_dir = tmp_path / "test-site" / "2024-03-01" / "20240301T221530.250Z-abcd"
    assert stored.directory == event_dir
    assert sorted(p.name for p in event_dir.iterdir()) == ["20240301T221530.250Z-abcd_000.jpg", SIDECAR_NAME]
    sidecar = json.loads((event_dir / SIDECAR_NAME).read_text())
    assert sidecar["schema_version"] == 1
    assert sidecar["deployment_id"] == "test-site"
    assert sidecar["triggers"][0] == {"utc": "2024-03-01T22:15:30.250000Z", "monotonic_ns": CAPTURED.monotonic_ns,
                                      "source": "pir"}
    first, second = sidecar["frames"]
    assert first["file"] == "20240301T221530.250Z-abcd_000.jpg" and first["keep"] is True
    assert second["file"] is None and second["keep"] is False and second["reason"] == "because"
    assert first["detections"] == [{"category": "animal", "label": "leopard", "score": 0.9,
                                    "bbox": [0.1, 0.2, 0.3, 0.4]}]
    assert first["metadata"]["ExposureTime"] == 4000
    assert first["trigger_to_exposure_ms"] == pytest.approx(0.0)
    assert sidecar["decision"]["policy"]["thresholds"]["animal"] == 0.4
    assert (stored.kept, stored.discarded) == (1, 1)


def test_an_undecodable_frame_is_stored_byte_for_byte(tmp_path: Path) -> None:
    store = EventWriter(make_config(tmp_path))
    store.prepare()
    broken = b"\xff\xd8\xff\xe0" + b"\x00" * 100
    frame = CameraFrame(None, None, _frame().metadata, "replay", original_jpeg=broken, decode_error="truncated")
    stored = store.write(_record([frame], [True]))
    assert stored.files[0].read_bytes() == broken


def test_storage_that_cannot_be_created_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot be used"):
        EventWriter(make_config(blocker / "sub")).prepare()


def test_read_only_storage_is_a_permission_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests may run as root, which ignores file modes; make the write itself refuse.
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("trapd.storage.writer.write_atomic", refuse)
    with pytest.raises(StorageError, match="not writable by this user"):
        EventWriter(make_config(tmp_path)).prepare()


def test_one_daemon_per_storage(tmp_path: Path) -> None:
    first = StorageLock(tmp_path / "lock")
    first.acquire()
    with pytest.raises(StorageBusyError, match=f"pid {os.getpid()}"):
        StorageLock(tmp_path / "lock").acquire()
    first.release()
    again = StorageLock(tmp_path / "lock")
    again.acquire()
    again.release()


def test_jpeg_quality_is_applied(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    noisy = CameraFrame(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), None, _frame().metadata, "x")
    sizes = {}
    for quality in (30, 95):
        root = tmp_path / str(quality)
        store = EventWriter(make_config(root, storage={"jpeg_quality": quality}))
        store.prepare()
        [jpeg] = store.write(_record([noisy], [True])).files
        Image.open(io.BytesIO(jpeg.read_bytes())).load()
        sizes[quality] = jpeg.stat().st_size
    assert sizes[30] < sizes[95]


def test_no_gps_in_exif_unless_asked_and_then_rounded(tmp_path: Path) -> None:
    site = {"id": "s", "camera_id": "c", "latitude": 36.123456, "longitude": -53.654321}
    for gps_in_exif in (False, True):
        store = EventWriter(make_config(tmp_path / str(gps_in_exif), deployment={**site, "gps_in_exif": gps_in_exif}))
        store.prepare()
        [jpeg] = store.write(_record([_frame()], [True])).files
        gps = Image.open(jpeg).getexif().get_ifd(ExifTags.IFD.GPSInfo)
        if not gps_in_exif:
            assert not gps, "coordinates of rare animals stay out of photos by default"
            continue
        degrees, minutes, seconds = (float(v) for v in gps[ExifTags.GPS.GPSLatitude])
        assert gps[ExifTags.GPS.GPSLatitudeRef] == "N" and gps[ExifTags.GPS.GPSLongitudeRef] == "W"
        assert degrees + minutes / 60 + seconds / 3600 == pytest.approx(36.12, abs=1e-4), "rounded to 0.01 degrees"


def test_each_event_records_its_boot_and_clock_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trapd.storage import writer as event_writer

    monkeypatch.setattr(event_writer, "clock_synced", lambda: False)  # a Pi that booted without network time
    store = EventWriter(make_config(tmp_path))
    store.prepare()
    stored = store.write(_record([_frame()], [True]))
    sidecar = json.loads((stored.directory / SIDECAR_NAME).read_text())
    assert sidecar["boot_id"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert sidecar["clock_synced"] is False
