"""--framing line|length end to end: the framed server against Python clients that join many
messages into one segment or split one message byte by byte, the limits of --max-message, cut
prefixes at EOF, CRLF, the framed client against Python and socat peers, and one datagram per
line over UDP."""
import re
import socket
import struct
import subprocess

import pytest

from conftest import SOCKCAT, run_sockcat, wait_until
from helpers_peers import SOCAT, start_foreign_server, stop_process
from helpers_tcp import (LOOP4, accept, connect, procs,  # noqa: F401
                         recv_exact, recv_until_eof, sees_eof_within, tcp_listener, wait_exit)


def framed(payload):
    return struct.pack(">I", len(payload)) + payload


def serve(start_server, framing, transform="upper", *extra):
    return start_server("listen", "-v", "-p", "0", "--transform", transform, "--framing", framing, *extra)


def nodelay(sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# The server ----------------------------------------------------------------------------------

def test_line_many_messages_in_one_segment(start_server):
    server = serve(start_server, "line", "reverse")
    lines = [b"message %d" % i for i in range(2000)] + [b""]
    with connect(LOOP4, server.port) as sock:
        sock.sendall(b"".join(line + b"\n" for line in lines))
        sock.shutdown(socket.SHUT_WR)
        replies = recv_until_eof(sock)
    assert replies == b"".join(line[::-1] + b"\n" for line in lines)


def test_length_many_messages_in_one_segment(start_server):
    server = serve(start_server, "length", "reverse")
    messages = [bytes(range(i % 256)) * (i % 3) for i in range(500)]
    with connect(LOOP4, server.port) as sock:
        sock.sendall(b"".join(framed(m) for m in messages))
        sock.shutdown(socket.SHUT_WR)
        replies = recv_until_eof(sock)
    assert replies == b"".join(framed(m[::-1]) for m in messages)


@pytest.mark.parametrize("framing", ["line", "length"])
def test_one_message_split_byte_by_byte(start_server, framing):
    """Each byte goes in its own segment (TCP_NODELAY): the reply still comes whole, once the
    last byte is in, and not before."""
    server = serve(start_server, framing, "reverse")
    message = b"split into single bytes"
    wire = message + b"\n" if framing == "line" else framed(message)
    expected = message[::-1] + b"\n" if framing == "line" else framed(message[::-1])
    with nodelay(connect(LOOP4, server.port)) as sock:
        for byte in wire[:-1]:
            sock.send(bytes([byte]))
        assert not sees_eof_within(sock, 0.2)  # no partial reply: nothing at all arrives
        sock.send(wire[-1:])
        assert recv_exact(sock, len(expected)) == expected


def test_empty_messages_are_answered(start_server):
    line = serve(start_server, "line", "upper")
    length = serve(start_server, "length", "upper")
    with connect(LOOP4, line.port) as sock:
        sock.sendall(b"\n\r\n\n")
        assert recv_exact(sock, 3) == b"\n\n\n"
    with connect(LOOP4, length.port) as sock:
        sock.sendall(framed(b"") * 3)
        assert recv_exact(sock, 12) == framed(b"") * 3


def test_crlf_requests_get_lf_replies(start_server):
    server = serve(start_server, "line", "upper")
    with connect(LOOP4, server.port) as sock:
        sock.sendall(b"one\r\ntwo\nthr\ree\r\n")
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b"ONE\nTWO\nTHR\rEE\n"


@pytest.mark.parametrize("framing", ["line", "length"])
def test_exactly_max_message_passes_one_byte_over_closes(start_server, framing):
    server = serve(start_server, framing, "echo", "--max-message", "1K")
    wrap = (lambda m: m + b"\n") if framing == "line" else framed
    exact = b"x" * 1024
    bystander = connect(LOOP4, server.port)
    with connect(LOOP4, server.port) as sock:
        sock.sendall(wrap(exact))
        assert recv_exact(sock, len(wrap(exact))) == wrap(exact)
        sock.sendall(wrap(b"ok"))
        assert recv_exact(sock, len(wrap(b"ok"))) == wrap(b"ok")
    with connect(LOOP4, server.port) as sock:
        port = sock.getsockname()[1]
        sock.sendall(wrap(b"first") + wrap(exact + b"y") + wrap(b"never answered"))
        try:
            data = recv_until_eof(sock)
        except ConnectionResetError:
            data = None  # closed with our unread bytes pending: a reset, also "told nothing"
        assert data in (None, wrap(b"first")), data
    # One -v line names the reason; the other client is untouched.
    assert wait_until(lambda: re.search(r"connection from \S+:%d closed: message over --max-message" % port,
                                        server.stderr()), timeout=5), server.stderr()
    with bystander:
        bystander.sendall(wrap(b"still here"))
        assert recv_exact(bystander, len(wrap(b"still here"))) == wrap(b"still here")
    assert server.proc.poll() is None


def test_announced_length_over_the_limit_closes_at_once(start_server):
    """The prefix alone is enough: the server does not wait for (or buffer) the payload."""
    server = serve(start_server, "length", "echo", "--max-message", "100")
    with connect(LOOP4, server.port) as sock:
        sock.sendall(struct.pack(">I", 0xFFFFFFFF))
        assert sees_eof_within(sock, 5)


def test_line_over_the_limit_is_refused_before_its_end(start_server):
    """A line with no LF yet is refused as soon as it is longer than the limit: the server
    never holds more than the limit plus one read for a client."""
    server = serve(start_server, "line", "echo", "--max-message", "64K")
    with connect(LOOP4, server.port) as sock:
        sock.sendall(b"z" * (256 * 1024))  # no LF at all
        try:
            assert sees_eof_within(sock, 5)
        except ConnectionResetError:
            pass


@pytest.mark.parametrize("framing, tail", [("length", b"\x00\x00"), ("length", framed(b"abcdef")[:7]),
                                           ("line", b"no newline")])
def test_truncated_final_message_is_reported_not_answered(start_server, framing, tail):
    server = serve(start_server, framing, "upper")
    whole = b"whole\n" if framing == "line" else framed(b"whole")
    with connect(LOOP4, server.port) as sock:
        port = sock.getsockname()[1]
        sock.sendall(whole + tail)
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == whole.upper()
    pattern = r"connection from \S+:%d: truncated message at end of stream \(%d bytes dropped\)" % (port, len(tail))
    assert wait_until(lambda: re.search(pattern, server.stderr()), timeout=5), server.stderr()


def test_truncation_warning_does_not_need_v(start_server):
    server = start_server("listen", "-v", "-p", "0", "--transform", "echo", "--framing", "length")
    # (-v is needed to learn the port; the warning is the one line that is not an -v line)
    with connect(LOOP4, server.port) as sock:
        sock.sendall(b"\x00")
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""
    assert wait_until(lambda: "truncated message" in server.stderr(), timeout=5)


def test_reverse_needs_framing_over_tcp():
    result = run_sockcat("listen", "-p", "0", "--transform", "reverse")
    assert result.returncode == 2
    assert b"whole messages" in result.stderr and b"--framing" in result.stderr
    assert result.stderr.count(b"\n") == 1


# The client ----------------------------------------------------------------------------------

@pytest.mark.parametrize("framing", ["line", "length"])
def test_client_pairs_lines_with_replies_from_sockcat_server(start_server, framing):
    server = serve(start_server, framing, "rot13")
    lines = b"Hello\r\nWorld\n\nlast line without LF"
    result = run_sockcat("connect", "--framing", framing, LOOP4, str(server.port), input=lines, timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Uryyb\nJbeyq\n\nynfg yvar jvgubhg YS\n"
    assert result.stderr == b""


def test_client_against_a_python_server_that_splits_and_joins(procs):
    """The server answers two requests in one segment, then one reply a byte at a time: the
    client still writes one line per reply."""
    listener, port = tcp_listener()
    client = procs.sockcat("connect", "--framing", "length", LOOP4, port,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    with listener:
        conn = nodelay(accept(listener))
    with conn:
        client.stdin.write(b"a\nb\nc\n")
        client.stdin.close()
        assert recv_exact(conn, 15) == framed(b"a") + framed(b"b") + framed(b"c")
        conn.sendall(framed(b"reply a") + framed(b"reply b"))
        for byte in framed(b"reply c"):
            conn.send(bytes([byte]))
        assert recv_until_eof(conn) == b""  # the client half-closed at stdin EOF
    assert wait_exit(client, 10) == 0
    assert client.stdout.read() == b"reply a\nreply b\nreply c\n"


def test_client_reports_a_reply_cut_short(procs):
    listener, port = tcp_listener()
    client = procs.sockcat("connect", "--framing", "length", LOOP4, port,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    with listener:
        conn = accept(listener)
    with conn:
        client.stdin.write(b"q\n")
        client.stdin.close()
        assert recv_exact(conn, 5) == framed(b"q")
        conn.sendall(framed(b"ok") + framed(b"cut short")[:6])
    assert wait_exit(client, 10) == 1
    assert client.stdout.read() == b"ok\n"
    err = client.stderr.read().decode()
    assert len(err.splitlines()) == 1 and "truncated message at end of stream (6 bytes)" in err, err


def test_client_refuses_a_reply_over_max_message(procs):
    listener, port = tcp_listener()
    client = procs.sockcat("connect", "--framing", "length", "--max-message", "8", LOOP4, port,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    with listener:
        conn = accept(listener)
    with conn:
        conn.sendall(framed(b"12345678") + struct.pack(">I", 9))
        assert wait_exit(client, 10) == 1
    assert client.stdout.read() == b"12345678\n"
    assert "message over --max-message (8 bytes)" in client.stderr.read().decode()


def test_client_with_socat_echo_server():
    """socat (a peer we did not write) echoes the length-framed bytes back as they come."""
    socat, port = start_foreign_server(
        lambda p: [SOCAT, f"TCP4-LISTEN:{p},bind=127.0.0.1,reuseaddr", "EXEC:/bin/cat"],
        stderr=subprocess.DEVNULL)
    try:
        lines = b"".join(b"line %d\n" % i for i in range(300))
        result = run_sockcat("connect", "--framing", "length", LOOP4, str(port), input=lines, timeout=10)
        assert result.returncode == 0, result.stderr
        assert result.stdout == lines
    finally:
        stop_process(socat)


def test_socat_client_against_line_server(start_server):
    server = serve(start_server, "line", "reverse")
    lines = b"".join(b"socat %d\r\n" % i for i in range(100))
    result = subprocess.run([SOCAT, "-t", "5", "-", f"TCP4:127.0.0.1:{server.port}"], input=lines,
                            capture_output=True, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"".join((b"socat %d" % i)[::-1] + b"\n" for i in range(100))


# UDP -----------------------------------------------------------------------------------------

def test_udp_line_framing_sends_one_datagram_per_line():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((LOOP4, 0))
        server.settimeout(10)
        port = server.getsockname()[1]
        client = subprocess.Popen([SOCKCAT, "connect", "-u", "-q", "2s", "--framing", "line",
                                   LOOP4, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        try:
            client.stdin.write(b"one\ntwo\r\n\nthree")  # one write: four lines
            client.stdin.close()
            got = []
            for _ in range(4):
                data, sender = server.recvfrom(70000)
                got.append(data)
                server.sendto(data[::-1], sender)
            assert got == [b"one", b"two", b"", b"three"]
            assert wait_exit(client, 10) == 0
            assert client.stdout.read() == b"eno\nowt\n\neerht\n"
        finally:
            stop_process(client)


def test_udp_reverse_server_needs_no_framing(start_server):
    server = start_server("listen", "-v", "-u", "-p", "0", "--transform", "reverse")
    result = run_sockcat("connect", "-u", "-q", "500ms", "--framing", "line", LOOP4, str(server.port),
                         input=b"abc\nxyz\n", timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"cba\nzyx\n"
