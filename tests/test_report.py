"""`trapd report`: what it writes, that a second run reads only what changed, and that nothing a card holds
becomes markup or a crash. The pages themselves are tried in a real browser in test_report_browser.py."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config, run_one_event, trapd_cli
from tests.report_fixtures import read_data, report_rows, row_files, sidecars, synthetic_storage
from trapd.errors import EX_CANTCREAT, StorageError
from trapd.report.activity import diel, effort_by_deployment, per_day
from trapd.report.build import build_report
from trapd.report.cache import CACHE_NAME
from trapd.report.summary import thumb_src
from trapd.storage.effort import EffortMark
from trapd.storage.layout import SIDECAR_NAME


def test_a_trap_run_gives_a_report_with_every_event_its_thumbnails_and_its_frames(tmp_path: Path,
                                                                                 mock_factory: MockFactory) -> None:
    root = tmp_path / "card"
    config = make_config(root, deployment={"id": "site-a", "latitude": 36.123, "longitude": 53.654})
    _, stored, _ = run_one_event(config, mock_factory)
    result = trapd_cli("report", "--storage", str(root))
    assert result.returncode == 0, result.stderr
    index = root / "report" / "index.html"
    assert result.stdout.strip().endswith(f"open {index}")
    [row] = report_rows(root / "report")
    assert row["id"] == stored.directory.name and row["flags"] == ["unfiltered"] and row["keep"]
    assert row_files(row) == sorted(p.relative_to(root).as_posix() for p in stored.files)
    for frame, made, _ in row["thumbs"]:
        assert made and (root / "report" / thumb_src(row, frame)).read_bytes().startswith(b"\xff\xd8\xff")
    day = read_data(root / "report" / "data" / "days" / "site-a" / f"{row['day']}.js")
    assert len(day["events"][row["id"]]["frames"]) == len(stored.files)
    page = index.read_text()
    assert "site-a" in page and "36.12, 53.65" in page, "the site, rounded as the exports round it"
    assert "camera-days" in page and 'src="charts/effort.svg"' in page
    assert f"on its last day with events ({row['day']}),\n      triggers 1, events active" in page, "for trapd power"
    assert row["active_s"] >= 0
    for chart in ("effort", "events-per-day", "triggers-per-day", "diel-activity"):
        assert (root / "report" / "charts" / f"{chart}.svg").read_bytes().startswith(b"<?xml")


def test_a_second_run_reads_only_the_new_events_and_makes_only_their_thumbnails(tmp_path: Path) -> None:
    root = synthetic_storage(tmp_path, events=30)
    first = build_report(root)
    assert first.events == first.read == 30 and first.thumbs_made > 0
    made = {p: p.stat().st_mtime_ns for p in (root / "report" / "thumbs").rglob("*.jpg")}
    again = build_report(root)
    assert again.read == 0 and again.thumbs_made == 0 and again.days_written == 0
    more = synthetic_storage(tmp_path / "more", events=3, seed=7)
    for folder in more.glob("synthetic-site/*/*"):
        if folder.parent.name != "audit":
            shutil.copytree(folder, root / "synthetic-site" / folder.parent.name / folder.name)
    third = build_report(root)
    assert third.events == 33 and third.read == 3
    assert all(p.stat().st_mtime_ns == t for p, t in made.items()), "old thumbnails are not made again"


def test_an_event_gone_from_the_card_leaves_the_report_with_its_thumbnails(tmp_path: Path) -> None:
    root = synthetic_storage(tmp_path, events=10)
    build_report(root)
    rows = report_rows(root / "report")
    gone = next(r for r in rows if r["thumbs"])
    shutil.rmtree(root / "synthetic-site" / gone["day"] / gone["id"])
    outcome = build_report(root)
    assert outcome.events == 9
    assert gone["id"] not in {r["id"] for r in report_rows(root / "report")}
    assert not any((root / "report" / thumb_src(gone, t[0])).exists() for t in gone["thumbs"])


def test_a_frame_deleted_by_hand_is_not_shown_and_its_event_is_read_again(tmp_path: Path) -> None:
    root = synthetic_storage(tmp_path, events=10)
    build_report(root)
    row = next(r for r in report_rows(root / "report") if len(r["stored"]) > 1)
    (root / row_files(row)[-1]).unlink()  # the biologist deleted a blurry frame
    assert build_report(root).read == 1
    again = next(r for r in report_rows(root / "report") if r["id"] == row["id"])
    assert row_files(again) == row_files(row)[:-1]


def test_nothing_from_a_card_becomes_markup(tmp_path: Path) -> None:
    """A camera id, a label or a reason is text from a card: escaped in the pages, inert in the data scripts."""
    root = synthetic_storage(tmp_path, events=3)
    hostile = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    for path in root.glob(f"synthetic-site/*/*/{SIDECAR_NAME}"):
        data = json.loads(path.read_text())
        data["camera_id"] = hostile
        data["decision"]["reason"] = hostile
        for frame in data["frames"]:
            for detection in frame["detections"]:
                detection["label"] = hostile
        path.write_text(json.dumps(data))
    build_report(root)
    page = (root / "report" / "index.html").read_text()
    assert hostile not in page and "&lt;/script&gt;&lt;script&gt;alert(1)" in page
    for script in (root / "report" / "data").rglob("*.js"):
        text = script.read_text()
        assert "<" not in text and ">" not in text, f"{script} could end a script or open markup"


def test_a_sidecar_that_does_not_read_is_left_out_and_named(tmp_path: Path) -> None:
    root = synthetic_storage(tmp_path, events=5)
    broken = sorted(root.glob(f"synthetic-site/*/*/{SIDECAR_NAME}"))[0]
    broken.write_text('{"schema_version": 1, "frames": [')
    result = trapd_cli("report", "--storage", str(root))
    assert result.returncode == 0 and "1 event sidecars cannot be read" in result.stderr
    assert "trapd fsck" in (root / "report" / "index.html").read_text()
    assert len(report_rows(root / "report")) == 4


def test_a_frame_that_does_not_decode_gets_no_thumbnail_and_no_broken_image(tmp_path: Path) -> None:
    root = synthetic_storage(tmp_path, events=10)
    row_files = list(root.glob("synthetic-site/2*/*/*.jpg"))
    for path in row_files:
        path.unlink()
        path.write_bytes(b"\xff\xd8\xff\xe0 not the rest of a JPEG")
    outcome = build_report(root)
    assert outcome.thumbs_failed > 0
    rows = report_rows(root / "report")
    assert all(made == 0 for r in rows if r["keep"] for _, made, _ in r["thumbs"])


def test_a_damaged_cache_is_ignored_and_the_report_rebuilt(tmp_path: Path) -> None:
    root = synthetic_storage(tmp_path, events=5)
    build_report(root)
    (root / "report" / CACHE_NAME).write_text('{"version": [1], "events": {"x": 5}')
    assert build_report(root).read == 5
    (root / "report" / CACHE_NAME).write_text(json.dumps({"version": "no", "events": []}))
    assert build_report(root).read == 5


@pytest.mark.parametrize("where", ["foreign", "inside"])
def test_the_report_refuses_a_folder_it_does_not_own(tmp_path: Path, where: str) -> None:
    root = synthetic_storage(tmp_path, events=2)
    out = tmp_path / "notes" if where == "foreign" else root / "synthetic-site" / "report"
    out.mkdir(parents=True, exist_ok=True)
    (out / "thesis.docx").write_text("years of work")
    with pytest.raises(StorageError, match="--out"):
        build_report(root, out)
    result = trapd_cli("report", "--storage", str(root), "--out", str(out))
    assert result.returncode == EX_CANTCREAT and result.stderr.count("\n") == 1
    assert (out / "thesis.docx").read_text() == "years of work"


def test_a_report_may_live_outside_the_storage_and_still_link_the_frames(tmp_path: Path) -> None:
    root = synthetic_storage(tmp_path, events=3)
    out = tmp_path / "elsewhere" / "report"
    build_report(root, out)
    meta = read_data(out / "data" / "meta.js")
    assert meta["root"] == "../../card/"
    row = next(r for r in report_rows(out) if r["stored"])
    assert (out / (meta["root"] + row_files(row)[0])).is_file()


T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_effort_counts_armed_time_as_camera_days_and_the_gaps_as_stopped() -> None:
    def at(hours: float, mark: str) -> EffortMark:
        return EffortMark(T0 + timedelta(hours=hours), "site", mark)  # type: ignore[arg-type]

    marks = [at(0, "start"), at(0, "armed"), at(24, "full"), at(36, "armed"), at(48, "stop"),
             at(72, "start"), at(72, "paused"), at(84, "armed"), at(96, "stop")]
    [effort] = effort_by_deployment(marks, T0 + timedelta(days=30)).values()
    assert effort.camera_days == pytest.approx(48 / 24)
    assert effort.days("full") == pytest.approx(0.5) and effort.days("paused") == pytest.approx(0.5)
    assert effort.stopped_days == pytest.approx(1.0)


def test_activity_is_counted_by_the_sites_day_and_hour(tmp_path: Path) -> None:
    root = synthetic_storage(tmp_path, events=40, days=3)
    build_report(root)
    rows = report_rows(root / "report")
    days = per_day(rows, [], {})
    assert sum(d.kept + d.discarded for d in days.values()) == 40
    truth = sidecars(root)
    assert sum(d.triggers_kept for d in days.values()) == sum(
        len(s["triggers"]) for s in truth.values() if s["decision"]["keep"])
    hours = diel(rows)
    assert sum(sum(v) for v in hours.values()) == 40
    first = rows[0]
    assert hours[first["category"] if first["keep"] else "discarded"][int(first["hour"])] >= 1
    assert sum(hours["discarded"]) == sum(1 for r in rows if not r["keep"])
