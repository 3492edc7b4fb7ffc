"""Hostile and careless input: one line and the documented exit code, never a traceback, a hang,
or a write outside the place the user named (issue 13). Each case failed on the code before."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, trapd_cli
from trapd.config.load import parse_config
from trapd.detect.cards import BUILTIN_CARDS_DIR
from trapd.errors import EX_CANTCREAT, EX_CONFIG, ConfigError

LAUGHS = "".join(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 9))
HOSTILE_CONFIGS = {
    "5,000 deep list": "a: " + "[" * 5000 + "]" * 5000,
    "5,000 deep mapping": "a: " + "{a: " * 5000 + "1" + "}" * 5000,
    "recursive mapping alias": "d: &d\n  me: *d\n",
    "recursive list alias": "t: &t [*t]\n",
    "billion laughs": "l0: &l0 lol\n" + LAUGHS,
    "merge key": "deployment:\n  <<: {id: x}\n",
    "20,000 unknown keys": "deployment:\n" + "".join(f"  k{i}: {i}\n" for i in range(20000)),
    "empty storage root": "storage:\n  root: ''\n",
    "NUL in camera_id": 'deployment:\n  camera_id: "a\\0b"\n',
    "non-ASCII camera_id": "deployment:\n  camera_id: kamera-ü\n",
    "slash in deployment id": "deployment:\n  id: ../../etc\n",
    "negative pin": "pir:\n  pin: -5\n",
}


@pytest.mark.parametrize("name", HOSTILE_CONFIGS)
def test_a_hostile_config_is_refused_at_once_in_a_line(name: str) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        parse_config(HOSTILE_CONFIGS[name], source="site.yaml")
    assert time.monotonic() - started < 1.0, "any config up to 1 MB is answered within a second"
    assert all(line.startswith("site.yaml") for line in refused.value.problems)
    assert len(refused.value.problems) <= 21


def test_a_megabyte_of_config_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("deployment:\n  comments: '" + "x" * (2**20) + "'\n")
    started = time.monotonic()
    result = trapd_cli("check-config", str(big))
    assert result.returncode == EX_CONFIG and "larger than 1 MB" in result.stderr
    assert time.monotonic() - started < 5.0


def test_a_model_card_cannot_write_or_read_outside_its_folder(tmp_path: Path) -> None:
    source = tmp_path / "usb"
    source.mkdir()
    card = (BUILTIN_CARDS_DIR / "ssd-mobilenet-v1-coco.yaml").read_text()
    hostile = card.replace("labels: ssd_mobilenet_v1_coco_quant_labels.txt", "labels: ../../x/PWNED_labels.txt")
    assert hostile != card
    (source / "m.card.yaml").write_text(hostile)
    (source / "m.tflite").write_bytes(b"not a model")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "PWNED_labels.txt").write_text("person\n")
    target = tmp_path / "models"
    result = trapd_cli("models", "install", str(source / "m.tflite"), "--card", str(source / "m.card.yaml"),
                       "--dir", str(target))
    assert result.returncode == EX_CONFIG and "not a plain file name" in result.stderr
    assert not target.exists(), "nothing written before every check passed"
    assert sorted(p.name for p in tmp_path.rglob("*PWNED*")) == ["PWNED_labels.txt"], "and nothing outside"


def test_a_card_naming_a_model_outside_its_folder_is_not_loaded(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    card = (BUILTIN_CARDS_DIR / "ssd-mobilenet-v1-coco.yaml").read_text()
    (folder / "evil.card.yaml").write_text(card.replace("name: ssd-mobilenet-v1-coco", "name: evil").replace(
        "file: ssd_mobilenet_v1_coco_quant_detect.tflite", "file: ../outside.tflite"))
    result = trapd_cli("models", "list", env={"TRAPD_MODELS_DIR": str(folder)})
    assert result.returncode == 0 and "evil" not in result.stdout
    assert "not a plain file name" in result.stderr


@pytest.mark.parametrize("kind", ["char device", "symlink to stdout", "existing folder", "file as parent", "empty"])
def test_an_export_never_replaces_what_is_not_a_new_or_regular_file(tmp_path: Path, kind: str) -> None:
    (tmp_path / "store" / ".trapd").mkdir(parents=True)
    if kind == "char device":
        if os.geteuid() != 0:
            pytest.skip("mknod needs root")
        out = tmp_path / "null"
        os.mknod(out, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    elif kind == "symlink to stdout":
        out = tmp_path / "link"
        out.symlink_to("/proc/self/fd/1")
    elif kind == "existing folder":
        out = tmp_path / "folder"
        out.mkdir()
    elif kind == "file as parent":
        (tmp_path / "plain").write_text("x")
        out = tmp_path / "plain" / "md.json"
    else:
        out = Path("")
    before = out.lstat() if kind != "empty" and os.path.lexists(out) else None
    result = trapd_cli("export", "megadetector", "--storage", str(tmp_path / "store"), "--out", str(out))
    assert result.returncode == EX_CANTCREAT and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    if before is not None:
        assert out.lstat().st_ino == before.st_ino, "left exactly as it was"


def test_a_closed_stdout_ends_a_command_quietly(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    photo = (Path(__file__).parent / "fixtures" / "photos" / "damaged_exif_typeerror.jpg").read_bytes()
    for number in range(60):
        (images / f"{number:03d}.jpg").write_bytes(photo)
    config = tmp_path / "c.yaml"
    config.write_text("detector:\n  type: none\n")
    process = subprocess.Popen([sys.executable, "-m", "trapd", "replay", str(images), "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=PROJECT_ROOT)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # `| head -1`
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_the_daemon_listens_on_no_network_and_its_socket_is_for_its_group(tmp_path: Path) -> None:
    """Read from the running daemon's own file descriptors: no TCP or UDP socket of any kind."""
    from functools import partial

    from tests.conftest import spawn_trapd, wait_until, write_config

    config = write_config(tmp_path / "c.yaml", tmp_path / "store")
    daemon = spawn_trapd("run", "--fake", "--config", str(config))
    try:
        wait_until(partial(lambda: trapd_cli("status", "--config", str(config)).returncode in (0, 1)),
                   what="the daemon to answer")
        inodes = {os.readlink(f"/proc/{daemon.pid}/fd/{fd}")[len("socket:["):-1]
                  for fd in os.listdir(f"/proc/{daemon.pid}/fd")
                  if os.readlink(f"/proc/{daemon.pid}/fd/{fd}").startswith("socket:[")}
        assert inodes, "it has its control socket at least"
        for table in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
            rows = Path(f"/proc/{daemon.pid}/net/{table}").read_text().splitlines()[1:]
            assert not inodes & {row.split()[9] for row in rows}, f"a {table} socket is open"
        mode = stat.S_IMODE((tmp_path / "store" / ".trapd" / "control.sock").stat().st_mode)
        assert mode == 0o660
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
