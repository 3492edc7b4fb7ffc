"""`trapd models install` and `trapd models verify`: putting a model on the search path, and checking it.

Field units have no network: a model is side-loaded from a USB stick into the service's folder
(as root) or the user's (trapd/detect/models.py), with its labels and card. Its sha256 is
recorded in the installed card, and the detector and ``trapd models verify`` check it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from trapd.detect.cards import CARD_SUFFIX, ModelCard, builtin_cards, load_card
from trapd.detect.models import ResolvedModel, discover, file_sha256, search_path, service_models_dir
from trapd.detect.tflite import TfliteModel
from trapd.errors import ConfigError, ModelError, StorageError
from trapd.files import make_dirs_durable, write_atomic


def install_dir() -> Path:
    """Where `trapd models install` puts models: the service's folder as root, else the user's.

    Never a $TRAPD_MODELS_DIR folder: that is where models are *read* from (often a shared,
    read-only collection); writing there by default would alter it.
    """
    return service_models_dir() if os.geteuid() == 0 else search_path()[-2]


def install(source: Path, name: str | None = None, card_path: Path | None = None,
            target_dir: Path | None = None) -> ResolvedModel:
    """Copy a model, its labels and its card into the install folder, recording the model's sha256.

    The card is ``card_path``, else ``<source stem>.card.yaml`` beside the model, else the
    shipped card whose ``file`` is the model's file name. The bytes are read once; those bytes
    are hashed, loaded (so a truncated copy from a failing USB stick is refused) and written,
    and the written file is hashed again. Nothing is left behind if any step fails.
    """
    card = _card_for(source, card_path)
    if name is not None:
        try:
            card = ModelCard.model_validate({**card.model_dump(), "name": name})
        except ValidationError:
            raise ConfigError(f"--name {name!r}: use lower-case letters, digits, '.', '_' and '-'") from None
    try:
        model_bytes = source.read_bytes()
        labels_bytes = (source.parent / card.labels).read_bytes()
    except OSError as exc:
        raise ModelError(f"{exc.filename} cannot be read ({exc.strerror or exc}); the model and the labels "
                         f"file {card.labels} must sit together") from None
    checksum = hashlib.sha256(model_bytes).hexdigest()
    if card.sha256 is not None and card.sha256 != checksum:
        raise ModelError(f"{source} does not match its card (sha256 {checksum[:12]}..., card says "
                         f"{card.sha256[:12]}...); the copy is damaged or the card is for another file")
    labels_checksum = hashlib.sha256(labels_bytes).hexdigest()
    destination = target_dir or install_dir()
    written: list[Path] = []
    try:
        with tempfile.TemporaryDirectory() as staging:  # prove it loads and fits before it lands
            staged = Path(staging)
            (staged / card.file).write_bytes(model_bytes)
            (staged / card.labels).write_bytes(labels_bytes)
            TfliteModel(ResolvedModel(card, staged / card.file, staged / card.labels, None), num_threads=1)
        make_dirs_durable(destination)
        installed_card = destination / f"{card.name}{CARD_SUFFIX}"
        data = card.model_copy(update={"sha256": checksum, "labels_sha256": labels_checksum}).model_dump(
            mode="json", exclude_defaults=True)
        for path, content in ((destination / card.file, model_bytes), (destination / card.labels, labels_bytes),
                              (installed_card, yaml.safe_dump(data, sort_keys=False).encode())):
            write_atomic(path, content)
            written.append(path)
        if file_sha256(destination / card.file) != checksum:
            raise ModelError(f"the copy written to {destination} does not read back intact; check the storage")
    except OSError as exc:
        _remove(written)
        raise StorageError(f"model cannot be installed in {destination} ({exc.strerror or exc}); "
                           "run as root for the service's folder, or use --dir") from None
    except BaseException:
        _remove(written)
        raise
    return ResolvedModel(load_card(installed_card), destination / card.file, destination / card.labels,
                         installed_card)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _card_for(source: Path, card_path: Path | None) -> ModelCard:
    if card_path is not None:
        return load_card(card_path)
    beside = source.with_name(f"{source.stem}{CARD_SUFFIX}")
    if beside.is_file():
        return load_card(beside)
    for card in builtin_cards().values():
        if card.file == source.name:
            return card
    raise ModelError(
        f"no model card for {source.name}: write {beside.name} beside it (see trapd/detect/cards/ "
        "for examples) or pass --card CARD"
    )


@dataclass(frozen=True, slots=True)
class Verification:
    model: ResolvedModel
    sha256: str
    ok: bool | None  # None: the card records no checksum to compare with

    @property
    def verdict(self) -> str:
        return {True: "ok", False: "MISMATCH", None: "unchecked (card has no sha256)"}[self.ok]


def verify() -> list[Verification]:
    """Each model's sha256 against its card, and its labels file's against the card's labels_sha256."""
    results = []
    for model in discover():
        checksum = model.sha256()
        expected = model.card.sha256
        ok = None if expected is None else checksum == expected
        if ok is not False and model.card.labels_sha256 is not None:
            labels_ok = model.labels_path.is_file() and file_sha256(model.labels_path) == model.card.labels_sha256
            ok = ok if labels_ok else False
        results.append(Verification(model, checksum, ok))
    return results

