"""End-to-end tests of sockcat's own messages: one reason per line (no doubled error texts), and
output that cannot be written (help, version, transform list) is a failure, not a success."""
import errno
import os
import socket
import subprocess

import pytest

from conftest import SOCKCAT, run_sockcat
from helpers_tcp import LOOP4, assert_one_error_line, connect, recv_until_eof


@pytest.mark.parametrize("make_path, expected", [
    (lambda tmp: str(tmp / "missing"), "sockcat: --send-file: cannot read '{}': No such file or directory"),
    (lambda tmp: str(tmp), "sockcat: --send-file: cannot read '{}': Is a directory"),
    (lambda tmp: "/dev/null", "sockcat: --send-file: '{}' is not a regular file"),
])
def test_send_file_that_cannot_be_read_names_one_reason(tmp_path, make_path, expected):
    path = make_path(tmp_path)
    result = run_sockcat("listen", "-p", "0", "--send-file", path, stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert assert_one_error_line(result.stderr) == expected.format(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_send_file_without_permission_names_one_reason(tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(b"x")
    path.chmod(0)
    result = run_sockcat("listen", "-p", "0", "--send-file", str(path), stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert assert_one_error_line(result.stderr) == f"sockcat: --send-file: cannot read '{path}': Permission denied"


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["--version"], ["-V"], ["help"], ["help", "listen"], ["listen", "--help"],
    ["connect", "-h"], ["listen", "--list-transforms"], ["--list-transforms"],
])
def test_output_that_cannot_be_written_is_exit_1_with_one_line(args):
    with open("/dev/full", "wb") as full:
        result = subprocess.run([SOCKCAT, *args], stdout=full,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "cannot write", "No space left on device")


def test_output_that_can_be_written_is_exit_0():
    result = run_sockcat("--version", timeout=10)
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.startswith(b"sockcat ")


def test_counts_of_one_are_singular():
    """One datagram of one byte: `sent 1 datagram`, `sent 1 byte`, never `1 datagrams`."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind((LOOP4, 0))
        port = sink.getsockname()[1]
        result = run_sockcat("connect", "-u", "-v", "--stats", "-q", "200ms", LOOP4, str(port),
                             input=b"x", timeout=10)
        assert sink.recv(16) == b"x"
    assert result.returncode == 0, result.stderr
    err = result.stderr.decode()
    assert f"sent 1 datagram to {LOOP4}:{port}, received 0\n" in err, err
    assert "sent 1 byte, received 0 bytes in " in err, err
    assert "1 datagrams" not in err and "1 bytes" not in err, err


def test_nc_listen_without_a_port_listens_on_ncats_31337(start_server):
    probe = socket.socket()
    try:
        probe.bind((LOOP4, 31337))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            pytest.skip("port 31337 is in use on this machine")
        raise
    finally:
        probe.close()
    server = start_server("-l", "-v", LOOP4, stdin=subprocess.PIPE)
    assert server.port == 31337, server.stderr()
    server.proc.stdin.write(b"from the listener\n")
    server.proc.stdin.close()
    with connect(LOOP4, 31337) as client:
        client.sendall(b"from the client\n")
        client.shutdown(socket.SHUT_WR)
        assert recv_until_eof(client) == b"from the listener\n"
    assert server.wait(10) == 0, server.stderr()
    assert server.proc.stdout.read() == b"from the client\n"


def test_subcommand_listen_still_requires_a_port():
    result = run_sockcat("listen", "-v", stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "missing PORT", "'sockcat listen --help'")


def test_help_to_a_reader_that_went_away_is_exit_0():
    """As for data: a closed pipe on stdout is an ordinary end (`sockcat --help | head -0`)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([SOCKCAT, "--help"], stdout=write_end, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, timeout=10)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (0, b"")
