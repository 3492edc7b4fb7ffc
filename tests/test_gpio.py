"""GPIO as the Pi's backend behaves: the first backend's failure named, lines left pulled off, and lgpio's
debounce, which reports an edge only once the level has been stable, corrected for.

gpiozero's lgpio backend cannot load here (no lgpio, no Pi); its behaviour as read from lgpio and
gpiozero 2.0.1 is modelled on gpiozero's MockFactory (see LGPIOFactory below).
"""

from __future__ import annotations

import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.local import LocalPiFactory
from gpiozero.pins.mock import MockFactory, MockPin

from tests.conftest import make_config
from trapd.errors import DeviceError
from trapd.frames import Trigger
from trapd.hardware.outputs import Illuminator
from trapd.hardware.pir import PirSensor

#: These tests open pins only; no storage is touched.
NO_STORAGE = Path("unused-storage")


class LgpioLikePin(MockPin):  # type: ignore[misc]  # gpiozero has no type hints
    """lgpio's debounce is a stable-level filter: an edge is reported only after the level has held for the
    debounce time (then, late by it), and a shorter pulse never. Its close() re-claims the line as an input with
    bias disabled (gpiozero 2.0.1 LGPIOPin.close)."""

    def __init__(self, factory: Any, info: Any) -> None:
        super().__init__(factory, info)
        self._pending: threading.Timer | None = None

    def _call_when_changed(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        if not self._bounce:
            super()._call_when_changed()
            return
        level = self._state
        self._pending = threading.Timer(self._bounce, self._report_if_stable, (level,))
        self._pending.start()

    def _report_if_stable(self, level: bool) -> None:
        if self._state == level and self._when_changed is not None:
            MockPin._call_when_changed(self)

    def close(self) -> None:
        super().close()
        self._pull = "floating"


class LGPIOFactory(MockFactory):  # type: ignore[misc]  # named as gpiozero's, which is how trapd knows the backend
    def __init__(self) -> None:
        super().__init__(pin_class=LgpioLikePin)


@pytest.fixture
def no_pin_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """gpiozero left to choose its backend, as on a Pi run by hand."""
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    previous = Device.pin_factory
    Device.pin_factory = None
    yield
    if Device.pin_factory is not None:
        Device.pin_factory.close()
    Device.pin_factory = previous


def fake_lgpio(failure: str) -> types.ModuleType:
    """An lgpio whose chip cannot be opened, as lgpio says it: one message for any reason (the errno is lost)."""
    module = types.ModuleType("lgpio")

    class error(Exception):
        def __str__(self) -> str:
            return repr(self.args[0])

    def gpiochip_open(chip: int) -> int:
        raise error(failure)

    module.error = error  # type: ignore[attr-defined]
    module.gpiochip_open = gpiochip_open  # type: ignore[attr-defined]
    constants = {"SET_PULL_NONE": 128, "SET_PULL_UP": 32, "SET_PULL_DOWN": 64, "SET_BIAS_DISABLE": 128,
                 "SET_BIAS_PULL_UP": 32, "SET_BIAS_PULL_DOWN": 64, "RISING_EDGE": 1, "FALLING_EDGE": 2,
                 "BOTH_EDGES": 3}
    for name, value in constants.items():
        setattr(module, name, value)
    return module


def test_gpio_that_fails_names_the_first_backends_own_failure(monkeypatch: pytest.MonkeyPatch,
                                                                no_pin_factory: None) -> None:
    monkeypatch.setitem(sys.modules, "lgpio", fake_lgpio("can not open gpiochip"))
    monkeypatch.delitem(sys.modules, "gpiozero.pins.lgpio", raising=False)
    monkeypatch.setattr(LocalPiFactory, "_get_revision", lambda self: 0xC03111)  # a Pi 4
    with pytest.raises(DeviceError) as raised:
        PirSensor(make_config(NO_STORAGE).pir, lambda trigger: None)
    message = str(raised.value)
    assert "lgpio: 'can not open gpiochip'" in message and "gpio group" in message
    assert "install python3-lgpio" not in message


def test_gpio_without_lgpio_installed_says_to_install_it(monkeypatch: pytest.MonkeyPatch,
                                                        no_pin_factory: None) -> None:
    monkeypatch.delitem(sys.modules, "lgpio", raising=False)  # not installed here: `import lgpio` fails
    monkeypatch.delitem(sys.modules, "gpiozero.pins.lgpio", raising=False)
    with pytest.raises(DeviceError, match=r"the first, lgpio: No module named 'lgpio'.*apt install python3-lgpio"):
        PirSensor(make_config(NO_STORAGE).pir, lambda trigger: None)


@pytest.mark.parametrize("active_high", [True, False])
def test_a_closed_illuminator_line_is_pulled_to_off_not_left_floating(active_high: bool) -> None:
    factory = LGPIOFactory()
    config = make_config(NO_STORAGE, illuminator={"pin": 22, "active_high": active_high}).illuminator
    illuminator = Illuminator(config, pin_factory=factory)
    illuminator.on()
    illuminator.close()
    line = factory.pin(22)
    assert line.function == "input"
    assert line.pull == ("down" if active_high else "up"), "the IR driver's gate held at off"
    Illuminator(config, pin_factory=factory).close()  # and the line can be opened again (a reload)


def test_a_trigger_is_timed_at_the_edge_though_lgpio_reports_it_after_the_debounce() -> None:
    factory = LGPIOFactory()
    got: list[Trigger] = []
    reported = threading.Event()
    config = make_config(NO_STORAGE, pir={"bounce_ms": 200}).pir

    def on_trigger(trigger: Trigger) -> None:
        got.append(trigger)
        reported.set()

    pir = PirSensor(config, on_trigger, pin_factory=factory)
    pir.arm()
    edge_ns = time.monotonic_ns()
    factory.pin(17).drive_high()
    assert reported.wait(5)
    assert time.monotonic_ns() - edge_ns >= 200e6, "lgpio reports it only after the level held 200 ms"
    assert abs(got[0].at.monotonic_ns - edge_ns) < 50e6, "timed at the edge, not 200 ms late"
    pir.close()


def test_with_the_mock_backend_the_edge_is_reported_at_once_and_not_shifted() -> None:
    factory = MockFactory()
    got: list[Trigger] = []
    pir = PirSensor(make_config(NO_STORAGE, pir={"bounce_ms": 200}).pir, got.append, pin_factory=factory)
    pir.arm()
    edge_ns = time.monotonic_ns()
    factory.pin(17).drive_high()
    assert got and 0 <= got[0].at.monotonic_ns - edge_ns < 50e6
    pir.close()
