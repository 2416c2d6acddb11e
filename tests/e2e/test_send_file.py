"""listen --send-file against the real binary: every client gets the whole file (SHA-256
compared) with Python, OpenBSD nc and socat as clients, concurrently; empty and 64 MiB files;
a client that leaves mid-file ends only itself; a file that is missing or not a regular file
ends the program before it listens."""
import re
import socket
import subprocess

import pytest

from conftest import run_sockcat, wait_log, wait_until
from helpers_peers import NC_OPENBSD, SOCAT
from helpers_tcp import (LOOP4, assert_one_error_line, background, connect, random_bytes,
                         recv_exact, recv_until_eof, reset_close, sha256)



def python_download(port, timeout=60):
    with connect(LOOP4, port, timeout=timeout) as client:
        return recv_until_eof(client, timeout=timeout)


def peer_download(argv, timeout=60):
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def payload_file(tmp_path):
    def make(size, seed=1):
        path = tmp_path / f"payload-{size}"
        data = random_bytes(size, seed)
        path.write_bytes(data)
        return path, data
    return make


def test_concurrent_clients_of_every_kind_get_the_whole_file(start_server, payload_file):
    path, data = payload_file(3 << 20)
    server = start_server("listen", "-k", "-v", "-p", "0", "--send-file", str(path))
    port = str(server.port)
    downloads = [background(python_download, server.port) for _ in range(3)]
    downloads.append(background(peer_download, [NC_OPENBSD, "-d", "-N", LOOP4, port]))
    downloads.append(background(peer_download, [SOCAT, "-u", f"TCP:{LOOP4}:{port}", "STDOUT"]))
    downloads.append(background(peer_download, [server.args[0], "connect", LOOP4, port]))
    for download in downloads:
        assert sha256(download.join(90)) == sha256(data)
    wait_log(server, r"closed \(sent %d of %d bytes\)" % (len(data), len(data)), count=6)
    assert server.proc.poll() is None  # -k: still serving


def test_empty_file(start_server, payload_file):
    path, _ = payload_file(0)
    server = start_server("listen", "-k", "-v", "-p", "0", "--send-file", str(path))
    for _ in range(2):
        assert python_download(server.port, timeout=10) == b""


def test_64_mib_file_to_two_clients(start_server, payload_file):
    path, data = payload_file(64 << 20, seed=2)
    server = start_server("listen", "-k", "-v", "-p", "0", "--send-file", str(path))
    downloads = [background(python_download, server.port) for _ in range(2)]
    for download in downloads:
        assert sha256(download.join(120)) == sha256(data)


def test_each_client_gets_the_contents_of_the_moment_it_arrives(start_server, tmp_path):
    path = tmp_path / "changing"
    path.write_bytes(b"first version\n")
    server = start_server("listen", "-k", "-v", "-p", "0", "--send-file", str(path))
    assert python_download(server.port, timeout=10) == b"first version\n"
    path.write_bytes(b"second version, longer\n")
    assert python_download(server.port, timeout=10) == b"second version, longer\n"


def test_a_client_that_leaves_mid_file_ends_only_itself(start_server, payload_file):
    path, data = payload_file(32 << 20, seed=3)
    server = start_server("listen", "-k", "-v", "-p", "0", "--send-file", str(path))
    leaver = connect(LOOP4, server.port)
    leaver_port = leaver.getsockname()[1]
    assert len(recv_exact(leaver, 1 << 20)) == 1 << 20
    reset_close(leaver)
    wait_log(server, r"connection from 127\.0\.0\.1:%d failed: .*\(sent \d+ of %d bytes\)" % (leaver_port, len(data)))
    assert sha256(python_download(server.port)) == sha256(data)
    assert server.proc.poll() is None


def test_without_keep_open_one_client_then_exit_0(start_server, payload_file):
    path, data = payload_file(100_000, seed=4)
    server = start_server("listen", "-v", "-p", "0", "--send-file", str(path))
    assert python_download(server.port, timeout=10) == data
    assert server.wait(10) == 0
    assert server.proc.stdout.read() == b""


def test_without_keep_open_a_client_that_leaves_early_is_exit_1(start_server, payload_file):
    path, data = payload_file(32 << 20, seed=6)
    server = start_server("listen", "-p", "0", "-v", "--send-file", str(path))
    leaver = connect(LOOP4, server.port)
    assert len(recv_exact(leaver, 1 << 16)) == 1 << 16
    reset_close(leaver)
    assert server.wait(10) == 1
    errors = [line for line in server.stderr().splitlines() if "sending" in line]
    assert len(errors) == 1 and f"of {len(data)} bytes" in errors[0], server.stderr()


def test_what_the_client_sends_is_discarded(start_server, payload_file):
    path, data = payload_file(200_000, seed=7)
    server = start_server("listen", "-k", "-v", "-p", "0", "--send-file", str(path))
    with connect(LOOP4, server.port) as client:
        client.sendall(b"ignored " * 10_000)
        assert recv_until_eof(client) == data
    wait_log(server, r"closed \(sent 200000 of 200000 bytes\)")


@pytest.mark.parametrize("make_path, needle", [
    (lambda tmp: tmp / "missing", "No such file"),
    (lambda tmp: tmp, "Is a directory"),
    (lambda tmp: "/dev/null", "not a regular file"),
])
def test_a_file_that_cannot_be_sent_is_exit_1_before_listening(tmp_path, make_path, needle):
    result = run_sockcat("listen", "-v", "-p", "0", "--send-file", str(make_path(tmp_path)),
                         stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert b"listening" not in result.stderr
    assert_one_error_line(result.stderr, "--send-file", needle)


@pytest.mark.parametrize("extra, needle", [
    (["-u"], "-u"),
    (["--transform", "echo"], "echo"),
    (["--broker"], "--broker"),
    (["--chat"], "--chat"),
])
def test_send_file_conflicts_are_usage_errors(tmp_path, extra, needle):
    path = tmp_path / "f"
    path.write_bytes(b"x")
    result = run_sockcat("listen", "-p", "0", "--send-file", str(path), *extra,
                         stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, needle, "--help")
