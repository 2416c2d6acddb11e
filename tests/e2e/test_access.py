"""End-to-end tests of access control: --allow, --deny, --allowfile, --denyfile on every listen
mode (one-connection relay, -k, replying servers, -e, --send-file, UDP), with host names and
ncat's file format.

Clients get a second peer address by binding to 127.0.0.2 (all of 127/8 is local), and IPv6
clients come from ::1. Every wait has a deadline; a bounded wait is used only to show that
something does NOT happen (no reply to a refused UDP sender)."""
import re
import select
import socket
import subprocess

import pytest

from conftest import run_sockcat, run_sockcat_offline, wait_log, wait_until
from helpers_tcp import (LOOP4, LOOP6, assert_one_error_line, connection_log, procs, read_fd,  # noqa: F401
                         recv_exact, recv_until_eof, sees_eof_within, wait_exit)

OTHER4 = "127.0.0.2"



def connect_from(source, port, timeout=10):
    """A TCP connection to the server's loopback address of `source`'s family, from `source`."""
    family = socket.AF_INET6 if ":" in source else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect((LOOP6 if family == socket.AF_INET6 else LOOP4, port))
    return sock


def refused(server, sock):
    """Checks that the server closed `sock` at once without a byte, and logged the refusal."""
    port = sock.getsockname()[1]
    wait_log(server, r"connection from \S+:%d refused: not allowed" % port)
    try:
        assert sees_eof_within(sock, 5), "a refused client must be closed at once"
    except ConnectionResetError:
        pass  # closed with data unread: a reset is as good


def served(sock, text=b"hello\n", reply=b"HELLO\n"):
    sock.sendall(text)
    assert recv_exact(sock, len(reply)) == reply


def upper_server(start_server, *args):
    return start_server("listen", "-v", "-p", "0", "--transform", "upper", *args)


# ---------------------------------------------------------------------------------------------
# The rule, on a replying server.

def test_allow_one_ipv4_address(start_server):
    server = upper_server(start_server, "--allow", "127.0.0.1")
    served(connect_from(LOOP4, server.port))  # arrives as ::ffff:127.0.0.1 on the dual-stack listener
    refused(server, connect_from(OTHER4, server.port))
    refused(server, connect_from(LOOP6, server.port))
    served(connect_from(LOOP4, server.port))


def test_deny_wins_over_allow_and_ranges(start_server):
    server = upper_server(start_server, "--allow", "127.0.0.0/8,::1", "--deny", "127.0.0.2")
    served(connect_from(LOOP4, server.port))
    served(connect_from(LOOP6, server.port))
    refused(server, connect_from(OTHER4, server.port))


def test_cidr_edge(start_server):
    server = upper_server(start_server, "--allow", "127.0.0.0/31")
    served(connect_from(LOOP4, server.port))
    refused(server, connect_from(OTHER4, server.port))


def test_deny_ipv6(start_server):
    server = upper_server(start_server, "--deny", "::1/128")
    served(connect_from(LOOP4, server.port))
    refused(server, connect_from(LOOP6, server.port))


def test_refused_peers_do_not_count_against_max_conns(start_server):
    server = upper_server(start_server, "-m", "1", "--deny", OTHER4)
    kept = connect_from(LOOP4, server.port)
    served(kept)
    other = connect_from(OTHER4, server.port)
    refused(server, other)
    assert "-m" not in "".join(l for l in server.stderr().splitlines() if str(other.getsockname()[1]) in l)
    served(kept)


def test_nc_from_a_refused_address(start_server, procs):
    server = upper_server(start_server, "--allow", LOOP4)
    nc = procs.popen(["nc.openbsd", "-N", "-s", OTHER4, LOOP4, str(server.port)],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = nc.communicate(b"let me in\n", timeout=10)
    assert out == b""
    wait_log(server, r"connection from 127\.0\.0\.2:\d+ refused: not allowed")
    nc = procs.popen(["nc.openbsd", "-N", "-s", LOOP4, LOOP4, str(server.port)],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = nc.communicate(b"let me in\n", timeout=10)
    assert out == b"LET ME IN\n"


# ---------------------------------------------------------------------------------------------
# Other listen modes.

def test_single_connection_relay_waits_for_an_allowed_peer(start_server):
    server = start_server("listen", "-v", "-p", "0", "--allow", "127.0.0.1")
    refused(server, connect_from(OTHER4, server.port))
    assert server.proc.poll() is None
    good = connect_from(LOOP4, server.port)
    good.sendall(b"allowed\n")
    good.shutdown(socket.SHUT_WR)
    assert recv_until_eof(good) == b""
    assert server.wait(5) == 0
    assert server.proc.stdout.read() == b"allowed\n"


def test_keep_open_shared_stdio(start_server):
    server = start_server("listen", "-k", "-v", "-p", "0", "--deny", OTHER4, stdin=subprocess.PIPE)
    refused(server, connect_from(OTHER4, server.port))
    good = connect_from(LOOP4, server.port)
    good.sendall(b"shared\n")
    assert read_fd(server.proc.stdout.fileno(), 7, timeout=5) == b"shared\n"


def test_exec_children_only_for_allowed_peers(start_server):
    server = start_server("listen", "-k", "-v", "-p", "0", "--allow", LOOP4, "-c", "echo hi")
    refused(server, connect_from(OTHER4, server.port))
    assert "running" not in server.stderr()
    assert recv_until_eof(connect_from(LOOP4, server.port)) == b"hi\n"


def udp_from(source):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.settimeout(5)
    return sock


def test_udp_replying_server_drops_refused_senders_with_one_line_each(start_server):
    server = start_server("listen", "-u", "-v", "-p", "0", "--transform", "upper", "--allow", LOOP4)
    bad = udp_from(OTHER4)
    good = udp_from(LOOP4)
    for i in range(5):
        bad.sendto(b"refused %d" % i, (LOOP4, server.port))
    good.sendto(b"allowed", (LOOP4, server.port))
    assert good.recvfrom(100)[0] == b"ALLOWED"
    # The server handles datagrams in order: the refused ones were dropped before that reply.
    assert select.select([bad], [], [], 0.3)[0] == [], "a refused sender got a reply"
    lines = wait_log(server, r"datagrams from 127\.0\.0\.2:\d+ refused: not allowed")
    assert len(lines) == 1, server.stderr()
    bad.sendto(b"again", (LOOP4, server.port))
    good.sendto(b"again", (LOOP4, server.port))
    assert good.recvfrom(100)[0] == b"AGAIN"
    assert len(re.findall(r"datagrams from 127\.0\.0\.2", server.stderr())) == 1


def test_udp_relay_keeps_refused_datagrams_off_stdout(start_server):
    server = start_server("listen", "-u", "-v", "-p", "0", "--deny", OTHER4, stdin=subprocess.PIPE)
    udp_from(OTHER4).sendto(b"not this\n", (LOOP4, server.port))
    udp_from(LOOP4).sendto(b"this\n", (LOOP4, server.port))
    assert read_fd(server.proc.stdout.fileno(), 5, timeout=5) == b"this\n"


# ---------------------------------------------------------------------------------------------
# Files.

def test_allowfile_and_denyfile(start_server, tmp_path):
    allow = tmp_path / "allow"
    allow.write_text("# local only\n\n127.0.0.0/8   # IPv4 loopback\n")
    deny = tmp_path / "deny"
    deny.write_text("127.0.0.2\n")
    server = upper_server(start_server, "--allowfile", str(allow), "--denyfile", str(deny))
    served(connect_from(LOOP4, server.port))
    refused(server, connect_from(OTHER4, server.port))
    refused(server, connect_from(LOOP6, server.port))


def test_empty_allowfile_admits_nobody(start_server, tmp_path):
    allow = tmp_path / "allow"
    allow.write_text("# nobody yet\n")
    server = upper_server(start_server, "--allowfile", str(allow))
    refused(server, connect_from(LOOP4, server.port))


def test_unreadable_or_bad_file_exit_1_before_listening(tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("127.0.0.1\n10.0.0.1 10.0.0.1,2\n")
    for args, needles in (
            (["--allowfile", str(tmp_path / "missing")], ["missing", "No such file"]),
            (["--denyfile", str(tmp_path)], ["cannot read", "directory"]),
            (["--allowfile", str(bad)], ["line 2", "'10.0.0.1,2'"])):
        result = run_sockcat("listen", "-v", "-p", "0", *args)
        assert result.returncode == 1, result.stderr
        assert_one_error_line(result.stderr, *needles)
    result = run_sockcat("listen", "-u", "-v", "-p", "0", "--allowfile", str(tmp_path / "missing"))
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "missing")


@pytest.mark.parametrize("args, needle", [
    (["listen", "--allow", "local host", "0"], "'local host'"),
    (["listen", "-n", "--allow", "localhost", "0"], "-n"),
    (["listen", "--allow", "10.0.0.1-300", "0"], "'10.0.0.1-300'"),
    (["listen", "--deny", "10.0.0.0/33", "0"], "'10.0.0.0/33'"),
    (["listen", "--allow", "1.2.3.4,garb@ge", "0"], "'garb@ge'"),
    (["listen", "--allow", "::1/129", "0"], "'::1/129'"),
    (["connect", "--allow", "127.0.0.1", LOOP4, "9"], "listen"),
])
def test_bad_entries_are_usage_errors(args, needle):
    result = run_sockcat(*args)
    assert result.returncode == 2
    assert_one_error_line(result.stderr, needle, "--help")


# ---------------------------------------------------------------------------------------------
# Every listen mode refuses a denied peer (issue 10, point 1: --send-file without -k served one).
# Each case denies one loopback address and serves the other: --deny 127.0.0.0/8 leaves ::1 to
# be served, --deny ::1 leaves 127.0.0.1 (every listener here is dual-stack). The denied peer
# connects first and sends a probe: it must get no byte, the server must take nothing from it,
# and a one-client server must still be waiting for a peer it may serve.

PROBE = b"from the denied peer\n"
SECRET = b"the file's secret contents\n"

DENIALS = [("127.0.0.0/8", LOOP4, LOOP6), ("::1", LOOP6, LOOP4)]  # (--deny, denied, served)


def try_send(sock, data):
    """Sends what a refused peer can; a closed connection is the point of the test."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def stream_modes(tmp_path):
    """listen arguments for every stream mode, and how an allowed client is served by each:
    serve(server, source) runs the allowed exchange and returns True when the server should
    exit 0 on its own afterwards (a one-client mode)."""
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)

    def relay(server, source):
        server.proc.stdin.write(b"to the client\n")
        server.proc.stdin.close()
        sock = connect_from(source, server.port)
        assert recv_exact(sock, 14) == b"to the client\n"
        sock.sendall(b"from the allowed peer\n")
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""
        assert server.wait(10) == 0
        assert server.proc.stdout.read() == b"from the allowed peer\n"

    def shared_stdio(server, source):
        sock = connect_from(source, server.port)
        sock.sendall(b"from the allowed peer\n")
        assert read_fd(server.proc.stdout.fileno(), 22, timeout=10) == b"from the allowed peer\n"

    def replies(expected):
        def serve(server, source):
            sock = connect_from(source, server.port)
            sock.sendall(b"hello\n")
            assert recv_exact(sock, len(expected)) == expected
        return serve

    def broker(server, source):
        first = connect_from(source, server.port)
        wait_log(server, r"connection from \S+:%d\b" % first.getsockname()[1])
        second = connect_from(source, server.port)
        wait_log(server, r"connection from \S+:%d\b" % second.getsockname()[1])
        first.sendall(b"hello\n")
        assert recv_exact(second, 6) == b"hello\n"

    def chat(server, source):
        first = connect_from(source, server.port)
        # The refused peer never joined: the first allowed one is alone, and user 1.
        assert recv_exact(first, 39) == b"<announce> you are <user1>, with 0 others\n"[:39]

    def whole_file(server, source):
        assert recv_until_eof(connect_from(source, server.port)) == SECRET

    def cat(server, source):
        sock = connect_from(source, server.port)
        sock.sendall(b"hello\n")
        assert recv_exact(sock, 6) == b"hello\n"
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""

    def one_client(serve):
        def then_exit(server, source):
            serve(server, source)
            assert server.wait(10) == 0
        return then_exit

    return {
        "relay": ([], relay),
        "keep-open": (["-k"], shared_stdio),
        "echo": (["--transform", "echo"], replies(b"hello\n")),
        "framed-upper": (["--framing", "line", "--transform", "upper"], replies(b"HELLO\n")),
        "broker": (["--broker"], broker),
        "chat": (["--chat"], chat),
        "send-file": (["--send-file", str(secret)], one_client(whole_file)),
        "send-file-k": (["--send-file", str(secret), "-k"], whole_file),
        "exec": (["-e", "/bin/cat"], one_client(cat)),
        "exec-k": (["-e", "/bin/cat", "-k"], cat),
    }


STREAM_MODES = ["relay", "keep-open", "echo", "framed-upper", "broker", "chat", "send-file",
                "send-file-k", "exec", "exec-k"]


@pytest.mark.parametrize("deny, denied_source, allowed_source", DENIALS, ids=["deny-v4", "deny-v6"])
@pytest.mark.parametrize("mode", STREAM_MODES)
def test_every_stream_mode_refuses_a_denied_peer(start_server, tmp_path, mode, deny, denied_source,
                                                 allowed_source):
    args, serve = stream_modes(tmp_path)[mode]
    server = start_server("listen", "-v", "-p", "0", "--deny", deny, *args, stdin=subprocess.PIPE)
    denied = connect_from(denied_source, server.port)
    try_send(denied, PROBE)
    refused(server, denied)
    assert server.proc.poll() is None, "the server ended after a refused peer: " + server.stderr()
    lines = connection_log(server, denied.getsockname()[1])
    assert lines and all("refused" in line for line in lines), lines  # never served, not even in part
    serve(server, allowed_source)
    assert PROBE.strip().decode() not in server.stderr()


def udp_socket_from(source):
    sock = socket.socket(socket.AF_INET6 if ":" in source else socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.settimeout(10)
    return sock


@pytest.mark.parametrize("deny, denied_source, allowed_source", DENIALS, ids=["deny-v4", "deny-v6"])
@pytest.mark.parametrize("transform", ["none", "echo"])
def test_udp_modes_drop_a_denied_senders_datagrams(start_server, transform, deny, denied_source,
                                                   allowed_source):
    server = start_server("listen", "-u", "-v", "-p", "0", "--deny", deny, "--transform", transform,
                          stdin=subprocess.PIPE)
    denied = udp_socket_from(denied_source)
    allowed = udp_socket_from(allowed_source)
    denied.sendto(PROBE, (denied_source, server.port))
    wait_log(server, r"datagrams from \S+ refused: not allowed")
    allowed.sendto(b"hello\n", (allowed_source, server.port))
    if transform == "none":
        # Only the allowed sender's datagram reaches stdout, and stdin goes to it alone.
        assert read_fd(server.proc.stdout.fileno(), 6, timeout=10) == b"hello\n"
        server.proc.stdin.write(b"reply\n")
        server.proc.stdin.flush()
        assert allowed.recvfrom(100)[0] == b"reply\n"
    else:
        assert allowed.recvfrom(100)[0] == b"hello\n"
    # Datagrams are handled in order: had the denied one been answered, it would be here now.
    assert select.select([denied], [], [], 0.3)[0] == [], "a denied sender got a datagram"
    assert server.proc.poll() is None


# ---------------------------------------------------------------------------------------------
# Host names and ncat's file format (issue 10, point 14). Only "localhost" is looked up (it is in
# /etc/hosts); "no-such-host.invalid" is the name that fails, looked up in a private network
# namespace so that no DNS query leaves the machine.

RESOLVED = r"%s: 'localhost' resolved to [^\n]*\b127\.0\.0\.1\b"


def test_allow_localhost_serves_its_address_and_no_other(start_server):
    server = upper_server(start_server, "--allow", "localhost")
    served(connect_from(LOOP4, server.port))
    refused(server, connect_from(OTHER4, server.port))
    served(connect_from(LOOP4, server.port))
    # Resolved once, at start-up (before listening), and said in one line under -v.
    text = server.stderr()
    assert len(re.findall(RESOLVED % "--allow", text)) == 1, text
    assert text.index("resolved to") < text.index("listening on"), text


def test_udp_allow_localhost(start_server):
    server = start_server("listen", "-u", "-v", "-p", "0", "--transform", "upper", "--allow", "localhost")
    wait_log(server, RESOLVED % "--allow")
    good = udp_socket_from(LOOP4)
    udp_socket_from(OTHER4).sendto(b"refused", (LOOP4, server.port))
    wait_log(server, r"datagrams from 127\.0\.0\.2:\d+ refused: not allowed")
    good.sendto(b"allowed", (LOOP4, server.port))
    assert good.recvfrom(100)[0] == b"ALLOWED"


def test_ncat_format_file_with_names_and_several_entries_a_line(start_server, tmp_path):
    allow = tmp_path / "allow"
    allow.write_text("# written for ncat\n"
                     "10.0.0.0/8 localhost\t192.168.0-255.1-254\n"
                     "  127.0.0.2 127.0.0.3   # the lab\n")
    deny = tmp_path / "deny"
    deny.write_text("127.0.0.3 ::2\n")
    server = upper_server(start_server, "--allowfile", str(allow), "--denyfile", str(deny))
    served(connect_from(LOOP4, server.port))   # localhost, line 2
    served(connect_from(OTHER4, server.port))  # line 3
    refused(server, connect_from("127.0.0.3", server.port))  # allowed, but denied
    refused(server, connect_from("127.0.0.4", server.port))  # in neither
    assert re.search(RESOLVED % ("--allowfile '%s' line 2" % re.escape(str(allow))), server.stderr()), \
        server.stderr()


def test_a_name_that_does_not_resolve_ends_the_run_before_listening(tmp_path):
    result = run_sockcat_offline("listen", "-v", "-p", "0", "--allow", "127.0.0.1,no-such-host.invalid")
    assert result.returncode == 1, result.stderr
    assert_one_error_line(result.stderr, "--allow", "cannot resolve 'no-such-host.invalid'")
    names = tmp_path / "names"
    names.write_text("127.0.0.1\n\n::1 no-such-host.invalid\n")
    result = run_sockcat_offline("listen", "-u", "-p", "0", "--denyfile", str(names))
    assert result.returncode == 1, result.stderr
    assert_one_error_line(result.stderr, "--denyfile", "line 3", "'no-such-host.invalid'")


def test_no_dns_refuses_names_in_files_too(tmp_path):
    names = tmp_path / "names"
    names.write_text("127.0.0.1 localhost\n")
    result = run_sockcat("listen", "-n", "-p", "0", "--allowfile", str(names))
    assert result.returncode == 1, result.stderr
    assert_one_error_line(result.stderr, "line 1", "'localhost'", "-n")
