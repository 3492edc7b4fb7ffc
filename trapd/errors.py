"""One exception root for every error trapd expects, each carrying its exit code.

The command line prints ``str(error)`` as one sentence and exits with ``error.exit_code``;
anything that is not a :class:`TrapdError` is a bug and keeps its traceback.
Exit codes follow ``sysexits.h`` so systemd and shell scripts can tell causes apart.
"""

from __future__ import annotations

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_UNAVAILABLE = 69
EX_SOFTWARE = 70
EX_CANTCREAT = 73
EX_TEMPFAIL = 75
EX_CONFIG = 78
#: ``trapd status`` when the daemon answers but reports problems (low disk, fail-open detector, ...).
EX_UNHEALTHY = 1
#: ``trapd status`` when no daemon answers, as ``systemctl status`` does for an inactive unit.
EX_NOT_RUNNING = 3


class TrapdError(Exception):
    """An expected failure, described in one sentence that names the thing and what to do."""

    exit_code = EX_SOFTWARE


class ConfigError(TrapdError, ValueError):
    """The configuration file is missing, unreadable or invalid.

    ``problems`` holds one line per invalid key; ``str()`` joins them.
    """

    exit_code = EX_CONFIG

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class UsageError(TrapdError, ValueError):
    """The command line asks for something that does not fit together (``--images`` without ``--fake``)."""

    exit_code = EX_USAGE


class ConfigFileMissing(ConfigError):
    """The config file named does not exist: bad input (66), not a bad config (78)."""

    exit_code = EX_NOINPUT


class InputError(TrapdError, FileNotFoundError):
    """An input the user pointed at (an image directory, say) is missing, empty or unreadable."""

    exit_code = EX_NOINPUT


class DeviceError(TrapdError, OSError):
    """A hardware device (GPIO pin, camera) is missing, busy or failed."""

    exit_code = EX_UNAVAILABLE


class ModelError(DeviceError):
    """A model that is missing, corrupt, or does not match its card."""


class StorageError(TrapdError, OSError):
    """The storage root cannot be created or written."""

    exit_code = EX_CANTCREAT


class StorageBusyError(TrapdError, BlockingIOError):
    """Another trapd daemon already holds this storage root."""

    exit_code = EX_TEMPFAIL


class NotRunningError(TrapdError, ConnectionError):
    """No daemon answers on the control socket for this config/storage."""

    exit_code = EX_NOT_RUNNING


class ControlError(TrapdError, RuntimeError):
    """The daemon answered a control request with a refusal."""

    exit_code = EX_UNAVAILABLE


class RefusedError(TrapdError, ValueError):
    """The input was understood, and acting on it would do harm (a lesson that would drop a labelled animal)."""

    exit_code = EX_DATAERR
