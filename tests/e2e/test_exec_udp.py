"""End-to-end tests of -e/-c over UDP: `listen -u` runs a program per sender (its datagrams to
the program's stdin, each read of the program's stdout back to that sender as a datagram),
within -k, -m, -i and the access lists; `connect -u -e` relays a program with its peer.

The peers are Python UDP sockets on loopback. Every wait is bounded: a socket timeout for a
datagram, wait_log for a -v line, wait(timeout) for an exit."""
import socket
import subprocess

from conftest import SOCKCAT, wait_log
from helpers_tcp import LOOP4, procs, wait_exit  # noqa: F401 (procs is a fixture)

# The program most tests run: it says which sender it serves, then answers each line in capitals.
UPPER_BY_LINE = 'echo "for $SOCKCAT_REMOTE_PORT"; while read -r l; do echo "$l" | tr a-z A-Z; done'


def udp_peer(timeout=5):
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((LOOP4, 0))
    peer.settimeout(timeout)
    return peer


def port_of(peer):
    return peer.getsockname()[1]


def receive(peer):
    """The next datagram's payload; fails the test (socket.timeout) if none comes in time."""
    data, _ = peer.recvfrom(70000)
    return data


def receive_bytes(peer, count):
    """`count` bytes from as many datagrams as they come in: a program's quick writes may be
    read, and sent, as one datagram."""
    data = b""
    while len(data) < count:
        data += receive(peer)
    return data


def nothing_arrives(peer, seconds):
    peer.settimeout(seconds)
    try:
        peer.recvfrom(70000)
    except socket.timeout:
        return True
    return False


def exec_udp_server(start_server, *args):
    return start_server("listen", "-u", "-v", "-p", "0", *args)


def test_two_senders_each_get_their_own_program_and_only_their_replies(start_server):
    server = exec_udp_server(start_server, "-k", "-c", UPPER_BY_LINE)
    with udp_peer() as a, udp_peer() as b:
        a.sendto(b"from a\n", (LOOP4, server.port))
        b.sendto(b"from b\n", (LOOP4, server.port))
        expected_a = f"for {port_of(a)}\nFROM A\n".encode()
        expected_b = f"for {port_of(b)}\nFROM B\n".encode()
        assert receive_bytes(a, len(expected_a)) == expected_a
        assert receive_bytes(b, len(expected_b)) == expected_b
        a.sendto(b"again\n", (LOOP4, server.port))
        assert receive(a) == b"AGAIN\n"
        assert nothing_arrives(b, 0.3)
    pids = wait_log(server, r"datagrams from 127\.0\.0\.1:\d+: running .* \(pid (\d+)\)", count=2)
    assert len(set(pids)) == 2
    assert server.proc.poll() is None  # -k: still serving


def test_max_conns_counts_programs_and_drops_a_sender_over_it(start_server):
    # Each program holds on until its sender sends a line, answers it and exits.
    server = exec_udp_server(start_server, "-k", "-m", "1", "-c",
                             'echo "started $SOCKCAT_REMOTE_PORT"; read -r l; echo "got $l"')
    with udp_peer() as a, udp_peer() as b:
        a.sendto(b"held", (LOOP4, server.port))  # no LF yet: a's program keeps reading
        assert receive(a) == f"started {port_of(a)}\n".encode()
        b.sendto(b"b\n", (LOOP4, server.port))
        wait_log(server, r"datagrams from 127\.0\.0\.1:%d dropped: 1 program running already \(-m\)" % port_of(b))
        assert nothing_arrives(b, 0.3)
        a.sendto(b"\n", (LOOP4, server.port))
        assert receive(a) == b"got held\n"
        wait_log(server, r"datagrams from 127\.0\.0\.1:%d closed: .* exited with status 0" % port_of(a))
        b.sendto(b"b\n", (LOOP4, server.port))  # a's program has ended: b's turn
        expected = f"started {port_of(b)}\ngot b\n".encode()
        assert receive_bytes(b, len(expected)) == expected


def test_without_k_the_first_sender_is_served_then_the_server_exits(start_server):
    server = exec_udp_server(start_server, "-c", "read -r l; echo \"$l\"")
    with udp_peer() as a, udp_peer() as b:
        a.sendto(b"first", (LOOP4, server.port))
        wait_log(server, r"datagrams from 127\.0\.0\.1:%d: running" % port_of(a))
        b.sendto(b"other\n", (LOOP4, server.port))
        wait_log(server, r"datagrams from 127\.0\.0\.1:%d dropped: one sender is served without -k" % port_of(b))
        a.sendto(b" line\n", (LOOP4, server.port))
        assert receive(a) == b"first line\n"
        assert server.wait(5) == 0
        assert nothing_arrives(b, 0.2)
    assert server.stderr().count("running") == 1


def test_idle_sender_has_its_program_stdin_closed(start_server):
    server = exec_udp_server(start_server, "-k", "-i", "300ms", "-e", "/bin/cat")
    with udp_peer() as a:
        a.sendto(b"ping\n", (LOOP4, server.port))
        assert receive(a) == b"ping\n"
        wait_log(server, r"datagrams from 127\.0\.0\.1:%d: idle timeout \(-i\)" % port_of(a))
        wait_log(server, r"datagrams from 127\.0\.0\.1:%d closed: '/bin/cat' exited with status 0" % port_of(a))
        a.sendto(b"pong\n", (LOOP4, server.port))  # a new session, a new program
        assert receive(a) == b"pong\n"
    assert len(wait_log(server, r"running '/bin/cat'", count=2)) == 2


def test_denied_sender_never_starts_a_program(start_server):
    server = exec_udp_server(start_server, "-k", "--deny", "127.0.0.1", "-e", "/bin/cat")
    with udp_peer() as a:
        a.sendto(b"let me in\n", (LOOP4, server.port))
        wait_log(server, r"datagrams from 127\.0\.0\.1:%d refused: not allowed" % port_of(a))
        assert nothing_arrives(a, 0.3)
    assert "running" not in server.stderr()


def test_crlf_turns_the_programs_lf_into_crlf(start_server):
    server = exec_udp_server(start_server, "-C", "-c", r"printf 'a\nb\r\n'")
    with udp_peer() as a:
        a.sendto(b"go\n", (LOOP4, server.port))
        assert receive(a) == b"a\r\nb\r\n"
    assert server.wait(5) == 0


def test_child_environment_over_udp_under_both_names(start_server):
    server = exec_udp_server(start_server, "-e", "/usr/bin/env")
    with udp_peer() as a:
        sender_port = port_of(a)
        a.sendto(b"\n", (LOOP4, server.port))
        text = b""
        while not text.endswith(b"\n") or b"NCAT_PROTO" not in text or b"SOCKCAT_PROTO" not in text:
            text += receive(a)  # env writes its output in as many reads as the pipe gives
    assert server.wait(5) == 0
    variables = dict(line.split("=", 1) for line in text.decode().splitlines()
                     if line.startswith(("SOCKCAT_", "NCAT_")))
    for prefix in ("SOCKCAT_", "NCAT_"):
        assert variables[prefix + "REMOTE_ADDR"] == "127.0.0.1"
        assert variables[prefix + "REMOTE_PORT"] == str(sender_port)
        assert variables[prefix + "LOCAL_ADDR"] == "127.0.0.1"  # the route's, not the wildcard
        assert variables[prefix + "LOCAL_PORT"] == str(server.port)
    assert variables["SOCKCAT_PROTO"] == "udp"
    assert variables["NCAT_PROTO"] == "UDP"


def test_connect_udp_relays_the_program_with_its_peer(procs):
    with udp_peer() as server:
        proc = procs.sockcat("connect", "-u", "-c", 'echo hello; read -r l; echo "got $l"', LOOP4, port_of(server),
                             stdin=subprocess.DEVNULL)
        data, client = server.recvfrom(70000)
        assert data == b"hello\n"
        server.sendto(b"x\n", client)
        assert receive(server) == b"got x\n"
        assert wait_exit(proc, 10) == 0


def test_connect_udp_refused_ends_the_programs_input_with_exit_1():
    with udp_peer() as closed:
        port = port_of(closed)
    result = subprocess.run([SOCKCAT, "connect", "-u", "-c", "echo probe; cat", LOOP4, str(port)],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    assert result.returncode == 1
    assert b"refused" in result.stderr.lower()


def test_missing_program_ends_the_listener_before_it_binds():
    result = subprocess.run([SOCKCAT, "listen", "-u", "-v", "-e", "/nonexistent/prog", "0"], capture_output=True,
                            timeout=10)
    assert result.returncode == 1
    assert b"cannot run '/nonexistent/prog'" in result.stderr
    assert b"listening" not in result.stderr


def test_a_program_that_does_not_read_costs_only_its_own_datagrams(start_server):
    """A's program stops reading: once its pipe is full A's datagrams are dropped (said under
    -vv), nothing queues, and B's program is still answered at once."""
    server = start_server("listen", "-u", "-vv", "-p", "0", "-k", "-c",
                          'read -r first; if [ "$first" = stall ]; then exec sleep 30; fi; exec cat')
    with udp_peer() as a, udp_peer() as b:
        a.sendto(b"stall\n", (LOOP4, server.port))
        for _ in range(40):  # 2.4 MB: far more than a pipe holds
            a.sendto(b"x" * 60000, (LOOP4, server.port))
        wait_log(server, r"datagrams from 127\.0\.0\.1:%d: a datagram dropped: the program is not reading"
                 % port_of(a))
        b.sendto(b"go\n", (LOOP4, server.port))
        b.sendto(b"answered\n", (LOOP4, server.port))
        assert receive(b) == b"answered\n"
