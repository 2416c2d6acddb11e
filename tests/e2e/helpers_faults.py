"""Helpers for the fault-injection and integrity tests (test_faults.py, test_integrity.py):
a deterministic pseudo-random stream that is generated and hashed on the fly (never held whole),
small Python peer programs run as child processes (so that a test can SIGKILL or SIGSTOP them),
per-process CPU time and memory from /proc, and a private network namespace.

Every wait has a deadline; every loop is bounded in count and in time; every process is ended
by PID and every namespace is deleted by name, pass or fail."""
import contextlib
import functools
import hashlib
import itertools
import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from conftest import SOCKCAT
from helpers_tcp import read_line

MIB = 1 << 20

# The stream: MiB number i is a fixed 1 MiB random block (from `seed`) whose first 8 bytes are
# replaced by i. Any byte lost, duplicated, reordered or altered changes its SHA-256.
# This source is run by the test process and, verbatim, by the child programs below.
STREAM_SOURCE = r'''
import hashlib, random, struct

def stream_blocks(size, seed, block=1 << 20):
    """Yields the first `size` bytes of stream `seed`, at most `block` bytes at a time."""
    base = random.Random(seed).randbytes(1 << 20)
    offset = 0
    index = 0
    while offset < size:
        mib = struct.pack("<Q", index) + base[8:]
        for start in range(0, 1 << 20, block):
            if offset >= size:
                break
            piece = mib[start:start + min(block, size - offset)]
            yield piece
            offset += len(piece)
        index += 1
'''
_stream_namespace = {}
exec(STREAM_SOURCE, _stream_namespace)
stream_blocks = _stream_namespace["stream_blocks"]  # the same function, for the test process


def stream_digest(size, seed):
    """SHA-256 (hex) of the first `size` bytes of stream `seed`."""
    digest = hashlib.sha256()
    for block in stream_blocks(size, seed):
        digest.update(block)
    return digest.hexdigest()


def stream_bytes(size, seed):
    """The first `size` bytes of stream `seed`, in memory (for small sizes only)."""
    assert size <= 128 * MIB
    return b"".join(stream_blocks(size, seed))


# A child that writes `size` bytes of stream `seed` to its stdout, hashing as it goes, then
# prints "<bytes written> <sha256>" on stderr. A reader that leaves ends it (exit 3).
GENERATOR = STREAM_SOURCE + r'''
import os, sys
size, seed = int(sys.argv[1]), int(sys.argv[2])
digest = hashlib.sha256()
written = 0
status = 0
try:
    for piece in stream_blocks(size, seed):
        view = memoryview(piece)
        while view:
            n = os.write(1, view)
            digest.update(view[:n])
            written += n
            view = view[n:]
except BrokenPipeError:
    status = 3
os.close(1)
sys.stderr.write("%d %s\n" % (written, digest.hexdigest()))
sys.exit(status)
'''


def start_generator(procs, size, seed, stdout=subprocess.PIPE):
    """Starts the GENERATOR child; by default its stdout is a pipe to give to sockcat as stdin."""
    return procs.popen([sys.executable, "-c", GENERATOR, str(size), str(seed)],
                       stdout=stdout, stderr=subprocess.PIPE)


def generator_result(proc, timeout=30):
    """(bytes written, sha256) the generator reports at its end; fails the test otherwise."""
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=5)
        pytest.fail(f"the stream generator (pid {proc.pid}) still running {timeout} s later")
    fields = err.decode(errors="replace").split()
    assert len(fields) == 2, f"generator said {err!r} (status {proc.returncode})"
    return int(fields[0]), fields[1]


def hash_fd(fd, timeout, limit=2 << 30):
    """Reads the pipe or socket descriptor `fd` until EOF, hashing as it goes; at most `limit`
    bytes and `timeout` seconds. Returns (byte count, sha256 hex). It reads a duplicate of
    `fd`: when this runs in a thread that outlives its test, the number `fd` may be closed
    and reused for another process's pipe, which it must not read from."""
    own = os.dup(fd)
    try:
        deadline = time.monotonic() + timeout
        digest = hashlib.sha256()
        count = 0
        while count <= limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([own], [], [], remaining)[0]:
                raise AssertionError(f"no EOF within {timeout} s ({count} bytes read)")
            chunk = os.read(own, 1 << 20)
            if not chunk:
                return count, digest.hexdigest()
            digest.update(chunk)
            count += len(chunk)
        raise AssertionError(f"more than {limit} bytes before EOF")
    finally:
        os.close(own)


def expect_line(proc, prefix, timeout=20):
    """Reads the next stdout line of child `proc` and checks that it starts with `prefix`;
    returns its fields after the prefix."""
    line = read_line(proc.stdout.fileno(), timeout)
    if not line.startswith(prefix.encode()):
        proc.kill()
        proc.wait(5)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        pytest.fail(f"expected a line {prefix!r} from pid {proc.pid}, got {line!r}; stderr: {err[-2000:]}")
    return line[len(prefix):].decode().split()


# Child peers. Each one is a small program that a test can SIGKILL or SIGSTOP at a known point:
# it prints a line at that point and, where the test must act before it goes on, waits for a
# line on its stdin (EOF on stdin ends it). Every loop in them has a byte and a time bound.
PEER_PRELUDE = STREAM_SOURCE + r'''
import os, select, socket, sys, threading, time
def say(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()
def wait_for_stdin():
    sys.stdin.readline()
DEADLINE = time.monotonic() + float(os.environ.get("PEER_TIME_LIMIT", "60"))
'''

# Connects to the echo server and streams without ever reading. Once 1 MiB is sent and echoed
# bytes are waiting unread in its receive queue, it says "streaming"; then it goes on sending
# (blocking: the server stops reading from a client that does not read) until killed or bounded.
STREAMING_CLIENT = PEER_PRELUDE + r'''
port, limit = int(sys.argv[1]), int(sys.argv[2])
sock = socket.create_connection(("127.0.0.1", port), timeout=30)
say("port", sock.getsockname()[1])
blocks = stream_blocks(limit, 7, 65536)
sent = 0
for piece in blocks:
    sock.sendall(piece)
    sent += len(piece)
    if sent >= 1 << 20:
        break
assert select.select([sock], [], [], 20)[0], "nothing echoed"
say("streaming", sent)
sock.settimeout(max(1.0, DEADLINE - time.monotonic()))
try:
    for piece in blocks:
        sock.sendall(piece)
        if time.monotonic() > DEADLINE:
            break
except OSError:
    pass
wait_for_stdin()
'''

# Connects to the echo server, sends `size` bytes and reads the whole echo back, says "idle",
# and waits: nothing unread in either direction when it is killed.
IDLE_CLIENT = PEER_PRELUDE + r'''
port, size = int(sys.argv[1]), int(sys.argv[2])
sock = socket.create_connection(("127.0.0.1", port), timeout=30)
say("port", sock.getsockname()[1])
data = b"".join(stream_blocks(size, 8))
sock.sendall(data)
got = b""
while len(got) < size:
    chunk = sock.recv(1 << 20)
    assert chunk, "EOF from the echo server"
    got += chunk
assert got == data, "wrong echo"
say("idle", size)
wait_for_stdin()
'''

# Connects to the echo server and pushes stream 9 without reading until the server stops
# taking it (no room for 0.5 s) or `stall_limit` bytes; says "stalled <sent>" and waits for a
# line on stdin. Then it reads every echoed byte while sending the rest up to `total`, half-
# closes, reads to EOF, and says "done <sent> <sha sent> <received> <sha received>".
STOPPABLE_ECHO_CLIENT = PEER_PRELUDE + r'''
import hashlib
port, stall_limit, total = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sock = socket.create_connection(("127.0.0.1", port), timeout=30)
say("port", sock.getsockname()[1])
sent_digest = hashlib.sha256()
blocks = stream_blocks(total, 9, 65536)
sent = 0
pending = b""
sock.setblocking(False)
while sent < stall_limit and time.monotonic() < DEADLINE:
    if not pending:
        pending = next(blocks, b"")
        if not pending:
            break
    if not select.select([], [sock], [], 0.5)[1]:
        break
    try:
        n = sock.send(pending)
    except BlockingIOError:
        continue
    sent_digest.update(pending[:n])
    sent += n
    pending = pending[n:]
say("stalled", sent)
wait_for_stdin()
sock.setblocking(True)
sock.settimeout(max(1.0, DEADLINE - time.monotonic()))
box = {}
def reader():
    digest = hashlib.sha256()
    count = 0
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        digest.update(chunk)
        count += len(chunk)
    box["received"] = (count, digest.hexdigest())
thread = threading.Thread(target=reader, daemon=True)
thread.start()
if pending:
    sock.sendall(pending)
    sent_digest.update(pending)
    sent += len(pending)
for piece in blocks:
    sock.sendall(piece)
    sent_digest.update(piece)
    sent += len(piece)
sock.shutdown(socket.SHUT_WR)
thread.join(max(1.0, DEADLINE - time.monotonic()))
count, digest = box["received"]
say("done", sent, sent_digest.hexdigest(), count, digest)
'''

# A server for `sockcat connect`: accepts one client; reads and hashes all it sends (until EOF)
# while sending it `send_size` bytes of stream 10 and then half-closing. Says "port <port>"
# when listening, "progress" once `progress_at` bytes have arrived, "sent <n>" after each
# send() returns (when `report_sends` is 1), "done <received> <sha>" at the end.
RELAY_PEER = PEER_PRELUDE + r'''
import hashlib
send_size, progress_at, report_sends = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
say("port", listener.getsockname()[1])
listener.settimeout(30)
conn, _ = listener.accept()
conn.settimeout(max(1.0, DEADLINE - time.monotonic()))
lock = threading.Lock()
def sender():
    sent = 0
    for piece in stream_blocks(send_size, 10, 65536):
        view = memoryview(piece)
        while view:
            n = conn.send(view)
            view = view[n:]
            sent += n
            if report_sends:
                with lock:
                    say("sent", sent)
    conn.shutdown(socket.SHUT_WR)
thread = threading.Thread(target=sender, daemon=True)
thread.start()
digest = hashlib.sha256()
count = 0
told = False
while True:
    chunk = conn.recv(1 << 20)
    if not chunk:
        break
    digest.update(chunk)
    count += len(chunk)
    if count >= progress_at and not told:
        told = True
        with lock:
            say("progress", count)
thread.join(max(1.0, DEADLINE - time.monotonic()))
with lock:
    say("done", count, digest.hexdigest())
wait_for_stdin()
'''

# A server for `sockcat connect` that reads `read_size` bytes, then stops reading; once more
# bytes wait unread in its receive queue it says "stuck <read>" and waits (to be killed).
STUCK_PEER = PEER_PRELUDE + r'''
read_size = int(sys.argv[1])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
say("port", listener.getsockname()[1])
listener.settimeout(30)
conn, _ = listener.accept()
conn.settimeout(30)
count = 0
while count < read_size:
    chunk = conn.recv(read_size - count)
    assert chunk, "EOF before %d bytes" % read_size
    count += len(chunk)
assert select.select([conn], [], [], 20)[0], "nothing more arrived"
say("stuck", count)
wait_for_stdin()
'''


def start_peer(procs, source, *args, time_limit=60):
    """Starts a child peer program (one of the sources above) with `args`; stdin and stdout
    are pipes (stdin is its "go on" signal; closing it ends the program)."""
    env = dict(os.environ, PEER_TIME_LIMIT=str(time_limit))
    return procs.popen([sys.executable, "-c", source] + [str(a) for a in args],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def tell(proc, line=b"go\n"):
    proc.stdin.write(line)
    proc.stdin.flush()


def wait_stopped(proc):
    """Waits until child `proc`, sent SIGSTOP, has stopped: waitpid(WUNTRACED) returns at the
    stop of a child without reaping it. (A stopped process cannot run on, so this returns at
    once; a child that ended instead is reaped here and fails the test.)"""
    pid, status = os.waitpid(proc.pid, os.WUNTRACED)
    if not os.WIFSTOPPED(status):
        proc.returncode = os.waitstatus_to_exitcode(status)
        pytest.fail(f"pid {proc.pid} ended ({proc.returncode}) instead of stopping")


def resume(proc):
    """SIGCONT to `proc` if it is still there (safe to call twice, and after it ended)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)


def kill_and_reap(proc, timeout=10):
    """SIGKILL to child `proc`, and waits until it is gone (its sockets closed by the kernel)."""
    proc.send_signal(signal.SIGKILL)
    status = proc.wait(timeout)
    assert status == -signal.SIGKILL, status
    return status


# /proc ------------------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of process `pid` (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of stat(5)


def cpu_over(pid, seconds):
    """CPU seconds process `pid` used during a window of `seconds` of wall time (the window is
    the measurement itself, not a wait for an event)."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


def status_kib(pid, field):
    """A KiB value from /proc/PID/status, e.g. VmRSS or VmHWM (the peak RSS)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@functools.lru_cache(maxsize=None)
def sanitized():
    """True when SOCKCAT is an AddressSanitizer build (links libasan or embeds its runtime)."""
    with open(SOCKCAT, "rb") as binary:
        return b"__asan_init" in binary.read()


@functools.lru_cache(maxsize=None)
def ubsan_vptr():
    """True when SOCKCAT carries UBSan's vptr check (-fsanitize=undefined includes it)."""
    with open(SOCKCAT, "rb") as binary:
        return b"__ubsan_handle_dynamic_type_cache_miss" in binary.read()


# UBSan's vptr check reads an object's vtable only after testing that the memory is readable,
# and GCC 12's runtime tests that by writing it into a pipe(): in a process that is out of
# descriptors the pipe cannot be made, so the check reports a false "invalid vptr" and, built
# with -fno-sanitize-recover, ends the process. Descriptor exhaustion cannot run under it.
NO_FD_EXHAUSTION_UNDER_UBSAN = (
    "UBSan's vptr check needs two free descriptors (a pipe) to read a vtable and aborts the "
    "process with a false 'invalid vptr' when it has none; run this with a Release or "
    "-DSOCKCAT_SANITIZE=address build")


# The peak RSS a sockcat process may reach in these tests. A Release sockcat idles at about
# 4 MiB and holds at most two 64 KiB relay buffers, or one 64 KiB chunk per client of a server;
# under AddressSanitizer the runtime alone is about 28 MiB (shadow memory, allocator metadata),
# freed chunks sit in its quarantine for a while, and the instrumented binary (150 MiB) has about
# 54 MiB of its own code and relocated data resident once its paths have run (measured with the
# forward and proxy code in, 2026-12-02: 74 MiB peak for a relay of 128 MiB that never grew). The
# bounds leave room for that, and are below what buffering a client's unread data (128 MiB and
# more here) would take.
def rss_bound_kib():
    return (96 if sanitized() else 32) * 1024


# Server log ------------------------------------------------------------------------------------

def opened_ports(server, since=0):
    """Client ports of the 'connection from 127.0.0.1:P' (opening) lines of a -v server,
    from its stderr line number `since` on."""
    pattern = re.compile(r"connection from 127\.0\.0\.1:(\d+)$")
    ports = []
    for line in server.stderr_lines[since:]:
        match = pattern.search(line.decode(errors="replace").rstrip("\n"))
        if match:
            ports.append(int(match.group(1)))
    return ports


def ending_of(server, port):
    """The 'closed (...)' or 'failed: ...' line of the client with local port `port`, or None."""
    pattern = re.compile(r"connection from \S+:%d (closed|failed)\b.*" % port)
    for line in server.stderr().splitlines():
        match = pattern.search(line)
        if match:
            return match.group(0)
    return None


INFO_LINE = re.compile(r"^sockcat: (listening on |connection from |connection with |connected to )")


def error_lines(stderr):
    """The lines of a -v run's stderr that are not -v information."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    return [line for line in text.splitlines() if line.strip() and not INFO_LINE.match(line)]


# Network namespace ----------------------------------------------------------------------------

_serial = itertools.count()


def _ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)


@contextlib.contextmanager
def private_netns(routes=()):
    """A new network namespace named after this process's PID, with only `lo` (up) and the
    given `routes` (argument lists for `ip route add`); yields its name and deletes it at the
    end, pass or fail. Skips the test when namespaces cannot be created (not root)."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    name = f"sc-faults-{os.getpid()}-{next(_serial)}"
    result = _ip("netns", "add", name)
    if result.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {result.stderr.strip()}")
    try:
        for args in [["link", "set", "lo", "up"]] + [["route", "add", *r] for r in routes]:
            result = _ip("-n", name, *args)
            assert result.returncode == 0, f"ip -n {name} {' '.join(args)}: {result.stderr}"
        yield name
    finally:
        _ip("netns", "delete", name)


def in_netns(name, *args):
    """argv running `sockcat ARGS` inside namespace `name` (ip execs sockcat in place)."""
    return ["ip", "netns", "exec", name, os.path.abspath(SOCKCAT)] + [str(a) for a in args]
