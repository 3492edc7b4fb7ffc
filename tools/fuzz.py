#!/usr/bin/env python3
"""A fuzz campaign over every parser a card, a person or a client can feed trapd.

    python tools/fuzz.py [--inputs 20000] [--seed 1] [--json]

Each target takes mutated input and must answer with a result or trapd's own refusal, in under a
second. Counted per target: inputs tried, accepted, refused cleanly, tracebacks (any other
exception), hangs (over a second), and silent losses (a photo that came back with neither pixels
nor a reason). The targets:

* ``config``: YAML text, mutated from config.yaml (values, lines, indents, anchors, nesting);
* ``model_card``: a shipped model card's YAML, mutated the same way;
* ``sidecar``: an event.json trapd wrote, mutated as JSON (values, types, paths) and as bytes;
* ``jpeg``: a small photo trapd wrote, its EXIF and header bytes mutated, through the replay
  camera's decoding and the EXIF time reader;
* ``socket``: control-socket requests, as bytes.

tests/test_fuzz.py runs the same targets on a few hundred inputs per parser in CI.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from trapd.config.load import parse_config  # noqa: E402
from trapd.control import ControlServer  # noqa: E402
from trapd.detect.cards import BUILTIN_CARDS_DIR, load_card  # noqa: E402
from trapd.errors import ConfigError  # noqa: E402
from trapd.hardware.replay import jpeg_camera_frame  # noqa: E402
from trapd.imaging import UndecodableImage, decode_photo  # noqa: E402
from trapd.replay import camera_time  # noqa: E402
from trapd.storage.jpeg import ExifFields, encode_jpeg, exif_bytes, xmp_keywords  # noqa: E402
from trapd.storage.sidecar import SidecarError, parse_sidecar  # noqa: E402

Outcome = str  # "accepted" | "refused" | "lost"
HANG_S = 1.0


# --- targets: each returns an outcome or raises (a traceback) ------------------------------------------


def config_target(text: bytes) -> Outcome:
    try:
        parse_config(text.decode("utf-8", errors="replace"), source="fuzz.yaml")
    except ConfigError:
        return "refused"
    return "accepted"


def card_target(text: bytes, folder: Path) -> Outcome:
    path = folder / "fuzz.card.yaml"
    path.write_bytes(text)
    try:
        load_card(path)
    except ConfigError:
        return "refused"
    return "accepted"


def sidecar_target(data: bytes) -> Outcome:
    try:
        parse_sidecar(data)
    except SidecarError:
        return "refused"
    return "accepted"


def jpeg_target(data: bytes, folder: Path) -> Outcome:
    path = folder / "fuzz.jpg"
    path.write_bytes(data)
    camera_time(path, __import__("zoneinfo").ZoneInfo("UTC"))  # may say None; must not raise
    frame = jpeg_camera_frame(path, (80, 60), 0, "fuzz", "fuzz.jpg")
    if frame.main is None and frame.decode_error is None:
        return "lost"
    try:
        decode_photo(data)
    except UndecodableImage:
        return "refused"
    return "accepted"


_SERVER = ControlServer(Path("/nonexistent/control.sock"), {"status": lambda: {"state": "armed"}})


def socket_target(data: bytes) -> Outcome:
    reply = json.loads(_SERVER._answer(data))
    if not isinstance(reply, dict) or "ok" not in reply:
        return "lost"
    return "accepted" if reply["ok"] else "refused"


# --- seeds and mutations --------------------------------------------------------------------------------


def seed_config() -> bytes:
    return (PROJECT / "config.yaml").read_bytes()


def seed_card() -> bytes:
    return (BUILTIN_CARDS_DIR / "ssd-mobilenet-v1-coco.yaml").read_bytes()


def seed_sidecar() -> bytes:
    return sorted((PROJECT / "tests" / "fixtures" / "sidecars").glob("*.json"))[-1].read_bytes()


def seed_jpeg() -> bytes:
    from datetime import UTC, datetime

    rgb = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    exif = exif_bytes(ExifFields(captured_local=datetime(2026, 3, 1, 22, 15, 30, tzinfo=UTC), make="Raspberry Pi",
                                 model="imx477", camera_id="cam-1", description="fuzz",
                                 metadata={"ExposureTime": 4000, "AnalogueGain": 2.0, "DigitalGain": 1.0},
                                 size=(64, 48), gps=(36.12, 53.65)))
    rotated = Image.Exif()
    rotated.load(exif)
    rotated[0x0112] = 6  # turned: the path that reads and rewrites EXIF, where damaged EXIF used to break it
    return encode_jpeg(rgb, 90, rotated.tobytes(), xmp_keywords(["trapd"], '{"event_id": "x"}'))


YAML_PIECES = [b"&a ", b"*a", b"<<: ", b"[", b"]", b"{", b"}", b": ", b"- ", b"\n", b"  ", b"'", b'"',
               b"!!python/object ", b"~", b"null", b"true", b"-5", b"1e999", b"\x00", b"\xff", b"0x1f", b"2026-01-01",
               b"---\n", b"...\n"]


def mutate_text(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 6)):
        choice = rng.random()
        position = rng.randrange(len(data) + 1)
        if choice < 0.35:
            data[position:position] = rng.choice(YAML_PIECES)
        elif choice < 0.55 and data:
            del data[position:position + rng.randint(1, 40)]
        elif choice < 0.7:
            lines = bytes(data).split(b"\n")
            index = rng.randrange(len(lines))
            lines.insert(index, lines[rng.randrange(len(lines))])
            data = bytearray(b"\n".join(lines))
        elif choice < 0.8:
            data[position:position] = b"[" * rng.randint(1, 3000) + b"]" * rng.randint(0, 3000)
        elif choice < 0.9 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            data = bytearray(bytes(data)[: rng.randrange(len(data) + 1)])
    return bytes(data)


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.random()
    if depth > 3 or kind < 0.4:
        return rng.choice([None, True, -1, 0, 10**30, 1.5, float("inf"), "", "../../../etc/x", "a" * 200,
                           "x.jpg", "\x00", "ok"])
    if kind < 0.7:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["file", "frames", "index", "keep", "utc", "x"]): _random_json(rng, depth + 1)
            for _ in range(rng.randint(0, 3))}


def mutate_json(seed: bytes, rng: random.Random) -> bytes:
    if rng.random() < 0.3:
        return mutate_bytes(seed, rng)
    document = json.loads(seed)
    for _ in range(rng.randint(1, 4)):
        node: Any = document
        for _ in range(rng.randint(0, 4)):
            children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(
                node, list) else []
            if not children:
                break
            key, child = rng.choice(children)
            if not isinstance(child, dict | list) or rng.random() < 0.3:
                node[key] = _random_json(rng)
                break
            node = child
    return json.dumps(document, allow_nan=True).encode()


def mutate_bytes(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    head = min(len(data), 1500)  # the header: EXIF, XMP, tables; the scan data matters less
    for _ in range(rng.randint(1, 12)):
        choice = rng.random()
        position = rng.randrange(head if rng.random() < 0.9 else len(data))
        if choice < 0.6:
            data[position] = rng.randrange(256)
        elif choice < 0.75:
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif choice < 0.9:
            del data[position:position + rng.randint(1, 8)]
        else:
            data[position:position + 2] = rng.choice([b"\xff\xff", b"\x00\x00", b"\xff\xd9", b"\x7f\xff"])
    return bytes(data)


def socket_input(rng: random.Random) -> bytes:
    choice = rng.random()
    if choice < 0.3:
        return json.dumps(_random_json(rng)).encode()
    if choice < 0.5:
        return b"[" * rng.randint(1, 5000)
    if choice < 0.7:
        return json.dumps({"command": rng.choice(["status", "trigger", "", "x" * 500, 5, None])}).encode()
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 5000)))


# --- the campaign ---------------------------------------------------------------------------------------


def targets(folder: Path) -> dict[str, tuple[Callable[[bytes], Outcome], Callable[[random.Random], bytes]]]:
    config, card, sidecar, jpeg = seed_config(), seed_card(), seed_sidecar(), seed_jpeg()
    return {
        "config": (config_target, lambda rng: mutate_text(config, rng)),
        "model_card": (lambda data: card_target(data, folder), lambda rng: mutate_text(card, rng)),
        "sidecar": (sidecar_target, lambda rng: mutate_json(sidecar, rng)),
        "jpeg": (lambda data: jpeg_target(data, folder), lambda rng: mutate_bytes(jpeg, rng)),
        "socket": (socket_target, socket_input),
    }


def campaign(inputs: int, seed: int) -> dict[str, dict[str, Any]]:
    logging.disable(logging.CRITICAL)  # refusals are logged by design; thousands of them are noise here
    warnings.simplefilter("ignore")  # Pillow warns about damaged EXIF it reads past
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (target, generate) in targets(Path(tmp)).items():
            rng = random.Random(f"{seed}-{name}")
            counts: dict[str, Any] = {"inputs": 0, "accepted": 0, "refused": 0, "tracebacks": 0, "hangs": 0,
                                      "lost": 0, "examples": []}
            for _ in range(inputs):
                data = generate(rng)
                started = time.monotonic()
                try:
                    outcome = target(data)
                except Exception as exc:  # what this campaign is for: any exception trapd did not mean
                    outcome = "tracebacks"
                    if len(counts["examples"]) < 3:
                        counts["examples"].append(f"{type(exc).__name__}: {str(exc)[:120]}")
                counts["inputs"] += 1
                counts[outcome] += 1
                if time.monotonic() - started > HANG_S:
                    counts["hangs"] += 1
            results[name] = counts
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=20000, help="inputs per target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = campaign(args.inputs, args.seed)
    if args.json:
        print(json.dumps(results))
    else:
        for name, counts in results.items():
            print(f"{name:11} {counts['inputs']:6} inputs: {counts['accepted']} accepted, {counts['refused']} refused, "
                  f"{counts['tracebacks']} tracebacks, {counts['hangs']} hangs, {counts['lost']} lost"
                  + (f"  e.g. {counts['examples'][0]}" if counts["examples"] else ""))
    bad = sum(c["tracebacks"] + c["hangs"] + c["lost"] for c in results.values())
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
