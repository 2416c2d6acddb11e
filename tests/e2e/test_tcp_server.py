"""End-to-end tests of `sockcat listen --transform echo|upper`: the concurrent TCP server,
driven over loopback by sockcat clients and Python sockets."""
import hashlib
import random
import re
import select
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import run_sockcat, wait_until
from helpers_faults import sanitized
from helpers_tcp import (LOOP4, LOOP6, accept, background, connect, connection_log,
                         procs,  # noqa: F401
                         push_without_reading, random_bytes, recv_exact, recv_until_eof, reset_close,
                         rss_kib, tcp_listener)

CLOSED_LINE = re.compile(r"connection from (\S+):(\d+) closed \(received (\d+) bytes, sent (\d+)\)")


def server_rss_bound_kib():
    """The RSS a many-client server stays under while clients push data it does not read: 64 MiB
    (Release idles near 4 MiB), 96 MiB for an AddressSanitizer build (see helpers_faults)."""
    return (96 if sanitized() else 64) * 1024


def start_upper(start_server, *extra):
    return start_server("listen", "-v", "-p", "0", "--transform", "upper", *extra)


def closed_counts(server):
    """{(client address, client port): (received, sent)} from the server's 'closed' lines."""
    return {(m.group(1), int(m.group(2))): (int(m.group(3)), int(m.group(4)))
            for m in CLOSED_LINE.finditer(server.stderr())}


def client_key(sock):
    """How the server's log names the client `sock`: ('127.0.0.1', port) or ('[::1]', port)."""
    address, port = sock.getsockname()[:2]
    return ("[%s]" % address if ":" in address else address, port)


# (a) ------------------------------------------------------------------------------------------

def test_tutorial_upper_server_answers_hello(start_server):
    server = start_upper(start_server)
    assert "listening on [::]:%d (tcp)" % server.port in server.stderr()
    result = run_sockcat("connect", LOOP4, str(server.port), input=b"hello\n", timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"HELLO\n"
    assert result.stderr == b""
    # The server logged the client's connection and its byte counts.
    assert wait_until(lambda: any(v == (6, 6) for v in closed_counts(server).values()), timeout=5), \
        server.stderr()
    assert server.proc.poll() is None, "the server must keep running after a client leaves"


# (b) ------------------------------------------------------------------------------------------

CLIENTS = 100
ROUNDS = 50
SIZES = [1, 2, 3, 7, 31, 100, 512, 1000, 1460, 4096, 9000, 30000]
TEXT = b"abcdefghijklmnopqrstuvwxyz ABCXYZ 0123456789 \x00\xff\xc3\xa9\n{}`@[]"


def messages_for(client):
    rng = random.Random(1000 + client)
    messages = []
    for k in range(ROUNDS):
        size = rng.choice(SIZES)
        if k % 2:
            messages.append(rng.randbytes(size))  # any byte value, NUL and >= 0x80 included
        else:
            messages.append(bytes(rng.choices(TEXT, k=size)))
    return messages


def test_hundred_concurrent_clients_in_lockstep(start_server):
    """All 100 clients connect before any exchange, then every round is a barrier: a server
    that served clients one at a time would stall the barrier, so this needs real concurrency."""
    server = start_upper(start_server)
    barrier = threading.Barrier(CLIENTS, timeout=30)
    errors = []
    ports = []
    lock = threading.Lock()

    def client(index):
        messages = messages_for(index)
        sock = None
        try:
            sock = connect(LOOP6 if index % 4 == 0 else LOOP4, server.port, timeout=30)
            with lock:
                ports.append(client_key(sock))
            barrier.wait()  # every client is connected before the first exchange
            for message in messages:
                sock.sendall(message)
                reply = recv_exact(sock, len(message), timeout=30)
                if reply != message.upper():
                    raise AssertionError(f"client {index}: wrong reply to a {len(message)}-byte message")
                barrier.wait()
            sock.shutdown(socket.SHUT_WR)
            rest = recv_until_eof(sock, timeout=30)
            if rest:
                raise AssertionError(f"client {index}: {len(rest)} unexpected bytes before EOF")
        except BaseException as error:  # reported below; abort so no one waits for a dead client
            with lock:
                errors.append(f"client {index}: {error!r}")
            barrier.abort()
        finally:
            if sock:
                sock.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "clients still running after 120 s"
    # A broken barrier is a consequence; show the first real failure.
    real = [e for e in errors if "BrokenBarrierError" not in e] or errors
    assert not real, real[:5]
    assert len(ports) == CLIENTS

    assert wait_until(lambda: len(set(ports) & set(closed_counts(server))) == CLIENTS, timeout=10), \
        server.stderr()[-2000:]
    counts = closed_counts(server)
    for port in ports:
        received, sent = counts[port]
        assert received == sent, (port, received, sent)
    assert server.proc.poll() is None


# (c) ------------------------------------------------------------------------------------------

def test_echo_32_mib_with_sha256(start_server):
    server = start_server("listen", "-v", "-p", "0", "--transform", "echo")
    data = random_bytes(32 << 20, seed=32)
    sock = connect(LOOP4, server.port, timeout=60)
    port = client_key(sock)

    def send_all_then_half_close():
        view = memoryview(data)
        for offset in range(0, len(data), 1 << 20):
            sock.sendall(view[offset:offset + (1 << 20)])
        sock.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send_all_then_half_close, daemon=True)
    sender.start()
    digest = hashlib.sha256()
    received = 0
    deadline = time.monotonic() + 60
    while received <= len(data) and time.monotonic() < deadline:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break  # the server closed after echoing everything
        digest.update(chunk)
        received += len(chunk)
    else:
        pytest.fail(f"no EOF from the server ({received} bytes received)")
    sender.join(10)
    assert not sender.is_alive()
    sock.close()
    assert received == len(data)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert wait_until(lambda: port in closed_counts(server), timeout=5), server.stderr()
    assert closed_counts(server)[port] == (len(data), len(data))


# (d) ------------------------------------------------------------------------------------------

def test_connect_gets_reply_sent_only_after_its_eof(procs):
    """A Python server that answers only once it has the whole request (read until EOF):
    sockcat must half-close at stdin EOF and then still deliver the reply."""
    listener, port = tcp_listener()
    request = random_bytes(3 << 20, seed=4)

    def serve():
        conn = accept(listener, timeout=10)
        with conn:
            got = recv_until_eof(conn, timeout=20)
            reply = (b"got %d bytes sha256 %s\n" % (len(got), hashlib.sha256(got).hexdigest().encode())
                     + random_bytes(1 << 20, seed=5))
            conn.sendall(reply)
            return reply

    server = background(serve)
    proc = procs.sockcat("connect", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, err = proc.communicate(request, timeout=30)
    reply = server.join(10)
    listener.close()
    assert proc.returncode == 0, err
    assert err == b""
    assert out.startswith(b"got %d bytes sha256 %s\n" % (len(request), hashlib.sha256(request).hexdigest().encode()))
    assert out == reply


def test_listen_none_sends_its_stdin_to_a_client_that_half_closed(start_server, tmp_path):
    """`sockcat listen < reply > request`: the client sends its request and half-closes, then
    reads. The client's bytes land on stdout; sockcat's stdin (8 MiB: more than the socket
    buffers hold while the client is not reading) reaches the client in full although the
    client's EOF arrived first."""
    reply = random_bytes(8 << 20, seed=6)
    reply_file = tmp_path / "reply"
    reply_file.write_bytes(reply)
    request = b"GET /please\n" + random_bytes(200_000, seed=7)
    with open(reply_file, "rb") as stdin:
        server = start_server("listen", "-v", "-p", "0", stdin=stdin)
    stdout = background(server.proc.stdout.read)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)  # keep the window small
    sock.settimeout(20)
    sock.connect((LOOP4, server.port))
    sock.sendall(request)
    sock.shutdown(socket.SHUT_WR)
    got = recv_until_eof(sock, timeout=20)
    sock.close()
    assert server.wait(10) == 0, server.stderr()
    assert stdout.join(10) == request
    assert len(got) == len(reply)
    assert got == reply


# (e) ------------------------------------------------------------------------------------------

def test_reset_and_stalled_clients_do_not_disturb_a_healthy_one(start_server):
    server = start_upper(start_server)
    pid = server.proc.pid

    # The stalled client: sends as much as it can (at most 64 MiB) and never reads.
    stalled = connect(LOOP4, server.port)
    stalled_port = stalled.getsockname()[1]
    stalled.setblocking(False)
    block = b"stall " * 10923  # 64 KiB - 2
    limit = 64 << 20
    sent = 0
    deadline = time.monotonic() + 20
    while sent < limit and time.monotonic() < deadline:
        _, writable, _ = select.select([], [stalled], [], 0.5)
        if not writable:
            break  # no room for 0.5 s: the server has stopped reading from this client
        try:
            sent += stalled.send(block)
        except BlockingIOError:
            continue
    rss = rss_kib(pid)
    assert rss < server_rss_bound_kib(), f"server RSS {rss} KiB after a client sent {sent} bytes it never read"

    # The resetting client: pushes data without reading, then RST mid-transfer.
    resetter = connect(LOOP4, server.port)
    reset_port = resetter.getsockname()[1]
    resetter.sendall(b"x" * 4096)
    assert recv_exact(resetter, 4096) == b"X" * 4096  # the server is serving it
    push_without_reading(resetter, 1 << 20)
    reset_close(resetter)
    assert wait_until(lambda: any(" failed: " in line for line in connection_log(server, reset_port)),
                      timeout=10), server.stderr()[-2000:]

    # The healthy client: round trips of varied sizes, all answered correctly.
    healthy = connect(LOOP4, server.port)
    healthy_port = client_key(healthy)
    rng = random.Random(99)
    total = 0
    for _ in range(200):
        message = rng.randbytes(rng.choice([1, 10, 300, 5000, 70000]))
        healthy.sendall(message)
        assert recv_exact(healthy, len(message)) == message.upper()
        total += len(message)
    healthy.shutdown(socket.SHUT_WR)
    assert recv_until_eof(healthy) == b""
    healthy.close()
    assert wait_until(lambda: healthy_port in closed_counts(server), timeout=5)
    assert closed_counts(server)[healthy_port] == (total, total)

    # The stalled client is still connected (the server neither dropped nor finished it),
    # and the server's memory stayed bounded all along.
    assert not any("closed" in l or "failed" in l for l in connection_log(server, stalled_port)), \
        connection_log(server, stalled_port)
    assert server.proc.poll() is None
    rss = rss_kib(pid)
    assert rss < server_rss_bound_kib(), f"server RSS {rss} KiB"
    stalled.close()


# (f) ------------------------------------------------------------------------------------------

def upper_round_trip(host, port):
    with connect(host, port) as sock:
        sock.sendall(b"ipv6 and ipv4\n")
        sock.shutdown(socket.SHUT_WR)
        return recv_until_eof(sock)


def refused(host, port):
    try:
        with socket.create_connection((host, port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def test_bind_ipv6_loopback(start_server):
    server = start_upper(start_server, "-b", LOOP6)
    assert "listening on [::1]:%d (tcp)" % server.port in server.stderr()
    assert upper_round_trip(LOOP6, server.port) == b"IPV6 AND IPV4\n"
    result = run_sockcat("connect", "-6", LOOP6, str(server.port), input=b"hello v6\n", timeout=10)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"HELLO V6\n", b"")
    assert refused(LOOP4, server.port)


def test_wildcard_listen_is_dual_stack(start_server):
    server = start_upper(start_server)
    assert upper_round_trip(LOOP6, server.port) == b"IPV6 AND IPV4\n"
    assert upper_round_trip(LOOP4, server.port) == b"IPV6 AND IPV4\n"
    for family, host in (("-6", LOOP6), ("-4", LOOP4)):
        result = run_sockcat("connect", family, host, str(server.port), input=b"dual\n", timeout=10)
        assert (result.returncode, result.stdout, result.stderr) == (0, b"DUAL\n", b"")


def test_listen_4_refuses_ipv6_clients(start_server):
    server = start_upper(start_server, "-4")
    assert upper_round_trip(LOOP4, server.port) == b"IPV6 AND IPV4\n"
    assert refused(LOOP6, server.port)


def test_listen_6_refuses_ipv4_clients(start_server):
    server = start_upper(start_server, "-6")
    assert upper_round_trip(LOOP6, server.port) == b"IPV6 AND IPV4\n"
    assert refused(LOOP4, server.port)


# (g) ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_ends_server_promptly_with_clients_connected(start_server, signum, status):
    server = start_server("listen", "-v", "-p", "0", "--transform", "echo")
    clients = []
    for index in range(5):
        sock = connect(LOOP4 if index % 2 else LOOP6, server.port)
        sock.sendall(b"ping %d" % index)
        assert recv_exact(sock, 6) == b"ping %d" % index  # the server is serving this client
        clients.append(sock)
    push_without_reading(clients[0], 4 << 20)  # one client mid-transfer, not reading its echo
    started = time.monotonic()
    server.signal(signum)
    assert server.wait(5) == status, server.stderr()
    assert time.monotonic() - started < 3
    for sock in clients:
        sock.close()
