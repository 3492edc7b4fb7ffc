"""The `trapd` command line. Expected errors print one line and exit with a sysexits code."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from trapd import __version__
from trapd.config import DEFAULT_CONFIG_PATH, TrapdConfig, load_config
from trapd.control import request, socket_path_for
from trapd.detect.base import Detector
from trapd.detect.runtime import ModelError
from trapd.errors import EX_OK, EX_UNHEALTHY, EX_USAGE, ConfigError, TrapdError
from trapd.log import set_level, setup_logging
from trapd.storage.event_store import state_dir
from trapd.timebase import parse_utc

log = logging.getLogger("trapd")

SIMULATE_STORAGE = Path("trapd-simulate")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"trapd: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except TrapdError as exc:
        for line in str(exc).splitlines():
            print(f"trapd: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="trapd", description="AI-filtering camera-trap controller for the Raspberry Pi.")
    parser.add_argument("--version", action="version", version=f"trapd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def config_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--config", type=Path, help=f"config file (default: $TRAPD_CONFIG, then {DEFAULT_CONFIG_PATH})"
        )
        sub.add_argument("--storage", type=Path, help="storage root (overrides storage.root)")

    run = add("run", _cmd_run, "Run the trap: wait for the PIR, capture, filter, store.")
    config_options(run)
    run.add_argument("--fake", action="store_true",
                     help="fake hardware: a mock PIR fired by `trapd trigger`, and a replay or synthetic camera")
    run.add_argument("--images", type=Path, help="with --fake: replay this folder of JPEGs as the camera")

    sim = add("simulate", _cmd_simulate, "Run the daemon on fake hardware, fire N triggers, exit when all is stored.")
    config_options(sim)
    sim.add_argument("--images", type=Path, help="folder of JPEGs to replay as the camera (default: synthetic frames)")
    sim.add_argument("--triggers", type=_positive_int, default=3, help="how many PIR triggers to fire (default 3)")
    sim.add_argument("--interval-s", type=_non_negative_float,
                     help="seconds between triggers (default: long enough for one event each)")
    sim.add_argument("--json", action="store_true", help="print a JSON summary on stdout")

    trigger = add("trigger", _cmd_trigger, "Fire the PIR of a running `trapd run --fake` (a manual trigger on a Pi).")
    config_options(trigger)

    status = add("status", _cmd_status, "Show the state and counters of the running daemon.")
    config_options(status)
    status.add_argument("--json", action="store_true", help="print JSON")

    fsck = add("fsck", _cmd_fsck, "Check that storage and catalog agree, and repair (as every start does).")
    config_options(fsck)
    fsck.add_argument("--json", action="store_true", help="print the report as JSON")

    fix = add("fix-time", _cmd_fix_time, "Shift the recorded times of a range of events (a clock that was wrong).")
    config_options(fix)
    fix.add_argument("--from", dest="start", required=True, type=_utc_time,
                     help="first recorded event start to fix, ISO 8601 (UTC unless an offset is given)")
    fix.add_argument("--to", dest="end", required=True, type=_utc_time, help="last recorded event start to fix")
    fix.add_argument("--offset", required=True, type=float, help="seconds to add (negative to go back)")

    check = add("check-config", _cmd_check_config, "Validate a config file (exit 0 valid, 78 invalid).")
    check.add_argument("file", type=Path)

    detect = add("detect", _cmd_detect, "Run the detector and the keep/discard decision on photos.")
    detect.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    detect.add_argument("--config", type=Path, help="config file (detector and decision sections are used)")
    detect.add_argument("--json", action="store_true", help="one JSON object per line")

    replay = add("replay", _cmd_replay, "Run the trap's decision pipeline over a folder of photos, as if captured.")
    replay.add_argument("folder", type=Path, metavar="DIR", help="photos; sub-folders or time gaps make events")
    replay.add_argument("--config", type=Path, help="config file (detector, decision and event.gap_s are used)")
    replay.add_argument("--storage", type=Path, help="also store the events here, as the daemon would")
    replay.add_argument("--json", action="store_true", help="one JSON object per photo")

    evaluate = add("eval", _cmd_eval, "Score the filter on a labelled folder (ground_truth.csv: file,label).")
    evaluate.add_argument("images_dir", type=Path, metavar="DIR")
    evaluate.add_argument("--ground-truth", type=Path,
                          help="CSV with file and label columns (default: DIR/ground_truth.csv)")
    evaluate.add_argument("--config", type=Path, help="config file (detector and decision sections are used)")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--events", action="store_true",
                          help="group photos into events as `trapd replay` does and decide per event, as the trap "
                               "does (event-level keeping, motion); reports event recall")

    export = add("export", _cmd_export, "Export stored events for other tools.")
    formats = export.add_subparsers(dest="format", required=True, parser_class=_Parser)
    megadetector = formats.add_parser("megadetector",
                                      help="MegaDetector batch-output JSON (Timelapse and others)")
    megadetector.add_argument("--config", type=Path, help="config file (for storage.root)")
    megadetector.add_argument("--storage", type=Path, help="storage root (overrides storage.root)")
    megadetector.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    camtrap = formats.add_parser("camtrap-dp", help="a Camtrap DP 1.0 data package (media linked in)")
    camtrap.add_argument("--config", type=Path, help="config file (deployment metadata, storage.root)")
    camtrap.add_argument("--storage", type=Path, help="storage root (overrides storage.root)")
    camtrap.add_argument("--out", type=Path, required=True, help="the package's folder")

    models = add("models", _cmd_models_list, "List, install and verify models (default: list).")
    model_commands = models.add_subparsers(dest="models_command", parser_class=_Parser)
    listing = model_commands.add_parser("list", help="models on the search path")
    listing.set_defaults(handler=_cmd_models_list)
    install = model_commands.add_parser("install", help="copy a model (and its labels and card) into trapd's models")
    install.add_argument("path", type=Path, metavar="PATH", help="the .tflite file, e.g. on a USB stick")
    install.add_argument("--name", help="install under this card name")
    install.add_argument("--card", type=Path, help="the model card (default: <model>.card.yaml beside it)")
    install.add_argument("--dir", type=Path, help="install here (default: /var/lib/trapd/models as root, "
                         "else ~/.local/share/trapd/models)")
    install.set_defaults(handler=_cmd_models_install)
    verify = model_commands.add_parser("verify", help="check every model's sha256 against its card")
    verify.set_defaults(handler=_cmd_models_verify)
    return parser


# --- commands ---------------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    from trapd.daemon import Daemon, run_until_signalled

    if args.images is not None and not args.fake:
        raise ConfigError("--images only goes with --fake (set camera.type: replay in the config otherwise)")
    def load() -> TrapdConfig:
        config = _load(args)
        if args.fake:
            from trapd.simulate import with_fake_camera

            config = with_fake_camera(config, args.images)
        return config

    def build(config: TrapdConfig) -> Daemon:
        pin_factory = None
        if args.fake:
            from gpiozero.pins.mock import MockFactory

            pin_factory = MockFactory()
        return Daemon(config, pin_factory=pin_factory)

    return run_until_signalled(build(load()), build=build, reload_config=load)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from trapd.daemon import stop_on_signals
    from trapd.simulate import default_interval_s, simulate, simulation_daemon, with_fake_camera

    config = _load(args, default_storage=SIMULATE_STORAGE)
    config = with_fake_camera(config, args.images)
    interval_s = args.interval_s if args.interval_s is not None else default_interval_s(config)
    log.info("simulating %d triggers %.1f s apart into %s", args.triggers, interval_s, config.storage.root)
    daemon = simulation_daemon(config)
    with stop_on_signals(daemon.request_stop):
        report = simulate(config, args.triggers, interval_s, daemon=daemon)
    summary = report.as_json()
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['events']} events, {summary['frames_captured']} frames captured, "
              f"{summary['frames_kept']} kept, {summary['frames_discarded']} discarded, "
              f"{summary['frames_flagged']} flagged; stored in {summary['storage_root']}:")
        for event_dir in summary["event_dirs"]:
            print(f"  {event_dir}")
    return EX_OK


def _cmd_trigger(args: argparse.Namespace) -> int:
    reply = request(_socket_path(_load(args)), "trigger")
    print(f"trigger sent ({reply.get('fired')})")
    return EX_OK


def _cmd_status(args: argparse.Namespace) -> int:
    """Exit 0 when healthy, 1 when the daemon runs but needs a look, 3 when none runs: for monitoring."""
    reply = request(_socket_path(_load(args)), "status")
    reply.pop("ok", None)
    if args.json:
        print(json.dumps(reply, indent=2))
    else:
        for key, value in reply.items():
            print(f"{key}: {value}")
    return EX_OK if reply.get("healthy") else EX_UNHEALTHY


def _cmd_fsck(args: argparse.Namespace) -> int:
    """Exit 0 when all agreed, 1 when something was repaired (as fsck does)."""
    from trapd.storage.catalog import offline_catalog, reconcile

    root = _load(args).storage.root
    with offline_catalog(root) as catalog:
        report = reconcile(root, catalog)
        counts = catalog.counts()
    if args.json:
        print(json.dumps({**report.as_json(), "catalog": counts}))
    else:
        print(f"{root}: {'clean' if report.clean else 'repaired'}; catalog holds {counts['events']} events, "
              f"{counts['media']} media, {counts['detections']} detections")
        for key, items in report.as_json().items():
            if isinstance(items, list) and items:
                print(f"  {key}: {', '.join(items)}")
    return EX_OK if report.clean else EX_UNHEALTHY


def _cmd_fix_time(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from trapd.storage.catalog import offline_catalog
    from trapd.storage.fix_time import TimeFix, fix_time

    root = _load(args).storage.root
    if args.end < args.start:
        raise ConfigError("--to is before --from; give the range in the order it happened")
    with offline_catalog(root) as catalog:  # times must not change under a running daemon
        fixed = fix_time(root, TimeFix(args.start, args.end, timedelta(seconds=args.offset)), catalog)
    print(f"{len(fixed)} events shifted by {args.offset:+g} s (sidecars, EXIF, catalog); "
          f"recorded in {state_dir(root) / 'time-fixes.jsonl'}")
    return EX_OK


def _utc_time(text: str) -> datetime:
    try:
        moment = parse_utc(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (e.g. 2026-03-01T06:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _cmd_check_config(args: argparse.Namespace) -> int:
    load_config(args.file)
    print(f"{args.file}: valid")
    return EX_OK


def _offline_detector(config: TrapdConfig, *, decoding_alongside: bool = False) -> Detector:
    """The detector for detect/replay/eval: judging photos without the model would only mislead, so it is required.

    ``decoding_alongside``: replay decodes the next photos on a thread of its own, so the
    interpreter leaves it a core (see :func:`trapd.replay.interpreter_threads`).
    """
    from trapd.config import TfliteDetectorConfig
    from trapd.detect import build_detector
    from trapd.replay import interpreter_threads

    if isinstance(config.detector, TfliteDetectorConfig):
        update: dict[str, object] = {"required": True}
        if decoding_alongside:
            update["num_threads"] = interpreter_threads(config.detector.num_threads)
        config = config.model_copy(update={"detector": config.detector.model_copy(update=update)})
    return build_detector(config)


def _cmd_detect(args: argparse.Namespace) -> int:
    from trapd.evaluate import judge

    config = _load(args, default_storage=SIMULATE_STORAGE)
    detector = _offline_detector(config)
    for image in args.images:
        judgement = judge(image, detector, config)
        if args.json:
            print(json.dumps(judgement.as_json()), flush=True)
        else:
            print(f"{judgement.file}: {'KEEP' if judgement.keep else 'discard'} ({judgement.reason})", flush=True)
    return EX_OK


def _cmd_replay(args: argparse.Namespace) -> int:
    from trapd.replay import frame_lines, replay
    from trapd.storage.event_store import EventStore
    from trapd.storage.lock import StorageLock

    config = _load(args)
    store = None
    if args.storage is not None:
        store = EventStore(config)
        store.prepare()
        lock = StorageLock(state_dir(store.root) / "lock")
        lock.acquire()  # a daemon, or another replay, may be writing there; released at exit
    for record, stored in replay(args.folder, _offline_detector(config, decoding_alongside=True), config, store):
        for line in frame_lines(record):
            if args.json:
                print(json.dumps(line), flush=True)
            else:
                print(f"{line['event']}  {line['file']}: {'KEEP' if line['keep'] else 'discard'} ({line['reason']})",
                      flush=True)
        if stored is not None:
            log.info("event %s stored in %s", record.event_id, stored.directory)
    return EX_OK


def _cmd_eval(args: argparse.Namespace) -> int:
    from trapd.evaluate import evaluate, evaluate_events

    config = _load(args, default_storage=SIMULATE_STORAGE)
    ground_truth = args.ground_truth or args.images_dir / "ground_truth.csv"
    score = evaluate_events if args.events else evaluate
    report = score(args.images_dir, ground_truth, _offline_detector(config), config).as_json()
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


def _cmd_export(args: argparse.Namespace) -> int:
    config = _load(args)
    if args.format == "camtrap-dp":
        from trapd.storage.camtrap_dp import export_camtrap_dp

        counts = export_camtrap_dp(config, args.out)
        print(f"{args.out}: Camtrap DP package, " + ", ".join(f"{n} {name}" for name, n in counts.items()))
        return EX_OK
    from trapd.storage.megadetector import export_megadetector

    count = export_megadetector(config.storage.root, args.out)
    print(f"{args.out}: {count} images from {config.storage.root}")
    return EX_OK


def _cmd_models_list(args: argparse.Namespace) -> int:
    from trapd.detect.models import discover, search_path

    found = discover()
    for model in found:
        size_mb = model.model_path.stat().st_size / 1e6
        print(f"{model.card.name:32} {model.card.kind:10} {model.card.format:16} {size_mb:6.1f} MB  "
              f"{model.card.licence:11} {model.model_path}")
    if not found:
        print("no models found in: " + ", ".join(str(p) for p in search_path()))
    return EX_OK


def _cmd_models_install(args: argparse.Namespace) -> int:
    from trapd.detect.models import install

    installed = install(args.path, name=args.name, card_path=args.card, target_dir=args.dir)
    print(f"installed {installed.card.name} -> {installed.model_path} (sha256 {installed.card.sha256})")
    return EX_OK


def _cmd_models_verify(args: argparse.Namespace) -> int:
    from trapd.detect.models import verify

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


# --- helpers ----------------------------------------------------------------------------------------


def _load(args: argparse.Namespace, default_storage: Path | None = None) -> TrapdConfig:
    """The config named by --config, $TRAPD_CONFIG or the default path, with --storage applied."""
    path: Path | None = args.config
    if path is None and os.environ.get("TRAPD_CONFIG"):
        path = Path(os.environ["TRAPD_CONFIG"])
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    if path is not None:
        config = load_config(path)
    else:
        log.debug("no config file given and %s absent: using built-in defaults", DEFAULT_CONFIG_PATH)
        config = TrapdConfig()
    set_level(config.logging.level)
    storage = getattr(args, "storage", None) or (default_storage if path is None else None)
    if storage is not None:
        config = config.model_copy(
            update={"storage": config.storage.model_copy(update={"root": storage})}
        )
    root = config.storage.root.expanduser().absolute()
    return config.model_copy(update={"storage": config.storage.model_copy(update={"root": root})})


def _socket_path(config: TrapdConfig) -> Path:
    return socket_path_for(state_dir(config.storage.root), config.control.socket)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value
