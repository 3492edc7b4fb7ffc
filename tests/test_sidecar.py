"""The sidecar's schema: every shape trapd ever wrote still reads, and a hostile one is quarantined, never obeyed.

A card is input a person may have edited, and a failing SD card may have mangled: a sidecar that
does not validate costs its folder a trip to .trapd/quarantine with its reason, not the trap its
start, and never a file outside the event's own folders.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config, run_one_event, trapd_cli, write_config
from trapd.storage.catalog import Catalog
from trapd.storage.layout import SIDECAR_NAME, quarantine_dir
from trapd.storage.reconcile import QUARANTINE_NOTE, reconcile
from trapd.storage.sidecar import SidecarError, parse_sidecar, read_sidecar

FIXTURES = Path(__file__).parent / "fixtures" / "sidecars"
OLD_SHAPES = sorted(FIXTURES.glob("*.json"))


def _place(root: Path, data: bytes, event_id: str = "20240301T221530.250Z-abcd") -> Path:
    folder = root / "test-site" / "2024-03-01" / event_id
    folder.mkdir(parents=True)
    (folder / SIDECAR_NAME).write_bytes(data)
    return folder


@pytest.mark.parametrize("fixture", OLD_SHAPES, ids=[p.stem for p in OLD_SHAPES])
def test_every_sidecar_shape_trapd_wrote_still_reads_and_is_indexed(tmp_path: Path, fixture: Path) -> None:
    """Sidecars written by earlier trapd versions (tests/fixtures/sidecars, one per version that added a field)."""
    data = fixture.read_bytes()
    event_id = json.loads(data)["event_id"]
    folder = _place(tmp_path, data, event_id)
    sidecar = read_sidecar(folder)
    assert sidecar.event_id == event_id and len(sidecar.frames) == 2
    assert parse_sidecar(sidecar.encode()) == sidecar, "what it reads, it writes back the same"
    catalog = Catalog(tmp_path)
    try:
        report = reconcile(tmp_path, catalog)
        assert report.indexed == [event_id] and not report.quarantined and not report.unreadable_sidecars
    finally:
        catalog.close()


def test_what_the_writer_writes_reads_back_unchanged(tmp_path: Path, mock_factory: MockFactory) -> None:
    _, stored, _ = run_one_event(make_config(tmp_path), mock_factory)
    data = (stored.directory / SIDECAR_NAME).read_bytes()
    assert read_sidecar(stored.directory).encode() == data


HOSTILE = {
    "empty object": b"{}",
    "a list": b"[]",
    "null": b"null",
    "only an id": b'{"event_id": "x"}',
    "not JSON": b"{\"schema_version\": 1,",
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
}


def _valid(root: Path, mock_factory: MockFactory) -> dict[str, object]:
    _, stored, _ = run_one_event(make_config(root), mock_factory)
    data: dict[str, object] = json.loads((stored.directory / SIDECAR_NAME).read_text())
    return data


@pytest.mark.parametrize("name", HOSTILE)
def test_a_malformed_sidecar_is_a_one_line_reason(name: str) -> None:
    with pytest.raises(SidecarError) as caught:
        parse_sidecar(HOSTILE[name])
    assert "\n" not in str(caught.value) and str(caught.value)


def _hostile_variants(valid: dict[str, object]) -> dict[str, bytes]:
    frames = valid["frames"]
    assert isinstance(frames, list)
    outside = json.loads(json.dumps(valid))
    outside["frames"][0]["file"] = "../../../../elsewhere/x.jpg"
    overwritten = json.loads(json.dumps(valid))
    overwritten["frames"][0]["overwritten"] = {"file": "../../../../elsewhere/x.jpg", "utc": "2024-01-01T00:00:00Z",
                                               "tier": "audit"}
    wrong_type = json.loads(json.dumps(valid))
    wrong_type["frames"] = "every one"
    return {**HOSTILE, "a file outside its folder": json.dumps(outside).encode(),
            "an overwritten file outside its folder": json.dumps(overwritten).encode(),
            "a wrong type": json.dumps(wrong_type).encode()}


def test_fsck_and_a_start_quarantine_every_hostile_sidecar_with_its_reason(
    tmp_path: Path, mock_factory: MockFactory
) -> None:
    valid = _valid(tmp_path / "valid", mock_factory)
    variants = _hostile_variants(valid)
    # Four folders up from <root>/<deployment>/<day>/<event>, where the hostile names point.
    bait = tmp_path / "elsewhere" / "x.jpg"
    bait.parent.mkdir()
    bait.write_bytes(b"not yours")
    for where in ("fsck", "start"):
        root = tmp_path / where
        (root / ".trapd").mkdir(parents=True)
        for number, data in enumerate(variants.values()):
            _place(root, data, f"20240301T221530.250Z-{number:04x}")
        config = write_config(tmp_path / f"{where}.yaml", root)
        if where == "fsck":
            result = trapd_cli("fsck", "--config", str(config))
            assert result.returncode == 1, result.stderr
            assert "Traceback" not in result.stderr + result.stdout
            assert result.stdout.count("moved to ") == len(variants)
        else:
            run_one_event(make_config(root), mock_factory)  # the trap starts, runs and stores an event
        notes = sorted(quarantine_dir(root).rglob(QUARANTINE_NOTE))
        assert len(notes) == len(variants), "every hostile folder moved aside, with a note"
        assert all(len(note.read_text().splitlines()) == 1 for note in notes)
        assert bait.read_bytes() == b"not yours", "nothing outside the event's folders is touched"
