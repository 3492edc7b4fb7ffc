"""The commands that run a trap or talk to a running one: run, simulate, trigger, status."""

from __future__ import annotations

import argparse
import json
import sys

from trapd.cli.common import SIMULATE_STORAGE, config_from_args, log, socket_path
from trapd.config.model import TrapdConfig
from trapd.control import request
from trapd.errors import EX_OK, EX_UNHEALTHY, NotRunningError, UsageError


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
    if args.triggers > 1 and interval_s < config.pir.holdoff_s:
        print(f"trapd: --interval-s {interval_s:g} is shorter than pir.holdoff_s ({config.pir.holdoff_s:g} s): "
              "triggers that close together are held off, as a real PIR's are", file=sys.stderr)
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
        if summary["triggers_held_off"]:
            print(f"{summary['triggers_held_off']} of {summary['triggers']} triggers were held off (within "
                  f"pir.holdoff_s of the one before) and captured nothing")
    code = daemon.exit_code()
    if code != EX_OK:
        print("trapd: the simulated trap failed (see the log above); what it captured before was stored",
              file=sys.stderr)
    return code


def cmd_trigger(args: argparse.Namespace) -> int:
    """Exit 0 when the trigger was taken, 1 when the PIR's hold-off ignored it."""
    reply = request(socket_path(config_from_args(args)), "trigger-manual" if args.manual else "trigger")
    if reply.get("held_off"):
        print(f"trapd: trigger held off: it came within pir.holdoff_s ({reply.get('holdoff_s')} s) of the last one, "
              "so nothing was captured; wait and trigger again", file=sys.stderr)
        return EX_UNHEALTHY
    print(f"trigger sent ({reply.get('fired')})")
    return EX_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Exit 0 when healthy, 1 when the daemon runs but needs a look, 3 when none runs: for monitoring, which
    with ``--json`` always gets a JSON object to parse."""
    from trapd.cli.status_view import status_lines

    try:
        reply = request(socket_path(config_from_args(args)), "status")
    except NotRunningError as exc:
        if not args.json:
            raise
        print(json.dumps({"running": False, "healthy": False, "state": "not running", "problems": [str(exc)]},
                         indent=2))
        return exc.exit_code
    reply.pop("ok", None)
    if args.json:
        print(json.dumps({"running": True, **reply}, indent=2))
    else:
        print("\n".join(status_lines(reply)))
    return EX_OK if reply.get("healthy") else EX_UNHEALTHY
