"""connect -z: the zero-I/O port check, against real listeners on loopback."""
import socket
import subprocess

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


def test_closed_port_exits_1_with_one_line():
    port = unused_port()
    result = run_sockcat("connect", "-z", LOOP4, str(port), stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stdout == b""
    assert_one_error_line(result.stderr, "refused", str(port))


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
    reported = sorted(int(line.split(" port ")[1].split()[0]) for line in lines if "succeeded" in line)
    assert reported == sorted(open_ports)
    assert len(lines) == len(open_ports), lines  # closed ports are quiet at -v
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
    assert_one_error_line(result.stderr, "no open port", "20")


def test_every_port_of_a_range_is_checked():
    listener, port = tcp_listener()
    low = max(1, port - 300)
    result = run_sockcat("connect", "-zv", LOOP4, f"{low}-{port}", stdin=subprocess.DEVNULL, timeout=30)
    assert result.returncode == 0, result.stderr
    assert f" port {port} " in result.stderr.decode()
    listener.close()
