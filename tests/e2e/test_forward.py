"""`sockcat listen --forward TARGET` (issue 13 part 2), end to end over loopback, with peers we
did not write wherever one fits: socat (`fork EXEC:/bin/cat` as an echo target, `EXEC:sha256sum`
as a hashing sink, and as a TCP and a Unix client), OpenBSD `nc -N` and ncat as clients,
`openssl s_server` and `s_client` on the TLS sides, and Python's socket and ssl modules where a
target must do something exact (answer only after the client's EOF, half-close first, reset,
record what it saw). (ncat 7.93's `--exec` is no target here: it loses what its program writes
after the client's EOF, with or without sockcat in between.)

Covered: SHA-256 integrity for 24 concurrent clients (1-4 MiB each, both ways, and the -v byte
counts) and 64 MiB one way into sha256sum; a reply sent after the client's EOF; the target
half-closing first while the client goes on sending; a refused target (the client closed with no
data, one -v line, the server goes on, and serves the same target once it listens); a target
killed mid-stream (its client sees the end at once, a neighbour and later clients are served)
and a target that resets; -m, -i and --deny; Unix targets (a path and an abstract name) and a -U
listener; an [IPv6]:PORT target; TLS termination (Python ssl and openssl s_client clients,
a reply after the client's close_notify); TLS origination (verified against the test CA, the
wrong name refused with a -v line that names it, --forward-ssl-servername as SNI, a pin right
and wrong); and usage errors (exit 2, one line). `listen -u --forward` (UDP) is not built yet
and not tested here.

Every wait has a deadline and every loop a bound; processes are ended by PID (socat's
per-connection children too), and a check after each test fails it if a child is left."""
import contextlib
import hashlib
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import run_sockcat, wait_log, wait_until
from helpers_dns import held_dns  # noqa: F401 (a fixture)
from helpers_peers import NC_OPENBSD, SOCAT, finish, start_foreign_server, stop_process
from helpers_proxy import descendants, end_leftovers, have_ipv6_loopback
import helpers_tls
from helpers_tcp import (LOOP4, LOOP6, assert_one_error_line, background, connect,
                         connection_log, recv_exact, recv_until_eof, reset_close)
from helpers_tls import (NCAT, OPENSSL, PyTlsServer, client_context, echo_handler,
                         s_server_argv, server_context, tls_exchange)

# The test CA's PKI (a session fixture; an assignment, unlike an import used only as a
# parameter name, keeps pyflakes quiet).
pki = helpers_tls.pki

MIB = 1024 * 1024
SHA256SUM = "/usr/bin/sha256sum"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def random_bytes(seed, size):
    return random.Random(seed).randbytes(size)


# --- the forwarder ----------------------------------------------------------------------------

def forward(start_server, target, *extra):
    """`sockcat listen -b 127.0.0.1 -p 0 -v --forward TARGET ...`; returns the Server."""
    return start_server("listen", "-b", LOOP4, "-p", "0", "-v", "--forward", str(target),
                        *[str(a) for a in extra])


@contextlib.contextmanager
def explained(server):
    """A failure inside (a reset, a missing line) that comes from sockcat having exited is
    reported as that exit, with its status and stderr."""
    try:
        yield
    except (AssertionError, OSError) as error:
        status = server.proc.poll()
        if status is not None:
            raise AssertionError(f"sockcat exited with status {status} during the test "
                                 f"(-N: signal N); stderr: {server.stderr()!r}") from error
        raise


def closed_line(server, client_port, timeout=10):
    """Waits for the -v line that ends the client at `client_port`; returns it."""
    pattern = r"connection from [^\s]+:%d (?:closed|failed|dropped)[^\n]*" % client_port
    return wait_log(server, pattern, timeout=timeout)[0]


def counts_line(server, client_port, received, sent, timeout=10):
    """Waits for the clean end of the client at `client_port` with exactly these byte counts
    (received = client->target, sent = target->client)."""
    wait_log(server, r"connection from [^\s]+:%d closed \(received %d bytes?, sent %d\)"
             % (client_port, received, sent), timeout=timeout)


def closed_unread(sock, timeout=5):
    """Waits until the far end closes `sock` (FIN: "eof", or RST: "reset") and fails the test if
    one byte arrives first or nothing happens within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        raise AssertionError(f"not closed within {timeout} s") from None
    assert data == b"", f"expected no data at all, got {data[:60]!r}"
    return "eof"


def echo_round(sock, message, timeout=10):
    sock.sendall(message)
    assert recv_exact(sock, len(message), timeout) == message


def send_then_eof(sock, data):
    sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)


def hash_to_eof(sock, timeout=60, limit=1 << 31):
    """Reads `sock` to EOF without keeping the bytes; returns (size, sha256 hex)."""
    hasher = hashlib.sha256()
    size = 0
    deadline = time.monotonic() + timeout
    while size <= limit:
        left = deadline - time.monotonic()
        assert left > 0, f"no EOF within {timeout} s ({size} bytes read)"
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            raise AssertionError(f"no EOF within {timeout} s ({size} bytes read)") from None
        if not chunk:
            return size, hasher.hexdigest()
        hasher.update(chunk)
        size += len(chunk)
    raise AssertionError(f"more than {limit} bytes before EOF")


# --- Python targets -------------------------------------------------------------------------

class Seen:
    """What a Python target saw of one connection."""

    def __init__(self, address):
        self.address = address  # the forwarder's end of the target connection
        self.received = b""
        self.size = 0
        self.sha = ""
        self.ending = ""        # "eof", or the error that ended it
        self.done = threading.Event()


class PyTarget:
    """A stream server on a thread of the test process: a TCP port of 127.0.0.1 (or ::1), a
    Unix path or an abstract name, or a socket already bound by the caller (listen() is called
    here). `handler(conn, seen)` serves each connection on a thread of its own; `seen` lists the
    connections in order of arrival."""

    def __init__(self, handler, host=LOOP4, unix=None, sock=None):
        self.handler = handler
        self.seen = []
        self.arrived = threading.Condition()
        self._stop = threading.Event()
        if sock is None:
            if unix is not None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.bind(unix)
            else:
                sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
                sock.bind((host, 0))
        self.listener = sock
        self.port = sock.getsockname()[1] if sock.family != socket.AF_UNIX else None
        sock.listen(64)
        sock.settimeout(0.2)  # so that stop() is seen within 0.2 s
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, address = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            seen = Seen(address)
            with self.arrived:
                self.seen.append(seen)
                self.arrived.notify_all()
            threading.Thread(target=self._serve, args=(conn, seen), daemon=True).start()

    def _serve(self, conn, seen):
        try:
            conn.settimeout(30)
            self.handler(conn, seen)
        except OSError as error:
            seen.ending = seen.ending or repr(error)
        finally:
            conn.close()
            seen.done.set()

    def count(self):
        with self.arrived:
            return len(self.seen)

    def wait_seen(self, count, timeout=20):
        """Waits until `count` connections have arrived and ended; returns them."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.seen) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"only {len(self.seen)} of {count} connections reached the target"
                self.arrived.wait(left)
            seen = self.seen[:count]
        for one in seen:
            assert one.done.wait(max(0.0, deadline - time.monotonic())), \
                f"a target connection never ended: {one.address}"
        return seen

    def stop(self):
        self._stop.set()
        self.listener.close()
        self._thread.join(5)


@pytest.fixture
def py_target():
    """py_target(handler, **kw) starts a PyTarget; each is stopped when the test ends."""
    started = []

    def start(handler, **kwargs):
        target = PyTarget(handler, **kwargs)
        started.append(target)
        return target

    yield start
    for target in started:
        target.stop()


def read_all(conn, seen, limit=1 << 30):
    """Reads to EOF; records and returns the bytes."""
    parts = []
    total = 0
    while total <= limit:
        chunk = conn.recv(1 << 20)
        if not chunk:
            seen.ending = "eof"
            break
        parts.append(chunk)
        total += len(chunk)
    seen.received = b"".join(parts)
    seen.size = len(seen.received)
    seen.sha = sha256(seen.received)
    return seen.received


def echo(conn, seen):
    """Sends back every byte; at the client's EOF sends its own."""
    hasher = hashlib.sha256()
    for _ in range(1 << 30):  # ends at EOF; bounded anyway
        chunk = conn.recv(1 << 20)
        if not chunk:
            seen.ending = "eof"
            break
        hasher.update(chunk)
        seen.size += len(chunk)
        conn.sendall(chunk)
    seen.sha = hasher.hexdigest()
    conn.shutdown(socket.SHUT_WR)


def reply_after_eof(make_reply):
    """A handler that reads everything up to the client's EOF and only THEN replies
    make_reply(received) and closes: a relay that ends the client at its EOF loses the reply."""
    def handler(conn, seen):
        data = read_all(conn, seen)
        conn.sendall(make_reply(data))
        conn.shutdown(socket.SHUT_WR)
    return handler


def digest_reply(data):
    return b"%d %s\n" % (len(data), sha256(data).encode())


def big_reply(data):
    """A digest of what came, then 1 MiB more: more than the socket buffers hold at once."""
    return digest_reply(data) + random_bytes(len(data), MIB)


# --- processes we did not write ---------------------------------------------------------------

@pytest.fixture
def foreign_tree():
    """foreign_tree(make_argv) starts a third-party server on a free port of 127.0.0.1 and waits
    (bounded) until it listens; returns (process, port). At the end the process is ended by PID,
    and so is every child it left (socat fork makes one per connection, and a cat each)."""
    started = []

    def start(make_argv):
        proc, port = start_foreign_server(make_argv, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        return proc, port

    yield start
    for proc in started:
        tree = descendants(proc.pid)
        stop_process(proc)
        end_leftovers(tree)


def socat_echo_argv(port):
    """socat serving every connection with a /bin/cat of its own: a child socat per
    connection holds the socket and feeds cat; at the client's EOF cat's stdin ends, and the
    child sends its EOF once cat has written everything (-t 30: it waits that long at most).
    (ncat --keep-open --exec /bin/cat is no echo for bulk: 7.93 loses the tail of what cat
    writes after the client's EOF, even without sockcat between them.)"""
    return [SOCAT, "-t", "30", f"TCP-LISTEN:{port},bind={LOOP4},reuseaddr,fork,backlog=64",
            "EXEC:/bin/cat"]


def child_pids(pid):
    """The PIDs whose parent is `pid` (from /proc)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(entry))
    return found


# === 1. integrity under concurrency ===========================================================

def test_24_concurrent_clients_through_socat_echo_sha256_both_ways(start_server, foreign_tree):
    """24 clients connect first (all at once), then each sends 1-4 MiB of random data and
    reads the echo to EOF. Whatever came back is what was sent, and for every client the -v
    line counts exactly its size in each direction."""
    _, target_port = foreign_tree(socat_echo_argv)
    server = forward(start_server, f"{LOOP4}:{target_port}")
    rng = random.Random(1301)
    sizes = [rng.randrange(MIB, 4 * MIB + 1) for _ in range(24)]
    datas = [random_bytes(1000 + i, size) for i, size in enumerate(sizes)]
    everyone_connected = threading.Barrier(len(datas))

    def client(data):
        sock = connect(LOOP4, server.port, timeout=60)
        try:
            everyone_connected.wait(20)
            sender = background(send_then_eof, sock, data)
            size, digest = hash_to_eof(sock, timeout=60)
            sender.join(60)
            return sock.getsockname()[1], size, digest
        finally:
            sock.close()

    started = time.monotonic()
    handles = [background(client, data) for data in datas]
    results = [handle.join(90) for handle in handles]
    elapsed = time.monotonic() - started
    for data, (port, size, digest) in zip(datas, results):
        assert (size, digest) == (len(data), sha256(data)), f"client at port {port}"
    for data, (port, _, _) in zip(datas, results):
        counts_line(server, port, len(data), len(data))
    assert server.proc.poll() is None
    assert elapsed < 60, elapsed


def test_64_mib_one_way_into_sha256sum(start_server, foreign_tree):
    """64 MiB into socat EXEC:sha256sum, which prints the digest only at its stdin's EOF: the
    digest is the client's, and it still comes back after the client's EOF."""
    _, target_port = foreign_tree(lambda port: [
        SOCAT, "-t", "30", f"TCP-LISTEN:{port},bind={LOOP4},reuseaddr", f"EXEC:{SHA256SUM}"])
    server = forward(start_server, f"{LOOP4}:{target_port}")
    data = random_bytes(64, 64 * MIB)
    sock = connect(LOOP4, server.port, timeout=60)
    try:
        sender = background(send_then_eof, sock, data)
        reply = recv_until_eof(sock, timeout=60, limit=4096)
        sender.join(60)
        port = sock.getsockname()[1]
    finally:
        sock.close()
    assert reply == sha256(data).encode() + b"  -\n"
    counts_line(server, port, 64 * MIB, len(reply))


# === 2, 3. half-close, both ways ===============================================================

def test_reply_after_the_clients_eof(start_server, py_target):
    """The target reads to the client's EOF and only then replies (1 MiB and more): the whole
    reply reaches the client, then EOF; the -v lines name the target connection as the target
    saw it and count both directions."""
    target = py_target(reply_after_eof(big_reply))
    server = forward(start_server, f"{LOOP4}:{target.port}")
    data = random_bytes(2, 300 * 1024)
    sock = connect(LOOP4, server.port)
    try:
        send_then_eof(sock, data)
        reply = recv_until_eof(sock, timeout=20)
        port = sock.getsockname()[1]
    finally:
        sock.close()
    assert reply == big_reply(data)
    (seen,) = target.wait_seen(1)
    assert seen.ending == "eof" and seen.received == data
    counts_line(server, port, len(data), len(reply))
    wait_log(server, r"connected to 127\.0\.0\.1:%d from 127\.0\.0\.1:%d\b"
             % (target.port, seen.address[1]))


def test_target_half_closes_first_and_the_client_goes_on_sending(start_server, py_target):
    """The target reads a first part, sends a banner and shuts its sending side down; the
    client sees the banner, then EOF, and THEN sends 1 MiB more, all of which reaches the
    target before the client's own EOF does."""
    first = random_bytes(31, 64 * 1024)
    second = random_bytes(32, MIB)
    banner = random_bytes(33, 200 * 1024)

    def handler(conn, seen):
        head = recv_exact(conn, len(first), timeout=20)
        conn.sendall(banner)
        conn.shutdown(socket.SHUT_WR)
        seen.received = head + read_all(conn, seen)

    target = py_target(handler)
    server = forward(start_server, f"{LOOP4}:{target.port}")
    sock = connect(LOOP4, server.port)
    try:
        sock.sendall(first)
        assert recv_until_eof(sock, timeout=20) == banner
        sock.sendall(second)  # after the EOF from the target: must still be relayed
        sock.shutdown(socket.SHUT_WR)
        (seen,) = target.wait_seen(1)
        assert sha256(seen.received) == sha256(first + second), len(seen.received)
        port = sock.getsockname()[1]
    finally:
        sock.close()
    counts_line(server, port, len(first) + len(second), len(banner))  # both EOFs: the end


# === 4, 5. a refused target, a target that dies ================================================

def test_a_target_name_is_looked_up_without_holding_up_other_clients(start_server, py_target,
                                                                     held_dns):
    """The target is a name, and the DNS server answers no query until three lookups wait at
    once. Three clients arrive together: all three are served, and the DNS server saw their
    three lookups waiting together. A forwarder that looked a name up on its one thread would
    send the second query only after the first answer; the server would give up holding (10 s)
    and the last assertion would fail."""
    target = py_target(echo)
    dns = held_dns({"target.sockcat.test": LOOP4}, gate=3)
    server = start_server("listen", "-4", "-b", LOOP4, "-p", "0", "-v",
                          "--forward", f"target.sockcat.test:{target.port}", wrapper=dns.wrapper)
    clients = [connect(LOOP4, server.port, timeout=20) for _ in range(3)]
    try:
        with explained(server):
            for number, client in enumerate(clients):
                echo_round(client, b"client %d\n" % number, timeout=20)
    finally:
        for client in clients:
            client.close()
    assert dns.most_held == 3, (dns.most_held, server.stderr())
    assert len(target.wait_seen(3)) == 3


def test_a_target_name_that_does_not_resolve_closes_that_client_only(start_server, py_target,
                                                                     held_dns):
    target = py_target(echo)
    dns = held_dns({"target.sockcat.test": LOOP4}, gate=1)
    server = start_server("listen", "-4", "-b", LOOP4, "-p", "0", "-v",
                          "--forward", f"nowhere.sockcat.test:{target.port}", wrapper=dns.wrapper)
    with connect(LOOP4, server.port) as client:
        closed_unread(client)
        client_port = client.getsockname()[1]
    line = closed_line(server, client_port)
    assert "cannot resolve 'nowhere.sockcat.test'" in line, line
    assert server.proc.poll() is None and target.seen == []


def test_refused_target_closes_the_client_and_the_server_goes_on(start_server, py_target):
    """A port bound but not listening refuses: the client is closed without one byte, one -v
    line names the target and the refusal; once the same port listens, the next client is
    relayed by the same server."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind((LOOP4, 0))  # reserved for this test; connect() to it is refused until listen()
    target_port = holder.getsockname()[1]
    try:
        server = forward(start_server, f"{LOOP4}:{target_port}")
        refused = connect(LOOP4, server.port)
        try:
            refused.sendall(b"never relayed\n")
            closed_unread(refused)
            refused_port = refused.getsockname()[1]
        finally:
            refused.close()
        line = closed_line(server, refused_port)
        assert re.search(r"closed: connect to 127\.0\.0\.1 port %d: Connection refused"
                         % target_port, line), line
        about = connection_log(server, refused_port)
        assert len([one for one in about if "refused" in one]) == 1, about
        assert not re.search(r"connected to 127\.0\.0\.1:%d\b" % target_port, server.stderr())
        assert server.proc.poll() is None

        target = py_target(echo, sock=holder)
        holder = None  # the target owns it now
        sock = connect(LOOP4, server.port)
        try:
            echo_round(sock, b"now it listens\n")
        finally:
            sock.close()
        (seen,) = target.wait_seen(1)
        assert seen.size == len(b"now it listens\n")
        wait_log(server, r"connected to 127\.0\.0\.1:%d from" % target_port)
    finally:
        if holder is not None:
            holder.close()


def test_target_killed_mid_stream(start_server, foreign_tree):
    """Two clients through socat fork EXEC:/bin/cat; the child socat that holds the first client's
    target connection is killed (SIGKILL, by PID): that client sees EOF or a reset at once and
    its session ends, the second client's relay carries on, and a new client is served."""
    socat, target_port = foreign_tree(socat_echo_argv)
    server = forward(start_server, f"{LOOP4}:{target_port}")
    doomed = connect(LOOP4, server.port)
    neighbour = None
    try:
        with explained(server):
            echo_round(doomed, b"first client\n")
            (doomed_child,) = child_pids(socat.pid)
            neighbour = connect(LOOP4, server.port)
            echo_round(neighbour, b"second client\n")
            (neighbour_child,) = child_pids(socat.pid) - {doomed_child}
            doomed.sendall(b"in flight " * 1000)  # while the target is dying
            killed = time.monotonic()
            os.kill(doomed_child, signal.SIGKILL)
            ending = None
            doomed.settimeout(5)
            for _ in range(100):  # the echo of what was in flight may come first
                try:
                    chunk = doomed.recv(65536)
                except ConnectionResetError:
                    ending = "reset"
                    break
                except socket.timeout:
                    break
                if not chunk:
                    ending = "eof"
                    break
            assert ending, "the client of the killed target was not closed within 5 s"
            assert time.monotonic() - killed < 5
            doomed_port = doomed.getsockname()[1]
            doomed.close()
            closed_line(server, doomed_port)
            echo_round(neighbour, b"still relayed\n" * 1000)
            assert neighbour_child in child_pids(socat.pid)
            later = connect(LOOP4, server.port)
            try:
                echo_round(later, b"a later client\n")
            finally:
                later.close()
            assert server.proc.poll() is None
    finally:
        doomed.close()
        if neighbour is not None:
            neighbour.close()


def test_target_reset_closes_the_client(start_server, py_target):
    """A target that resets (SO_LINGER 0) after the first bytes: the client is closed within
    a bounded time, with no data, and the -v line says the target reset."""
    def handler(conn, seen):
        seen.received = recv_exact(conn, 5, timeout=20)
        reset_close(conn)

    target = py_target(handler)
    server = forward(start_server, f"{LOOP4}:{target.port}")
    sock = connect(LOOP4, server.port)
    try:
        sock.sendall(b"hello")
        closed_unread(sock, timeout=5)
        port = sock.getsockname()[1]
    finally:
        sock.close()
    line = closed_line(server, port)
    assert re.search(r"target 127\.0\.0\.1:%d: .*reset" % target.port, line, re.I), line
    assert target.wait_seen(1)[0].received == b"hello"


# === 6. -m, -i, --deny ========================================================================

def test_max_clients_closes_the_third_unread(start_server, py_target):
    target = py_target(echo)
    server = forward(start_server, f"{LOOP4}:{target.port}", "-m", "2")
    first, second = connect(LOOP4, server.port), connect(LOOP4, server.port)
    try:
        with explained(server):
            echo_round(first, b"one\n")
            echo_round(second, b"two\n")
            third = connect(LOOP4, server.port)
            try:
                third.sendall(b"three\n")
                closed_unread(third)
                third_port = third.getsockname()[1]
            finally:
                third.close()
            wait_log(server, r"connection from 127\.0\.0\.1:%d refused: 2 clients already \(-m\)"
                     % third_port)
            assert target.count() == 2
            echo_round(first, b"one again\n")
            first_port = first.getsockname()[1]
            first.close()
            closed_line(server, first_port)
            fourth = connect(LOOP4, server.port)  # a place is free again
            try:
                echo_round(fourth, b"four\n")
            finally:
                fourth.close()
            assert target.count() == 3
    finally:
        first.close()
        second.close()


def test_idle_timeout_closes_the_quiet_client_only(start_server, py_target):
    """-i 1s: a client that goes quiet is closed (and its target connection with it)
    1 s or more after the last byte; one that trickles a byte every 50 ms for 1.5 s or more
    is not, and is closed once it stops. The margin of 1 s against 50 ms gaps is for slow,
    loaded machines (sanitized builds under ctest -j2)."""
    target = py_target(echo)
    server = forward(start_server, f"{LOOP4}:{target.port}", "-i", "1s")
    quiet, busy = connect(LOOP4, server.port), connect(LOOP4, server.port)
    try:
        with explained(server):
            echo_round(quiet, b"then silence\n")
            last_byte = time.monotonic()
            watcher = background(lambda: (closed_unread(quiet, 10), time.monotonic()))
            for _ in range(30):  # pacing, not synchronisation: the gaps stay far below -i
                echo_round(busy, b".")
                time.sleep(0.05)
            ending, closed_at = watcher.join(10)
            assert ending in ("eof", "reset"), ending
            closed_after = closed_at - last_byte
            assert closed_after >= 0.95, closed_after
            line = closed_line(server, quiet.getsockname()[1])
            assert "idle too long (-i)" in line, line
            assert "received 13 bytes, sent 13" in line, line
            echo_round(busy, b"still open\n")
            assert closed_unread(busy, 10) in ("eof", "reset")
            assert "idle too long (-i)" in closed_line(server, busy.getsockname()[1])
            for seen in target.wait_seen(2):
                assert seen.ending == "eof", seen.ending
    finally:
        quiet.close()
        busy.close()


def test_denied_client_never_reaches_the_target(start_server, py_target):
    target = py_target(echo)
    server = forward(start_server, f"{LOOP4}:{target.port}", "--deny", LOOP4)
    sock = connect(LOOP4, server.port)
    try:
        sock.sendall(b"let me through\n")
        closed_unread(sock)
        port = sock.getsockname()[1]
    finally:
        sock.close()
    wait_log(server, r"connection from 127\.0\.0\.1:%d refused: not allowed" % port)
    assert target.count() == 0
    assert "connected to" not in server.stderr()
    assert server.proc.poll() is None


# === 7. Unix sockets on either side, and an IPv6 target ========================================

def test_tcp_listener_to_unix_path_and_abstract_targets(start_server, py_target, sock_dir):
    path = os.path.join(sock_dir, "target")
    by_path = py_target(echo, unix=path)
    name = f"sockcat-forward-{os.getpid()}-{random.randrange(1 << 30):x}"
    abstract = py_target(reply_after_eof(digest_reply), unix="\0" + name)
    data = random_bytes(7, MIB)
    for target, spelling, expected in ((by_path, f"unix:{path}", data),
                                       (abstract, f"unix:@{name}", digest_reply(data))):
        server = forward(start_server, spelling)
        sock = connect(LOOP4, server.port)
        try:
            sender = background(send_then_eof, sock, data)
            reply = recv_until_eof(sock, timeout=20)
            sender.join(20)
        finally:
            sock.close()
        assert sha256(reply) == sha256(expected), spelling
        (seen,) = target.wait_seen(1)
        assert seen.ending == "eof" and seen.size == len(data), spelling


def test_unix_listener_to_tcp_target_with_socat_client(unix_server, py_target, sock_dir):
    """A -U listener forwarding to TCP; socat is the client, and gets the digest that the
    target sends after socat's EOF."""
    target = py_target(reply_after_eof(digest_reply))
    path = os.path.join(sock_dir, "front")
    server = unix_server(path, "--forward", f"{LOOP4}:{target.port}")
    data = random_bytes(71, 512 * 1024)
    result = subprocess.run([SOCAT, "-t", "10", "-", f"UNIX-CONNECT:{path}"], input=data,
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == digest_reply(data)
    (seen,) = target.wait_seen(1)
    assert seen.received == data
    wait_log(server, r"closed \(received %d bytes, sent %d\)" % (len(data), len(result.stdout)))


def test_ipv6_target(start_server, py_target):
    if not have_ipv6_loopback():
        pytest.skip("no ::1 here")
    target = py_target(echo, host=LOOP6)
    server = forward(start_server, f"[{LOOP6}]:{target.port}")
    sock = connect(LOOP4, server.port)
    try:
        echo_round(sock, b"to ::1\n")
    finally:
        sock.close()
    (seen,) = target.wait_seen(1)
    assert seen.address[0] == LOOP6


# === 8. TLS termination ========================================================================

def tls_forward(start_server, pki, target):
    return start_server("listen", "-b", LOOP4, "-p", "0", "-v", "--ssl", "--ssl-cert",
                        pki.good.cert, "--ssl-key", pki.good.key, "--forward", target)


def test_tls_termination_reply_after_close_notify(start_server, py_target, pki):
    """Python ssl clients (verifying against the test CA) send 1 MiB and close_notify; the
    plaintext target gets exactly the plaintext and its EOF, and its reply, sent only then,
    reaches the clients over TLS, followed by sockcat's close_notify."""
    target = py_target(reply_after_eof(big_reply))
    server = tls_forward(start_server, pki, f"{LOOP4}:{target.port}")
    datas = [random_bytes(80 + i, MIB) for i in range(3)]
    handles = [background(tls_exchange, (LOOP4, server.port), client_context(pki.ca), data,
                          "localhost", 30) for data in datas]
    exchanges = [handle.join(40) for handle in handles]
    for data, exchange in zip(datas, exchanges):
        assert exchange.ending == "close_notify"
        assert sha256(exchange.received) == sha256(big_reply(data))
    seen = target.wait_seen(3)
    assert sorted(one.sha for one in seen) == sorted(sha256(data) for data in datas)
    assert all(one.ending == "eof" for one in seen)


def test_tls_termination_with_openssl_s_client(start_server, py_target, pki):
    """openssl s_client verifies sockcat's certificate and name; the target answers a line in
    capitals and closes, and s_client gets that answer and the end."""
    def handler(conn, seen):
        line = b""
        for _ in range(1000):
            chunk = conn.recv(4096)
            if not chunk:
                break
            line += chunk
            if b"\n" in line:
                break
        seen.received = line
        conn.sendall(line.upper())
        conn.shutdown(socket.SHUT_WR)

    target = py_target(handler)
    server = tls_forward(start_server, pki, f"{LOOP4}:{target.port}")
    result = subprocess.run([OPENSSL, "s_client", "-connect", f"{LOOP4}:{server.port}",
                             "-servername", "localhost", "-verify_hostname", "localhost",
                             "-CAfile", pki.ca, "-verify_return_error", "-quiet"],
                            input=b"through s_client\n", capture_output=True, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"THROUGH S_CLIENT\n"
    (seen,) = target.wait_seen(1)
    assert seen.received == b"through s_client\n"


# === 9. TLS origination ========================================================================

def test_tls_origination_to_s_server_verified_and_wrong_name_refused(start_server,
                                                                    foreign_tree, pki):
    _, good_port = foreign_tree(s_server_argv(pki.good, "-rev"))
    _, wrong_port = foreign_tree(s_server_argv(pki.wrong_name, "-rev"))
    good = forward(start_server, f"{LOOP4}:{good_port}", "--forward-ssl",
                   "--forward-ssl-trustfile", pki.ca)
    sock = connect(LOOP4, good.port)
    try:
        sock.sendall(b"verified hello\n")
        assert recv_exact(sock, 15) == b"olleh deifirev\n"
        sock.sendall(b"and more\n")
        assert recv_exact(sock, 9) == b"erom dna\n"
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock, timeout=10) == b""
        port = sock.getsockname()[1]
    finally:
        sock.close()
    counts_line(good, port, 24, 24)
    wait_log(good, r"certificate verified")

    wrong = forward(start_server, f"{LOOP4}:{wrong_port}", "--forward-ssl",
                    "--forward-ssl-trustfile", pki.ca)
    sock = connect(LOOP4, wrong.port)
    try:
        sock.sendall(b"must not arrive\n")
        closed_unread(sock, timeout=10)
        port = sock.getsockname()[1]
    finally:
        sock.close()
    line = closed_line(wrong, port)
    assert "DNS:wrong.example" in line and "does not match" in line, line
    assert wrong.proc.poll() is None


def test_tls_origination_servername_and_pin(start_server, pki):
    """--forward-ssl-servername is sent as SNI and verified; the client's EOF reaches the TLS
    target as close_notify and 1 MiB echoes intact. A pin of the target's certificate is
    enough without a CA; a pin of another certificate closes the client."""
    target = PyTlsServer(server_context(pki.good), echo_handler)
    try:
        data = random_bytes(9, MIB)
        runs = [("--forward-ssl-trustfile", pki.ca, "--forward-ssl-servername", "localhost"),
                ("--forward-ssl-pin", pki.good.fingerprint)]
        for number, options in enumerate(runs, start=1):
            server = forward(start_server, f"{LOOP4}:{target.port}", *options)
            sock = connect(LOOP4, server.port)
            try:
                sender = background(send_then_eof, sock, data)
                assert hash_to_eof(sock, timeout=30) == (len(data), sha256(data)), options
                sender.join(30)
            finally:
                sock.close()
            session = target.wait_sessions(number)[-1]
            assert session.handshake_error == "", session.handshake_error
            assert session.ending == "close_notify", options
        assert target.sessions[0].server_name == "localhost"

        pinned_wrong = forward(start_server, f"{LOOP4}:{target.port}", "--forward-ssl-pin",
                               pki.wrong_name.fingerprint)
        sock = connect(LOOP4, pinned_wrong.port)
        try:
            sock.sendall(b"must not arrive\n")
            closed_unread(sock, timeout=10)
            port = sock.getsockname()[1]
        finally:
            sock.close()
        line = closed_line(pinned_wrong, port)
        assert pki.good.fingerprint in line and "does not match" in line, line
        for session in target.wait_sessions(3)[2:]:
            assert session.received in (b"", b"0"), session.received
    finally:
        target.stop()


# === 10. clients we did not write ==============================================================

@pytest.mark.parametrize("client", ["nc", "socat", "ncat"])
def test_foreign_clients(start_server, py_target, client):
    """Each client sends, half-closes at its stdin's EOF and prints what the target replies
    only after that EOF."""
    target = py_target(reply_after_eof(big_reply))
    server = forward(start_server, f"{LOOP4}:{target.port}")
    argv = {"nc": [NC_OPENBSD, "-N", LOOP4, str(server.port)],
            "socat": [SOCAT, "-t", "10", "-", f"TCP:{LOOP4}:{server.port}"],
            "ncat": [NCAT, LOOP4, str(server.port)]}[client]
    data = random_bytes(10, 256 * 1024)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    writer = background(proc.stdin.write, data)
    try:
        writer.join(20)
        status, out, err = finish(proc, timeout=20)
    finally:
        stop_process(proc)
    assert status == 0, err
    assert sha256(out) == sha256(big_reply(data)), (len(out), err)
    (seen,) = target.wait_seen(1)
    assert seen.received == data


# === 11. usage errors ==========================================================================

@pytest.mark.parametrize("extra, needle", [
    (["--forward", "127.0.0.1:9", "-e", "/bin/cat"], "--exec"),
    (["--forward", "127.0.0.1:9", "--broker"], "--broker"),
    (["--forward", "127.0.0.1:9", "--send-file", "/etc/hostname"], "--send-file"),
    (["--forward", "127.0.0.1:9", "--transform", "upper"], "--transform"),
    (["--forward", "127.0.0.1:9", "-o", "/dev/null"], "--output"),
    (["--forward", "127.0.0.1:9", "--stats"], "--stats"),
    (["--forward", "127.0.0.1:9", "-C"], "--crlf"),
    (["--forward", "127.0.0.1:9", "--recv-only"], "--recv-only"),
    (["--forward-ssl"], "--forward"),
    (["--forward", "::1:80"], "::1:80"),
    (["--forward", "127.0.0.1"], "127.0.0.1"),
    (["--forward", "unix:"], "unix:"),
])
def test_usage_errors(extra, needle):
    result = run_sockcat("listen", "-b", LOOP4, "-p", "0", *extra, input=b"", timeout=10)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == b""
    assert_one_error_line(result.stderr, needle)


@pytest.fixture(autouse=True)
def _no_stray_children():
    """Every process a test started is gone when it ends (the fixtures end them by PID)."""
    yield
    left = wait_until(lambda: not child_pids(os.getpid()), timeout=5)
    assert left, f"processes left running: {child_pids(os.getpid())}"
