"""Helpers for the UDP and third-party-peer end-to-end tests (test_udp*.py, test_peers*.py):
free ports, waiting for a foreign server (nc, socat) to listen, reading a pipe up to a
deadline, deterministic payloads, and a bounded-retry UDP exchange with several senders."""
import hashlib
import os
import select
import shutil
import socket
import subprocess
import threading
import time

# The OpenBSD netcat, by its own name: /bin/nc may point at ncat through the alternatives.
NC_OPENBSD = shutil.which("nc.openbsd") or "/bin/nc.openbsd"
SOCAT = shutil.which("socat") or "/usr/bin/socat"
SS = shutil.which("ss") or "/usr/bin/ss"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def free_port(kind=socket.SOCK_STREAM, host="127.0.0.1"):
    """A port the kernel just handed out for `kind` on `host` (bound, then closed again)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def is_listening(port, udp=False):
    """True when some socket listens on (TCP) or is bound to (UDP) local `port`, per `ss`."""
    flags = "-lunH" if udp else "-ltnH"
    out = subprocess.run([SS, flags, f"sport = :{port}"], capture_output=True, timeout=10).stdout
    return bool(out.strip())


def start_foreign_server(make_argv, udp=False, attempts=3, timeout=10, **popen_kwargs):
    """Starts a server we did not write (nc, socat) on a free port and waits until it
    listens. `make_argv(port)` gives its command line. A foreign server cannot report its port
    and taking a peek with connect() would use up nc's only accept, so readiness is polled
    through `ss` (bounded in time); a port taken in the meantime means a retry on a new port.
    Returns (process, port); the caller ends the process."""
    last = None
    for _ in range(attempts):
        port = free_port(socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        proc = subprocess.Popen(make_argv(port), **popen_kwargs)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break  # e.g. the port was taken between our probe and its bind
            if is_listening(port, udp):
                return proc, port
            time.sleep(0.02)
        last = (make_argv(port), proc.poll())
        stop_process(proc)
    raise AssertionError(f"foreign server never listened: {last}")


def stop_process(proc, timeout=5):
    """Ends one process we started, by its PID: SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream:
            stream.close()


def read_until(stream, predicate, timeout=10, initial=b""):
    """Reads from a pipe until predicate(all bytes so far) holds, EOF, or the deadline.
    Returns all bytes read (including `initial`)."""
    data = bytearray(initial)
    fd = stream.fileno()
    deadline = time.monotonic() + timeout
    while not predicate(bytes(data)):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return bytes(data)


def payload(rng, size):
    """`size` pseudo-random bytes, about a third of them lowercase ASCII letters, the rest any
    byte at all (NUL, digits, capitals, UTF-8 lead bytes...): upper-casing changes some of it."""
    raw = rng.randbytes(size)
    table = bytes((ord("a") + v % 26) if v % 3 == 0 else v for v in range(256))
    return raw.translate(table)


def udp_exchange(target, messages, family=socket.AF_INET, expect=bytes.upper, rounds=12,
                 window=128 * 1024, quiet=0.3, deadline=20):
    """Sends, from one UDP socket per sender, every datagram of messages[i] to `target` and
    collects the replies until each datagram has been answered, resending unanswered ones in
    up to `rounds` rounds (UDP may drop when a receive queue overflows). At most `window`
    bytes are outstanding at once. A reply is matched to what it answers by content, so
    every message must be distinct across all senders (e.g. by size).

    Returns (replies, sends, stray): replies[i][j] counts the replies to messages[i][j] seen
    on sender i's socket, sends[i][j] counts how often it was sent, and stray lists
    (sender, reply) pairs that answer nothing sender i sent: merged, split, altered or
    someone else's datagrams."""
    owners = {}
    for i, batch in enumerate(messages):
        for j, message in enumerate(batch):
            key = expect(message)
            assert key not in owners, "test bug: messages must be distinct"
            owners[key] = (i, j)
    socks = []
    try:
        for _ in messages:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            sock.setblocking(False)
            socks.append(sock)
        by_fd = {sock.fileno(): i for i, sock in enumerate(socks)}
        replies = [[0] * len(batch) for batch in messages]
        sends = [[0] * len(batch) for batch in messages]
        stray = []
        outstanding = {}  # (i, j) -> bytes, sent this round and not answered yet
        end = time.monotonic() + deadline

        def drain(wait):
            """Reads every reply available, waiting up to `wait` s for the first; returns
            how many replies were read."""
            got = 0
            ready, _, _ = select.select(socks, [], [], max(0.0, min(wait, end - time.monotonic())))
            while ready:
                for sock in ready:
                    i = by_fd[sock.fileno()]
                    for _ in range(1000):
                        try:
                            reply, _ = sock.recvfrom(70000)
                        except BlockingIOError:
                            break
                        got += 1
                        owner = owners.get(reply)
                        if owner is None or owner[0] != i:
                            stray.append((i, reply))
                            continue
                        replies[i][owner[1]] += 1
                        outstanding.pop(owner, None)
                ready, _, _ = select.select(socks, [], [], 0)
            return got

        def pending():
            return [(i, j) for i, batch in enumerate(messages) for j in range(len(batch))
                    if replies[i][j] == 0]

        for _ in range(rounds):
            todo = pending()
            if not todo or time.monotonic() > end:
                break
            # Interleave the senders: datagram j of every sender, then j+1, ...
            todo.sort(key=lambda ij: (ij[1], ij[0]))
            outstanding.clear()
            for i, j in todo:
                message = messages[i][j]
                while outstanding and sum(outstanding.values()) + len(message) > window:
                    if not drain(quiet):
                        outstanding.clear()  # nothing came for a while: count those as lost
                if time.monotonic() > end:
                    break
                socks[i].sendto(message, target)
                sends[i][j] += 1
                outstanding[(i, j)] = len(message) + 1
                drain(0)
            while outstanding and drain(quiet):
                pass
        # Late replies to datagrams sent twice are allowed; collect what is already queued.
        drain(0)
        return replies, sends, stray
    finally:
        for sock in socks:
            sock.close()


def finish(proc, timeout=10):
    """Closes the stdin pipe of `proc` (if any), reads its stdout and stderr to the end and
    waits for it to exit, all within `timeout`. Returns (status, stdout, stderr); a process
    that does not exit in time is killed by PID and the status is None."""
    if proc.stdin and not proc.stdin.closed:
        proc.stdin.close()
    collected = {}

    def collect(name, stream):
        collected[name] = stream.read() if stream else b""

    readers = [threading.Thread(target=collect, args=(name, stream), daemon=True)
               for name, stream in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    try:
        status = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        status = None
    for reader in readers:
        reader.join(5)
    return status, collected.get("out"), collected.get("err")
