"""CurveZMQ for runs whose topology asks for `tcp://` endpoints (DESIGN.md §3): every
socket of the run is encrypted, and a service accepts only peers that hold the run's
client key.

bootctl makes the keys in the run directory (`keys/`, mode 0700; the secret key files
0600) before it launches anything; each process reads them from there. Servers (the
ROUTER sockets: bootctl's control socket, the GIC and device services) run a ZAP
authenticator that allows the one client key; clients (the DEALER sockets) present it.
`ipc://` runs need none of this: their sockets live in a 0700 directory.
"""

from __future__ import annotations

import os
import pathlib

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator


class RunKeys:
    def __init__(self, folder: str | os.PathLike):
        self.folder = pathlib.Path(folder)

    @classmethod
    def create(cls, run_dir: str | os.PathLike) -> "RunKeys":
        folder = pathlib.Path(run_dir) / "keys"
        for sub in ("server", "client"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            zmq.auth.create_certificates(folder / sub, sub)
            os.chmod(folder / sub / f"{sub}.key_secret", 0o600)
        os.chmod(folder, 0o700)
        return cls(folder)

    def _load(self, who: str, secret: bool):
        name = f"{who}.key_secret" if secret else f"{who}.key"
        return zmq.auth.load_certificate(self.folder / who / name)

    def serve(self, socket: zmq.Socket) -> None:
        """Make `socket` (before bind) a CurveZMQ server with the run's key."""
        public, secret = self._load("server", True)
        socket.curve_secretkey = secret
        socket.curve_publickey = public
        socket.curve_server = True

    def connect(self, socket: zmq.Socket) -> None:
        """Make `socket` (before connect) a CurveZMQ client of the run's servers."""
        server_public, _ = self._load("server", False)
        public, secret = self._load("client", True)
        socket.curve_serverkey = server_public
        socket.curve_publickey = public
        socket.curve_secretkey = secret

    def authenticator(self, context: zmq.Context) -> ThreadAuthenticator:
        """Start the ZAP handler that lets in only the run's client key (stop() it)."""
        auth = ThreadAuthenticator(context)
        auth.start()
        auth.configure_curve(domain="*", location=str(self.folder / "client"))
        return auth


def server(socket: zmq.Socket, keys: RunKeys | None) -> zmq.Socket:
    if keys is not None:
        keys.serve(socket)
    return socket


def client(socket: zmq.Socket, keys: RunKeys | None) -> zmq.Socket:
    if keys is not None:
        keys.connect(socket)
    return socket


def keys_at(path: str | None) -> RunKeys | None:
    return RunKeys(path) if path else None
