"""The control socket: a local UNIX stream socket for `trapd trigger` and `trapd status`.

No TCP listener: a trap in the field has no business accepting connections from a network.
One JSON request per connection (``{"command": "status"}``), one JSON reply. The server
thread blocks in ``select`` on the socket, its clients and a wake-up pipe, so it costs nothing
while idle, and serves every client at once: an idle or hostile one holds only its own
connection, until its deadline. Requests are bounded in size and depth.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trapd.errors import ControlError, NotRunningError, TrapdError
from trapd.threads import NamedThread

log = logging.getLogger(__name__)

#: sun_path holds 108 bytes on Linux; longer paths are reached through a directory descriptor.
_MAX_SOCKET_PATH = 100
_REQUEST_LIMIT_BYTES = 4096
#: A client gets this long, in all, to send its request and take its reply.
_REQUEST_DEADLINE_S = 2.0
#: Connections served at once; beyond, the oldest gives way to the newest.
_MAX_CLIENTS = 64
_BACKLOG = 64

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


@dataclass
class _Client:
    """One connection: what it has sent, what it is owed, and until when it may take."""

    deadline: float
    received: bytearray = field(default_factory=bytearray)
    reply: bytes | None = None
    sent: int = 0


class ControlServer:
    """Serves every client at once from one thread, on a selector: a slow or idle client holds only
    its own connection (until its deadline), never the next `trapd trigger`."""

    def __init__(self, path: Path, handlers: dict[str, Handler]) -> None:
        self.path = path
        self._handlers = handlers
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = NamedThread(target=self._serve, name="trapd-control", daemon=True)
        self._clients: dict[socket.socket, _Client] = {}
        self._closed = False

    def start(self) -> None:
        try:
            # The storage lock is held, so a socket file here is a leftover of a killed daemon.
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            with _addressable(self.path) as address:
                self._listener.bind(address)
            os.chmod(self.path, 0o660)
            self._listener.listen(_BACKLOG)
            self._listener.setblocking(False)
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
        for connection in list(self._clients):
            connection.close()
        self._clients.clear()
        self._listener.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                deadlines = [client.deadline for client in self._clients.values()]
                timeout_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                for key, mask in selector.select(timeout_s):
                    if key.fileobj == self._wake_r:
                        return
                    if key.fileobj is self._listener:
                        self._accept(selector)
                    elif isinstance(key.fileobj, socket.socket):
                        self._step(selector, key.fileobj, mask)
                self._drop_late(selector)

    def _accept(self, selector: selectors.BaseSelector) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # e.g. out of file descriptors: this client is lost, not the server
                log.warning("control socket: cannot accept a client: %s", exc)
                return
            if len(self._clients) >= _MAX_CLIENTS:
                # More connections than a trap has users: the one that has waited longest (idle, or a flood)
                # gives way, so the newest, a person's `trapd trigger`, is served.
                oldest = min(self._clients, key=lambda c: self._clients[c].deadline)
                self._forget(selector, oldest)
            connection.setblocking(False)
            self._clients[connection] = _Client(deadline=time.monotonic() + _REQUEST_DEADLINE_S)
            selector.register(connection, selectors.EVENT_READ)

    def _step(self, selector: selectors.BaseSelector, connection: socket.socket, mask: int) -> None:
        """Read what a client sent (until it shuts its side), then write its reply, as far as each can go now."""
        client = self._clients.get(connection)
        if client is None:
            return
        try:
            if mask & selectors.EVENT_READ and client.reply is None:
                chunk = connection.recv(_REQUEST_LIMIT_BYTES + 1)
                client.received += chunk
                if chunk and len(client.received) <= _REQUEST_LIMIT_BYTES:
                    return
                client.reply = self._answer(bytes(client.received))
                selector.modify(connection, selectors.EVENT_WRITE)
                return
            if mask & selectors.EVENT_WRITE and client.reply is not None:
                client.sent += connection.send(client.reply[client.sent:])
                if client.sent < len(client.reply):
                    return
        except BlockingIOError:
            return
        except OSError as exc:  # the client went away
            log.debug("control socket: client dropped: %s", exc)
        self._forget(selector, connection)

    def _drop_late(self, selector: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for connection, client in list(self._clients.items()):
            if client.deadline <= now:
                log.debug("control socket: a client took longer than %.0f s; dropped", _REQUEST_DEADLINE_S)
                self._forget(selector, connection)

    def _forget(self, selector: selectors.BaseSelector, connection: socket.socket) -> None:
        self._clients.pop(connection, None)
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(connection)
        connection.close()

    def _answer(self, raw: bytes) -> bytes:
        """The reply to one request: a known command's result, or why there is none."""
        try:
            if len(raw) > _REQUEST_LIMIT_BYTES:
                raise ValueError(f"request larger than {_REQUEST_LIMIT_BYTES} bytes")
            request = json.loads(raw or b"{}")
        except (ValueError, RecursionError) as exc:  # not JSON, or nested past what a request is
            log.warning("control socket: request refused: %s", str(exc)[:200])
            return _reply({"ok": False, "error": "a request is one small JSON object"})
        command = request.get("command") if isinstance(request, dict) else None
        handler = self._handlers.get(command) if isinstance(command, str) else None
        if handler is None:
            known = ", ".join(sorted(self._handlers))
            return _reply({"ok": False, "error": f"unknown command {str(command)[:64]!r}; known: {known}"})
        try:
            return _reply({"ok": True, **handler()})
        except TrapdError as exc:
            return _reply({"ok": False, "error": str(exc)})
        except Exception:  # a bug in a handler: the server stays up, but the bug is not hidden
            log.exception("control socket: the %s handler failed", command)
            return _reply({"ok": False, "error": f"{command} failed inside trapd; see its log"})


def _reply(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


def request(path: Path, command: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """Send one command to the daemon listening on ``path`` and return its reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout_s)
        try:
            _connect(client, path, timeout_s)
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


def _connect(client: socket.socket, path: Path, timeout_s: float) -> None:
    """Connect, trying again while the daemon's backlog is full (EAGAIN), up to ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with _addressable(path) as address:
                client.connect(address)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise ControlError(f"the daemon at {path} is busy with other clients; try again") from None
            time.sleep(0.01)


def _read_reply(client: socket.socket) -> bytes:
    chunks = []
    while chunk := client.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
