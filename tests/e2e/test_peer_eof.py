"""What a relay does when its peer's end of file arrives while stdin is still open (issue 10,
point 17): stdout is closed at once, so a reader downstream sees its end while stdin still
flows; a one-client listener ends once stdin delivers nothing for 500 ms (a client that has
gone for good, `sockcat -l PORT > file` started with an open, silent stdin), yet a client that
only half-closed still gets every byte stdin delivers; connect keeps sending until stdin ends."""
import os
import select
import socket
import subprocess
import threading
import time

from helpers_tcp import (LOOP4, accept, connect, procs, random_bytes, recv_until_eof,  # noqa: F401
                         tcp_listener, wait_exit)

IDLE_LIMIT = 0.5  # seconds: PeerEofPolicy::until_source_idle's limit, as the man page says


def read_to_eof(fd, timeout):
    """Everything a raw descriptor yields until its EOF; fails the test if no EOF comes within
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    parts = []
    while True:
        left = deadline - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], \
            f"no EOF within {timeout} s ({sum(map(len, parts))} bytes read)"
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


class Feeder:
    """Writes one numbered line to `pipe` every `interval` seconds from a thread, until stopped;
    `sent` holds everything written."""

    def __init__(self, pipe, interval):
        self.pipe, self.interval = pipe, interval
        self.sent = bytearray()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        number = 0
        while not self.stopping.wait(self.interval):
            line = b"tick %d\n" % number
            os.write(self.pipe.fileno(), line)
            self.sent += line
            number += 1

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        assert not self.thread.is_alive()
        return bytes(self.sent)


def listen(procs):
    """A one-client listener with stdin an open pipe that the test controls; returns the
    process and its port."""
    proc = procs.sockcat("listen", "-v", "-p", "0", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = b""
    deadline = time.monotonic() + 10
    while b"listening on" not in line and time.monotonic() < deadline:
        line = proc.stderr.readline()
        assert line, "sockcat ended before listening"
    return proc, int(line.rsplit(b":", 1)[1].split()[0])


def test_listener_ends_when_its_client_has_gone_and_stdin_is_an_idle_open_pipe(procs):
    proc, port = listen(procs)
    payload = random_bytes(3 << 20, 17)
    output = {}
    reader = threading.Thread(target=lambda: output.setdefault("data", read_to_eof(proc.stdout.fileno(), 30)),
                              daemon=True)
    reader.start()
    with connect(LOOP4, port) as client:
        client.sendall(payload)
    started = time.monotonic()
    assert wait_exit(proc, 10) == 0  # before the fix: never, while stdin stays open
    assert time.monotonic() - started < 5
    reader.join(10)
    assert output.get("data") == payload  # everything received reached stdout
    assert b"stdin delivered nothing for 500 ms" in proc.stderr.read()
    assert proc.stdin.closed is False  # stdin was open all along


def test_listener_sends_what_stdin_still_delivers_to_a_client_that_only_half_closed(procs):
    proc, port = listen(procs)
    queued = b"queued before the client came\n" * 2000  # waits in the pipe
    os.write(proc.stdin.fileno(), queued)
    with connect(LOOP4, port) as client:
        client.sendall(b"request\n")
        client.shutdown(socket.SHUT_WR)  # half-close: it still reads
        feeder = Feeder(proc.stdin, IDLE_LIMIT / 5)  # stdin keeps flowing, never idle for long
        try:
            # The client's EOF closes sockcat's stdout at once, while stdin still flows.
            assert read_to_eof(proc.stdout.fileno(), 5) == b"request\n"
            assert proc.poll() is None
        finally:
            ticks = feeder.stop()
        time.sleep(IDLE_LIMIT / 2)  # a pause shorter than the limit: the next write still goes
        os.write(proc.stdin.fileno(), b"after a pause\n")
        proc.stdin.close()
        received = recv_until_eof(client, 10)
    assert received == queued + ticks + b"after a pause\n"
    assert wait_exit(proc, 10) == 0


def test_connect_closes_stdout_at_the_peers_eof_and_keeps_sending_stdin(procs):
    listener, port = tcp_listener()
    with listener:
        proc = procs.sockcat("connect", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        with accept(listener) as server:
            server.sendall(b"abc\n")
            server.shutdown(socket.SHUT_WR)
            # ncat's "Client closes stdout and keeps running after socket EOF".
            assert read_to_eof(proc.stdout.fileno(), 5) == b"abc\n"
            # A client waits for the end of stdin, however long it is silent.
            try:
                proc.wait(IDLE_LIMIT * 3)
            except subprocess.TimeoutExpired:
                pass
            assert proc.poll() is None, "connect ended while stdin was still open"
            os.write(proc.stdin.fileno(), b"more\n")
            proc.stdin.close()
            assert recv_until_eof(server, 10) == b"more\n"
    assert wait_exit(proc, 10) == 0
