"""A supervised process's side of the control channel (DESIGN.md §3): connect to
bootctl's control socket, say READY with the protocol version, wait for START.

On Linux a supervised process also asks the kernel to kill it when its parent dies
(PR_SET_PDEATHSIG), so that no process of a run outlives a boot controller that was
killed itself.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys

import zmq

from smpsim.interconnect import mailbox, protocol, security
from smpsim.interconnect.sockets import Service

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    # Ctrl-C reaches the whole process group: bootctl handles it and stops us in order
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except OSError:
            pass  # no prctl: the supervisor's own clean-up still reaps us
        if os.getppid() == 1:  # the parent died before we asked
            os._exit(70)


class ControlChannel:
    """A DEALER socket to bootctl, identified by the component's name."""

    def __init__(self, context: zmq.Context, address: str, component: str,
                 keys: security.RunKeys | None = None):
        self.component = component
        self.socket = security.client(context.socket(zmq.DEALER), keys)
        self.socket.setsockopt(zmq.IDENTITY, component.encode())
        self.socket.setsockopt(zmq.LINGER, 1000)
        self.socket.connect(address)

    def ready_and_wait_start(self, timeout_ms: int) -> None:
        """Say READY, then wait for START (a STOP instead ends the process)."""
        self.socket.send(protocol.ready(self.component, os.getpid()))
        if not self.socket.poll(timeout_ms):
            raise TimeoutError(f"{self.component}: no START from bootctl in {timeout_ms} ms")
        message = protocol.decode(self.socket.recv())
        if message["t"] == "STOP":
            raise SystemExit(0)
        if message["t"] != "START":
            raise protocol.ProtocolError(f"expected START, got {message['t']}")

    def send(self, data: bytes) -> None:
        self.socket.send(data)

    def close(self) -> None:
        self.socket.close(linger=0)


def service_arguments(prog: str, name: str) -> argparse.ArgumentParser:
    """The command line every supervised service takes (its own options come after)."""
    ap = argparse.ArgumentParser(prog=prog)
    ap.add_argument("--name", default=name)
    ap.add_argument("--control", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--keys", help="the run's CurveZMQ keys (tcp:// runs: security.py)")
    ap.add_argument("--mailboxes", help="the CPUs' mailboxes to this service: "
                    "SEGMENT,EVENTFD,CPUS (mailbox.py); without it, ZeroMQ only")
    return ap


class ServiceProcess:
    """The life every supervised service shares: its ZeroMQ context (with CurveZMQ in a
    tcp:// run), its control channel, its Service (socket and CPU mailboxes) served until
    STOP, and the clean-up."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.context = zmq.Context()
        self.keys = security.keys_at(args.keys)
        self._auth = self.keys.authenticator(self.context) if self.keys else None
        self.control = ControlChannel(self.context, args.control, args.name, self.keys)

    def serve(self, handler, logger, started: str, stopped: str, idle=None, poll_ms=None,
              **fields) -> None:
        """Bind the endpoint, say READY, and serve `handler` until STOP (with `idle()`
        after every wait, each wait at most `poll_ms(50)` ms)."""
        boxes = None
        if self.args.mailboxes:
            boxes = mailbox.Server(*mailbox.Mailboxes.attach_spec(self.args.mailboxes))
        service = Service(self.context, self.args.endpoint, handler,
                          lambda reason: logger.warning("bad_message", reason=reason), boxes,
                          self.keys)
        self.control.ready_and_wait_start(120_000)
        logger.info(started, **fields)
        serve_until_stop(service, self.control, logger, idle, poll_ms)
        logger.info(stopped, served=service.served, refused=service.refused)
        service.close()

    def close(self) -> None:
        self.control.close()
        if self._auth is not None:
            self._auth.stop()
        self.context.destroy(linger=0)  # nobody is left to hear what is still queued


_IDLE_MS = 50  # a service's longest wait for a message (it looks at STOP after each)


def serve_until_stop(service, control: ControlChannel, logger, idle=None,
                     poll_ms=None) -> None:
    """Serve `service` (sockets.Service) until bootctl says STOP on `control`; `idle()`
    after every wait, each wait at most `poll_ms(50)` ms."""
    service.watch(control.socket)
    while True:
        ready = service.serve_one(poll_ms(_IDLE_MS) if poll_ms else _IDLE_MS)
        if idle is not None:
            idle()
        if control.socket in ready:
            try:
                message = protocol.decode(control.socket.recv())
            except protocol.ProtocolError as exc:
                logger.warning("bad_control_message", reason=str(exc))
                continue
            if message["t"] == "STOP":
                return
            if message["t"] == "PING":  # bootctl: has all we sent before reached it?
                control.send(protocol.encode("ACK"))
