"""`sockcat listen -u --forward HOST:PORT` (issue 13 part 2): one UDP session per sender, end to
end over loopback. Each sender gets a socket of its own, connected to the target; its datagrams go
out on it one for one, and what the target sends back on it goes to that sender only, from the
listening port.

The targets are UDP servers on a thread of the test process (they answer each datagram to its
source and record the source port they saw), and socat's `UDP4-LISTEN ... PIPE` where a target
we did not write fits (one peer only); the senders are Python UDP sockets, socat
(`- UDP4:HOST:PORT`) and OpenBSD `nc -u`.

Covered: 8 senders at once, 20 datagrams each from 1 byte to 65,507 (the largest IPv4 UDP
payload), every reply whole, to its own sender only, no more often than it was asked, from the
listening port, and one distinct source port per sender at the target (not the listening port);
an empty datagram both ways; a target that answers twice; the -v lines and their counts; -i (a
session closes after the idle time, not while datagrams pass either way, and the sender's next
datagram opens a new one from a new port); -m 1 (a new sender dropped, not queued, while a
session is open, served once it closed); --deny and --allow (refused senders dropped unread, one
-v line each); an ICMP refusal from the target (noted under -vv, the session stays and carries
datagrams once the target listens); socat and nc as senders; usage errors and an unresolvable
target.

UDP may drop a datagram when a socket buffer is full (sockcat's listening socket keeps the
kernel's default size, and 8 senders of 64 KiB datagrams can fill it), so a sender whose request
went unanswered for a while sends it again, a bounded number of times; a reply may then come
twice, never more often than its request was sent. Every wait has a deadline and every loop a
bound; processes are ended by PID."""
import collections
import random
import re
import select
import socket
import subprocess
import threading
import time

import pytest

from conftest import run_sockcat, run_sockcat_offline, wait_log
from helpers_peers import NC_OPENBSD, SOCAT, read_until, start_foreign_server, stop_process
from helpers_tcp import LOOP4, assert_one_error_line, background

BIG_BUFFER = 4 * 1024 * 1024
MAX_UDP4 = 65507  # the largest payload of an IPv4 UDP datagram


# --- the forwarder ----------------------------------------------------------------------------

def forward(start_server, target_port, *extra, verbose="-v"):
    """`sockcat listen -u -v -b 127.0.0.1 -p 0 --forward 127.0.0.1:PORT ...`; returns the
    Server once it reported its port and the target it forwards to."""
    server = start_server("listen", "-u", verbose, "-b", LOOP4, "-p", "0",
                          "--forward", f"{LOOP4}:{target_port}", *[str(a) for a in extra])
    wait_log(server, r"forwarding datagrams to 127\.0\.0\.1:%d\n" % target_port)
    return server


def session_lines(server, sender_port):
    """The -v lines that open a session for the sender at `sender_port`."""
    return re.findall(r"datagrams from 127\.0\.0\.1:%d: session to [^\n]*" % sender_port,
                      server.stderr())


def wait_session_lines(server, sender_port, count=1):
    """The -v lines that open a session for `sender_port`, once `count` have arrived (stderr is
    read on a thread of the test's: a reply can come before the line that preceded it)."""
    wait_log(server, r"datagrams from 127\.0\.0\.1:%d: session to " % sender_port, count=count)
    return session_lines(server, sender_port)


def closed_lines(server, sender_port):
    return re.findall(r"datagrams from 127\.0\.0\.1:%d: session closed [^\n]*" % sender_port,
                      server.stderr())


def wait_closed(server, sender_port, count=1, timeout=10):
    """Waits for the `count`th "session closed" line of `sender_port`; returns
    (idle ms, sent, answered) of each."""
    pattern = (r"datagrams from 127\.0\.0\.1:%d: session closed after (\d+) ms without a "
               r"datagram \((\d+) sent, (\d+) answered\)" % sender_port)
    return [tuple(int(v) for v in found)
            for found in wait_log(server, pattern, count=count, timeout=timeout)]


# --- targets ----------------------------------------------------------------------------------

class UdpTarget:
    """A UDP server on 127.0.0.1 on a thread of the test process. Each datagram is recorded as
    (source port, payload) in `seen` and answered, to its source, with the datagrams that
    respond(payload) lists."""

    def __init__(self, respond, port=0):
        self.respond = respond
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BIG_BUFFER)
        self.sock.bind((LOOP4, port))
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.sources = {}  # source port -> full address, to send to unasked
        self.arrived = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.2)  # so that stop() is seen
            if not ready:
                continue
            data, source = self.sock.recvfrom(70000)
            with self.arrived:
                self.seen.append((source[1], data))
                self.sources[source[1]] = source
                self.arrived.notify_all()
            for answer in self.respond(data):
                self.sock.sendto(answer, source)

    def ports(self):
        """The distinct source ports seen, in order of first arrival."""
        with self.arrived:
            return list(dict.fromkeys(port for port, _ in self.seen))

    def payloads_from(self, port):
        with self.arrived:
            return [data for seen_port, data in self.seen if seen_port == port]

    def payloads_in_order(self):
        """Every payload seen, in order, with a run of the same payload (a sender's resend
        after a lost answer) counted once."""
        with self.arrived:
            runs = [data for i, (_, data) in enumerate(self.seen)
                    if i == 0 or self.seen[i - 1][1] != data]
        return runs

    def wait_count(self, count, timeout=10):
        """Waits until `count` datagrams have arrived; returns them all."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.seen) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"the target saw {len(self.seen)} of {count} datagrams"
                self.arrived.wait(left)
            return list(self.seen)

    def push(self, port, data):
        """Sends `data` unasked to the source at `port` (one it has seen)."""
        with self.arrived:
            source = self.sources[port]
        self.sock.sendto(data, source)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def echo(data):
    return [data]


def reverse(data):
    """An answer the target must have computed, of the same size (so 65,507 bytes fit)."""
    return [data[::-1]]


@pytest.fixture
def udp_target():
    """udp_target(respond=echo, port=0) starts a UdpTarget; each is stopped when the test ends."""
    started = []

    def start(respond=echo, port=0):
        target = UdpTarget(respond, port)
        started.append(target)
        return target

    yield start
    for target in started:
        target.stop()


# --- senders ----------------------------------------------------------------------------------

class Sender:
    """A UDP socket on 127.0.0.1 (with a large receive buffer); `got` records every datagram
    that reached it as (payload, source address), `sends` how often each payload was sent."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BIG_BUFFER)
        self.sock.bind((LOOP4, 0))
        self.port = self.sock.getsockname()[1]
        self.got = []
        self.sends = collections.Counter()

    def send(self, server, data):
        self.sock.sendto(data, (LOOP4, server.port))
        self.sends[data] += 1

    def receive(self, timeout):
        """The next datagram's payload (recorded), or None when none comes within `timeout`."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, source = self.sock.recvfrom(70000)
        except socket.timeout:
            return None
        self.got.append((data, source))
        return data

    def drain(self):
        """Records the datagrams already queued, without waiting; returns their payloads."""
        payloads = []
        self.sock.setblocking(False)
        try:
            for _ in range(10000):
                try:
                    data, source = self.sock.recvfrom(70000)
                except BlockingIOError:
                    break
                self.got.append((data, source))
                payloads.append(data)
        finally:
            self.sock.setblocking(True)
        return payloads

    def ask(self, server, message, answers, wait=2.0, tries=4):
        """Sends `message` and waits for every datagram in `answers`; sends it again after
        `wait` s with some missing (UDP may drop one), `tries` times at most. `wait` is long
        enough that a slow (sanitized, loaded) server is not mistaken for a drop."""
        missing = collections.Counter(answers)
        for _ in range(tries):
            self.send(server, message)
            deadline = time.monotonic() + wait
            while +missing:
                data = self.receive(deadline - time.monotonic())
                if data is None:
                    break
                if missing[data] > 0:
                    missing[data] -= 1
            if not +missing:
                return
        raise AssertionError(f"sender {self.port}: {sum(missing.values())} answer(s) to "
                             f"{message[:40]!r} ({len(message)} bytes) missing after {tries} "
                             f"sends; stderr: {server.stderr()!r}")

    def nothing_queued(self):
        queued = self.drain()
        assert not queued, f"sender {self.port} got {[d[:40] for d in queued]!r}"

    def close(self):
        self.sock.close()


@pytest.fixture
def senders():
    """senders(n) makes n Senders; all are closed when the test ends."""
    made = []

    def make(count):
        batch = [Sender() for _ in range(count)]
        made.extend(batch)
        return batch

    yield make
    for sender in made:
        sender.close()


def check_answers(sender, server, answers_of):
    """Every datagram `sender` got came from the listening port and is one whole answer to one
    of its own messages (answers_of: message -> the datagrams that answer it); each answer came
    at least once and no more often than its message was sent."""
    owner = {}
    for message, answers in answers_of.items():
        for answer in answers:
            owner[answer] = message
    for data, source in sender.got:
        assert source == (LOOP4, server.port), \
            f"sender {sender.port} got a datagram from {source}, not the listening port"
        assert data in owner, (f"sender {sender.port} got a datagram that answers none of its "
                               f"own ({len(data)} bytes: {data[:40]!r})")
    counts = collections.Counter(data for data, _ in sender.got)
    for message, answers in answers_of.items():
        for answer in set(answers):
            assert counts[answer] >= 1, \
                f"sender {sender.port}: no answer to {message[:40]!r} ({len(message)} bytes)"
            limit = sender.sends[message] * answers.count(answer)
            assert counts[answer] <= limit, (f"sender {sender.port}: {counts[answer]} answers "
                                             f"to {message[:40]!r}, sent {sender.sends[message]}x")


def tagged(tag, size, rng):
    """`size` bytes starting with `tag` (cut to fit), the rest random."""
    head = tag[:size]
    return head + rng.randbytes(size - len(head))


# --- many senders ---------------------------------------------------------------------------

def test_eight_senders_at_once_each_get_only_their_own_answers(start_server, udp_target, senders):
    target = udp_target(reverse)
    server = forward(start_server, target.port)
    group = senders(8)
    rng = random.Random(1301)
    sizes = [1, 2, 17, 100, 512, 1400, 1472, 1473, 4096, 9000, 16384, 30000, 40000, 50000,
             59999, 60000, 60000, 65000, 65506, MAX_UDP4]
    batches = []
    for i, sender in enumerate(group):
        order = sizes[:]
        rng.shuffle(order)
        batches.append([tagged(bytes([i, j]) + b"-sender %d-message %d-" % (i, j), size, rng)
                        for j, size in enumerate(order)])
    everything = [message for batch in batches for message in batch]
    assert len(set(everything)) == len(everything), "test bug: messages must be distinct"
    start = threading.Barrier(len(group), timeout=10)

    def run(sender, batch):
        start.wait()
        for message in batch:
            sender.ask(server, message, reverse(message))

    workers = [background(run, sender, batch) for sender, batch in zip(group, batches)]
    for worker in workers:
        worker.join(60)

    seen_ports = target.ports()
    for sender, batch in zip(group, batches):
        sender.drain()
        check_answers(sender, server, {message: reverse(message) for message in batch})
        assert len(wait_session_lines(server, sender.port)) == 1, server.stderr()
    # One source port per sender at the target, each carrying that sender's messages only.
    assert len(seen_ports) == len(group), f"target saw source ports {seen_ports}"
    assert server.port not in seen_ports
    assert not set(seen_ports) & {sender.port for sender in group}
    owner_of = {message: i for i, batch in enumerate(batches) for message in batch}
    carried = set()
    for port in seen_ports:
        owners = {owner_of.get(data) for data in target.payloads_from(port)}
        assert len(owners) == 1 and None not in owners, \
            f"source port {port} carried datagrams of senders {owners}"
        carried |= owners
        (i,) = owners
        got = collections.Counter(target.payloads_from(port))
        assert set(got) == set(batches[i]), f"sender {i}'s datagrams did not all arrive whole"
        for message, count in got.items():
            assert count <= group[i].sends[message], "a datagram reached the target more often " \
                                                     "than it was sent"
    assert carried == set(range(len(group)))
    assert server.proc.poll() is None, server.stderr()


def test_an_empty_datagram_passes_both_ways(start_server, udp_target, senders):
    target = udp_target(lambda data: [b""] if data == b"" else [b"size %d" % len(data)])
    server = forward(start_server, target.port)
    (sender,) = senders(1)
    sender.ask(server, b"", [b""])
    sender.ask(server, b"x", [b"size 1"])
    assert target.payloads_from(target.ports()[0])[0] == b""
    sender.drain()
    check_answers(sender, server, {b"": [b""], b"x": [b"size 1"]})


def test_a_target_that_answers_twice_reaches_the_right_sender_twice(start_server, udp_target,
                                                                     senders):
    def twice(data):
        return [b"first " + data, b"second " + data]

    target = udp_target(twice)
    server = forward(start_server, target.port, "-i", "1s")
    group = senders(3)
    batches = [[b"sender %d request %d" % (i, j) for j in range(10)] for i in range(len(group))]
    workers = [background(lambda s, b: [s.ask(server, m, twice(m)) for m in b], sender, batch)
               for sender, batch in zip(group, batches)]
    for worker in workers:
        worker.join(30)
    for sender, batch in zip(group, batches):
        (idle, sent, answered), = wait_closed(server, sender.port)
        sender.drain()  # sockcat sent them all before the session closed
        check_answers(sender, server, {message: twice(message) for message in batch})
        ports = [port for port in target.ports()
                 if target.payloads_from(port)[0].startswith(b"sender %d " % group.index(sender))]
        assert len(ports) == 1, ports
        assert sent == len(target.payloads_from(ports[0])), server.stderr()
        assert answered == len(sender.got) == 2 * sent, server.stderr()


# --- idle sessions ----------------------------------------------------------------------------

def test_an_idle_session_closes_and_the_next_datagram_opens_a_new_one(start_server, udp_target,
                                                                       senders):
    target = udp_target(reverse)
    server = forward(start_server, target.port, "-i", "300ms")
    (sender,) = senders(1)
    sender.ask(server, b"first", [b"tsrif"])
    assert wait_session_lines(server, sender.port) == [
        f"datagrams from 127.0.0.1:{sender.port}: session to 127.0.0.1:{target.port}"]
    (idle, sent, answered), = wait_closed(server, sender.port)
    assert (idle, sent, answered) == (300, 1, 1), server.stderr()
    first_port = target.ports()[0]

    sender.ask(server, b"second", [b"dnoces"])
    wait_log(server, r"datagrams from 127\.0\.0\.1:%d: session to " % sender.port, count=2)
    ports = target.ports()
    assert len(ports) == 2 and ports[0] == first_port, ports
    assert target.payloads_from(ports[1]) == [b"second"]
    assert server.port not in ports
    wait_closed(server, sender.port, count=2)
    sender.drain()
    check_answers(sender, server, {b"first": [b"tsrif"], b"second": [b"dnoces"]})


def test_a_session_stays_open_while_datagrams_pass_either_way(start_server, udp_target, senders):
    """-i 1s with a datagram every 100 ms, first from the sender, then from the target
    unasked: one session throughout, closed only once both are quiet."""
    target = udp_target(echo)
    server = forward(start_server, target.port, "-i", "1s")
    (sender,) = senders(1)
    for n in range(6):
        sender.ask(server, b"ping %d" % n, [b"ping %d" % n])
        time.sleep(0.1)  # the pace under test, not a wait for an event
    (port,) = target.ports()
    pushes = [b"unasked %d" % n for n in range(6)]
    for data in pushes:
        target.push(port, data)
        assert sender.receive(5) == data
        time.sleep(0.1)
    assert closed_lines(server, sender.port) == [], server.stderr()
    (idle, sent, answered), = wait_closed(server, sender.port)
    assert (sent, answered) == (6, 12), server.stderr()
    assert target.ports() == [port]
    assert len(session_lines(server, sender.port)) == 1


# --- limits and access lists ----------------------------------------------------------------

def test_m1_drops_a_second_sender_until_the_first_session_closes(start_server, udp_target,
                                                                 senders):
    target = udp_target(reverse)
    # -i 3s: the first session must outlive the drop below even on a slow, loaded machine.
    server = forward(start_server, target.port, "-m", "1", "-i", "3s")
    first, second = senders(2)
    first.ask(server, b"first 1", [b"1 tsrif"])
    second.send(server, b"second 1")
    wait_log(server, r"datagrams from 127\.0\.0\.1:%d:? dropped: -m 1 sessions open"
             % second.port)
    first.ask(server, b"first 2", [b"2 tsrif"])  # the open session goes on meanwhile
    assert target.payloads_in_order() == [b"first 1", b"first 2"]
    assert session_lines(server, second.port) == []

    wait_closed(server, first.port, timeout=15)
    second.nothing_queued()  # the dropped datagram was not kept for later
    second.ask(server, b"second 2", [b"2 dnoces"])
    assert target.payloads_in_order() == [b"first 1", b"first 2", b"second 2"]
    assert len(target.ports()) == 2
    assert len(wait_session_lines(server, second.port)) == 1
    first.drain()
    second.drain()
    check_answers(first, server, {b"first 1": [b"1 tsrif"], b"first 2": [b"2 tsrif"]})
    check_answers(second, server, {b"second 2": [b"2 dnoces"]})


@pytest.mark.parametrize("access", [["--deny", "127.0.0.1"], ["--allow", "192.0.2.0/24"],
                                    ["--allow", "192.0.2.1", "--deny", "127.0.0.0/8"]],
                         ids=["deny", "allow-other", "allow-other-and-deny"])
def test_refused_senders_are_dropped_unread(start_server, udp_target, senders, access):
    target = udp_target(echo)
    server = forward(start_server, target.port, *access)
    one, two = senders(2)
    one.send(server, b"one a")
    one.send(server, b"one b")
    two.send(server, b"two")
    # The listening socket is read in order: `two`'s line means both of `one`'s were read.
    wait_log(server, r"datagrams from 127\.0\.0\.1:%d refused: not allowed \(--allow/--deny\)"
             % two.port)
    lines = re.findall(r"datagrams from 127\.0\.0\.1:%d refused[^\n]*" % one.port,
                       server.stderr())
    assert len(lines) == 1, server.stderr()
    assert one.receive(0.3) is None and two.receive(0.01) is None
    assert target.seen == []
    assert "session" not in server.stderr()
    assert server.proc.poll() is None


def test_an_allowed_sender_is_served(start_server, udp_target, senders):
    target = udp_target(reverse)
    server = forward(start_server, target.port, "--allow", "127.0.0.1", "--deny", "192.0.2.1")
    (sender,) = senders(1)
    sender.ask(server, b"allowed", [b"dewolla"])
    assert "refused" not in server.stderr()


# --- ICMP -----------------------------------------------------------------------------------

def test_a_refusing_target_keeps_the_session_until_it_listens(start_server, udp_target,
                                                              senders):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOP4, 0))
        port = probe.getsockname()[1]
    server = forward(start_server, port, verbose="-vv")
    (sender,) = senders(1)
    sender.send(server, b"nobody there")
    wait_log(server, r"datagrams from 127\.0\.0\.1:%d: the target refused one" % sender.port)
    assert sender.receive(0.01) is None

    target = udp_target(reverse, port=port)  # a port taken meanwhile fails here, as it should
    sender.ask(server, b"now listening", [b"gninetsil won"])
    assert target.payloads_in_order() == [b"now listening"]
    assert target.ports()[0] != server.port
    assert len(wait_session_lines(server, sender.port)) == 1, server.stderr()
    assert closed_lines(server, sender.port) == []
    sender.drain()
    check_answers(sender, server, {b"now listening": [b"gninetsil won"]})


# --- peers we did not write -----------------------------------------------------------------

def upper(data):
    return [data.upper()]


@pytest.mark.parametrize("client", ["socat", "nc"])
def test_socat_and_nc_as_senders(start_server, udp_target, client):
    target = udp_target(upper)
    server = forward(start_server, target.port)
    argv = {"socat": [SOCAT, "-", f"UDP4:{LOOP4}:{server.port}"],
            "nc": [NC_OPENBSD, "-u", LOOP4, str(server.port)]}[client]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        line = f"hello from {client}\n".encode()
        proc.stdin.write(line)
        proc.stdin.flush()
        got = read_until(proc.stdout, lambda data: data.endswith(b"\n"), timeout=10)
        assert got == line.upper(), (got, server.stderr())
        assert proc.poll() is None, proc.stderr.read()
    finally:
        stop_process(proc)
    assert [data for _, data in target.seen] == [line]
    (port,) = target.ports()
    assert port != server.port
    (opened,) = wait_log(server, r"datagrams from 127\.0\.0\.1:(\d+): session to ")
    assert int(opened) != port


def test_nc_through_sockcat_to_a_socat_target(start_server):
    """Both peers foreign: `nc -u` sends, socat `UDP4-LISTEN ... PIPE` echoes (to the first
    peer it hears from, which is sockcat's session socket for nc)."""
    socat, port = start_foreign_server(
        lambda p: [SOCAT, f"UDP4-LISTEN:{p},bind={LOOP4}", "PIPE"], udp=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    nc = None
    try:
        server = forward(start_server, port)
        nc = subprocess.Popen([NC_OPENBSD, "-u", LOOP4, str(server.port)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        got = b""
        for n in range(3):
            line = b"line %d through two foreign peers\n" % n
            nc.stdin.write(line)
            nc.stdin.flush()
            got = read_until(nc.stdout, lambda data: data.endswith(line), timeout=10,
                             initial=got)
        assert got == b"".join(b"line %d through two foreign peers\n" % n for n in range(3)), \
            (got, server.stderr())
        assert socat.poll() is None, "socat ended early"
        assert len(wait_log(server, r"session to ")) == 1
    finally:
        if nc is not None:
            stop_process(nc)
        stop_process(socat)


# --- usage errors -----------------------------------------------------------------------------

def test_usage_errors(tmp_path):
    path = tmp_path / "sock"
    cases = [
        (["listen", "-u", "-b", LOOP4, "-p", "0", "--forward", "unix:/x"], ["--forward", "UDP"]),
        (["listen", "-U", str(path), "-u", "--forward", f"{LOOP4}:9"], ["-U -u --forward"]),
        (["listen", "-u", "-b", LOOP4, "-p", "0", "--forward", f"{LOOP4}:9", "--forward-ssl",
          "--forward-ssl-insecure"], ["--forward-ssl", "UDP"]),
    ]
    for argv, needles in cases:
        result = run_sockcat(*argv, timeout=10)
        assert result.returncode == 2, (argv, result.returncode, result.stderr)
        assert result.stdout == b""
        assert_one_error_line(result.stderr, *needles)
    assert not path.exists()


def test_a_target_name_that_does_not_resolve_is_exit_1():
    result = run_sockcat_offline("listen", "-u", "-b", LOOP4, "-p", "0", "--forward",
                                 "no-such-host.invalid:53", timeout=20)
    assert result.returncode == 1, result
    assert_one_error_line(result.stderr, "no-such-host.invalid")
