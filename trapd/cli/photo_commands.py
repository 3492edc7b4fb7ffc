"""The commands that judge photos and configs without a trap: check-config, detect, replay, eval."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from trapd.cli.common import SIMULATE_STORAGE, config_from_args, log, offline_detector
from trapd.config.load import load_config
from trapd.errors import EX_OK, InputError, UsageError
from trapd.storage.layout import lock_path

if TYPE_CHECKING:
    from trapd.config.model import TrapdConfig
    from trapd.event import DecidedEvent
    from trapd.progress import Progress


def cmd_check_config(args: argparse.Namespace) -> int:
    """Exit 0 for a valid config; a model the config names but the search path lacks is warned about (the config
    is fine; this machine, or the unit it goes to, still needs the model)."""
    from trapd.detect.detector import TfliteDetectorConfig
    from trapd.detect.models import find_model, search_path
    from trapd.errors import ModelError

    config = load_config(args.file)
    print(f"{args.file}: valid")
    detector = config.detector
    if isinstance(detector, TfliteDetectorConfig):
        try:
            find_model(detector.model)
        except ModelError:
            then = "refuse to start" if detector.required else "run fail-open (keeping every frame)"
            print(f"trapd: warning: detector.model {detector.model!r} is not on the model search path here "
                  f"({', '.join(map(str, search_path()))}); a trap with this config would {then}. Install it with "
                  "`trapd models fetch` or `trapd models install`, or set TRAPD_MODELS_DIR", file=sys.stderr)
    return EX_OK


def cmd_detect(args: argparse.Namespace) -> int:
    from trapd.annotate import photos_in, write_annotated
    from trapd.evaluate import judge
    from trapd.progress import for_terminal

    config = config_from_args(args, default_storage=SIMULATE_STORAGE)
    photos = photos_in(args.images)
    if not photos:
        raise InputError(f"no .jpg/.jpeg photos in {', '.join(map(str, args.images))}")
    detector = offline_detector(config)
    progress = for_terminal()
    kept = 0
    for path, name in progress.over(photos, len(photos), "photos"):
        judgement = judge(path, detector, config)
        kept += judgement.keep
        if args.json:
            progress.echo(json.dumps({**judgement.as_json(), "file": path.as_posix()}))
        else:
            progress.echo(f"{path}: {'KEEP' if judgement.keep else 'discard'} ({judgement.reason}); "
                          f"latency_ms {judgement.result.latency_ms:.1f}")
            for detection in sorted(judgement.result.detections, key=lambda d: -d.score):
                box = ", ".join(f"{v:.3f}" for v in detection.bbox)
                progress.echo(f"    {detection.category:8} {detection.label} {detection.score:.2f} at [{box}]")
        if args.annotate is not None:
            failure = write_annotated(path, args.annotate / name, judgement.result.detections)
            if failure is not None:
                log.warning("%s not annotated: %s", path, failure)
    if not args.json:
        where = f"; annotated copies in {args.annotate}" if args.annotate is not None else ""
        print(f"{len(photos)} photos: {kept} kept, {len(photos) - kept} discarded{where}")
    return EX_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from trapd.progress import for_terminal
    from trapd.replay import photo_per_event, replay
    from trapd.site.filter import site_filter_for
    from trapd.storage.catalog import catalog_unless_full
    from trapd.storage.lock import StorageLock
    from trapd.storage.writer import EventWriter

    config = config_from_args(args)
    store = None
    if args.storage is not None:
        store = EventWriter(config)
        store.prepare()
        lock = StorageLock(lock_path(store.root))
        lock.acquire()  # a daemon, or another replay, may be writing there; released at exit
        store.catalog = catalog_unless_full(store.root)  # indexed as stored: the next start has nothing to repair
    progress = for_terminal()
    events = frames = kept = flagged = 0
    detector = offline_detector(config, decoding_alongside=True)
    site = site_filter_for(config, store.root if store is not None else None)
    plan = (photo_per_event(args.folder, ZoneInfo(config.deployment.timezone), args.photo_interval_s)
            if args.event_per_photo else None)
    try:
        for record, stored in replay(args.folder, detector, config, store, progress, site=site, events=plan):
            events += 1
            frames, kept, flagged = _said(record, args.json, progress, (frames, kept, flagged))
            if stored is not None:
                log.info("event %s stored in %s", record.event_id, stored.directory)
    finally:
        if site is not None:
            site.close()
        if store is not None and store.catalog is not None:
            store.catalog.close()
    if not args.json:
        where = f"; stored in {store.root}" if store is not None else " (not stored: add --storage DIR to keep them)"
        print(f"{frames} photos in {events} events: {kept} kept, {frames - kept} discarded, {flagged} flagged{where}")
    return EX_OK


def _said(record: DecidedEvent, as_json: bool, progress: Progress, counts: tuple[int, int, int]
          ) -> tuple[int, int, int]:
    """Print an event's lines; the running counts of frames, kept and flagged."""
    from trapd.replay import frame_lines

    frames, kept, flagged = counts
    for line in frame_lines(record):
        frames += 1
        kept += line["keep"]
        flagged += bool(line["flags"])
        if as_json:
            progress.echo(json.dumps(line))
        else:
            progress.echo(f"{line['event']}  {line['file']}: {'KEEP' if line['keep'] else 'discard'} "
                          f"({line['reason']})")
    return frames, kept, flagged


def cmd_eval(args: argparse.Namespace) -> int:
    from trapd.evaluate import evaluate, evaluate_events, read_ground_truth
    from trapd.progress import for_terminal

    config = config_from_args(args, default_storage=SIMULATE_STORAGE)
    if args.sites is not None:
        return _eval_sites(args, config)
    if args.images_dir is None:
        raise UsageError("trapd eval needs a folder of labelled photos (DIR), or --sites SITES_DIR")
    ground_truth = args.ground_truth or args.images_dir / "ground_truth.csv"
    read_ground_truth(ground_truth)  # a missing or malformed file is said before the model is loaded
    score = evaluate_events if args.events else evaluate
    report = score(args.images_dir, ground_truth, offline_detector(config), config, for_terminal()).as_json()
    if args.json:
        print(json.dumps(report))
        return EX_OK
    print("\n".join(eval_lines(report, verbose=args.verbose)))
    return EX_OK


def _eval_sites(args: argparse.Namespace, config: TrapdConfig) -> int:
    from trapd.progress import for_terminal
    from trapd.site.sites_eval import evaluate_sites, read_site_labels, table_lines, totals

    if args.seed_empties < 0:
        raise UsageError(f"--seed-empties must not be negative, not {args.seed_empties}")
    if not config.site.enabled:
        raise UsageError("trapd eval --sites measures site memory, which this config turns off (site.enabled)")
    read_site_labels(args.sites / "labels.csv")  # a missing or malformed file is said before the model is loaded
    results = evaluate_sites(args.sites, offline_detector(config), config, args.seed_empties, args.photo_interval_s,
                             for_terminal())
    if args.json:
        print(json.dumps({"seed_empties": args.seed_empties, "sites": [r.as_json() for r in results],
                          "total": totals(results)}))
    else:
        print("\n".join(table_lines(results, args.seed_empties)))
    return EX_OK


def eval_lines(report: dict[str, Any], verbose: bool) -> list[str]:
    """What a biologist asks of a filter: how many animals it kept, how many empty photos it threw away."""
    median = report["latency_ms_median"]
    lines = [f"kept {report['kept_non_empty']} of {report['non_empty']} photos with an animal, person or vehicle; "
             f"threw away {report['rejected_empty']} of {report['empty']} empty photos"
             + (f"; {median:.0f} ms per photo" if median is not None else "")]
    for category, counts in report["per_category"].items():
        lines.append(f"  {category:8} {counts['kept']} of {counts['total']} kept")
    if report["event_recall"] is not None:
        lines.append(f"  events   {report['events_kept']} of {report['events_non_empty']} events with an animal, "
                     "person or vehicle kept")
    lines.append(f"  thrown away, though not empty: {', '.join(report['missed']) or 'none'}")
    empty_kept = report["empty_kept"]
    lines.append(f"  empty, but kept: {', '.join(empty_kept[:10]) or 'none'}"
                 + (f" and {len(empty_kept) - 10} more" if len(empty_kept) > 10 else ""))
    lines.append(f"  detector {report['detector']}")
    if verbose:
        lines.append(f"  latency ms, median / p90: {median} / {report['latency_ms_p90']}")
        lines.append(f"  time outside the interpreter, over its invoke time: {report['overhead_ratio']}")
    return lines
