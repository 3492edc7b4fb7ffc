"""The control socket: a local UNIX stream socket for `trapd trigger` and `trapd status`.

No TCP listener: a trap in the field has no business accepting connections from a network.
One JSON request per connection (``{"command": "status"}``), one JSON reply. The server
thread blocks in ``select`` on the socket and a wake-up pipe, so it costs nothing while idle.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from trapd.errors import ControlError, NotRunningError, TrapdError

log = logging.getLogger(__name__)

#: sun_path holds 108 bytes on Linux; longer paths are reached through a directory descriptor.
_MAX_SOCKET_PATH = 100
_REQUEST_LIMIT_BYTES = 4096
#: A client gets this long, in all, to send its request: a slow one cannot hold the server.
_REQUEST_DEADLINE_S = 2.0

Handler = Callable[[], dict[str, Any]]


def socket_path_for(state_dir: Path, configured: Path | None) -> Path:
    """The socket path daemon and clients agree on, given the same config and storage."""
    return configured if configured is not None else state_dir / "control.sock"


@contextlib.contextmanager
def _addressable(path: Path) -> Iterator[str]:
    """An address for ``path`` that fits in sun_path: itself, or /proc/self/fd/N/<name> for deep folders.

    Deep storage paths are common (USB sticks, test folders); a short alias in /tmp would not
    be shared between a systemd service with PrivateTmp and the `trapd status` run beside it.
    """
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        yield os.fspath(path)
        return
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{directory}/{path.name}"
    finally:
        os.close(directory)


class ControlServer:
    def __init__(self, path: Path, handlers: dict[str, Handler]) -> None:
        self.path = path
        self._handlers = handlers
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, name="trapd-control", daemon=True)
        self._closed = False

    def start(self) -> None:
        try:
            # The storage lock is held, so a socket file here is a leftover of a killed daemon.
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            with _addressable(self.path) as address:
                self._listener.bind(address)
            os.chmod(self.path, 0o660)
            self._listener.listen(8)
        except OSError as exc:
            self._release()
            raise TrapdError(
                f"control socket {self.path} cannot be created ({exc.strerror or exc}); "
                "check the permissions of the storage folder or set control.socket"
            ) from None
        self._thread.start()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        self._release()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _release(self) -> None:
        self._listener.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if self._wake_r in ready:
                    return
                try:
                    connection, _ = self._listener.accept()
                except OSError as exc:  # e.g. out of file descriptors: this client is lost, not the server
                    log.warning("control socket: cannot accept a client: %s", exc)
                    continue
                with connection:
                    self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        try:
            raw = _read_all(connection, time.monotonic() + _REQUEST_DEADLINE_S)
            request = json.loads(raw or b"{}")
            command = request.get("command") if isinstance(request, dict) else None
            handler = self._handlers.get(command) if isinstance(command, str) else None
            if handler is None:
                reply: dict[str, Any] = {"ok": False, "error": f"unknown command {command!r}; "
                                         f"known: {', '.join(sorted(self._handlers))}"}
            else:
                try:
                    reply = {"ok": True, **handler()}
                except TrapdError as exc:
                    reply = {"ok": False, "error": str(exc)}
            connection.sendall(json.dumps(reply).encode())
        except (OSError, ValueError) as exc:  # the client went away, or sent something that is not JSON
            log.warning("control socket: request dropped: %s: %s", type(exc).__name__, exc)
        except Exception:  # a bug in a handler: the server stays up, but the bug is not hidden
            log.exception("control socket: a handler failed; request dropped")


def _read_all(connection: socket.socket, deadline: float) -> bytes:
    chunks = []
    size = 0
    while size <= _REQUEST_LIMIT_BYTES:
        remaining_s = deadline - time.monotonic()
        if remaining_s <= 0:
            raise TimeoutError("client too slow")
        connection.settimeout(remaining_s)
        chunk = connection.recv(1024)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def request(path: Path, command: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """Send one command to the daemon listening on ``path`` and return its reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout_s)
        try:
            with _addressable(path) as address:
                client.connect(address)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            raise NotRunningError(
                f"no trapd is running for this storage (no daemon at {path}); start `trapd run` "
                "with the same --config/--storage"
            ) from None
        except PermissionError:
            raise ControlError(f"control socket {path} is not accessible to this user; "
                               "run as the trapd user or a member of its group") from None
        try:
            client.sendall(json.dumps({"command": command}).encode())
            client.shutdown(socket.SHUT_WR)
            reply = json.loads(_read_reply(client) or b"{}")
        except (OSError, ValueError) as exc:
            raise ControlError(f"the daemon at {path} did not answer properly ({exc}); "
                               "see its log (journalctl -u trapd)") from None
    if not isinstance(reply, dict):
        raise ControlError(f"daemon at {path} sent a malformed reply")
    if not reply.get("ok"):
        raise ControlError(str(reply.get("error", "request refused")))
    return reply


def _read_reply(client: socket.socket) -> bytes:
    chunks = []
    while chunk := client.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
