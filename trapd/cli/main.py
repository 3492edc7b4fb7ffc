"""The `trapd` command line. Expected errors print one line and exit with a sysexits code.

The commands live by what they work on: ``daemon_commands.py`` (run, simulate, trigger, status),
``storage_commands.py`` (fsck, fix-time, export), ``photo_commands.py`` (check-config, detect,
replay, eval) and ``model_commands.py``; ``common.py`` holds what they share.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from trapd import __version__
from trapd.cli.common import deployment_id, non_negative_float, positive_int, utc_time
from trapd.cli.daemon_commands import cmd_run, cmd_simulate, cmd_status, cmd_trigger
from trapd.cli.model_commands import cmd_models_fetch, cmd_models_install, cmd_models_list, cmd_models_verify
from trapd.cli.photo_commands import cmd_check_config, cmd_detect, cmd_eval, cmd_replay
from trapd.cli.power_command import cmd_power
from trapd.cli.site_commands import cmd_learn, cmd_site_forget, cmd_site_show
from trapd.cli.storage_commands import cmd_export, cmd_fix_time, cmd_fsck, cmd_report
from trapd.config.model import DEFAULT_CONFIG_PATH
from trapd.errors import EX_OK, EX_USAGE, TrapdError
from trapd.log import setup_logging
from trapd.memory import compact_malloc
from trapd.power.boards import BOARD_NAMES


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"trapd: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    # Pillow warns on stderr about EXIF it cannot read ("Corrupt EXIF data"); trapd flags those photos
    # (metadata_unreadable) and says so in its own words, so the raw warning is only noise.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    compact_malloc()
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except TrapdError as exc:
        for line in str(exc).splitlines():
            print(f"trapd: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `trapd status | head`: the reader has what it wanted. Nothing more is written, and the
        # interpreter's own last flush of stdout must not fail again on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EX_OK


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

    run = add("run", cmd_run, "Run the trap: wait for the PIR, capture, filter, store.")
    config_options(run)
    run.add_argument("--fake", action="store_true",
                     help="fake hardware: a mock PIR fired by `trapd trigger`, and a replay or synthetic camera")
    run.add_argument("--images", type=Path, help="with --fake: replay this folder of JPEGs as the camera")

    sim = add("simulate", cmd_simulate, "Run the daemon on fake hardware, fire N triggers, exit when all is stored.")
    config_options(sim)
    sim.add_argument("--images", type=Path, help="folder of JPEGs to replay as the camera (default: synthetic frames)")
    sim.add_argument("--triggers", type=positive_int, default=3, help="how many PIR triggers to fire (default 3)")
    sim.add_argument("--interval-s", type=non_negative_float,
                     help="seconds between triggers (default: long enough for one event each)")
    sim.add_argument("--json", action="store_true", help="print a JSON summary on stdout")

    trigger = add("trigger", cmd_trigger, "Fire the PIR of a running `trapd run --fake` (a manual trigger on a Pi).")
    config_options(trigger)
    trigger.add_argument("--manual", action="store_true",
                         help="a person's capture (aiming the camera), on fake hardware too: stored whatever the "
                              "filter says")

    status = add("status", cmd_status, "Show the state and counters of the running daemon.")
    config_options(status)
    status.add_argument("--json", action="store_true", help="print JSON")

    fsck = add("fsck", cmd_fsck, "Check that storage and catalog agree, and repair (as every start does).")
    config_options(fsck)
    fsck.add_argument("--json", action="store_true", help="print the report as JSON")

    fix = add("fix-time", cmd_fix_time, "Shift the recorded times of a range of events (a clock that was wrong).")
    config_options(fix)
    fix.add_argument("--from", dest="start", required=True, type=utc_time,
                     help="first recorded event start to fix, ISO 8601 (UTC unless an offset is given)")
    fix.add_argument("--to", dest="end", required=True, type=utc_time, help="last recorded event start to fix")
    fix.add_argument("--offset", required=True, type=float, help="seconds to add (negative to go back)")

    check = add("check-config", cmd_check_config, "Validate a config file (exit 0 valid, 78 invalid).")
    check.add_argument("file", type=Path)

    detect = add("detect", cmd_detect, "Run the detector and the keep/discard decision on photos.")
    detect.add_argument("images", type=Path, nargs="+", metavar="IMAGE|DIR", help="photos, or folders of them")
    detect.add_argument("--config", type=Path, help="config file (detector and decision sections are used)")
    detect.add_argument("--json", action="store_true", help="one JSON object per line")
    detect.add_argument("--annotate", type=Path, metavar="OUT_DIR",
                        help="write copies of the photos here with the detections drawn (boxes, labels, scores)")

    replay = add("replay", cmd_replay, "Run the trap's decision pipeline over a folder of photos, as if captured.")
    replay.add_argument("folder", type=Path, metavar="DIR", help="photos; sub-folders or time gaps make events")
    replay.add_argument("--config", type=Path, help="config file (detector, decision and event.gap_s are used)")
    replay.add_argument("--storage", type=Path, help="also store the events here, as the daemon would")
    replay.add_argument("--json", action="store_true", help="one JSON object per photo")
    replay.add_argument("--event-per-photo", action="store_true",
                        help="each photo its own event, in file-name order (one site's sequence), site memory "
                             "carried from one to the next (in --storage, as the daemon does)")
    replay.add_argument("--photo-interval-s", type=non_negative_float, default=60.0,
                        help="with --event-per-photo: a photo without a capture time comes this long after the one "
                             "before it (default 60)")

    evaluate = add("eval", cmd_eval, "Score the filter on a labelled folder (ground_truth.csv: file,label), or "
                   "site memory on fixed-camera sequences (--sites).")
    evaluate.add_argument("images_dir", type=Path, metavar="DIR", nargs="?")
    evaluate.add_argument("--sites", type=Path, metavar="SITES_DIR",
                          help="one sub-folder per site and SITES_DIR/labels.csv (site,file,label): each site starts "
                               "with a fresh site memory, each photo its own event")
    evaluate.add_argument("--seed-empties", type=int, default=0, metavar="N",
                          help="with --sites: first learn from N frames labelled empty per site, spread over its "
                               "sequence, as `trapd learn` does (they are not scored)")
    evaluate.add_argument("--photo-interval-s", type=non_negative_float, default=60.0,
                          help="with --sites: seconds between photos without a capture time (default 60)")
    evaluate.add_argument("--ground-truth", type=Path,
                          help="CSV with file and label columns (default: DIR/ground_truth.csv)")
    evaluate.add_argument("--config", type=Path, help="config file (detector and decision sections are used)")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--verbose", action="store_true", help="also the latency spread and interpreter overhead")
    evaluate.add_argument("--events", action="store_true",
                          help="group photos into events as `trapd replay` does and decide per event, as the trap "
                               "does (event-level keeping, motion); reports event recall")

    report = add("report", cmd_report, "Write a report of the storage for any browser, offline: the events with "
                 "their detections drawn, the audit sample, effort and activity, and a review to label frames.")
    config_options(report)
    report.add_argument("--out", type=Path, help="the report's folder (default: <storage>/report); run again to "
                        "add new events")

    learn = add("learn", cmd_learn, "Teach site memory from labels (file,label; label empty, animal, person or "
                "vehicle): empties become scenery and pictures of the empty scene, the others protect their boxes, "
                "and the thresholds are re-fitted, never dropping a labelled animal.")
    config_options(learn)
    learn.add_argument("labels", type=Path, metavar="LABELS.csv",
                       help="file,label rows; file relative to the storage root (the report's review download), "
                            "or to --images")
    learn.add_argument("--images", type=Path, metavar="DIR",
                       help="the labelled photos are in this archive of the same site, not in the storage")
    learn.add_argument("--deployment", type=deployment_id,
                       help="with --images: the deployment to teach (default: deployment.id)")
    learn.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")

    site = add("site", cmd_site_show, "Show or forget what the trap learned of its site (default: show).")
    site_commands = site.add_subparsers(dest="site_command", parser_class=_Parser)
    for name, handler, help_text in (
            ("show", cmd_site_show, "scenery boxes, pictures of the empty scene, thresholds, and its history"),
            ("forget", cmd_site_forget, "start again, e.g. after moving the camera (the trap must be stopped)")):
        sub = site_commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        config_options(sub)
        sub.add_argument("--deployment", type=deployment_id,
                         help="the deployment (default: every one with a memory, or deployment.id)")
        sub.add_argument("--json", action="store_true", help="print JSON")
    config_options(site)
    site.add_argument("--deployment", type=deployment_id,
                      help="the deployment (default: every one with a memory, or deployment.id)")
    site.add_argument("--json", action="store_true", help="print JSON")

    export = add("export", cmd_export, "Export stored events for other tools.")
    formats = export.add_subparsers(dest="format", required=True, parser_class=_Parser)
    megadetector = formats.add_parser("megadetector",
                                      help="MegaDetector batch-output JSON (Timelapse and others)")
    megadetector.add_argument("--config", type=Path, help="config file (for storage.root)")
    megadetector.add_argument("--storage", type=Path, help="storage root (overrides storage.root)")
    megadetector.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    camtrap = formats.add_parser("camtrap-dp", help="a Camtrap DP 1.0 data package (media linked in)")
    camtrap.add_argument("--config", type=Path, help="config file (deployment metadata, storage.root)")
    camtrap.add_argument("--storage", type=Path, help="storage root (overrides storage.root)")
    camtrap.add_argument("--out", type=Path, required=True,
                         help="the package's folder: new or empty, outside the storage")
    camtrap.add_argument("--force", action="store_true",
                         help="replace a previous export in --out (only the files it wrote)")

    power = add("power", cmd_power, "Estimate watt-hours a day and days on a battery from published figures and "
                "the CPU work measured per event: an estimate, with its sources (README, Power).")
    power.add_argument("--board", required=True, choices=BOARD_NAMES)
    power.add_argument("--mode", choices=("warm", "cold"), help="camera mode (default: the config's camera.mode)")
    power.add_argument("--triggers-per-day", type=non_negative_float, required=True, metavar="N")
    power.add_argument("--night-share", type=float, default=0.5,
                       help="share of the triggers at night, with the IR light on (default 0.5)")
    power.add_argument("--no-ir", action="store_true", help="no IR light fitted")
    power.add_argument("--battery-wh", type=non_negative_float, metavar="WH")
    power.add_argument("--battery-ah", type=non_negative_float, metavar="AH")
    power.add_argument("--battery-v", type=non_negative_float, metavar="V")
    power.add_argument("--solar-w", type=non_negative_float, default=0.0, metavar="W", help="the panel's rating")
    power.add_argument("--sun-hours", type=non_negative_float, default=0.0, metavar="H",
                       help="peak sun hours a day at the site")
    power.add_argument("--low-power", action="store_true", help="as after sudo tools/install-pi.sh --low-power")
    power.add_argument("--config", type=Path, help="config file (camera.mode, burst and event.gap_s are used)")
    power.add_argument("--json", action="store_true", help="print JSON")

    models = add("models", cmd_models_list, "List, install and verify models (default: list).")
    model_commands = models.add_subparsers(dest="models_command", parser_class=_Parser)
    listing = model_commands.add_parser("list", help="models on the search path")
    listing.set_defaults(handler=cmd_models_list)
    install = model_commands.add_parser("install", help="copy a model (and its labels and card) into trapd's models")
    install.add_argument("path", type=Path, metavar="PATH", help="the .tflite file, e.g. on a USB stick")
    install.add_argument("--name", help="install under this card name")
    install.add_argument("--card", type=Path, help="the model card (default: <model>.card.yaml beside it)")
    install.add_argument("--dir", type=Path, help="install here (default: /var/lib/trapd/models as root, "
                         "else ~/.local/share/trapd/models)")
    install.set_defaults(handler=cmd_models_install)
    fetch = model_commands.add_parser("fetch", help="download a model, check its sha256, and install it")
    fetch.add_argument("source", metavar="NAME|URL", help="a shipped card's name (see trapd/detect/cards/), or a URL")
    fetch.add_argument("--sha256", help="with a URL: the checksum its publisher gives (required)")
    fetch.add_argument("--card", type=Path, help="the model card (with a URL for a model trapd ships no card for)")
    fetch.add_argument("--dir", type=Path, help="install here (default: as for install)")
    fetch.set_defaults(handler=cmd_models_fetch)
    verify = model_commands.add_parser("verify", help="check every model's sha256 against its card")
    verify.set_defaults(handler=cmd_models_verify)
    return parser


