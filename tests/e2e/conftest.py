"""Shared helpers for the end-to-end tests: start the real sockcat binary, learn the port it
bound from its -v output, and end every process we started, by PID, when the test is over."""
import os
import random
import re
import signal
import subprocess
import threading
import time

import pytest

SOCKCAT = os.environ.get("SOCKCAT") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "sockcat")

LISTENING = re.compile(rb"listening on (\S+):(\d+) \((tcp|udp)\)")


class Server:
    """A sockcat process started with -v; `port` is the port it reported as bound. `wrapper`
    is an argv prefix that execs sockcat in the same process (unshare, for one)."""

    def __init__(self, args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, timeout=10,
                 wrapper=()):
        self.args = list(wrapper) + [SOCKCAT] + list(args)
        self.proc = subprocess.Popen(self.args, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
        self.stderr_lines = []
        self._bound = threading.Event()
        self.port = None
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self._bound.wait(timeout):
            self.stop()
            raise AssertionError(f"{self.args} never reported its port; stderr: {self.stderr()!r}")

    def _read_stderr(self):
        for line in iter(self.proc.stderr.readline, b""):
            self.stderr_lines.append(line)
            match = LISTENING.search(line)
            if match and self.port is None:
                self.port = int(match.group(2))
                self._bound.set()
        self._bound.set()  # the process ended: wake the waiter either way

    def stderr(self):
        """All stderr text so far (complete once the process has exited)."""
        return b"".join(self.stderr_lines).decode(errors="replace")

    def wait(self, timeout=30):
        """Waits for exit; returns the exit status."""
        status = self.proc.wait(timeout)
        self._reader.join(5)
        return status

    def signal(self, signum):
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def stop(self):
        """Ends the process (SIGTERM, then SIGKILL) if it is still running."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        for stream in (self.proc.stdout, self.proc.stdin):
            if stream:
                stream.close()
        self.proc.stderr.close()


@pytest.fixture
def start_server():
    """start_server(*args, **kw) starts `sockcat <args>` (add -v and -p 0 yourself) and
    returns a Server; every server is stopped when the test ends."""
    started = []

    def start(*args, **kwargs):
        server = Server(args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def run_sockcat(*args, input=None, timeout=30, **kwargs):
    """Runs sockcat to completion; returns the CompletedProcess (stdout/stderr as bytes)."""
    return subprocess.run([SOCKCAT] + list(args), input=input, capture_output=True,
                          timeout=timeout, **kwargs)


def run_sockcat_offline(*args, timeout=30):
    """Runs sockcat to completion in a private network namespace of its own (loopback only, and
    down), so that a name lookup that reaches DNS fails at once and no query leaves the machine.
    Skips the test where no namespace can be made."""
    result = subprocess.run(["unshare", "--net", SOCKCAT] + list(args), stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=timeout)
    if b"unshare:" in result.stderr:
        pytest.skip(f"no private network namespace here: {result.stderr!r}")
    return result


def wait_until(predicate, timeout=10, interval=0.01):
    """Polls `predicate` until it is true or `timeout` seconds pass; returns its last value.
    Use only where no event can be waited on (e.g. a counter in /proc)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def wait_log(server, pattern, count=1, timeout=10):
    """Waits until the server's stderr holds `count` matches of regex `pattern`; fails the test
    with the stderr otherwise. Returns the matches."""
    regex = re.compile(pattern)
    found = wait_until(lambda: len(regex.findall(server.stderr())) >= count, timeout=timeout)
    assert found, f"no {count} x {pattern!r} within {timeout} s; stderr: {server.stderr()!r}"
    return regex.findall(server.stderr())


LISTENING_UNIX = re.compile(rb"listening on (\S+) \(unix (stream|datagram)\)")


class UnixServer(Server):
    """A sockcat listener started with -v -U; `path` is the PATH or @NAME it reported."""
    path = None

    def _read_stderr(self):
        for line in iter(self.proc.stderr.readline, b""):
            self.stderr_lines.append(line)
            match = LISTENING_UNIX.search(line)
            if match and self.path is None:
                self.path = match.group(1).decode()
                self._bound.set()
        self._bound.set()


@pytest.fixture
def unix_server():
    """unix_server(*args, **kw) starts `sockcat listen -v -U <args>` and waits for its
    "listening on" line; every server is stopped, by PID, when the test ends."""
    started = []

    def start(*args, **kwargs):
        server = UnixServer(["listen", "-v", "-U"] + [str(a) for a in args], **kwargs)
        started.append(server)
        assert server.path is not None, server.stderr()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def sock_dir():
    """A short directory for socket files (sun_path holds 107 bytes; pytest's tmp_path can
    be long), removed with what is in it when the test ends."""
    path = f"/tmp/sockcat-unix-{os.getpid()}-{random.randrange(1 << 30):x}"
    os.mkdir(path)
    yield path
    for leaf in os.listdir(path):
        os.unlink(os.path.join(path, leaf))
    os.rmdir(path)
