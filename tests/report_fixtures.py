"""Storages for the report's tests: synthetic events (tools/synthetic_storage.py) on small generated photos,
so no test needs ../shared, and the report's own data read back as Python."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import simplejpeg

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT / "tools"))

from synthetic_storage import make_storage  # noqa: E402


def photos(folder: Path, count: int = 3) -> list[Path]:
    """Small JPEGs that decode: a gradient each, 640x480."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for number in range(count):
        y, x = np.mgrid[0:480, 0:640]
        rgb = np.stack([(x * 255 // 640), (y * 255 // 480), np.full_like(x, 60 * number)], axis=-1).astype(np.uint8)
        path = folder / f"photo-{number}.jpg"
        path.write_bytes(simplejpeg.encode_jpeg(rgb, quality=80, colorspace="RGB"))
        made.append(path)
    return made


def synthetic_storage(tmp_path: Path, events: int, days: int = 5, seed: int = 1) -> Path:
    root = tmp_path / "card"
    make_storage(root, events, days, photos(tmp_path / "photos"), seed)
    return root


def read_data(path: Path) -> Any:
    """A report data script (``window.X = {...};``, or ``(...)[key] = {...};``) as the object it assigns."""
    text = path.read_text(encoding="utf-8")
    start = text.index("] = ") + 4 if text.startswith("(") else text.index(" = ") + 3
    return json.loads(text[start:].rstrip().rstrip(";"))


def sidecars(root: Path) -> dict[str, dict[str, Any]]:
    """Every event's sidecar as JSON, by event id."""
    found = {}
    for path in root.glob("*/*/*/event.json"):
        if "report" not in path.parts and ".trapd" not in path.parts:
            data = json.loads(path.read_text())
            found[data["event_id"]] = data
    return found


def report_rows(report: Path) -> list[Any]:
    """The contact sheet's rows (data/index.js holds them as columns and rows), as dicts."""
    data = read_data(report / "data" / "index.js")
    return [dict(zip(data["columns"], values, strict=True)) for values in data["rows"]]


def row_files(row: Any) -> list[str]:
    """A row's files on the card, relative to the storage root, as the report names them."""
    from trapd.report.summary import stored_files

    return sorted(name for name, _ in stored_files(row).values())
