"""sockcat against real peers we did not write: OpenBSD netcat, socat, and Python clients
written the way the origin tutorial writes them."""
import os
import random
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import SOCKCAT, run_sockcat
from helpers_peers import (NC_OPENBSD, SOCAT, SS, finish, payload, read_until, sha256,
                           start_foreign_server, stop_process)

MIB = 1024 * 1024

pytestmark = pytest.mark.skipif(
    not (os.path.exists(NC_OPENBSD) and os.path.exists(SOCAT) and os.path.exists(SS)),
    reason="needs netcat-openbsd, socat and iproute2 (ss)")


@pytest.fixture
def foreign():
    """foreign(make_argv, udp=False, **popen_kwargs) starts nc or socat as a server on a free
    port and returns (process, port); each is ended, by PID, when the test is over."""
    started = []

    def start(make_argv, udp=False, **kwargs):
        proc, port = start_foreign_server(make_argv, udp=udp, **kwargs)
        started.append(proc)
        return proc, port

    yield start
    for proc in started:
        stop_process(proc)


@pytest.fixture(scope="module")
def mib():
    """1 MiB of bytes, about a third lowercase letters, the rest anything (NUL, UTF-8...)."""
    return payload(random.Random(1234), MIB)


def upper_server(start_server, transform="upper"):
    return start_server("listen", "-v", "-p", "0", "--transform", transform)


# --- OpenBSD netcat ---------------------------------------------------------------------

def test_nc_client_of_upper_server(start_server):
    server = upper_server(start_server)
    result = subprocess.run([NC_OPENBSD, "-N", "127.0.0.1", str(server.port)], input=b"hello",
                            capture_output=True, timeout=15)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"HELLO"


def test_nc_client_of_relay_listener_both_ways(start_server, tmp_path):
    rng = random.Random(11)
    from_nc = payload(rng, 300 * 1024)
    from_sockcat = payload(rng, 200 * 1024)
    (tmp_path / "in").write_bytes(from_sockcat)
    with open(tmp_path / "in", "rb") as stdin, open(tmp_path / "out", "wb") as stdout:
        server = start_server("listen", "-v", "-p", "0", stdin=stdin, stdout=stdout)
    nc = subprocess.run([NC_OPENBSD, "-N", "127.0.0.1", str(server.port)], input=from_nc,
                        capture_output=True, timeout=15)
    assert server.wait(15) == 0, server.stderr()
    assert nc.returncode == 0, nc.stderr
    assert sha256((tmp_path / "out").read_bytes()) == sha256(from_nc)
    assert sha256(nc.stdout) == sha256(from_sockcat)


def test_sockcat_connect_sends_file_to_nc_server(foreign, tmp_path, mib):
    (tmp_path / "file").write_bytes(mib)
    with open(tmp_path / "received", "wb") as sink:
        nc, port = foreign(lambda p: [NC_OPENBSD, "-l", "127.0.0.1", str(p)],
                           stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.PIPE)
    with open(tmp_path / "file", "rb") as source:
        result = run_sockcat("connect", "127.0.0.1", str(port), stdin=source, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert nc.wait(10) == 0
    assert sha256((tmp_path / "received").read_bytes()) == sha256(mib)


def test_sockcat_connect_and_nc_server_exchange_files_both_ways(foreign, tmp_path):
    rng = random.Random(12)
    to_nc, from_nc = payload(rng, 512 * 1024), payload(rng, 384 * 1024)
    (tmp_path / "to_nc").write_bytes(to_nc)
    (tmp_path / "from_nc").write_bytes(from_nc)
    with open(tmp_path / "from_nc", "rb") as nc_in, open(tmp_path / "nc_out", "wb") as nc_out:
        nc, port = foreign(lambda p: [NC_OPENBSD, "-N", "-l", "127.0.0.1", str(p)],
                           stdin=nc_in, stdout=nc_out, stderr=subprocess.PIPE)
    with open(tmp_path / "to_nc", "rb") as source:
        result = run_sockcat("connect", "127.0.0.1", str(port), stdin=source, timeout=20)
    assert result.returncode == 0, result.stderr
    assert nc.wait(10) == 0
    assert sha256(result.stdout) == sha256(from_nc)
    assert sha256((tmp_path / "nc_out").read_bytes()) == sha256(to_nc)


def test_nc_client_over_ipv6_of_wildcard_upper_server(start_server):
    server = upper_server(start_server)
    result = subprocess.run([NC_OPENBSD, "-6", "-N", "::1", str(server.port)], input=b"dual stack\n",
                            capture_output=True, timeout=15)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"DUAL STACK\n"


def test_nc_client_1mib_through_upper_server(start_server, mib):
    server = upper_server(start_server)
    result = subprocess.run([NC_OPENBSD, "-N", "127.0.0.1", str(server.port)], input=mib,
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) == MIB
    assert sha256(result.stdout) == sha256(mib.upper())


def test_many_nc_clients_at_once(start_server):
    server = upper_server(start_server)
    rng = random.Random(13)
    inputs = [payload(rng, 64 * 1024 + i) for i in range(20)]
    clients = [subprocess.Popen([NC_OPENBSD, "-N", "127.0.0.1", str(server.port)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in inputs]
    results = [None] * len(clients)

    def talk(index):
        try:
            out, err = clients[index].communicate(inputs[index], timeout=30)
            results[index] = (clients[index].returncode, out, err)
        except subprocess.TimeoutExpired:
            results[index] = (None, b"", b"timed out")

    # All connected at the same time, each fed and drained by a thread of its own.
    talkers = [threading.Thread(target=talk, args=(i,), daemon=True) for i in range(len(clients))]
    try:
        for talker in talkers:
            talker.start()
        for talker in talkers:
            talker.join(40)
    finally:
        for client in clients:
            stop_process(client)
    for (status, out, err), data in zip(results, inputs):
        assert status == 0, err
        assert sha256(out) == sha256(data.upper())
    assert server.proc.poll() is None


def test_sockcat_connect_over_ipv6_to_nc_server(foreign):
    nc, port = foreign(lambda p: [NC_OPENBSD, "-6", "-N", "-l", "::1", str(p)],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # nc's stdin is empty: it half-closes at once (-N) and prints what it receives.
    nc.stdin.close()
    result = run_sockcat("connect", "::1", str(port), input=b"over ipv6\n", timeout=15)
    assert result.returncode == 0, result.stderr
    status, out, err = finish(nc)
    assert status == 0, err
    assert out == b"over ipv6\n"


# --- socat ------------------------------------------------------------------------------

@pytest.mark.parametrize("transform", ["echo", "upper"])
def test_socat_client_of_replying_server_1mib(start_server, mib, transform):
    server = upper_server(start_server, transform)
    # -t: after its stdin ends socat waits this long for the rest; it leaves sooner, as soon
    # as sockcat closes the connection.
    result = subprocess.run([SOCAT, "-t", "10", "-", f"TCP:127.0.0.1:{server.port}"], input=mib,
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    expected = mib.upper() if transform == "upper" else mib
    assert len(result.stdout) == MIB
    assert sha256(result.stdout) == sha256(expected)


@pytest.mark.parametrize("program, convert", [
    ("SYSTEM:tr a-z A-Z", bytes.upper),
    ("EXEC:cat", lambda data: data),
])
def test_sockcat_connect_to_socat_server_1mib(foreign, mib, program, convert):
    socat, port = foreign(lambda p: [SOCAT, "-t", "10", f"TCP-LISTEN:{p},reuseaddr,bind=127.0.0.1", program],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    result = run_sockcat("connect", "127.0.0.1", str(port), input=mib, timeout=30)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) == MIB
    assert sha256(result.stdout) == sha256(convert(mib))
    assert socat.wait(10) == 0


def test_socat_client_of_relay_listener_both_ways(start_server, tmp_path):
    rng = random.Random(14)
    from_socat, from_sockcat = payload(rng, 256 * 1024), payload(rng, 128 * 1024)
    (tmp_path / "in").write_bytes(from_sockcat)
    with open(tmp_path / "in", "rb") as stdin, open(tmp_path / "out", "wb") as stdout:
        server = start_server("listen", "-v", "-p", "0", stdin=stdin, stdout=stdout)
    result = subprocess.run([SOCAT, "-t", "10", "-", f"TCP:127.0.0.1:{server.port}"], input=from_socat,
                            capture_output=True, timeout=30)
    assert server.wait(15) == 0, server.stderr()
    assert result.returncode == 0, result.stderr
    assert sha256((tmp_path / "out").read_bytes()) == sha256(from_socat)
    assert sha256(result.stdout) == sha256(from_sockcat)


# --- UDP with socat and nc ---------------------------------------------------------------

def udp_upper_server(start_server):
    return start_server("listen", "-v", "-u", "-p", "0", "--transform", "upper")


def run_until_answered(argv, message, tries=3):
    """Runs a one-shot UDP client up to `tries` times (a datagram may be lost)."""
    for _ in range(tries):
        result = subprocess.run(argv, input=message, capture_output=True, timeout=15)
        if result.stdout:
            return result
    return result


def test_socat_udp_client_of_upper_server(start_server):
    server = udp_upper_server(start_server)
    result = run_until_answered([SOCAT, "-t", "1", "-", f"UDP:127.0.0.1:{server.port}"],
                                b"hello over udp\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"HELLO OVER UDP\n"


def test_nc_udp_client_of_upper_server(start_server):
    server = udp_upper_server(start_server)
    # -W 1: leave after one datagram received; -w 3 bounds the wait if it never comes.
    result = run_until_answered([NC_OPENBSD, "-u", "-W", "1", "-w", "3", "127.0.0.1", str(server.port)],
                                b"netcat here\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"NETCAT HERE\n"


def test_nc_udp_client_over_ipv6_of_wildcard_server(start_server):
    server = udp_upper_server(start_server)
    result = run_until_answered([NC_OPENBSD, "-6", "-u", "-W", "1", "-w", "3", "::1", str(server.port)],
                                b"six\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"SIX\n"


def test_sockcat_connect_udp_to_socat_udp_echo(foreign):
    socat, port = foreign(lambda p: [SOCAT, f"UDP-LISTEN:{p},bind=127.0.0.1", "EXEC:cat"], udp=True,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = time.monotonic()
    result = run_sockcat("connect", "-u", "127.0.0.1", str(port), input=b"echo me\n", timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"echo me\n"
    assert time.monotonic() - started < 4


def test_sockcat_connect_udp_talks_with_nc_udp_listener(foreign):
    nc, port = foreign(lambda p: [NC_OPENBSD, "-u", "-l", "127.0.0.1", str(p)], udp=True,
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    client = subprocess.Popen([SOCKCAT, "connect", "-u", "127.0.0.1", str(port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        client.stdin.write(b"ping\n")
        client.stdin.flush()
        assert read_until(nc.stdout, lambda d: b"ping\n" in d) == b"ping\n"
        nc.stdin.write(b"pong\n")
        nc.stdin.flush()
        assert read_until(client.stdout, lambda d: b"pong\n" in d) == b"pong\n"
        client.stdin.close()
        assert client.wait(10) == 0, client.stderr.read()
        assert client.stdout.read() == b""
    finally:
        stop_process(client)


def test_nc_udp_client_talks_with_udp_relay_listener(start_server):
    server = start_server("listen", "-v", "-u", "-p", "0", stdin=subprocess.PIPE)
    nc = subprocess.Popen([NC_OPENBSD, "-u", "127.0.0.1", str(server.port)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        nc.stdin.write(b"hello from nc\n")
        nc.stdin.flush()
        assert read_until(server.proc.stdout, lambda d: d.endswith(b"\n")) == b"hello from nc\n"
        # nc's socket is connected: it takes the answer only from the address it wrote to.
        server.proc.stdin.write(b"hello from sockcat\n")
        server.proc.stdin.flush()
        assert read_until(nc.stdout, lambda d: d.endswith(b"\n")) == b"hello from sockcat\n"
    finally:
        stop_process(nc)


# --- the tutorial's own Python programs ---------------------------------------------------

def test_tutorial_client_gets_hello_upper_cased(start_server):
    server = upper_server(start_server)
    # As the tutorial writes it.
    phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    phone.settimeout(10)  # (ours: a bound on a test that would otherwise hang)
    phone.connect(("127.0.0.1", server.port))
    phone.send("hello".encode("utf-8"))
    data = phone.recv(1024)
    phone.close()
    assert data == b"HELLO"


def test_tutorial_communication_loop(start_server):
    server = upper_server(start_server)
    typed = ["hello", "", "how are you", "   ", "你好, sockcat", "", "bye"]
    phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    phone.settimeout(10)
    phone.connect(("127.0.0.1", server.port))
    replies = []
    for line in typed:  # the tutorial reads these with input('>>>:')
        msg = line.strip()
        if not msg:
            continue  # an empty send would leave both sides waiting
        phone.send(msg.encode("utf-8"))
        data = phone.recv(1024)
        replies.append(data.decode("utf-8"))
    phone.close()
    assert replies == ["HELLO", "HOW ARE YOU", "你好, SOCKCAT", "BYE"]


def tutorial_client(port, message):
    phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    phone.settimeout(10)
    phone.connect(("127.0.0.1", port))
    phone.send(message)
    data = phone.recv(1024)
    phone.close()
    return data


def reset(sock):
    """Closes with SO_LINGER {on, 0}: the kernel sends RST instead of FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, (1).to_bytes(4, "little") + (0).to_bytes(4, "little"))
    sock.close()


def test_tutorial_connection_loop_survives_resetting_clients(start_server):
    server = upper_server(start_server)
    assert tutorial_client(server.port, b"first") == b"FIRST"

    # A client that resets right after sending, before the reply can arrive.
    rude = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    rude.send(b"and goodbye")
    reset(rude)
    assert tutorial_client(server.port, b"second") == b"SECOND"

    # One that resets after reading its reply, one that resets without a word.
    rude = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    rude.send(b"x" * 5000)
    assert read_all(rude, 5000) == b"X" * 5000
    reset(rude)
    rude = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    reset(rude)

    # A client that resets while the server still has a lot to send back to it.
    rude = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    rude.sendall(b"y" * 200_000)
    reset(rude)

    for i in range(5):
        message = f"client {i}".encode()
        assert tutorial_client(server.port, message) == message.upper()
    assert server.proc.poll() is None, server.stderr()


def read_all(sock, count):
    data = b""
    for _ in range(1000):
        if len(data) >= count:
            break
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def time_wait_on(port):
    out = subprocess.run([SS, "-tanH", "state", "time-wait", f"sport = :{port}"],
                         capture_output=True, timeout=10).stdout
    return out.strip()


def test_tutorial_restart_on_same_port_reuses_address(start_server):
    server = upper_server(start_server)
    port = server.port
    phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    phone.settimeout(10)
    phone.connect(("127.0.0.1", port))
    phone.send(b"hello")
    assert phone.recv(1024) == b"HELLO"
    # Stop the server while the client is still connected: the server's side closes first,
    # so its end of the connection (on `port`) stays in TIME_WAIT.
    server.signal(signal.SIGTERM)
    assert server.wait(10) == 143
    assert phone.recv(1024) == b""
    phone.close()
    assert time_wait_on(port), "precondition: a connection on the port in TIME_WAIT"

    # Restart at once on the same port: bind succeeds thanks to SO_REUSEADDR.
    again = start_server("listen", "-v", "-p", str(port), "--transform", "upper")
    assert again.port == port, again.stderr()
    assert tutorial_client(port, b"hello again") == b"HELLO AGAIN"


def tutorial_server(phone, clients):
    """The tutorial's connection-loop server, bounded to `clients` accepts for the test."""
    for _ in range(clients):
        conn, client_addr = phone.accept()
        while True:
            try:
                data = conn.recv(1024)
                if not data:
                    break
                conn.send(data.upper())
            except ConnectionResetError:
                break
        conn.close()
    phone.close()


def test_sockcat_connect_as_client_of_tutorial_server():
    phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    phone.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    phone.bind(("127.0.0.1", 0))
    phone.listen(5)
    phone.settimeout(15)  # (ours: a bound, so the thread cannot outlive the test for long)
    port = phone.getsockname()[1]
    server = threading.Thread(target=tutorial_server, args=(phone, 3), daemon=True)
    server.start()
    for message in (b"hello", b"one line\nand another\n", "你好 world".encode()):
        result = run_sockcat("connect", "127.0.0.1", str(port), input=message, timeout=15)
        assert result.returncode == 0, result.stderr
        assert result.stdout == message.upper()
    server.join(10)
    assert not server.is_alive()
