"""The `trapd` command line. Expected errors print one line and exit with a sysexits code."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from trapd import __version__
from trapd.config import DEFAULT_CONFIG_PATH, TrapdConfig, load_config
from trapd.control import request, socket_path_for
from trapd.errors import EX_OK, EX_USAGE, ConfigError, TrapdError
from trapd.log import set_level, setup_logging
from trapd.storage.event_store import state_dir

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

    check = add("check-config", _cmd_check_config, "Validate a config file (exit 0 valid, 78 invalid).")
    check.add_argument("file", type=Path)
    return parser


# --- commands ---------------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    from trapd.daemon import Daemon, run_until_signalled

    if args.images is not None and not args.fake:
        raise ConfigError("--images only goes with --fake (set camera.type: replay in the config otherwise)")
    config = _load(args)
    pin_factory = None
    if args.fake:
        from gpiozero.pins.mock import MockFactory

        from trapd.simulate import with_fake_camera

        config = with_fake_camera(config, args.images)
        pin_factory = MockFactory()
    return run_until_signalled(Daemon(config, pin_factory=pin_factory))


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
    reply = request(_socket_path(_load(args)), "status")
    reply.pop("ok", None)
    if args.json:
        print(json.dumps(reply, indent=2))
    else:
        for key, value in reply.items():
            print(f"{key}: {value}")
    return EX_OK


def _cmd_check_config(args: argparse.Namespace) -> int:
    load_config(args.file)
    print(f"{args.file}: valid")
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
    storage = args.storage or (default_storage if path is None else None)
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
