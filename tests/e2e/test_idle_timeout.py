"""-i DURATION in every mode (ncat's meaning): no byte either way for that long ends the
session with exit 1 and one line; traffic either way restarts the count. The nc form's -w
means the same after connecting (OpenBSD nc); `connect -w` bounds only the connect."""
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import wait_log
from helpers_tcp import LOOP4, accept, assert_one_error_line, procs, tcp_listener, wait_exit  # noqa: F401

IDLE_LINE = "idle timeout: nothing sent or received for 1s"


def silent_server():
    """A listener whose one client is accepted and then never sent anything."""
    listener, port = tcp_listener()
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(accept(listener)), daemon=True)
    thread.start()
    return listener, port, accepted, thread


def assert_ends_idle(proc, started, low=0.9, high=4.0):
    """`proc` ends with exit 1 and the one idle line, between `low` and `high` s after `started`."""
    status = wait_exit(proc, 10)
    elapsed = time.monotonic() - started
    assert status == 1
    assert_one_error_line(proc.stderr.read(), IDLE_LINE)
    assert low <= elapsed < high, elapsed


@pytest.mark.parametrize("argv", [["connect", "-i", "1s"], ["-i", "1"], ["-w", "1"], ["-w", "1", "-i", "1s"],
                                  ["connect", "--framing", "line", "-i", "1s"], ["--framing", "length", "-w", "1"]],
                         ids=["connect -i", "nc -i", "nc -w", "nc -w -i", "framed connect -i", "framed nc -w"])
def test_a_silent_server_ends_the_session(procs, argv):
    listener, port, accepted, thread = silent_server()
    started = time.monotonic()
    proc = procs.sockcat(*argv, LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    thread.join(10)
    assert accepted, "sockcat never connected"
    assert_ends_idle(proc, started)
    assert accepted[0].recv(1) == b""  # the connection was closed
    listener.close()


def test_connect_w_bounds_only_the_connect(procs):
    listener, port, accepted, thread = silent_server()
    proc = procs.sockcat("connect", "-w", "1", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    thread.join(10)
    assert accepted
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(2.5)  # well past the 1 s that would end an idle session
    proc.stdin.close()
    accepted[0].close()
    assert wait_exit(proc, 10) == 0
    listener.close()


def test_traffic_either_way_restarts_the_count(procs):
    """Bytes arrive every 400 ms for 2 s, then stdin sends for another 2 s: with -i 1s the
    session lasts through both and ends about 1 s after the last byte."""
    listener, port, accepted, thread = silent_server()
    started = time.monotonic()
    proc = procs.sockcat("connect", "-i", "1s", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    thread.join(10)
    conn = accepted[0]
    for i in range(5):
        conn.sendall(b"r%d\n" % i)
        time.sleep(0.4)  # the pace of the traffic under test, not a wait for an event
    for i in range(5):
        proc.stdin.write(b"s%d\n" % i)
        proc.stdin.flush()
        time.sleep(0.4)
    last = time.monotonic()
    status = wait_exit(proc, 10)
    ended = time.monotonic()
    assert status == 1
    assert_one_error_line(proc.stderr.read(), IDLE_LINE)
    assert ended - started >= 4.0 and 0.5 <= ended - last < 3.0, (ended - started, ended - last)
    assert proc.stdout.read() == b"r0\nr1\nr2\nr3\nr4\n"
    conn.settimeout(5)
    got = b""
    while len(got) < 15:
        chunk = conn.recv(100)
        if not chunk:
            break
        got += chunk
    assert got == b"s0\ns1\ns2\ns3\ns4\n"
    listener.close()


def test_udp_connect_ends_when_nothing_moves_while_stdin_is_open(procs):
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((LOOP4, 0))
    started = time.monotonic()
    proc = procs.sockcat("connect", "-u", "-i", "1s", LOOP4, peer.getsockname()[1],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert_ends_idle(proc, started)
    peer.close()


def test_udp_nc_w_after_stdin_ends_is_the_linger_exit_0(procs):
    """`echo hi | sockcat -u -w1 HOST PORT` (a log sender) ends quietly, as with nc."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((LOOP4, 0))
    proc = procs.sockcat("-u", "-w", "1", LOOP4, peer.getsockname()[1], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    proc.stdin.write(b"hi\n")
    proc.stdin.close()
    peer.settimeout(5)
    assert peer.recv(100) == b"hi\n"
    assert wait_exit(proc, 10) == 0
    assert proc.stderr.read() == b""
    peer.close()


def test_unix_connect_idle(procs, tmp_path):
    path = str(tmp_path / "s")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    started = time.monotonic()
    proc = procs.sockcat("connect", "-U", "-i", "1s", path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    listener.settimeout(10)
    conn, _ = listener.accept()
    assert_ends_idle(proc, started)
    conn.close()
    listener.close()


def test_one_client_listener_ends_an_idle_client(start_server):
    server = start_server("listen", "-v", "-i", "1s", "-p", "0", stdin=subprocess.PIPE)
    client = socket.create_connection((LOOP4, server.port), timeout=10)
    wait_log(server, "connection from")
    started = time.monotonic()
    assert server.wait(10) == 1
    assert time.monotonic() - started < 4.0
    assert IDLE_LINE in server.stderr()
    assert client.recv(1) == b""
    client.close()


def test_many_client_server_closes_only_the_idle_client(start_server):
    """-i keeps its per-client meaning on a server: the client is closed, the server goes on."""
    server = start_server("listen", "-v", "--transform", "echo", "-i", "500ms", "-p", "0")
    client = socket.create_connection((LOOP4, server.port), timeout=10)
    assert client.recv(1) == b""
    wait_log(server, r"idle too long \(-i\)")
    assert server.proc.poll() is None
    again = socket.create_connection((LOOP4, server.port), timeout=10)
    again.sendall(b"x")
    assert again.recv(1) == b"x"
    again.close()
    client.close()
