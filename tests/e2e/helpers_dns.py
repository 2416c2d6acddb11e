"""A DNS server for tests, on a loopback address of its own, that holds its answers back until
enough lookups wait at once; and the wrapper that makes one sockcat process use it.

sockcat is started under `unshare --mount` with a throwaway resolv.conf bound over
/etc/resolv.conf in that process's mount namespace only: nothing on the machine changes.
"""

import random
import socket
import struct
import threading
import time

import pytest

TYPE_A = 1
CLASS_IN = 1


def parse_question(query):
    """(name, qtype, end offset) of a query's first question, or None when it is malformed."""
    if len(query) < 12:
        return None
    labels, offset = [], 12
    for _ in range(128):
        if offset >= len(query):
            return None
        length = query[offset]
        offset += 1
        if length == 0:
            break
        if length > 63 or offset + length > len(query):
            return None
        labels.append(query[offset:offset + length].decode("ascii", "replace"))
        offset += length
    if offset + 4 > len(query):
        return None
    qtype, _ = struct.unpack("!HH", query[offset:offset + 4])
    return ".".join(labels).lower(), qtype, offset + 4


def answer(query, names):
    """The response to `query`: an A record from `names` (name -> IPv4 text), no record (NOERROR)
    for another type of a known name, NXDOMAIN for an unknown one."""
    name, qtype, end = parse_question(query)
    question = query[12:end]
    known = name in names
    records = b""
    count = 0
    if known and qtype == TYPE_A:
        records = (b"\xc0\x0c" + struct.pack("!HHIH", TYPE_A, CLASS_IN, 60, 4)
                   + socket.inet_aton(names[name]))
        count = 1
    flags = 0x8180 if known else 0x8183  # response, recursion desired and available; rcode
    return query[:2] + struct.pack("!HHHHH", flags, 1, count, 0, 0) + question + records


RESOLVER_TIMEOUT = 5  # s: resolv.conf's timeout (with attempts:1, a lookup's whole life)


class HeldDns:
    """Answers nothing until queries from `gate` different sockets (one per lookup) wait at
    once, or until `patience` s have passed since the first one; answers at once after that.
    `most_held` is the most lookups that were waiting at the same time; a query older than
    most of RESOLVER_TIMEOUT no longer counts (its lookup is about to give up)."""

    def __init__(self, tmp_path, names, gate, patience=10.0):
        self.names = {name.lower(): address for name, address in names.items()}
        self.gate = gate
        self.patience = patience
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(20):  # an address of its own in 127/8: port 53 is what resolv.conf means
            self.address = "127.%d.%d.%d" % (random.randint(1, 254), random.randint(1, 254),
                                              random.randint(2, 254))
            try:
                self.sock.bind((self.address, 53))
                break
            except OSError:
                continue
        else:
            raise AssertionError("no free 127.x.y.z:53 for the test's DNS server")
        self.resolv_conf = tmp_path / "resolv.conf"
        self.resolv_conf.write_text(f"nameserver {self.address}\n"
                                    f"options timeout:{RESOLVER_TIMEOUT} attempts:1\n")
        self.most_held = 0
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def wrapper(self):
        """The argv prefix that starts a command with this server as its only name server."""
        return ["unshare", "--mount", "sh", "-c",
                'mount --bind "$0" /etc/resolv.conf && exec "$@"', str(self.resolv_conf)]

    def _serve(self):
        held = []  # (query, source, arrival)
        opened = False
        first_held_at = None
        fresh = 0.75 * RESOLVER_TIMEOUT
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                query, source = self.sock.recvfrom(4096)
            except socket.timeout:
                query = None
            now = time.monotonic()
            if query is not None and parse_question(query) is not None:
                self.queries += 1
                held.append((query, source, now))
                if first_held_at is None:
                    first_held_at = now
            waiting = len({source for _, source, arrival in held if now - arrival < fresh})
            self.most_held = max(self.most_held, waiting)
            if not opened and (waiting >= self.gate or (
                    first_held_at is not None and now - first_held_at > self.patience)):
                opened = True
            if opened:
                for query, source, _ in held:
                    self.sock.sendto(answer(query, self.names), source)
                held = []

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def held_dns(tmp_path):
    """held_dns(names, gate, patience=10) starts a HeldDns; it is stopped when the test ends."""
    started = []

    def start(names, gate, patience=10.0):
        server = HeldDns(tmp_path, names, gate, patience)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
