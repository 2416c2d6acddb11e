"""Helpers for test_impaired_network.py: two network namespaces joined by impair.py (a
userspace netem between two TUN devices), sockcat started inside a namespace, and a stream of
deterministic pseudo-random data that is generated and hashed on the fly, never held whole.

Everything created here is named after this process's PID and removed when the test ends,
pass or fail: the namespaces by name, the processes by PID."""
import contextlib
import hashlib
import itertools
import json
import os
import random
import re
import subprocess
import sys
import threading
import time

import pytest

from conftest import LISTENING, SOCKCAT
from helpers_tcp import read_line

IMPAIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "impair.py")
ADDR_A = "10.77.0.1"
ADDR_B = "10.77.0.2"
MIB = 1 << 20

_serial = itertools.count()


def _ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)


class ImpairedLink:
    """Namespaces `ns_a` (ADDR_A) and `ns_b` (ADDR_B) and the impair.py process between them."""

    def __init__(self, ns_a, ns_b, proc, config):
        self.ns_a, self.ns_b, self.proc, self.config = ns_a, ns_b, proc, config
        self.counters = None

    def stop(self, timeout=15):
        """Ends the forwarder (EOF on its stdin) and returns its counters: {"a_to_b": {...},
        "b_to_a": {...}, "stopped_by": ...}. Idempotent."""
        if self.counters is not None:
            return self.counters
        try:
            out, err = self.proc.communicate(timeout=timeout)  # closes stdin: the stop signal
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=5)
        lines = [line for line in out.decode().splitlines() if line.startswith("counters ")]
        assert lines, f"impair.py ended without counters (status {self.proc.returncode}): " \
                      f"{err.decode(errors='replace')}"
        self.counters = json.loads(lines[-1][len("counters "):])
        return self.counters


@contextlib.contextmanager
def impaired_link(time_limit, congestion=None, **params):
    """Creates two namespaces joined by impair.py with `params` (its long options, e.g.
    loss=0.01, delay_ms=3), TCP congestion control `congestion` in both (default: the host's);
    yields an ImpairedLink; removes everything at the end. Skips the test, with the reason,
    when namespaces or TUN devices cannot be created (not root)."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces and TUN devices need root")
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("no /dev/net/tun: the kernel has no TUN driver")
    tag = f"{os.getpid()}-{next(_serial)}"
    ns_a, ns_b = f"sockcat-imp-{tag}-a", f"sockcat-imp-{tag}-b"
    created = []
    proc = None
    try:
        for ns in (ns_a, ns_b):
            result = _ip("netns", "add", ns)
            if result.returncode != 0:
                pytest.skip(f"cannot create a network namespace: {result.stderr.strip()}")
            created.append(ns)
            if congestion:
                result = _ip("netns", "exec", ns, "sysctl", "-qw",
                             f"net.ipv4.tcp_congestion_control={congestion}")
                assert result.returncode == 0, f"congestion control {congestion}: {result.stderr}"
        dev = f"sci{tag.replace('-', 'x')}"[:13]
        argv = [sys.executable, IMPAIR, "--ns-a", ns_a, "--ns-b", ns_b, "--dev-a", dev + "a",
                "--dev-b", dev + "b", "--addr-a", ADDR_A, "--addr-b", ADDR_B,
                "--time-limit", str(time_limit)]
        for name, value in params.items():
            argv += ["--" + name.replace("_", "-"), str(value)]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        line = read_line(proc.stdout.fileno(), timeout=20)
        if not line.startswith(b"ready "):
            proc.kill()
            _, err = proc.communicate(timeout=5)
            err = err.decode(errors="replace").strip()
            if "cannot create TUN device" in err:
                pytest.skip(f"cannot create TUN devices: {err}")
            raise AssertionError(f"impair.py did not start: {line!r} {err}")
        link = ImpairedLink(ns_a, ns_b, proc, json.loads(line[len("ready "):]))
        yield link
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for stream in (proc.stdin, proc.stdout, proc.stderr) if proc else ():
            with contextlib.suppress(OSError):
                stream.close()
        for ns in created:
            _ip("netns", "delete", ns)


def in_netns(ns, *args):
    """The argv that runs `sockcat ARGS` inside namespace `ns` (ip execs sockcat itself, so
    the PID of the process started is sockcat's)."""
    return ["ip", "netns", "exec", ns, os.path.abspath(SOCKCAT)] + [str(a) for a in args]


class NsServer:
    """`sockcat listen -v ...` in a namespace, started through `procs` (ended by PID at the end
    of the test); a thread keeps its stderr, `port` is the port it reported as bound."""

    def __init__(self, procs, ns, *args, stdout=subprocess.DEVNULL, timeout=20):
        self.proc = procs.popen(in_netns(ns, *args), stdin=subprocess.DEVNULL, stdout=stdout,
                                stderr=subprocess.PIPE)
        self.lines = []
        self.port = None
        self._changed = threading.Condition()
        self._ended = False
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self.wait_for(LISTENING, timeout):
            raise AssertionError(f"sockcat never reported its port: {self.stderr()!r}")
        self.port = int(LISTENING.search(self.stderr().encode()).group(2))

    def _read_stderr(self):
        for line in iter(self.proc.stderr.readline, b""):
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def stderr(self):
        with self._changed:
            return b"".join(self.lines).decode(errors="replace")

    def wait_for(self, pattern, timeout):
        """Waits until a stderr line matches `pattern` (a bytes regex); returns the match, or
        None when the process ends or `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    match = re.search(pattern, line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if self._ended or remaining <= 0:
                    return None
                self._changed.wait(remaining)


def payload_blocks(total, seed):
    """`total` bytes (a multiple of 1 MiB) of reproducible data, one MiB at a time: a single
    random MiB, rotated by a different amount for every MiB and stamped with its index, so no
    two MiB are alike and a lost, repeated or swapped MiB changes the hash."""
    block = random.Random(seed).randbytes(MIB)
    for index in range(total // MIB):
        turn = (index * 104729 + 7) % MIB
        rotated = block[turn:] + block[:turn]
        yield index.to_bytes(8, "big") + rotated[8:]


def feed(stream, total, seed):
    """Writes payload_blocks(total, seed) to `stream` and closes it; returns (bytes, sha256)."""
    digest = hashlib.sha256()
    sent = 0
    try:
        for chunk in payload_blocks(total, seed):
            digest.update(chunk)
            stream.write(chunk)
            sent += len(chunk)
    finally:
        with contextlib.suppress(OSError):
            stream.close()
    return sent, digest.hexdigest()


def digest_until_eof(stream, limit):
    """Reads `stream` to EOF (at most `limit` bytes plus one read), hashing as it goes;
    returns (bytes, sha256). The caller bounds the time: ending the writer ends the read."""
    digest = hashlib.sha256()
    count = 0
    fd = stream.fileno()
    while count <= limit:
        chunk = os.read(fd, MIB)
        if not chunk:
            break
        digest.update(chunk)
        count += len(chunk)
    return count, digest.hexdigest()
