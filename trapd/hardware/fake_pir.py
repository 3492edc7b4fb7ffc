"""The PIR of fake hardware: what `trapd trigger` does to `trapd run --fake` (or GPIOZERO_PIN_FACTORY=mock).

It drives gpiozero's mock pin to the PIR's active level and back, so the trigger takes the same
path a real edge takes: the backend's callback, the hold-off, the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpiozero.pins.mock import MockPin

from trapd.errors import ControlError
from trapd.frames import Trigger
from trapd.hardware.pir import PirSensor
from trapd.timebase import Instant


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


def fire(pir: PirSensor, submit: Callable[[Trigger], None]) -> str:
    """What `trapd trigger` does: pulse a mock PIR pin, or hand a manual trigger to the pipeline on real GPIO."""
    if is_mock(pir):
        pulse(pir)
        return "mock-pin"
    submit(Trigger(Instant.now(), "manual"))
    return "manual"


def fire_manual(submit: Callable[[Trigger], None]) -> dict[str, Any]:
    """`trapd trigger --manual`: a person's capture (aiming the camera), on any hardware; it is stored whatever
    the filter says (trapd/decide.py), and no PIR hold-off applies to it."""
    submit(Trigger(Instant.now(), "manual"))
    return {"fired": "manual", "held_off": False}


def fire_and_tell(pir: PirSensor, submit: Callable[[Trigger], None], holdoff_s: float) -> dict[str, Any]:
    """The control socket's answer to `trapd trigger`: what fired, and whether the PIR's hold-off ignored it."""
    before = pir.held_off
    fired = fire(pir, submit)
    # A mock pin's edge reaches the PIR's hold-off on this thread, before the pulse returns.
    return {"fired": fired, "held_off": pir.held_off > before, "holdoff_s": holdoff_s}
