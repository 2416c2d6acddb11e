"""nc-style command lines against the real binary: `sockcat -l [-p] PORT` listens,
`sockcat [options] HOST PORT` connects (-p is then the source port), short bundles such as
-lvp and -lkv work, and usage errors in that form point at `sockcat --help`."""
import re
import socket
import subprocess

import pytest

from conftest import run_sockcat, wait_log, wait_until
from helpers_tcp import (LOOP4, accept, assert_one_error_line, connect, procs,  # noqa: F401
                         read_fd, recv_exact, recv_until_eof, tcp_listener, unused_port, wait_exit)



@pytest.mark.parametrize("argv", [
    ["-l", "-v", "0"],
    ["-l", "-v", "-p", "0"],
    ["-lvp", "0"],
    ["-vlp0"],
    ["-v", "0", "--listen"],
])
def test_nc_listen_forms_serve_one_client_then_exit(start_server, argv):
    server = start_server(*argv)
    with connect(LOOP4, server.port) as client:
        client.sendall(b"hello from the client\n")
        client.shutdown(socket.SHUT_WR)
        assert recv_until_eof(client) == b""  # the server's stdin is empty: it half-closes
    assert server.wait(10) == 0
    assert server.proc.stdout.read() == b"hello from the client\n"


def test_nc_listen_address_and_port_binds_that_address(start_server):
    server = start_server("-lv", LOOP4, "0")
    assert re.search(r"listening on 127\.0\.0\.1:%d \(tcp\)" % server.port, server.stderr())
    with connect(LOOP4, server.port) as client:
        client.sendall(b"x")
        client.shutdown(socket.SHUT_WR)
        recv_until_eof(client)
    assert server.wait(10) == 0


def test_nc_listen_keep_open_takes_several_clients(start_server):
    server = start_server("-lkv", "0", stdin=subprocess.PIPE)
    for index in range(3):
        with connect(LOOP4, server.port) as client:
            client.sendall(b"client %d\n" % index)
        wait_log(server, r"connection from \S+ closed", count=index + 1)
    assert server.proc.poll() is None  # -k: still serving
    expected = b"client 0\nclient 1\nclient 2\n"
    assert read_fd(server.proc.stdout.fileno(), len(expected)) == expected


def test_nc_listen_with_subcommand_only_options(start_server):
    server = start_server("-l", "-v", "--transform", "upper", "-m", "2", "0")
    with connect(LOOP4, server.port) as client:
        client.sendall(b"shout")
        assert recv_exact(client, 5) == b"SHOUT"


def test_nc_listen_udp_bundle(start_server):
    server = start_server("-ulv", "--transform", "upper", "0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(5)
        client.sendto(b"datagram", (LOOP4, server.port))
        assert client.recvfrom(100)[0] == b"DATAGRAM"


def test_nc_connect_form_relays(procs):
    listener, port = tcp_listener()
    with listener:
        proc = procs.sockcat("-v", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        conn = accept(listener)
        proc.stdin.write(b"to the server\n")
        proc.stdin.close()
        assert recv_until_eof(conn) == b"to the server\n"
        conn.sendall(b"to the client\n")
        conn.close()
        assert wait_exit(proc, 10) == 0
        assert proc.stdout.read() == b"to the client\n"
        assert b"connected to 127.0.0.1:%d" % port in proc.stderr.read()


def test_nc_connect_dash_p_is_the_source_port(procs):
    listener, port = tcp_listener()
    source = unused_port()
    with listener:
        proc = procs.sockcat("-p", source, LOOP4, port, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        conn = accept(listener)
        assert conn.getpeername()[1] == source
        conn.close()
        assert wait_exit(proc, 10) == 0


def test_nc_connect_bundled_source_port(procs):
    listener, port = tcp_listener()
    source = unused_port()
    with listener:
        proc = procs.sockcat(f"-vp{source}", LOOP4, port, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        conn = accept(listener)
        assert conn.getpeername()[1] == source
        conn.close()
        assert wait_exit(proc, 10) == 0


def test_nc_zero_io_form():
    listener, port = tcp_listener()
    with listener:
        result = run_sockcat("-zv", LOOP4, str(port), timeout=10)
        assert result.returncode == 0, result.stderr
        assert_one_error_line(result.stderr, f"port {port}", ": open")
    closed = run_sockcat("-z", LOOP4, str(unused_port()), timeout=10)
    assert closed.returncode == 1
    assert closed.stderr == b""  # only the exit status speaks, as with nc


def test_near_miss_of_a_subcommand_is_a_typo_not_a_host():
    result = run_sockcat("lisen", "-p", "80", stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, "unknown subcommand 'lisen'", "did you mean 'listen'", "--help")


@pytest.mark.parametrize("args, needle", [
    (["-lU"], "missing PATH"),
    (["-v", LOOP4], "missing PORT"),
    (["-k", LOOP4, "80"], "-k"),
    (["-l", "70000"], "70000"),
    (["-l", "-p", "80", "81"], "port given twice"),
    (["--bogus", LOOP4, "80"], "--bogus"),
    (["-lz", "80"], "-z"),
    (["-p", "5555"], "missing HOST and PORT"),
])
def test_nc_usage_errors_exit_2_and_point_at_sockcat_help(args, needle):
    result = run_sockcat(*args, stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 2, result.stderr
    assert result.stdout == b""
    assert_one_error_line(result.stderr, needle, "'sockcat --help'")


def test_top_level_help_shows_the_nc_forms():
    result = run_sockcat("--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    assert "sockcat -l [options] [-p] [PORT]" in text
    assert "sockcat [options] HOST PORT" in text


def test_bash_completes_nc_forms():
    from test_docs import bash_complete
    assert bash_complete(["sockcat", "-l", "--br"]) == ["--broker"]
    # with -l: listen's --send-file beside the common --send-only
    assert sorted(bash_complete(["sockcat", "-lvp", "80", "--send-f"])) == ["--send-file"]
    assert sorted(bash_complete(["sockcat", "-v", "--send"])) == ["--send-only"]  # without -l: no --send-file
    assert bash_complete(["sockcat", "-v", "--br"]) == []  # without -l: connect's options
    assert bash_complete(["sockcat", "-v", "--source-p"]) == ["--source-port"]
