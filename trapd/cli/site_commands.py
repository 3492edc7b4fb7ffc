"""The commands of site memory: `trapd learn` (labels teach it) and `trapd site show|forget`."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trapd.cli.common import config_from_args, offline_detector
from trapd.config.model import TrapdConfig
from trapd.errors import EX_OK, InputError, RefusedError, StorageError
from trapd.storage.layout import deployment_dirs, lock_path, state_dir
from trapd.storage.lock import StorageLock

if TYPE_CHECKING:  # numpy and Pillow load only for the commands that need them: `trapd status` stays quick
    from trapd.site.memory import Entry, SiteMemory
    from trapd.site.teach import Labelled


def cmd_learn(args: argparse.Namespace) -> int:
    from trapd.evaluate import read_ground_truth
    from trapd.progress import for_terminal
    from trapd.replay import lores_size_for
    from trapd.site.filter import SiteFilter
    from trapd.site.persist import save_memory, site_file
    from trapd.site.teach import teach

    config = config_from_args(args)
    root = config.storage.root
    rows = read_ground_truth(args.labels)
    if not rows:
        raise InputError(f"labels {args.labels} hold no rows; nothing to learn")
    by_deployment = _labelled_by_deployment(rows, args, config)
    if not args.dry_run:
        state_dir(root).mkdir(parents=True, exist_ok=True)
        StorageLock(lock_path(root)).acquire()  # a running trap holds its memory; released at exit
    detector = offline_detector(config)
    for deployment, labelled in by_deployment.items():
        path = site_file(root, deployment)
        site = SiteFilter(config.site, config.decision, _read(path, deployment))  # saved below, unless dry
        lesson = teach(site, labelled, detector, config, lores_size_for(detector, config), for_terminal())
        if lesson.would_drop:
            raise RefusedError(
                f"deployment {deployment}: learning these labels would make the trap discard labelled frames it "
                f"keeps now ({', '.join(lesson.would_drop[:5])}); nothing was changed. Check those labels")
        print("\n".join(lesson.lines(deployment, args.dry_run)))
        if not args.dry_run:
            try:
                save_memory(site.memory, path)
            except OSError as exc:
                raise StorageError(f"site memory {path} could not be written ({exc.strerror or exc}); nothing was "
                                   "changed. Make room on the card, or check its permissions, and run it again") \
                    from None
            print(f"  written to {path}; the trap, replay and eval read it from there")
    return EX_OK


def _labelled_by_deployment(rows: list[tuple[str, str]], args: argparse.Namespace, config: TrapdConfig
                            ) -> dict[str, list[Labelled]]:
    """The labelled photos, by the deployment whose memory they teach; every file checked to exist."""
    from trapd.site.teach import Labelled

    root = config.storage.root
    base = args.images if args.images is not None else root
    deployments = {p.name for p in deployment_dirs(root)}
    grouped: dict[str, list[Labelled]] = defaultdict(list)
    missing = []
    for file, label in rows:
        path = (base / file).resolve()
        if not path.is_relative_to(base.resolve()) or not path.is_file():
            missing.append(file)
            continue
        if args.images is not None:
            deployment = args.deployment or config.deployment.id
        else:
            deployment = Path(file).parts[0]
            if deployment not in deployments:
                raise InputError(f"labels {args.labels} name {file}, which is not in a deployment folder of {root}; "
                                 "files are relative to the storage root (or give --images DIR for an archive)")
        grouped[deployment].append(Labelled(path, label, file))
    if missing:
        where = f"--images {base}" if args.images is not None else f"the storage {root}"
        raise InputError(f"labels {args.labels} name {len(missing)} files not in {where}: {', '.join(missing[:5])}")
    return dict(grouped)


def _read(path: Path, deployment: str) -> SiteMemory:
    from trapd.site.persist import UnreadableMemory, load_memory

    try:
        return load_memory(path, deployment)
    except UnreadableMemory as exc:
        raise InputError(f"site memory {path} cannot be read ({exc}); `trapd site forget --deployment {deployment}` "
                         "starts it again") from None


def _chosen(args: argparse.Namespace, config: TrapdConfig) -> list[str]:
    from trapd.site.persist import site_dir

    if args.deployment:
        return [args.deployment]
    folder = site_dir(config.storage.root)
    found = sorted(p.stem for p in folder.glob("*.npz")) if folder.is_dir() else []
    return found or [config.deployment.id]


def cmd_site_show(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    shown = [_described(config, deployment) for deployment in _chosen(args, config)]
    if args.json:
        print(json.dumps(shown if len(shown) > 1 else shown[0]))
        return EX_OK
    for item in shown:
        if not item["exists"]:
            print(f"deployment {item['deployment']}: no site memory yet at {item['path']} (it is made by the first "
                  "event, or by `trapd learn`)")
            continue
        print(f"deployment {item['deployment']}: {item['entries']} scenery boxes ({item['established']} discounted "
              f"now, {item['protected']} protected by labels), {item['references_labelled']} labelled and "
              f"{item['references_automatic']} automatic pictures of the empty scene; {item['kb']} KB at "
              f"{item['path']}")
        if item["thresholds"]:
            print(f"  thresholds re-fitted by trapd learn: {item['thresholds_before']} -> {item['thresholds']}")
        for entry in item["boxes"][:20]:
            box = ",".join(f"{v:.2f}" for v in entry["box"])
            print(f"  {entry['category']:8} [{box}]  {entry['events']:4d} events  last {entry['last']}  "
                  f"{entry['state']}")
        for line in item["history"]:
            print(f"  {line}")
    return EX_OK


def _described(config: TrapdConfig, deployment: str) -> dict[str, Any]:
    from trapd.site.persist import site_file
    from trapd.site.scenery import established, summary

    path = site_file(config.storage.root, deployment)
    memory = _read(path, deployment)
    guarded = memory.guarded

    def state(entry: Entry) -> str:
        if entry.protected:
            return "protected (a labelled animal, person or vehicle)"
        if entry.labelled_empty:
            return "scenery (marked empty)" if guarded else "marked empty (waits for a second empty reference)"
        return "scenery" if established(entry, config.site, guarded) else \
            f"learning ({entry.stable} of {config.site.min_sightings} unchanged sightings)"

    return {
        "deployment": deployment, "path": str(path), "exists": path.is_file(),
        "kb": round(path.stat().st_size / 1024) if path.is_file() else 0,
        **summary(memory, config.site),
        "thresholds": memory.thresholds, "thresholds_before": memory.thresholds_before,
        "history": memory.teachings,
        "boxes": [{"category": e.category, "box": list(e.box), "events": e.events,
                   "last": datetime.fromtimestamp(e.last_s, UTC).strftime("%Y-%m-%d %H:%M UTC"), "state": state(e)}
                  for e in sorted(memory.entries, key=lambda e: -e.events)],
    }


def cmd_site_forget(args: argparse.Namespace) -> int:
    from trapd.files import fsync_dir
    from trapd.site.persist import site_file

    config = config_from_args(args)
    root = config.storage.root
    deployment = args.deployment or config.deployment.id
    path = site_file(root, deployment)
    if not path.exists():
        print(f"deployment {deployment} has no site memory at {path}; nothing to forget")
        return EX_OK
    StorageLock(lock_path(root)).acquire()  # a running trap would write its memory back
    path.unlink()
    fsync_dir(path.parent)
    print(f"forgot the site memory of deployment {deployment} ({path}): its scenery, empty references and "
          "re-fitted thresholds. The trap learns the site again from its next event")
    return EX_OK
