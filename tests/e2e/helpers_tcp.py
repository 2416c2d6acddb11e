"""Helpers for the TCP end-to-end tests (test_tcp_*.py, test_exit_*.py): loopback peers
written in Python, bounded socket reads, and a fixture that ends every process a test started,
by PID. Every wait here has a deadline; nothing sleeps in place of an event."""
import hashlib
import os
import random
import re
import select
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import SOCKCAT

LOOP4 = "127.0.0.1"
LOOP6 = "::1"


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def unused_port(host=LOOP4):
    """A port on `host` with nothing listening: bind an ephemeral port, note it, close it."""
    with socket.socket(family_of(host), socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def tcp_listener(host=LOOP4, backlog=16, port=0):
    """A listening Python socket on `host` (no SO_REUSEADDR); returns (socket, port)."""
    sock = socket.socket(family_of(host), socket.SOCK_STREAM)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock, sock.getsockname()[1]


def accept(listener, timeout=10):
    """Accepts one connection within `timeout` seconds; the connection gets the same timeout."""
    listener.settimeout(timeout)
    conn, _ = listener.accept()
    conn.settimeout(timeout)
    return conn


def connect(host, port, timeout=10):
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def recv_exact(sock, count, timeout=10):
    """Reads exactly `count` bytes; fails the test on EOF or when `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    parts = []
    left = count
    while left > 0:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out with {count - left} of {count} bytes")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(min(left, 1 << 20))
        except socket.timeout:
            raise AssertionError(f"timed out with {count - left} of {count} bytes") from None
        if not chunk:
            raise AssertionError(f"EOF after {count - left} of {count} bytes")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def recv_until_eof(sock, timeout=10, limit=1 << 30):
    """Reads until EOF (at most `limit` bytes); fails the test when `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    parts = []
    total = 0
    while total <= limit:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no EOF within {timeout} s ({total} bytes read)")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            chunk = None
        if chunk is None:
            raise AssertionError(f"no EOF within {timeout} s ({total} bytes read: "
                                 f"{b''.join(parts)[:40]!r}...)")
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        total += len(chunk)
    raise AssertionError(f"more than {limit} bytes before EOF")


def sees_eof_within(sock, seconds):
    """True when `sock` reports EOF within `seconds`; False when it stays quiet. Data that
    arrives instead of EOF fails the test. (Waiting for an event that must NOT happen needs a
    time bound: this is that bound, not a stand-in for synchronisation.)"""
    readable, _, _ = select.select([sock], [], [], seconds)
    if not readable:
        return False
    data = sock.recv(65536)
    assert data == b"", f"expected EOF or nothing, got {len(data)} bytes: {data[:40]!r}"
    return True


def reset_close(sock):
    """Closes `sock` with SO_LINGER {1, 0}: the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def random_bytes(count, seed):
    return random.Random(seed).randbytes(count)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def rss_kib(pid):
    """VmRSS of a live process, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def stderr_lines(stderr):
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    return [line for line in text.splitlines() if line.strip()]


def assert_one_error_line(stderr, *needles):
    """stderr is exactly one line, starting 'sockcat: ' and containing every needle
    (case-insensitive); returns that line."""
    lines = stderr_lines(stderr)
    assert len(lines) == 1, f"expected exactly one stderr line, got {lines!r}"
    line = lines[0]
    assert line.startswith("sockcat: "), line
    for needle in needles:
        assert needle.lower() in line.lower(), f"{needle!r} not in {line!r}"
    return line


def connection_log(server, peer_port):
    """The server's -v lines about the client whose local port is `peer_port`."""
    pattern = re.compile(r"connection from \S+:%d\b" % peer_port)
    return [line for line in server.stderr().splitlines() if pattern.search(line)]


def background(target, *args):
    """Runs target(*args) in a daemon thread; join() returns its result or re-raises its error."""
    box = {}

    def run():
        try:
            box["value"] = target(*args)
        except BaseException as error:  # handed to the test thread by join()
            box["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    class Handle:
        def join(self, timeout=30):
            thread.join(timeout)
            assert not thread.is_alive(), f"{target.__name__} still running after {timeout} s"
            if "error" in box:
                raise box["error"]
            return box.get("value")

    return Handle()


class Procs:
    """Starts processes and ends the ones still running, by PID, when the test is over."""

    def __init__(self):
        self.started = []

    def sockcat(self, *args, **kwargs):
        return self.popen([SOCKCAT] + [str(a) for a in args], **kwargs)

    def popen(self, argv, **kwargs):
        kwargs.setdefault("stderr", subprocess.PIPE)
        proc = subprocess.Popen(argv, **kwargs)
        self.started.append(proc)
        return proc

    def close(self):
        for proc in self.started:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream:
                    try:
                        stream.close()
                    except OSError:
                        pass


@pytest.fixture
def procs():
    started = Procs()
    yield started
    started.close()


def wait_exit(proc, timeout, what="sockcat"):
    """Waits for `proc` to exit and returns its status. A process still running after
    `timeout` fails the test: it is ended (SIGTERM to its PID) and its stderr is shown."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    pytest.fail(f"{what} (pid {proc.pid}) still running {timeout} s later; stderr: {err!r}")


def push_without_reading(sock, limit):
    """Sends up to `limit` bytes without blocking and without reading anything back; stops at
    the first moment the socket has no room. Returns the bytes sent; `sock` stays non-blocking."""
    sock.setblocking(False)
    block = b"push-without-reading " * 3121  # ~64 KiB
    sent = 0
    while sent < limit:
        try:
            sent += sock.send(block[:limit - sent])
        except BlockingIOError:
            break
    return sent


def read_fd(fd, count, timeout=10):
    """Reads exactly `count` bytes from a raw descriptor (pipe, terminal), waiting at most
    `timeout` seconds in all; returns what arrived (shorter on EOF or timeout)."""
    deadline = time.monotonic() + timeout
    data = b""
    while len(data) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, count - len(data))
        if not chunk:
            break
        data += chunk
    return data


def read_line(fd, timeout):
    """One line from a raw descriptor within `timeout` seconds (b"" on EOF or timeout); reads
    a byte at a time so nothing after the line is consumed."""
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n") and len(line) < 65536:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            break
        byte = os.read(fd, 1)
        if not byte:
            break
        line += byte
    return line
