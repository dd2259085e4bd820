"""Mailboxes: the fast path from CPU processes to a service (DESIGN.md §3).

A ZeroMQ request over `ipc://` costs about 80 µs here, most of it in the hand-offs
between each process's main thread and its ZeroMQ I/O thread; a message through
shared memory with a kernel wake-up costs about 10 µs. So the messages a CPU sends
a service on its hot paths — device and GIC register accesses, ICC operations, timer
PPIs, console output — go through a mailbox; everything else (control, the device
service's interrupt lines, tests) stays on ZeroMQ. The messages are the same
(protocol.py, msgpack), only the carrier differs.

One shared segment per service holds, for each CPU, a ring of request slots (one
producer: that CPU; one consumer: the service) and a reply buffer. A CPU writes a
message into the next slot and publishes it by advancing TAIL, then writes the
service's eventfd, which the service polls together with its ZeroMQ sockets. The
service serves slots in order, advances HEAD, and for a request that waits writes the
reply and then REPLY_SEQ (the request's slot number), waking the CPU, which sleeps on
REPLY_SEQ with a futex. Posted messages (writes nobody waits on) get no reply and stay
in order with the CPU's requests. Ordering between the words relies on the host's
ordered stores (x86-64 TSO), as doorbell.py does; the wake-ups never get lost: the
eventfd counts, and futex_wait compares REPLY_SEQ in the kernel.

Messages of different CPUs are served in the order they were sent, not CPU by CPU:
each takes a number from one counter of the segment (an atomic add) just before it is
published, and the service serves the lowest number first, waiting the few
microseconds a message numbered but not yet published takes. It matters: a CPU that
writes a line to the UART (posted), then releases a lock that another CPU takes to
write its own line, must have its characters reach the UART first, as the Arm ARM's
release ordering guarantees for Device memory.
"""

from __future__ import annotations

import os
import time

import numpy as np

from smpsim.interconnect import doorbell, futex
from smpsim.interconnect.shared_ram import SharedRam

SLOTS = 64  # requests a CPU may have in flight (posted writes pile up here)
SLOT_BYTES = 256  # the largest message a slot carries (larger ones are split or refused)
REPLY_BYTES = 1024
REPLY_SPIN = 40e-6  # seconds a request looks for its reply before sleeping on the futex
# (a service answers a device read in ~10-20 µs; a futex wake-up costs ~25 µs on a VM)
# words at the start of each CPU's block
TAIL, HEAD, REPLY_SEQ, REPLY_LEN = 0, 1, 2, 3
_HEADER_WORDS = 8
_SLOT_HEADER = 16  # uint32 length, uint32 flags, uint64 the message's number (send order)
WANTS_REPLY = 1
_BLOCK = _HEADER_WORDS * 8 + SLOTS * (_SLOT_HEADER + SLOT_BYTES) + REPLY_BYTES
MAX_MESSAGE = SLOT_BYTES
GAP_WAIT = 0.05  # seconds the service waits for a message numbered but not published
# (its sender publishes it microseconds later, unless the sender died in between)


class MailboxError(RuntimeError):
    """The service did not answer in time, or a message does not fit."""


class Mailboxes:
    """The mailboxes of `n_cpus` CPUs to one service, over one shared segment."""

    def __init__(self, ram: SharedRam, n_cpus: int):
        self._ram = ram
        self.name = ram.name
        self.n_cpus = n_cpus
        self.bytes = ram.array
        self._base = ram.array.ctypes.data
        blocks = ram.array[: n_cpus * _BLOCK].reshape(n_cpus, _BLOCK)
        self.words = [b[: _HEADER_WORDS * 8].view(np.uint64) for b in blocks]
        slots = [b[_HEADER_WORDS * 8: _HEADER_WORDS * 8 + SLOTS * (_SLOT_HEADER + SLOT_BYTES)]
                 for b in blocks]
        self.slots = [s.reshape(SLOTS, _SLOT_HEADER + SLOT_BYTES) for s in slots]
        self.replies = [b[-REPLY_BYTES:] for b in blocks]
        self._counter_offset = n_cpus * _BLOCK  # the send-order counter, after the blocks

    def take_number(self) -> int:
        """The next message number (an atomic add: CPU processes, which have Numba)."""
        return doorbell.atomic_add(self.bytes, self._counter_offset, 1)

    @staticmethod
    def size_for(n_cpus: int) -> int:
        return max(4096, (n_cpus * _BLOCK + 8 + 4095) // 4096 * 4096)

    @classmethod
    def create(cls, n_cpus: int, tag: str) -> "Mailboxes":
        return cls(SharedRam.create(cls.size_for(n_cpus), tag=tag), n_cpus)

    @classmethod
    def attach(cls, name: str, n_cpus: int) -> "Mailboxes":
        return cls(SharedRam.attach(name, cls.size_for(n_cpus)), n_cpus)

    def spec(self, eventfd: int) -> str:
        """How a process that inherits `eventfd` finds these mailboxes (attach_spec)."""
        return f"{self.name},{eventfd},{self.n_cpus}"

    @classmethod
    def attach_spec(cls, spec: str) -> tuple["Mailboxes", int]:
        """The mailboxes and the service's eventfd that `spec()` describes."""
        name, fd, cpus = spec.split(",")
        return cls.attach(name, int(cpus)), int(fd)

    def word_address(self, cpu: int, word: int) -> int:
        return self._base + cpu * _BLOCK + word * 8

    def close(self) -> None:
        self.words = self.slots = self.replies = self.bytes = None
        self._ram.close()


class Client:
    """One CPU's end of its mailbox to a service."""

    def __init__(self, boxes: Mailboxes, cpu: int, eventfd: int):
        self.boxes, self.cpu, self.eventfd = boxes, cpu, eventfd
        self.words = boxes.words[cpu]
        self.slots = boxes.slots[cpu]
        self.reply = boxes.replies[cpu]
        self._reply_seq = boxes.word_address(cpu, REPLY_SEQ)

    def _put(self, data: bytes, flags: int) -> int:
        if len(data) > SLOT_BYTES:
            raise MailboxError(f"a message of {len(data)} bytes does not fit a mailbox slot")
        tail = int(self.words[TAIL])
        while tail - int(self.words[HEAD]) >= SLOTS:  # full: the service is behind
            time.sleep(20e-6)
        slot = self.slots[tail % SLOTS]
        slot[:4].view(np.uint32)[0] = len(data)
        slot[4:8].view(np.uint32)[0] = flags
        slot[_SLOT_HEADER:_SLOT_HEADER + len(data)] = np.frombuffer(data, dtype=np.uint8)
        # numbered last, just before it is published: the service waits for a number it
        # has not seen yet, so nothing may keep this CPU from publishing it now
        slot[8:16].view(np.uint64)[0] = self.boxes.take_number()
        self.words[TAIL] = tail + 1  # publish (after the slot: stores stay in order)
        os.eventfd_write(self.eventfd, 1)
        return tail + 1

    def post(self, data: bytes) -> None:
        """Send a message nobody answers; it stays in order with this CPU's others."""
        self._put(data, 0)

    def request(self, data: bytes, timeout: float) -> bytes:
        """Send a message and wait for its reply."""
        seq = self._put(data, WANTS_REPLY)
        spin_end = time.perf_counter() + REPLY_SPIN  # a quick answer needs no wake-up
        while int(self.words[REPLY_SEQ]) != seq and time.perf_counter() < spin_end:
            pass
        deadline = time.monotonic() + timeout
        while True:
            now = int(self.words[REPLY_SEQ])
            if now == seq:
                n = int(self.words[REPLY_LEN])
                return self.reply[:n].tobytes()
            left = deadline - time.monotonic()
            if left <= 0:
                raise MailboxError(f"no reply within {timeout:g} s")
            futex.wait(self._reply_seq, now & 0xFFFF_FFFF, min(left, 1.0))


class Server:
    """The service's end of every CPU's mailbox."""

    def __init__(self, boxes: Mailboxes, eventfd: int):
        self.boxes, self.eventfd = boxes, eventfd
        self.next_number = 0  # the number of the message to serve next
        self.gaps_skipped = 0  # numbers never published (their sender died)

    def fileno(self) -> int:
        return self.eventfd

    def _first(self) -> tuple[int, int] | None:
        """(number, cpu) of the lowest-numbered message published, or None."""
        best = None
        for cpu in range(self.boxes.n_cpus):
            words = self.boxes.words[cpu]
            head = int(words[HEAD])
            if head < int(words[TAIL]):
                number = int(self.boxes.slots[cpu][head % SLOTS][8:16].view(np.uint64)[0])
                if best is None or number < best[0]:
                    best = (number, cpu)
        return best

    def drain(self, serve) -> int:
        """Serve every waiting message with `serve(body, wants_reply) -> reply or None`,
        in the order they were sent; how many were served."""
        try:
            os.eventfd_read(self.eventfd)  # (reset first: a later post sets it again)
        except BlockingIOError:
            pass
        served = 0
        gap_since = None
        while True:
            first = self._first()
            if first is None:
                return served
            number, cpu = first
            if number > self.next_number:  # an earlier one is numbered, not yet published
                now = time.monotonic()
                if gap_since is None:
                    gap_since = now
                if now - gap_since < GAP_WAIT:
                    continue
                self.gaps_skipped += number - self.next_number
            gap_since = None
            self.next_number = number + 1
            words = self.boxes.words[cpu]
            head = int(words[HEAD])
            slot = self.boxes.slots[cpu][head % SLOTS]
            n = min(int(slot[:4].view(np.uint32)[0]), SLOT_BYTES)
            wants_reply = bool(slot[4:8].view(np.uint32)[0] & WANTS_REPLY)
            body = slot[_SLOT_HEADER:_SLOT_HEADER + n].tobytes()
            words[HEAD] = head + 1  # the slot is free again
            reply = serve(body, wants_reply)
            served += 1
            if wants_reply:
                self._answer(cpu, head + 1, reply if reply is not None else b"")

    def _answer(self, cpu: int, seq: int, reply: bytes) -> None:
        if len(reply) > REPLY_BYTES:
            raise MailboxError(f"a reply of {len(reply)} bytes does not fit the reply buffer")
        words = self.boxes.words[cpu]
        self.boxes.replies[cpu][:len(reply)] = np.frombuffer(reply, dtype=np.uint8)
        words[REPLY_LEN] = len(reply)
        words[REPLY_SEQ] = seq  # publish (after the reply)
        futex.wake(self.boxes.word_address(cpu, REPLY_SEQ))
