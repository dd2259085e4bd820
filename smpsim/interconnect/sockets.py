"""Endpoints and the request loop every service runs (DESIGN.md §3).

Endpoints are `ipc://` sockets in the run directory's `sockets/` folder (mode 0700).
A Unix socket path is limited to about 107 bytes; when the run directory is deeper
than that allows, the sockets live in a private short directory under /tmp instead
(also 0700), which `Endpoints.cleanup` removes.

`Service` is a ROUTER socket with a handler, and optionally the service's end of the
CPUs' mailboxes (mailbox.py), polled together: each request is decoded and checked
(protocol.py), handed to the handler, and the handler's reply sent back. A request
that cannot be decoded, or whose handler refuses it (ProtocolError), is answered with
ERROR (unless its sender waits for nothing) and reported to `on_error`, and the service
goes on serving.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import tempfile
from typing import Callable

import zmq

from smpsim.interconnect import mailbox, protocol, security

_MAX_IPC_PATH = 100  # bytes of socket path we allow ourselves (the OS limit is ~107)


class Endpoints:
    """Where the sockets of one run live: `ipc://` in the run directory, or with
    `transport="tcp"` (a topology that asks for it) `tcp://HOST:PORT` with a free port
    per endpoint, on loopback unless the topology names another address."""

    def __init__(self, run_dir: str | os.PathLike, transport: str = "ipc",
                 host: str = "127.0.0.1"):
        self.run_dir = pathlib.Path(run_dir)
        self.transport, self.host = transport, host
        self._ports: dict[str, int] = {}
        folder = self.run_dir / "sockets"
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        self._private: pathlib.Path | None = None
        if len(str(folder / ("x" * 24))) > _MAX_IPC_PATH:
            self._private = pathlib.Path(tempfile.mkdtemp(prefix="smpsim-"))  # 0700
            (folder / "WHERE").write_text(str(self._private) + "\n")
            folder = self._private
        self.folder = folder

    def address(self, name: str) -> str:
        if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 24:
            raise ValueError(f"endpoint name {name!r}: letters, digits, - and _, at most 24")
        if self.transport == "tcp":
            if name not in self._ports:
                self._ports[name] = _free_port(self.host)
            return f"tcp://{self.host}:{self._ports[name]}"
        return f"ipc://{self.folder / name}"

    def cleanup(self) -> None:
        """Remove the socket files (and the private folder, if one was needed)."""
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
        else:
            for path in self.folder.glob("*"):
                if path.is_socket():
                    path.unlink(missing_ok=True)


def _free_port(host: str) -> int:
    """A TCP port nothing listens on now (the service binds it a moment later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


Handler = Callable[[dict], "bytes | None"]


class Service:
    """A ROUTER socket serving requests with `handler(message) -> reply bytes or None`
    (None: a posted request, nothing to answer), and the mailboxes of `mailboxes`
    (a mailbox.Server) if given."""

    def __init__(self, context: zmq.Context, address: str, handler: Handler,
                 on_error: Callable[[str], None] | None = None,
                 mailboxes: mailbox.Server | None = None,
                 keys: security.RunKeys | None = None):
        self.socket = security.server(context.socket(zmq.ROUTER), keys)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(address)
        self.handler = handler
        self.on_error = on_error or (lambda reason: None)
        self.mailboxes = mailboxes
        self.poller = zmq.Poller()
        self.poller.register(self.socket, zmq.POLLIN)
        if mailboxes is not None:
            self.poller.register(mailboxes.fileno(), zmq.POLLIN)
        self.served = 0
        self.refused = 0

    def watch(self, socket: zmq.Socket) -> None:
        """Poll `socket` too (one poll for everything: a zero-timeout poll of another
        socket after each request would cost ~20 µs); serve_one reports it ready."""
        self.poller.register(socket, zmq.POLLIN)

    def serve_one(self, timeout_ms: int) -> dict:
        """Serve what has come within `timeout_ms` (the socket's next request, every
        waiting mailbox message); what was ready (empty: nothing came)."""
        ready = dict(self.poller.poll(timeout_ms))
        if self.mailboxes is not None and self.mailboxes.fileno() in ready:
            self.mailboxes.drain(self._serve_mail)
        if self.socket in ready:
            self._serve_socket()
        return ready

    def _serve_mail(self, body: bytes, wants_reply: bool) -> bytes | None:
        try:
            reply = self.handler(protocol.decode(body))
        except protocol.ProtocolError as exc:
            self.refused += 1
            self.on_error(str(exc))
            reply = protocol.encode("ERROR", reason=str(exc)[:400]) if wants_reply else None
        self.served += 1
        if wants_reply and (reply is None or len(reply) > mailbox.REPLY_BYTES):
            reason = "no reply to a request" if reply is None else "reply too long"
            self.on_error(reason)
            reply = protocol.encode("ERROR", reason=reason)
        return reply

    def _serve_socket(self) -> None:
        frames = self.socket.recv_multipart()
        peer, body = frames[0], frames[-1]
        try:
            if len(frames) != 2:
                raise protocol.ProtocolError(f"expected one frame after the identity, "
                                             f"got {len(frames) - 1}")
            reply = self.handler(protocol.decode(body))
        except protocol.ProtocolError as exc:
            self.refused += 1
            self.on_error(str(exc))
            reply = protocol.encode("ERROR", reason=str(exc)[:400])  # STR is at most 4096
        self.served += 1
        if reply is not None:
            self.socket.send_multipart([peer, reply])

    def close(self) -> None:
        self.socket.close(linger=0)


def request(socket: zmq.Socket, message: bytes, timeout_ms: int) -> dict:
    """Send on a DEALER socket and wait for the reply (decoded); TimeoutError if none."""
    socket.send(message)
    if not socket.poll(timeout_ms):
        raise TimeoutError(f"no reply within {timeout_ms} ms")
    return protocol.decode(socket.recv())
