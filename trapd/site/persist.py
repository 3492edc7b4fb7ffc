"""The site memory on the card: ``<root>/.trapd/site/<deployment>.npz``, written atomically.

A NumPy archive of plain arrays and one JSON document, read with ``allow_pickle=False``: a card
from anywhere cannot make trapd run code. A file that is too large, torn, or not what trapd
writes is moved aside (``.unreadable``) and the memory starts again, with one line in the log: a
trap in the field keeps trapping. Its size is bounded by ``site.max_entries`` and
``site.max_references`` (at most about 250 KB with the defaults).
"""

from __future__ import annotations

import io
import json
import logging
import math
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from trapd.files import make_dirs_durable, write_atomic
from trapd.site.memory import HISTORY_LENGTH, Entry, Reference, SiteMemory
from trapd.site.pictures import CROP_SIZE, THUMB_SIZE
from trapd.storage.layout import state_dir

FORMAT = 1
SITE_DIR_NAME = "site"
#: Far above what the largest configured memory writes (1024 entries, 64 references: about 3 MB).
MAX_FILE_BYTES = 16 * 2**20
_THUMB_SHAPE = (THUMB_SIZE[1], THUMB_SIZE[0])
_CROP_SHAPE = (CROP_SIZE[1], CROP_SIZE[0])

log = logging.getLogger(__name__)


class UnreadableMemory(ValueError):
    """The file is not a site memory trapd wrote."""


def site_dir(root: Path) -> Path:
    return state_dir(root) / SITE_DIR_NAME


def site_file(root: Path, deployment: str) -> Path:
    return site_dir(root) / f"{deployment}.npz"


def save_memory(memory: SiteMemory, path: Path) -> None:
    buffer = io.BytesIO()
    write_memory(memory, buffer)
    make_dirs_durable(path.parent)
    write_atomic(path, buffer.getvalue())


def write_memory(memory: SiteMemory, stream: BinaryIO) -> None:
    meta = {
        "format": FORMAT, "deployment": memory.deployment, "scene_off": memory.scene_off,
        "last_auto_reference_s": memory.last_auto_reference_s if math.isfinite(memory.last_auto_reference_s)
        else None,
        "thresholds": memory.thresholds, "thresholds_before": memory.thresholds_before,
        "teachings": memory.teachings,
        "entries": [{"box": list(e.box), "category": e.category, "first_s": e.first_s, "last_s": e.last_s,
                     "events": e.events, "hours": e.hours, "labelled_empty": e.labelled_empty,
                     "protected": e.protected, "quiet": e.quiet, "stable_since_s": e.stable_since_s,
                     "stable": e.stable} for e in memory.entries],
        "references": [{"taken_s": r.taken_s, "labelled": r.labelled} for r in memory.references],
    }
    np.savez_compressed(
        stream, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        crops=np.array([e.crop for e in memory.entries], dtype=np.uint8).reshape(-1, *_CROP_SHAPE),
        references=np.array([r.thumb for r in memory.references], dtype=np.float32).reshape(-1, *_THUMB_SHAPE),
        history=np.array(memory.history, dtype=np.float32).reshape(-1, *_THUMB_SHAPE),
        signature=np.array([] if memory.signature is None else [memory.signature],
                           dtype=np.float32).reshape(-1, *_THUMB_SHAPE))


def load_memory(path: Path, deployment: str) -> SiteMemory:
    """The saved memory, or a fresh one if there is none. Raises :class:`UnreadableMemory`."""
    if not path.is_file():
        return SiteMemory(deployment)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise UnreadableMemory(f"it is larger than {MAX_FILE_BYTES // 2**20} MB")
    with path.open("rb") as stream:
        return read_memory(stream, deployment)


def read_memory(stream: BinaryIO, deployment: str) -> SiteMemory:
    """A memory from what :func:`write_memory` wrote. Raises :class:`UnreadableMemory`."""
    try:
        with np.load(stream, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in ("meta", "crops", "references", "history", "signature")}
        meta = json.loads(arrays["meta"].tobytes().decode())
        return _memory_from(meta, arrays, deployment)
    except UnreadableMemory:
        raise
    except (OSError, EOFError, KeyError, ValueError, TypeError, OverflowError, zipfile.BadZipFile,
            UnicodeDecodeError) as exc:
        raise UnreadableMemory(str(exc) or type(exc).__name__) from None


def load_or_start_again(path: Path, deployment: str) -> SiteMemory:
    """What a trap does at start: a memory it cannot read is set aside, and it learns again."""
    try:
        return load_memory(path, deployment)
    except UnreadableMemory as exc:
        aside = path.with_name(path.name + ".unreadable")
        try:
            path.replace(aside)
            where = f"moved to {aside}"
        except OSError as move:
            where = f"left in place ({move.strerror or move})"
        log.warning("site memory %s cannot be read (%s); %s, and the trap learns its site again", path, exc, where)
        return SiteMemory(deployment)


def _memory_from(meta: Any, arrays: dict[str, np.ndarray], deployment: str) -> SiteMemory:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UnreadableMemory(f"not a format-{FORMAT} site memory")
    entries, references = meta.get("entries"), meta.get("references")
    crops, thumbs = arrays["crops"], arrays["references"]
    if not isinstance(entries, list) or not isinstance(references, list):
        raise UnreadableMemory("its entries or references are not lists")
    if len(entries) > MAX_ENTRIES or len(references) > MAX_REFERENCES or arrays["history"].shape[0] > HISTORY_LENGTH:
        raise UnreadableMemory(f"it holds more than trapd keeps (at most {MAX_ENTRIES} entries, {MAX_REFERENCES} "
                               f"references, {HISTORY_LENGTH} history pictures)")
    _expect(crops, (len(entries), *_CROP_SHAPE), np.uint8, "crops")
    _expect(thumbs, (len(references), *_THUMB_SHAPE), np.float32, "references")
    history, signature = arrays["history"], arrays["signature"]
    _expect(history, (history.shape[0], *_THUMB_SHAPE), np.float32, "history")
    _expect(signature, (min(1, signature.shape[0]), *_THUMB_SHAPE), np.float32, "signature")
    memory = SiteMemory(deployment)
    for item, picture in zip(entries, crops, strict=True):
        box = item["box"]
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, float | int) for v in box)):
            raise UnreadableMemory("an entry's box is not four numbers")
        memory.entries.append(Entry(
            (_fraction(box[0]), _fraction(box[1]), _fraction(box[2]), _fraction(box[3])), str(item["category"])[:32],
            picture.copy(), _time(item["first_s"]), _time(item["last_s"]), _count(item["events"]),
            _count(item["hours"]) & 0xFFFFFF, bool(item["labelled_empty"]), bool(item["protected"]),
            _count(item["quiet"]), _time(item["stable_since_s"]), _count(item["stable"])))
    for item, thumb in zip(references, thumbs, strict=True):
        memory.references.append(Reference(thumb.copy(), _time(item["taken_s"]), bool(item["labelled"])))
    memory.history = [t.copy() for t in history]
    memory.signature = signature[0].copy() if signature.shape[0] else None
    memory.scene_off = _count(meta.get("scene_off", 0))
    last = meta.get("last_auto_reference_s")
    memory.last_auto_reference_s = _time(last) if last is not None else float("-inf")
    memory.thresholds = _scores(meta.get("thresholds", {}))
    memory.thresholds_before = _scores(meta.get("thresholds_before", {}))
    teachings = meta.get("teachings", [])
    memory.teachings = [str(line)[:1000] for line in teachings][-20:] if isinstance(teachings, list) else []
    return memory


#: Far above what any configuration keeps (site.max_entries <= 1024, max_references <= 64): a file with more is
#: not trapd's, and would cost time and memory out of proportion to its size on the card.
MAX_ENTRIES = 1024
MAX_REFERENCES = 64
#: Seconds since 1970 that a trap can have written: up to the year 2200.
LATEST_S = 7.3e9


def _time(value: Any) -> float:
    seconds = float(value)
    if not 0.0 <= seconds <= LATEST_S:
        raise UnreadableMemory(f"it holds a time of {value!r} seconds")
    return seconds


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**31:
        raise UnreadableMemory(f"it holds a count of {value!r}")
    return value


def _fraction(value: Any) -> float:
    share = float(value)
    if not -1.0 <= share <= 2.0:  # a detector's box may reach a little past the frame's edge
        raise UnreadableMemory(f"it holds a box coordinate of {value!r}")
    return share


def _expect(array: np.ndarray, shape: tuple[int, ...], dtype: type, name: str) -> None:
    if array.shape != shape or array.dtype != dtype:
        raise UnreadableMemory(f"its {name} are {array.dtype}{list(array.shape)}, not {np.dtype(dtype)}{list(shape)}")
    if array.dtype == np.float32 and not np.isfinite(array).all():
        raise UnreadableMemory(f"its {name} hold non-finite numbers")


def _scores(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or not all(
            k in ("animal", "person", "vehicle") and isinstance(v, float | int) and 0.0 <= v <= 1.0
            for k, v in value.items()):
        raise UnreadableMemory("its thresholds are not scores of animal, person and vehicle")
    return {str(k): float(v) for k, v in value.items()}
