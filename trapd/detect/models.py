"""Finding, installing and verifying models by name.

Search path, first match wins:

1. ``$TRAPD_MODELS_DIR`` (colon-separated), e.g. ``../shared/models`` on a development machine;
2. the user's models: ``$XDG_DATA_HOME/trapd/models`` (``~/.local/share/trapd/models``);
3. the service's models: ``$STATE_DIRECTORY/models``, i.e. ``/var/lib/trapd/models``.

In each folder a model is either described by a card beside it (``<name>.card.yaml``, which
is what ``trapd models install`` writes) or is the file a shipped card names. Field units
have no network: ``trapd models install`` side-loads a model from a USB stick into the
service's folder (as root) or the user's, records its sha256 in the installed card, and the
detector and ``trapd models verify`` check it (trapd/detect/install.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from trapd.detect.cards import CARD_SUFFIX, ModelCard, builtin_cards, load_card
from trapd.errors import ConfigError, ModelError

log = logging.getLogger(__name__)


def service_models_dir() -> Path:
    """The service's models: under systemd's $STATE_DIRECTORY (StateDirectory=trapd), else /var/lib/trapd."""
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(state or "/var/lib/trapd") / "models"


def search_path() -> list[Path]:
    dirs = [Path(p).expanduser() for p in os.environ.get("TRAPD_MODELS_DIR", "").split(":") if p]
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return [*dirs, data_home / "trapd" / "models", service_models_dir()]


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
    """Every model on the search path, in search order (a name found twice: the first wins).

    A card that does not load is skipped with a warning: one bad file in a models folder must
    not stop the trap from using the good ones (or from running fail-open).
    """
    found: list[ResolvedModel] = []
    seen: set[str] = set()
    shipped = builtin_cards()
    for directory in search_path():
        try:
            card_paths = sorted(directory.glob(f"*{CARD_SUFFIX}")) if directory.is_dir() else []
        except OSError as exc:
            log.warning("models folder %s cannot be read: %s", directory, exc.strerror or exc)
            continue
        candidates: list[tuple[ModelCard, Path | None]] = []
        for path in card_paths:
            try:
                candidates.append((load_card(path), path))
            except ConfigError as exc:
                log.warning("ignoring model card: %s", exc.problems[0])
        candidates += [(card, None) for card in shipped.values()]
        for card, card_path in candidates:
            model_path = directory / card.file
            if card.name in seen or not model_path.is_file():
                continue
            seen.add(card.name)
            found.append(ResolvedModel(card, model_path, directory / card.labels, card_path))
    return found
