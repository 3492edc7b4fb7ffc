"""Telling systemd how trapd is: READY, STATUS, WATCHDOG, STOPPING (the sd_notify protocol).

The protocol is one UNIX datagram of ``KEY=value`` lines to ``$NOTIFY_SOCKET``; it is short
enough to write out here, and doing so spares the Pi a dependency (``sdnotify`` has been
unmaintained since 2017; ``systemd-python`` needs libsystemd's headers to build). Outside
systemd (no ``$NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # "@name" is an abstract socket: the leading "@" stands for a NUL byte.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._socket: socket.socket | None = None
        if self._address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        watchdog_pid = env.get("WATCHDOG_PID")
        watchdog_for_us = watchdog_pid is None or watchdog_pid == str(os.getpid())
        #: How often systemd wants WATCHDOG=1 (0: no watchdog configured for this process).
        self.watchdog_usec = int(env.get("WATCHDOG_USEC", "0") or 0) if watchdog_for_us else 0
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def ready(self, status: str) -> None:
        self._send(f"READY=1\nSTATUS={status}\nMAINPID={os.getpid()}")

    def status(self, status: str) -> None:
        self._send(f"STATUS={status}")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def reloading(self, status: str) -> None:
        self._send(f"RELOADING=1\nSTATUS={status}")

    def stopping(self, status: str) -> None:
        self._send(f"STOPPING=1\nSTATUS={status}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _send(self, message: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto(message.replace("\n\n", "\n").encode(), self._address)
        except OSError as exc:
            # systemd would kill a service that never says READY; say why once, in the journal.
            if not self._failed:
                log.error("cannot notify systemd at %s: %s", self._address.replace("\0", "@"), exc)
            self._failed = True
