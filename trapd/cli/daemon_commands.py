"""The commands that run a trap or talk to a running one: run, simulate, trigger, status."""

from __future__ import annotations

import argparse
import json
import sys

from trapd.cli.common import SIMULATE_STORAGE, config_from_args, log, socket_path
from trapd.config.model import TrapdConfig
from trapd.control import request
from trapd.errors import EX_OK, EX_UNHEALTHY, UsageError


def cmd_run(args: argparse.Namespace) -> int:
    from trapd.daemon import Daemon
    from trapd.service import run_until_signalled

    if args.images is not None and not args.fake:
        raise UsageError("--images only goes with --fake (set camera.type: replay in the config otherwise)")
    def load() -> TrapdConfig:
        config = config_from_args(args)
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


def cmd_simulate(args: argparse.Namespace) -> int:
    from trapd.service import stop_on_signals
    from trapd.simulate import default_interval_s, simulate, simulation_daemon, with_fake_camera

    config = config_from_args(args, default_storage=SIMULATE_STORAGE)
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
    code = daemon.exit_code()
    if code != EX_OK:
        print("trapd: the simulated trap failed (see the log above); what it captured before was stored",
              file=sys.stderr)
    return code


def cmd_trigger(args: argparse.Namespace) -> int:
    reply = request(socket_path(config_from_args(args)), "trigger")
    print(f"trigger sent ({reply.get('fired')})")
    return EX_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Exit 0 when healthy, 1 when the daemon runs but needs a look, 3 when none runs: for monitoring."""
    reply = request(socket_path(config_from_args(args)), "status")
    reply.pop("ok", None)
    if args.json:
        print(json.dumps(reply, indent=2))
    else:
        for key, value in reply.items():
            print(f"{key}: {value}")
    return EX_OK if reply.get("healthy") else EX_UNHEALTHY
