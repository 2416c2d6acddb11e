"""End-to-end tests of the relay (`sockcat connect` and `sockcat listen --transform none`):
bytes both ways over loopback, half-close, early ends on either side, and stdin/stdout of
every kind (regular file, pipe, /dev/null, terminal, closed)."""
import fcntl
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import SOCKCAT
from helpers_tcp import (LOOP4, accept, background, connect, procs,  # noqa: F401
                         random_bytes, read_fd, recv_exact, recv_until_eof, sees_eof_within,
                         tcp_listener, wait_exit)

MIB = 1 << 20


def serve_once(listener, to_send, read_first=False):
    """Accepts one client; sends `to_send` then closes, while reading everything the client
    sends until its EOF (before sending, when `read_first`). Returns what the client sent."""
    conn = accept(listener, timeout=20)
    with conn:
        if read_first:
            received = recv_until_eof(conn, timeout=30)
            conn.sendall(to_send)
            return received
        reader = background(recv_until_eof, conn, 30)
        conn.sendall(to_send)
        conn.shutdown(socket.SHUT_WR)
        return reader.join(30)


# (a) ------------------------------------------------------------------------------------------

def test_connect_stdin_to_listen_stdout_8_mib(start_server, procs, tmp_path):
    """`sockcat listen > out < /dev/null` and `sockcat connect < file`: the listener has
    nothing to send and half-closes at once; every byte of the file must still arrive."""
    data = random_bytes(8 * MIB, seed=1)
    (tmp_path / "in").write_bytes(data)
    with open(tmp_path / "out", "wb") as out:
        server = start_server("listen", "-v", "-p", "0", stdin=subprocess.DEVNULL, stdout=out)
    with open(tmp_path / "in", "rb") as stdin:
        client = procs.sockcat("connect", LOOP4, server.port, stdin=stdin, stdout=subprocess.PIPE)
    out, err = client.communicate(timeout=30)
    assert (client.returncode, out, err) == (0, b"", b"")
    assert server.wait(30) == 0, server.stderr()
    assert (tmp_path / "out").read_bytes() == data


def test_listen_stdin_to_connect_stdout_8_mib(start_server, procs, tmp_path):
    """The reverse direction: `sockcat listen < file` and `sockcat connect > out < /dev/null`."""
    data = random_bytes(8 * MIB, seed=2)
    (tmp_path / "in").write_bytes(data)
    with open(tmp_path / "in", "rb") as stdin:
        server = start_server("listen", "-v", "-p", "0", stdin=stdin, stdout=subprocess.PIPE)
    with open(tmp_path / "out", "wb") as out:
        client = procs.sockcat("connect", LOOP4, server.port, stdin=subprocess.DEVNULL, stdout=out)
    assert wait_exit(client, 30) == 0
    assert client.stderr.read() == b""
    assert server.wait(30) == 0, server.stderr()
    assert server.proc.stdout.read() == b""
    assert (tmp_path / "out").read_bytes() == data


# (b) ------------------------------------------------------------------------------------------

def test_both_directions_at_once_through_two_relays(start_server, procs, tmp_path):
    up = random_bytes(8 * MIB, seed=3)
    down = random_bytes(8 * MIB, seed=4)
    (tmp_path / "up").write_bytes(up)
    (tmp_path / "down").write_bytes(down)
    with open(tmp_path / "down", "rb") as stdin, open(tmp_path / "server_out", "wb") as out:
        server = start_server("listen", "-v", "-p", "0", stdin=stdin, stdout=out)
    with open(tmp_path / "up", "rb") as stdin, open(tmp_path / "client_out", "wb") as out:
        client = procs.sockcat("connect", LOOP4, server.port, stdin=stdin, stdout=out)
    assert wait_exit(client, 30) == 0, client.stderr.read()
    assert server.wait(30) == 0, server.stderr()
    assert (tmp_path / "server_out").read_bytes() == up
    assert (tmp_path / "client_out").read_bytes() == down


def test_both_directions_at_once_through_pipes(start_server, procs):
    """Pipes at all four ends, fed and drained by the test at the same time."""
    up = random_bytes(8 * MIB, seed=5)
    down = random_bytes(8 * MIB, seed=6)
    server = start_server("listen", "-v", "-p", "0", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    client = procs.sockcat("connect", LOOP4, server.port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def feed(stream, data):
        stream.write(data)
        stream.close()

    jobs = [background(feed, server.proc.stdin, down), background(feed, client.stdin, up),
            background(server.proc.stdout.read), background(client.stdout.read)]
    assert jobs[0].join(30) is None and jobs[1].join(30) is None
    server_out, client_out = jobs[2].join(30), jobs[3].join(30)
    assert wait_exit(client, 30) == 0, client.stderr.read()
    assert server.wait(30) == 0, server.stderr()
    assert server_out == up
    assert client_out == down


# (c) ------------------------------------------------------------------------------------------

KINDS = ["file", "pipe", "devnull"]


@pytest.mark.parametrize("stdin_kind", KINDS)
@pytest.mark.parametrize("stdout_kind", KINDS)
def test_stdin_and_stdout_kinds(procs, tmp_path, stdin_kind, stdout_kind):
    up = random_bytes(MIB + 17, seed=7)
    down = random_bytes(MIB + 29, seed=8)
    listener, port = tcp_listener()
    server = background(serve_once, listener, down)

    stdin = {"file": None, "pipe": subprocess.PIPE, "devnull": subprocess.DEVNULL}[stdin_kind]
    if stdin_kind == "file":
        (tmp_path / "in").write_bytes(up)
        stdin = open(tmp_path / "in", "rb")
    stdout = {"file": None, "pipe": subprocess.PIPE, "devnull": subprocess.DEVNULL}[stdout_kind]
    if stdout_kind == "file":
        stdout = open(tmp_path / "out", "wb")
    try:
        client = procs.sockcat("connect", LOOP4, port, stdin=stdin, stdout=stdout)
    finally:
        if stdin_kind == "file":
            stdin.close()
        if stdout_kind == "file":
            stdout.close()
    out, err = client.communicate(up if stdin_kind == "pipe" else None, timeout=30)
    received = server.join(30)
    listener.close()
    assert client.returncode == 0, err
    assert err == b""
    assert received == (b"" if stdin_kind == "devnull" else up)
    if stdout_kind == "pipe":
        assert out == down
    elif stdout_kind == "file":
        assert (tmp_path / "out").read_bytes() == down


# (d) ------------------------------------------------------------------------------------------

def test_no_shutdown_keeps_sending_side_open(procs):
    listener, port = tcp_listener()
    client = procs.sockcat("connect", "--no-shutdown", LOOP4, port, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE)
    client.stdin.write(b"hello")
    client.stdin.close()  # stdin ends here
    conn = accept(listener)
    assert recv_exact(conn, 5) == b"hello"
    # sockcat has read "hello" and then the EOF right behind it; with --no-shutdown the peer
    # must not see EOF. (A bounded wait for something that must not happen.)
    assert not sees_eof_within(conn, 0.5), "--no-shutdown half-closed the connection anyway"
    conn.sendall(b"from the server\n")
    conn.close()
    assert wait_exit(client, 10) == 0, client.stderr.read()
    listener.close()
    assert (client.stdout.read(), client.stderr.read()) == (b"from the server\n", b"")


def test_default_half_closes_at_stdin_eof(procs):
    listener, port = tcp_listener()
    client = procs.sockcat("connect", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    client.stdin.write(b"hello")
    client.stdin.close()
    conn = accept(listener)
    assert recv_until_eof(conn, timeout=5) == b"hello"  # the peer sees EOF after stdin ends
    conn.sendall(b"after your EOF\n")  # the other direction is still open
    conn.close()
    assert wait_exit(client, 10) == 0, client.stderr.read()
    listener.close()
    assert (client.stdout.read(), client.stderr.read()) == (b"after your EOF\n", b"")


# (e) ------------------------------------------------------------------------------------------

def test_connect_keeps_sending_stdin_to_a_peer_that_half_closed(procs):
    """The peer sends 1 MiB and half-closes; sockcat's stdin is a pipe that goes on. What the
    pipe carries afterwards still reaches the peer (a receiver whose own stdin was empty
    half-closes at once), and sockcat exits 0 once stdin ends."""
    payload = random_bytes(MIB, seed=9)
    later = random_bytes(256 * 1024, seed=99)
    listener, port = tcp_listener()
    client = procs.sockcat("connect", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    output = background(client.stdout.read)
    conn = accept(listener)
    conn.sendall(payload)
    conn.shutdown(socket.SHUT_WR)
    client.stdin.write(later)
    client.stdin.flush()
    assert recv_exact(conn, len(later)) == later
    assert client.poll() is None, "sockcat ended while its stdin still had a reader"
    client.stdin.close()
    assert recv_until_eof(conn) == b"", "the half-close at stdin EOF did not reach the peer"
    status = wait_exit(client, 5)
    conn.close()
    listener.close()
    assert status == 0, client.stderr.read()
    assert output.join(10) == payload
    assert client.stderr.read() == b""


def test_connect_ends_at_the_reset_of_a_peer_that_fully_closed(procs):
    """The peer sends 1 MiB and closes entirely while sockcat's pipe stdin stays open: all of
    it reaches stdout, and the first chunk sockcat sends afterwards draws the peer's reset,
    which ends the session at once (exit 0: the peer had closed normally first)."""
    payload = random_bytes(MIB, seed=10)
    listener, port = tcp_listener()
    client = procs.sockcat("connect", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    conn = accept(listener)
    conn.sendall(payload)
    conn.close()
    # Only once everything has arrived: a reset also discards data still in flight to us.
    assert read_fd(client.stdout.fileno(), len(payload)) == payload
    client.stdin.write(b"one more line\n")
    client.stdin.flush()
    status = wait_exit(client, 5)
    listener.close()
    assert status == 0, client.stderr.read()
    assert client.stdout.read() == b""
    assert client.stderr.read() == b""


def test_listen_keeps_sending_stdin_after_its_client_half_closed(start_server):
    """Same for `listen --transform none`: the client sends and half-closes; sockcat's stdin
    pipe goes on and its data still reaches the client; at stdin EOF sockcat exits 0."""
    payload = random_bytes(MIB, seed=11)
    later = b"still talking\n" * 1000
    server = start_server("listen", "-v", "-p", "0", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    output = background(server.proc.stdout.read)
    with connect(LOOP4, server.port) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        server.proc.stdin.write(later)
        server.proc.stdin.flush()
        assert recv_exact(sock, len(later)) == later
        server.proc.stdin.close()
        assert recv_until_eof(sock) == b""
    assert server.wait(5) == 0, server.stderr()
    assert output.join(10) == payload


def test_connect_exits_when_peer_closes_while_terminal_stdin_stays_open(procs):
    """The interactive case: stdin is a terminal nobody types on."""
    master, slave = os.openpty()
    try:
        listener, port = tcp_listener()
        client = procs.sockcat("connect", LOOP4, port, stdin=slave, stdout=subprocess.PIPE)
        output = background(client.stdout.read)
        conn = accept(listener)
        conn.sendall(b"bye\n")
        conn.close()
        assert wait_exit(client, 5) == 0, client.stderr.read()
        assert output.join(10) == b"bye\n"
        listener.close()
    finally:
        os.close(master)
        os.close(slave)


# (f) ------------------------------------------------------------------------------------------

def flood(listener, deadline_seconds=20, limit=512 * MIB):
    """Accepts one client and sends to it until it goes away (or the bounds are reached);
    returns the number of bytes sent."""
    conn = accept(listener)
    block = b"flood " * 10922
    sent = 0
    deadline = time.monotonic() + deadline_seconds
    with conn:
        try:
            while sent < limit and time.monotonic() < deadline:
                sent += conn.send(block)
        except OSError:  # EPIPE / ECONNRESET / timeout: the reader is gone
            pass
    return sent


@pytest.mark.parametrize("stdin_kind", ["devnull", "open pipe"])
def test_stdout_closed_early_exits_quietly(procs, stdin_kind):
    """`sockcat connect ... | head -c 1` while the peer keeps sending."""
    listener, port = tcp_listener()
    server = background(flood, listener)
    stdin = subprocess.DEVNULL if stdin_kind == "devnull" else subprocess.PIPE
    client = procs.sockcat("connect", LOOP4, port, stdin=stdin, stdout=subprocess.PIPE)
    head = procs.popen(["head", "-c", "1"], stdin=client.stdout, stdout=subprocess.PIPE)
    client.stdout.close()  # only head holds the read end now
    assert background(head.stdout.read).join(10) == b"f"
    started = time.monotonic()
    assert wait_exit(client, 5) == 0
    assert time.monotonic() - started < 3
    assert client.stderr.read() == b""
    assert wait_exit(head, 5, "head") == 0
    server.join(30)
    listener.close()


# (g) ------------------------------------------------------------------------------------------

def send_and_close(listener, data):
    """Accepts one client and sends it `data`; a client that resets meanwhile is fine."""
    conn = accept(listener)
    with conn:
        try:
            conn.sendall(data)
        except OSError:  # sockcat gave up (its stdout failed) and its close reset the connection
            pass


def test_stdout_on_dev_full_fails_with_one_line(procs):
    listener, port = tcp_listener()
    server = background(send_and_close, listener, b"data\n" * 20000)
    with open("/dev/full", "wb") as full:
        client = procs.sockcat("connect", LOOP4, port, stdin=subprocess.DEVNULL, stdout=full)
    assert wait_exit(client, 10) == 1
    err = client.stderr.read()
    assert err == b"sockcat: stdout: No space left on device\n", err
    server.join(30)
    listener.close()


def test_listen_stdout_on_dev_full_fails_with_one_line(start_server):
    with open("/dev/full", "wb") as full:
        server = start_server("listen", "-p", "0", "-v", stdin=subprocess.DEVNULL, stdout=full)
    with connect(LOOP4, server.port) as sock:
        try:
            sock.sendall(b"data\n" * 20000)
            sock.shutdown(socket.SHUT_WR)
            recv_until_eof(sock, timeout=10)
        except OSError:  # sockcat gave up (its stdout failed) and its close reset the connection
            pass
    assert server.wait(10) == 1
    errors = [line for line in server.stderr().splitlines()
              if line.startswith("sockcat: ") and "listening on" not in line and "connection" not in line]
    assert errors == ["sockcat: stdout: No space left on device"], server.stderr()


# (h) ------------------------------------------------------------------------------------------

def status_flags(fd):
    return fcntl.fcntl(fd, fcntl.F_GETFL)


def set_nonblocking(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, status_flags(fd) | os.O_NONBLOCK)


@pytest.mark.parametrize("nonblocking_before", [False, True])
def test_pipe_status_flags_left_as_found(procs, nonblocking_before):
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    try:
        if nonblocking_before:
            set_nonblocking(in_read)
            set_nonblocking(out_write)
        before = (status_flags(in_read), status_flags(out_write))
        listener, port = tcp_listener()
        client = procs.sockcat("connect", LOOP4, port, stdin=in_read, stdout=out_write)
        conn = accept(listener)
        os.write(in_write, b"ping")
        assert recv_exact(conn, 4) == b"ping"  # sockcat is running and has read its stdin
        conn.sendall(b"pong")
        os.close(in_write)
        in_write = -1
        assert recv_until_eof(conn, timeout=5) == b""
        conn.close()
        assert wait_exit(client, 5) == 0, client.stderr.read()
        assert read_fd(out_read, 4) == b"pong"
        after = (status_flags(in_read), status_flags(out_write))
        assert after == before, f"flags before {before}, after {after}"
        listener.close()
    finally:
        for fd in (in_read, in_write, out_read, out_write):
            if fd >= 0:
                os.close(fd)


@pytest.mark.parametrize("nonblocking_before", [False, True])
def test_terminal_status_flags_left_as_found(procs, nonblocking_before):
    master, slave = os.openpty()
    try:
        if nonblocking_before:
            set_nonblocking(slave)
        before = status_flags(slave)
        listener, port = tcp_listener()
        client = procs.sockcat("connect", LOOP4, port, stdin=slave, stdout=slave)
        conn = accept(listener)
        os.write(master, b"typed\n")
        assert recv_exact(conn, 6) == b"typed\n"  # sockcat is running and reading the terminal
        conn.sendall(b"shown\n")
        conn.close()
        assert wait_exit(client, 5) == 0, client.stderr.read()
        after = status_flags(slave)
        assert after == before, f"flags before {before:#o}, after {after:#o}"
        # The terminal shows the echo of what was typed, then sockcat's output.
        assert read_fd(master, len(b"typed\r\nshown\r\n")) == b"typed\r\nshown\r\n"
        listener.close()
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_status_flags_left_as_found_after_a_signal(procs, signum):
    """Interrupted mid-session, with stdin a terminal and stdout a pipe."""
    master, slave = os.openpty()
    out_read, out_write = os.pipe()
    try:
        before = (status_flags(slave), status_flags(out_write))
        listener, port = tcp_listener()
        client = procs.sockcat("connect", LOOP4, port, stdin=slave, stdout=out_write)
        conn = accept(listener)
        os.write(master, b"typed\n")
        assert recv_exact(conn, 6) == b"typed\n"
        conn.sendall(b"shown\n")
        assert read_fd(out_read, 6) == b"shown\n"  # both descriptors are in use
        client.send_signal(signum)
        assert wait_exit(client, 5) == 128 + signum
        after = (status_flags(slave), status_flags(out_write))
        assert after == before, f"flags before {before}, after {after}"
        conn.close()
        listener.close()
    finally:
        for fd in (master, slave, out_read, out_write):
            os.close(fd)


# (i) ------------------------------------------------------------------------------------------

def test_closed_stdin_is_empty_input(procs):
    """fd 0 not open at all (`<&-`): the peer sees EOF at once and no bytes; the peer's reply
    still reaches stdout and sockcat exits 0."""
    listener, port = tcp_listener()
    client = procs.popen(["bash", "-c", 'exec "$@" <&-', "bash", SOCKCAT, "connect", LOOP4, str(port)],
                         stdout=subprocess.PIPE)
    conn = accept(listener)
    received = recv_until_eof(conn, timeout=5)
    assert received == b"", f"sockcat sent {received!r} from a closed stdin"
    conn.sendall(b"reply\n")
    conn.close()
    out, err = client.communicate(timeout=10)
    listener.close()
    assert (client.returncode, out, err) == (0, b"reply\n", b"")
