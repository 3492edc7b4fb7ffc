"""What every camera backend's config shares. Each backend's own section (``type: picamera2``, ...)
subclasses :class:`CameraCommon` in the backend's file; trapd/backends.py lists them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from trapd.config.fields import ExifText, Resolution, Section


class CameraCommon(Section):
    mode: Literal["warm", "cold"] = Field(
        "warm",
        description="warm: camera runs between events (fast trigger, more power); "
        "cold: started per event (slower trigger, less power).",
    )
    lores_size: Resolution = Field(
        (320, 240), description="Width, height of the low-resolution stream the detector reads. Unset: the "
        "detector model's input size (300x300 for the default), so the detector sees what replay gives it; "
        "(320, 240) without a model.",
    )
    pretrigger_frames: int = Field(
        0, ge=0, le=30, description="Frames held from before the PIR edge (warm mode only); 0 disables."
    )
    pretrigger_interval_s: float = Field(
        0.25, gt=0.0, le=10.0, description="Spacing of the frames in the pre-trigger buffer."
    )
    settle_timeout_s: float = Field(
        0.5, ge=0.0, le=10.0,
        description="After a cold start or the IR going on, wait at most this long for auto-exposure to settle "
        "before the burst (frames taken before it settled are flagged exposure_unsettled). Longer gives better "
        "first frames, shorter catches a passing animal sooner; 0 does not wait.",
    )
    max_failures_in_a_row: int = Field(
        5, ge=1, le=1000,
        description="After this many failed captures in a row trapd stops with exit 69, so that systemd restarts "
        "it and the camera with it (each failure already restarts the camera).",
    )
    make: ExifText = Field("Raspberry Pi", description="EXIF Make.")
    model: ExifText | None = Field(
        None, description="EXIF Model; null uses the camera's own sensor name.", max_length=64
    )

    @model_validator(mode="after")
    def _pretrigger_needs_warm(self) -> CameraCommon:
        if self.pretrigger_frames and self.mode == "cold":
            raise ValueError(
                "camera.pretrigger_frames needs camera.mode: warm (a cold camera is off before the trigger)"
            )
        return self
