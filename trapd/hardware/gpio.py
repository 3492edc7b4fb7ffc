"""Opening gpiozero devices, with every way it can fail turned into one sentence.

Left to choose, gpiozero tries lgpio, then RPi.GPIO, pigpio and its native backend, and warns
once per backend that fails. The first failure is the one that matters on a Pi (lgpio is the
backend of Pi 4 and Pi 5 alike; the service names it with ``GPIOZERO_PIN_FACTORY=lgpio``), and
the last one ("no pin factory loads", or RPi.GPIO's "cannot determine the SOC") would send a
user after the wrong fix. So the warnings are collected, and an error names the first backend's
own failure with its fix.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from gpiozero.exc import BadPinFactory, GPIOPinInUse, GPIOZeroError, PinFactoryFallback, PinInvalidPin

from trapd.errors import ConfigError, DeviceError

#: Backends whose own exception types escape gpiozero: lgpio raises `lgpio.error` ("GPIO busy", "can not open
#: gpiochip"). RPi.GPIO raises builtin RuntimeErrors, which only a fallback's record tells apart (above).
_GPIO_BACKENDS = frozenset({"lgpio", "pigpio"})


def backend_hint(failure: str) -> str:
    """What to do about a GPIO backend's own failure, in a sentence."""
    if "No module named 'lgpio'" in failure:
        return "install python3-lgpio (`sudo apt install python3-lgpio`) and make the venv with --system-site-packages"
    if "gpiochip" in failure:
        return ("check that /dev/gpiochip0 exists (gpiochip4 on a Pi 5) and that the user is in the gpio group "
                "(the service's is)")
    if "busy" in failure.lower():
        return "another program holds the line: stop it, or choose another pin"
    if ".lgd-nfy" in failure:
        return "lgpio writes a FIFO in the working folder: run trapd from a writable folder, or set LG_WD"
    return "on a machine without GPIO use `--fake` or GPIOZERO_PIN_FACTORY=mock"


@contextmanager
def _gpio_errors_as_sentences(config_key: str, pin: int | str) -> Iterator[None]:
    fallbacks: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PinFactoryFallback)
            try:
                yield
            finally:
                for warning in caught:
                    if issubclass(warning.category, PinFactoryFallback):
                        fallbacks.append(str(warning.message).removeprefix("Falling back from "))
                    else:
                        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                               warning.lineno)
    except GPIOPinInUse:
        raise DeviceError(
            f"{config_key} {pin} is already in use; stop the program holding it or choose another {config_key}"
        ) from None
    except PinInvalidPin as exc:
        raise ConfigError(f"{config_key} = {pin!r}: {exc}; use a BCM number such as 17") from None
    except BadPinFactory:
        first = fallbacks[0] if fallbacks else "no backend loaded"
        raise DeviceError(f"no GPIO backend loads for {config_key} {pin}; the first, {first}: "
                          f"{backend_hint(first)}") from None
    except (GPIOZeroError, OSError, RuntimeError) as exc:
        if fallbacks:  # a later backend's failure; the first one's is the one to fix
            raise DeviceError(f"{config_key} {pin} cannot be opened: {exc} (after {fallbacks[0]}: "
                              f"{backend_hint(fallbacks[0])})") from None
        if isinstance(exc, RuntimeError):
            raise
        raise DeviceError(f"{config_key} {pin} cannot be opened: {exc}") from None
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in _GPIO_BACKENDS:
            raise DeviceError(f"{config_key} {pin} cannot be opened: {exc}; {backend_hint(str(exc))}") from None
        raise


def open_gpio_device(config_key: str, pin: int | str, build: Callable[[], Any]) -> Any:
    """Call ``build()`` (a gpiozero constructor); name ``config_key`` (e.g. ``pir.pin``) in any error."""
    with _gpio_errors_as_sentences(config_key, pin):
        return build()
