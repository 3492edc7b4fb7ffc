"""Opening gpiozero devices, with every way it can fail turned into one sentence."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from gpiozero.exc import BadPinFactory, GPIOPinInUse, GPIOZeroError, PinFactoryFallback, PinInvalidPin

from trapd.errors import ConfigError, DeviceError

#: Backends whose own exception types escape gpiozero: lgpio raises `lgpio.error` ("GPIO busy")
#: when another process holds the line.
_GPIO_BACKENDS = frozenset({"lgpio", "RPi", "pigpio"})


@contextmanager
def _gpio_errors_as_sentences(config_key: str, pin: int | str) -> Iterator[None]:
    try:
        with warnings.catch_warnings():
            # gpiozero warns once per backend it tries; the error below says what matters.
            warnings.simplefilter("ignore", PinFactoryFallback)
            yield
    except GPIOPinInUse:
        raise DeviceError(
            f"{config_key} {pin} is already in use; stop the program holding it or choose another {config_key}"
        ) from None
    except PinInvalidPin as exc:
        raise ConfigError(f"{config_key} = {pin!r}: {exc}; use a BCM number such as 17") from None
    except BadPinFactory:
        raise DeviceError(
            "no GPIO found (no gpiozero pin factory loads); on a Pi install python3-lgpio, "
            "elsewhere use `--fake` or GPIOZERO_PIN_FACTORY=mock"
        ) from None
    except (GPIOZeroError, OSError) as exc:
        raise DeviceError(f"{config_key} {pin} cannot be opened: {exc}") from None
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in _GPIO_BACKENDS:
            raise DeviceError(f"{config_key} {pin} cannot be opened: {exc}; is another program using it?") from None
        raise


def open_gpio_device(config_key: str, pin: int | str, build: Callable[[], Any]) -> Any:
    """Call ``build()`` (a gpiozero constructor); name ``config_key`` (e.g. ``pir.pin``) in any error."""
    with _gpio_errors_as_sentences(config_key, pin):
        return build()
