"""End-to-end tests of -e/--exec and -c/--sh-exec: each connection handed to a program as its
stdin and stdout, on `listen` (one connection, or -k with -m) and on `connect`.

The program's pid comes from the server's -v line "running ... (pid N)"; the tests look at
/proc/N for its descriptors and signals, and at /proc for zombies. Every wait has a deadline;
where the test must wait for sockcat it waits for the event itself (a -v line, EOF, exit)."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import SOCKCAT, run_sockcat, wait_log, wait_until
from helpers_tcp import (LOOP4, LOOP6, assert_one_error_line, connect, procs,  # noqa: F401
                         random_bytes, recv_exact, recv_until_eof, sees_eof_within, sha256,
                         tcp_listener, accept, unused_port, wait_exit)


# ---------------------------------------------------------------------------------------------
# Helpers.


def child_pid(server, client_port, timeout=5):
    """The pid of the child the server started for the client at local port `client_port`."""
    pattern = r"connection from \S+:%d: running .* \(pid (\d+)\)" % client_port
    return int(wait_log(server, pattern, timeout=timeout)[0])


def exited_line(server, client_port, timeout=5):
    pattern = r"connection from \S+:%d closed: (.*)\n" % client_port
    return wait_log(server, pattern, timeout=timeout)[0]


def zombie_children(pid):
    """Pids of the zombie children of process `pid`."""
    zombies = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            zombies.append(int(entry))
    return zombies


def alive(pid):
    """True while /proc/PID exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def exec_server(start_server, *args, **kwargs):
    return start_server("listen", "-v", "-p", "0", *args, **kwargs)


def write_script(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


# ---------------------------------------------------------------------------------------------
# What the child gets.

@pytest.mark.parametrize("flag, command", [("-e", "/usr/bin/env"), ("-c", "env")])
def test_child_environment_names_both_ends(start_server, monkeypatch, flag, command):
    monkeypatch.setenv("SOCKCAT_PROTO", "inherited")  # replaced, not passed on twice
    monkeypatch.setenv("SOCKCAT_REMOTE_ADDR", "inherited")
    server = exec_server(start_server, flag, command)
    client = connect(LOOP4, server.port)
    client.shutdown(socket.SHUT_WR)
    lines = recv_until_eof(client).decode().splitlines()
    variables = dict(line.split("=", 1) for line in lines if line.startswith("SOCKCAT_"))
    assert variables == {
        "SOCKCAT_PROTO": "tcp",
        "SOCKCAT_REMOTE_ADDR": "127.0.0.1",  # not ::ffff:127.0.0.1, though the listener is dual-stack
        "SOCKCAT_REMOTE_PORT": str(client.getsockname()[1]),
        "SOCKCAT_LOCAL_ADDR": "127.0.0.1",
        "SOCKCAT_LOCAL_PORT": str(server.port),
    }
    assert server.wait(5) == 0


def test_child_environment_under_ncat_names_too(start_server, monkeypatch):
    """Programs written for ncat read NCAT_*: the same values, NCAT_PROTO in ncat's capitals."""
    monkeypatch.setenv("NCAT_REMOTE_PORT", "inherited")  # replaced, not passed on twice
    server = exec_server(start_server, "-e", "/usr/bin/env")
    client = connect(LOOP4, server.port)
    client.shutdown(socket.SHUT_WR)
    lines = recv_until_eof(client).decode().splitlines()
    assert sum(line.startswith("NCAT_REMOTE_PORT=") for line in lines) == 1
    variables = dict(line.split("=", 1) for line in lines if line.startswith("NCAT_"))
    assert variables == {
        "NCAT_PROTO": "TCP",
        "NCAT_REMOTE_ADDR": "127.0.0.1",
        "NCAT_REMOTE_PORT": str(client.getsockname()[1]),
        "NCAT_LOCAL_ADDR": "127.0.0.1",
        "NCAT_LOCAL_PORT": str(server.port),
    }
    assert server.wait(5) == 0


@pytest.mark.parametrize("keep_open", [[], ["-k"]])
def test_crlf_turns_the_programs_lf_into_crlf(start_server, keep_open):
    """-C with -c: what the program writes goes out with CRLF line ends; what the client
    sends reaches it unchanged, and the client's EOF is the end of its stdin."""
    server = exec_server(start_server, *keep_open, "-C", "-c", "cat; printf 'end\\r\\n'")
    client = connect(LOOP4, server.port)
    client.sendall(b"one\ntwo\r\nthree")
    client.shutdown(socket.SHUT_WR)
    assert recv_until_eof(client) == b"one\r\ntwo\r\nthreeend\r\n"
    wait_log(server, r"connection from 127\.0\.0\.1:%d closed: .* exited with status 0" % client.getsockname()[1])
    if not keep_open:
        assert server.wait(5) == 0


def test_crlf_with_connect_exec(procs):
    listener, port = tcp_listener()
    with listener:
        proc = procs.sockcat("connect", "-C", "-c", "printf 'a\\nb\\n'", LOOP4, port, stdin=subprocess.DEVNULL)
        conn = accept(listener)
        assert recv_until_eof(conn) == b"a\r\nb\r\n"
        assert wait_exit(proc, 10) == 0


def test_child_environment_over_ipv6(start_server):
    server = exec_server(start_server, "-c", "echo $SOCKCAT_REMOTE_ADDR $SOCKCAT_LOCAL_ADDR $SOCKCAT_LOCAL_PORT")
    client = connect(LOOP6, server.port)
    assert recv_until_eof(client) == f"::1 ::1 {server.port}\n".encode()
    assert server.wait(5) == 0


def test_child_has_only_the_connection_and_our_stderr(start_server):
    """fds 0 and 1 are the client's socket (blocking), fd 2 is the server's stderr, nothing
    else leaks (not the listener, not another client's socket), and SIGPIPE is default again."""
    server = exec_server(start_server, "-k", "-e", "/bin/sleep 30")
    first = connect(LOOP4, server.port)
    first_pid = child_pid(server, first.getsockname()[1])
    second = connect(LOOP4, server.port)
    pid = child_pid(server, second.getsockname()[1])
    fds = sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))
    assert fds == [0, 1, 2], f"the child holds descriptors it should not: {fds}"
    in_target = os.readlink(f"/proc/{pid}/fd/0")
    assert in_target.startswith("socket:") and os.readlink(f"/proc/{pid}/fd/1") == in_target
    assert os.readlink(f"/proc/{pid}/fd/2") == os.readlink(f"/proc/{server.proc.pid}/fd/2")
    with open(f"/proc/{pid}/fdinfo/0") as info:
        flags = int(re.search(r"flags:\s+(\d+)", info.read()).group(1), 8)
    assert flags & os.O_NONBLOCK == 0, "the child's socket must be blocking"
    with open(f"/proc/{pid}/status") as status:
        ignored = int(re.search(r"SigIgn:\s+([0-9a-f]+)", status.read()).group(1), 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1)), "SIGPIPE must not stay ignored in the child"
    # The server keeps no copy: each socket is held by its child alone.
    server_sockets = [os.readlink(f"/proc/{server.proc.pid}/fd/{fd}")
                      for fd in os.listdir(f"/proc/{server.proc.pid}/fd")]
    assert in_target not in server_sockets
    assert first_pid != pid


# ---------------------------------------------------------------------------------------------
# EOF, exit, block buffering.

def test_client_eof_reaches_a_block_buffering_program(start_server, monkeypatch):
    monkeypatch.setenv("LC_ALL", "C")  # sort inherits our environment
    server = exec_server(start_server, "-e", "/usr/bin/sort")
    client = connect(LOOP4, server.port)
    client.sendall(b"pear\napple\nfig\n")
    client.shutdown(socket.SHUT_WR)
    assert recv_until_eof(client) == b"apple\nfig\npear\n"
    assert server.wait(5) == 0


def test_program_exit_closes_the_connection_at_once(start_server):
    server = exec_server(start_server, "-c", "echo bye")
    client = connect(LOOP4, server.port)
    # The client neither sends nor closes: the program's exit alone ends the connection.
    assert recv_until_eof(client, timeout=5) == b"bye\n"
    assert "exited with status 0" in exited_line(server, client.getsockname()[1])
    assert server.wait(5) == 0


def test_without_k_one_connection_then_exit_0_whatever_the_program_returns(start_server):
    server = exec_server(start_server, "-c", "cat; exit 3")
    client = connect(LOOP4, server.port)
    client.sendall(b"once\n")
    client.shutdown(socket.SHUT_WR)
    assert recv_until_eof(client) == b"once\n"
    assert server.wait(5) == 0, "the program's status is not sockcat's (as in ncat)"
    assert "exited with status 3" in server.stderr()
    with pytest.raises(OSError):
        connect(LOOP4, server.port, timeout=2)


def test_big_output_to_a_slow_reader_arrives_whole_after_eof(start_server, monkeypatch):
    """sort writes nothing until its input ends, then ~3 MiB to a client that reads slowly."""
    lines = [random_bytes(24, seed=i).hex().encode() + b"\n" for i in range(64 * 1024)]
    data = b"".join(lines)
    expected = b"".join(sorted(lines))
    monkeypatch.setenv("LC_ALL", "C")
    server = exec_server(start_server, "-e", "/usr/bin/sort")
    client = connect(LOOP4, server.port, timeout=30)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    client.sendall(data)
    client.shutdown(socket.SHUT_WR)
    received = bytearray()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        chunk = client.recv(8192)
        if not chunk:
            break
        received += chunk
        if len(received) % (256 * 1024) < 8192:
            time.sleep(0.02)  # a slow reader: the program's writes must wait, not fail
    assert len(received) == len(expected)
    assert sha256(bytes(received)) == sha256(expected)
    assert server.wait(10) == 0


def test_real_peers_as_clients(start_server, procs):
    """OpenBSD nc and socat as clients: each half-closes at its stdin EOF."""
    server = exec_server(start_server, "-k", "-c", "tr a-z A-Z")
    nc = procs.popen(["nc.openbsd", "-N", LOOP4, str(server.port)],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = nc.communicate(b"hello from nc\n", timeout=10)
    assert out == b"HELLO FROM NC\n"
    sc = procs.popen(["socat", "-", f"TCP:{LOOP4}:{server.port}"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = sc.communicate(b"and socat\n", timeout=10)
    assert out == b"AND SOCAT\n"
    assert server.proc.poll() is None


# ---------------------------------------------------------------------------------------------
# -k, -m, reaping, signals.

def test_keep_open_with_max_conns_counts_running_children(start_server):
    server = exec_server(start_server, "-k", "-m", "2", "-e", "/bin/cat")
    a = connect(LOOP4, server.port)
    b = connect(LOOP4, server.port)
    child_pid(server, a.getsockname()[1])
    child_pid(server, b.getsockname()[1])
    third = connect(LOOP4, server.port)
    wait_log(server, r"connection from 127\.0\.0\.1:%d refused: 2 clients already" % third.getsockname()[1])
    assert sees_eof_within(third, 5)
    # Both children still serve their own client.
    for sock, text in ((a, b"to a\n"), (b, b"to b\n")):
        sock.sendall(text)
        assert recv_exact(sock, len(text)) == text
    # When one child exits, a new client gets a child of its own.
    a.shutdown(socket.SHUT_WR)
    assert recv_until_eof(a) == b""
    exited_line(server, a.getsockname()[1])
    c = connect(LOOP4, server.port)
    child_pid(server, c.getsockname()[1])
    c.sendall(b"to c\n")
    assert recv_exact(c, 5) == b"to c\n"


def test_children_are_reaped_no_zombies(start_server):
    server = exec_server(start_server, "-k", "-c", "echo done")
    for _ in range(5):
        client = connect(LOOP4, server.port)
        assert recv_until_eof(client) == b"done\n"
        exited_line(server, client.getsockname()[1])
        assert zombie_children(server.proc.pid) == []
        client.close()
    assert len(re.findall(r"exited with status 0", server.stderr())) == 5


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_ends_the_children_and_what_they_started(start_server, signum, status):
    server = exec_server(start_server, "-k", "-c", "sleep 30 & sleep 31; wait")
    client = connect(LOOP4, server.port)
    pid = child_pid(server, client.getsockname()[1])
    # The shell's own children, in its process group.
    def shell_children():
        return [p for p in os.listdir("/proc") if p.isdigit() and _pgid(p) == pid and int(p) != pid]
    assert wait_until(lambda: len(shell_children()) == 2), shell_children()
    group = shell_children()
    server.signal(signum)
    assert server.wait(10) == status
    assert not alive(pid)
    assert wait_until(lambda: not any(alive(int(p)) for p in group), timeout=5), "grandchildren outlived the server"
    assert sees_eof_within(client, 5)


def _pgid(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[2])
    except OSError:
        return None


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(start_server, tmp_path):
    script = write_script(tmp_path, "stubborn", "#!/usr/bin/python3\n"
                          "import signal, sys, time\n"
                          "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                          "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
                          "time.sleep(60)\n")
    server = exec_server(start_server, "-k", "-e", script)
    client = connect(LOOP4, server.port)
    assert recv_exact(client, 6) == b"ready\n"
    pid = child_pid(server, client.getsockname()[1])
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait(10) == 143
    assert 1.5 < time.monotonic() - started < 8
    assert not alive(pid)


# ---------------------------------------------------------------------------------------------
# Bad programs.

def test_missing_program_exit_1_before_listening(tmp_path):
    result = run_sockcat("listen", "-v", "-p", "0", "-e", "/nonexistent/program")
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "cannot run '/nonexistent/program'", "No such file")
    result = run_sockcat("listen", "-v", "-p", "0", "-e", "sockcat-no-such-program --flag")
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "'sockcat-no-such-program'", "PATH")
    plain = tmp_path / "not-executable"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    for program in (str(plain), str(tmp_path)):
        result = run_sockcat("listen", "-v", "-p", "0", "-e", program)
        assert result.returncode == 1
        assert_one_error_line(result.stderr, "cannot run", "permission denied")


def test_missing_program_on_connect_fails_before_connecting():
    listener, port = tcp_listener()
    with listener:
        result = run_sockcat("connect", "-e", "/nonexistent/program", LOOP4, str(port))
        assert result.returncode == 1
        assert_one_error_line(result.stderr, "cannot run '/nonexistent/program'")
        listener.settimeout(0.2)
        with pytest.raises(socket.timeout):
            listener.accept()


def test_program_found_in_path(start_server):
    server = exec_server(start_server, "-e", "cat")
    client = connect(LOOP4, server.port)
    client.sendall(b"via PATH\n")
    client.shutdown(socket.SHUT_WR)
    assert recv_until_eof(client) == b"via PATH\n"


def test_program_gone_after_start_costs_only_that_client(start_server, tmp_path):
    program = tmp_path / "mycat"
    shutil.copy("/bin/cat", program)
    server = exec_server(start_server, "-k", "-e", str(program))
    program.unlink()
    client = connect(LOOP4, server.port)
    assert sees_eof_within(client, 5)
    wait_log(server, r"connection from 127\.0\.0\.1:%d: cannot run .*mycat" % client.getsockname()[1])
    shutil.copy("/bin/cat", program)
    again = connect(LOOP4, server.port)
    again.sendall(b"back\n")
    assert recv_exact(again, 5) == b"back\n"
    assert server.proc.poll() is None


def test_usage_errors_exit_2():
    for args in (["listen", "-e", "cat", "-c", "cat", "0"], ["listen", "-u", "-q", "1s", "-e", "cat", "0"],
                 ["listen", "--transform", "echo", "-c", "cat", "0"], ["connect", "-z", "-e", "cat", LOOP4, "1"]):
        result = run_sockcat(*args)
        assert result.returncode == 2, args
        assert_one_error_line(result.stderr, "--help")


# ---------------------------------------------------------------------------------------------
# connect -e: the child gets the connection to the server.

def test_connect_hands_the_connection_to_the_program():
    listener, port = tcp_listener()
    with listener:
        proc = subprocess.Popen([SOCKCAT, "connect", "-c",
                                 "echo $SOCKCAT_REMOTE_PORT; cat", LOOP4, str(port)],
                                stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            conn = accept(listener)
            assert recv_exact(conn, len(str(port)) + 1) == f"{port}\n".encode()
            conn.sendall(b"echoed back\n")
            assert recv_exact(conn, 12) == b"echoed back\n"
            conn.shutdown(socket.SHUT_WR)
            assert recv_until_eof(conn) == b""
            assert wait_exit(proc, 10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            proc.stderr.close()
