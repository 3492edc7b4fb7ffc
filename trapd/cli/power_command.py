"""`trapd power`: the energy estimate (trapd/power/), from the board, the camera mode, the triggers and the battery."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Literal, cast

from trapd.errors import EX_OK, UsageError


def cmd_power(args: argparse.Namespace) -> int:
    from trapd.cli.common import config_from_args
    from trapd.power.boards import IR_W
    from trapd.power.estimate import PowerInputs, estimate, lines

    if args.battery_wh is None and (args.battery_ah is None or args.battery_v is None):
        raise UsageError("trapd power needs the battery: --battery-wh WH, or --battery-ah AH with --battery-v V")
    if args.battery_wh is not None and args.battery_ah is not None:
        raise UsageError("give the battery once: --battery-wh, or --battery-ah with --battery-v")
    if not 0.0 <= args.night_share <= 1.0:  # also refuses nan
        raise UsageError(f"--night-share is a fraction from 0 to 1, not {args.night_share}")
    if (args.solar_w > 0) != (args.sun_hours > 0):
        raise UsageError("solar needs both --solar-w (the panel's rating) and --sun-hours (peak sun hours a day)")
    config = config_from_args(args)
    mode = cast(Literal["warm", "cold"], args.mode or config.camera.mode)
    burst_s = config.burst.frames * config.burst.interval_s
    inputs = PowerInputs(
        board=args.board, mode=mode, triggers_per_day=args.triggers_per_day,
        battery_wh=args.battery_wh if args.battery_wh is not None else args.battery_ah * args.battery_v,
        night_share=args.night_share, ir_w=0.0 if args.no_ir else IR_W, solar_w=args.solar_w,
        sun_hours=args.sun_hours, low_power=args.low_power, burst_s=burst_s, gap_s=config.event.gap_s)
    result = estimate(inputs)
    if args.json:
        print(json.dumps({"estimate": True, "inputs": asdict(inputs), "wh_per_day": round(result.wh_per_day, 2),
                          "days": None if result.days is None else round(result.days, 1),
                          "largest_term": result.largest.name,
                          "terms": [asdict(term) for term in result.terms], "advice": result.advice}))
    else:
        print("\n".join(lines(result)))
    return EX_OK
