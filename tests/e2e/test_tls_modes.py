"""Every stream mode over TLS, and the handshake's edges: TLS over -U; stalled and garbage
handshakes beside a good client (served at once; the staller closed alone by
--ssl-handshake-timeout, named under -v); --send-file, --broker, --chat, -c/-e (both ends),
--framing line, -k shared stdio; a TCP EOF without close_notify (the data written out, one
line, exit 1); `connect -z --ssl` open only when a handshake completes and verifies, and the
handshake on connect bounded by -w and --ssl-handshake-timeout; a client the access lists
deny gets not one byte of TLS."""
import contextlib
import os
import random
import re
import select
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import run_sockcat, wait_log
from helpers_peers import payload, read_until
from helpers_tcp import (LOOP4, accept, assert_one_error_line, background, connect,  # noqa: F401
                         procs, read_fd, recv_until_eof, sees_eof_within, tcp_listener, wait_exit)
from helpers_tls import (FINGERPRINT, TlsStream, client_context, connect_tls, pki,  # noqa: F401
                         py_tls_server, quiet_until_eof, read_to_close_notify, reply_after_eof,
                         send_then_drop, server_context, sha256, tls_exchange)

MIB = 1024 * 1024




def tls_listen(start_server, pki, *extra, **kwargs):
    """`sockcat listen -v -p 0 --ssl` with the good certificate of the test CA."""
    return start_server("listen", "-v", "-p", "0", "--ssl", "--ssl-cert", pki.good.cert,
                        "--ssl-key", pki.good.key, *extra, **kwargs)


def tls_connect_args(pki, port, *extra):
    return ["connect", "--ssl", "--ssl-trustfile", pki.ca, *extra, "127.0.0.1", str(port)]


def lines_about(server, port):
    """The server's -v lines that name the client whose local port is `port`."""
    pattern = re.compile(r"[.:\]]%d\b" % port)
    return [line for line in server.stderr().splitlines() if pattern.search(line)]


def wait_line_about(server, port, reason, timeout=10):
    """Waits for a -v line naming the client at `port` and matching regex `reason`."""
    regex = re.compile(reason, re.I)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in lines_about(server, port) if regex.search(line)]
        if found:
            return found[0]
        time.sleep(0.01)
    raise AssertionError(f"no -v line about port {port} matching {reason!r}: {server.stderr()!r}")


# --- TLS over -U ----------------------------------------------------------------------------

def test_unix_upper_server_with_sockcat_and_python_clients(unix_server, sock_dir, pki):
    path = os.path.join(sock_dir, "tls")
    unix_server(path, "--ssl", "--ssl-cert", pki.good.cert, "--ssl-key", pki.good.key,
                "--transform", "upper")
    result = run_sockcat("connect", "-U", path, "--ssl-servername", "localhost", "--ssl-trustfile",
                         pki.ca, input=b"over unix\n", timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert result.stdout == b"OVER UNIX\n"
    exchange = tls_exchange(path, client_context(pki.ca), b"python over unix\n",
                            server_hostname="localhost")
    assert exchange.received == b"PYTHON OVER UNIX\n"
    assert exchange.ending == "close_notify"
    refused = run_sockcat("connect", "-U", path, "--ssl-servername", "other.example",
                          "--ssl-trustfile", pki.ca, input=b"x\n", timeout=20)
    assert refused.returncode == 1
    assert_one_error_line(refused.stderr, "does not match", "other.example")


def test_unix_ephemeral_certificate_pinned(unix_server, sock_dir):
    path = os.path.join(sock_dir, "pinned")
    server = unix_server(path, "--ssl", "--transform", "echo")
    (printed,) = wait_log(server, FINGERPRINT.pattern)
    data = payload(random.Random(20), 512 * 1024)
    result = run_sockcat("connect", "-U", path, "--ssl-pin", printed, input=data, timeout=20)
    assert result.returncode == 0, result.stderr
    assert sha256(result.stdout) == sha256(data)


def test_unix_connect_gets_a_reply_sent_after_its_close_notify(py_tls_server, sock_dir, pki):
    path = os.path.join(sock_dir, "py")
    server = py_tls_server(server_context(pki.good), reply_after_eof(lambda d: b"got " + d),
                           unix_path=path)
    result = run_sockcat("connect", "-U", path, "--ssl-servername", "localhost", "--ssl-trustfile",
                         pki.ca, input=b"unix data\n", timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"got unix data\n"
    (session,) = server.wait_sessions(1)
    assert session.server_name == "localhost"
    assert session.ending == "close_notify"


def test_unix_insecure_connect(unix_server, sock_dir):
    path = os.path.join(sock_dir, "insecure")
    unix_server(path, "--ssl", "--transform", "upper")
    result = run_sockcat("connect", "-U", path, "--ssl-insecure", input=b"no checks\n", timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"NO CHECKS\n"


# --- handshakes that never finish, or fail ---------------------------------------------------

GARBAGE = b"GET / HTTP/1.0\r\n\r\n"


def read_to_eof(fd, timeout):
    """Everything a raw descriptor yields until its EOF; fails the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    parts = []
    while True:
        left = deadline - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], \
            f"no EOF within {timeout} s ({b''.join(parts)[:60]!r} read)"
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def wait_closed(sock, timeout):
    """Waits until the server closes `sock` (FIN or reset; an alert record before it is
    fine); fails the test after `timeout` seconds. Returns the bytes that came first."""
    deadline = time.monotonic() + timeout
    data = b""
    while len(data) < 1 << 16:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"still open after {timeout} s ({data!r} came)"
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"more than 64 KiB to a client that sent no handshake: {data[:40]!r}")


def test_stalled_and_garbage_handshakes_do_not_hold_up_a_good_client(start_server, pki):
    server = tls_listen(start_server, pki, "--transform", "upper")  # default limit: 10 s
    staller = connect(LOOP4, server.port)
    garbage = connect(LOOP4, server.port)
    garbage.sendall(GARBAGE)
    try:
        started = time.monotonic()
        exchange = tls_exchange(("127.0.0.1", server.port), client_context(pki.ca), b"good\n",
                                server_hostname="localhost", timeout=5)
        assert exchange.received == b"GOOD\n"
        assert exchange.ending == "close_notify"
        result = run_sockcat(*tls_connect_args(pki, server.port), input=b"also good\n", timeout=5)
        assert result.returncode == 0, result.stderr
        assert result.stdout == b"ALSO GOOD\n"
        assert time.monotonic() - started < 5
        # The garbage client is closed (perhaps after an alert), alone, and named under -v.
        wait_closed(garbage, 5)
        wait_line_about(server, garbage.getsockname()[1], r"handshake|tls|ssl|version|http")
        # The staller is still within its 10 s.
        assert not sees_eof_within(staller, 0.1)
        assert server.proc.poll() is None
    finally:
        staller.close()
        garbage.close()


def test_handshake_timeout_closes_the_staller_alone(start_server, pki):
    server = tls_listen(start_server, pki, "--transform", "upper", "--ssl-handshake-timeout", "500ms")
    staller = connect(LOOP4, server.port)
    connected = time.monotonic()
    try:
        exchange = tls_exchange(("127.0.0.1", server.port), client_context(pki.ca), b"beside\n",
                                server_hostname="localhost", timeout=5)
        assert exchange.received == b"BESIDE\n"
        wait_closed(staller, 10)
        waited = time.monotonic() - connected
        assert 0.4 <= waited < 5, waited
        wait_line_about(server, staller.getsockname()[1], r"handshake")
    finally:
        staller.close()
    assert server.proc.poll() is None
    exchange = tls_exchange(("127.0.0.1", server.port), client_context(pki.ca), b"after\n",
                            server_hostname="localhost", timeout=5)
    assert exchange.received == b"AFTER\n"


def test_handshake_timeout_on_a_one_client_relay_listener(start_server, pki):
    """A stalled first client does not use up the one-client listener: it is closed at the
    limit and the next client is served."""
    server = tls_listen(start_server, pki, "--ssl-handshake-timeout", "500ms", stdin=subprocess.PIPE)
    staller = connect(LOOP4, server.port)
    try:
        wait_closed(staller, 10)
    finally:
        staller.close()
    stream = connect_tls(("127.0.0.1", server.port), client_context(pki.ca), "localhost", timeout=10)
    try:
        server.proc.stdin.write(b"to the real client\n")
        server.proc.stdin.close()
        stream.send(b"from the real client\n")
        stream.close_notify()
        assert stream.read_to_end() == (b"to the real client\n", "close_notify")
    finally:
        stream.close()
    assert server.wait(10) == 0, server.stderr()
    assert server.proc.stdout.read() == b"from the real client\n"


# --- the other stream modes over TLS ----------------------------------------------------------

def test_send_file_to_sockcat_and_python_clients_at_once(start_server, pki, procs, tmp_path):
    data = payload(random.Random(21), 4 * MIB)
    (tmp_path / "file").write_bytes(data)
    server = tls_listen(start_server, pki, "-k", "--send-file", str(tmp_path / "file"))
    with open(tmp_path / "out", "wb") as out:
        client = procs.sockcat(*tls_connect_args(pki, server.port), stdin=subprocess.DEVNULL,
                               stdout=out)
    exchange = tls_exchange(("127.0.0.1", server.port), client_context(pki.ca),
                            server_hostname="localhost", timeout=20, keep=False)
    assert wait_exit(client, 20) == 0, client.stderr.read()
    assert exchange.ending == "close_notify"
    assert exchange.received_sha == sha256(data)
    assert sha256((tmp_path / "out").read_bytes()) == sha256(data)


def test_send_file_one_client_then_exit_0(start_server, pki, tmp_path):
    (tmp_path / "file").write_bytes(b"the whole file\n" * 1000)
    server = tls_listen(start_server, pki, "--send-file", str(tmp_path / "file"))
    result = run_sockcat(*tls_connect_args(pki, server.port), input=b"", timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"the whole file\n" * 1000
    assert server.wait(10) == 0, server.stderr()


def join(server, pki):
    """A Python TLS client that the server has logged as connected."""
    stream = connect_tls(("127.0.0.1", server.port), client_context(pki.ca), "localhost", timeout=10)
    wait_log(server, r"connection from \S+:%d\b" % stream.sock.getsockname()[1])
    return stream


def test_broker_over_tls(start_server, pki):
    server = tls_listen(start_server, pki, "--broker", stdin=subprocess.PIPE)
    first, second = join(server, pki), join(server, pki)
    try:
        first.send(b"from the first\n")
        assert second.read_line() == b"from the first\n"
        second.send(b"from the second\n")
        assert first.read_line() == b"from the second\n"
        server.proc.stdin.write(b"from stdin\n")
        server.proc.stdin.flush()
        assert first.read_line() == b"from stdin\n"
        assert second.read_line() == b"from stdin\n"
        first.close_notify()
        assert first.read_to_end(timeout=10) == (b"", "close_notify")
        second.send(b"still here\n")
        assert server.proc.poll() is None
    finally:
        first.close()
        second.close()


def test_chat_over_tls(start_server, pki):
    server = tls_listen(start_server, pki, "--chat")
    first, second = join(server, pki), join(server, pki)
    try:
        first.send(b"hello chat\n")
        for _ in range(10):  # announcements may come first
            line = second.read_line()
            if b"hello chat" in line:
                break
        assert b"hello chat" in line and b"<user" in line, line
    finally:
        first.close()
        second.close()


def test_sh_exec_one_client_over_tls(start_server, pki):
    server = tls_listen(start_server, pki, "-c", "tr a-z A-Z")
    result = run_sockcat(*tls_connect_args(pki, server.port), input=b"hello exec\n", timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"HELLO EXEC\n"
    assert server.wait(10) == 0, server.stderr()


def test_sh_exec_keep_open_python_clients_over_tls(start_server, pki):
    """tr answers only at its stdin's end: the reply comes after the client's close_notify."""
    server = tls_listen(start_server, pki, "-k", "-c", "tr a-z A-Z")
    data = [payload(random.Random(22 + i), 300 * 1024) for i in range(3)]
    results = [None] * len(data)

    def run(index):
        results[index] = tls_exchange(("127.0.0.1", server.port), client_context(pki.ca),
                                      data[index], server_hostname="localhost", timeout=20)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(data))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for sent, exchange in zip(data, results):
        assert exchange is not None
        assert exchange.ending == "close_notify"
        assert sha256(exchange.received) == sha256(sent.upper())


def test_exec_over_tls(start_server, pki):
    server = tls_listen(start_server, pki, "-k", "-e", "/bin/cat")
    data = payload(random.Random(25), MIB)
    exchange = tls_exchange(("127.0.0.1", server.port), client_context(pki.ca), data,
                            server_hostname="localhost", timeout=20)
    assert exchange.ending == "close_notify"
    assert sha256(exchange.received) == sha256(data)


def test_connect_sh_exec_over_tls(py_tls_server, pki):
    """connect -c: the program reads what the server sends and answers through sockcat."""
    def ask(conn, session):
        conn.sendall(b"question one\nquestion two\n")
        read_to_close_notify(conn, session)
        if session.ending == "close_notify":
            conn.unwrap()

    server = py_tls_server(server_context(pki.good), ask)
    result = run_sockcat(*tls_connect_args(pki, server.port, "-c", "head -n 1 | tr a-z A-Z"),
                         stdin=subprocess.DEVNULL, timeout=20)
    assert result.returncode == 0, result.stderr
    (session,) = server.wait_sessions(1)
    assert session.received == b"QUESTION ONE\n"
    assert session.ending == "close_notify"


def test_framing_line_upper_over_tls(start_server, pki):
    server = tls_listen(start_server, pki, "--framing", "line", "--transform", "upper")
    lines = b"".join(b"message %d\n" % i for i in range(1000)) + b"\n"
    exchange = tls_exchange(("127.0.0.1", server.port), client_context(pki.ca), lines,
                            server_hostname="localhost")
    assert exchange.ending == "close_notify"
    assert exchange.received == lines.upper()


def test_keep_open_shared_stdio_over_tls(start_server, pki):
    server = tls_listen(start_server, pki, "-k", stdin=subprocess.PIPE)
    first, second = join(server, pki), join(server, pki)
    try:
        server.proc.stdin.write(b"to everyone\n")
        server.proc.stdin.flush()
        assert first.read_line() == b"to everyone\n"
        assert second.read_line() == b"to everyone\n"
        first.send(b"from first\n")
        assert read_fd(server.proc.stdout.fileno(), 11, timeout=10) == b"from first\n"
        second.send(b"from second\n")
        assert read_fd(server.proc.stdout.fileno(), 12, timeout=10) == b"from second\n"
    finally:
        first.close()
        second.close()


# --- the end of the stream -------------------------------------------------------------------

@pytest.mark.parametrize("stdin_open", [True, False], ids=["stdin-open", "after-our-close-notify"])
def test_tcp_eof_without_close_notify_is_exit_1_after_the_data(py_tls_server, pki, procs,
                                                               tmp_path, stdin_open):
    data = payload(random.Random(23), 256 * 1024)
    server = py_tls_server(server_context(pki.good), send_then_drop(data, not stdin_open))
    with open(tmp_path / "out", "wb") as out:
        client = procs.sockcat(*tls_connect_args(pki, server.port),
                               stdin=subprocess.PIPE if stdin_open else subprocess.DEVNULL,
                               stdout=out)
    status = wait_exit(client, 15)
    err = client.stderr.read()
    assert status == 1, err
    assert sha256((tmp_path / "out").read_bytes()) == sha256(data)
    assert_one_error_line(err, "without TLS close_notify")
    assert b"without TLS close_notify" in err  # the case as the note spells it


def test_peer_close_notify_is_a_clean_eof(py_tls_server, pki):
    """The server sends its data and close_notify first, while our stdin is still open:
    exit 0, like a TCP EOF."""
    def talk_first(conn, session):
        conn.sendall(b"all I have\n")
        conn.unwrap()  # our close_notify, then the client's

    server = py_tls_server(server_context(pki.good), talk_first)
    result = run_sockcat(*tls_connect_args(pki, server.port), stdin=subprocess.DEVNULL, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"all I have\n"


def test_close_notify_with_the_last_data_is_the_clients_eof(start_server, pki):
    """The client's last data and its close_notify arrive in one segment and its TCP side
    stays open (socat does this): the close_notify is an EOF all the same, answered by
    sockcat's own. (A reader that waits for the socket to turn readable again after the
    data never sees the close_notify already in its TLS buffer.)"""
    server = tls_listen(start_server, pki, "--transform", "upper")
    stream = connect_tls(("127.0.0.1", server.port), client_context(pki.ca), "localhost")
    try:
        stream.close_notify(half_close=False, last=b"last words\n")
        assert stream.read_to_end(timeout=5) == (b"LAST WORDS\n", "close_notify")
    finally:
        stream.close()


def test_close_notify_with_the_last_data_ends_the_relay_listeners_input(start_server, pki):
    """The same on the one-client relay: the client's data reaches stdout, and once stdin
    ends sockcat's close_notify closes the session, exit 0 (sockcat must have seen the
    client's close_notify to finish)."""
    server = tls_listen(start_server, pki, stdin=subprocess.PIPE)
    stream = connect_tls(("127.0.0.1", server.port), client_context(pki.ca), "localhost")
    try:
        stream.close_notify(half_close=False, last=b"last words\n")
        assert read_until(server.proc.stdout, lambda out: len(out) >= 11, timeout=5) == b"last words\n"
        server.proc.stdin.write(b"the answer\n")
        server.proc.stdin.close()
        assert stream.read_to_end(timeout=5) == (b"the answer\n", "close_notify")
    finally:
        stream.close()
    assert server.wait(10) == 0, server.stderr()


def test_connect_sees_a_close_notify_that_came_with_the_last_data(procs, pki):
    """The server's last data and close_notify arrive together, its TCP side left open, our
    stdin still open: stdout ends at once (as at a TCP EOF), stdin still goes out, exit 0."""
    listener, port = tcp_listener()
    seen = {}

    def serve():
        with listener:
            conn = accept(listener, timeout=10)
            try:
                stream = TlsStream(conn, server_context(pki.good), timeout=10, server_side=True)
                stream.close_notify(half_close=False, last=b"all at once\n")
                seen["end"] = stream.read_to_end(timeout=10)
            finally:
                conn.close()

    server = background(serve)
    proc = procs.sockcat(*tls_connect_args(pki, port), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert read_to_eof(proc.stdout.fileno(), 5) == b"all at once\n"
    proc.stdin.write(b"more\n")
    proc.stdin.close()
    server.join(15)
    assert seen["end"] == (b"more\n", "close_notify")
    assert wait_exit(proc, 10) == 0, proc.stderr.read()


# --- connect -z --ssl and handshake limits on connect --------------------------------------------

def test_port_check_open_when_the_handshake_verifies(py_tls_server, pki):
    server = py_tls_server(server_context(pki.good), quiet_until_eof)
    result = run_sockcat("connect", "-z", "--ssl", "--ssl-trustfile", pki.ca, "127.0.0.1",
                         str(server.port), stdin=subprocess.DEVNULL, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    (session,) = server.wait_sessions(1)
    assert session.handshake_error == ""
    assert session.received == b""


def test_port_check_not_open_when_the_certificate_does_not_verify(py_tls_server, pki):
    server = py_tls_server(server_context(pki.wrong_name), quiet_until_eof)
    result = run_sockcat("connect", "-z", "--ssl", "--ssl-trustfile", pki.ca, "127.0.0.1",
                         str(server.port), stdin=subprocess.DEVNULL, timeout=20)
    assert result.returncode == 1, result.stderr


def test_port_check_not_open_on_a_plain_tcp_server(procs):
    """A plain TCP server that speaks first (an SSH banner), not TLS."""
    listener, port = tcp_listener()
    done = threading.Event()

    def banner():
        with listener:
            conn = accept(listener)
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
                try:
                    recv_until_eof(conn, timeout=10)
                except (AssertionError, OSError):
                    pass
        done.set()

    threading.Thread(target=banner, daemon=True).start()
    started = time.monotonic()
    result = run_sockcat("connect", "-z", "--ssl-insecure", "127.0.0.1", str(port),
                         stdin=subprocess.DEVNULL, timeout=20)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 5
    assert done.wait(10)


def test_port_check_not_open_on_a_silent_tcp_listener_bounded_by_w():
    """Nothing ever answers the ClientHello (the kernel accepts, nobody reads): -w bounds it."""
    listener, port = tcp_listener()
    with listener:
        started = time.monotonic()
        result = run_sockcat("connect", "-z", "-w", "1s", "--ssl-insecure", "127.0.0.1", str(port),
                             stdin=subprocess.DEVNULL, timeout=20)
        elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 5, elapsed


def test_connect_handshake_timeout_on_a_silent_listener():
    listener, port = tcp_listener()
    with listener:
        started = time.monotonic()
        result = run_sockcat("connect", "--ssl-insecure", "--ssl-handshake-timeout", "500ms",
                             "127.0.0.1", str(port), stdin=subprocess.DEVNULL, timeout=20)
        elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert 0.4 <= elapsed < 5, elapsed
    assert_one_error_line(result.stderr, "handshake")


def test_connect_w_bounds_the_handshake():
    listener, port = tcp_listener()
    with listener:
        started = time.monotonic()
        result = run_sockcat("connect", "-w", "700ms", "--ssl-insecure", "127.0.0.1", str(port),
                             stdin=subprocess.DEVNULL, timeout=20)
        elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert 0.5 <= elapsed < 5, elapsed
    assert_one_error_line(result.stderr)


# --- the access lists come before TLS --------------------------------------------------------

def client_hello():
    """The bytes of a real TLS ClientHello, made with Python's ssl on memory BIOs."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    hello = client_context(verify=False).wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        hello.do_handshake()
    return outgoing.read()


def test_a_denied_client_gets_not_one_byte_of_tls_and_an_allowed_one_is_served(start_server, pki):
    denied = tls_listen(start_server, pki, "-b", "127.0.0.1", "--deny", "127.0.0.1", "--transform", "upper")
    client = connect(LOOP4, denied.port)
    client_port = client.getsockname()[1]
    try:
        client.sendall(client_hello())
        client.settimeout(5)
        received = b""
        # A ServerHello or an alert would be bytes here; the refusal closes with our hello
        # unread, so the end may come as a reset.
        with contextlib.suppress(ConnectionResetError):
            while chunk := client.recv(4096):
                received += chunk
        assert received == b""
    finally:
        client.close()
    wait_line_about(denied, client_port, r"refused")
    allowed = tls_listen(start_server, pki, "-b", "127.0.0.1", "--allow", "127.0.0.0/8", "--transform", "upper")
    exchange = tls_exchange(("127.0.0.1", allowed.port), client_context(pki.ca), b"let in\n",
                            server_hostname="localhost", timeout=10)
    assert exchange.received == b"LET IN\n"
