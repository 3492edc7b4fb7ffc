"""`trapd models fetch` against a loopback HTTP server serving a copy of a shared model: the right file is
installed; a wrong checksum, a truncated download and a 404 each say so in a line and install nothing."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT, trapd_cli
from trapd.detect.cards import BUILTIN_CARDS_DIR

MODELS = PROJECT_ROOT.parent / "shared" / "models"
MODEL = MODELS / "ssd_mobilenet_v1_coco_quant_detect.tflite"


class Archive(http.server.BaseHTTPRequestHandler):
    """Serves /zoo.zip as the model zoo's archive (detect.tflite, labelmap.txt); /short.zip stops half way."""

    body = b""

    def do_GET(self) -> None:
        if self.path not in ("/zoo.zip", "/short.zip"):
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body if self.path == "/zoo.zip" else self.body[: len(self.body) // 2])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def zoo() -> Iterator[str]:
    if not MODEL.is_file():
        pytest.skip(f"shared models not found at {MODELS} (../shared is absent)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.write(MODEL, "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29/detect.tflite")
        bundle.write(MODELS / "ssd_mobilenet_v1_coco_quant_labels.txt", "labelmap.txt")
    Archive.body = buffer.getvalue()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Archive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def card_for(tmp_path: Path, url: str, sha256: str) -> Path:
    """The shipped card, its download pointed at the loopback server."""
    card = yaml.safe_load((BUILTIN_CARDS_DIR / "ssd-mobilenet-v1-coco.yaml").read_text())
    card["download"] = {**card["download"], "url": url, "sha256": sha256}
    path = tmp_path / "ssd.card.yaml"
    path.write_text(yaml.safe_dump(card))
    return path


def fetch(tmp_path: Path, url: str, sha256: str) -> tuple[int, str, Path]:
    target = tmp_path / "models"
    result = trapd_cli("models", "fetch", "ssd-mobilenet-v1-coco", "--card", str(card_for(tmp_path, url, sha256)),
                       "--dir", str(target))
    return result.returncode, result.stdout + result.stderr, target


def test_fetch_by_name_downloads_checks_and_installs(tmp_path: Path, zoo: str) -> None:
    code, said, target = fetch(tmp_path, f"{zoo}/zoo.zip", hashlib.sha256(Archive.body).hexdigest())
    assert code == 0, said
    assert (target / "ssd_mobilenet_v1_coco_quant_detect.tflite").read_bytes() == MODEL.read_bytes()
    assert (target / "ssd-mobilenet-v1-coco.card.yaml").is_file()
    assert not [p for p in target.iterdir() if p.name.startswith(".")], "no staging left behind"
    listed = trapd_cli("models", "verify", env={"TRAPD_MODELS_DIR": str(target)})
    assert listed.returncode == 0 and " ok " in listed.stdout


@pytest.mark.parametrize(("path", "checksum", "said"), [
    ("/zoo.zip", "0" * 64, "has sha256"),
    ("/short.zip", None, "ended after"),
    ("/gone.zip", None, "HTTP 404"),
])
def test_a_bad_download_installs_nothing_and_says_why(tmp_path: Path, zoo: str, path: str, checksum: str | None,
                                                      said: str) -> None:
    code, output, target = fetch(tmp_path, f"{zoo}{path}", checksum or hashlib.sha256(Archive.body).hexdigest())
    assert code == 69, output
    assert said in output and "nothing installed" in output and output.count("\n") == 1
    assert "Traceback" not in output
    assert not target.exists() or not list(target.iterdir()), "nothing installed, no staging left"


def test_fetch_by_url_needs_a_checksum(tmp_path: Path) -> None:
    result = trapd_cli("models", "fetch", "https://example.org/model.tflite", "--dir", str(tmp_path))
    assert result.returncode == 64 and "--sha256" in result.stderr


def test_a_card_without_a_checked_download_says_how_to_get_the_model(tmp_path: Path) -> None:
    result = trapd_cli("models", "fetch", "yolov8n-coco", "--dir", str(tmp_path))
    assert result.returncode == 69 and "trapd models install FILE" in result.stderr


def test_no_models_says_where_it_looked_and_what_to_run(tmp_path: Path) -> None:
    result = trapd_cli("models", "list", env={"TRAPD_MODELS_DIR": str(tmp_path), "HOME": str(tmp_path)})
    assert result.returncode == 0
    assert "no models found in" in result.stdout and "trapd models fetch ssd-mobilenet-v1-coco" in result.stdout


def test_an_empty_labels_file_is_refused_not_left_to_discard_every_animal(tmp_path: Path) -> None:
    if not MODEL.is_file():
        pytest.skip(f"shared models not found at {MODELS} (../shared is absent)")
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / MODEL.name).write_bytes(MODEL.read_bytes())
    (folder / "ssd_mobilenet_v1_coco_quant_labels.txt").write_bytes(b"")
    photo = PROJECT_ROOT.parent / "shared" / "images" / "camera-trap" / "sn_domestic_dog.jpg"
    result = trapd_cli("detect", str(photo), env={"TRAPD_MODELS_DIR": str(folder)})
    assert result.returncode == 69 and "do not match its card" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_users_card_without_a_labels_checksum_still_refuses_labels_that_name_none_of_its_classes(
        tmp_path: Path) -> None:
    from trapd.detect.cards import builtin_cards
    from trapd.detect.tflite import read_labels
    from trapd.errors import ModelError

    card = builtin_cards()["ssd-mobilenet-v1-coco"].model_copy(update={"labels_sha256": None})
    labels = tmp_path / "labels.txt"
    labels.write_text("???\nperson\nbicycle\n")  # another model's, or cut short
    with pytest.raises(ModelError, match=r"do not name airplane, bear, bird, boat, bus and more"):
        read_labels(card, labels)
    labels.write_text("\n".join(["???", *sorted({n for names in card.categories.values() for n in names})]))
    assert "person" in read_labels(card, labels)
