"""The site memory on the card: atomic, bounded, read back exactly, and never trusted blindly."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.site_scenes import detection, event, jitter, site_filter, view
from trapd.site.persist import (
    MAX_FILE_BYTES,
    UnreadableMemory,
    load_memory,
    load_or_start_again,
    save_memory,
    site_file,
)

T0 = 1_780_000_000.0


def learned(tmp_path: Path) -> Path:
    site = site_filter()
    scene = view()
    for i in range(3):
        event(site, jitter(scene, i), [detection(0.45)], T0 + i * 60, label="empty")
    for i in range(3):
        event(site, jitter(scene, 10 + i), [detection(0.45)], T0 + 600 + i * 300)
    site.memory.thresholds, site.memory.thresholds_before = {"person": 0.5}, {"person": 0.4}
    path = site_file(tmp_path, "test-site")
    save_memory(site.memory, path)
    return path


def test_a_saved_memory_reads_back_as_it_was(tmp_path: Path) -> None:
    path = learned(tmp_path)
    assert path == tmp_path / ".trapd" / "site" / "test-site.npz"
    memory = load_memory(path, "test-site")
    save_memory(memory, tmp_path / "copy.npz")
    assert (tmp_path / "copy.npz").read_bytes() == path.read_bytes()
    assert memory.labelled_references() == 3 and len(memory.references) == 5  # and two the trap took itself
    assert memory.entries[0].labelled_empty and memory.thresholds == {"person": 0.5}
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_missing_memory_is_a_fresh_one(tmp_path: Path) -> None:
    memory = load_memory(tmp_path / "none.npz", "d")
    assert memory.entries == [] and memory.references == []


@pytest.mark.parametrize("damage", ["torn", "not a zip", "pickled object", "wrong shape", "non-finite", "huge",
                                    "bad thresholds", "bad box", "infinite count", "nan time", "far future",
                                    "too long a history"])
def test_a_damaged_or_hostile_memory_is_set_aside_and_learned_again(tmp_path: Path, damage: str,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    path = learned(tmp_path)
    data = path.read_bytes()
    if damage == "torn":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "not a zip":
        path.write_bytes(b"\x00" * 100)
    elif damage == "huge":
        with path.open("ab") as stream:
            stream.truncate(MAX_FILE_BYTES + 1)
    else:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        if damage == "pickled object":
            arrays["crops"] = np.array([object()], dtype=object)
        elif damage == "wrong shape":
            arrays["references"] = arrays["references"][:, :10]
        elif damage == "non-finite":
            arrays["history"][0, 0, 0] = np.nan
        elif damage == "too long a history":  # 4.7 KB on the card, minutes of CPU and GBs to compare
            arrays["history"] = np.zeros((300, *arrays["history"].shape[1:]), np.float32)
        elif damage in ("infinite count", "nan time", "far future"):
            meta = arrays["meta"].tobytes().decode()
            field, value = {"infinite count": ('"events": ', "Infinity"), "nan time": ('"first_s": ', "NaN"),
                            "far future": ('"last_s": ', "1e20")}[damage]
            start = meta.index(field) + len(field)
            end = min(i for i in (meta.find(",", start), meta.find("}", start)) if i > 0)
            arrays["meta"] = np.frombuffer((meta[:start] + value + meta[end:]).encode(), dtype=np.uint8)
        else:
            meta = arrays["meta"].tobytes().decode()
            meta = (meta.replace('"person": 0.5', '"person": 7') if damage == "bad thresholds"
                    else meta.replace('"box": [', '"box": ["x", '))
            arrays["meta"] = np.frombuffer(meta.encode(), dtype=np.uint8)
        with zipfile.ZipFile(path, "w"):
            pass
        np.savez(path, **arrays)
    with pytest.raises(UnreadableMemory):
        load_memory(path, "test-site")
    with caplog.at_level(logging.WARNING):
        memory = load_or_start_again(path, "test-site")
    assert memory.entries == [] and not path.exists()
    assert path.with_name("test-site.npz.unreadable").exists()
    assert "cannot be read" in caplog.text and "learns its site again" in caplog.text


def test_the_memory_stays_small_however_long_the_trap_runs(tmp_path: Path) -> None:
    site = site_filter(max_entries=64, max_references=8, auto_reference_gap_min=0.0)
    scene = view()
    for i in range(300):
        box = ((i * 0.137) % 0.8, (i * 0.271) % 0.8, 0.1, 0.1)
        event(site, jitter(scene, i), [detection(0.45, box)] if i % 2 else [], T0 + i * 60)
    path = tmp_path / "m.npz"
    save_memory(site.memory, path)
    assert len(site.memory.entries) <= 64 and len(site.memory.references) <= 8
    assert path.stat().st_size < 300_000
