#!/usr/bin/env python3
"""A small userspace stand-in for `tc netem`, for kernels built without it.

Two TUN devices (IFF_TUN | IFF_NO_PI: each read or write is one bare IP packet) are created in
the calling (root) namespace, then each is moved into its own network namespace and given a
point-to-point address there; the open descriptors stay attached to the devices after the move.
What namespace A routes to its peer address comes out of one descriptor, and this program
writes it into the other, so namespace B receives it; and the same the other way. On the way,
each direction independently

  * drops a packet with probability LOSS;
  * delays every other packet by DELAY +- JITTER (uniform). Jitter alone keeps the order, as a
    queue of varying length does: a packet never leaves before the one ahead of it;
  * with probability REORDER holds a packet back GAP longer, outside that order, so the
    packets that arrive after it within GAP overtake it.

Packets wait in a heap ordered by release time. The program counts what it did per direction:
packets received, dropped, delayed, held back, reordered (released after a packet that arrived
later than it: reordering that really happened, not merely chosen), forwarded. The random
generator is seeded, so a run is reproducible up to timing.

It prints one line `ready {...}` on stdout once both devices are up, and one line
`counters {...}` (JSON) when it stops: at EOF on its stdin (the controlling test closes the
pipe or dies), at SIGTERM/SIGINT, or by itself when --time-limit seconds have passed.

    python3 impair.py --ns-a NSA --ns-b NSB --loss 0.01 --delay-ms 3 --jitter-ms 1 \
        --reorder 0.03 --gap-ms 3 --mtu 16000 --seed 1 --time-limit 600
"""
import argparse
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFNAMSIZ = 16
MAX_PACKET = 65536
READ_BATCH = 64           # packets read from one descriptor per wake-up, at most
MAX_QUEUED = 4096         # packets waiting per direction; beyond that a packet is tail-dropped
MAX_WAIT = 0.2            # seconds per poll at most, so the time limit is always seen
ROUNDS_PER_SECOND = 1_000_000  # loop rounds per second of the time limit, at most: a bound on
                               # the count as well, should the clock misbehave


def open_tun(name):
    """Opens /dev/net/tun and creates the TUN device `name` (no packet-info header) on it;
    returns the non-blocking descriptor. The device lives as long as the descriptor."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        ifreq = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)  # struct ifreq, 40 B
        fcntl.ioctl(fd, TUNSETIFF, ifreq)
    except BaseException:
        os.close(fd)
        raise
    return fd


def ip(*args):
    """Runs one `ip` command; raises with its stderr when it fails."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def place_tun(dev, netns, local, peer, mtu):
    """Moves TUN device `dev` into `netns` and brings it up there as local <-> peer."""
    ip("link", "set", "dev", dev, "netns", netns)
    ip("-n", netns, "link", "set", "dev", "lo", "up")
    ip("-n", netns, "addr", "add", local, "peer", peer, "dev", dev)
    ip("-n", netns, "link", "set", "dev", dev, "mtu", str(mtu), "txqueuelen", "1000", "up")


class Impairment:
    """The parameters of one direction; times in seconds, probabilities in [0, 1]."""

    def __init__(self, loss, delay, jitter, reorder, gap):
        self.loss, self.delay, self.jitter, self.reorder, self.gap = loss, delay, jitter, reorder, gap


class Direction:
    """One way through the link: packets read from `src` are impaired, then written to `dst`."""

    def __init__(self, name, src, dst, impairment, rng):
        self.name, self.src, self.dst = name, src, dst
        self.imp = impairment
        self.rng = rng
        self.heap = []             # (release time, arrival number, packet)
        self.arrivals = 0          # arrival number of the next packet
        self.fifo_tail = 0.0       # release time of the last packet kept in order
        self.latest_sent = -1      # highest arrival number released so far
        self.counters = dict(received=0, dropped=0, delayed=0, held=0, reordered=0,
                             forwarded=0, bytes=0, overflow=0, write_errors=0)

    def take(self, packet, now):
        """Decides the fate of one packet that just arrived."""
        count = self.counters
        count["received"] += 1
        number = self.arrivals
        self.arrivals += 1
        imp, rng = self.imp, self.rng
        if rng.random() < imp.loss:
            count["dropped"] += 1
            return
        if len(self.heap) >= MAX_QUEUED:
            count["overflow"] += 1
            return
        delay = max(0.0, imp.delay + rng.uniform(-imp.jitter, imp.jitter))
        if imp.reorder and rng.random() < imp.reorder:
            count["held"] += 1
            release = now + delay + imp.gap
        else:
            release = max(now + delay, self.fifo_tail)
            self.fifo_tail = release
        if release > now:
            count["delayed"] += 1
        heapq.heappush(self.heap, (release, number, packet))

    def next_release(self):
        return self.heap[0][0] if self.heap else None

    def release_due(self, now):
        """Writes every packet whose time has come (a bounded number: those queued)."""
        heap, count = self.heap, self.counters
        for _ in range(len(heap)):
            if heap[0][0] > now:
                break
            _, number, packet = heapq.heappop(heap)
            if number < self.latest_sent:
                count["reordered"] += 1
            else:
                self.latest_sent = number
            try:
                os.write(self.dst, packet)
            except OSError:
                count["write_errors"] += 1
                continue
            count["forwarded"] += 1
            count["bytes"] += len(packet)


class Stop(Exception):
    pass


def _stop_on_signal(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def forward(fd_a, fd_b, imp_ab, imp_ba, seed, time_limit, control_fd):
    """Forwards between the two TUN descriptors until EOF on `control_fd`, a signal, or
    `time_limit` seconds; returns (how it stopped, {direction: counters})."""
    a_to_b = Direction("a_to_b", fd_a, fd_b, imp_ab, random.Random(seed))
    b_to_a = Direction("b_to_a", fd_b, fd_a, imp_ba, random.Random(seed + 1))
    by_fd = {fd_a: a_to_b, fd_b: b_to_a}
    poller = select.poll()
    for fd in (fd_a, fd_b, control_fd):
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + time_limit
    rounds = int(time_limit * ROUNDS_PER_SECOND) + 1
    stopped_by = "time limit"
    try:
        for _ in range(rounds):
            now = time.monotonic()
            if now >= deadline:
                break
            wait = min(MAX_WAIT, deadline - now)
            for direction in (a_to_b, b_to_a):
                due = direction.next_release()
                if due is not None:
                    wait = min(wait, max(0.0, due - now))
            events = poller.poll(wait * 1000.0)
            now = time.monotonic()
            for fd, _ in events:
                if fd == control_fd:
                    if not os.read(control_fd, 4096):
                        raise Stop("end of control input")
                    continue
                direction = by_fd[fd]
                for _ in range(READ_BATCH):
                    try:
                        packet = os.read(fd, MAX_PACKET)
                    except BlockingIOError:
                        break
                    except OSError as error:  # EBADFD: the device went away with its namespace
                        raise Stop(f"{direction.name} read: {error.strerror}") from None
                    direction.take(packet, now)
            a_to_b.release_due(now)
            b_to_a.release_due(now)
    except Stop as why:
        stopped_by = str(why)
    counters = {d.name: dict(d.counters, left_queued=len(d.heap)) for d in (a_to_b, b_to_a)}
    return stopped_by, counters


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ns-a", required=True, help="network namespace of end A")
    parser.add_argument("--ns-b", required=True, help="network namespace of end B")
    parser.add_argument("--dev-a", help="TUN device name for A (default: from the pid)")
    parser.add_argument("--dev-b", help="TUN device name for B (default: from the pid)")
    parser.add_argument("--addr-a", default="10.77.0.1")
    parser.add_argument("--addr-b", default="10.77.0.2")
    parser.add_argument("--mtu", type=int, default=16000)
    parser.add_argument("--loss", type=float, default=0.0, help="drop probability, 0..1")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--reorder", type=float, default=0.0, help="hold-back probability, 0..1")
    parser.add_argument("--gap-ms", type=float, default=0.0, help="extra hold of a reordered packet")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds, then stop")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    dev_a = args.dev_a or f"imp{os.getpid()}a"
    dev_b = args.dev_b or f"imp{os.getpid()}b"
    fds = []
    try:
        for dev in (dev_a, dev_b):
            try:
                fds.append(open_tun(dev))
            except OSError as error:
                raise RuntimeError(f"cannot create TUN device {dev}: {error}") from None
        place_tun(dev_a, args.ns_a, args.addr_a, args.addr_b, args.mtu)
        place_tun(dev_b, args.ns_b, args.addr_b, args.addr_a, args.mtu)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"impair: setup failed: {error}", file=sys.stderr)
        for fd in fds:
            os.close(fd)
        return 2
    except Stop:
        return 1
    imp = Impairment(args.loss, args.delay_ms / 1000, args.jitter_ms / 1000, args.reorder,
                     args.gap_ms / 1000)
    config = dict(vars(args), dev_a=dev_a, dev_b=dev_b)
    try:
        print("ready " + json.dumps(config), flush=True)
        stopped_by, counters = forward(fds[0], fds[1], imp, imp, args.seed, args.time_limit,
                                       sys.stdin.fileno())
    except Stop as why:  # a signal before the loop began
        stopped_by, counters = str(why), {}
    finally:
        for fd in fds:
            os.close(fd)
    print("counters " + json.dumps(dict(counters, stopped_by=stopped_by)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
