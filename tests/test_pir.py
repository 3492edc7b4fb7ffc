from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from gpiozero import DigitalInputDevice
from gpiozero.pins.mock import MockFactory

from trapd.config.sections import PirConfig
from trapd.errors import ConfigError, ControlError, DeviceError
from trapd.frames import Trigger
from trapd.hardware import fake_pir
from trapd.hardware.pir import PirSensor


def test_an_edge_becomes_a_trigger_with_both_clocks(mock_factory: MockFactory) -> None:
    got: list[Trigger] = []
    before_ns = time.monotonic_ns()
    with PirSensor(PirConfig(), got.append, pin_factory=mock_factory) as pir:
        pir.arm()
        mock_factory.pin(17).drive_high()
    assert len(got) == 1
    trigger = got[0]
    assert trigger.source == "pir"
    assert before_ns <= trigger.at.monotonic_ns <= time.monotonic_ns()
    assert abs((datetime.now(UTC) - trigger.at.utc).total_seconds()) < 5


def test_falling_edges_and_idle_do_not_trigger(mock_factory: MockFactory) -> None:
    got: list[Trigger] = []
    with PirSensor(PirConfig(), got.append, pin_factory=mock_factory) as pir:
        pir.arm()
        mock_factory.pin(17).drive_high()
        mock_factory.pin(17).drive_low()
    assert len(got) == 1


def test_holdoff_ignores_retriggers_and_counts_them(mock_factory: MockFactory) -> None:
    got: list[Trigger] = []
    held: list[int] = []
    config = PirConfig(holdoff_s=30.0)
    with PirSensor(config, got.append, pin_factory=mock_factory, on_held_off=lambda: held.append(1)) as pir:
        pir.arm()
        for _ in range(4):
            mock_factory.pin(17).drive_high()
            mock_factory.pin(17).drive_low()
    assert len(got) == 1
    assert pir.held_off == 3
    assert len(held) == 3


def test_holdoff_expires(mock_factory: MockFactory) -> None:
    got: list[Trigger] = []
    with PirSensor(PirConfig(holdoff_s=0.05), got.append, pin_factory=mock_factory) as pir:
        pir.arm()
        mock_factory.pin(17).drive_high()
        mock_factory.pin(17).drive_low()
        time.sleep(0.08)
        mock_factory.pin(17).drive_high()
    assert len(got) == 2


def test_active_low_pir_with_pull_up(mock_factory: MockFactory) -> None:
    got: list[Trigger] = []
    with PirSensor(PirConfig(pull="up", holdoff_s=0), got.append, pin_factory=mock_factory) as pir:
        pir.arm()
        mock_factory.pin(17).drive_high()
        assert got == []
        mock_factory.pin(17).drive_low()
        assert len(got) == 1
        mock_factory.pin(17).drive_high()  # motion over
        fake_pir.pulse(pir)
    assert len(got) == 2


def test_a_pir_already_high_at_start_triggers_on_arm(mock_factory: MockFactory) -> None:
    got: list[Trigger] = []
    with PirSensor(PirConfig(), got.append, pin_factory=mock_factory) as pir:
        mock_factory.pin(17).drive_high()  # motion before arming: no edge will come
        assert got == []
        pir.arm()
    assert [t.source for t in got] == ["pir-high-at-start"]


def test_disarmed_sensor_ignores_edges(mock_factory: MockFactory) -> None:
    got: list[Trigger] = []
    with PirSensor(PirConfig(), got.append, pin_factory=mock_factory) as pir:
        pir.arm()
        pir.disarm()
        mock_factory.pin(17).drive_high()
    assert got == []


def test_pin_in_use_is_a_device_error_naming_the_pin(mock_factory: MockFactory) -> None:
    holder = DigitalInputDevice(17, pin_factory=mock_factory)
    try:
        with pytest.raises(DeviceError, match=r"pir\.pin 17 is already in use"):
            PirSensor(PirConfig(), lambda t: None, pin_factory=mock_factory)
    finally:
        holder.close()


def test_invalid_pin_is_a_config_error(mock_factory: MockFactory) -> None:
    with pytest.raises(ConfigError, match=r"pir\.pin = 'GPIO99'"):
        PirSensor(PirConfig(pin="GPIO99"), lambda t: None, pin_factory=mock_factory)


def test_close_releases_the_pin_and_is_idempotent(mock_factory: MockFactory) -> None:
    pir = PirSensor(PirConfig(), lambda t: None, pin_factory=mock_factory)
    pir.close()
    pir.close()
    DigitalInputDevice(17, pin_factory=mock_factory).close()  # the pin is free again


def test_pulsing_a_real_pin_is_refused() -> None:
    class RealLooking:
        pass

    pir = PirSensor.__new__(PirSensor)
    pir._device = type("Dev", (), {"pin": RealLooking(), "closed": False})()
    with pytest.raises(ControlError, match="real hardware"):
        fake_pir.pulse(pir)
