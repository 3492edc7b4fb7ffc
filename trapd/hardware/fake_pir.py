"""The PIR of fake hardware: what `trapd trigger` does to `trapd run --fake` (or GPIOZERO_PIN_FACTORY=mock).

It drives gpiozero's mock pin to the PIR's active level and back, so the trigger takes the same
path a real edge takes: the backend's callback, the hold-off, the queue.
"""

from __future__ import annotations

from gpiozero.pins.mock import MockPin

from trapd.errors import ControlError
from trapd.hardware.pir import PirSensor


def is_mock(pir: PirSensor) -> bool:
    return isinstance(pir.pin, MockPin)


def pulse(pir: PirSensor) -> None:
    """Drive a mock PIR pin to its active level and back, as a PIR would on motion."""
    if not is_mock(pir):
        raise ControlError(
            f"PIR pin {pir.pin_name} is real hardware; `trapd trigger` only drives the fake PIR of "
            "`trapd run --fake` (or GPIOZERO_PIN_FACTORY=mock)"
        )
    pin = pir.pin
    if pir.active_high:
        pin.drive_high()
        pin.drive_low()
    else:
        pin.drive_low()
        pin.drive_high()
