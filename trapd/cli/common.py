"""What the commands share: the config they read (with --storage applied), the socket they talk to,
the detector photo commands use, and argument types that refuse bad values in words."""

from __future__ import annotations

import argparse
import logging
import math
import os
from datetime import UTC, datetime
from pathlib import Path

from trapd.config.load import load_config
from trapd.config.model import DEFAULT_CONFIG_PATH, TrapdConfig
from trapd.control import socket_path_for
from trapd.detect.base import Detector
from trapd.log import set_level
from trapd.storage.layout import state_dir
from trapd.timebase import parse_utc

log = logging.getLogger("trapd")

#: Where `trapd simulate`, `detect` and `eval` store anything when no config names a storage.
SIMULATE_STORAGE = Path("trapd-simulate")


def config_from_args(args: argparse.Namespace, default_storage: Path | None = None) -> TrapdConfig:
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


def socket_path(config: TrapdConfig) -> Path:
    return socket_path_for(state_dir(config.storage.root), config.control.socket)


def offline_detector(config: TrapdConfig, *, decoding_alongside: bool = False) -> Detector:
    """The detector for detect/replay/eval: judging photos without the model would only mislead, so it is required.

    ``decoding_alongside``: replay decodes the next photos on a thread of its own, so the
    interpreter leaves it a core (see :func:`trapd.replay.interpreter_threads`).
    """
    from trapd.detect.build import build_detector
    from trapd.detect.detector import TfliteDetectorConfig
    from trapd.replay import interpreter_threads

    if isinstance(config.detector, TfliteDetectorConfig):
        update: dict[str, object] = {"required": True}
        if decoding_alongside:
            update["num_threads"] = interpreter_threads(config.detector.num_threads)
        config = config.model_copy(update={"detector": config.detector.model_copy(update=update)})
    return build_detector(config)


def utc_time(text: str) -> datetime:
    try:
        moment = parse_utc(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (e.g. 2026-03-01T06:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a number, not {text}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value


def deployment_id(text: str) -> str:
    """A deployment id, checked by the config's own rules (it names a folder: nothing like ``../x`` or
    ``report``)."""
    from pydantic import ValidationError

    from trapd.config.sections import DeploymentConfig

    try:
        return DeploymentConfig(id=text).id
    except ValidationError as exc:
        reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise argparse.ArgumentTypeError(f"{text!r} is not a deployment id: {reason}") from None
