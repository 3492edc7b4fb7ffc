"""`trapd replay`: an archive of photos through the trap's decision pipeline, grouped into events."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import ExifTags, Image

from tests.conftest import make_config, trapd_cli, write_config
from tests.doubles import ScriptedDetector
from trapd.config.model import TrapdConfig
from trapd.detect.base import Detection
from trapd.errors import InputError
from trapd.replay import group_into_events, replay
from trapd.storage.layout import SIDECAR_NAME
from trapd.storage.writer import EventWriter

UTC_ZONE = ZoneInfo("UTC")


def shoot(path: Path, taken: str | None, shade: int = 120) -> Path:
    """A small JPEG with an EXIF DateTimeOriginal, as a trail camera writes."""
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    Image.new("RGB", (64, 48), (shade, shade, shade)).save(path, exif=exif.tobytes())
    return path


def test_loose_photos_are_grouped_by_gaps_in_capture_time(tmp_path: Path) -> None:
    shoot(tmp_path / "c.jpg", "2024:05:01 10:00:09")
    shoot(tmp_path / "a.jpg", "2024:05:01 10:00:00")
    shoot(tmp_path / "b.jpg", "2024:05:01 10:00:04")
    shoot(tmp_path / "d.jpg", "2024:05:01 11:30:00")
    groups = group_into_events(tmp_path, 5.0, UTC_ZONE)
    assert [[p.path.name for p in g] for g in groups] == [["a.jpg", "b.jpg", "c.jpg"], ["d.jpg"]]
    assert groups[0][0].taken == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_folders_at_any_depth_never_share_an_event_and_are_split_by_time(tmp_path: Path) -> None:
    card = tmp_path / "DCIM" / "100MEDIA"
    card.mkdir(parents=True)
    shoot(card / "x.jpg", "2024:05:01 10:00:00")
    shoot(card / "y.jpg", "2024:05:01 10:00:01")
    shoot(card / "z.jpg", "2024:06:01 10:00:00")  # a month later, same folder: another event
    (tmp_path / "other").mkdir()
    shoot(tmp_path / "other" / "w.jpg", "2024:05:01 10:00:02")  # close in time, other folder
    groups = group_into_events(tmp_path, 5.0, UTC_ZONE)
    assert [[p.path.name for p in g] for g in groups] == [["x.jpg", "y.jpg"], ["w.jpg"], ["z.jpg"]]


def test_exif_times_are_read_in_the_site_timezone_unless_the_camera_wrote_an_offset(tmp_path: Path) -> None:
    from trapd.replay import camera_time

    nairobi = ZoneInfo("Africa/Nairobi")  # UTC+3
    plain = shoot(tmp_path / "plain.jpg", "2024:05:01 23:30:00")
    assert camera_time(plain, nairobi) == datetime(2024, 5, 1, 20, 30, tzinfo=UTC)
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif).update({ExifTags.Base.DateTimeOriginal: "2024:05:01 23:30:00",
                                            ExifTags.Base.OffsetTimeOriginal: "+01:00"})
    Image.new("RGB", (8, 8)).save(tmp_path / "offset.jpg", exif=exif.tobytes())
    assert camera_time(tmp_path / "offset.jpg", nairobi) == datetime(2024, 5, 1, 22, 30, tzinfo=UTC)


def test_without_exif_the_file_time_orders_photos_but_joins_none_into_an_event(tmp_path: Path) -> None:
    """Copied together from different cameras, photos share a file time; they are not one burst."""
    for name, stamp in (("b.jpg", 1_700_000_000), ("a.jpg", 1_700_000_001), ("c.jpg", 1_700_000_100)):
        os.utime(shoot(tmp_path / name, None), (stamp, stamp))
    events = group_into_events(tmp_path, 5.0, UTC_ZONE)
    assert [[photo.path.name for photo in event] for event in events] == [["b.jpg"], ["a.jpg"], ["c.jpg"]]


def test_no_photos_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"no \.jpg/\.jpeg photos"):
        group_into_events(tmp_path, 5.0, UTC_ZONE)


def test_events_are_decided_and_stored_as_the_daemon_would(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    shoot(archive / "a.jpg", "2024:05:01 10:00:00")
    shoot(archive / "b.jpg", "2024:05:01 10:00:02")
    shoot(archive / "c.jpg", "2024:05:02 09:00:00")
    config: TrapdConfig = make_config(tmp_path / "store", event={"gap_s": 5.0},
                                      deployment={"timezone": "Africa/Nairobi"})
    detector = ScriptedDetector({"b.jpg": [Detection("animal", "fox", 0.9, (0.1, 0.1, 0.2, 0.2))]})
    store = EventWriter(config)
    store.prepare()
    (first, first_stored), (second, _) = list(replay(archive, detector, config, store))
    assert [d.keep for d in first.decisions] == [True, True]  # the event-level rule: b keeps a
    assert [d.keep for d in second.decisions] == [False]
    assert first_stored is not None and len(first_stored.files) == 2
    sidecar = json.loads((first_stored.directory / SIDECAR_NAME).read_text())
    assert [f["source"] for f in sidecar["frames"]] == ["a.jpg", "b.jpg"]
    # 10:00 on the site's clock (Nairobi, UTC+3) is 07:00 UTC; the day folder is the site's day.
    assert sidecar["start_utc"] == "2024-05-01T07:00:00Z"
    assert first_stored.directory.parent.name == "2024-05-01"
    with Image.open(first_stored.files[0]) as image:
        exif = image.getexif().get_ifd(ExifTags.IFD.Exif)
    assert exif[ExifTags.Base.DateTimeOriginal] == "2024:05:01 10:00:00"
    assert exif[ExifTags.Base.OffsetTimeOriginal] == "+03:00"


def test_replay_command_prints_one_json_line_per_photo(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    (archive / "seq").mkdir(parents=True)
    shoot(archive / "seq" / "a.jpg", "2024:05:01 10:00:00")
    broken = archive / "seq" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really")
    taken = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC).timestamp()  # no EXIF: its file time orders it...
    os.utime(broken, (taken, taken))
    config = write_config(tmp_path / "c.yaml", tmp_path / "unused")
    result = trapd_cli("replay", str(archive), "--json", "--config", str(config), "--storage", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == ["seq/a.jpg", "seq/broken.jpg"]
    assert len({line["event"] for line in lines}) == 2, "...but joins no event: copying sets file times"
    assert all({"file", "event", "keep", "reason", "detections"} <= set(line) for line in lines)
    assert lines[1]["keep"] and "undecodable" in lines[1]["flags"]
    assert len(list((tmp_path / "s" / "test-site").glob(f"*/*/{SIDECAR_NAME}"))) == 2


def test_eval_with_events_scores_frames_as_the_trap_decides_them(tmp_path: Path) -> None:
    from trapd.evaluate import evaluate, evaluate_events

    for name, taken in (("a.jpg", "10:00:00"), ("b.jpg", "10:00:01"), ("c.jpg", "10:00:02"), ("d.jpg", "11:00:00")):
        shoot(tmp_path / name, f"2024:05:01 {taken}")
    (tmp_path / "ground_truth.csv").write_text("file,label\na.jpg,animal\nb.jpg,animal\nc.jpg,empty\nd.jpg,empty\n")
    detector = ScriptedDetector({"a.jpg": [Detection("animal", "fox", 0.9, (0.1, 0.1, 0.2, 0.2))]})
    config = make_config(tmp_path / "unused", event={"gap_s": 5.0})
    single = evaluate(tmp_path, tmp_path / "ground_truth.csv", detector, config).as_json()
    assert (single["kept_non_empty"], single["rejected_empty"], single["event_recall"]) == (1, 2, None)
    events = evaluate_events(tmp_path, tmp_path / "ground_truth.csv", detector, config).as_json()
    # a, b and c are one burst: a's fox keeps all three (the fox is in b too, unseen); d stands alone.
    assert (events["kept_non_empty"], events["rejected_empty"]) == (2, 1)
    assert (events["events_kept"], events["events_non_empty"], events["event_recall"]) == (1, 1, 1.0)


def test_replay_stores_an_archive_photo_as_the_camera_that_took_it(tmp_path: Path) -> None:
    """Its Make and Model, and its time, not "Raspberry Pi" and "file"; and the trigger says it was a replay."""
    source = Path(__file__).resolve().parent.parent.parent / "shared" / "images" / "camera-trap" / \
        "ct_idaho_camera_traps_loc_0062_loc_0062_im_004678.jpg"
    if not source.is_file():
        pytest.skip(f"shared photos not found ({source.parent}: ../shared is absent)")
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / source.name).write_bytes(source.read_bytes())
    config = write_config(tmp_path / "c.yaml", tmp_path / "store", detector={"type": "none"})
    result = trapd_cli("replay", str(archive), "--config", str(config), "--storage", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    [stored] = (tmp_path / "s").glob("test-site/*/*/*.jpg")
    exif = Image.open(stored).getexif()
    assert (exif[ExifTags.Base.Make], exif[ExifTags.Base.Model]) == ("RECONYX", "PC900 PROFESSIONAL")
    taken = Image.open(source).getexif().get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal)
    assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == taken
    [sidecar] = (tmp_path / "s").glob(f"test-site/*/*/{SIDECAR_NAME}")
    assert {t["source"] for t in json.loads(sidecar.read_text())["triggers"]} == {"replay"}
