"""`trapd models fetch`: download a model, check it, install it, on a laptop or a Pi with internet.

``fetch NAME`` takes the URL and sha256 from a shipped card's ``download`` section;
``fetch URL --sha256 HEX [--card CARD]`` takes them from the user. Either way the download is
streamed to a temporary file beside the install folder and hashed as it arrives; a file whose
sha256 differs, a truncated one, a 404 or a dropped connection installs nothing and says which.
An archive (.zip, .tar.gz) is not extracted: the two files the card names are read out of it by
name, so no path inside it can write anywhere. Then the files go through `trapd models install`
(trapd/detect/install.py), which checks the model against its card and proves it loads.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import yaml

from trapd.detect.cards import CARD_SUFFIX, ModelCard, builtin_cards, load_card
from trapd.detect.install import install, install_dir
from trapd.detect.models import ResolvedModel
from trapd.errors import ModelError, StorageError, UsageError
from trapd.files import make_dirs_durable

#: No model trapd can run on a Pi is near this; a server that sends more is not sending a model.
MAX_DOWNLOAD_BYTES = 512 * 2**20
#: Seconds without a byte before the download is given up.
TIMEOUT_S = 60.0
_CHUNK = 2**16


def fetch(source: str, *, sha256: str | None = None, card_path: Path | None = None,
          target_dir: Path | None = None) -> ResolvedModel:
    """``source``: a shipped card's name, or an http(s) URL (then ``sha256`` is required)."""
    url, expected, card, model_member, labels_member = _what_to_fetch(source, sha256, card_path)
    destination = target_dir or install_dir()
    try:
        make_dirs_durable(destination)
    except OSError as exc:
        raise StorageError(f"{destination} cannot be created ({exc.strerror or exc}); run as root for the "
                           "service's folder, or use --dir") from None
    with tempfile.TemporaryDirectory(dir=destination, prefix=".fetch-") as staging:
        staged = Path(staging)
        download = staged / "download"
        _download(url, download, expected)
        if model_member is None:
            download.rename(staged / card.file)
            if card_path is None or not (card_path.parent / card.labels).is_file():
                raise UsageError(f"{url} is a model file alone; give --card CARD with its labels file "
                                 f"{card.labels} beside the card")
            (staged / card.labels).write_bytes((card_path.parent / card.labels).read_bytes())
        else:
            _take_member(download, model_member, staged / card.file, url)
            _take_member(download, labels_member or card.labels, staged / card.labels, url)
        staged_card = staged / f"{card.name}{CARD_SUFFIX}"
        staged_card.write_text(yaml.safe_dump(card.model_dump(mode="json", exclude_defaults=True), sort_keys=False))
        return install(staged / card.file, card_path=staged_card, target_dir=destination)


def _what_to_fetch(source: str, sha256: str | None, card_path: Path | None
                   ) -> tuple[str, str, ModelCard, str | None, str | None]:
    if source.startswith(("http://", "https://")):
        if sha256 is None:
            raise UsageError("fetching by URL needs --sha256 HEX, the checksum its publisher gives: trapd installs "
                             "nothing it cannot check")
        card = load_card(card_path) if card_path is not None else _card_for_url(source)
        if card.download is not None and card.download.url == source:
            return source, sha256.lower(), card, card.download.model_member, card.download.labels_member
        member = None if source.lower().endswith(".tflite") else card.file
        return source, sha256.lower(), card, member, card.labels if member else None
    cards = builtin_cards()
    if source not in cards:
        raise UsageError(f"no shipped card is called {source!r} (shipped: {', '.join(sorted(cards))}); give a "
                         "card's name, or a URL with --sha256")
    card = load_card(card_path) if card_path is not None else cards[source]
    if card.download is None:
        raise ModelError(f"card {source} names no download that trapd can check: install the file with `trapd "
                         "models install FILE`, or fetch a copy you trust with `trapd models fetch URL --sha256 HEX "
                         "--card CARD`")
    return card.download.url, card.download.sha256, card, card.download.model_member, card.download.labels_member


def _card_for_url(url: str) -> ModelCard:
    name = url.rsplit("/", 1)[-1]
    for card in builtin_cards().values():
        if (card.download is not None and card.download.url == url) or card.file == name:
            return card
    raise UsageError(f"no shipped card describes {name}; give --card CARD (see trapd/detect/cards/ for examples)")


def _download(url: str, target: Path, expected: str) -> None:
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, target.open("wb") as out:
            length = response.headers.get("Content-Length")
            announced = int(length) if length and length.isdigit() else None
            if announced is not None and announced > MAX_DOWNLOAD_BYTES:
                raise ModelError(f"{url} is {announced / 2**20:.0f} MB, more than any model trapd can run; "
                                 "nothing installed")
            while chunk := response.read(_CHUNK):
                received += len(chunk)
                if received > MAX_DOWNLOAD_BYTES:
                    raise ModelError(f"{url} sent more than {MAX_DOWNLOAD_BYTES // 2**20} MB; nothing installed")
                digest.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise ModelError(f"download of {url} failed: HTTP {exc.code} {exc.reason}; nothing installed") from None
    except urllib.error.URLError as exc:
        raise ModelError(f"{url} cannot be reached ({exc.reason}); with no network here, fetch on a machine "
                         "that has it and copy the model over with `trapd models install`") from None
    except (OSError, ValueError) as exc:  # a dropped connection (IncompleteRead is an HTTPException/ValueError)
        raise ModelError(f"download of {url} broke off after {received} bytes ({exc}); nothing installed, "
                         "try again") from None
    if announced is not None and received != announced:
        raise ModelError(f"download of {url} ended after {received} of {announced} bytes; nothing installed, "
                         "try again")
    if digest.hexdigest() != expected:
        raise ModelError(f"download of {url} has sha256 {digest.hexdigest()[:16]}..., not the expected "
                         f"{expected[:16]}...: damaged or not the file meant; nothing installed")


def _take_member(archive: Path, member: str, target: Path, url: str) -> None:
    """Read one named file out of a .zip or .tar.gz into ``target`` (never extracting paths)."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as bundle:
                info = next((i for i in bundle.infolist() if Path(i.filename).name == member and not i.is_dir()),
                            None)
                if info is None:
                    raise ModelError(f"{url} holds no {member}; the card's download section names the wrong file")
                if info.file_size > MAX_DOWNLOAD_BYTES:
                    raise ModelError(f"{member} in {url} unpacks to {info.file_size} bytes; nothing installed")
                target.write_bytes(bundle.read(info))
            return
        with tarfile.open(archive, "r:*") as bundle:
            entry = next((e for e in bundle.getmembers() if Path(e.name).name == member and e.isfile()), None)
            if entry is None or entry.size > MAX_DOWNLOAD_BYTES:
                raise ModelError(f"{url} holds no usable {member}; the card's download section names the wrong file")
            stream = bundle.extractfile(entry)
            target.write_bytes(stream.read() if stream is not None else b"")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, io.UnsupportedOperation, OSError) as exc:
        raise ModelError(f"{url} is not a readable .zip or .tar.gz ({exc}); nothing installed") from None
