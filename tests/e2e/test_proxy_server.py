"""`sockcat listen --proxy-type socks5|http` (issue 13 part 3): sockcat as a proxy server, end to
end over loopback, with clients we did not write (curl --socks5-hostname, --socks5, -p -x http://
and -x https://, with and without --proxy-user; OpenBSD nc -X 5 and -X connect; ssh through
ProxyCommand to the sshd fixture), sockcat's own proxy client, and raw Python sockets where the
bytes must be exact.

Covered: tunnels through both protocols, with and without a password (and the -v tunnel line);
SOCKS5 greeting, request and data pipelined in one send (the data reaches the target) and an
HTTP CONNECT head with data behind it; BIND and UDP ASSOCIATE -> reply 7, an unknown address type
-> 8; a client that does not offer the one method the server takes -> method 255; a wrong
password -> status 1 and the connection closed; HTTP 407 without or with wrong credentials, 405
for GET (with Allow: CONNECT), 400 for a malformed head, 431 for a head too large; a
destination outside --proxy-allow or inside --proxy-deny -> reply 2 / 403 and the target never
sees a connection (also a name that resolves only to forbidden addresses, and 0.0.0.0);
--proxy-ports; a refused target -> 5 / 502; a stalled handshake closed after 10 s while another
client is served; -i closing a quiet tunnel; -m counting tunnels; the bound address in the
SOCKS5 reply; an IPv6 destination; --deny on clients; TLS around the proxy (listen --ssl); the
open-proxy warning at start (without -v too) and its absence when restricted; usage errors.

Every port is ephemeral (-p 0, or bound by the test), every wait has a deadline and every loop
a bound, and sockcat servers are ended by PID (conftest's start_server)."""
import base64
import hashlib
import os
import re
import select
import socket
import ssl
import struct
import subprocess
import time
from types import SimpleNamespace

import pytest

from conftest import SOCKCAT, run_sockcat, run_sockcat_offline, wait_log
import helpers_proxy
from helpers_dns import held_dns  # noqa: F401 (a fixture)
from helpers_peers import stop_process
from helpers_proxy import (LOOP4, LOOP6, clean_env, have_ipv6_loopback, nc_exchange,
                           nc_proxy_command, run_curl, run_ssh)
from helpers_tcp import (assert_one_error_line, background, connect, recv_exact, recv_until_eof,
                         tcp_listener, unused_port)

# The fixtures, bound in this module so that pytest finds them (an assignment, unlike an
# import that only parameters use, keeps pyflakes quiet).
sshd = helpers_proxy.sshd
echo_target = helpers_proxy.echo_target
http_target = helpers_proxy.http_target

SOCKCAT_PATH = os.path.abspath(SOCKCAT)  # ssh runs its ProxyCommand from another directory
USER, PASSWORD = "proxy-user", "pass:with:colons"
HANDSHAKE_LIMIT = 10  # seconds: proxy_server_handshake_timeout
OPEN_WARNING = "open proxy"


# --- the server -------------------------------------------------------------------------------

def proxy(start_server, kind, *extra):
    """`sockcat listen -b 127.0.0.1 -p 0 -v --proxy-type KIND ...`; returns the Server."""
    return start_server("listen", "-b", LOOP4, "-p", "0", "-v", "--proxy-type", kind,
                        *[str(a) for a in extra])


def as_daemon(server):
    """The server as helpers_proxy's functions take a proxy (host, port)."""
    return SimpleNamespace(host=LOOP4, port=server.port)


def closed_line(server, client_port, timeout=10):
    """Waits for the -v line that ends the client at `client_port`; returns it."""
    pattern = r"connection from 127\.0\.0\.1:%d closed[^\n]*" % client_port
    return wait_log(server, pattern, timeout=timeout)[0]


def tunnel_line(server, kind, host, port, timeout=10):
    """Waits for the -v line of a tunnel to HOST:PORT; returns it."""
    shown = f"[{host}]" if ":" in host else host
    pattern = r"connection from 127\.0\.0\.1:\d+: %s tunnel to %s:%d \([^)]*\)" % (
        kind, re.escape(shown), port)
    return wait_log(server, pattern, timeout=timeout)[0]


def no_connection_waiting(listener):
    """True when nobody has connected to `listener`. Called after the proxy has answered a
    refusal: a connect it made would be in the backlog by then (it connects before answering)."""
    readable, _, _ = select.select([listener], [], [], 0)
    return not readable


# --- SOCKS5 and HTTP by hand ------------------------------------------------------------------

def socks5_address(host):
    """ATYP and DST.ADDR for `host`: an IPv4 or IPv6 literal, or a name."""
    for family, atyp in ((socket.AF_INET, 1), (socket.AF_INET6, 4)):
        try:
            return bytes([atyp]) + socket.inet_pton(family, host)
        except OSError:
            pass
    return bytes([3, len(host)]) + host.encode()


def socks5_request(host, port, command=1):
    return bytes([5, command, 0]) + socks5_address(host) + struct.pack(">H", port)


def socks5_login(user, password):
    return bytes([1, len(user)]) + user.encode() + bytes([len(password)]) + password.encode()


def read_socks5_reply(sock):
    """Reads one SOCKS5 reply exactly; returns (REP, bound host, bound port)."""
    head = recv_exact(sock, 4)
    assert head[0] == 5 and head[2] == 0, head
    if head[3] == 1:
        host = socket.inet_ntop(socket.AF_INET, recv_exact(sock, 4))
    elif head[3] == 4:
        host = socket.inet_ntop(socket.AF_INET6, recv_exact(sock, 16))
    else:
        raise AssertionError(f"unexpected bound address type {head[3]}")
    (port,) = struct.unpack(">H", recv_exact(sock, 2))
    return head[1], host, port


def socks5_connect(server_port, host, port, credentials=None):
    """A SOCKS5 client's whole handshake, one message at a time; returns (socket, REP, bound
    host, bound port). The socket is left open whatever the reply."""
    sock = connect(LOOP4, server_port)
    method = 2 if credentials else 0
    sock.sendall(bytes([5, 1, method]))
    assert recv_exact(sock, 2) == bytes([5, method])
    if credentials:
        sock.sendall(socks5_login(*credentials))
        assert recv_exact(sock, 2) == b"\x01\x00"
    sock.sendall(socks5_request(host, port))
    return (sock, *read_socks5_reply(sock))


def read_http_head(sock, limit=65536):
    """Reads until the end of a response head; returns (head, bytes read after it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        assert len(data) < limit, data[:200]
        chunk = sock.recv(4096)
        assert chunk, f"EOF inside the response head: {data!r}"
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def http_exchange(server_port, request):
    """Sends `request` and reads the answer to EOF; returns (status, head, whole answer)."""
    with connect(LOOP4, server_port) as sock:
        sock.sendall(request)
        answer = recv_until_eof(sock)
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return int(head.split()[1]), head, answer


def connect_head(authority, credentials=None):
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if credentials:
        token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def echo_round(sock, message):
    sock.sendall(message)
    assert recv_exact(sock, len(message)) == message


# === 1. clients we did not write =================================================================

@pytest.mark.parametrize("flag", ["--socks5-hostname", "--socks5"])
def test_curl_through_socks5(start_server, http_target, flag):
    server = proxy(start_server, "socks5")
    host = "localhost" if flag == "--socks5-hostname" else LOOP4
    result, code, _ = run_curl(flag, f"{LOOP4}:{server.port}", http_target.url(host=host))
    assert (result.returncode, code) == (0, 200), result.stderr
    assert result.stdout == http_target.body
    line = tunnel_line(server, "socks5", host, http_target.port)
    assert re.search(r"\((127\.0\.0\.1|\[::1\]):%d\)" % http_target.port, line), line
    wait_log(server, r"connection from 127\.0\.0\.1:\d+ closed \(received \d+ bytes, sent \d+\)")


def test_curl_socks5_with_proxy_user(start_server, http_target):
    server = proxy(start_server, "socks5", "--proxy-auth", f"{USER}:{PASSWORD}")
    url = http_target.url(host="localhost")
    result, code, _ = run_curl("--socks5-hostname", f"{LOOP4}:{server.port}",
                               "--proxy-user", f"{USER}:{PASSWORD}", url)
    assert (result.returncode, code) == (0, 200), result.stderr
    assert result.stdout == http_target.body
    wrong, _, _ = run_curl("--socks5-hostname", f"{LOOP4}:{server.port}",
                           "--proxy-user", f"{USER}:not-it", url)
    assert wrong.returncode != 0 and wrong.stdout == b"", wrong.stderr
    wait_log(server, r"closed: wrong username or password \(user '%s'\) \(sent SOCKS5 login "
             r"status 1\)" % USER)
    anonymous, _, _ = run_curl("--socks5-hostname", f"{LOOP4}:{server.port}", url)
    assert anonymous.returncode != 0 and anonymous.stdout == b"", anonymous.stderr
    wait_log(server, r"does not offer SOCKS5 username/password .*\(sent SOCKS5 method 255")


def test_curl_http_connect_with_proxy_user_and_407(start_server, http_target):
    server = proxy(start_server, "http", "--proxy-auth", f"{USER}:{PASSWORD}")
    url = http_target.url(host="localhost")
    through = ["-p", "-x", f"http://{LOOP4}:{server.port}"]
    result, code, connect_code = run_curl(*through, "--proxy-user", f"{USER}:{PASSWORD}", url)
    assert (result.returncode, code, connect_code) == (0, 200, 200), result.stderr
    assert result.stdout == http_target.body
    tunnel_line(server, "http", "localhost", http_target.port)
    for extra in ([], ["--proxy-user", f"{USER}:wrong"]):
        refused, _, connect_code = run_curl(*through, *extra, url)
        assert refused.returncode != 0 and connect_code == 407, refused.stderr
    wait_log(server, r"closed: no Proxy-Authorization .*407 Proxy Authentication Required\)")
    wait_log(server, r"closed: wrong username or password \(user '%s'\) .*407" % USER)


def test_curl_through_a_tls_wrapped_http_proxy(start_server, http_target):
    """listen --ssl --proxy-type http: an HTTPS proxy (curl -x https://), TLS to the proxy."""
    server = proxy(start_server, "http", "--ssl", "--proxy-auth", f"{USER}:{PASSWORD}")
    result, code, connect_code = run_curl(
        "-p", "-x", f"https://{LOOP4}:{server.port}", "--proxy-insecure",
        "--proxy-user", f"{USER}:{PASSWORD}", http_target.url())
    assert (result.returncode, code, connect_code) == (0, 200, 200), result.stderr
    assert result.stdout == http_target.body


@pytest.mark.parametrize("version", ["5", "connect"])
def test_openbsd_nc_through_the_proxy(start_server, echo_target, version):
    kind = "socks5" if version == "5" else "http"
    server = proxy(start_server, kind)
    data = os.urandom(64 * 1024)
    status, reply, stderr = nc_exchange(as_daemon(server), version, LOOP4, echo_target.port, data)
    assert status == 0, stderr
    assert reply == data
    tunnel_line(server, kind, LOOP4, echo_target.port)


@pytest.mark.parametrize("kind", ["socks5", "http"])
def test_sockcat_proxy_client_through_sockcat_proxy_server(start_server, echo_target, kind):
    server = proxy(start_server, kind, "--proxy-auth", f"{USER}:{PASSWORD}")
    data = os.urandom(256 * 1024)
    result = run_sockcat("connect", "--proxy", f"{LOOP4}:{server.port}", "--proxy-type", kind,
                         "--proxy-auth", f"{USER}:{PASSWORD}", "localhost", str(echo_target.port),
                         input=data, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == data
    tunnel_line(server, kind, "localhost", echo_target.port)
    wait_log(server, r"closed \(received %d bytes, sent %d\)" % (len(data), len(data)))


@pytest.mark.parametrize("client", ["sockcat", "nc"])
def test_ssh_through_the_proxy_as_proxy_command(start_server, sshd, client):
    if client == "sockcat":
        server = proxy(start_server, "socks5", "--proxy-auth", f"{USER}:{PASSWORD}")
        command = (f"{SOCKCAT_PATH} connect --proxy {LOOP4}:{server.port} --proxy-type socks5 "
                   f"--proxy-auth {USER}:{PASSWORD} %h %p")
    else:  # OpenBSD nc cannot send a password from a script: the server has none
        server = proxy(start_server, "socks5", "--proxy-allow", LOOP4)
        command = nc_proxy_command(as_daemon(server), "5")
    data = os.urandom(1 << 20)
    result = run_ssh(sshd, ["-o", f"ProxyCommand={command}"], ["sha256sum"], input=data)
    assert result.returncode == 0, (result.stderr, server.stderr(), sshd.log())
    assert result.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest(), result.stdout
    tunnel_line(server, "socks5", LOOP4, sshd.port)


# === 2. the protocols by hand ====================================================================

def test_socks5_pipelined_greeting_request_and_data(start_server, echo_target):
    """Greeting, request and the tunnel's first bytes in ONE send: the server reads each message
    exactly, so the data stays in the socket and reaches the target."""
    server = proxy(start_server, "socks5")
    data = b"pipelined data behind the request\n" * 50
    more = b"and more after the reply"
    with connect(LOOP4, server.port) as sock:
        sock.sendall(bytes([5, 1, 0]) + socks5_request(LOOP4, echo_target.port) + data)
        assert recv_exact(sock, 2) == b"\x05\x00"
        assert read_socks5_reply(sock)[0] == 0
        assert recv_exact(sock, len(data)) == data
        echo_round(sock, more)
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""
        local_port = sock.getsockname()[1]
    total = len(data) + len(more)
    wait_log(server, r"connection from 127\.0\.0\.1:%d closed \(received %d bytes, sent %d\)" %
             (local_port, total, total))


def test_socks5_pipelined_with_login(start_server, echo_target):
    server = proxy(start_server, "socks5", "--proxy-auth", f"{USER}:{PASSWORD}")
    data = b"right behind the login and the request"
    with connect(LOOP4, server.port) as sock:
        sock.sendall(bytes([5, 2, 0, 2]) + socks5_login(USER, PASSWORD) +
                     socks5_request("localhost", echo_target.port) + data)
        assert recv_exact(sock, 4) == b"\x05\x02\x01\x00"
        assert read_socks5_reply(sock)[0] == 0
        assert recv_exact(sock, len(data)) == data


def test_http_connect_with_data_behind_the_head(start_server, echo_target):
    server = proxy(start_server, "http")
    data = b"bytes right behind the CONNECT head"
    with connect(LOOP4, server.port) as sock:
        sock.sendall(connect_head(f"{LOOP4}:{echo_target.port}") + data)
        head, rest = read_http_head(sock)
        assert head == "HTTP/1.1 200 Connection established", head
        assert rest + recv_exact(sock, len(data) - len(rest)) == data


def test_socks5_bound_address_is_the_proxys_end_toward_the_target(start_server, echo_target):
    server = proxy(start_server, "socks5")
    sock, rep, host, port = socks5_connect(server.port, LOOP4, echo_target.port)
    with sock:
        assert (rep, host) == (0, LOOP4)
        echo_round(sock, b"ping")
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""
    # The echo target notes each connection by its peer: the proxy's end, as the reply said.
    deadline = time.monotonic() + 10
    while f"{LOOP4}:{port}: echoed 4 bytes" not in echo_target.log():
        assert time.monotonic() < deadline, echo_target.log()
        time.sleep(0.02)


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no ::1 here")
def test_socks5_ipv6_destination(start_server, echo_target):
    server = proxy(start_server, "socks5")
    sock, rep, host, _ = socks5_connect(server.port, LOOP6, echo_target.port)
    with sock:
        assert (rep, host) == (0, LOOP6)
        echo_round(sock, b"over IPv6")
    tunnel_line(server, "socks5", LOOP6, echo_target.port)


@pytest.mark.parametrize("command, name", [(2, "BIND"), (3, "UDP ASSOCIATE")])
def test_socks5_bind_and_udp_associate_get_reply_7(start_server, echo_target, command, name):
    server = proxy(start_server, "socks5")
    with connect(LOOP4, server.port) as sock:
        sock.sendall(bytes([5, 1, 0]))
        assert recv_exact(sock, 2) == b"\x05\x00"
        sock.sendall(socks5_request(LOOP4, echo_target.port, command))
        assert read_socks5_reply(sock)[0] == 7
        assert recv_until_eof(sock) == b""
        client_port = sock.getsockname()[1]
    line = closed_line(server, client_port)
    assert name in line and "SOCKS5 reply 7" in line, line


def test_socks5_unknown_address_type_gets_reply_8(start_server):
    server = proxy(start_server, "socks5")
    with connect(LOOP4, server.port) as sock:
        sock.sendall(bytes([5, 1, 0]))
        assert recv_exact(sock, 2) == b"\x05\x00"
        sock.sendall(bytes([5, 1, 0, 9]) + b"\x7f\x00\x00\x01\x00\x50")
        assert read_socks5_reply(sock)[0] == 8
        assert recv_until_eof(sock) == b""


def test_socks5_wrong_password_gets_status_1_and_is_closed(start_server, echo_target):
    server = proxy(start_server, "socks5", "--proxy-auth", f"{USER}:{PASSWORD}")
    with connect(LOOP4, server.port) as sock:
        sock.sendall(bytes([5, 1, 2]))
        assert recv_exact(sock, 2) == b"\x05\x02"
        sock.sendall(socks5_login(USER, PASSWORD + "x"))
        assert recv_exact(sock, 2) == b"\x01\x01"
        assert recv_until_eof(sock) == b""
        client_port = sock.getsockname()[1]
    line = closed_line(server, client_port)
    assert PASSWORD not in line, line


def test_socks5_no_auth_offered_to_a_password_server_gets_255(start_server):
    server = proxy(start_server, "socks5", "--proxy-auth", f"{USER}:{PASSWORD}")
    with connect(LOOP4, server.port) as sock:
        sock.sendall(bytes([5, 1, 0]))
        assert recv_exact(sock, 2) == b"\x05\xff"
        assert recv_until_eof(sock) == b""


def test_socks5_without_the_no_auth_method_gets_255(start_server):
    server = proxy(start_server, "socks5")
    with connect(LOOP4, server.port) as sock:
        sock.sendall(bytes([5, 1, 2]))  # username/password only; this server takes "none"
        assert recv_exact(sock, 2) == b"\x05\xff"
        assert recv_until_eof(sock) == b""


def test_http_get_gets_405_with_allow_connect(start_server, http_target):
    server = proxy(start_server, "http")
    status, head, _ = http_exchange(
        server.port, f"GET {http_target.url()} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 405, head
    assert "\r\nAllow: CONNECT" in head, head
    wait_log(server, r"closed: HTTP method 'GET' is not served")


@pytest.mark.parametrize("request_bytes, status", [
    (b"CONNECT nothing-here HTTP/1.1\r\n\r\n", 400),
    (b"CONNECT 127.0.0.1:80 HTTP/2.0\r\n\r\n", 400),
    (b"CONNECT 127.0.0.1:80 HTTP/1.1\r\n" + b"X-Filler: " + b"y" * 9000 + b"\r\n\r\n", 431),
])
def test_http_malformed_and_oversized_heads(start_server, request_bytes, status):
    server = proxy(start_server, "http")
    got, head, _ = http_exchange(server.port, request_bytes)
    assert got == status, head


# === 3. destinations ============================================================================

@pytest.mark.parametrize("kind", ["socks5", "http"])
@pytest.mark.parametrize("limit, destination", [
    (["--proxy-allow", "127.0.0.2"], LOOP4),
    (["--proxy-allow", "127.0.0.2"], "localhost"),      # a name smuggles no forbidden address
    (["--proxy-deny", "127.0.0.0/8,::1"], LOOP4),
    (["--proxy-deny", "127.0.0.0/8,::1"], "localhost"),
    ([], "0.0.0.0"),                                     # the unspecified address is this machine
])
def test_forbidden_destination_is_refused_and_never_reached(start_server, kind, limit,
                                                            destination):
    server = proxy(start_server, kind, *limit)
    listener, port = tcp_listener(LOOP4)
    with listener:
        if kind == "socks5":
            sock, rep, _, _ = socks5_connect(server.port, destination, port)
            with sock:
                assert rep == 2
                assert recv_until_eof(sock) == b""
                client_port = sock.getsockname()[1]
        else:
            with connect(LOOP4, server.port) as sock:
                sock.sendall(connect_head(f"{destination}:{port}"))
                answer = recv_until_eof(sock)
                client_port = sock.getsockname()[1]
            assert answer.startswith(b"HTTP/1.1 403 "), answer
        assert no_connection_waiting(listener)
    line = closed_line(server, client_port)
    assert "is not an allowed destination" in line, line
    assert ("SOCKS5 reply 2" if kind == "socks5" else "403 Forbidden") in line, line


def test_allowed_destination_by_name_and_proxy_ports(start_server, echo_target):
    server = proxy(start_server, "socks5", "--proxy-allow", "localhost",
                   "--proxy-ports", f"1-2,{echo_target.port}")
    sock, rep, _, _ = socks5_connect(server.port, "localhost", echo_target.port)
    with sock:
        assert rep == 0
        echo_round(sock, b"allowed")
    other = unused_port()
    sock, rep, _, _ = socks5_connect(server.port, LOOP4, other)
    with sock:
        assert rep == 2
        client_port = sock.getsockname()[1]
    assert f"port {other} is not in --proxy-ports" in closed_line(server, client_port)


def test_http_proxy_ports_gives_403(start_server, echo_target):
    server = proxy(start_server, "http", "--proxy-ports", "443")
    status, head, _ = http_exchange(server.port, connect_head(f"{LOOP4}:{echo_target.port}"))
    assert status == 403, head


@pytest.mark.parametrize("kind", ["socks5", "http"])
def test_refused_target_gets_5_or_502(start_server, kind):
    server = proxy(start_server, kind)
    port = unused_port()
    if kind == "socks5":
        sock, rep, _, _ = socks5_connect(server.port, LOOP4, port)
        sock.close()
        assert rep == 5
    else:
        status, head, _ = http_exchange(server.port, connect_head(f"{LOOP4}:{port}"))
        assert status == 502, head
    wait_log(server, r"tunnel to 127\.0\.0\.1:%d refused: connect to 127\.0\.0\.1:%d: "
             r"Connection refused" % (port, port))


@pytest.mark.parametrize("kind", ["socks5", "http"])
def test_unresolvable_name_gets_4_or_502(start_server, kind):
    """(A resolver that cannot answer within the 10 s limit gives 4 / 504 instead: the line then
    says "no answer in time".)"""
    server = proxy(start_server, kind)
    if kind == "socks5":
        sock, rep, _, _ = socks5_connect(server.port, "no-such-host.invalid", 80)
        sock.close()
        assert rep == 4
    else:
        status, head, _ = http_exchange(server.port, connect_head("no-such-host.invalid:80"))
        assert status in (502, 504), head
    wait_log(server, r"(cannot resolve|no answer in time looking) 'no-such-host\.invalid'",
             timeout=HANDSHAKE_LIMIT + 5)


def test_destination_names_are_looked_up_side_by_side(start_server, echo_target, held_dns):
    """Three SOCKS5 clients name a destination at once, and the DNS server answers no query
    until it holds three lookups together: a proxy whose lookups waited for each other (one
    resolver thread, or the event loop's) would leave it holding one, and fail here."""
    dns = held_dns({"target.sockcat.test": LOOP4}, gate=3)
    server = start_server("listen", "-4", "-b", LOOP4, "-p", "0", "-v", "--proxy-type", "socks5",
                          wrapper=dns.wrapper)
    asks = [background(socks5_connect, server.port, "target.sockcat.test", echo_target.port)
            for _ in range(3)]
    tunnels = [ask.join(HANDSHAKE_LIMIT + 10) for ask in asks]
    try:
        assert [rep for _, rep, _, _ in tunnels] == [0, 0, 0], server.stderr()
        for number, (sock, _, _, _) in enumerate(tunnels):
            message = b"tunnel %d\n" % number
            sock.sendall(message)
            assert recv_exact(sock, len(message)) == message
    finally:
        for sock, _, _, _ in tunnels:
            sock.close()
    assert dns.most_held == 3, (dns.most_held, server.stderr())


# === 4. clients ==================================================================================

def test_stalled_handshake_is_closed_after_the_limit_while_another_is_served(start_server,
                                                                             echo_target):
    server = proxy(start_server, "socks5")
    started = time.monotonic()
    with connect(LOOP4, server.port, timeout=HANDSHAKE_LIMIT + 10) as stalled:
        stalled.sendall(b"\x05")  # half a greeting, then nothing
        stalled_port = stalled.getsockname()[1]
        sock, rep, _, _ = socks5_connect(server.port, LOOP4, echo_target.port)
        with sock:
            assert rep == 0
            echo_round(sock, b"served meanwhile")
        assert time.monotonic() - started < HANDSHAKE_LIMIT / 2
        assert recv_until_eof(stalled, timeout=HANDSHAKE_LIMIT + 10) == b""
        waited = time.monotonic() - started
    assert HANDSHAKE_LIMIT - 0.5 <= waited <= HANDSHAKE_LIMIT + 5, waited
    line = closed_line(server, stalled_port)
    assert "no complete SOCKS5 greeting within 10s" in line, line


def test_idle_timeout_closes_a_quiet_tunnel(start_server, echo_target):
    server = proxy(start_server, "socks5", "-i", "1s")  # margin for a slow, loaded machine
    sock, rep, _, _ = socks5_connect(server.port, LOOP4, echo_target.port)
    with sock:
        assert rep == 0
        echo_round(sock, b"then silence")
        assert recv_until_eof(sock, timeout=10) == b""
        client_port = sock.getsockname()[1]
    assert "idle too long (-i)" in closed_line(server, client_port)


def test_max_conns_counts_tunnels(start_server, echo_target):
    server = proxy(start_server, "socks5", "-m", "1")
    first, rep, _, _ = socks5_connect(server.port, LOOP4, echo_target.port)
    with first:
        assert rep == 0
        with connect(LOOP4, server.port) as second:
            assert recv_until_eof(second) == b""  # closed at once, unread
            second_port = second.getsockname()[1]
        wait_log(server, r"connection from 127\.0\.0\.1:%d refused: 1 client already \(-m\)"
                 % second_port)
        echo_round(first, b"the first is still served")


def test_denied_client_is_closed_unread(start_server):
    server = proxy(start_server, "socks5", "--deny", LOOP4)
    with connect(LOOP4, server.port) as sock:
        assert recv_until_eof(sock) == b""  # closed before a word: no method choice
        client_port = sock.getsockname()[1]
    wait_log(server, r"connection from 127\.0\.0\.1:%d refused: not allowed \(--allow/--deny\)"
             % client_port)


# === 5. start-up: the open-proxy warning, usage errors ==========================================

def first_stderr_line(args, timeout=10):
    """Starts sockcat with `args`, reads its first stderr line (bounded), ends it by PID."""
    proc = subprocess.Popen([SOCKCAT, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=clean_env())
    try:
        readable, _, _ = select.select([proc.stderr], [], [], timeout)
        assert readable, f"{args}: nothing on stderr within {timeout} s"
        return proc.stderr.readline().decode()
    finally:
        stop_process(proc)


@pytest.mark.parametrize("kind", ["socks5", "http"])
def test_open_proxy_warning_without_v(kind):
    line = first_stderr_line(["listen", "-b", LOOP4, "-p", "0", "--proxy-type", kind])
    assert line.startswith("sockcat: warning: ") and OPEN_WARNING in line, line
    assert "anyone who can reach" in line and "--proxy-allow" in line, line


@pytest.mark.parametrize("limit", [["--proxy-allow", LOOP4], ["--proxy-ports", "443"],
                                   ["--allow", LOOP4]])
def test_no_warning_when_restricted(start_server, limit):
    server = proxy(start_server, "socks5", *limit)
    assert OPEN_WARNING not in server.stderr(), server.stderr()


def test_warning_under_v_comes_before_listening(start_server):
    server = proxy(start_server, "http")
    text = server.stderr()
    assert OPEN_WARNING in text and text.index(OPEN_WARNING) < text.index("listening on"), text


@pytest.mark.parametrize("extra, needle", [
    (["--proxy-type", "socks4"], "socks5 or http"),
    (["--proxy-type", "socks4a"], "socks5 or http"),
    (["--proxy-type", "socks5", "-u"], "-u"),
    (["--proxy-type", "socks5", "-e", "/bin/cat"], "--exec"),
    (["--proxy-type", "http", "--stats"], "--stats"),
    (["--proxy-type", "http", "-o", "/dev/null"], "--output"),
    (["--proxy-allow", "127.0.0.1"], "--proxy-allow"),
    (["--proxy-deny", "127.0.0.1"], "--proxy-deny"),
    (["--proxy-ports", "80"], "--proxy-ports"),
    (["--proxy-type", "socks5", "--proxy-ports", "80-x"], "--proxy-ports"),
    (["--proxy-type", "socks5", "--proxy-allow", "10.0.0.0/33"], "--proxy-allow"),
    (["--proxy-type", "socks5", "--proxy-auth", "no-colon"], "--proxy-auth"),
])
def test_usage_errors(extra, needle):
    result = run_sockcat("listen", "-b", LOOP4, "-p", "0", *extra, input=b"", timeout=10,
                         env=clean_env())
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == b""
    assert_one_error_line(result.stderr, needle)


def test_unresolvable_name_in_proxy_allow_ends_the_run():
    """In a network namespace of its own, where a lookup that reaches DNS fails at once (on the
    wildcard address: loopback is down there)."""
    result = run_sockcat_offline("listen", "-p", "0", "--proxy-type", "socks5",
                                 "--proxy-allow", "no-such-host.invalid")
    assert result.returncode == 1, result.stderr
    assert_one_error_line(result.stderr, "--proxy-allow", "no-such-host.invalid")


def test_tls_client_to_a_socks5_server_with_pipelined_data(start_server, echo_target):
    """listen --ssl --proxy-type socks5 with Python's ssl as the client: the handshake inside TLS,
    and the data pipelined behind the request still reaches the target."""
    server = proxy(start_server, "socks5", "--ssl")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    data = b"inside TLS, behind the request"
    with context.wrap_socket(connect(LOOP4, server.port)) as sock:
        sock.sendall(bytes([5, 1, 0]) + socks5_request(LOOP4, echo_target.port) + data)
        assert recv_exact(sock, 2) == b"\x05\x00"
        assert read_socks5_reply(sock)[0] == 0
        assert recv_exact(sock, len(data)) == data
