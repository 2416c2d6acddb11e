"""-o, -x and --stats in every listen mode (issue 10, points 8 and 12): two clients send
distinct data, and the logs hold every byte each way, each record naming its client
("#N ADDR:PORT"); --stats prints one line per client at its end and a total at exit. A mode
that serves one connection keeps -o as the raw bytes and one unlabelled --stats line."""
import re
import signal
import socket
import subprocess

import pytest

from conftest import SOCKCAT, wait_log
from helpers_tcp import LOOP4, connect, recv_exact, recv_until_eof

RECORD = re.compile(rb"\[(#\d+ \S+) ([<>]) (\d+)\]\n")
DUMP_LINE = re.compile(r"^(#\d+ \S+) ([<>]) ([0-9a-f]{8,})  ((?:[0-9a-f]{2} | {3}| )+) \|(.*)\|$")
CLIENT_STATS = re.compile(r"^sockcat: (#\d+ \S+): sent (\d+) bytes?, received (\d+) bytes? in \d+\.\d{3} s")
TOTAL_STATS = re.compile(r"^sockcat: total of (\d+) clients?: sent (\d+) bytes?, received (\d+) bytes? in ")
PLAIN_STATS = re.compile(r"^sockcat: sent (\d+) bytes?, received (\d+) bytes? in \d+\.\d{3} s")


def port_of(label):
    """The client port in a label such as '#2 127.0.0.1:40312'."""
    return int(label.rsplit(":", 1)[1])


def parse_records(data):
    """{(client port, '<' or '>'): bytes} from a labelled -o file, checking its framing: a
    header, exactly N bytes, and a newline after bytes that do not end with one."""
    streams = {}
    labels = {}
    at = 0
    while at < len(data):
        match = RECORD.match(data, at)
        assert match, f"no record header at byte {at}: {data[at:at + 60]!r}"
        label, marker, size = match.group(1).decode(), match.group(2).decode(), int(match.group(3))
        body = data[match.end():match.end() + size]
        assert len(body) == size, f"record cut short: {label} {marker} {size}"
        at = match.end() + size
        if not body.endswith(b"\n"):
            assert data[at:at + 1] == b"\n", f"no newline after a record of {label}"
            at += 1
        port = port_of(label)
        assert labels.setdefault(port, label) == label, f"client {port} has two labels"
        streams[(port, marker)] = streams.get((port, marker), b"") + body
    return streams


def parse_dump(text):
    """{(client port, '<' or '>'): bytes} from a labelled -x dump, checking that each client's
    offsets run on without a gap in each direction."""
    streams = {}
    for line in text.splitlines():
        match = DUMP_LINE.match(line)
        assert match, f"not a labelled hex dump line: {line!r}"
        key = (port_of(match.group(1)), match.group(2))
        so_far = streams.get(key, b"")
        assert int(match.group(3), 16) == len(so_far), f"offset gap: {line!r}"
        chunk = bytes.fromhex(match.group(4).replace(" ", ""))
        assert match.group(5) == "".join(chr(b) if 0x20 <= b < 0x7f else "." for b in chunk), line
        streams[key] = so_far + chunk
    return streams


def client_stats(stderr):
    """{client port: (sent, received)} from the per-client --stats lines."""
    found = {}
    for line in stderr.splitlines():
        match = CLIENT_STATS.match(line)
        if match:
            port = port_of(match.group(1))
            assert port not in found, f"two --stats lines for client {port}: {stderr!r}"
            found[port] = (int(match.group(2)), int(match.group(3)))
    return found


def total_stats(stderr):
    """(clients, sent, received) from the one total --stats line."""
    found = [TOTAL_STATS.match(line) for line in stderr.splitlines()]
    found = [match for match in found if match]
    assert len(found) == 1, f"expected one total --stats line in {stderr!r}"
    return tuple(int(group) for group in found[0].groups())


def expected_streams(clients):
    """{(port, '<'): what the client sent, (port, '>'): what it got}, empty streams left out."""
    streams = {}
    for port, (sent, got) in clients.items():
        for marker, data in (("<", sent), (">", got)):
            if data:
                streams[(port, marker)] = data
    return streams


def check_logs(server, tmp_path, clients):
    """Stops `server` (SIGTERM) and checks its -o, -x and --stats output against `clients`:
    {client port: (bytes it sent, bytes it received)}."""
    server.signal(signal.SIGTERM)
    assert server.wait(10) == 143
    stderr = server.stderr()
    expected = expected_streams(clients)
    assert parse_records((tmp_path / "raw").read_bytes()) == expected
    assert parse_dump((tmp_path / "dump").read_text()) == expected
    assert client_stats(stderr) == {port: (len(got), len(sent)) for port, (sent, got) in clients.items()}
    sent_total = sum(len(got) for _, got in clients.values())
    received_total = sum(len(sent) for sent, _ in clients.values())
    assert total_stats(stderr) == (len(clients), sent_total, received_total)


def start_logging(start_server, tmp_path, *mode, **kwargs):
    return start_server("listen", "-v", "-p", "0", "-o", str(tmp_path / "raw"), "-x", str(tmp_path / "dump"),
                        "--stats", *mode, **kwargs)


def exchange(port, data, expect=None):
    """One client: sends `data`, half-closes, reads to EOF. Returns (its port, what it got)."""
    with connect(LOOP4, port) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        got = recv_until_eof(sock)
        return sock.getsockname()[1], got


# Replying servers ------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, first, second", [
    (("--transform", "upper"), (b"hello\n", b"HELLO\n"), (b"no newline", b"NO NEWLINE")),
    (("--transform", "echo"), (b"\x00\xffbinary\n\n", b"\x00\xffbinary\n\n"), (b"x" * 70000, b"x" * 70000)),
    (("--transform", "upper", "--framing", "line"), (b"ab\ncd\n", b"AB\nCD\n"), (b"ef\n", b"EF\n")),
])
def test_replying_servers_log_each_client(start_server, tmp_path, mode, first, second):
    server = start_logging(start_server, tmp_path, *mode)
    clients = {}
    for sent, reply in (first, second):
        port, got = exchange(server.port, sent)
        assert got == reply
        clients[port] = (sent, got)
    wait_log(server, r"sockcat: #2 ", 1)  # the second client's --stats line, at its end
    check_logs(server, tmp_path, clients)


# listen -k, transform none: shared stdio -------------------------------------------------------

def test_shared_stdio_logs_each_client_and_what_stdin_sent_it(start_server, tmp_path):
    server = start_logging(start_server, tmp_path, "-k", stdin=subprocess.PIPE)
    a, b = connect(LOOP4, server.port), connect(LOOP4, server.port)
    with a, b:
        wait_log(server, r"connection from 127\.0\.0\.1:\d+\n", 2)
        server.proc.stdin.write(b"to everyone\n")
        server.proc.stdin.flush()
        assert recv_exact(a, 12) == b"to everyone\n"
        assert recv_exact(b, 12) == b"to everyone\n"
        a.sendall(b"from a\n")
        b.sendall(b"from b, no newline")
        for sock in (a, b):
            sock.shutdown(socket.SHUT_WR)
            assert recv_until_eof(sock) == b""
        clients = {a.getsockname()[1]: (b"from a\n", b"to everyone\n"),
                   b.getsockname()[1]: (b"from b, no newline", b"to everyone\n")}
    wait_log(server, r"sockcat: #2 ", 1)
    assert server.proc.stdout.read(25) in (b"from a\nfrom b, no newline", b"from b, no newlinefrom a\n")
    check_logs(server, tmp_path, clients)


# --broker and --chat --------------------------------------------------------------------------

def test_broker_logs_what_each_client_sent_and_got(start_server, tmp_path):
    server = start_logging(start_server, tmp_path, "--broker")
    a, b = connect(LOOP4, server.port), connect(LOOP4, server.port)
    with a, b:
        wait_log(server, r"connection from 127\.0\.0\.1:\d+\n", 2)
        a.sendall(b"from a\n")
        assert recv_exact(b, 7) == b"from a\n"
        b.sendall(b"from b")
        assert recv_exact(a, 6) == b"from b"
        for sock in (a, b):
            sock.shutdown(socket.SHUT_WR)
            assert recv_until_eof(sock) == b""
        clients = {a.getsockname()[1]: (b"from a\n", b"from b"), b.getsockname()[1]: (b"from b", b"from a\n")}
    wait_log(server, r"sockcat: #\d ", 2)
    check_logs(server, tmp_path, clients)


def test_chat_logs_the_labelled_lines_each_client_got(start_server, tmp_path):
    server = start_logging(start_server, tmp_path, "--chat")
    a = connect(LOOP4, server.port)
    with a:
        greeting_a = recv_exact(a, len(b"<announce> you are <user1>, with 0 others\n"))
        b = connect(LOOP4, server.port)
        with b:
            greeting_b = recv_exact(b, len(b"<announce> you are <user2>, with 1 other\n"))
            joined = recv_exact(a, len(b"<announce> <user2> has joined\n"))
            b.sendall(b"hi\n")
            heard = recv_exact(a, len(b"<user2> hi\n"))
            assert heard == b"<user2> hi\n"
            b.shutdown(socket.SHUT_WR)
            assert recv_until_eof(b) == b""
            port_b = b.getsockname()[1]
        left = recv_exact(a, len(b"<announce> <user2> has left\n"))
        a.shutdown(socket.SHUT_WR)
        assert recv_until_eof(a) == b""
        clients = {a.getsockname()[1]: (b"", greeting_a + joined + heard + left), port_b: (b"hi\n", greeting_b)}
    wait_log(server, r"sockcat: #\d ", 2)
    check_logs(server, tmp_path, clients)


# --send-file ----------------------------------------------------------------------------------

def test_send_file_with_k_logs_the_file_to_each_client(start_server, tmp_path):
    payload = bytes(range(256)) * 1000
    (tmp_path / "file").write_bytes(payload)
    server = start_logging(start_server, tmp_path, "-k", "--send-file", str(tmp_path / "file"))
    clients = {}
    for _ in range(2):
        port, got = exchange(server.port, b"")
        assert got == payload
        clients[port] = (b"", got)
    wait_log(server, r"sockcat: #2 ", 1)
    check_logs(server, tmp_path, clients)


def test_send_file_to_one_client_logs_raw_bytes(start_server, tmp_path):
    (tmp_path / "file").write_bytes(b"the file\n")
    server = start_server("listen", "-v", "-p", "0", "-o", str(tmp_path / "raw"), "--stats",
                          "--send-file", str(tmp_path / "file"))
    assert exchange(server.port, b"")[1] == b"the file\n"
    assert server.wait(10) == 0
    assert (tmp_path / "raw").read_bytes() == b"the file\n"
    assert [PLAIN_STATS.match(line).groups() for line in server.stderr().splitlines()
            if PLAIN_STATS.match(line)] == [("9", "0")]


# -e / -c ------------------------------------------------------------------------------------

def test_exec_with_k_logs_each_client_both_ways(start_server, tmp_path):
    server = start_logging(start_server, tmp_path, "-k", "-c", "tr a-z A-Z")
    clients = {}
    for sent in (b"first client\n", b"second\x00client"):
        port, got = exchange(server.port, sent)
        assert got == sent.upper()
        clients[port] = (sent, got)
    wait_log(server, r"sockcat: #2 ", 1)
    check_logs(server, tmp_path, clients)


def test_exec_for_one_client_logs_raw_bytes_and_counts(start_server, tmp_path):
    server = start_server("listen", "-v", "-p", "0", "-o", str(tmp_path / "raw"), "--stats", "-e", "/bin/cat")
    port, got = exchange(server.port, b"echoed\n")
    assert got == b"echoed\n"
    assert server.wait(10) == 0
    assert (tmp_path / "raw").read_bytes() == b"echoed\n" * 2  # in, then out
    assert [PLAIN_STATS.match(line).groups() for line in server.stderr().splitlines()
            if PLAIN_STATS.match(line)] == [("7", "7")]


def test_exec_without_logging_hands_over_the_socket_itself(start_server):
    """Not logging costs nothing: the program gets the client's TCP socket itself; only a tap
    puts pipes between them."""
    script = 'case $(readlink /proc/self/fd/0) in pipe:*) echo pipe;; socket:*) echo socket;; esac'
    for extra, expected in (([], b"socket\n"), (["--stats"], b"pipe\n")):
        server = start_server("listen", "-v", "-p", "0", *extra, "-c", script)
        assert exchange(server.port, b"")[1] == expected
        assert server.wait(10) == 0


def test_udp_exec_logs_each_sender_both_ways(start_server, tmp_path):
    """listen -u -e: a program per sender, and each sender's datagrams logged under its label."""
    server = start_logging(start_server, tmp_path, "-u", "-k", "-c", "stdbuf -oL tr a-z A-Z")
    clients = {}
    for datagram in (b"first sender\n", b"second\n"):
        port, got = udp_exchange(server.port, datagram, 1)
        assert got == datagram.upper()
        clients[port] = (datagram, got)
    check_logs(server, tmp_path, clients)


def test_connect_udp_exec_logs_raw_bytes_and_counts(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind((LOOP4, 0))
        peer.settimeout(10)
        client = subprocess.Popen([SOCKCAT, "connect", "-u", "-o", str(tmp_path / "raw"), "--stats",
                                   "-c", "echo hello; head -c 6 | tr a-z A-Z", LOOP4, str(peer.getsockname()[1])],
                                  stderr=subprocess.PIPE)
        datagram, address = peer.recvfrom(100)
        assert datagram == b"hello\n"
        peer.sendto(b"shout\n", address)
        assert peer.recvfrom(100)[0] == b"SHOUT\n"
        _, stderr = client.communicate(timeout=10)
    assert client.returncode == 0, stderr
    assert (tmp_path / "raw").read_bytes() == b"hello\nshout\nSHOUT\n"
    assert [PLAIN_STATS.match(line).groups() for line in stderr.decode().splitlines()
            if PLAIN_STATS.match(line)] == [("12", "6")]


# listen -u --------------------------------------------------------------------------------------

def udp_exchange(port, datagram, replies):
    """One UDP sender: sends `datagram`, takes `replies` datagrams back. Returns (its port, them)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        sock.sendto(datagram, (LOOP4, port))
        got = b"".join(sock.recvfrom(65536)[0] for _ in range(replies))
        return sock.getsockname()[1], got


def transforms():
    listing = subprocess.run([SOCKCAT, "listen", "--list-transforms"], capture_output=True, check=True).stdout
    return [line.split()[0] for line in listing.decode().splitlines() if line.strip()]


@pytest.mark.parametrize("transform", [name for name in transforms() if name != "none"])
def test_udp_replying_server_logs_each_sender(start_server, tmp_path, transform):
    server = start_logging(start_server, tmp_path, "-u", "--transform", transform)
    clients = {}
    for datagram in (b"Hello, first\n", b"second sender"):
        port, got = udp_exchange(server.port, datagram, 1)
        assert len(got) == len(datagram)
        clients[port] = (datagram, got)
    check_logs(server, tmp_path, clients)


def test_udp_relay_logs_each_sender_and_what_stdin_sent(start_server, tmp_path):
    server = start_logging(start_server, tmp_path, "-u", stdin=subprocess.PIPE)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
        a.sendto(b"from a\n", (LOOP4, server.port))
        assert server.proc.stdout.read(7) == b"from a\n"
        b.sendto(b"from b", (LOOP4, server.port))
        assert server.proc.stdout.read(6) == b"from b"
        server.proc.stdin.write(b"to the latest\n")  # goes to b, the latest sender
        server.proc.stdin.flush()
        b.settimeout(10)
        assert b.recvfrom(100)[0] == b"to the latest\n"
        clients = {a.getsockname()[1]: (b"from a\n", b""), b.getsockname()[1]: (b"from b", b"to the latest\n")}
    check_logs(server, tmp_path, clients)


# The one-connection relay and connect keep the raw format -------------------------------------

def test_one_connection_relay_keeps_raw_output_and_plain_stats(start_server, tmp_path):
    server = start_server("listen", "-v", "-p", "0", "-o", str(tmp_path / "raw"), "--stats",
                          stdin=subprocess.DEVNULL)
    assert exchange(server.port, b"raw bytes\n")[1] == b""
    assert server.wait(10) == 0
    assert (tmp_path / "raw").read_bytes() == b"raw bytes\n"
    assert [PLAIN_STATS.match(line).groups() for line in server.stderr().splitlines()
            if PLAIN_STATS.match(line)] == [("0", "10")]


def test_append_output_keeps_what_a_server_logged_before(start_server, tmp_path):
    (tmp_path / "raw").write_bytes(b"earlier\n")
    server = start_server("listen", "-v", "-p", "0", "-o", str(tmp_path / "raw"), "--append-output",
                          "--transform", "upper")
    port, _ = exchange(server.port, b"x")
    wait_log(server, r"closed \(received 1 byte,", 1)
    server.signal(signal.SIGTERM)
    server.wait(10)
    assert (tmp_path / "raw").read_bytes() == b"earlier\n[#1 127.0.0.1:%d < 1]\nx\n[#1 127.0.0.1:%d > 1]\nX\n" % (
        port, port)


def test_progress_on_a_server_is_a_usage_error_naming_where_it_applies():
    result = subprocess.run([SOCKCAT, "listen", "-k", "--progress", "0"], capture_output=True, timeout=10)
    assert result.returncode == 2
    assert b"--progress applies to a relay of one connection" in result.stderr


def test_a_failed_log_write_stops_the_log_not_the_server(start_server):
    server = start_server("listen", "-v", "-p", "0", "-o", "/dev/full", "--transform", "upper")
    for data in (b"first\n", b"second\n"):
        assert exchange(server.port, data)[1] == data.upper()
    wait_log(server, r"connection from \S+ closed", 2)  # both clients done: stderr has all it will say
    failures = [line for line in server.stderr().splitlines() if "cannot write to '/dev/full'" in line]
    assert len(failures) == 1, server.stderr()
    assert "logging stopped" in failures[0]


def test_a_failed_log_write_makes_a_one_client_exec_exit_1(start_server):
    server = start_server("listen", "-v", "-p", "0", "-o", "/dev/full", "-e", "/bin/cat")
    assert exchange(server.port, b"data\n")[1] == b"data\n"
    assert server.wait(10) == 1


# connect: -e/-c and --framing log as a one-connection relay does -------------------------------

def test_connect_exec_logs_raw_bytes_and_counts(tmp_path):
    listener = socket.create_server((LOOP4, 0))
    with listener:
        client = subprocess.Popen([SOCKCAT, "connect", "-o", str(tmp_path / "raw"), "--stats", "-c", "tr a-z A-Z",
                                   LOOP4, str(listener.getsockname()[1])], stderr=subprocess.PIPE)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            conn.sendall(b"shout\n")
            conn.shutdown(socket.SHUT_WR)
            assert recv_until_eof(conn) == b"SHOUT\n"
        _, stderr = client.communicate(timeout=10)
    assert client.returncode == 0
    assert (tmp_path / "raw").read_bytes() == b"shout\nSHOUT\n"
    assert [PLAIN_STATS.match(line).groups() for line in stderr.decode().splitlines()
            if PLAIN_STATS.match(line)] == [("6", "6")]


def test_connect_framing_logs_the_framed_bytes_on_the_wire(start_server, tmp_path):
    server = start_server("listen", "-v", "-p", "0", "--framing", "length", "--transform", "upper")
    result = subprocess.run([SOCKCAT, "connect", "--framing", "length", "-x", str(tmp_path / "dump"), "--stats",
                             LOOP4, str(server.port)], input=b"ab\n", capture_output=True, timeout=10)
    assert result.stdout == b"AB\n"
    dump = (tmp_path / "dump").read_text()
    assert dump.startswith("> 00000000  00 00 00 02 61 62 "), dump
    assert "\n< 00000000  00 00 00 02 41 42 " in dump, dump
    assert [PLAIN_STATS.match(line).groups() for line in result.stderr.decode().splitlines()
            if PLAIN_STATS.match(line)] == [("6", "6")]
