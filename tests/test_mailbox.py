"""Mailboxes (interconnect/mailbox.py): a CPU's messages to a service through shared
memory and an eventfd, in order, with replies for requests and none for posted ones; a
service behind makes the CPU wait, never lose a message; malformed ones are refused."""

import multiprocessing as mp
import os

import pytest
import zmq

from smpsim.interconnect import mailbox, protocol
from smpsim.interconnect.sockets import Endpoints, Service

N_CPUS = 2


def _cpu(boxes, fd, cpu, count, out):
    client = mailbox.Client(boxes, cpu, fd)  # (forked: the segment is mapped already)
    replies = []
    for i in range(count):
        client.post(protocol.encode("MMIO_WRITE", cpu=cpu, addr=i, size=4, value=i, posted=True,
                                    icount=i, counter=i))
        if i % 10 == 9:
            r = protocol.decode(client.request(protocol.encode("MMIO_READ", cpu=cpu, addr=i,
                                                               size=4), 60.0))
            replies.append(r["value"])
    out.put((cpu, replies))


def test_two_cpus_messages_arrive_in_each_cpus_order_and_requests_get_their_replies(tmp_path):
    boxes = mailbox.Mailboxes.create(N_CPUS, tag="test")
    fd = os.eventfd(0, os.EFD_NONBLOCK)
    seen = {0: [], 1: []}

    def handle(m):
        if m["t"] == "MMIO_WRITE":
            seen[m["cpu"]].append(m["value"])
            return None
        # a read answers how many writes of this CPU came before it: order is kept
        return protocol.encode("MMIO_DATA", value=len(seen[m["cpu"]]))

    count = 3 * mailbox.SLOTS  # more than a ring holds: the CPUs must wait for the service
    fork = mp.get_context("fork")  # the CPUs inherit the eventfd (before any ZeroMQ context)
    out = fork.Queue()
    procs = [fork.Process(target=_cpu, args=(boxes, fd, c, count, out), daemon=True)
             for c in range(N_CPUS)]
    for p in procs:
        p.start()
    ctx = zmq.Context()
    service = Service(ctx, Endpoints(tmp_path).address("svc"), handle,
                      mailboxes=mailbox.Server(boxes, fd))
    results = {}
    try:
        while len(results) < N_CPUS:
            service.serve_one(50)
            while not out.empty():
                cpu, replies = out.get()
                results[cpu] = replies
            assert all(p.is_alive() or p.exitcode == 0 for p in procs)
    finally:
        for p in procs:
            p.join(timeout=60)
        service.close()
        ctx.term()
        boxes.close()
        os.close(fd)
    for cpu in range(N_CPUS):
        assert seen[cpu] == list(range(count))
        assert results[cpu] == [i + 1 for i in range(9, count, 10)]


def test_a_malformed_request_is_answered_with_error_and_a_posted_one_only_reported(tmp_path):
    boxes = mailbox.Mailboxes.create(1, tag="test")
    fd = os.eventfd(0, os.EFD_NONBLOCK)
    errors = []
    ctx = zmq.Context()
    service = Service(ctx, Endpoints(tmp_path).address("svc"),
                      lambda m: protocol.encode("ACK"), errors.append, mailbox.Server(boxes, fd))
    client = mailbox.Client(boxes, 0, fd)
    try:
        client.post(b"\xc1 not msgpack")
        client.post(protocol.encode("PING"))
        service.serve_one(1000)
        assert len(errors) == 1 and "not a msgpack message" in errors[0]
        # a request: the reply is ERROR, and the service still serves what follows
        client._put(b"\x93\x01\x02\x03", mailbox.WANTS_REPLY)
        seq = client._put(protocol.encode("PING"), mailbox.WANTS_REPLY)
        service.serve_one(1000)
        assert int(client.words[mailbox.REPLY_SEQ]) == seq
        assert protocol.decode(client.reply[:int(client.words[mailbox.REPLY_LEN])].tobytes()) \
            == {"t": "ACK"}
        assert len(errors) == 2 and "a message is a map" in errors[1]
        assert service.refused == 2
    finally:
        service.close()
        ctx.term()
        boxes.close()
        os.close(fd)


def test_a_message_larger_than_a_slot_is_refused_before_it_is_sent():
    boxes = mailbox.Mailboxes.create(1, tag="test")
    fd = os.eventfd(0, os.EFD_NONBLOCK)
    try:
        with pytest.raises(mailbox.MailboxError, match="does not fit"):
            mailbox.Client(boxes, 0, fd).post(b"x" * (mailbox.SLOT_BYTES + 1))
        assert int(boxes.words[0][mailbox.TAIL]) == 0
    finally:
        boxes.close()
        os.close(fd)


def test_a_request_nobody_serves_times_out():
    boxes = mailbox.Mailboxes.create(1, tag="test")
    fd = os.eventfd(0, os.EFD_NONBLOCK)
    try:
        with pytest.raises(mailbox.MailboxError, match="no reply"):
            mailbox.Client(boxes, 0, fd).request(protocol.encode("PING"), 0.2)
    finally:
        boxes.close()
        os.close(fd)


def _poster(boxes, fd, cpu, count, before, after):
    client = mailbox.Client(boxes, cpu, fd)
    if before is not None:
        before.wait()  # (as a lock another CPU releases)
    for i in range(count):
        client.post(protocol.encode("MMIO_WRITE", cpu=cpu, addr=i, size=4, value=i, posted=True,
                                    icount=i, counter=i))
    if after is not None:
        after.set()


def test_messages_of_different_cpus_are_served_in_the_order_they_were_sent(tmp_path):
    """CPU 1 posts, then 'releases a lock' that CPU 0 waits for before it posts: CPU 1's
    messages come first (a UART line must not be overtaken by the next CPU's), although
    the service looks at CPU 0's mailbox first and finds both full."""
    boxes = mailbox.Mailboxes.create(N_CPUS, tag="test")
    fd = os.eventfd(0, os.EFD_NONBLOCK)
    fork = mp.get_context("fork")
    released, done = fork.Event(), fork.Event()
    first = fork.Process(target=_poster, args=(boxes, fd, 1, 20, None, released), daemon=True)
    second = fork.Process(target=_poster, args=(boxes, fd, 0, 20, released, done), daemon=True)
    second.start()
    first.start()
    assert done.wait(60)  # both have posted everything before the service looks
    order = []
    server = mailbox.Server(boxes, fd)
    server.drain(lambda body, wants_reply: order.append(protocol.decode(body)["cpu"]))
    assert order == [1] * 20 + [0] * 20
    first.join(10)
    second.join(10)
    boxes.close()
    os.close(fd)
