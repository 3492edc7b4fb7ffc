"""`trapd simulate`: the real daemon on fake hardware, fired by a script.

The PIR is a gpiozero MockFactory pin driven high and low, so triggers take the same path as on
a Pi (edge callback, hold-off, queue); the camera replays a folder of JPEGs or draws frames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from trapd.config.camera import CameraCommon
from trapd.config.model import TrapdConfig
from trapd.daemon import Daemon
from trapd.event import DecidedEvent
from trapd.hardware.picam import Picamera2Config
from trapd.hardware.replay import ReplayCameraConfig
from trapd.hardware.synthetic import SyntheticCameraConfig
from trapd.storage.writer import StoredEvent

log = logging.getLogger(__name__)


def fake_camera_config(camera: CameraCommon, images_dir: Path | None) -> CameraCommon:
    """The configured camera swapped for a fake one, keeping mode, lores size and pre-trigger settings.

    With no ``images_dir``, a camera that is already fake (a replay or synthetic section) stays as configured.
    """
    shared = {name: getattr(camera, name) for name in CameraCommon.model_fields}
    if images_dir is not None:
        return ReplayCameraConfig(type="replay", images_dir=images_dir, **shared)
    if isinstance(camera, ReplayCameraConfig | SyntheticCameraConfig):
        return camera
    synthetic = SyntheticCameraConfig(type="synthetic", **shared)
    if isinstance(camera, Picamera2Config):  # frames of the size the trap will store
        synthetic = synthetic.model_copy(update={"main_size": camera.main_size})
    return synthetic


def with_fake_camera(config: TrapdConfig, images_dir: Path | None) -> TrapdConfig:
    return config.model_copy(update={"camera": fake_camera_config(config.camera, images_dir)})


def default_interval_s(config: TrapdConfig) -> float:
    """Far enough apart that each trigger makes its own event and clears the hold-off."""
    burst_s = config.burst.frames * config.burst.interval_s
    return max(config.pir.holdoff_s, config.event.gap_s + burst_s) + 0.5


def simulation_daemon(config: TrapdConfig) -> Daemon:
    """The daemon with a mock-pin PIR; give ``config`` a fake camera (see :func:`with_fake_camera`)."""
    return Daemon(config, pin_factory=MockFactory())


@dataclass
class SimulationReport:
    triggers: int
    storage_root: Path
    counts: dict[str, int]
    event_dirs: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "triggers": self.triggers,
            "events": self.counts["events"],
            "frames_captured": self.counts["frames_captured"],
            "frames_kept": self.counts["frames_kept"],
            "frames_discarded": self.counts["frames_discarded"],
            "frames_flagged": self.counts["frames_flagged"],
            "triggers_held_off": self.counts["triggers_held_off"],
            "camera_errors": self.counts["camera_errors"],
            "storage_errors": self.counts["storage_errors"],
            "storage_root": str(self.storage_root),
            "event_dirs": self.event_dirs,
        }


def simulate(config: TrapdConfig, triggers: int, interval_s: float, *, daemon: Daemon | None = None,
             ) -> SimulationReport:
    """Fire ``triggers`` PIR edges ``interval_s`` apart; return once every event is stored.

    ``daemon.request_stop()`` (the CLI calls it on SIGINT/SIGTERM) fires no more triggers and
    stores what was captured.
    """
    event_dirs: list[str] = []

    def remember(_record: DecidedEvent, stored: StoredEvent) -> None:
        event_dirs.append(str(stored.directory))

    daemon = daemon or simulation_daemon(config)
    daemon.on_event_stored = remember
    daemon.start()
    try:
        for number in range(triggers):
            if number and daemon.stop_requested.wait(interval_s):
                break  # SIGINT/SIGTERM or a pipeline failure: stop firing
            log.info("simulate: trigger %d of %d", number + 1, triggers)
            daemon.fire_trigger()
        # Let the last event end on its own (quiet for event.gap_s) rather than by shutdown;
        # a signal or a failure cancels the wait.
        daemon.pipeline.wait_until_quiet()
    finally:
        daemon.stop()
    counts = daemon.status.counts()
    return SimulationReport(triggers, config.storage.root, counts, event_dirs)
