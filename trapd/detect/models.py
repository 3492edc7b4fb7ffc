"""Finding, installing and verifying models by name.

Search path, first match wins:

1. ``$TRAPD_MODELS_DIR`` (colon-separated), e.g. ``../shared/models`` on a development machine;
2. the user's models: ``$XDG_DATA_HOME/trapd/models`` (``~/.local/share/trapd/models``);
3. the service's models: ``/var/lib/trapd/models`` (systemd's StateDirectory).

In each folder a model is either described by a card beside it (``<name>.card.yaml``, which
is what ``trapd models install`` writes) or is the file a shipped card names. Field units
have no network: ``trapd models install`` side-loads a model from a USB stick, records its
sha256 in the installed card, and ``trapd models verify`` checks it later.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from trapd.detect.cards import CARD_SUFFIX, ModelCard, builtin_cards, load_card
from trapd.detect.runtime import ModelError
from trapd.storage.atomic import make_dirs_durable, write_atomic

SERVICE_MODELS_DIR = Path("/var/lib/trapd/models")


def search_path() -> list[Path]:
    dirs = [Path(p).expanduser() for p in os.environ.get("TRAPD_MODELS_DIR", "").split(":") if p]
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return [*dirs, data_home / "trapd" / "models", SERVICE_MODELS_DIR]


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    card: ModelCard
    model_path: Path
    labels_path: Path
    card_path: Path | None  # None: a shipped card

    def sha256(self) -> str:
        return file_sha256(self.model_path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_model(name: str) -> ResolvedModel:
    """The model called ``name`` on the search path, or a :class:`ModelError` saying where it looked."""
    for resolved in discover():
        if resolved.card.name == name:
            return resolved
    known = ", ".join(sorted(builtin_cards())) or "none"
    folders = ", ".join(str(d) for d in search_path())
    raise ModelError(
        f"model {name!r} not found in {folders}; set TRAPD_MODELS_DIR to the folder holding it "
        f"or run `trapd models install FILE` (shipped cards: {known})"
    )


def discover() -> list[ResolvedModel]:
    """Every model on the search path, in search order (a name found twice: the first wins)."""
    found: list[ResolvedModel] = []
    seen: set[str] = set()
    shipped = builtin_cards()
    for directory in search_path():
        if not directory.is_dir():
            continue
        candidates: list[tuple[ModelCard, Path | None]] = [
            (load_card(p), p) for p in sorted(directory.glob(f"*{CARD_SUFFIX}"))
        ]
        candidates += [(card, None) for card in shipped.values()]
        for card, card_path in candidates:
            model_path = directory / card.file
            if card.name in seen or not model_path.is_file():
                continue
            seen.add(card.name)
            found.append(ResolvedModel(card, model_path, directory / card.labels, card_path))
    return found


def install_dir() -> Path:
    """Where `trapd models install` puts models: the first $TRAPD_MODELS_DIR, else the service's or user's."""
    configured = [p for p in os.environ.get("TRAPD_MODELS_DIR", "").split(":") if p]
    if configured:
        return Path(configured[0]).expanduser()
    return SERVICE_MODELS_DIR if os.geteuid() == 0 else search_path()[-2]


def install(source: Path, name: str | None = None, card_path: Path | None = None,
            target_dir: Path | None = None) -> ResolvedModel:
    """Copy a model, its labels and its card into the install folder, recording the model's sha256.

    The card is ``card_path``, else ``<source stem>.card.yaml`` beside the model, else the
    shipped card whose ``file`` is the model's file name. The model is loaded once first, so a
    truncated copy from a failing USB stick is refused instead of installed.
    """
    if not source.is_file():
        raise ModelError(f"{source} is not a file; give the path of a .tflite model")
    card = _card_for(source, card_path)
    if name is not None:
        card = card.model_copy(update={"name": name})
    labels = source.parent / card.labels
    if not labels.is_file():
        raise ModelError(f"labels file {labels} (named by the card) is missing; copy it beside {source.name}")
    from trapd.detect.tflite import TfliteModel

    checksum = file_sha256(source)
    if card.sha256 is not None and card.sha256 != checksum:
        raise ModelError(f"{source} does not match its card (sha256 {checksum[:12]}..., card says "
                         f"{card.sha256[:12]}...); the copy is damaged or the card is for another file")
    TfliteModel(ResolvedModel(card, source, labels, card_path), num_threads=1)  # proves it loads and fits
    destination = target_dir or install_dir()
    make_dirs_durable(destination)
    model_path = destination / card.file
    write_atomic(model_path, source.read_bytes())
    write_atomic(destination / card.labels, labels.read_bytes())
    installed_card = destination / f"{card.name}{CARD_SUFFIX}"
    data = card.model_copy(update={"sha256": checksum}).model_dump(mode="json", exclude_defaults=True)
    write_atomic(installed_card, yaml.safe_dump(data, sort_keys=False).encode())
    return ResolvedModel(load_card(installed_card), model_path, destination / card.labels, installed_card)


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
    results = []
    for model in discover():
        checksum = model.sha256()
        expected = model.card.sha256
        results.append(Verification(model, checksum, None if expected is None else checksum == expected))
    return results

