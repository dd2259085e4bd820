"""A stand-in for a supervised process (tests/test_supervisor.py): connects to the
control socket and behaves as --behave says."""

import argparse
import os
import signal
import sys
import time

import zmq

from smpsim.interconnect import protocol
from smpsim.interconnect.control import ControlChannel, die_with_parent

ap = argparse.ArgumentParser()
ap.add_argument("--name")
ap.add_argument("--control")
ap.add_argument("--behave", default="good")
args = ap.parse_args()
die_with_parent()
if args.behave == "crash":
    print("worker: something went wrong on purpose", file=sys.stderr)
    sys.exit(3)
ctx = zmq.Context()
chan = ControlChannel(ctx, args.control, args.name)
if args.behave == "old":
    chan.send(protocol.encode("READY", component=args.name, pid=os.getpid(), version=0))
    time.sleep(60)
if args.behave == "silent":
    time.sleep(60)
chan.ready_and_wait_start(60_000)
if args.behave == "ignore_stop":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
chan.send(protocol.encode("CONSOLE", cpu=0, data=f"{args.name} started\n".encode()))
while True:  # until STOP (or, for ignore_stop, until killed)
    if chan.socket.poll(100):
        m = protocol.decode(chan.socket.recv())
        if m["t"] == "STOP" and args.behave != "ignore_stop":
            break
chan.close()
ctx.term()
