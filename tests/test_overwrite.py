"""``storage.when_full: overwrite``: what goes, in what order, and a power cut at every step (issue 4)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import (
    PROJECT_ROOT,
    SHARED,
    assert_card_is_sound,
    assert_files_and_catalog_agree,
    jpegs,
    make_config,
    pulse,
    pulse_for_events,
    run_one_event,
    small_card,
    start_daemon,
    wait_until,
)
from tests.doubles import EventSink
from trapd.detect.base import Detection, DetectionResult, DetectorInfo, SecondOpinion
from trapd.frames import Frame
from trapd.storage import overwrite
from trapd.storage.catalog import Catalog
from trapd.storage.layout import catalog_name, frame_path
from trapd.storage.overwrite import Overwriter, Overwritten, overwrite_frames
from trapd.storage.reconcile import reconcile
from trapd.storage.sidecar import read_sidecars
from trapd.storage.space import FreeSpace, free_mb_beyond
from trapd.storage.writer import EventWriter

SCHEMAS = SHARED / "camtrap-dp"
sys.path.insert(0, str(PROJECT_ROOT / "tools"))
ANIMAL = Detection("animal", "leopard", 0.9, (0.1, 0.2, 0.3, 0.3))


class SceneDetector:
    """Sees what the test puts in front of the camera: an animal, nothing, or a failing interpreter."""

    info = DetectorInfo(name="scene", version="test")

    def __init__(self) -> None:
        self.scene = "empty"

    def detect(self, frame: Frame) -> DetectionResult:
        if self.scene == "error":
            raise RuntimeError("interpreter failed")
        if self.scene == "classifier":  # no box, but the second opinion says animal
            return DetectionResult("ok", (), second_opinion=SecondOpinion("mnv2", {"animal": 0.9}, {"animal": "fox"}))
        return DetectionResult("ok", (ANIMAL,) if self.scene == "animal" else ())

    def close(self) -> None:
        pass


def scenes_on_card(tmp_path: Path, mock_factory: MockFactory, scenes: list[str]) -> Path:
    """A card holding one stored event per scene, oldest first; every discarded frame audited."""
    detector = SceneDetector()
    sink = EventSink()
    config = make_config(tmp_path, decision={"audit_fraction": 1.0, "event_level": True})
    daemon = start_daemon(config, mock_factory, detector=detector, on_event_stored=sink)
    try:
        for scene in scenes:
            detector.scene = scene
            pulse_for_events(mock_factory, sink, 1)
    finally:
        daemon.stop()
    return config.storage.root


def frames_of(root: Path, scenes: list[str]) -> list[set[str]]:
    """The JPEGs of each event, in the order the scenes were shot."""
    by_event = []
    for folder, sidecar in read_sidecars(root):
        by_event.append({catalog_name(root, frame_path(folder, f.file)) for f in sidecar.frames if f.file})
    assert len(by_event) == len(scenes)
    return by_event


def room_on_a_card_of(root: Path, capacity_bytes: int) -> Callable[[], float]:
    """Free space on a pretend card that holds ``capacity_bytes`` of JPEGs (in MB, as EventWriter reports it)."""
    return lambda: (capacity_bytes - sum((root / f).stat().st_size for f in jpegs(root))) / 2**20


#: A 160x120 test frame's JPEG: its pixels, EXIF, and XMP with trapd's record of the frame.
FRAME_BYTES = 7700

SCENES = ["animal", "empty", "error", "animal", "empty", "error"]


def test_audit_frames_go_first_then_events_with_no_detection_oldest_first(
        tmp_path: Path, mock_factory: MockFactory) -> None:
    root = scenes_on_card(tmp_path, mock_factory, SCENES)
    animal_1, audit_1, error_1, animal_2, audit_2, error_2 = frames_of(root, SCENES)
    assert all(f.startswith("test-site/audit/") for f in audit_1 | audit_2), "empty scenes: audit sample only"
    used = sum((root / f).stat().st_size for f in jpegs(root))
    expendable_first = sum((root / f).stat().st_size for f in audit_1 | audit_2 | error_1)
    catalog = Catalog(root)
    try:
        # Room is wanted for exactly the audit frames and the oldest event with no detection.
        done = Overwriter(catalog, room_on_a_card_of(root, used), target_mb=expendable_first / 2**20,
                          include_detections=False).make_room()
        assert done.enough and done.frames == {"audit": 6, "undetected": 3}
        assert jpegs(root) == animal_1 | animal_2 | error_2
        assert not list((root / "test-site" / "audit").rglob("*")), "emptied audit folders go too"
        assert_files_and_catalog_agree(root, catalog)
        # The sidecars stay, and say what was overwritten and when.
        overwritten = [f.overwritten for _, s in read_sidecars(root) for f in s.frames if f.overwritten]
        assert len(overwritten) == 9 and {o.tier for o in overwritten} == {"audit", "undetected"}
        assert len(list(read_sidecars(root))) == len(SCENES)
    finally:
        catalog.close()


def test_frames_with_detections_stay_unless_the_setting_lets_them_go(
        tmp_path: Path, mock_factory: MockFactory) -> None:
    root = scenes_on_card(tmp_path, mock_factory, SCENES)
    animal_1, _, _, animal_2, _, _ = frames_of(root, SCENES)
    catalog = Catalog(root)
    try:
        never_enough = room_on_a_card_of(root, 0)
        done = Overwriter(catalog, never_enough, target_mb=1, include_detections=False).make_room()
        assert not done.enough, "the detections may not go, so the room cannot be made"
        assert jpegs(root) == animal_1 | animal_2
        one_event = sum((root / f).stat().st_size for f in animal_1) / 2**20
        room = room_on_a_card_of(root, sum((root / f).stat().st_size for f in jpegs(root)))
        done = Overwriter(catalog, room, target_mb=one_event, include_detections=True).make_room()
        assert done.enough and done.frames == {"detected": 3}
        assert jpegs(root) == animal_2, "the oldest detection goes first"
        assert_files_and_catalog_agree(root, catalog)
    finally:
        catalog.close()


def test_frames_a_classifier_kept_are_protected_like_detections(tmp_path: Path, mock_factory: MockFactory) -> None:
    scenes = ["classifier", "error"]
    root = scenes_on_card(tmp_path, mock_factory, scenes)
    on_its_word, _ = frames_of(root, scenes)
    catalog = Catalog(root)
    try:
        Overwriter(catalog, room_on_a_card_of(root, 0), target_mb=1, include_detections=False).make_room()
        assert jpegs(root) == on_its_word
    finally:
        catalog.close()


def test_free_space_that_cannot_be_read_deletes_nothing(tmp_path: Path, mock_factory: MockFactory,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    root = scenes_on_card(tmp_path, mock_factory, ["error"])
    before = jpegs(root)

    def unreadable(path: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(shutil, "disk_usage", unreadable)
    catalog = Catalog(root)
    try:
        done = Overwriter(catalog, lambda: free_mb_beyond(root, 0), target_mb=1, include_detections=True).make_room()
        assert done.total == 0 and jpegs(root) == before, "an unknown is not a full card"
    finally:
        catalog.close()


def test_reconcile_leaves_the_audit_frames_of_an_event_it_could_not_index(
        tmp_path: Path, mock_factory: MockFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from trapd.storage.layout import catalog_path

    root = scenes_on_card(tmp_path, mock_factory, ["empty"])
    audited = jpegs(root)
    assert audited and all("/audit/" in f for f in audited)
    catalog_path(root).unlink()  # a fresh catalog: the event must be indexed again...

    def full(self: Catalog, folder: Path, sidecar: dict[str, object]) -> None:
        raise sqlite3.OperationalError("database or disk is full")  # ...and the card is full

    monkeypatch.setattr(Catalog, "add_event", full)
    catalog = Catalog(root)
    try:
        report = reconcile(root, catalog)
    finally:
        catalog.close()
    assert len(report.not_indexed) == 1 and not report.quarantined
    assert jpegs(root) == audited


class PowerCut(BaseException):
    """Raised in place of the next step: nothing after it happens."""


@pytest.mark.parametrize("cut_before", ["unlink", "index"])
def test_a_power_cut_inside_a_deletion_is_finished_by_the_next_start(
        tmp_path: Path, mock_factory: MockFactory, monkeypatch: pytest.MonkeyPatch, cut_before: str) -> None:
    scenes = ["error", "animal"]
    root = scenes_on_card(tmp_path, mock_factory, scenes)
    victims, survivors = frames_of(root, scenes)
    folder = (root / sorted(victims)[0]).parent
    catalog = Catalog(root)
    try:
        if cut_before == "unlink":  # the sidecar says "overwritten"; the files are still there
            def cut(path: Path) -> int:
                raise PowerCut
            monkeypatch.setattr(overwrite, "_unlink", cut)
            with pytest.raises(PowerCut):
                overwrite_frames(root, folder, sorted(victims), "undetected", catalog)
            assert jpegs(root) == victims | survivors
            monkeypatch.undo()
        else:  # the files are gone; the catalog still lists them
            overwrite_frames(root, folder, sorted(victims), "undetected", None)
            assert set(catalog.media_files()) == victims | survivors
        report = reconcile(root, catalog)
        assert not report.quarantined and not report.indexed
        if cut_before == "unlink":
            assert sorted(report.finished_overwrites) == sorted(victims)
        assert sorted(report.dropped_rows) == sorted(victims)
        assert jpegs(root) == survivors
        assert_files_and_catalog_agree(root, catalog)
        assert reconcile(root, catalog).clean, "a second start finds nothing left to do"
    finally:
        catalog.close()


def test_the_trap_keeps_capturing_on_a_full_card_by_overwriting(
        tmp_path: Path, mock_factory: MockFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Events keep coming on a card that holds about four: the old empty ones make room, animals stay."""
    detector = SceneDetector()
    sink = EventSink()
    config = make_config(tmp_path, storage={"when_full": "overwrite", "overwrite_free_mb": 1},
                         event={"max_per_minute": 0})
    root = config.storage.root
    event_bytes = 3 * FRAME_BYTES
    # A card that fits the animal event plus about four more, scaled so that 1 MB stands for 1 kB.
    capacity = event_bytes + 4 * event_bytes + 2 * 1024
    monkeypatch.setattr(FreeSpace, "room_left_mb", lambda self: room_on_a_card_of(root, capacity)() * 1024)
    daemon = start_daemon(config, mock_factory, detector=detector, on_event_stored=sink)
    try:
        detector.scene = "animal"
        pulse_for_events(mock_factory, sink, 1)
        detector.scene = "error"  # kept, flagged, nothing detected: expendable
        events = pulse_for_events(mock_factory, sink, 12)
        snapshot = daemon.status.snapshot()
    finally:
        daemon.stop()
    assert all(stored.kept == 3 for _, stored in events[1:]), "every event was captured and stored"
    assert snapshot["state"] != "full" and snapshot["triggers_storage_full"] == 0
    assert snapshot["frames_overwritten"] >= 3 * 6
    on_card = jpegs(root)
    assert {p.relative_to(root).as_posix() for p in events[0][1].files} <= on_card, "the animal stays"
    assert {p.relative_to(root).as_posix() for p in events[-1][1].files} <= on_card, "the newest stay"
    catalog = Catalog(root)
    try:
        assert_files_and_catalog_agree(root, catalog)
    finally:
        catalog.close()


def test_overwrite_with_nothing_left_to_delete_reports_full(
        tmp_path: Path, mock_factory: MockFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    detector = SceneDetector()
    detector.scene = "animal"
    sink = EventSink()
    config = make_config(tmp_path, storage={"when_full": "overwrite", "overwrite_free_mb": 1})
    root = config.storage.root
    capacity = 5 * 3 * FRAME_BYTES // 2  # two and a half events, scaled as above
    monkeypatch.setattr(FreeSpace, "room_left_mb", lambda self: room_on_a_card_of(root, capacity)() * 1024)
    daemon = start_daemon(config, mock_factory, detector=detector, on_event_stored=sink)
    try:
        events = pulse_for_events(mock_factory, sink, 3)  # the third overfills the card
        pulse(mock_factory)
        assert daemon.pipeline.wait_until_quiet(5)
        snapshot = daemon.status.snapshot()
    finally:
        daemon.stop()
    assert snapshot["state"] == "full" and snapshot["triggers_storage_full"] == 1
    assert snapshot["frames_overwritten"] == 0
    assert any("overwrite_detections" in w for w in snapshot["warnings"])
    stored = {p.relative_to(root).as_posix() for _, s in events for p in s.files}
    assert len(stored) == 9 and jpegs(root) == stored, "frames with detections are never overwritten by default"


def test_on_a_real_full_card_the_oldest_unfiltered_frames_make_room(
        tmp_path: Path, mock_factory: MockFactory) -> None:
    """An 8 MB tmpfs holds about ten events of 1024x768 frames; twenty-five are taken, none refused."""
    with small_card(tmp_path / "card", 8) as card:
        sink = EventSink()
        config = make_config(card, camera={"type": "synthetic", "main_size": [1024, 768], "lores_size": [80, 60]},
                             event={"max_per_minute": 0},
                             storage={"reserve_mb": 1, "when_full": "overwrite", "overwrite_free_mb": 1})
        daemon = start_daemon(config, mock_factory, on_event_stored=sink)
        try:
            events = pulse_for_events(mock_factory, sink, 25)
            snapshot = daemon.status.snapshot()
        finally:
            daemon.stop()
        assert all(stored.kept == 3 for _, stored in events)
        assert snapshot["triggers_storage_full"] == 0 and snapshot["storage_errors"] == 0
        assert snapshot["frames_overwritten"] >= 3 * 10
        assert {p.relative_to(card).as_posix() for p in events[-1][1].files} <= jpegs(card)
        assert_card_is_sound(card)


def test_exports_after_overwriting_list_what_is_left_and_remember_what_was_seen(
        tmp_path: Path, mock_factory: MockFactory, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Camtrap DP: no media row for an overwritten frame, yet its event is still an animal observation."""
    import csv

    from trapd.storage.camtrap_dp import export_camtrap_dp
    from trapd.storage.megadetector import megadetector_json

    scenes = ["animal", "animal"]
    root = scenes_on_card(tmp_path, mock_factory, scenes)
    gone, kept = frames_of(root, scenes)
    overwrite_frames(root, (root / sorted(gone)[0]).parent, sorted(gone), "detected", None)
    config = make_config(tmp_path, deployment={"latitude": 36.1, "longitude": 53.6})
    package = tmp_path_factory.mktemp("exports") / "package"  # outside the storage root
    export_camtrap_dp(config, package)
    media = list(csv.DictReader((package / "media.csv").open()))
    assert {m["fileName"] for m in media} == {Path(f).name for f in kept}
    events = [o for o in csv.DictReader((package / "observations.csv").open()) if o["observationLevel"] == "event"]
    assert [o["observationType"] for o in events] == ["animal", "animal"]
    assert {Path(image["file"]).name for image in megadetector_json(root)[0]["images"]} == {Path(f).name for f in kept}
    if SCHEMAS.is_dir():
        from validate_camtrap_dp import validate

        assert validate(package, SCHEMAS) == []


def test_a_trap_restarted_on_a_brim_full_card_overwrites_its_way_back(tmp_path: Path,
                                                                        mock_factory: MockFactory) -> None:
    """Something else filled the card to the last byte: the ballast gives the catalog and the
    first sidecar rewrites room, old unfiltered frames go, and the trap captures again."""
    from tests.test_space import fill

    with small_card(tmp_path / "card", 8) as card:
        config = make_config(card, camera={"type": "synthetic", "main_size": [1024, 768], "lores_size": [80, 60]},
                             event={"max_per_minute": 0},
                             storage={"reserve_mb": 1, "ballast_mb": 1, "when_full": "overwrite",
                                      "overwrite_free_mb": 1})
        sink = EventSink()
        daemon = start_daemon(config, mock_factory, on_event_stored=sink)
        try:
            pulse_for_events(mock_factory, sink, 4)
        finally:
            daemon.stop()
        fill(card)
        sink = EventSink()
        daemon = start_daemon(config, mock_factory, on_event_stored=sink)
        try:
            wait_until(lambda: daemon.status.counts()["frames_overwritten"] > 0, what="room made at start")
            [(_, stored)] = pulse_for_events(mock_factory, sink, 1)
            snapshot = daemon.status.snapshot()
        finally:
            daemon.stop()
        assert stored.kept == 3 and snapshot["frames_overwritten"] >= 3
        assert not any("catalog not opened" in w for w in snapshot["warnings"])
        (card / "filler.bin").unlink()
        assert_card_is_sound(card)


def test_a_write_that_hits_enospc_makes_room_before_it_is_retried(
        tmp_path: Path, mock_factory: MockFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from trapd.stages import store as store_stage

    calls: list[str] = []
    real_write = EventWriter.write

    def full_once(self: EventWriter, record: object) -> object:
        calls.append("write")
        if calls.count("write") == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, record)  # type: ignore[arg-type]

    monkeypatch.setattr(EventWriter, "write", full_once)
    def make_room(self: Overwriter) -> Overwritten:
        calls.append("make_room")
        return Overwritten()

    monkeypatch.setattr(Overwriter, "make_room", make_room)
    monkeypatch.setattr(FreeSpace, "room_left_mb", lambda self: 0.5)  # under overwrite_free_mb: room is wanted
    monkeypatch.setattr(store_stage, "STORE_RETRY_DELAYS_S", (0.0,))
    config = make_config(tmp_path, storage={"when_full": "overwrite", "overwrite_free_mb": 1})
    run_one_event(config, mock_factory)
    first_write = calls.index("write")
    assert calls[first_write:first_write + 3] == ["write", "make_room", "write"]
