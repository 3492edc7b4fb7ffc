"""The commands that judge photos and configs without a trap: check-config, detect, replay, eval."""

from __future__ import annotations

import argparse
import json

from trapd.cli.common import SIMULATE_STORAGE, config_from_args, log, offline_detector
from trapd.config.load import load_config
from trapd.errors import EX_OK
from trapd.storage.layout import lock_path


def cmd_check_config(args: argparse.Namespace) -> int:
    load_config(args.file)
    print(f"{args.file}: valid")
    return EX_OK


def cmd_detect(args: argparse.Namespace) -> int:
    from trapd.evaluate import judge

    config = config_from_args(args, default_storage=SIMULATE_STORAGE)
    detector = offline_detector(config)
    for image in args.images:
        judgement = judge(image, detector, config)
        if args.json:
            print(json.dumps(judgement.as_json()), flush=True)
        else:
            print(f"{judgement.file}: {'KEEP' if judgement.keep else 'discard'} ({judgement.reason})", flush=True)
    return EX_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from trapd.replay import frame_lines, replay
    from trapd.storage.lock import StorageLock
    from trapd.storage.writer import EventWriter

    config = config_from_args(args)
    store = None
    if args.storage is not None:
        store = EventWriter(config)
        store.prepare()
        lock = StorageLock(lock_path(store.root))
        lock.acquire()  # a daemon, or another replay, may be writing there; released at exit
    for record, stored in replay(args.folder, offline_detector(config, decoding_alongside=True), config, store):
        for line in frame_lines(record):
            if args.json:
                print(json.dumps(line), flush=True)
            else:
                print(f"{line['event']}  {line['file']}: {'KEEP' if line['keep'] else 'discard'} ({line['reason']})",
                      flush=True)
        if stored is not None:
            log.info("event %s stored in %s", record.event_id, stored.directory)
    return EX_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from trapd.evaluate import evaluate, evaluate_events

    config = config_from_args(args, default_storage=SIMULATE_STORAGE)
    ground_truth = args.ground_truth or args.images_dir / "ground_truth.csv"
    score = evaluate_events if args.events else evaluate
    report = score(args.images_dir, ground_truth, offline_detector(config), config).as_json()
    if args.json:
        print(json.dumps(report))
        return EX_OK
    print(f"detector                {report['detector']}")
    print(f"frames                  {report['frames']}")
    print(f"recall, non-empty       {report['recall_non_empty']}  "
          f"({report['kept_non_empty']}/{report['non_empty']} kept)")
    print(f"rejection, empty        {report['empty_rejection']}  "
          f"({report['rejected_empty']}/{report['empty']} discarded)")
    for category, counts in report["per_category"].items():
        print(f"  {category:21} {counts['kept']}/{counts['total']} kept")
    if report["event_recall"] is None:
        print("event recall            n/a (single photos; --events groups them as replay does)")
    else:
        print(f"event recall            {report['event_recall']}  "
              f"({report['events_kept']}/{report['events_non_empty']} events with an animal, person or vehicle)")
    print(f"latency ms, median/p90  {report['latency_ms_median']} / {report['latency_ms_p90']}")
    print(f"overhead / invoke time  {report['overhead_ratio']}")
    print(f"missed                  {', '.join(report['missed']) or '-'}")
    print(f"empty but kept          {', '.join(report['empty_kept']) or '-'}")
    return EX_OK
