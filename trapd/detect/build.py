"""Building the configured detector, with fail-open around it: an error is never "empty"."""

from __future__ import annotations

import logging

from trapd.backends import open_detector, type_name
from trapd.config.model import TrapdConfig
from trapd.detect.base import Detector, DetectorInfo
from trapd.detect.passthrough import PassthroughDetector
from trapd.errors import ModelError

log = logging.getLogger(__name__)


def build_detector(trapd_config: TrapdConfig) -> Detector:
    """The configured detector; if its model cannot be used, refuse or run fail-open as configured.

    Fail-open keeps every frame, marked unfiltered, and says so in the log and in `trapd status`:
    the trap goes on capturing rather than going dark for want of a model.
    """
    config = trapd_config.detector
    try:
        return open_detector(config, trapd_config.decision)
    except ModelError as exc:
        # Only backends that can run without their model have a `required` switch and a `model` name.
        required: bool | None = getattr(config, "required", None)
        if required is None:
            raise
        if required:
            raise ModelError(f"{exc} (detector.required is true: trapd will not run without it)") from None
        name = str(getattr(config, "model", type_name(type(config))))
        log.warning("detector unavailable; running fail-open, every frame kept and marked unfiltered: %s", exc)
        degraded = f"detector {name} unavailable, running fail-open: {exc}"
        return PassthroughDetector(DetectorInfo(name=name, degraded=degraded), reason=f"detector unavailable ({name})")
