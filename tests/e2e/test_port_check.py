"""connect -z: the zero-I/O port check, against real listeners on loopback, over TCP and
over UDP (-z -u). Without -v only the exit status answers, as with nc and ncat; -v prints every
port in one shape: `HOST port N [tcp/SERVICE]: open`."""
import re
import socket
import subprocess
import time

import pytest

from conftest import run_sockcat
from helpers_tcp import LOOP4, assert_one_error_line, stderr_lines, tcp_listener, unused_port


def test_open_port_exits_0_silently_and_sends_nothing():
    listener, port = tcp_listener()
    result = run_sockcat("connect", "-z", LOOP4, str(port), stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"" and result.stderr == b""
    conn, _ = listener.accept()  # the handshake completed, and the check closed at once
    conn.settimeout(5)
    assert conn.recv(1) == b""
    conn.close()
    listener.close()


def test_closed_port_exits_1_silently():
    port = unused_port()
    result = run_sockcat("connect", "-z", LOOP4, str(port), stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stdout == b"" and result.stderr == b""


def test_closed_port_under_v_is_one_line_in_the_shape_of_an_open_one():
    port = unused_port()
    result = run_sockcat("connect", "-zv", LOOP4, str(port), stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    line = assert_one_error_line(result.stderr)
    assert re.fullmatch(r"sockcat: 127\.0\.0\.1 port %d( \[tcp/[^]]+\])?: refused" % port, line), line


def test_a_list_reports_each_open_port_under_v():
    open_ports = []
    listeners = []
    for _ in range(3):
        listener, port = tcp_listener()
        listeners.append(listener)
        open_ports.append(port)
    closed = [unused_port() for _ in range(3)]
    spec = ",".join(str(p) for p in closed + open_ports)
    result = run_sockcat("connect", "-zv", LOOP4, spec, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    lines = stderr_lines(result.stderr)
    # One line per port, in the order of the list, open and refused alike.
    shape = re.compile(r"sockcat: 127\.0\.0\.1 port (\d+)(?: \[tcp/[^]]+\])?: (open|refused)")
    parsed = [shape.fullmatch(line) for line in lines]
    assert all(parsed), lines
    assert [(int(m.group(1)), m.group(2)) for m in parsed] == \
        [(p, "refused") for p in closed] + [(p, "open") for p in open_ports]
    for listener in listeners:
        listener.close()


def test_a_range_with_nothing_open_exits_1():
    # A block of ports nothing listens on: bind them all without listening, then check.
    holders = []
    base = None
    for _ in range(50):
        trial = socket.socket()
        trial.bind((LOOP4, 0))
        start = trial.getsockname()[1]
        trial.close()
        holders = []
        try:
            for p in range(start, start + 20):
                s = socket.socket()
                # A port left in TIME_WAIT (after a benchmark's churn) is still free to hold.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((LOOP4, p))
                holders.append(s)
            base = start
            break
        except OSError:
            for s in holders:
                s.close()
    assert base is not None, "no free block of 20 ports"
    result = run_sockcat("connect", "-z", LOOP4, f"{base}-{base + 19}", stdin=subprocess.DEVNULL)
    for s in holders:
        s.close()
    assert result.returncode == 1
    assert result.stderr == b""


def test_every_port_of_a_range_is_checked():
    listener, port = tcp_listener()
    low = max(1, port - 300)
    result = run_sockcat("connect", "-zv", LOOP4, f"{low}-{port}", stdin=subprocess.DEVNULL, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = stderr_lines(result.stderr)
    assert len(lines) == port - low + 1
    assert any(re.match(rf"sockcat: 127\.0\.0\.1 port {port}( \[.*\])?: open$", line) for line in lines), lines
    listener.close()


def known_service_port():
    """A port /etc/services names for tcp, that nothing on loopback listens on."""
    for port in (1, 7, 9, 13, 17, 19, 37, 79, 113, 119):
        try:
            name = socket.getservbyport(port, "tcp")
        except OSError:
            continue
        with socket.socket() as probe:
            if probe.connect_ex((LOOP4, port)) != 0:
                return port, name
    pytest.skip("no named, closed tcp port below 120")


def test_v_names_the_service_from_etc_services():
    port, name = known_service_port()
    result = run_sockcat("connect", "-zv", LOOP4, str(port), stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, f"127.0.0.1 port {port} [tcp/{name}]: refused")


# ---------------------------------------------------------------------------------------------
# -z -u: one NUL datagram per port; ICMP port unreachable says closed, silence open|filtered.

def udp_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOP4, 0))
    return sock, sock.getsockname()[1]


def unused_udp_port():
    sock, port = udp_socket()
    sock.close()
    return port


def test_udp_closed_port_exits_1_at_once_silently():
    port = unused_udp_port()
    started = time.monotonic()
    result = run_sockcat("connect", "-zu", LOOP4, str(port), stdin=subprocess.DEVNULL)
    assert time.monotonic() - started < 0.9  # ICMP answers at once: no wait
    assert result.returncode == 1
    assert result.stdout == b"" and result.stderr == b""


def test_udp_silent_port_is_open_filtered_after_the_wait_and_got_one_nul():
    sock, port = udp_socket()
    started = time.monotonic()
    result = run_sockcat("connect", "-zuv", "-w", "300ms", LOOP4, str(port), stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert_one_error_line(result.stderr, f"127.0.0.1 port {port}", ": open|filtered")
    assert 0.25 <= elapsed < 2.0, elapsed
    sock.settimeout(5)
    assert sock.recv(100) == b"\0"
    sock.close()


def test_udp_default_wait_is_one_second():
    sock, port = udp_socket()
    started = time.monotonic()
    result = run_sockcat("connect", "-zu", LOOP4, str(port), stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    assert result.returncode == 0
    assert 0.9 <= elapsed < 2.5, elapsed
    sock.close()


def test_udp_port_that_answers_is_open_and_a_list_is_reported_in_order():
    import threading
    answering, answering_port = udp_socket()
    answering.settimeout(10)

    def answer():
        data, sender = answering.recvfrom(100)
        answering.sendto(data, sender)
    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    closed = unused_udp_port()
    result = run_sockcat("connect", "-zuv", "-w", "2s", LOOP4, f"{closed},{answering_port}", stdin=subprocess.DEVNULL)
    thread.join(5)
    assert result.returncode == 0, result.stderr
    lines = stderr_lines(result.stderr)
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"sockcat: 127.0.0.1 port {closed}") and lines[0].endswith(": closed"), lines
    assert lines[1].startswith(f"sockcat: 127.0.0.1 port {answering_port}") and lines[1].endswith(": open"), lines
    answering.close()


def test_udp_all_closed_exits_1_and_v_says_closed_for_each():
    ports = [unused_udp_port() for _ in range(3)]
    result = run_sockcat("-zuv", LOOP4, ",".join(map(str, ports)), stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    lines = stderr_lines(result.stderr)
    assert [l.endswith(": closed") for l in lines] == [True] * 3, lines
