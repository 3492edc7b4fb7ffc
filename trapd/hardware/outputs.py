"""The IR illuminator and the status LED: gpiozero output devices, both optional.

Closing one leaves its line pulled to its off level. gpiozero's close hands a line back as an
input, and its lgpio backend with bias disabled: the gate of the IR driver would float while trapd
is stopped or restarting, and a floating MOSFET gate can switch the LEDs on. So after the close the
line is pulled toward off through the pin factory (it stays claimed by the process until it exits).
When trapd is not running at all only a resistor holds it: the wiring table asks for a 100 kΩ
pull-down on the gate (README).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gpiozero import DigitalOutputDevice
from gpiozero.exc import GPIOZeroError

from trapd.config.sections import IlluminatorConfig, StatusLedConfig
from trapd.hardware.gpio import open_gpio_device

log = logging.getLogger(__name__)


def _open_output(role: str, pin: int | str, active_high: bool, pin_factory: Any) -> Any:
    return open_gpio_device(
        f"{role}.pin",
        pin,
        lambda: DigitalOutputDevice(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory),
    )


def close_pulled_off(device: Any, role: str) -> None:
    """Switch off, close, then pull the line to the off level (see the module's doc)."""
    if device.closed:
        return
    device.off()
    factory, number, active_high = device.pin_factory, device.pin.info.name, device.active_high
    device.close()
    try:
        line = factory.pin(number)
        line.function = "input"
        line.pull = "down" if active_high else "up"
    except (GPIOZeroError, OSError) as exc:  # a pin with a fixed pull, a backend without pulls
        log.warning("%s.pin %s left as it is after closing (%s); fit the pull resistor the README's wiring table "
                    "names", role, number, exc)


class Illuminator:
    """IR LEDs switched on only around night captures: they cost battery and can spook animals."""

    def __init__(self, config: IlluminatorConfig, *, pin_factory: Any = None) -> None:
        self._config = config
        self._device = (
            _open_output("illuminator", config.pin, config.active_high, pin_factory)
            if config.pin is not None
            else None
        )

    def needed(self, read_scene_lux: Callable[[], float | None],
               sun_down: Callable[[], bool | None] = lambda: None) -> bool:
        """Whether a burst now needs IR. Reads the light only in auto mode (on a Pi it costs a frame).

        Unknown light counts as dark: IR in daylight wastes a little power, a black frame loses an animal.
        """
        if self._device is None or self._config.mode == "never":
            return False
        if self._config.mode == "always":
            return True
        if self._config.mode == "night":
            return sun_down() is not False
        scene_lux = read_scene_lux()
        return scene_lux is None or scene_lux < self._config.night_lux_below

    def on(self) -> None:
        if self._device is not None:
            self._device.on()

    def off(self) -> None:
        if self._device is not None and not self._device.closed:
            self._device.off()

    def close(self) -> None:
        if self._device is not None:
            close_pulled_off(self._device, "illuminator")

    def __enter__(self) -> Illuminator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class StatusLed:
    """Lit while capturing; dark while armed, so it neither drains the battery nor draws eyes."""

    def __init__(self, config: StatusLedConfig, *, pin_factory: Any = None) -> None:
        self._device = (
            _open_output("status_led", config.pin, config.active_high, pin_factory)
            if config.pin is not None
            else None
        )

    def show_capturing(self, capturing: bool) -> None:
        if self._device is not None and not self._device.closed:
            self._device.value = capturing

    def close(self) -> None:
        if self._device is not None:
            close_pulled_off(self._device, "status_led")

    def __enter__(self) -> StatusLed:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
