"""`trapd models`: list, install, fetch and verify the models on the search path."""

from __future__ import annotations

import argparse

from trapd.errors import EX_OK, ModelError


def cmd_models_list(args: argparse.Namespace) -> int:
    from trapd.detect.models import discover, search_path

    found = discover()
    for model in found:
        size_mb = model.model_path.stat().st_size / 1e6
        print(f"{model.card.name:32} {model.card.kind:10} {model.card.format:16} {size_mb:6.1f} MB  "
              f"{model.card.licence:11} {model.model_path}")
    if not found:
        print("no models found in: " + ", ".join(str(p) for p in search_path()))
        print("without one the trap keeps every frame (fail-open). Get the default detector with `trapd models fetch "
              "ssd-mobilenet-v1-coco` (needs internet; add sudo on a field unit), or copy one from a USB stick with "
              "`trapd models install FILE.tflite`; or point TRAPD_MODELS_DIR at a folder of models")
    return EX_OK


def cmd_models_install(args: argparse.Namespace) -> int:
    from trapd.detect.install import install

    installed = install(args.path, name=args.name, card_path=args.card, target_dir=args.dir)
    print(f"installed {installed.card.name} -> {installed.model_path} (sha256 {installed.card.sha256})")
    return EX_OK


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from trapd.detect.fetch import fetch

    installed = fetch(args.source, sha256=args.sha256, card_path=args.card, target_dir=args.dir)
    print(f"installed {installed.card.name} -> {installed.model_path} (sha256 {installed.card.sha256})")
    return EX_OK


def cmd_models_verify(args: argparse.Namespace) -> int:
    from trapd.detect.install import verify

    results = verify()
    for result in results:
        print(f"{result.model.card.name:32} {result.verdict:10} {result.sha256}  {result.model.model_path}")
    if not results:
        print("no models found to verify")
    bad = [r for r in results if r.ok is False]
    if bad:
        raise ModelError(f"{len(bad)} model(s) do not match their recorded sha256: "
                         f"{', '.join(r.model.card.name for r in bad)}; reinstall them")
    return EX_OK
