"""People touch the card: a deleted JPEG, a deleted event folder, an export into the wrong place.

After each, `trapd fsck` repairs once and then says clean, the catalog holds only what is there,
and both exports still work and say what they left out.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config, run_one_event, trapd_cli, write_config
from trapd.errors import EX_CANTCREAT
from trapd.files import TMP_SUFFIX
from trapd.storage.layout import SIDECAR_NAME, catalog_path, quarantine_dir

SITE = {"id": "test-site", "camera_id": "cam-test", "timezone": "UTC", "latitude": 36.12, "longitude": 53.65}


def _card_with_two_events(tmp_path: Path, mock_factory: MockFactory) -> tuple[Path, Path, list[Path]]:
    root = tmp_path / "card"
    config = make_config(root, deployment=SITE)
    _, first, _ = run_one_event(config, mock_factory)
    _, second, _ = run_one_event(config, MockFactory())
    return write_config(tmp_path / "trapd.yaml", root, deployment=SITE), first.directory, list(second.files)


def _catalog_files(root: Path) -> set[str]:
    with sqlite3.connect(catalog_path(root)) as db:
        return {row[0] for row in db.execute("SELECT file FROM media")}


def test_a_jpeg_deleted_by_hand_is_recorded_and_the_exports_still_work(tmp_path: Path,
                                                                      mock_factory: MockFactory) -> None:
    config, _, files = _card_with_two_events(tmp_path, mock_factory)
    deleted = files[1]
    deleted.unlink()  # blurry: the biologist deleted it
    # Before any fsck, the exports already cope, and say what they left out.
    for command in (["camtrap-dp", "--out", str(tmp_path / "early")],
                    ["megadetector", "--out", str(tmp_path / "m.json")]):
        early = trapd_cli("export", *command, "--config", str(config))
        assert early.returncode == 0, early.stderr
        assert "1 frames whose files are gone" in early.stderr
    first = trapd_cli("fsck", "--json", "--config", str(config))
    assert first.returncode == 1 and json.loads(first.stdout)["removed_by_hand"] == [
        deleted.relative_to(tmp_path / "card").as_posix()]
    assert trapd_cli("fsck", "--config", str(config)).returncode == 0, "clean the second time"
    entry = json.loads((deleted.parent / SIDECAR_NAME).read_text())["frames"][1]
    assert entry["file"] is None and entry["removed"]["by"] == "fsck" and entry["removed"]["file"] == deleted.name
    assert deleted.relative_to(tmp_path / "card").as_posix() not in _catalog_files(tmp_path / "card")
    package = tmp_path / "package"
    exported = trapd_cli("export", "camtrap-dp", "--config", str(config), "--out", str(package))
    assert exported.returncode == 0 and "gone" not in exported.stderr
    media = (package / "media.csv").read_text()
    assert deleted.name not in media and files[0].name in media
    document = tmp_path / "md.json"
    assert trapd_cli("export", "megadetector", "--config", str(config), "--out", str(document)).returncode == 0
    assert deleted.name not in document.read_text()


def test_an_event_folder_deleted_by_hand_leaves_the_catalog_too(tmp_path: Path, mock_factory: MockFactory) -> None:
    config, folder, _ = _card_with_two_events(tmp_path, mock_factory)
    shutil.rmtree(folder)
    first = trapd_cli("fsck", "--json", "--config", str(config))
    assert first.returncode == 1 and json.loads(first.stdout)["dropped_events"] == [folder.name]
    second = trapd_cli("fsck", "--json", "--config", str(config))
    assert second.returncode == 0 and json.loads(second.stdout)["catalog"]["events"] == 1
    assert trapd_cli("export", "camtrap-dp", "--config", str(config), "--out", str(tmp_path / "p")).returncode == 0


def test_an_export_goes_only_into_a_new_or_empty_folder_outside_the_storage(tmp_path: Path,
                                                                           mock_factory: MockFactory) -> None:
    config, _, _ = _card_with_two_events(tmp_path, mock_factory)
    package = tmp_path / "package"

    def export(out: Path, *extra: str) -> tuple[int, str]:
        result = trapd_cli("export", "camtrap-dp", "--config", str(config), "--out", str(out), *extra)
        return result.returncode, result.stderr

    assert export(package) == (0, "")
    code, said = export(package)  # again, without --force
    assert code == EX_CANTCREAT and "is not empty" in said and len(said.splitlines()) == 1
    (package / "notes.txt").write_text("mine")
    assert export(package, "--force")[0] == 0, "a previous export is replaced"
    assert (package / "notes.txt").read_text() == "mine", "only what the export wrote is replaced"
    assert len(list((package / "media").rglob("*.jpg"))) == 6, "no stale media beside the new package"
    stranger = tmp_path / "holiday-photos"
    stranger.mkdir()
    (stranger / "beach.jpg").write_bytes(b"x")
    code, said = export(stranger, "--force")
    assert code == EX_CANTCREAT and "no trapd export wrote" in said and (stranger / "beach.jpg").exists()
    code, said = export(tmp_path / "card" / "package")
    assert code == EX_CANTCREAT and "inside the storage" in said
    assert not (tmp_path / "card" / "package").exists()


def test_the_report_folder_and_hidden_folders_are_not_events(tmp_path: Path, mock_factory: MockFactory) -> None:
    """`trapd report` writes `<root>/report/` beside the deployments, and an OS leaves hidden folders on a card
    (a trash, a search index). Neither is quarantined, nor has its temporaries swept, by fsck."""
    config, _, _ = _card_with_two_events(tmp_path, mock_factory)
    root = tmp_path / "card"
    thumbs = root / "report" / "thumbs" / "2026-01-01"
    thumbs.mkdir(parents=True)
    (thumbs / "a.jpg").write_bytes(b"thumb")
    in_progress = root / "report" / f".index.html.1-2{TMP_SUFFIX}"
    in_progress.write_text("a report being written right now")
    trash = root / ".Trash-1000" / "files" / "x"
    trash.mkdir(parents=True)
    assert trapd_cli("fsck", "--config", str(config)).returncode == 0
    assert (thumbs / "a.jpg").is_file() and in_progress.is_file() and trash.is_dir()
    assert not quarantine_dir(root).exists()


def test_no_deployment_can_take_the_name_of_the_report_folder(tmp_path: Path) -> None:
    config = write_config(tmp_path / "trapd.yaml", tmp_path / "card", deployment={"id": "report"})
    checked = trapd_cli("check-config", str(config))
    assert checked.returncode == 78 and "names trapd's own folder" in checked.stderr
