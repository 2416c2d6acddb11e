"""Unix domain sockets (-U, -U -u) and -n, against the real binary: relays both ways with
SHA-256, replying servers with many clients, -k, datagram replies, abstract names, the stale
socket file, the live listener that is never taken over, the file that is not a socket, the
path that is too long, and the socket file removed at exit. Peers: Python's socket module,
socat and OpenBSD nc, as clients and as servers."""
import os
import random
import re
import signal
import socket
import subprocess

import pytest

from conftest import SOCKCAT, run_sockcat, wait_log, wait_until
from helpers_peers import NC_OPENBSD, SOCAT, payload, read_until, sha256, stop_process
from helpers_tcp import (assert_one_error_line, background, procs, push_without_reading, recv_exact,
                         recv_until_eof, wait_exit)

MIB = 1024 * 1024


def abstract_name():
    """A fresh @NAME, unique to this run."""
    return f"@sockcat-test-{os.getpid()}-{random.randrange(1 << 40):x}"


def sockaddr(path):
    """The Python address for a -U argument: @NAME becomes a leading NUL."""
    return "\0" + path[1:] if path.startswith("@") else path


def unix_connect(path, timeout=10):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(sockaddr(path))
    return sock


def ask(path, data, timeout=10):
    """Sends `data` to the stream server at `path`, half-closes, returns all it answered."""
    with unix_connect(path, timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return recv_until_eof(sock, timeout)


def wait_for_foreign_listener(path, proc, timeout=10):
    """Waits (bounded) until a server we did not write binds `path`. A datagram socket's
    connect() to a stream listener fails with EPROTOTYPE without queuing a connection, so
    the check does not use up nc's one accept (no event exists to wait on instead)."""
    def bound():
        assert proc.poll() is None, f"{proc.args} exited with {proc.returncode}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect(path)
            except OSError as error:
                return error.errno == 91  # EPROTOTYPE: a stream socket is bound there
        return True
    assert wait_until(bound, timeout), f"{proc.args} never bound {path}"


def is_socket(path):
    return os.path.exists(path) and (os.stat(path).st_mode & 0o170000) == 0o140000


# --- Stream relays -------------------------------------------------------------------------

def test_stream_relay_both_directions_sha256(unix_server, sock_dir, procs, tmp_path):
    """listen -U and connect -U relay a few MiB each way at once, both ends half-closing."""
    up = payload(random.Random(1), 3 * MIB + 17)
    down = payload(random.Random(2), 2 * MIB + 5)
    (tmp_path / "down").write_bytes(down)
    path = f"{sock_dir}/relay"
    with open(tmp_path / "down", "rb") as server_in:
        server = unix_server(path, stdin=server_in)
    client = procs.sockcat("connect", "-U", path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    writer = background(lambda: (client.stdin.write(up), client.stdin.close()))
    client_out = background(client.stdout.read)
    server_out = server.proc.stdout.read()
    writer.join()
    assert sha256(client_out.join()) == sha256(down)
    assert sha256(server_out) == sha256(up)
    assert wait_exit(client, 30) == 0
    assert server.wait() == 0, server.stderr()
    assert not os.path.exists(path), "the listener left its socket file behind"


def test_socat_client_of_relay_listener(unix_server, sock_dir):
    data = payload(random.Random(3), MIB)
    server = unix_server(f"{sock_dir}/s")
    result = subprocess.run([SOCAT, "-u", "-", f"UNIX-CONNECT:{server.path}"], input=data,
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert sha256(server.proc.stdout.read()) == sha256(data)
    assert server.wait() == 0


def test_connect_to_socat_listener_both_ways(sock_dir, procs):
    path = f"{sock_dir}/socat"
    up = payload(random.Random(4), MIB)
    socat = procs.popen([SOCAT, f"UNIX-LISTEN:{path}", "EXEC:tr a-z A-Z"], stdout=subprocess.DEVNULL)
    wait_for_foreign_listener(path, socat)
    result = run_sockcat("connect", "-U", path, input=up)
    assert result.returncode == 0, result.stderr
    assert sha256(result.stdout) == sha256(up.translate(bytes.maketrans(
        b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")))


def test_nc_client_of_upper_server(unix_server, sock_dir):
    server = unix_server("--transform", "upper", f"{sock_dir}/s")
    result = subprocess.run([NC_OPENBSD, "-N", "-U", server.path], input=b"hello unix\n",
                            capture_output=True, timeout=15)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"HELLO UNIX\n"


def test_connect_to_nc_listener_both_ways(sock_dir, procs, tmp_path):
    """nc -l ends its session at the network's EOF even with stdin unread, so sockcat's
    stdin is closed only once all of nc's data has arrived."""
    path = f"{sock_dir}/nc"
    to_nc = payload(random.Random(5), 512 * 1024)
    from_nc = payload(random.Random(6), 384 * 1024)
    (tmp_path / "from_nc").write_bytes(from_nc)
    with open(tmp_path / "from_nc", "rb") as nc_in, open(tmp_path / "nc_out", "wb") as nc_out:
        nc = procs.popen([NC_OPENBSD, "-N", "-lU", path], stdin=nc_in, stdout=nc_out)
    wait_for_foreign_listener(path, nc)
    client = procs.sockcat("connect", "-U", path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    writer = background(lambda: (client.stdin.write(to_nc), client.stdin.flush()))
    received = read_until(client.stdout, lambda d: len(d) >= len(from_nc), timeout=20)
    writer.join()
    client.stdin.close()
    assert wait_exit(client, 10) == 0
    assert wait_exit(nc, 10, "nc") == 0
    assert sha256(received + client.stdout.read()) == sha256(from_nc)
    assert sha256((tmp_path / "nc_out").read_bytes()) == sha256(to_nc)


# --- Servers ---------------------------------------------------------------------------------

def test_upper_server_many_concurrent_clients_and_one_that_leaves(unix_server, sock_dir):
    """Eight clients at once each get their own bytes upper-cased; a client that vanishes
    mid-stream (without reading) disturbs none of them."""
    server = unix_server("--transform", "upper", f"{sock_dir}/s")
    rude = unix_connect(server.path)
    assert push_without_reading(rude, 8 * MIB) > 0  # its replies back up: the server parks it
    messages = [payload(random.Random(10 + i), 200_000 + i) for i in range(8)]
    handles = [background(ask, server.path, m) for m in messages]
    rude.close()
    for handle, message in zip(handles, messages):
        assert handle.join() == message.upper()
    assert ask(server.path, b"still here") == b"STILL HERE"
    assert server.proc.poll() is None


def test_echo_server_on_abstract_name_with_python_and_socat(unix_server):
    name = abstract_name()
    server = unix_server("--transform", "echo", name)
    assert server.path == name
    assert ask(name, b"\0binary\xff") == b"\0binary\xff"
    result = subprocess.run([SOCAT, "-", f"ABSTRACT-CONNECT:{name[1:]}"], input=b"via socat",
                            capture_output=True, timeout=15)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"via socat"
    result = run_sockcat("connect", "-U", name, input=b"via sockcat")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"via sockcat"


def test_keep_open_shares_stdio_between_clients(unix_server, sock_dir):
    """-k with none: each client's data reaches stdout, stdin reaches every client."""
    server = unix_server("-k", f"{sock_dir}/s", stdin=subprocess.PIPE)
    first = unix_connect(server.path)
    second = unix_connect(server.path)
    first.sendall(b"from first\n")
    assert read_until(server.proc.stdout, lambda d: d.endswith(b"from first\n")) == b"from first\n"
    second.sendall(b"from second\n")
    assert read_until(server.proc.stdout, lambda d: d.endswith(b"from second\n")) == b"from second\n"
    server.proc.stdin.write(b"to everyone\n")
    server.proc.stdin.flush()
    assert recv_exact(first, 12) == b"to everyone\n"
    assert recv_exact(second, 12) == b"to everyone\n"
    server.proc.stdin.close()  # stdin EOF half-closes every client
    assert recv_until_eof(first) == b""
    assert recv_until_eof(second) == b""
    first.close()
    second.close()


def test_max_conns_and_idle_timeout_apply(unix_server, sock_dir):
    server = unix_server("--transform", "echo", "-m", "1", "-i", "300ms", f"{sock_dir}/s")
    holder = unix_connect(server.path)
    holder.sendall(b"hold")
    assert recv_exact(holder, 4) == b"hold"
    with unix_connect(server.path) as refused:  # over -m: closed at once
        assert recv_until_eof(refused) == b""
    assert recv_until_eof(holder, timeout=10) == b""  # -i: quiet for 300 ms
    holder.close()
    assert ask(server.path, b"next") == b"next"


# --- Datagrams -------------------------------------------------------------------------------

def test_datagram_server_replies_to_two_sockcat_clients(unix_server, sock_dir, procs):
    server = unix_server("-u", "--transform", "upper", f"{sock_dir}/d")
    first = procs.sockcat("connect", "-U", "-u", "-q", "300ms", server.path, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE)
    second = procs.sockcat("connect", "-U", "-u", "-q", "300ms", server.path, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE)
    first.stdin.write(b"first client")
    first.stdin.flush()
    second.stdin.write(b"second client")
    second.stdin.flush()
    assert read_until(first.stdout, lambda d: len(d) >= 12) == b"FIRST CLIENT"
    assert read_until(second.stdout, lambda d: len(d) >= 13) == b"SECOND CLIENT"
    first.stdin.close()
    second.stdin.close()
    assert wait_exit(first, 10) == 0
    assert wait_exit(second, 10) == 0
    assert first.stdout.read() == b""


def test_datagram_server_answers_python_senders_one_reply_per_datagram(unix_server):
    name = abstract_name()
    unix_server("-u", "--transform", "upper", name)
    senders = []
    try:
        for i in range(2):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.settimeout(10)
            sock.bind(f"\0sockcat-test-sender-{os.getpid()}-{i}")
            senders.append(sock)
        for i, sock in enumerate(senders):
            for j in range(5):
                sock.sendto(b"sender %d datagram %d" % (i, j) + b"x" * (1000 * j), sockaddr(name))
        for i, sock in enumerate(senders):
            for j in range(5):
                assert sock.recv(65536) == b"SENDER %d DATAGRAM %d" % (i, j) + b"X" * (1000 * j)
    finally:
        for sock in senders:
            sock.close()


def test_datagram_listener_prints_datagrams_and_answers_latest_sender(unix_server, sock_dir):
    server = unix_server("-u", f"{sock_dir}/d", stdin=subprocess.PIPE)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.settimeout(10)
        sender.bind(f"{sock_dir}/sender")
        sender.sendto(b"one datagram\n", server.path)
        assert read_until(server.proc.stdout, lambda d: d.endswith(b"\n")) == b"one datagram\n"
        server.proc.stdin.write(b"reply\n")
        server.proc.stdin.flush()
        assert sender.recv(100) == b"reply\n"
    # stderr is collected by a reader thread: wait for the line rather than race it.
    wait_log(server, re.escape(f"datagrams from {sock_dir}/sender"))


def test_datagram_client_bound_to_source_path_gets_replies_and_removes_it(sock_dir):
    """-U -u -s LOCAL PATH: the client is bound to LOCAL, so a server that answers the
    sender's path (a Python echo server here) reaches it; the file sockcat made goes at exit."""
    local = f"{sock_dir}/client"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as echo:
        echo.settimeout(10)
        echo.bind(f"{sock_dir}/echo")
        proc = subprocess.Popen([SOCKCAT, "connect", "-v", "-U", "-u", "-s", local, "-q", "2s", f"{sock_dir}/echo"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            proc.stdin.write(b"ping\n")
            proc.stdin.flush()
            data, sender = echo.recvfrom(100)
            assert (data, sender) == (b"ping\n", local)
            assert os.path.exists(local)
            echo.sendto(data.upper(), sender)
            assert read_until(proc.stdout, lambda d: d.endswith(b"\n")) == b"PING\n"
            proc.stdin.close()
            assert wait_exit(proc, 10) == 0
        finally:
            stop_process(proc)
    assert not os.path.exists(local)


def test_datagram_client_source_path_in_use_is_refused(sock_dir):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as holder, \
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as echo:
        holder.bind(f"{sock_dir}/taken")
        echo.bind(f"{sock_dir}/echo")
        result = run_sockcat("-U", "-u", "-s", f"{sock_dir}/taken", f"{sock_dir}/echo", input=b"x")
    assert result.returncode == 1
    assert_one_error_line(result.stderr, f"cannot bind to {sock_dir}/taken")
    assert os.path.exists(f"{sock_dir}/taken")  # a live socket's file is never taken over


def test_datagram_connect_to_missing_path_fails(sock_dir):
    result = run_sockcat("connect", "-U", "-u", f"{sock_dir}/none", input=b"x")
    assert result.returncode == 1
    assert_one_error_line(result.stderr, f"{sock_dir}/none", "No such file")


# --- The socket file -------------------------------------------------------------------------

def test_stale_socket_file_is_replaced(unix_server, sock_dir):
    path = f"{sock_dir}/stale"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()  # the file stays, nobody is bound to it
    assert is_socket(path)
    server = unix_server("--transform", "upper", path)
    assert f"removed stale socket {path}" in server.stderr()
    assert ask(path, b"fresh") == b"FRESH"


@pytest.mark.parametrize("live_kind", ["sockcat", "nc"])
def test_live_listener_is_never_taken_over(unix_server, sock_dir, procs, live_kind):
    """A second listener on a live PATH exits 1 ("in use"), leaves the file, and does not
    disturb the first: not even nc, which serves only the first connection it accepts."""
    path = f"{sock_dir}/live"
    if live_kind == "sockcat":
        unix_server("--transform", "echo", path)
    else:
        nc = procs.popen([NC_OPENBSD, "-N", "-lU", path], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        wait_for_foreign_listener(path, nc)
    result = run_sockcat("listen", "-v", "-U", path)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, path, "in use")
    assert is_socket(path)
    result = run_sockcat("listen", "-U", "-u", path)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, path, "in use")
    if live_kind == "sockcat":
        assert ask(path, b"still mine") == b"still mine"
    else:
        nc.stdin.write(b"from nc")
        nc.stdin.close()
        assert ask(path, b"to nc") == b"from nc"
        assert nc.stdout.read() == b"to nc"


def test_live_abstract_name_is_in_use(unix_server):
    name = abstract_name()
    unix_server("--transform", "echo", name)
    result = run_sockcat("listen", "-U", name)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, name, "in use")
    assert ask(name, b"ok") == b"ok"


def test_path_that_is_not_a_socket_is_kept(sock_dir):
    path = f"{sock_dir}/notes"
    with open(path, "wb") as f:
        f.write(b"precious")
    result = run_sockcat("listen", "-U", path)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, path, "not a socket")
    with open(path, "rb") as f:
        assert f.read() == b"precious"


@pytest.mark.parametrize("sub", ["listen", "connect"])
def test_too_long_path_is_a_usage_error(sub):
    path = "/tmp/" + "x" * 120
    result = run_sockcat(sub, "-U", path)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "at most 107", f"sockcat {sub} --help")
    assert not os.path.exists(path)


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_socket_file_is_removed_at_a_signal(unix_server, sock_dir, signum, status):
    path = f"{sock_dir}/s"
    server = unix_server("--transform", "echo", path)
    assert is_socket(path)
    server.signal(signum)
    assert server.wait() == status
    assert not os.path.exists(path)


def test_socket_file_is_removed_at_the_end_of_a_relay(unix_server, sock_dir):
    path = f"{sock_dir}/s"
    server = unix_server(path)
    assert ask(path, b"bye") == b""
    assert server.wait() == 0
    assert server.proc.stdout.read() == b"bye"
    assert not os.path.exists(path)


def test_a_newer_listeners_file_is_left_alone(unix_server, sock_dir):
    """The first listener's file was removed and a second one bound the path: when the first
    exits it must not remove the second's file."""
    path = f"{sock_dir}/s"
    first = unix_server("--transform", "echo", path)
    os.unlink(path)
    unix_server("--transform", "upper", path)
    first.signal(signal.SIGTERM)
    assert first.wait() == 143
    assert is_socket(path)
    assert ask(path, b"second") == b"SECOND"


# --- Clients ---------------------------------------------------------------------------------

def test_connect_to_missing_path_fails_with_one_line(sock_dir):
    result = run_sockcat("connect", "-U", f"{sock_dir}/none", input=b"x")
    assert result.returncode == 1
    assert_one_error_line(result.stderr, f"connect to {sock_dir}/none", "No such file")


def test_zero_io_checks_whether_a_listener_accepts(unix_server, sock_dir):
    server = unix_server("--transform", "echo", f"{sock_dir}/s")
    assert run_sockcat("connect", "-z", "-U", server.path).returncode == 0
    result = run_sockcat("connect", "-z", "-U", f"{sock_dir}/none")
    assert result.returncode == 1
    assert_one_error_line(result.stderr, f"{sock_dir}/none")


# --- -n ----------------------------------------------------------------------------------------

def test_nodns_refuses_names_before_any_lookup():
    result = run_sockcat("connect", "-n", "localhost", "80")
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "'localhost'", "-n", "--help")
    result = run_sockcat("connect", "-n", "127.0.0.1", "http")
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "'http'", "-n")


def test_nodns_with_numeric_addresses_works(start_server):
    server = start_server("listen", "-v", "-n", "-b", "127.0.0.1", "-p", "0", "--transform", "upper")
    result = run_sockcat("connect", "-n", "127.0.0.1", str(server.port), input=b"numeric")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"NUMERIC"


# --- -e over -U --------------------------------------------------------------------------------

def test_exec_server_on_unix_socket_tells_the_program_its_ends(unix_server, sock_dir):
    path = f"{sock_dir}/exec"
    unix_server("-k", "-c", 'printf "%s|%s|%s|" "$SOCKCAT_PROTO" "$SOCKCAT_LOCAL_ADDR" "$SOCKCAT_REMOTE_ADDR"; '
                "tr a-z A-Z", path)
    assert ask(path, b"shout") == f"unix|{path}||SHOUT".encode()


def test_access_lists_do_not_apply_to_unix_sockets(sock_dir):
    result = run_sockcat("listen", "-U", "--allow", "127.0.0.1", f"{sock_dir}/s")
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "--allow", "sockcat listen --help")


# --- The other server modes over -U ------------------------------------------------------------

def test_send_file_over_unix_socket(unix_server, sock_dir, tmp_path):
    data = payload(random.Random(7), 2 * MIB + 3)
    (tmp_path / "file").write_bytes(data)
    server = unix_server("-k", "--send-file", tmp_path / "file", f"{sock_dir}/files")
    for _ in range(2):
        result = run_sockcat("connect", "-U", server.path, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stderr
        assert sha256(result.stdout) == sha256(data)


def test_broker_over_unix_socket(unix_server, sock_dir):
    server = unix_server("--broker", f"{sock_dir}/hub")
    first = unix_connect(server.path)
    second = unix_connect(server.path)
    # The broker says "connection from" as it takes a client in: both must be in before a send.
    assert wait_until(lambda: server.stderr().count("connection from") >= 2), server.stderr()
    first.sendall(b"ping\n")
    assert recv_exact(second, 5) == b"ping\n"
    second.sendall(b"pong\n")
    assert recv_exact(first, 5) == b"pong\n"
    first.close()
    second.close()
