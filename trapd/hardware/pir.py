"""The PIR motion trigger, on gpiozero edge callbacks.

gpiozero's ``MotionSensor`` polls the pin 10 times a second from a thread; a trap that waits
months for an animal should not. ``DigitalInputDevice`` gets edges from the GPIO backend
(lgpio alerts, RPi.GPIO event detection, MockFactory's ``drive_high``), so an armed trap sleeps.

The edge callback runs on the backend's thread and does as little as possible: read both
clocks, apply the hold-off, hand a :class:`Trigger` on.

``pir.bounce_ms`` means different things per backend. lgpio (the Pi's, and the service's) reports
an edge only once the level has been stable that long, so its callback comes ``bounce_ms`` after
the edge: the trigger time is corrected back by it. RPi.GPIO and gpiozero's mock report the first
edge at once and ignore those that follow within ``bounce_ms``: no correction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from gpiozero import DigitalInputDevice

from trapd.config.sections import PirConfig
from trapd.frames import Trigger, TriggerSource
from trapd.hardware.gpio import open_gpio_device
from trapd.timebase import Instant

log = logging.getLogger(__name__)

_PULL_UP = {"down": False, "up": True, "none": None}
#: Pin factories whose debounce is a stable-level filter, so that an edge is reported ``bounce_ms`` late.
EDGE_AFTER_STABLE_FACTORIES = frozenset({"LGPIOFactory"})


class PirSensor:
    def __init__(
        self,
        config: PirConfig,
        on_trigger: Callable[[Trigger], None],
        *,
        on_held_off: Callable[[], None] | None = None,
        pin_factory: Any = None,
    ) -> None:
        self._on_trigger = on_trigger
        self._on_held_off = on_held_off
        self._holdoff_ns = int(config.holdoff_s * 1e9)
        self._last_accepted_ns: int | None = None
        self._lock = threading.Lock()
        self.held_off = 0
        self._armed = False
        self._active_high = bool(config.active_high) if config.pull == "none" else config.pull == "down"
        self._device = open_input_pin(config, pin_factory)
        stable_filter = type(self._device.pin_factory).__name__ in EDGE_AFTER_STABLE_FACTORIES
        self._edge_delay_ns = int(config.bounce_ms * 1e6) if stable_filter else 0

    @property
    def pin_name(self) -> str:
        return str(self._device.pin)

    @property
    def is_active(self) -> bool:
        return bool(self._device.is_active)

    def arm(self) -> None:
        """Start taking edges. A PIR already high gives no edge, so it triggers here."""
        self._armed = True
        self._device.when_activated = self._edge
        if self._device.is_active:
            self._accept(Instant.now(), "pir-high-at-start")

    def disarm(self) -> None:
        # A flag, not `when_activated = None`: gpiozero warns about None callbacks, and an edge
        # already being delivered on the backend's thread must see the change too.
        self._armed = False

    @property
    def pin(self) -> Any:
        """The gpiozero pin the PIR is wired to (a MockPin on fake hardware)."""
        return self._device.pin

    @property
    def active_high(self) -> bool:
        """True if the PIR's output goes high on motion."""
        return self._active_high

    def close(self) -> None:
        self.disarm()
        self._device.close()

    def __enter__(self) -> PirSensor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _edge(self) -> None:
        if self._armed:
            now = Instant.now()
            self._accept(now.at_monotonic(now.monotonic_ns - self._edge_delay_ns), "pir")

    def _accept(self, at: Instant, source: TriggerSource) -> None:
        with self._lock:
            last = self._last_accepted_ns
            held_off = last is not None and at.monotonic_ns - last < self._holdoff_ns
            if held_off:
                self.held_off += 1
            else:
                self._last_accepted_ns = at.monotonic_ns
        if held_off:
            if self._on_held_off is not None:
                self._on_held_off()
            return
        self._on_trigger(Trigger(at, source))


def open_input_pin(config: PirConfig, pin_factory: Any) -> Any:
    """Open the PIR pin, turning gpiozero's failures into sentences."""
    pull_up = _PULL_UP[config.pull]
    return open_gpio_device(
        "pir.pin",
        config.pin,
        lambda: DigitalInputDevice(
            config.pin,
            pull_up=pull_up,
            active_state=config.active_high if pull_up is None else None,
            bounce_time=config.bounce_ms / 1000 if config.bounce_ms else None,
            pin_factory=pin_factory,
        ),
    )
