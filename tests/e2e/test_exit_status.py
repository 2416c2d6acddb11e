"""End-to-end tests of sockcat's exit statuses: 0 success, 1 runtime failure, 2 usage error,
130/143 interrupted. Every failure prints exactly one stderr line that names the problem."""
import os
import select
import signal
import socket
import subprocess
import time

import pytest

from conftest import SOCKCAT, run_sockcat
from helpers_dns import RESOLVER_TIMEOUT, held_dns  # noqa: F401 (held_dns is a fixture)
from helpers_tcp import (LOOP4, LOOP6, accept, assert_one_error_line, background, procs,  # noqa: F401
                         recv_exact, reset_close, stderr_lines, tcp_listener,
                         unused_port, wait_exit)


# 0 --------------------------------------------------------------------------------------------

def test_exit_0_for_a_completed_session(start_server, procs):
    server = start_server("listen", "-v", "-p", "0", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    server.proc.stdin.write(b"to the client\n")
    server.proc.stdin.close()
    result = run_sockcat("connect", LOOP4, str(server.port), input=b"to the server\n", timeout=10)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"to the client\n", b"")
    assert server.wait(10) == 0, server.stderr()
    assert server.proc.stdout.read() == b"to the server\n"


# 1: connection refused, unknown host ---------------------------------------------------------

@pytest.mark.parametrize("host", [LOOP4, LOOP6])
def test_exit_1_connection_refused(host):
    port = unused_port(host)
    result = run_sockcat("connect", host, str(port), stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert result.stdout == b""
    assert_one_error_line(result.stderr, "refused", str(port))


def test_exit_1_unknown_host(tmp_path):
    """A name nobody knows. Resolution must not leave the machine, so sockcat runs in a private
    mount namespace whose nsswitch.conf consults /etc/hosts only (no DNS query is sent)."""
    nsswitch = tmp_path / "nsswitch.conf"
    nsswitch.write_text("hosts: files\n")
    script = 'mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"'
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(nsswitch),
            SOCKCAT, "connect", "no-such-host.invalid", "80"]
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    if result.returncode != 1 and b"sockcat" not in result.stderr:
        pytest.skip(f"no private mount namespace here: {result.stderr!r}")
    assert result.returncode == 1
    assert result.stdout == b""
    assert_one_error_line(result.stderr, "no-such-host.invalid")


# 1: address in use ---------------------------------------------------------------------------

def hold_listening(host):
    """A Python socket in LISTEN on `host` (no SO_REUSEADDR; '::' is dual-stack)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    if ":" in host:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((host, 0))
    sock.listen(1)
    return sock, sock.getsockname()[1]


@pytest.mark.parametrize("held, bind", [
    ("0.0.0.0", None),
    ("127.0.0.1", None),
    ("127.0.0.1", "127.0.0.1"),
    ("::", None),
    ("::1", LOOP6),
    ("::1", None),  # the wildcard must not quietly fall back to IPv4 only
])
def test_exit_1_address_in_use(procs, held, bind):
    holder, port = hold_listening(held)
    try:
        args = ["listen", "-v"] + (["-b", bind] if bind else []) + [port]
        proc = procs.sockcat(*args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        status = wait_exit(proc, 5, "listen on a port already in use")
        err = proc.stderr.read()
        assert status == 1, err
        assert proc.stdout.read() == b""
        assert_one_error_line(err, "address already in use", str(port))
    finally:
        holder.close()


# 1: permission denied ------------------------------------------------------------------------

def unprivileged_port_start():
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        return int(f.read())


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
@pytest.mark.parametrize("args", [["80"], ["-b", LOOP4, "81"], ["-6", "-p", "82"]])
def test_exit_1_permission_denied_on_low_port(args):
    port = int(args[-1])
    if unprivileged_port_start() <= port:
        pytest.skip("ports below 1024 are not privileged here")
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    result = subprocess.run(as_nobody + [SOCKCAT, "listen"] + args, stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=10)
    assert result.returncode == 1, result.stderr
    assert result.stdout == b""
    assert_one_error_line(result.stderr, "permission denied", str(port))


# 1: reset by the peer ------------------------------------------------------------------------

def feed_until_closed(stream, limit=256 << 20):
    """Writes to sockcat's stdin until it stops reading (or `limit` bytes)."""
    block = b"r" * 65536
    written = 0
    try:
        while written < limit:
            stream.write(block)
            written += len(block)
        stream.close()
    except (BrokenPipeError, ValueError, OSError):
        pass
    return written


def test_exit_1_reset_while_sending(procs):
    """The peer reads a little of what sockcat sends, then resets. Tried 10 times: which of
    sockcat's reads and writes meets the reset first must not change the outcome."""
    outcomes = []
    for _ in range(10):
        listener, port = tcp_listener()
        proc = procs.sockcat("connect", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        feeder = background(feed_until_closed, proc.stdin)
        conn = accept(listener)
        recv_exact(conn, 65536)  # sockcat is mid-stream
        reset_close(conn)
        listener.close()
        status = wait_exit(proc, 10)
        feeder.join(10)
        outcomes.append((status, proc.stdout.read(), proc.stderr.read().decode(errors="replace")))
    for status, out, err in outcomes:
        assert status == 1, f"outcomes (status, stdout, stderr): {outcomes}"
        assert out == b""
        assert_one_error_line(err, "reset")


def test_exit_1_reset_while_receiving(procs):
    """stdin is open and idle; the peer sends a little, then resets."""
    listener, port = tcp_listener()
    proc = procs.sockcat("connect", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    conn = accept(listener)
    conn.sendall(b"partial answer\n")
    assert background(proc.stdout.read, 15).join(10) == b"partial answer\n"
    reset_close(conn)
    listener.close()
    status = wait_exit(proc, 5)
    err = proc.stderr.read()
    assert status == 1, err
    assert_one_error_line(err, "reset")


# 1: connect timeout (-w) ---------------------------------------------------------------------

def test_exit_1_connect_timeout_against_full_backlog(procs):
    """A loopback listener with backlog 0 that never accepts: once one connection is queued,
    the kernel drops further SYNs, so a connect can only time out."""
    listener, port = tcp_listener(backlog=0)
    fillers = []
    try:
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex((LOOP4, port))
            fillers.append(filler)
        _, connected, _ = select.select([], fillers[:1], [], 5)
        assert connected, "the first filler connection never completed"
        started = time.monotonic()
        result = run_sockcat("connect", "-w", "300ms", LOOP4, str(port), stdin=subprocess.DEVNULL, timeout=10)
        elapsed = time.monotonic() - started
        assert result.returncode == 1, result.stderr
        assert result.stdout == b""
        assert_one_error_line(result.stderr, "timed out")
        assert 0.25 < elapsed < 3, elapsed
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_exit_1_connect_timeout_bounds_the_name_lookup_too(held_dns):
    """A DNS server that never answers within the resolver's own 5 s: -w 1s gives up on the
    lookup at 1 s with one line, rather than when the resolver does."""
    dns = held_dns({"target.sockcat.test": LOOP4}, gate=1000, patience=60)
    started = time.monotonic()
    result = subprocess.run([*dns.wrapper, SOCKCAT, "connect", "-w", "1s", "target.sockcat.test", "9"],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 1 and result.stdout == b"", result
    assert_one_error_line(result.stderr, "sockcat: no answer in time looking 'target.sockcat.test' up")
    assert dns.queries >= 1
    assert 0.9 < elapsed < RESOLVER_TIMEOUT - 1, elapsed


# 2: usage errors -----------------------------------------------------------------------------

USAGE_ERRORS = [
    (["listen", "--bogus", "1"], "--bogus"),
    (["connect", "--bogus", LOOP4, "1"], "--bogus"),
    (["listen", "70000"], "70000"),
    (["connect", LOOP4, "70000"], "70000"),
    (["listen", "-p", "-1"], "-1"),
    (["listen", "abc"], "abc"),
    (["connect", LOOP4, "abc"], "abc"),
    (["listen", "0", "--transform", "uper"], "did you mean 'upper'"),
    (["listen", "0", "--transform"], "transform"),
    (["connect", "--transform", "upper", LOOP4, "1"], "--transform"),
    (["connect", "-p", "1", LOOP4, "2"], "-p"),
    (["listen", "-s", LOOP4, "0"], "-s"),
    (["connect", "-4", "-6", LOOP4, "1"], "-4"),
    (["listen", "-4", "-6", "0"], "-4"),
    (["listen", "-4", "-b", LOOP6, "0"], "::1"),
    (["connect", "-w", "soon", LOOP4, "1"], "soon"),
    (["connect", "-w", "0", LOOP4, "1"], "-w"),
    (["listen", "--no-shutdown", "--transform", "echo", "0"], "--no-shutdown"),
    (["connect"], "missing"),
    (["connect", LOOP4], "missing port"),
    (["connect", LOOP4, "1", "extra"], "extra"),
    (["listen"], "missing port"),
    (["listen", "-p", "1", "2"], "port"),
    ([], "missing subcommand"),
    (["frobnicate"], "missing port"),  # nc style: a HOST without a PORT
    (["lisen", "-p", "80"], "did you mean"),
]


@pytest.mark.parametrize("args, needle", USAGE_ERRORS, ids=[" ".join(a) or "(none)" for a, _ in USAGE_ERRORS])
def test_exit_2_usage_error(args, needle):
    result = run_sockcat(*args, stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 2, result.stderr
    assert result.stdout == b""
    assert_one_error_line(result.stderr, needle, "--help")


# 130 / 143 -----------------------------------------------------------------------------------

SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]


@pytest.mark.parametrize("signum, status", SIGNALS)
def test_signal_while_listen_waits_for_a_client(start_server, signum, status):
    server = start_server("listen", "-v", "-p", "0", stdin=subprocess.PIPE)
    server.signal(signum)
    assert server.wait(5) == status
    assert server.proc.stdout.read() == b""
    assert [l for l in stderr_lines(server.stderr()) if "listening on" not in l] == []


@pytest.mark.parametrize("signum, status", SIGNALS)
def test_signal_ends_connect_mid_session(procs, signum, status):
    listener, port = tcp_listener()
    proc = procs.sockcat("connect", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    conn = accept(listener)
    conn.sendall(b"x")
    assert background(proc.stdout.read, 1).join(10) == b"x"  # data flows down
    proc.stdin.write(b"y")
    proc.stdin.flush()
    assert recv_exact(conn, 1) == b"y"  # and up: the session is live
    proc.send_signal(signum)
    assert wait_exit(proc, 5) == status
    assert proc.stderr.read() == b""
    conn.close()
    listener.close()
