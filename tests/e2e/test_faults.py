"""Fault injection against the real binary: peers that reset, are killed (SIGKILL) or frozen
(SIGSTOP) mid-transfer, stdout that goes away or fills up, descriptor exhaustion, a client that
floods and never reads, and routing failures inside a private network namespace.

What test_exit_status.py, test_tcp_server.py and test_tcp_relay.py already cover (connect reset
while sending / while receiving with stdin open, an upper-server client reset after a push,
`connect | head -c 1` with stdin /dev/null or an open pipe, /dev/full with stdin /dev/null,
refused on IPv4 and IPv6, address in use for listen) is not repeated here."""
import errno
import os
import random
import resource
import select
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import SOCKCAT, wait_until
from helpers_faults import (IDLE_CLIENT, MIB, NO_FD_EXHAUSTION_UNDER_UBSAN, RELAY_PEER, STOPPABLE_ECHO_CLIENT, STREAMING_CLIENT,
                            STUCK_PEER, cpu_over, ending_of, error_lines, expect_line, generator_result,
                            hash_fd, in_netns, kill_and_reap, open_fds, opened_ports, private_netns,
                            resume, rss_bound_kib, start_generator, start_peer, status_kib,
                            stream_digest, tell, ubsan_vptr, wait_stopped)
from helpers_tcp import (LOOP4, LOOP6, accept, assert_one_error_line, background, connect,
                         procs,  # noqa: F401
                         push_without_reading, random_bytes, recv_exact, recv_until_eof,
                         reset_close, stderr_lines, tcp_listener, wait_exit)

RESET = os.strerror(errno.ECONNRESET)  # "Connection reset by peer"


def start_echo(start_server):
    return start_server("listen", "-v", "-p", "0", "--transform", "echo")


class HealthyClient:
    """A well-behaved client of an echo server, in a thread: round trips of varied sizes, each
    reply checked, until stop() (or 2000 round trips, or 60 s). stop() returns the count and
    re-raises the first failure."""

    def __init__(self, port, seed, host=LOOP4):
        self.port, self.seed, self.host = port, seed, host
        self.count = 0
        self.started = threading.Event()
        self._stop = threading.Event()
        self._job = background(self._run)
        assert self.started.wait(10), "the healthy client could not complete a first round trip"

    def _run(self):
        rng = random.Random(self.seed)
        deadline = time.monotonic() + 60
        with connect(self.host, self.port, timeout=20) as sock:
            while not self._stop.is_set() and self.count < 2000 and time.monotonic() < deadline:
                message = rng.randbytes(rng.choice([1, 17, 1460, 4096, 30000, 65536]))
                sock.sendall(message)
                reply = recv_exact(sock, len(message), timeout=20)
                assert reply == message, f"round trip {self.count}: wrong echo of {len(message)} bytes"
                self.count += 1
                self.started.set()
            sock.shutdown(socket.SHUT_WR)
            assert recv_until_eof(sock, timeout=20) == b""
        return self.count

    def stop(self):
        self._stop.set()
        return self._job.join(60)


def round_trips(sock, count, seed):
    """`count` round trips of varied sizes on the open echo connection `sock`, each checked."""
    rng = random.Random(seed)
    for index in range(count):
        message = rng.randbytes(rng.choice([1, 17, 1460, 4096, 30000, 65536]))
        sock.sendall(message)
        assert recv_exact(sock, len(message), timeout=20) == message, f"round trip {index}: wrong echo"


def echo_round_trip(port, message, host=LOOP4, timeout=10):
    """A fresh client: send `message`, half-close, read the echo to EOF."""
    with connect(host, port, timeout=timeout) as sock:
        sock.sendall(message)
        sock.shutdown(socket.SHUT_WR)
        return recv_until_eof(sock, timeout=timeout)


def stream_echo(port, data, timeout=60):
    """Sends `data` to the echo server while reading the echo; returns (client port, echo)."""
    sock = connect(LOOP4, port, timeout=timeout)
    with sock:
        def send():
            view = memoryview(data)
            for offset in range(0, len(data), MIB):
                sock.sendall(view[offset:offset + MIB])
            sock.shutdown(socket.SHUT_WR)
        sender = background(send)
        echo = recv_until_eof(sock, timeout=timeout, limit=len(data))
        sender.join(timeout)
        return sock.getsockname()[1], echo


def wait_ending(server, port, timeout=10):
    """The 'closed' / 'failed' line of client `port`, waiting for it (the server's log is a
    counter in another process's pipe: polled)."""
    line = wait_until(lambda: ending_of(server, port), timeout=timeout)
    assert line, f"no closed/failed line for client port {port}: {server.stderr()[-3000:]}"
    return line


# 1. Resets --------------------------------------------------------------------------------------

def reset_at_once(port):
    sock = connect(LOOP4, port)
    local = sock.getsockname()[1]
    reset_close(sock)
    return local


def reset_when_idle(port):
    sock = connect(LOOP4, port)
    sock.sendall(b"q" * 65536)
    assert recv_exact(sock, 65536) == b"q" * 65536  # the server serves it; now it waits to read
    local = sock.getsockname()[1]
    reset_close(sock)
    return local


def reset_with_echo_unread(port):
    sock = connect(LOOP4, port)
    local = sock.getsockname()[1]
    pushed = push_without_reading(sock, 8 * MIB)  # the server is stuck sending the echo back
    assert pushed > 0
    reset_close(sock)
    return local


def reset_mid_echo(port):
    sock = connect(LOOP4, port)
    data = random_bytes(MIB, seed=5)
    sock.sendall(data)
    assert recv_exact(sock, MIB // 2) == data[:MIB // 2]  # half the echo read, half in flight
    local = sock.getsockname()[1]
    reset_close(sock)
    return local


def test_echo_server_resets_at_every_stage_do_not_touch_a_streaming_client(start_server):
    """Twenty clients reset (RST, SO_LINGER 0) at four stages of their sessions while a
    healthy client streams 16 MiB through the server: the stream comes back intact, every
    reset client is logged as failed with the reset, and the server goes on serving."""
    server = start_echo(start_server)
    data = random_bytes(16 * MIB, seed=16)
    streaming = background(stream_echo, server.port, data)
    healthy = HealthyClient(server.port, seed=1)
    stages = [reset_at_once, reset_when_idle, reset_with_echo_unread, reset_mid_echo]
    reset_ports = {}
    for _ in range(5):
        for stage in stages:
            reset_ports[stage(server.port)] = stage.__name__
    round_trips = healthy.stop()
    port, echo = streaming.join(60)
    assert round_trips > 0
    assert len(echo) == len(data) and echo == data, "the streaming client's echo was damaged"

    # Every reset client is logged as failed with the reset, and no other client failed. (A
    # client whose reset lands before its session starts is logged without its address: see
    # test_client_reset_before_its_session_starts_is_logged_with_its_address.)
    failed = f"failed: {RESET} ("
    assert wait_until(lambda: server.stderr().count(failed) == len(reset_ports), timeout=10), \
        server.stderr()[-3000:]
    wrong = {f"{reset_ports[p]} :{p}": ending_of(server, p) for p in reset_ports
             if ending_of(server, p) is not None and failed not in ending_of(server, p)}
    assert not wrong, f"reset clients not logged as failed with {RESET!r}: {wrong}"
    assert wait_ending(server, port).endswith(f"closed (received {len(data)} bytes, sent {len(data)})")
    assert echo_round_trip(server.port, b"after the resets\n") == b"after the resets\n"
    assert server.proc.poll() is None
    assert error_lines(server.stderr()) == [], server.stderr()[-3000:]


def test_client_reset_before_its_session_starts_is_logged_with_its_address(start_server):
    """Clients that connect and reset while the server is frozen (SIGSTOP) sit reset in the
    accept queue; accept() still returns them, with their address. The server must log them
    as failed with the reset and, like every other client, by address and port."""
    server = start_echo(start_server)
    server.signal(signal.SIGSTOP)
    try:
        ports = [reset_at_once(server.port) for _ in range(5)]
    finally:
        server.signal(signal.SIGCONT)
    failed = f"failed: {RESET} ("
    assert wait_until(lambda: server.stderr().count(failed) == len(ports), timeout=10), server.stderr()
    assert echo_round_trip(server.port, b"served\n") == b"served\n"
    unlogged = [p for p in ports if ending_of(server, p) is None]
    assert not unlogged, f"clients {unlogged} are not in the log by address; it says:\n{server.stderr()}"


@pytest.mark.parametrize("stage", ["client sending", "sockcat sending"])
def test_listen_relay_client_resets_mid_transfer(start_server, tmp_path, stage):
    """`sockcat listen` (transform none) whose client resets mid-transfer: exit 1 with one
    line naming the reset, and stdout holds only bytes the client sent, in order. Five tries,
    since which read or write meets the reset first must not matter."""
    sent_by_client = random_bytes(4 * MIB, seed=21)
    reply_file = tmp_path / "reply"
    reply_file.write_bytes(random_bytes(64 * MIB, seed=22) if stage == "sockcat sending" else b"")
    outcomes = []
    for _ in range(5):
        with open(reply_file, "rb") as stdin:
            server = start_server("listen", "-v", "-p", "0", stdin=stdin)
        out = background(server.proc.stdout.read)
        sock = connect(LOOP4, server.port)
        if stage == "client sending":
            sock.sendall(sent_by_client)  # sockcat has read some of it when the reset lands
            assert recv_until_eof(sock) == b""  # its empty stdin: half-closed at once
        else:
            sock.sendall(sent_by_client[:1000])
            recv_exact(sock, 65536)  # sockcat is mid-way through its 64 MiB stdin
        reset_close(sock)
        status = server.wait(10)
        outcomes.append((status, out.join(10), server.stderr()))
    for status, got, err in outcomes:
        assert status == 1, err
        assert sent_by_client.startswith(got)
        errors = error_lines(err)
        assert len(errors) == 1 and RESET in errors[0], err


@pytest.mark.parametrize("stdin", ["idle pipe", "devnull"])
def test_connect_peer_resets_right_after_accepting(procs, stdin):
    """The peer accepts and resets before a byte moves (stdin open and idle, or already at
    EOF and half-closed): exit 1, one line naming the reset, nothing on stdout."""
    listener, port = tcp_listener()
    proc = procs.sockcat("connect", LOOP4, port, stdout=subprocess.PIPE,
                         stdin=subprocess.PIPE if stdin == "idle pipe" else subprocess.DEVNULL)
    conn = accept(listener)
    if stdin == "devnull":
        assert recv_until_eof(conn) == b""  # sockcat has half-closed
    reset_close(conn)
    listener.close()
    status = wait_exit(proc, 5)
    assert (status, proc.stdout.read()) == (1, b"")
    assert_one_error_line(proc.stderr.read(), RESET)


def test_connect_peer_resets_while_sockcat_is_blocked_on_stdout(procs):
    """The peer sends what fits and resets while nobody reads sockcat's stdout (sockcat is stuck
    writing it). Once the reader drains it, sockcat reports the reset (exit 1, one line), and
    what it wrote is a prefix of what the peer sent."""
    data = random_bytes(64 * MIB, seed=23)
    listener, port = tcp_listener()
    proc = procs.sockcat("connect", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    conn = accept(listener)
    proc.stdin.write(b"!")
    proc.stdin.flush()
    assert recv_exact(conn, 1) == b"!"  # sockcat has connected and relays
    conn.setblocking(False)
    sent = 0
    while sent < len(data):  # until the socket buffers are full: sockcat is not being drained
        try:
            sent += conn.send(data[sent:sent + 65536])
        except BlockingIOError:
            break
    assert 0 < sent < len(data)
    reset_close(conn)
    listener.close()
    got = background(proc.stdout.read).join(10)
    status = wait_exit(proc, 5)
    assert status == 1
    assert data[:sent].startswith(got) and len(got) > 0
    assert_one_error_line(proc.stderr.read(), RESET)


# 2. A peer killed with SIGKILL --------------------------------------------------------------------

def test_echo_client_killed_mid_stream(start_server, procs):
    """A client streaming to the echo server (echoed bytes unread in its receive queue) is
    SIGKILLed. The kernel closes a socket with unread data by RST, so the server logs it as
    failed with the reset; a healthy client is served all along, and new clients afterwards."""
    server = start_echo(start_server)
    healthy = HealthyClient(server.port, seed=2)
    child = start_peer(procs, STREAMING_CLIENT, server.port, 256 * MIB, time_limit=30)
    child_port = int(expect_line(child, "port ")[0])
    expect_line(child, "streaming ")
    kill_and_reap(child)
    line = wait_ending(server, child_port)
    assert f"failed: {RESET}" in line, line
    round_trips = healthy.stop()
    assert round_trips > 0
    assert echo_round_trip(server.port, b"after the kill\n") == b"after the kill\n"
    assert echo_round_trip(server.port, b"over v6\n", host=LOOP6) == b"over v6\n"
    assert server.proc.poll() is None
    assert error_lines(server.stderr()) == []


def test_echo_client_killed_while_idle(start_server, procs):
    """A client that sent 1 MiB and read the whole echo is SIGKILLed while idle: nothing is
    unread, so the kernel closes it with FIN, and the server logs an ordinary close with
    matching counts (no failure)."""
    server = start_echo(start_server)
    child = start_peer(procs, IDLE_CLIENT, server.port, MIB)
    child_port = int(expect_line(child, "port ")[0])
    expect_line(child, "idle ")
    kill_and_reap(child)
    line = wait_ending(server, child_port)
    assert line == f"connection from 127.0.0.1:{child_port} closed (received {MIB} bytes, sent {MIB})"
    assert echo_round_trip(server.port, b"next\n") == b"next\n"
    assert server.proc.poll() is None


def test_connect_to_a_server_killed_with_unread_data(procs):
    """sockcat streams a large stdin to a server process that stopped reading (bytes wait in
    its receive queue) and is SIGKILLed: the kernel answers with RST, and sockcat exits 1
    promptly with one line naming the reset."""
    peer = start_peer(procs, STUCK_PEER, MIB)
    port = int(expect_line(peer, "port ")[0])
    generator = start_generator(procs, 1 << 30, seed=12)
    client = procs.sockcat("connect", LOOP4, port, stdin=generator.stdout, stdout=subprocess.PIPE)
    generator.stdout.close()
    expect_line(peer, "stuck ")
    kill_and_reap(peer)
    killed = time.monotonic()
    status = wait_exit(client, 5)
    assert time.monotonic() - killed < 3
    assert status == 1
    assert client.stdout.read() == b""
    assert_one_error_line(client.stderr.read(), RESET)
    written, _ = generator_result(generator)  # ends at EPIPE once sockcat has gone
    assert written < 1 << 30


def test_connect_to_a_sending_server_killed_with_nothing_unread(procs):
    """The server process streams to sockcat (whose stdin is /dev/null: the server has read
    the EOF, nothing is unread) and is SIGKILLed mid-stream. The kernel then closes with FIN
    after sending what the process had handed it, so sockcat writes all of that, nothing else,
    in order, and exits 0 quietly."""
    peer = start_peer(procs, RELAY_PEER, 1 << 30, 1, 1)
    port = int(expect_line(peer, "port ")[0])
    client = procs.sockcat("connect", LOOP4, port, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    output = background(hash_fd, client.stdout.fileno(), 30)
    reported = 0
    while reported < 4 * MIB:
        reported = int(expect_line(peer, "sent ")[0])
    kill_and_reap(peer)
    for line in peer.stdout.read().splitlines():  # what it said before it died
        if line.startswith(b"sent "):
            reported = int(line.split()[1])
    count, digest = output.join(30)
    assert wait_exit(client, 5) == 0
    assert client.stderr.read() == b""
    assert reported <= count < 1 << 30, (reported, count)
    assert digest == stream_digest(count, 10), "sockcat's output is not the stream's first bytes"


# 3. A peer stopped with SIGSTOP ---------------------------------------------------------------------

def test_echo_client_stopped_while_not_reading(start_server, procs):
    """A client pushes data at the echo server without reading until the server stops taking
    it, and is then frozen (SIGSTOP). Meanwhile another client is served, the server's memory
    stays bounded and it does not spin. After SIGCONT the frozen client reads its echo while
    sending the rest: every byte comes back, in order."""
    server = start_echo(start_server)
    total = 96 * MIB
    child = start_peer(procs, STOPPABLE_ECHO_CLIENT, server.port, 64 * MIB, total, time_limit=90)
    try:
        child_port = int(expect_line(child, "port ")[0])
        stalled = int(expect_line(child, "stalled ")[0])
        child.send_signal(signal.SIGSTOP)
        wait_stopped(child)
        # The server stopped reading from the client well before 64 MiB: it holds one chunk.
        assert stalled < 64 * MIB, f"the server read {stalled} bytes from a client that never read"

        with connect(LOOP4, server.port) as other:  # another client is served as usual
            round_trips(other, 100, seed=3)
        cpu = cpu_over(server.proc.pid, 1.0)
        assert cpu < 0.2, f"the server used {cpu:.2f} s of CPU in 1 s with a frozen client"
        peak = status_kib(server.proc.pid, "VmHWM")
        assert peak < rss_bound_kib(), f"server peak RSS {peak} KiB"
        assert ending_of(server, child_port) is None, "the frozen client was dropped"

        tell(child)
        resume(child)
        sent, sent_sha, received, received_sha = expect_line(child, "done ", timeout=90)
    finally:
        resume(child)
    assert int(sent) == total
    assert (int(received), received_sha) == (total, sent_sha)
    assert sent_sha == stream_digest(total, 9)
    assert wait_exit(child, 10, "client") == 0
    line = wait_ending(server, child_port)
    assert line.endswith(f"closed (received {total} bytes, sent {total})"), line


def test_connect_to_a_stopped_server(procs):
    """sockcat relays 128 MiB each way with a server process that is frozen (SIGSTOP)
    mid-transfer: sockcat blocks (its memory stays bounded, it does not spin: under 0.2 s of
    CPU in a 1 s window), and after SIGCONT everything arrives intact in both directions."""
    size = 128 * MIB
    peer = start_peer(procs, RELAY_PEER, size, 4 * MIB, 0, time_limit=90)
    try:
        port = int(expect_line(peer, "port ")[0])
        generator = start_generator(procs, size, seed=11)
        client = procs.sockcat("connect", LOOP4, port, stdin=generator.stdout, stdout=subprocess.PIPE)
        generator.stdout.close()
        output = background(hash_fd, client.stdout.fileno(), 90)
        expect_line(peer, "progress ")
        peer.send_signal(signal.SIGSTOP)
        wait_stopped(peer)

        cpu = cpu_over(client.pid, 1.0)
        assert cpu < 0.2, f"sockcat used {cpu:.2f} s of CPU in 1 s with its peer frozen"
        peak = status_kib(client.pid, "VmHWM")
        assert peak < rss_bound_kib(), f"sockcat peak RSS {peak} KiB"
        assert client.poll() is None

        resume(peer)
        received, received_sha = expect_line(peer, "done ", timeout=90)
    finally:
        resume(peer)
    assert generator_result(generator) == (size, stream_digest(size, 11))
    assert (int(received), received_sha) == (size, stream_digest(size, 11))
    assert output.join(90) == (size, stream_digest(size, 10))
    assert wait_exit(client, 10) == 0
    assert client.stderr.read() == b""


# 4. stdout goes away or fills up ----------------------------------------------------------------

def flood_socket(sock, seconds=20, limit=512 * MIB):
    """Sends to `sock` (without reading) until the reader is gone or the bounds are reached;
    returns the bytes sent."""
    block = b"flood " * 10922
    sent = 0
    deadline = time.monotonic() + seconds
    sock.settimeout(seconds)
    with sock:
        try:
            while sent < limit and time.monotonic() < deadline:
                sent += sock.send(block)
        except OSError:  # EPIPE / ECONNRESET: sockcat is gone
            pass
    return sent


# (role, stdout, stdin) combinations test_tcp_relay.py does not have.
STDOUT_FAULTS = [
    ("connect", "head", "file"),
    ("connect", "full", "idle pipe"),
    ("connect", "full", "file"),
    ("listen", "head", "devnull"),
    ("listen", "head", "idle pipe"),
    ("listen", "head", "file"),
    ("listen", "full", "idle pipe"),
    ("listen", "full", "file"),
]


@pytest.mark.parametrize("role, stdout, stdin", STDOUT_FAULTS, ids=["-".join(c) for c in STDOUT_FAULTS])
def test_stdout_fault_while_the_peer_floods(start_server, procs, tmp_path, role, stdout, stdin):
    """The peer floods sockcat, which writes to `| head -c 1` (the reader leaves) or to
    /dev/full; its stdin is /dev/null, an idle open pipe, or a 64 MiB file it is sending to a
    peer that does not read. sockcat ends promptly: exit 0 and nothing on stderr when the
    reader left, exit 1 and one line for /dev/full."""
    stdin_file = tmp_path / "stdin"
    stdin_file.write_bytes(random_bytes(64 * MIB, seed=40) if stdin == "file" else b"")
    stdin_arg = {"devnull": subprocess.DEVNULL, "idle pipe": subprocess.PIPE}.get(stdin)
    opened = open(stdin_file, "rb") if stdin == "file" else None
    full = open("/dev/full", "wb") if stdout == "full" else None
    head = None
    if stdout == "head":
        head = procs.popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    sink = head.stdin if head else full
    try:
        if role == "connect":
            listener, port = tcp_listener()
            proc = procs.sockcat("connect", LOOP4, port, stdin=opened or stdin_arg, stdout=sink)
            peer = background(lambda: flood_socket(accept(listener)))
        else:
            server = start_server("listen", "-v", "-p", "0", stdin=opened or stdin_arg, stdout=sink)
            proc = server.proc
            peer = background(lambda: flood_socket(connect(LOOP4, server.port)))
    finally:
        for stream in (opened, full, head.stdin if head else None):
            if stream:
                stream.close()  # only sockcat holds them now
    if head:
        assert background(head.stdout.read).join(10) == b"f"
        assert wait_exit(head, 5, "head") == 0
    gone = time.monotonic()
    status = wait_exit(proc, 5)
    assert time.monotonic() - gone < 3
    assert peer.join(30) > 0
    if role == "connect":
        listener.close()
        err = proc.stderr.read().decode(errors="replace")
        errors = stderr_lines(err)  # without -v: every stderr line counts
    else:
        server.wait(5)
        err = server.stderr()
        errors = error_lines(err)
    if stdin == "idle pipe":
        proc.stdin.close()
    if stdout == "head":
        assert (status, errors) == (0, []), err
    else:
        assert (status, errors) == (1, [f"sockcat: stdout: {os.strerror(errno.ENOSPC)}"]), err


# 5. Descriptor exhaustion --------------------------------------------------------------------------

FD_LIMIT = 64
EXHAUSTED = "accept: Too many open files (retrying every 100 ms)"


def hold_connections(port, count, timeout=10):
    """Opens `count` connections at once (non-blocking connects, all awaited within `timeout`
    seconds); the kernel completes the handshakes into the listen backlog whether or not the
    server accepts. Returns the connected sockets."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            socks.append(sock)
            sock.setblocking(False)
            assert sock.connect_ex((LOOP4, port)) in (0, errno.EINPROGRESS)
        pending = set(socks)
        deadline = time.monotonic() + timeout
        while pending:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{len(pending)} of {count} connects still pending after {timeout} s"
            _, writable, _ = select.select([], list(pending), [], remaining)
            for sock in writable:
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                sock.setblocking(True)
                sock.settimeout(10)
                pending.discard(sock)
        return socks
    except BaseException:
        for sock in socks:
            sock.close()
        raise


def exhausted_lines(server):
    return [line for line in server.stderr().splitlines() if "accept:" in line and "retrying" in line]


def exhaust(server, capacity, episode):
    """One exhaustion episode: 200 connections held against a server that can accept only
    `capacity` more. Checks (a) no spin, (b) the episode's line, (c) the accepted clients are
    answered. Returns (held sockets, ports of the accepted ones, all their ports)."""
    since = len(server.stderr_lines)
    held = hold_connections(server.port, 200)
    try:
        ours = {sock.getsockname()[1]: sock for sock in held}
        assert wait_until(lambda: len(exhausted_lines(server)) == episode, timeout=10), \
            f"episode {episode}: no accept failure reported: {server.stderr()[-2000:]}"
        accepted = [p for p in opened_ports(server, since) if p in ours]
        assert len(accepted) == capacity, f"accepted {len(accepted)}, descriptors for {capacity}"

        cpu = cpu_over(server.proc.pid, 2.0)  # (a)
        assert cpu < 0.3, f"the exhausted server used {cpu:.2f} s of CPU in 2 s"

        for index, port in enumerate(accepted):  # (c)
            message = b"client %d of episode %d\n" % (index, episode)
            ours[port].sendall(message)
            assert recv_exact(ours[port], len(message)) == message

        assert len(exhausted_lines(server)) == episode, exhausted_lines(server)  # (b)
        return held, accepted, ours
    except BaseException:
        for sock in held:
            sock.close()
        raise


def release(server, held):
    """(d) Closes every held connection; then a new client must be served (bounded retries:
    the server first drains the closed connections queued in its backlog)."""
    for sock in held:
        sock.close()
    for attempt in range(20):
        try:
            if echo_round_trip(server.port, b"recovered?\n", timeout=5) == b"recovered?\n":
                return attempt
        except (OSError, AssertionError):
            continue
    pytest.fail(f"no client served after the held connections closed: {server.stderr()[-2000:]}")


@pytest.mark.skipif(ubsan_vptr(), reason=NO_FD_EXHAUSTION_UNDER_UBSAN)
def test_descriptor_exhaustion_is_reported_once_and_survived(start_server):
    """The echo server under RLIMIT_NOFILE 64 gets 200 connections held open, twice. A client
    connected before stays served, each episode gets one line, the server recovers and (e)
    never dies."""
    server = start_echo(start_server)
    pid = server.proc.pid
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
    with connect(LOOP4, server.port) as before:
        round_trips(before, 5, seed=50)
        capacity = FD_LIMIT - open_fds(pid)
        assert 30 < capacity < FD_LIMIT - 3

        for episode in (1, 2):
            held, _, _ = exhaust(server, capacity, episode)
            round_trips(before, 5, seed=50 + episode)  # served while descriptors are exhausted
            release(server, held)  # the episode is over: the backlog drained, new clients served
            round_trips(before, 5, seed=60 + episode)

    lines = exhausted_lines(server)
    assert lines == [f"sockcat: {EXHAUSTED}"] * 2, lines
    assert server.proc.poll() is None, "the server died"
    assert echo_round_trip(server.port, b"still here\n") == b"still here\n"
    server.signal(signal.SIGTERM)
    assert server.wait(10) == 143


@pytest.mark.skipif(ubsan_vptr(), reason=NO_FD_EXHAUSTION_UNDER_UBSAN)
def test_descriptor_exhaustion_with_clients_leaving_is_one_episode(start_server):
    """While 200 connections wait on a server that is out of descriptors, accepted clients
    leave one at a time (the next once the last one's place is taken; ten of them). Each freed descriptor is taken by a
    queued client within a few 100 ms retries, but the server stays out of descriptors with
    clients queued throughout: one episode, one line (not one per freed descriptor)."""
    server = start_echo(start_server)
    resource.prlimit(server.proc.pid, resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
    capacity = FD_LIMIT - open_fds(server.proc.pid)
    since = len(server.stderr_lines)
    held, accepted, ours = exhaust(server, capacity, episode=1)
    try:
        for leaving, port in enumerate(accepted[:10], start=1):
            ours[port].close()
            left = time.monotonic()
            assert wait_until(lambda: len(set(opened_ports(server, since)) & set(ours)) >= capacity + leaving,
                              timeout=5), "a queued client was not accepted after a descriptor was freed"
            assert time.monotonic() - left < 1.5, "accept was not retried within a few 100 ms"
        assert len(set(opened_ports(server, since)) & set(ours)) == capacity + 10
        lines = exhausted_lines(server)
        assert lines == [f"sockcat: {EXHAUSTED}"], \
            f"{len(lines)} exhaustion lines for one episode; the log:\n" + \
            "\n".join(l for l in server.stderr().splitlines() if "accept" in l)
    finally:
        for sock in held:
            sock.close()
    release(server, [])
    assert server.proc.poll() is None


# 6. A client that sends forever and never reads ------------------------------------------------

def kernel_buffering_bound():
    """The most one echo client's bytes the kernel can hold on loopback before the server must
    read again: the client's send buffer, the server's receive buffer (autotuned up to
    tcp_rmem's maximum, 32 MiB on some machines), the server's send buffer, and the client's
    receive buffer, which never grows because the client never reads."""
    def maximum(name):
        with open(f"/proc/sys/net/ipv4/{name}") as f:
            return int(f.read().split()[2])
    client_receive = 256 * 1024
    return 2 * maximum("tcp_wmem") + maximum("tcp_rmem") + client_receive


def push_until_refused(port, limit, seconds):
    """A client that sends up to `limit` bytes and never reads (its receive buffer held small);
    stops when `seconds` pass or the server has taken nothing for 1 s. Returns (bytes sent,
    socket) with the socket open."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 * 1024)
    sock.connect((LOOP4, port))
    block = b"never reads " * 5461
    sent = 0
    deadline = time.monotonic() + seconds
    sock.settimeout(1.0)
    try:
        while sent < limit and time.monotonic() < deadline:
            sent += sock.send(block[:limit - sent])
    except socket.timeout:
        pass
    return sent, sock


def test_clients_that_never_read_are_held_to_their_buffers(start_server):
    """Four clients each try to push 16 MiB more than the kernel can buffer for them into the
    echo server without ever reading: the server stops reading each at the kernel's buffers plus
    one 64 KiB chunk, its peak RSS stays under the bound, and a healthy client is served
    meanwhile. Bound: 32 MiB Release (idle ~4 MiB + 4 x 64 KiB), 64 MiB under ASan (its runtime
    is ~28 MiB and freed chunks wait in its quarantine); buffering the unread data would need
    the whole 16 MiB surplus of each client."""
    server = start_echo(start_server)
    healthy = HealthyClient(server.port, seed=6)
    limit = kernel_buffering_bound() + 16 * MIB
    pushers = [background(push_until_refused, server.port, limit, 20) for _ in range(4)]
    results = [p.join(40) for p in pushers]
    try:
        round_trips = healthy.stop()
        peak = status_kib(server.proc.pid, "VmHWM")
        sent = [s for s, _ in results]
        assert peak < rss_bound_kib(), f"server peak RSS {peak} KiB after pushes of {sent}"
        assert all(s < limit for s in sent), \
            f"the server took more than the kernel can buffer ({limit} B) from clients that never read: {sent}"
        assert round_trips > 0
        for _, sock in results:  # none of them was dropped
            assert ending_of(server, sock.getsockname()[1]) is None
        assert echo_round_trip(server.port, b"meanwhile\n") == b"meanwhile\n"
    finally:
        for _, sock in results:
            sock.close()
    assert server.proc.poll() is None


# 7. Routing failures inside a private network namespace, and other connect/bind failures ------

# What the kernel answers connect() with for each kind of route (checked on Linux 6.x):
# "unreachable" -> EHOSTUNREACH, "prohibit" -> EACCES, "blackhole" -> EINVAL, and an address
# with no route at all (the namespace has only lo) -> ENETUNREACH.
ROUTE_FAULTS = [
    ("10.77.9.1", errno.EHOSTUNREACH),
    ("10.77.8.1", errno.EACCES),
    ("10.77.7.1", errno.EINVAL),
    ("10.77.6.1", errno.ENETUNREACH),
    ("2001:db8:77::1", errno.EHOSTUNREACH),
    ("2001:db8:78::1", errno.EACCES),
    ("2001:db8:76::1", errno.ENETUNREACH),
]
ROUTES = [["unreachable", "10.77.9.0/24"], ["prohibit", "10.77.8.0/24"], ["blackhole", "10.77.7.0/24"],
          ["unreachable", "2001:db8:77::/48"], ["prohibit", "2001:db8:78::/48"]]


@pytest.fixture(scope="module")
def netns():
    with private_netns(ROUTES) as name:
        yield name


@pytest.mark.parametrize("address, code", ROUTE_FAULTS,
                         ids=[f"{a}-{errno.errorcode[c]}" for a, c in ROUTE_FAULTS])
@pytest.mark.parametrize("wait", [[], ["-w", "2s"]], ids=["", "-w"])
def test_connect_route_failures_in_a_namespace(netns, address, code, wait):
    """`sockcat connect` inside a namespace with only lo: exit 1 at once with one line giving
    the kernel's reason. (No packet leaves the namespace: it has no other interface.)"""
    started = time.monotonic()
    result = subprocess.run(in_netns(netns, "connect", *wait, address, 80), stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=20)
    assert time.monotonic() - started < 5
    assert result.returncode == 1, result.stderr
    assert result.stdout == b""
    assert_one_error_line(result.stderr, os.strerror(code), address, "80")


def sockcat_argv(*args):
    return [SOCKCAT] + [str(a) for a in args]


def test_connect_from_a_source_port_in_use():
    """--source-port naming a port that a listener holds: exit 1, one line, address in use."""
    holder, held_port = tcp_listener()
    target, port = tcp_listener()
    try:
        result = subprocess.run(sockcat_argv("connect", "-s", LOOP4, "--source-port", held_port, LOOP4, port),
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        assert result.returncode == 1, result.stderr
        assert result.stdout == b""
        assert_one_error_line(result.stderr, os.strerror(errno.EADDRINUSE))
    finally:
        holder.close()
        target.close()


def test_connect_from_a_source_address_not_on_this_host():
    """-s with an address no interface has: exit 1, one line, cannot assign address."""
    target, port = tcp_listener()
    try:
        result = subprocess.run(sockcat_argv("connect", "-s", "192.0.2.1", LOOP4, port),
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        assert result.returncode == 1, result.stderr
        assert result.stdout == b""
        assert_one_error_line(result.stderr, os.strerror(errno.EADDRNOTAVAIL))
    finally:
        target.close()
