"""-m on every stream listener: -m 0 closes every client at once (ncat's meaning, checked by
ncat's own test suite), and on a one-client listener -m N is accepted and changes nothing."""
import socket
import subprocess

import pytest

from conftest import wait_log
from helpers_tcp import LOOP4, recv_until_eof


@pytest.mark.parametrize("mode", [["--transform", "echo"], ["-k"], ["--broker"], []],
                         ids=["echo server", "-k", "--broker", "one client"])
def test_m0_closes_every_client_and_keeps_listening(start_server, mode):
    server = start_server("listen", "-v", "-m", "0", *mode, "-p", "0", stdin=subprocess.PIPE)
    for attempt in range(2):
        client = socket.create_connection((LOOP4, server.port), timeout=10)
        assert recv_until_eof(client, timeout=10) == b""  # closed at once, nothing served
        client.close()
        wait_log(server, r"refused: -m 0", count=attempt + 1)
    assert server.proc.poll() is None  # still listening
    server.stop()
    assert server.proc.stdout.closed or server.proc.stdout.read() == b""


def test_m_on_a_one_client_listener_is_harmless(start_server):
    server = start_server("listen", "-v", "-m", "3", "-p", "0", stdin=subprocess.PIPE)
    client = socket.create_connection((LOOP4, server.port), timeout=10)
    client.sendall(b"data\n")
    client.shutdown(socket.SHUT_WR)
    server.proc.stdin.write(b"back\n")
    server.proc.stdin.close()
    assert recv_until_eof(client, timeout=10) == b"back\n"
    assert server.wait(10) == 0
    assert server.proc.stdout.read() == b"data\n"
    client.close()
