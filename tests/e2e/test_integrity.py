"""Every byte arrives, in order, checked with SHA-256, at the sizes that matter: nothing, one
byte, exactly one relay buffer (64 KiB), one buffer and one byte, and 1 GiB. Each size goes
both ways through the relay (connect stdin -> listen stdout, listen stdin -> connect stdout)
and through the echo server (connect stdin -> echo -> connect stdout), with pipes at sockcat's
stdin and stdout (moved by splice) and with Unix socket pairs (moved by read/write through the
64 KiB relay buffer).

The data is a deterministic pseudo-random stream (helpers_faults.stream_blocks): a child
process writes it into sockcat's stdin, hashing what it writes, and the test hashes sockcat's
stdout as it reads the pipe. Nothing holds the 1 GiB in memory."""
import socket
import subprocess

import pytest

from conftest import wait_until
from helpers_faults import (MIB, error_lines, generator_result, hash_fd, stream_bytes,
                            stream_digest, start_generator)
from helpers_tcp import LOOP4, LOOP6, background, procs, wait_exit  # noqa: F401

GIB = 1 << 30
SIZES = [0, 1, 65536, 65537, GIB]
SIZE_IDS = ["0", "1", "64KiB", "64KiB+1", "1GiB"]
DIRECTIONS = ["connect-to-listen", "listen-to-connect", "echo"]


def timeout_for(size):
    return 300 if size >= GIB else 30


def endings_port(lines):
    """The client port in the first 'connection from [::1]:PORT closed' line (or 0)."""
    for line in lines:
        if "[::1]:" in line:
            return int(line.split("[::1]:")[1].split()[0])
    return 0


def check_generated(generator, size, seed):
    """The generator wrote the whole stream; returns its SHA-256 (recomputed here as well for
    the small sizes, which is cheap)."""
    written, digest = generator_result(generator, timeout=timeout_for(size))
    assert written == size
    if size <= 64 * MIB:
        assert digest == stream_digest(size, seed)
    return digest


class Stdio:
    """How the test connects to sockcat's stdin (fed by the generator) and to the stdout it
    hashes. "pipe": pipes, which sockcat moves with splice(); "socketpair": Unix socket pairs,
    which it moves with read()/write() through its 64 KiB relay buffer."""

    def __init__(self, kind):
        self.kind = kind
        self._parent_copies = []

    def feed(self, procs, size, seed):
        """Starts the generator; returns (it, the descriptor or stream for sockcat's stdin)."""
        if self.kind == "pipe":
            generator = start_generator(procs, size, seed)
            self._parent_copies.append(generator.stdout)
            return generator, generator.stdout
        ours, theirs = socket.socketpair()
        generator = start_generator(procs, size, seed, stdout=ours.fileno())
        self._parent_copies += [ours, theirs]
        return generator, theirs.fileno()

    def sink(self):
        """Returns (the descriptor or PIPE for sockcat's stdout, a function giving the end to
        read once sockcat has started)."""
        if self.kind == "pipe":
            return subprocess.PIPE, None
        ours, theirs = socket.socketpair()
        self._parent_copies.append(theirs)
        self.reading = ours
        return theirs.fileno(), ours

    def started(self):
        """sockcat and the generator hold their ends now: close the test's copies, so that
        EOF arrives when they close theirs."""
        for end in self._parent_copies:
            end.close()


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("stdio", ["pipe", "socketpair"])
def test_every_byte_arrives(start_server, procs, stdio, direction, size):
    seed = 100 + SIZES.index(size)
    ends = Stdio(stdio)
    generator, stdin = ends.feed(procs, size, seed)
    stdout, reading = ends.sink()
    if direction == "connect-to-listen":
        server = start_server("listen", "-v", "-p", "0", stdin=subprocess.DEVNULL, stdout=stdout)
        client = procs.sockcat("connect", LOOP4, server.port, stdin=stdin, stdout=subprocess.PIPE)
        receiving, other = reading or server.proc.stdout, client.stdout
    elif direction == "listen-to-connect":
        server = start_server("listen", "-v", "-p", "0", stdin=stdin, stdout=subprocess.PIPE)
        client = procs.sockcat("connect", LOOP4, server.port, stdin=subprocess.DEVNULL, stdout=stdout)
        receiving, other = reading or client.stdout, server.proc.stdout
    else:
        server = start_server("listen", "-v", "-p", "0", "--transform", "echo")
        client = procs.sockcat("connect", LOOP6, server.port, stdin=stdin, stdout=stdout)
        receiving, other = reading or client.stdout, None
    ends.started()
    other_output = background(other.read) if other else None

    try:
        count, digest = hash_fd(receiving.fileno(), timeout=timeout_for(size))
    finally:
        if reading:
            reading.close()
    sent_digest = check_generated(generator, size, seed)
    assert count == size, f"{count} bytes arrived of {size}"
    assert digest == sent_digest, "the bytes that arrived differ from the bytes sent"

    assert wait_exit(client, 30) == 0, client.stderr.read()
    assert client.stderr.read() == b""
    if direction == "echo":
        # The server logs the close after closing: the client may be gone before the line is.
        endings = wait_until(lambda: [l for l in server.stderr().splitlines() if " closed (" in l or " failed: " in l],
                             timeout=10)
        assert endings == [f"sockcat: connection from [::1]:{endings_port(endings)} closed "
                           f"(received {size} {'byte' if size == 1 else 'bytes'}, sent {size})"], server.stderr()
        assert server.proc.poll() is None, "the echo server must keep running"
    else:
        assert server.wait(30) == 0, server.stderr()
        assert other_output.join(30) == b""
    assert error_lines(server.stderr()) == [], server.stderr()


# The same through regular files at both ends (sockcat may move file data differently from
# pipe data), at the buffer edges and at the edges of 1 MiB.
FILE_SIZES = [0, 1, 65536, 65537, MIB, MIB + 1, 64 * MIB + 7]


@pytest.mark.parametrize("size", FILE_SIZES)
@pytest.mark.parametrize("direction", ["connect-to-listen", "listen-to-connect"])
def test_every_byte_arrives_file_to_file(start_server, procs, tmp_path, direction, size):
    data = stream_bytes(size, 200 + FILE_SIZES.index(size))
    source, sink = tmp_path / "source", tmp_path / "sink"
    source.write_bytes(data)
    with open(source, "rb") as stdin, open(sink, "wb") as stdout:
        if direction == "connect-to-listen":
            server = start_server("listen", "-v", "-p", "0", stdin=subprocess.DEVNULL, stdout=stdout)
            client = procs.sockcat("connect", LOOP4, server.port, stdin=stdin, stdout=subprocess.PIPE)
        else:
            server = start_server("listen", "-v", "-p", "0", stdin=stdin, stdout=subprocess.PIPE)
            client = procs.sockcat("connect", LOOP4, server.port, stdin=subprocess.DEVNULL, stdout=stdout)
    assert wait_exit(client, 60) == 0, client.stderr.read()
    assert server.wait(60) == 0, server.stderr()
    assert client.stderr.read() == b""
    assert error_lines(server.stderr()) == []
    pipe_end = client.stdout if direction == "connect-to-listen" else server.proc.stdout
    assert pipe_end.read() == b""  # the side with nothing to receive printed nothing
    got = sink.read_bytes()
    assert len(got) == size
    assert got == data
