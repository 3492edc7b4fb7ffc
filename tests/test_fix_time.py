"""`trapd fix-time`: shift a wrong clock's events in sidecars, EXIF and catalog, once, losslessly."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

from tests.conftest import exiftool, trapd_cli, write_config
from trapd.errors import EX_USAGE
from trapd.storage.layout import catalog_path


def _sidecars(root: Path) -> dict[str, dict[str, object]]:
    return {p.parent.name: json.loads(p.read_text()) for p in root.glob("*/*/*/event.json")}


def _exif_time(path: Path) -> str:
    with Image.open(path) as image:
        return str(image.getexif().get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal])


def test_fix_time_round_trip(tmp_path: Path) -> None:
    root = tmp_path / "store"
    config = write_config(tmp_path / "c.yaml", root, event={"gap_s": 0.05})
    assert trapd_cli("simulate", "--triggers", "2", "--interval-s", "1.5", "--config", str(config)).returncode == 0
    before = _sidecars(root)
    assert len(before) == 2
    first, second = sorted(before, key=lambda e: str(before[e]["start_utc"]))
    jpeg = next((root).glob(f"*/*/{first}/*.jpg"))
    pixels = np.asarray(Image.open(jpeg))
    exif_before = _exif_time(jpeg)
    start = datetime.fromisoformat(str(before[first]["start_utc"]).replace("Z", "+00:00"))

    args = ("fix-time", "--config", str(config), "--from", (start - timedelta(seconds=1)).isoformat(),
            "--to", (start + timedelta(seconds=1)).isoformat(), "--offset", "-3600")
    result = trapd_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "1 events shifted" in result.stdout

    after = _sidecars(root)
    shifted = datetime.fromisoformat(str(after[first]["start_utc"]).replace("Z", "+00:00"))
    assert shifted == start - timedelta(hours=1)
    assert after[second]["start_utc"] == before[second]["start_utc"], "outside the range: untouched"
    assert len(after[first]["time_fixes"]) == 1  # type: ignore[arg-type]
    exif_after = datetime.strptime(_exif_time(jpeg), "%Y:%m:%d %H:%M:%S")
    assert exif_after == datetime.strptime(exif_before, "%Y:%m:%d %H:%M:%S") - timedelta(hours=1)
    assert np.array_equal(np.asarray(Image.open(jpeg)), pixels), "EXIF swapped in place, not re-encoded"
    with sqlite3.connect(catalog_path(root)) as db:
        [(catalogued,)] = db.execute("SELECT start_utc FROM events WHERE event_id = ?", (first,)).fetchall()
    assert catalogued == after[first]["start_utc"]
    audit = [json.loads(line) for line in (root / ".trapd" / "time-fixes.jsonl").read_text().splitlines()]
    assert len(audit) == 1 and audit[0]["offset_s"] == -3600

    again = trapd_cli(*args)  # an interrupted run is simply run again: nothing moves twice
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("nothing changed: the 1 events of that range were already shifted")
    assert _sidecars(root)[first]["start_utc"] == after[first]["start_utc"]
    assert len((root / ".trapd" / "time-fixes.jsonl").read_text().splitlines()) == 1


def test_exiftool_reads_the_corrected_time_in_the_rewritten_exif(tmp_path: Path) -> None:
    root = tmp_path / "store"
    config = write_config(tmp_path / "c.yaml", root)
    assert trapd_cli("simulate", "--triggers", "1", "--config", str(config)).returncode == 0
    jpeg = next(root.glob("*/*/*/*.jpg"))
    recorded = exiftool(jpeg)["Composite:SubSecDateTimeOriginal"]
    result = trapd_cli("fix-time", "--config", str(config), "--from", "2000-01-01T00:00:00Z",
                       "--to", "2100-01-01T00:00:00Z", "--offset", "+90")
    assert result.returncode == 0, result.stderr
    tags = exiftool(jpeg)
    assert tags["ExifTool:Validate"] == "0 0 0", tags.get("ExifTool:Warning")
    assert "trapd" in tags["XMP-dc:Subject"], "the XMP segment survives the EXIF swap"
    shifted = datetime.strptime(tags["Composite:SubSecDateTimeOriginal"], "%Y:%m:%d %H:%M:%S.%f%z")
    assert shifted == datetime.strptime(recorded, "%Y:%m:%d %H:%M:%S.%f%z") + timedelta(seconds=90)


def test_a_backwards_range_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "store"
    config = write_config(tmp_path / "c.yaml", root)
    assert trapd_cli("simulate", "--triggers", "1", "--config", str(config)).returncode == 0
    result = trapd_cli("fix-time", "--config", str(config), "--from", "2026-03-02T00:00:00Z",
                       "--to", "2026-03-01T00:00:00Z", "--offset", "60")
    assert result.returncode == EX_USAGE and "--to is before --from" in result.stderr
