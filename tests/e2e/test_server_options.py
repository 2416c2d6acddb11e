"""End-to-end tests of the server options and -q: `listen -k` (clients share stdin and stdout,
ncat's semantics), `listen -m N` (clients at once), `listen -i DURATION` (idle clients closed)
and `-q DURATION` (quit that long after stdin EOF; for `connect -u`, the linger).

Every wait has a deadline. Where the test must wait for sockcat, it waits for the event itself
(a -v line in the collected stderr, bytes on a socket or on stdout, the process's exit); a
bounded wait is used only to show that something does NOT happen."""
import fcntl
import os
import re
import select
import signal
import socket
import subprocess
import termios
import threading
import time

import pytest

from conftest import run_sockcat, wait_log, wait_until
from helpers_tcp import (LOOP4, background, connect, connection_log, procs,  # noqa: F401
                         random_bytes, read_fd, recv_exact, recv_until_eof, sees_eof_within,
                         sha256, stderr_lines, tcp_listener, wait_exit)


# ---------------------------------------------------------------------------------------------
# Helpers.

def start_hub(start_server, *extra, stdin=subprocess.PIPE, stdout=subprocess.PIPE):
    """`sockcat listen -k -v -p 0 EXTRA...` with stdin and stdout as pipes (by default)."""
    return start_server("listen", "-k", "-v", "-p", "0", *extra, stdin=stdin, stdout=stdout)



def join_client(server, joined_before):
    """Connects a client and waits for the server's 'connection from' line for it."""
    sock = connect(LOOP4, server.port)
    port = sock.getsockname()[1]
    wait_log(server, r"connection from 127\.0\.0\.1:%d\n" % port)
    assert len(re.findall(r"connection from \S+:\d+\n", server.stderr())) == joined_before + 1
    return sock


def closed_by_server_within(sock, seconds):
    """True when the server ends `sock` (EOF or reset) within `seconds`; False while it stays
    open and quiet. Data instead fails the test."""
    readable, _, _ = select.select([sock], [], [], seconds)
    if not readable:
        return False
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        return True
    assert data == b"", f"expected EOF or a reset, got {data[:40]!r}"
    return True


def round_trip(sock, data, expected=None):
    sock.sendall(data)
    assert recv_exact(sock, len(data), timeout=5) == (data if expected is None else expected)


def pipe_unread_bytes(fd):
    """Bytes written to a pipe and not yet read by the other end (FIONREAD on our end)."""
    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little")


def error_lines(stderr):
    """stderr lines other than the -v notes about listening and connections."""
    return [line for line in stderr_lines(stderr)
            if not re.search(r"listening on |connection from |connection with |quitting: ", line)]


LOW = bytes(range(0, 128))
HIGH = bytes(range(128, 256))


def bytes_in(data, alphabet):
    """The bytes of `data` that are in `alphabet`, in order."""
    other = LOW if alphabet == HIGH else HIGH
    return data.translate(None, other)


# ---------------------------------------------------------------------------------------------
# listen -k with transform none: clients share stdin and stdout.

def test_keep_open_stdin_to_every_client_and_every_clients_bytes_to_stdout(start_server):
    server = start_hub(start_server)
    a = join_client(server, 0)
    b = join_client(server, 1)

    server.proc.stdin.write(b"to everyone\n")
    server.proc.stdin.flush()
    assert recv_exact(a, 12) == b"to everyone\n"
    assert recv_exact(b, 12) == b"to everyone\n"

    # At once: 1 MiB from A (bytes 0..127) and 500 short lines from B (bytes 128..255). Chunks
    # of the two may interleave on stdout, but each client's own bytes arrive whole and in order.
    big = bytes(x & 0x7F for x in random_bytes(1 << 20, seed=11))
    lines = [bytes([128 + (i % 127)]) * 40 + b"\xff" for i in range(500)]
    small = b"".join(lines)
    sender_a = background(a.sendall, big)
    sender_b = background(lambda: [b.sendall(line) for line in lines])
    out = read_fd(server.proc.stdout.fileno(), len(big) + len(small), timeout=15)
    sender_a.join(15)
    sender_b.join(15)
    assert len(out) == len(big) + len(small)
    assert sha256(bytes_in(out, LOW)) == sha256(big)
    assert bytes_in(out, HIGH) == small

    # stdin still reaches both afterwards.
    server.proc.stdin.write(b"again\n")
    server.proc.stdin.flush()
    assert recv_exact(a, 6) == b"again\n"
    assert recv_exact(b, 6) == b"again\n"
    assert server.proc.poll() is None


def test_keep_open_stdin_eof_half_closes_every_client_and_later_ones_at_once(start_server):
    server = start_hub(start_server)
    a = join_client(server, 0)
    b = join_client(server, 1)
    server.proc.stdin.write(b"last words\n")
    server.proc.stdin.close()
    assert recv_until_eof(a, timeout=5) == b"last words\n"
    assert recv_until_eof(b, timeout=5) == b"last words\n"

    # Half-close only: the clients can still talk to stdout.
    a.sendall(b"still here\n")
    assert read_fd(server.proc.stdout.fileno(), 11, timeout=5) == b"still here\n"

    # A client that connects after stdin ended gets EOF at once, and is still heard.
    late = connect(LOOP4, server.port)
    assert sees_eof_within(late, 2), "a client connecting after stdin EOF must get EOF at once"
    late.sendall(b"late\n")
    assert read_fd(server.proc.stdout.fileno(), 5, timeout=5) == b"late\n"
    assert server.proc.poll() is None, "stdin EOF must not end a -k server"
    server.signal(signal.SIGTERM)
    assert server.wait(5) == 143


def test_keep_open_with_stdin_already_at_eof(start_server):
    server = start_hub(start_server, stdin=subprocess.DEVNULL)
    a = join_client(server, 0)
    assert sees_eof_within(a, 2)
    a.sendall(b"hi\n")
    assert read_fd(server.proc.stdout.fileno(), 3, timeout=5) == b"hi\n"


def test_keep_open_no_shutdown_keeps_clients_sending_side_open(start_server):
    server = start_hub(start_server, "--no-shutdown")
    a = join_client(server, 0)
    server.proc.stdin.write(b"bye\n")
    server.proc.stdin.close()
    assert recv_exact(a, 4) == b"bye\n"
    assert not sees_eof_within(a, 0.5), "--no-shutdown: no half-close at stdin EOF"
    late = connect(LOOP4, server.port)
    assert not sees_eof_within(late, 0.3), "--no-shutdown: a late client is not half-closed either"
    late.sendall(b"ok\n")
    assert read_fd(server.proc.stdout.fileno(), 3, timeout=5) == b"ok\n"


def test_keep_open_serves_a_client_after_the_only_one_left_while_stdin_was_read(start_server):
    """The stdin read starts when the first client arrives. If that client leaves before stdin
    has data, the chunk then read has nobody to go to; the next client must still be served
    (stdin after it arrives reaches it, and stdin EOF half-closes it)."""
    server = start_hub(start_server)
    a = join_client(server, 0)
    a.close()
    wait_log(server, r"connection from 127\.0\.0\.1:\d+ closed")
    stdin_fd = server.proc.stdin.fileno()
    server.proc.stdin.write(b"nobody hears this\n")
    server.proc.stdin.flush()
    # sockcat consumes it with no client connected (a kernel counter: no event to wait on).
    assert wait_until(lambda: pipe_unread_bytes(stdin_fd) == 0, timeout=5)

    b = join_client(server, 1)
    server.proc.stdin.write(b"hello b\n")
    server.proc.stdin.flush()
    server.proc.stdin.close()
    received = recv_until_eof(b, timeout=5)
    assert received.endswith(b"hello b\n"), received


def test_keep_open_a_client_that_does_not_read_holds_stdin_back_for_all(start_server):
    server = start_hub(start_server)
    reader = join_client(server, 0)
    staller = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    staller.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    staller.settimeout(10)
    staller.connect((LOOP4, server.port))
    wait_log(server, r"connection from 127\.0\.0\.1:%d\n" % staller.getsockname()[1])

    total = 16 << 20
    payload = random_bytes(total, seed=12)

    def feed():
        server.proc.stdin.write(payload)
        server.proc.stdin.close()

    feeder = background(feed)
    # While one client reads nothing, the other gets only what the stalled one's buffers hold.
    got = b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not select.select([reader], [], [], 0.5)[0]:
            break  # quiet for 0.5 s: stdin is held back
        got += reader.recv(1 << 20)
    assert 0 < len(got) < total // 2, f"the reading client got {len(got)} of {total} bytes"
    # Once the stalled client reads, both get everything, then EOF.
    stalled_side = background(recv_until_eof, staller, 20)
    got += recv_until_eof(reader, timeout=20)
    feeder.join(20)
    assert sha256(got) == sha256(payload)
    assert sha256(stalled_side.join(20)) == sha256(payload)


def test_keep_open_log_counts_the_bytes_each_way(start_server):
    """-v prints each connection closed 'with its byte counts': for a -k client, sent is
    what it got of stdin."""
    server = start_hub(start_server)
    a = join_client(server, 0)
    server.proc.stdin.write(b"twelve bytes")
    server.proc.stdin.flush()
    assert recv_exact(a, 12) == b"twelve bytes"
    a.sendall(b"seven\n\n")
    assert read_fd(server.proc.stdout.fileno(), 7, timeout=5) == b"seven\n\n"
    port = a.getsockname()[1]
    a.close()
    line = wait_log(server, r"connection from 127\.0\.0\.1:%d closed[^\n]*" % port)[0]
    assert line.endswith("(received 7 bytes, sent 12)"), line


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_keep_open_runs_until_a_signal(start_server, signum, status):
    server = start_hub(start_server)
    a = join_client(server, 0)
    a.close()
    wait_log(server, r"connection from 127\.0\.0\.1:\d+ closed")
    b = join_client(server, 1)
    assert server.proc.poll() is None
    server.signal(signum)
    assert server.wait(5) == status
    assert error_lines(server.stderr()) == []
    b.close()


def test_keep_open_stdout_reader_gone_ends_quietly_with_0(start_server):
    server = start_hub(start_server)
    a = join_client(server, 0)
    a.sendall(b"x")
    assert read_fd(server.proc.stdout.fileno(), 1, timeout=5) == b"x"
    server.proc.stdout.close()  # as `| head -c 1` does
    a.sendall(b"more" * 1000)
    assert server.wait(5) == 0
    assert error_lines(server.stderr()) == [], server.stderr()


def test_keep_open_stdout_failure_is_one_line_and_exit_1(start_server):
    with open("/dev/full", "wb") as full:
        server = start_hub(start_server, stdout=full)
    a = join_client(server, 0)
    a.sendall(b"data\n")
    assert server.wait(5) == 1
    lines = error_lines(server.stderr())
    assert len(lines) == 1, lines
    assert lines[0].startswith("sockcat: stdout") and "No space left on device" in lines[0], lines


def test_keep_open_with_replying_transform_changes_nothing(start_server):
    server = start_server("listen", "-k", "-v", "-p", "0", "--transform", "upper")
    a = join_client(server, 0)
    b = join_client(server, 1)
    round_trip(a, b"abc\n", b"ABC\n")
    round_trip(b, b"xyz\n", b"XYZ\n")
    a.shutdown(socket.SHUT_WR)
    assert recv_until_eof(a, timeout=5) == b""
    round_trip(b, b"still\n", b"STILL\n")
    assert server.proc.poll() is None


def test_keep_open_with_udp_changes_nothing(start_server):
    server = start_server("listen", "-u", "-k", "-v", "-p", "0", stdin=subprocess.PIPE)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.settimeout(5)
        peer.sendto(b"dgram one\n", (LOOP4, server.port))
        assert read_fd(server.proc.stdout.fileno(), 10, timeout=5) == b"dgram one\n"
        server.proc.stdin.write(b"reply\n")
        server.proc.stdin.flush()
        assert peer.recvfrom(100)[0] == b"reply\n"
    assert server.proc.poll() is None
    server.signal(signal.SIGTERM)
    assert server.wait(5) == 143


# ---------------------------------------------------------------------------------------------
# listen -m N.

def refused_line(client):
    return r"connection from 127\.0\.0\.1:%d refused: 2 clients already \(-m\)" % client.getsockname()[1]


def test_max_conns_closes_the_client_over_the_limit_and_serves_one_after_a_leave(start_server):
    server = start_server("listen", "-v", "-p", "0", "--transform", "echo", "-m", "2")
    a = join_client(server, 0)
    b = join_client(server, 1)
    round_trip(a, b"a\n")
    round_trip(b, b"b\n")

    c = connect(LOOP4, server.port)
    start = time.monotonic()
    assert closed_by_server_within(c, 3), "the third client must be closed at once"
    assert time.monotonic() - start < 2
    wait_log(server, refused_line(c))
    round_trip(a, b"a still served\n")

    a_port = a.getsockname()[1]
    a.close()
    wait_log(server, r"connection from 127\.0\.0\.1:%d closed" % a_port)
    d = join_client(server, 2)
    round_trip(d, b"d served\n")
    round_trip(b, b"b still served\n")
    e = connect(LOOP4, server.port)
    assert closed_by_server_within(e, 3), "the limit holds again with b and d connected"
    wait_log(server, refused_line(e))


def test_max_conns_with_keep_open(start_server):
    server = start_hub(start_server, "-m", "1")
    a = join_client(server, 0)
    b = connect(LOOP4, server.port)
    assert closed_by_server_within(b, 3)
    wait_log(server, r"connection from 127\.0\.0\.1:%d refused: 1 client already \(-m\)" % b.getsockname()[1])
    a.sendall(b"from a\n")
    assert read_fd(server.proc.stdout.fileno(), 7, timeout=5) == b"from a\n"
    server.proc.stdin.write(b"to a\n")
    server.proc.stdin.flush()
    assert recv_exact(a, 5) == b"to a\n"


# ---------------------------------------------------------------------------------------------
# listen -i DURATION.

def test_idle_timeout_closes_a_silent_client_and_keeps_a_slow_one(start_server):
    server = start_server("listen", "-v", "-p", "0", "--transform", "echo", "-i", "300ms")
    silent = join_client(server, 0)
    started = time.monotonic()
    slow = join_client(server, 1)

    def trickle():
        # One byte every 100 ms for 1.2 s: never 300 ms without data. The sleep is the pace
        # of the sender, not a wait for sockcat.
        for i in range(12):
            slow.sendall(b"%d" % (i % 10))
            assert recv_exact(slow, 1, timeout=5) == b"%d" % (i % 10)
            time.sleep(0.1)

    trickler = background(trickle)
    assert closed_by_server_within(silent, 5), "a silent client must be closed after -i"
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 3, elapsed
    trickler.join(10)
    assert time.monotonic() - started > 1.0
    round_trip(slow, b"alive\n")

    silent_port = silent.getsockname()[1]
    wait_log(server, r"connection from 127\.0\.0\.1:%d closed: idle too long \(-i\)" % silent_port)
    assert not any("idle" in line for line in connection_log(server, slow.getsockname()[1]))


def test_idle_timeout_with_keep_open(start_server):
    server = start_hub(start_server, "-i", "300ms")
    a = join_client(server, 0)
    a.sendall(b"before silence\n")
    assert read_fd(server.proc.stdout.fileno(), 15, timeout=5) == b"before silence\n"
    assert closed_by_server_within(a, 5)
    wait_log(server, r"connection from 127\.0\.0\.1:%d closed: idle too long \(-i\)" % a.getsockname()[1])
    assert server.proc.poll() is None


# ---------------------------------------------------------------------------------------------
# -q DURATION on a TCP relay.

class QuietPeer:
    """A Python server for one client: sends `greeting`, reads until the client's EOF, answers
    that EOF with `after_eof`, and never closes (until the test ends)."""

    def __init__(self, greeting=b"", after_eof=b""):
        self.listener, self.port = tcp_listener()
        self.greeting = greeting
        self.after_eof = after_eof
        self.conn = None
        self.handle = background(self._serve)

    def _serve(self):
        self.listener.settimeout(10)
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(10)
        self.conn.sendall(self.greeting)
        received = recv_until_eof(self.conn, timeout=10)
        self.conn.sendall(self.after_eof)
        return received

    def close(self):
        if self.conn:
            self.conn.close()
        self.listener.close()


@pytest.fixture
def quiet_peer():
    peers = []

    def make(**kwargs):
        peer = QuietPeer(**kwargs)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()


def test_quit_after_ends_connect_to_a_peer_that_never_closes(procs, quiet_peer):
    greeting = random_bytes(200_000, seed=13)
    peer = quiet_peer(greeting=greeting, after_eof=b"after eof\n")
    proc = procs.sockcat("connect", "-q", "300ms", LOOP4, peer.port,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert read_fd(proc.stdout.fileno(), len(greeting), timeout=10) == greeting
    proc.stdin.write(b"request\n")
    proc.stdin.close()
    started = time.monotonic()
    status = wait_exit(proc, 5)
    elapsed = time.monotonic() - started
    assert status == 0, proc.stderr.read()
    assert 0.25 <= elapsed < 3, elapsed
    assert proc.stdout.read() == b"after eof\n"  # what came during the -q time is kept
    assert proc.stderr.read() == b""
    assert peer.handle.join(10) == b"request\n"  # sent, then half-closed


def test_quit_after_zero_ends_at_stdin_eof_after_the_half_close(procs, quiet_peer):
    peer = quiet_peer()
    proc = procs.sockcat("connect", "-q", "0", LOOP4, peer.port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    proc.stdin.write(b"only this\n")
    proc.stdin.close()
    assert wait_exit(proc, 3) == 0
    assert proc.stdout.read() == b""
    assert peer.handle.join(10) == b"only this\n"


def test_quit_after_ends_connect_even_while_the_peer_keeps_sending(procs):
    """-q ends the session even if the peer is still open: here it streams without pause to a
    sockcat whose stdout reader is slower than the network (64 KiB every 20 ms)."""
    listener, port = tcp_listener()
    stop = threading.Event()

    def stream():
        listener.settimeout(10)
        conn, _ = listener.accept()
        conn.settimeout(0.2)
        block = b"s" * 65536
        deadline = time.monotonic() + 10
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    conn.send(block)
                except socket.timeout:
                    continue
        except OSError:
            pass  # sockcat went away
        finally:
            conn.close()

    streamer = background(stream)
    try:
        proc = procs.sockcat("connect", "-q", "300ms", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert len(read_fd(proc.stdout.fileno(), 65536, timeout=5)) == 65536

        def drain_slowly():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and os.read(proc.stdout.fileno(), 65536):
                time.sleep(0.02)  # the reader's pace, not a wait for sockcat

        drainer = background(drain_slowly)
        proc.stdin.close()
        assert wait_exit(proc, 3, "sockcat connect -q 300ms (peer streaming)") == 0
        drainer.join(15)
    finally:
        stop.set()
        streamer.join(15)
        listener.close()


def test_listen_quit_after_on_a_relay(start_server):
    server = start_server("listen", "-v", "-p", "0", "-q", "300ms", stdin=subprocess.PIPE)
    client = join_client(server, 0)
    server.proc.stdin.write(b"hello\n")
    server.proc.stdin.close()
    started = time.monotonic()
    assert recv_until_eof(client, timeout=5) == b"hello\n"
    client.sendall(b"reply in time\n")
    assert server.wait(5) == 0
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 3, elapsed
    assert server.proc.stdout.read() == b"reply in time\n"
    assert error_lines(server.stderr()) == []
    client.close()


# ---------------------------------------------------------------------------------------------
# -q DURATION on connect -u: the linger.

def test_connect_udp_quit_after_sets_the_linger(procs):
    """A UDP server that answers 1.5 s late: the default 1 s linger and -q 200ms give up
    before the answer (-q 200ms sooner), -q 2s waits for it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((LOOP4, 0))
    server.settimeout(0.2)
    port = server.getsockname()[1]
    stop = threading.Event()
    timers = []

    def serve():
        while not stop.is_set():
            try:
                data, sender = server.recvfrom(65536)
            except socket.timeout:
                continue
            timer = threading.Timer(1.5, server.sendto, (b"late " + data, sender))
            timer.daemon = True
            timer.start()
            timers.append(timer)

    server_thread = background(serve)
    try:
        runs = {}
        for name, extra in (("default", []), ("q2s", ["-q", "2s"]), ("q200ms", ["-q", "200ms"])):
            proc = procs.sockcat("connect", "-u", *extra, LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            proc.stdin.write(name.encode() + b"\n")
            proc.stdin.close()
            started = time.monotonic()
            # Each run's own exit time, measured while the others still run.
            runs[name] = (proc, background(lambda p=proc, t=started: (p.wait(8), time.monotonic() - t)))
        ended = {}
        for name, (proc, waiter) in runs.items():
            status, ended[name] = waiter.join(10)
            assert status == 0, proc.stderr.read()
            runs[name] = proc.stdout.read()
        assert runs["q2s"] == b"late q2s\n"
        assert ended["q2s"] >= 1.5
        assert runs["default"] == b"", "the default linger is 1 s, shorter than the reply's delay"
        assert 0.9 <= ended["default"] < 1.5, ended
        assert runs["q200ms"] == b""
        assert ended["q200ms"] < 0.9, ended
    finally:
        stop.set()
        server_thread.join(5)
        for timer in timers:
            timer.cancel()
        server.close()


# ---------------------------------------------------------------------------------------------
# Usage errors.

@pytest.mark.parametrize("args, needle", [
    (["listen", "-u", "-m", "2", "-p", "0"], "-m"),
    (["listen", "-u", "-i", "1s", "-p", "0"], "-i"),
    (["listen", "-k", "-m", "-1", "-p", "0"], "-1"),
    (["listen", "-k", "--max-conns", "many", "-p", "0"], "'many'"),
    (["listen", "-k", "-i", "0", "-p", "0"], "-i"),
    (["listen", "--transform", "echo", "-q", "1s", "-p", "0"], "-q"),
    (["connect", "-z", "-q", "1s", LOOP4, "1"], "-q"),
    (["connect", "-k", LOOP4, "1"], "listen"),
])
def test_usage_errors(args, needle):
    result = run_sockcat(*args, timeout=10)
    assert result.returncode == 2
    assert result.stdout == b""
    lines = stderr_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("sockcat: ") and needle in lines[0], lines
