"""Launching and supervising the processes of a run (DESIGN.md §3 "Supervision").

bootctl owns every process: it starts each as `python -m MODULE ...` with its output
in the run directory, waits until every one has said READY with our protocol version,
then sends START. While the run goes on it notices a process that dies, and at the end
(or on any failure) it stops the others — STOP, a grace period, then SIGKILL — and
reaps them all, so that no process of the run is left behind.

Only the processes it launched are heard on the control socket: a message of more than
one frame, or from any other peer, is logged (`bad_message`) and dropped.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import signal
import subprocess
import sys
import time

import zmq

from smpsim import log
from smpsim.interconnect import protocol, security
from smpsim.interconnect.sockets import Endpoints


class LaunchError(RuntimeError):
    """The machine could not be brought up; str() says which process and why."""


@dataclasses.dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: pathlib.Path
    ready: bool = False
    pid: int = 0


class Supervisor:
    def __init__(self, run_dir: pathlib.Path, endpoints: Endpoints, context: zmq.Context,
                 keys: security.RunKeys | None = None):
        self.run_dir = run_dir
        self.endpoints = endpoints
        self.control_address = endpoints.address("control")
        self._auth = keys.authenticator(context) if keys else None
        self.socket = security.server(context.socket(zmq.ROUTER), keys)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.socket.bind(self.control_address)
        self.children: dict[str, Child] = {}
        self._logger = None  # made on the first bad message

    def _refuse(self, peer: bytes, reason: str) -> None:
        if self._logger is None:
            self._logger = log.get_logger("bootctl", self.run_dir)
        self._logger.warning("bad_message", sender=peer.decode("utf-8", "backslashreplace")[:80],
                             reason=reason)

    def _next(self, timeout_ms: int) -> tuple[str, bytes] | None:
        """The next message from a child within `timeout_ms` (others are refused)."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            left = max(0, int((deadline - time.monotonic()) * 1000))
            if not self.socket.poll(left):
                return None
            frames = self.socket.recv_multipart()
            peer = frames[0]
            try:
                name = peer.decode("utf-8")
            except UnicodeDecodeError:
                name = None
            if name not in self.children:
                self._refuse(peer, "not from a process of this run")
            elif len(frames) != 2:
                self._refuse(peer, f"expected one frame after the identity, "
                                   f"got {len(frames) - 1}")
            else:
                return name, frames[1]

    def launch(self, name: str, module: str, args: list[str],
               pass_fds: tuple[int, ...] = ()) -> None:
        """Start a child; `pass_fds` it inherits under the same numbers (eventfds)."""
        log_path = self.run_dir / f"{name}.stderr.log"
        log = open(log_path, "wb")
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", module, "--name", name, "--control",
                 self.control_address, *args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=False, pass_fds=pass_fds)
        finally:
            log.close()
        self.children[name] = Child(name, process, log_path)

    def dead(self) -> Child | None:
        """A child that has exited, if any."""
        for child in self.children.values():
            if child.process.poll() is not None:
                return child
        return None

    def describe_death(self, child: Child, when: str = "") -> str:
        code = child.process.returncode
        how = (f"killed by signal {signal.Signals(-code).name}" if code < 0
               else f"exited with status {code}")
        tail = ""
        try:
            lines = child.log_path.read_text(errors="replace").strip().splitlines()
            if lines:
                tail = f"; its last words: {lines[-1][:200]}"
        except OSError:
            pass
        return f"{child.name} (pid {child.process.pid}) {how}{when}{tail}"

    def wait_ready(self, timeout: float) -> None:
        """Every child says READY with our version, or LaunchError."""
        deadline = time.monotonic() + timeout
        while not all(c.ready for c in self.children.values()):
            child = self.dead()
            if child is not None:
                raise LaunchError(self.describe_death(child, " before it was ready"))
            left = deadline - time.monotonic()
            if left <= 0:
                waiting = ", ".join(c.name for c in self.children.values() if not c.ready)
                raise LaunchError(f"not ready after {timeout:g} s: {waiting}")
            got = self._next(int(min(left, 0.2) * 1000))
            if got is None:
                continue
            name, body = got
            try:
                message = protocol.decode(body)
                protocol.check_ready(message)
            except protocol.ProtocolError as exc:
                raise LaunchError(f"{name}: {exc}") from None
            self.children[name].ready = True
            self.children[name].pid = message["pid"]

    def broadcast(self, data: bytes) -> None:
        for name in self.children:
            try:
                self.socket.send_multipart([name.encode(), data])
            except zmq.ZMQError:
                pass  # that peer is gone; supervision reports it

    def receive(self, timeout_ms: int) -> tuple[str, bytes] | None:
        """The next control message from a child: (name, body), or None."""
        return self._next(timeout_ms)

    def send(self, name: str, data: bytes) -> None:
        try:
            self.socket.send_multipart([name.encode(), data])
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            # that peer is gone (supervision reports it) or never connected

    def shutdown(self, reason: str, grace: float = 2.0) -> None:
        """STOP to everyone, then SIGKILL whoever is still there; reap them all."""
        self.broadcast(protocol.encode("STOP", reason=reason[:4000]))
        deadline = time.monotonic() + grace
        for child in self.children.values():
            left = max(0.0, deadline - time.monotonic())
            try:
                child.process.wait(timeout=left)
            except subprocess.TimeoutExpired:
                child.process.kill()
        for child in self.children.values():
            child.process.wait()
        self.socket.close(linger=0)
        if self._auth is not None:
            self._auth.stop()

    def pids(self) -> list[int]:
        return [c.process.pid for c in self.children.values()]


def alive(pid: int) -> bool:
    """Whether a process (not a zombie) with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except OSError:
        return True
