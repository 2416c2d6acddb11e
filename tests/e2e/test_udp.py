"""UDP end to end: `connect -u` against the replying server, many senders at once, IPv6 and
the dual-stack wildcard, ICMP port unreachable, `listen -u` as a relay, and a long run of
datagrams through `connect -u`."""
import os
import random
import socket
import subprocess
import threading
import time

import pytest

from conftest import SOCKCAT, run_sockcat
from helpers_peers import finish, free_port, payload, read_until, stop_process, udp_exchange

UDP_MAX = 65507  # the largest IPv4 UDP payload


def udp_upper_server(start_server, *extra):
    return start_server("listen", "-v", "-u", "-p", "0", "--transform", "upper", *extra)


def ask(sock, message, target, tries=5, wait=1.0):
    """Sends `message` and returns the first reply, resending a bounded number of times."""
    sock.settimeout(wait)
    for _ in range(tries):
        sock.sendto(message, target)
        try:
            return sock.recvfrom(70000)
        except socket.timeout:
            continue
    raise AssertionError(f"no reply from {target} after {tries} tries")


def test_connect_udp_prints_reply_and_exits_after_linger(start_server):
    server = udp_upper_server(start_server)
    assert "(udp)" in server.stderr()
    started = time.monotonic()
    result = run_sockcat("connect", "-u", "127.0.0.1", str(server.port), input=b"hi\n", timeout=10)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"HI\n"
    assert result.stderr == b""
    # It waits for the 1 s linger after the last datagram, then leaves by itself.
    assert 0.9 <= elapsed <= 3.0, elapsed


def test_connect_udp_over_ipv6_to_wildcard_server(start_server):
    server = udp_upper_server(start_server)
    result = run_sockcat("connect", "-u", "::1", str(server.port), input=b"over six\n", timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"OVER SIX\n"


@pytest.mark.parametrize("transform, expect", [("upper", bytes.upper), ("echo", bytes)])
def test_many_senders_each_get_their_own_replies_one_per_datagram(start_server, transform, expect):
    server = start_server("listen", "-v", "-u", "-p", "0", "--transform", transform)
    rng = random.Random(20240611)
    senders, per_sender = 20, 50
    # Sizes 0..1400, all distinct across senders, plus one maximum-size datagram each, so
    # that every datagram (and its reply) is unique and a merged or split reply cannot pass.
    sizes = list(range(0, 1401))
    rng.shuffle(sizes)
    messages = []
    for i in range(senders):
        batch = [payload(rng, size) for size in sizes[i * (per_sender - 1):(i + 1) * (per_sender - 1)]]
        batch.insert(rng.randrange(len(batch) + 1), payload(rng, UDP_MAX))
        messages.append(batch)
    assert all(len(batch) == per_sender for batch in messages)

    replies, sends, stray = udp_exchange(("127.0.0.1", server.port), messages, expect=expect)

    assert stray == [], f"{len(stray)} replies answer nothing their receiver sent, e.g. " \
                        f"sender {stray[0][0]} got {len(stray[0][1])} bytes"
    unanswered = [(i, j, len(messages[i][j])) for i in range(senders) for j in range(per_sender)
                  if replies[i][j] == 0]
    assert unanswered == [], f"unanswered after bounded retries: {unanswered[:10]}"
    # One reply per datagram sent: a datagram sent once was answered exactly once.
    excess = [(i, j) for i in range(senders) for j in range(per_sender) if replies[i][j] > sends[i][j]]
    assert excess == []
    assert server.proc.poll() is None, server.stderr()


def test_empty_and_binary_datagrams_are_answered_as_such(start_server):
    server = udp_upper_server(start_server)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        target = ("127.0.0.1", server.port)
        assert ask(sock, b"", target)[0] == b""
        data = bytes(range(256))
        assert ask(sock, data, target)[0] == data.upper()


def test_ipv6_loopback_bound_server(start_server):
    server = udp_upper_server(start_server, "-b", "::1")
    assert "[::1]:" in server.stderr()
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        reply, source = ask(sock, b"ipv6 only\n", ("::1", server.port))
    assert reply == b"IPV6 ONLY\n"
    assert source[:2] == ("::1", server.port)


def test_wildcard_server_is_dual_stack(start_server):
    server = udp_upper_server(start_server)
    assert "[::]:" in server.stderr()
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as six, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as four:
        reply6, source6 = ask(six, b"from six", ("::1", server.port))
        reply4, source4 = ask(four, b"from four", ("127.0.0.1", server.port))
    assert reply6 == b"FROM SIX"
    assert reply4 == b"FROM FOUR"
    # The reply comes from the address the sender wrote to (a connected socket needs that).
    assert source6[:2] == ("::1", server.port)
    assert source4 == ("127.0.0.1", server.port)


def test_connect_udp_to_closed_port_is_refused():
    port = free_port(socket.SOCK_DGRAM)
    started = time.monotonic()
    result = run_sockcat("connect", "-u", "127.0.0.1", str(port), input=b"anyone?\n", timeout=10)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert result.stdout == b""
    lines = result.stderr.decode(errors="replace").splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("sockcat: ")
    assert "refused" in lines[0].lower()
    assert elapsed < 3.0  # the ICMP error ends it; no linger is needed


def test_listen_udp_relays_datagrams_to_stdout_and_stdin_to_latest_sender(start_server):
    server = start_server("listen", "-v", "-u", "-p", "0", stdin=subprocess.PIPE)
    target = ("127.0.0.1", server.port)
    out = b""

    def deliver(sock, message, tries=5):
        """Sends until the datagram shows on the server's stdout (bounded retries)."""
        nonlocal out
        for _ in range(tries):
            sock.sendto(message, target)
            out = read_until(server.proc.stdout, lambda d: message in d, timeout=1.0, initial=out)
            if message in out:
                return
        raise AssertionError(f"{message!r} never reached stdout; got {out!r}; {server.stderr()}")

    def feed(line, sock, tries=5):
        """Writes one line to the server's stdin until `sock` receives it; returns the reply."""
        sock.settimeout(1.0)
        for _ in range(tries):
            server.proc.stdin.write(line)
            server.proc.stdin.flush()
            try:
                return sock.recvfrom(70000)
            except socket.timeout:
                continue
        raise AssertionError(f"{line!r} never reached the sender; {server.stderr()}")

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
        deliver(a, b"first from a\n")
        deliver(b, b"then from b\n")
        reply, source = feed(b"to the latest sender\n", b)
        assert reply == b"to the latest sender\n"
        assert source == target
        deliver(a, b"a again\n")
        reply, _ = feed(b"now to a\n", a)
        # a's first datagram from the server: had stdin gone to a before, this would differ.
        assert reply == b"now to a\n"
        # stdin at EOF does not end a UDP listener: it keeps printing datagrams.
        server.proc.stdin.close()
        deliver(b, b"after stdin eof\n")
        assert server.proc.poll() is None
    # stdout holds only whole datagrams that were sent, in order of arrival.
    sent = [b"first from a\n", b"then from b\n", b"a again\n", b"after stdin eof\n"]
    assert set(out.splitlines(keepends=True)) == set(sent), out
    server.signal(15)
    assert server.wait(10) == 143


def test_connect_udp_sends_each_stdin_write_as_one_datagram_and_gets_every_reply():
    rng = random.Random(7)
    # Up to 4000 bytes: below PIPE_BUF, so each write reaches sockcat's stdin whole.
    chunks = [payload(rng, rng.randrange(1, 4000)) for _ in range(200)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(5)
        proc = subprocess.Popen([SOCKCAT, "connect", "-u", "127.0.0.1", str(peer.getsockname()[1])],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            received, out = [], b""
            # Lock step: chunk i goes in, arrives at the peer, is echoed, and shows on stdout
            # before chunk i+1 is written. Nothing queues up anywhere, so on loopback no
            # datagram may be lost, and each reply must be written out as soon as it arrives.
            for chunk in chunks:
                proc.stdin.write(chunk)
                proc.stdin.flush()
                datagram, sender = peer.recvfrom(70000)
                received.append(datagram)
                peer.sendto(datagram, sender)  # echo
                expected = len(out) + len(datagram)
                out = read_until(proc.stdout, lambda d: len(d) >= expected, timeout=5, initial=out)
                if len(out) < expected:
                    break
            status, rest, err = finish(proc)
        finally:
            stop_process(proc)
    assert received == chunks  # one datagram per stdin write, none merged or split
    assert status == 0, err
    assert out + rest == b"".join(chunks)  # every reply, in order, none lost on loopback


def test_connect_udp_file_stdin_leaves_as_maximum_size_datagrams(tmp_path):
    data = payload(random.Random(3), 3 * UDP_MAX + 1234)
    (tmp_path / "in").write_bytes(data)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer, open(tmp_path / "in", "rb") as stdin:
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(5)
        proc = subprocess.Popen([SOCKCAT, "connect", "-u", "127.0.0.1", str(peer.getsockname()[1])],
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            sizes, got = [], b""
            for _ in range(10):
                if len(got) >= len(data):
                    break
                datagram, sender = peer.recvfrom(70000)
                sizes.append(len(datagram))
                got += datagram
            peer.sendto(b"thanks\n", sender)
            status, out, err = finish(proc)
        finally:
            stop_process(proc)
    assert sizes == [UDP_MAX, UDP_MAX, UDP_MAX, 1234]
    assert got == data
    assert status == 0, err
    assert out == b"thanks\n"


def test_connect_udp_linger_restarts_with_each_reply():
    """After stdin EOF, replies 0.6 s apart keep the client waiting: it leaves only once a
    full second has passed with no datagram. (The pauses are the behaviour under test.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(5)
        proc = subprocess.Popen([SOCKCAT, "connect", "-u", "127.0.0.1", str(peer.getsockname()[1])],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            proc.stdin.write(b"start\n")
            proc.stdin.close()
            _, sender = peer.recvfrom(70000)
            for i in range(3):
                time.sleep(0.6)
                assert proc.poll() is None, "left while replies were still coming"
                peer.sendto(b"reply %d\n" % i, sender)
            last = time.monotonic()
            status, out, err = finish(proc)
            quiet = time.monotonic() - last
        finally:
            stop_process(proc)
    assert status == 0, err
    assert out == b"reply 0\nreply 1\nreply 2\n"
    assert 0.8 <= quiet <= 2.5, quiet


def test_connect_udp_from_chosen_source_port(start_server):
    server = start_server("listen", "-v", "-u", "-p", "0", stdin=subprocess.PIPE)
    source_port = free_port(socket.SOCK_DGRAM)
    client = subprocess.Popen([SOCKCAT, "connect", "-u", "-s", "127.0.0.1", "--source-port", str(source_port),
                               "127.0.0.1", str(server.port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        client.stdin.write(b"who am i\n")
        client.stdin.flush()
        assert read_until(server.proc.stdout, lambda d: d.endswith(b"\n")) == b"who am i\n"
        assert wait_for_line(server, f"127.0.0.1:{source_port}")
        server.proc.stdin.write(b"you are it\n")
        server.proc.stdin.flush()
        assert read_until(client.stdout, lambda d: d.endswith(b"\n")) == b"you are it\n"
        status, _, err = finish(client)
        assert status == 0, err
    finally:
        stop_process(client)


def wait_for_line(server, text, timeout=5):
    """True once the server's stderr shows `text` (its -v line for a new sender)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in server.stderr():
            return True
        time.sleep(0.02)  # stderr is gathered by conftest's reader thread; nothing to wait on
    return False


def test_sockcat_to_sockcat_udp_over_ipv6_loopback(start_server):
    server = start_server("listen", "-v", "-u", "-6", "-b", "::1", "-p", "0", "--transform", "upper")
    result = run_sockcat("connect", "-u", "-6", "::1", str(server.port), input=b"v6 only\n", timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"V6 ONLY\n"


def test_listen_udp_ends_quietly_when_stdout_reader_leaves(start_server):
    read_end, write_end = os.pipe()
    try:
        server = start_server("listen", "-v", "-u", "-p", "0", stdin=subprocess.PIPE, stdout=write_end)
    finally:
        os.close(write_end)
    os.close(read_end)  # nobody reads stdout any more
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"into the void\n", ("127.0.0.1", server.port))
        assert server.wait(10) == 0, server.stderr()
    assert "error" not in server.stderr().lower()


def test_senders_that_vanish_do_not_disturb_the_server(start_server):
    """Replies to closed sockets draw ICMP port unreachable; the server ignores that and
    answers the next sender, then ends with 130 on SIGINT."""
    server = udp_upper_server(start_server)
    target = ("127.0.0.1", server.port)
    for i in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gone:
            gone.sendto(b"gone %d" % i, target)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(5):
            assert ask(sock, b"still there %d?" % i, target)[0] == b"STILL THERE %d?" % i
    assert server.proc.poll() is None
    server.signal(2)
    assert server.wait(10) == 130


def test_connect_udp_socket_stdin_sends_one_datagram_per_record_in_bursts():
    # A SOCK_SEQPACKET stdin (as the benchmark's feeder gives), fed faster than it is read:
    # each record must leave as exactly one datagram, in order, never merged with the next.
    rng = random.Random(11)
    records = [payload(rng, rng.choice([1, 17, 1400, 9000, 60000])) for _ in range(400)]
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer, ours, theirs:
        so_rcvbufforce = 33  # Linux: SO_RCVBUF past rmem_max, for root (Python names no constant)
        peer.setsockopt(socket.SOL_SOCKET, so_rcvbufforce if os.geteuid() == 0 else socket.SO_RCVBUF, 32 << 20)
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(5)
        proc = subprocess.Popen([SOCKCAT, "connect", "-u", "-q", "100ms", "127.0.0.1", str(peer.getsockname()[1])],
                                stdin=theirs, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        theirs.close()
        try:
            def feed():
                for record in records:
                    ours.send(record)
                ours.shutdown(socket.SHUT_WR)
            feeder = threading.Thread(target=feed)
            feeder.start()
            received = []
            while len(received) < len(records):
                try:
                    received.append(peer.recv(70000))
                except socket.timeout:
                    break
            feeder.join(timeout=10)
            status, _, err = finish(proc)
        finally:
            stop_process(proc)
    assert [len(r) for r in received] == [len(r) for r in records]
    assert received == records
    assert status == 0, err


def send_records_to_a_sink(count, *extra):
    """`connect -u` with `count` records on a SOCK_SEQPACKET stdin, to a peer that never
    answers; returns (exit status, seconds from start to exit, datagrams the peer got)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink, ours, theirs:
        sink.bind(("127.0.0.1", 0))
        for i in range(count):
            ours.send(b"record %d" % i)
        ours.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        result = subprocess.run([SOCKCAT, "connect", "-u", *extra, "127.0.0.1", str(sink.getsockname()[1])],
                                stdin=theirs, capture_output=True, timeout=30)
        elapsed = time.monotonic() - started
        sink.settimeout(0)
        got = 0
        try:
            while True:
                sink.recv(100)
                got += 1
        except BlockingIOError:
            pass
    return result.returncode, elapsed, got


def test_connect_udp_to_a_sink_skips_the_linger_after_64_unanswered_datagrams():
    # 63 unanswered datagrams: the 1 s linger still applies (a reply may yet come) ...
    status, elapsed, got = send_records_to_a_sink(63)
    assert (status, got) == (0, 63)
    assert elapsed >= 1.0
    # ... 64 or more: the peer is a sink, and sockcat ends at stdin EOF.
    status, elapsed, got = send_records_to_a_sink(64)
    assert (status, got) == (0, 64)
    assert elapsed < 0.9
    # -q still asks for a linger.
    status, elapsed, got = send_records_to_a_sink(64, "-q", "1s")
    assert (status, got) == (0, 64)
    assert elapsed >= 1.0
