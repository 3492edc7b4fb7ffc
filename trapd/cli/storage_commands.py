"""The commands that work on a trap's storage: fsck, fix-time and export (with no daemon running on it), and
report (at any time: it only reads the storage, and writes its own folder)."""

from __future__ import annotations

import argparse
import json
import sys

from trapd.cli.common import config_from_args
from trapd.errors import EX_OK, EX_UNHEALTHY, UsageError
from trapd.progress import for_terminal
from trapd.storage.layout import state_dir


def cmd_fsck(args: argparse.Namespace) -> int:
    """Exit 0 when all agreed, 1 when something was repaired (as fsck does)."""
    from trapd.detect.build import build_detector
    from trapd.replay import lores_size_for
    from trapd.storage.catalog import offline_catalog
    from trapd.storage.reconcile import reconcile
    from trapd.storage.recover import recover
    from trapd.storage.writer import EventWriter

    config = config_from_args(args)
    root = config.storage.root
    with offline_catalog(root) as catalog:
        writer = EventWriter(config)
        writer.catalog = catalog
        # Events a crash left open are finished as a start would, with the configured detector (fail-open).
        recovery = recover(root, writer, lambda: build_detector(config), config.decision,
                           lambda judge: lores_size_for(judge, config))
        report = reconcile(root, catalog, for_terminal())
        report.indexed[:0] = recovery.recovered_events
        counts = catalog.counts()
    if args.json:
        print(json.dumps({**report.as_json(), "catalog": counts}))
    else:
        print(f"{root}: {'clean' if report.clean else 'repaired'}; catalog holds {counts['events']} events, "
              f"{counts['media']} media, {counts['detections']} detections")
        for key, items in report.as_json().items():
            if isinstance(items, list) and items:
                print(f"  {key}: {', '.join(items)}")
        for folder, reason in report.reasons.items():
            print(f"  moved to {folder}: {reason}")
    return EX_OK if report.clean else EX_UNHEALTHY


def cmd_fix_time(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from trapd.storage.catalog import offline_catalog
    from trapd.storage.fix_time import TimeFix, fix_time

    root = config_from_args(args).storage.root
    if args.end < args.start:
        raise UsageError("--to is before --from; give the range in the order it happened")
    with offline_catalog(root) as catalog:  # times must not change under a running daemon
        outcome = fix_time(root, TimeFix(args.start, args.end, timedelta(seconds=args.offset)), catalog)
    if outcome.shifted:
        print(f"{len(outcome.shifted)} events shifted by {args.offset:+g} s (sidecars, EXIF, catalog); "
              f"recorded in {state_dir(root) / 'time-fixes.jsonl'}")
    elif outcome.already:
        print(f"nothing changed: the {len(outcome.already)} events of that range were already shifted by this fix")
    else:
        print("nothing changed: no event was recorded between --from and --to")
    if outcome.shifted and outcome.already:
        print(f"{len(outcome.already)} events of that range were already shifted by this fix and were left as they are")
    return EX_OK


def cmd_export(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.format == "camtrap-dp":
        from trapd.storage.camtrap_dp import export_camtrap_dp

        counts = export_camtrap_dp(config, args.out, force=args.force, progress=for_terminal())
        missing = counts.pop("missing")
        print(f"{args.out}: Camtrap DP package, " + ", ".join(f"{n} {name}" for name, n in counts.items()))
    else:
        from trapd.storage.megadetector import export_megadetector

        count, missing = export_megadetector(config.storage.root, args.out, for_terminal())
        print(f"{args.out}: {count} images from {config.storage.root}")
    if missing:
        print(f"{missing} frames whose files are gone from the card were left out; `trapd fsck` records them as "
              "removed", file=sys.stderr)
    return EX_OK


def cmd_report(args: argparse.Namespace) -> int:
    from trapd.report.build import build_report

    root = config_from_args(args).storage.root
    outcome = build_report(root, args.out, for_terminal())
    failed = f", {outcome.thumbs_failed} frames that do not decode shown without one" if outcome.thumbs_failed else ""
    print(f"{outcome.events} events; {outcome.read} read this run, {outcome.thumbs_made} thumbnails made{failed}")
    if outcome.unreadable:
        print(f"{len(outcome.unreadable)} event sidecars cannot be read and are left out; run `trapd fsck`",
              file=sys.stderr)
    print(f"open {outcome.index.resolve()}")
    return EX_OK
