"""`sockcat connect --proxy` (issue 13 part 1), end to end over loopback, against real proxy
daemons we did not write (helpers_proxy: danted for SOCKS4 and SOCKS5, microsocks for SOCKS5
with a password, tinyproxy for HTTP CONNECT with and without Basic auth, sshd with ssh as the
client) and against a scripted Python proxy where the bytes on the wire must be exact.

Covered: SHA-256 of 1 MiB both ways through danted with socks5 and with socks4 (the name
resolved locally), and through microsocks and tinyproxy; a reply the target sends only after
our EOF; the password from --proxy-auth and from SOCKCAT_PROXY_AUTH (not on the command line);
refusals as one line and exit 1 (a wrong password, no credentials, HTTP 407, a SOCKS5 and a
SOCKS4 reply, SOCKS4a to danted, which lacks it, nothing listening, a proxy that says nothing
within -w, one that hangs up); --proxy-dns local and remote as the proxy sees them; bytes the
target sends at once on accept, right behind the proxy's reply, arriving whole (through each
daemon, and through a scripted proxy that sends its reply and the greeting in ONE write, for
socks4, socks4a, socks5 with each kind of bound address, and http, with the request checked
byte for byte); ssh with sockcat as its ProxyCommand (danted, microsocks with the password
from the environment, and the nc form `-X 5 -x`); TLS end to end through the tunnel (verified
against the name, SNI seen by the target; the wrong name refused with the TLS line, not a proxy
line); `connect -z` through the proxy; `-X connect -x` and `-x` alone still the hex dump;
`listen --forward --proxy`; the default proxy ports; usage errors (exit 2, one line, and no
connection made).

Known limits of the daemons (see helpers_proxy): danted 1.4.2 has no SOCKS4a; tinyproxy and
microsocks do not keep a half-close, so what goes through them is read back before stdin ends.
Every wait has a deadline and every loop a bound; each process is ended by its PID, and a check
after each test fails it if a sockcat or ssh started by it is left."""
import base64
import hashlib
import ipaddress
import os
import random
import re
import secrets
import shlex
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest

from conftest import SOCKCAT, run_sockcat, wait_log, wait_until
import helpers_proxy
import helpers_tls
from helpers_peers import finish, read_until, stop_process
from helpers_proxy import LOOP4, LOOP6, clean_env, loopback_listeners
from helpers_tcp import (accept, assert_one_error_line, background, connect, recv_exact,
                         recv_until_eof, stderr_lines, tcp_listener, unused_port)
from helpers_tls import Session, echo_handler, server_context

# The fixtures, bound in this module so that pytest finds them (an assignment, unlike an
# import that only parameters use, keeps pyflakes quiet).
danted = helpers_proxy.danted
microsocks = helpers_proxy.microsocks
tinyproxy = helpers_proxy.tinyproxy
tinyproxy_open = helpers_proxy.tinyproxy_open
sshd = helpers_proxy.sshd
echo_target = helpers_proxy.echo_target
pki = helpers_tls.pki

MIB = 1024 * 1024
SOCKCAT_PATH = os.path.abspath(SOCKCAT)  # ssh runs its ProxyCommand from another directory


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def env_with(**extra):
    """The environment without any proxy variable (not even an outer SOCKCAT_PROXY_AUTH),
    plus `extra`."""
    env = clean_env()
    env.update(extra)
    return env


def sockcat(*args, input=None, env=None, timeout=30):
    """Runs sockcat to completion with `input` (or /dev/null) on stdin and a clean
    environment; returns the CompletedProcess."""
    stdin = {} if input is not None else {"stdin": subprocess.DEVNULL}
    return run_sockcat(*[str(a) for a in args], input=input, timeout=timeout,
                       env=env or env_with(), **stdin)


def via(proxy, kind, *extra):
    """The --proxy options for a daemon of helpers_proxy, with its credentials if it has
    some."""
    args = ["--proxy", proxy.address, "--proxy-type", kind]
    if proxy.user is not None:
        args += ["--proxy-auth", f"{proxy.user}:{proxy.password}"]
    return args + [str(a) for a in extra]


VERBOSE_CONNECTED = re.compile(r"connected to 127\.0\.0\.1:(\d+) from 127\.0\.0\.1:(\d+)")


def local_port_to(proxy, stderr):
    """sockcat's own port toward `proxy`, from its -v line "connected to PROXY from LOCAL"."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    for match in VERBOSE_CONNECTED.finditer(text):
        if int(match.group(1)) == proxy.port:
            return int(match.group(2))
    raise AssertionError(f"no 'connected to {proxy.address} from ...' line in {text!r}")


def assert_verbose_session(stderr, proxy, kind, host, port, received, sent):
    """The three -v lines of a session through `proxy`, in order, and nothing else."""
    lines = stderr_lines(stderr)
    assert len(lines) == 3, lines
    assert re.fullmatch(r"sockcat: connected to %s from 127\.0\.0\.1:\d+"
                        % re.escape(proxy.address), lines[0]), lines
    assert lines[1] == f"sockcat: proxy {proxy.address} ({kind}): connected to {host} port {port}", \
        lines
    assert re.fullmatch(r"sockcat: connection with %s closed \(received %d bytes?, sent %d\)"
                        % (re.escape(proxy.address), received, sent), lines[2]), lines


def dante_tunnel_from(danted, local_port, target_port, timeout=10):
    """Waits (bounded) for danted's line about the tunnel it opened for the client at
    127.0.0.1:`local_port` to 127.0.0.1:`target_port` (danted writes addresses as
    127.0.0.1.PORT): proof that this very connection went through it."""
    pattern = re.compile(r"pass\(\d+\): tcp/connect \[: 127\.0\.0\.1\.%d 127\.0\.0\.1\.%d -> "
                         r"\S+ 127\.0\.0\.1\.%d$" % (local_port, danted.port, target_port),
                         re.MULTILINE)
    assert wait_until(lambda: pattern.search(danted.log()), timeout=timeout), \
        f"no tunnel from port {local_port} to {target_port} in the danted log:\n{danted.log()}"


def log_after(daemon, mark, needle, timeout=10):
    """Waits (bounded) until `needle` is in the part of the daemon's log written after `mark`
    characters; returns that part."""
    found = wait_until(lambda: needle in daemon.log()[mark:], timeout=timeout)
    assert found, f"{needle!r} not in the {daemon.name} log after {mark}:\n{daemon.log()[mark:]}"
    return daemon.log()[mark:]


def converse(args, data, env=None, expect=None, while_running=None, timeout=30):
    """sockcat `args` as a conversation, for proxies that drop what is in flight once the
    client has half-closed (tinyproxy, microsocks): writes `data` to its stdin, reads its stdout
    until `expect` bytes (default len(data): an echo) came back, calls while_running(proc), and
    only then closes stdin. Returns (status, stdout, stderr); status None: it had to be
    killed."""
    proc = subprocess.Popen([SOCKCAT] + [str(a) for a in args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env or env_with())
    try:
        def send():
            try:
                proc.stdin.write(data)
                proc.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass  # sockcat ended early: the test's assertions say why

        writer = threading.Thread(target=send, daemon=True)
        writer.start()
        want = len(data) if expect is None else expect
        got = read_until(proc.stdout, lambda out: len(out) >= want, timeout=timeout)
        if while_running is not None:
            while_running(proc)
        writer.join(timeout)
        status, rest, stderr = finish(proc, timeout)
        return status, got + (rest or b""), stderr
    finally:
        stop_process(proc)


def child_processes(pid, names):
    """PIDs of live children of `pid` whose command name is in `names` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[1]) == pid and name in names:
            found.append(int(entry))
    return found


@pytest.fixture(autouse=True)
def _no_stray_clients():
    """No sockcat or ssh a test started is left running when it ends (the daemons of the
    module-scoped fixtures are children too, and stay)."""
    yield
    names = {"sockcat", "ssh"}
    gone = wait_until(lambda: not child_processes(os.getpid(), names), timeout=5)
    assert gone, f"left running: {child_processes(os.getpid(), names)}"


# --- Python targets and a scripted proxy ----------------------------------------------------

@pytest.fixture
def one_shot():
    """one_shot(handler) listens on a free port of 127.0.0.1, serves ONE connection with
    handler(conn) on a thread, and returns (port, handle): handle.join() gives the handler's
    result or raises its error. Listeners are closed when the test ends."""
    listeners = []

    def start(handler, timeout=20):
        listener, port = tcp_listener()
        listeners.append(listener)

        def serve():
            conn = accept(listener, timeout)
            try:
                conn.settimeout(timeout)
                return handler(conn)
            finally:
                conn.close()

        return port, background(serve)

    yield start
    for listener in listeners:
        listener.close()


def read_to_eof(conn, limit=64 * MIB):
    parts = []
    total = 0
    while total <= limit:
        chunk = conn.recv(1 << 20)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        total += len(chunk)
    raise AssertionError(f"more than {limit} bytes before EOF")


def read_through(conn, marker, limit=1 << 20):
    """Reads until the bytes so far end with `marker` (at most `limit`); returns them."""
    data = b""
    while not data.endswith(marker):
        assert len(data) <= limit, f"no {marker!r} in {limit} bytes"
        chunk = conn.recv(1)
        assert chunk, f"EOF before {marker!r}; got {data!r}"
        data += chunk
    return data


# Bytes a server sends the moment it accepts, before reading anything (as sshd and SMTP
# servers do). NUL and high bytes included: they must arrive exactly.
GREETING = (b"SSH-2.0-sockcat_greeting_" + secrets.token_hex(8).encode() + b"\r\n"
            + bytes(range(256)) + b"\x00end of greeting\n")


def greet_then_ack(conn):
    """A target that sends GREETING at once, then waits for "bye\\n" and answers "ack\\n"."""
    conn.sendall(GREETING)
    heard = read_through(conn, b"bye\n")
    conn.sendall(b"ack\n")
    return heard


def greeting_session(args, env=None, timeout=20):
    """Runs sockcat `args` against a greet_then_ack target: stdin stays open until the whole
    greeting has come out on stdout (so nothing but the proxy's reply and the greeting can have
    moved), then "bye\\n" is sent, "ack\\n" awaited and stdin closed. Returns (status, stdout
    before "bye", all stdout, stderr)."""
    proc = subprocess.Popen([SOCKCAT] + [str(a) for a in args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env or env_with())
    try:
        first = read_until(proc.stdout, lambda out: len(out) >= len(GREETING), timeout=timeout)
        try:
            proc.stdin.write(b"bye\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        out = read_until(proc.stdout, lambda got: got.endswith(b"ack\n"), timeout=timeout,
                         initial=first)
        status, rest, stderr = finish(proc, timeout)
        return status, first, out + (rest or b""), stderr
    finally:
        stop_process(proc)


class ScriptedProxy:
    """A proxy on 127.0.0.1 written here, for one client: reads the request of `kind`
    (socks4/socks4a, socks5, http) exactly, records it in `request`, answers success and
    GREETING in one single write (so that they reach sockcat in one segment), and then acts as
    the greet_then_ack target. `socks5_bound` picks the address type of the SOCKS5 reply
    (1 IPv4, 3 a name, 4 IPv6): the reply's length depends on it."""

    def __init__(self, one_shot, kind, socks5_bound=1):
        self.kind = kind
        self.socks5_bound = socks5_bound
        self.request = {}
        self.port, self.handle = one_shot(self.serve)

    def serve(self, conn):
        if self.kind in ("socks4", "socks4a"):
            reply = self.socks4(conn)
        elif self.kind == "socks5":
            reply = self.socks5(conn)
        else:
            reply = self.http(conn)
        conn.sendall(reply + GREETING)
        self.request["after"] = read_through(conn, b"bye\n")
        conn.sendall(b"ack\n")
        return self.request

    def socks4(self, conn):
        version, command, port, address = struct.unpack("!BBH4s", recv_exact(conn, 8))
        self.request.update(version=version, command=command, port=port,
                            address=str(ipaddress.IPv4Address(address)),
                            user=read_through(conn, b"\0")[:-1])
        if address[:3] == b"\0\0\0" and address[3] != 0:  # SOCKS4a: a name follows
            self.request["name"] = read_through(conn, b"\0")[:-1]
        return b"\x00\x5a" + struct.pack("!H", 0) + bytes(4)

    def socks5(self, conn):
        version, count = recv_exact(conn, 2)
        self.request.update(version=version, methods=recv_exact(conn, count))
        conn.sendall(b"\x05\x00")
        version, command, reserved, kind = recv_exact(conn, 4)
        self.request.update(command=command, reserved=reserved, address_type=kind)
        if kind == 1:
            self.request["address"] = str(ipaddress.IPv4Address(recv_exact(conn, 4)))
        elif kind == 3:
            self.request["name"] = recv_exact(conn, recv_exact(conn, 1)[0])
        else:
            self.request["address"] = str(ipaddress.IPv6Address(recv_exact(conn, 16)))
        self.request["port"] = struct.unpack("!H", recv_exact(conn, 2))[0]
        bound = {1: b"\x01\x7f\x00\x00\x01",
                 3: b"\x03\x0dbound.example",
                 4: b"\x04" + ipaddress.IPv6Address("2001:db8::1").packed}[self.socks5_bound]
        return b"\x05\x00\x00" + bound + struct.pack("!H", 4242)

    def http(self, conn):
        self.request["head"] = read_through(conn, b"\r\n\r\n", limit=16384)
        return (b"HTTP/1.1 200 Connection established\r\n"
                b"Proxy-Agent: scripted\r\nX-Padding: " + b"p" * 300 + b"\r\n\r\n")


class DualStackTlsTarget:
    """A TLS echo server (helpers_tls.echo_handler) on 127.0.0.1 and ::1 at one port, so that
    the name `localhost` reaches it whichever address the proxy resolves it to. `sessions` and
    `server_names` (the SNI of each handshake) are recorded."""

    def __init__(self, credential):
        self.ctx = server_context(credential)
        self.server_names = []
        self.sessions = []
        self.ctx.sni_callback = lambda sslobj, name, ctx: self.server_names.append(name)
        self.sockets, self.port = loopback_listeners()
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self._accept_loop, args=(sock,), daemon=True)
                        for sock in self.sockets]
        for sock in self.sockets:
            sock.settimeout(0.2)  # so that stop() is seen within 0.2 s
        for thread in self.threads:
            thread.start()

    def _accept_loop(self, listener):
        while not self._stop.is_set():
            try:
                raw, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            session = Session()
            self.sessions.append(session)
            threading.Thread(target=self._serve, args=(raw, session), daemon=True).start()

    def _serve(self, raw, session):
        try:
            raw.settimeout(20)
            try:
                conn = self.ctx.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
            except (ssl.SSLError, OSError) as error:
                session.handshake_error = str(error) or type(error).__name__
                return
            session.version = conn.version()
            try:
                echo_handler(conn, session)
            except (ssl.SSLError, OSError) as error:
                session.ending = session.ending or str(error)
            finally:
                conn.close()
        finally:
            raw.close()
            session.done.set()

    def wait_session(self, timeout=20):
        assert wait_until(lambda: self.sessions, timeout=timeout), "no client reached the target"
        assert self.sessions[0].done.wait(timeout), "the TLS session never ended"
        return self.sessions[0]

    def stop(self):
        self._stop.set()
        for sock in self.sockets:
            sock.close()
        for thread in self.threads:
            thread.join(5)


@pytest.fixture
def tls_target():
    started = []

    def start(credential):
        target = DualStackTlsTarget(credential)
        started.append(target)
        return target

    yield start
    for target in started:
        target.stop()


# --- 1. data through danted -----------------------------------------------------------------

@pytest.mark.parametrize("kind,host,extra", [
    ("socks5", LOOP4, []),
    ("socks4", "localhost", ["--proxy-dns", "local"]),
])
def test_one_mib_both_ways_through_danted(danted, echo_target, kind, host, extra):
    data = random.Random(1301).randbytes(MIB)
    result = sockcat("connect", "-v", *via(danted, kind, *extra), host, echo_target.port,
                     input=data)
    assert result.returncode == 0, (result.stderr, danted.log()[-3000:])
    assert len(result.stdout) == MIB and sha256(result.stdout) == sha256(data)
    assert_verbose_session(result.stderr, danted, kind, host, echo_target.port, MIB, MIB)
    dante_tunnel_from(danted, local_port_to(danted, result.stderr), echo_target.port)


def test_reply_after_our_eof_through_danted_socks5(danted, one_shot):
    """The target reads to our EOF and only then answers (with the hash of what it read and
    256 KiB more): the half-close goes through the proxy and sockcat waits for the reply."""
    data = random.Random(1302).randbytes(MIB)
    tail = random.Random(1303).randbytes(256 * 1024)

    def reply_after_eof(conn):
        received = read_to_eof(conn)
        conn.sendall(sha256(received).encode() + b"\n" + tail)
        return received

    port, handle = one_shot(reply_after_eof)
    result = sockcat("connect", "-v", *via(danted, "socks5"), LOOP4, port, input=data)
    received = handle.join()
    assert sha256(received) == sha256(data), len(received)
    assert result.returncode == 0, result.stderr
    assert result.stdout == sha256(data).encode() + b"\n" + tail, len(result.stdout)
    assert_verbose_session(result.stderr, danted, "socks5", LOOP4, port,
                           len(result.stdout), MIB)


# --- 2. microsocks: username and password ---------------------------------------------------

def test_proxy_auth_through_microsocks(microsocks, echo_target):
    mark = len(microsocks.log())
    data = random.Random(1304).randbytes(MIB)
    status, out, err = converse(["connect", "-v", *via(microsocks, "socks5"), LOOP4,
                                 echo_target.port], data)
    assert status == 0, (err, microsocks.log()[mark:])
    assert sha256(out) == sha256(data), len(out)
    assert f"proxy {microsocks.address} (socks5): connected to {LOOP4} port {echo_target.port}" \
        in err.decode(), err
    log_after(microsocks, mark, f"connected to {LOOP4}:{echo_target.port}")


def test_password_from_the_environment_through_microsocks(microsocks, echo_target):
    """SOCKCAT_PROXY_AUTH gives USER:PASS when --proxy-auth is absent: the password is not in
    sockcat's command line (checked in /proc while the session runs) yet the login works."""
    mark = len(microsocks.log())
    data = b"password from the environment\n" * 100
    env = env_with(SOCKCAT_PROXY_AUTH=f"{microsocks.user}:{microsocks.password}")
    seen = {}

    def look(proc):
        with open(f"/proc/{proc.pid}/cmdline", "rb") as cmdline:
            seen["cmdline"] = cmdline.read()

    args = ["connect", "-v", "--proxy", microsocks.address, "--proxy-type", "socks5", LOOP4,
            echo_target.port]
    status, out, err = converse(args, data, env=env, while_running=look)
    assert status == 0, (err, microsocks.log()[mark:])
    assert out == data
    assert seen["cmdline"] and microsocks.password.encode() not in seen["cmdline"]
    assert b"--proxy-auth" not in seen["cmdline"]
    log_after(microsocks, mark, f"connected to {LOOP4}:{echo_target.port}")


def test_an_exec_child_through_the_proxy_is_not_given_the_password(microsocks, one_shot):
    """SOCKCAT_PROXY_AUTH is for sockcat: `-e env` through the proxy shows the far side every
    variable of the child's but that one (the far side may be who the password keeps out)."""
    port, handle = one_shot(read_to_eof)
    env = env_with(SOCKCAT_PROXY_AUTH=f"{microsocks.user}:{microsocks.password}")
    result = sockcat("connect", "--proxy", microsocks.address, "-X", "5", "-e", "/usr/bin/env",
                     LOOP4, port, input=b"", env=env)
    assert result.returncode == 0, result
    seen = handle.join(20)
    assert b"\nSOCKCAT_PROTO=tcp\n" in seen, seen  # the child's environment arrived
    assert b"SOCKCAT_PROXY_AUTH" not in seen and microsocks.password.encode() not in seen, seen


def test_wrong_password_is_one_line(microsocks, echo_target):
    before = echo_target.connections
    result = sockcat("connect", "--proxy", microsocks.address, "--proxy-type", "socks5",
                     "--proxy-auth", f"{microsocks.user}:wrong-{microsocks.password}", LOOP4,
                     echo_target.port, input=b"never sent\n")
    assert result.returncode == 1 and result.stdout == b"", result
    line = assert_one_error_line(result.stderr)
    assert line == f"sockcat: proxy {microsocks.address}: SOCKS5 proxy: username/password refused"
    assert echo_target.connections == before


def test_wrong_password_from_the_environment_is_refused(microsocks, echo_target):
    result = sockcat("connect", "--proxy", microsocks.address, "-X", "5", LOOP4,
                     echo_target.port, input=b"never sent\n",
                     env=env_with(SOCKCAT_PROXY_AUTH=f"{microsocks.user}:not-it"))
    assert result.returncode == 1 and result.stdout == b"", result
    assert_one_error_line(result.stderr, f"proxy {microsocks.address}:", "username/password refused")


def test_no_credentials_no_acceptable_method(microsocks, echo_target):
    result = sockcat("connect", "--proxy", microsocks.address, "--proxy-type", "socks5", LOOP4,
                     echo_target.port, input=b"never sent\n")
    assert result.returncode == 1 and result.stdout == b"", result
    assert_one_error_line(result.stderr, f"sockcat: proxy {microsocks.address}: SOCKS5 proxy:",
                          "no acceptable authentication method")


# --- 3. tinyproxy: HTTP CONNECT -------------------------------------------------------------

def test_http_with_basic_auth_through_tinyproxy(tinyproxy, echo_target):
    mark = len(tinyproxy.log())
    data = random.Random(1305).randbytes(MIB)
    status, out, err = converse(["connect", "-v", *via(tinyproxy, "http"), LOOP4,
                                 echo_target.port], data)
    assert status == 0, (err, tinyproxy.log()[mark:])
    assert sha256(out) == sha256(data), len(out)
    assert f"proxy {tinyproxy.address} (http): connected to {LOOP4} port {echo_target.port}" \
        in err.decode(), err
    log_after(tinyproxy, mark, f"CONNECT {LOOP4}:{echo_target.port} ")


def test_http_is_the_default_type_and_the_password_may_come_from_the_environment(
        tinyproxy, echo_target):
    data = b"no --proxy-type, no --proxy-auth\n"
    env = env_with(SOCKCAT_PROXY_AUTH=f"{tinyproxy.user}:{tinyproxy.password}")
    status, out, err = converse(["connect", "-v", "--proxy", tinyproxy.address, LOOP4,
                                 echo_target.port], data, env=env)
    assert status == 0, err
    assert out == data
    assert f"(http): connected to {LOOP4} port {echo_target.port}" in err.decode(), err


def test_http_without_auth_gets_407(tinyproxy, echo_target):
    before = echo_target.connections
    result = sockcat("connect", "--proxy", tinyproxy.address, LOOP4, echo_target.port,
                     input=b"never sent\n")
    assert result.returncode == 1 and result.stdout == b"", result
    line = assert_one_error_line(result.stderr, f"proxy {tinyproxy.address}: HTTP proxy: HTTP/1.")
    assert re.search(r"HTTP/1\.[01] 407 Proxy Authentication Required$", line), line
    assert echo_target.connections == before


def test_http_with_a_wrong_password_gets_the_status_line(tinyproxy, echo_target):
    """tinyproxy 1.11 answers wrong credentials with 401 (407 is for none at all)."""
    result = sockcat("connect", "--proxy", tinyproxy.address, "--proxy-auth",
                     f"{tinyproxy.user}:wrong", LOOP4, echo_target.port, input=b"x\n")
    assert result.returncode == 1 and result.stdout == b"", result
    line = assert_one_error_line(result.stderr, f"proxy {tinyproxy.address}: HTTP proxy: HTTP/1.")
    assert re.search(r" 40[17] ", line), line


def test_http_through_open_tinyproxy(tinyproxy_open, echo_target):
    mark = len(tinyproxy_open.log())
    data = random.Random(1306).randbytes(300_000)
    status, out, err = converse(["connect", "-v", "--proxy", tinyproxy_open.address, LOOP4,
                                 echo_target.port], data)
    assert status == 0, (err, tinyproxy_open.log()[mark:])
    assert sha256(out) == sha256(data), len(out)
    log_after(tinyproxy_open, mark, f"CONNECT {LOOP4}:{echo_target.port} ")


def test_http_refused_destination_is_the_403_line(tinyproxy, echo_target):
    """0.0.0.0 is outside tinyproxy's filter: its 403 status line is the refusal."""
    result = sockcat("connect", *via(tinyproxy, "http"), "0.0.0.0", echo_target.port,
                     input=b"x\n")
    assert result.returncode == 1 and result.stdout == b"", result
    assert_one_error_line(result.stderr, f"proxy {tinyproxy.address}: HTTP proxy: HTTP/1.", " 403 ")


# --- 4. bytes right behind the proxy's reply ------------------------------------------------

@pytest.mark.parametrize("daemon,kind", [("danted", "socks5"), ("microsocks", "socks5"),
                                         ("tinyproxy", "http")])
def test_greeting_sent_on_accept_arrives_whole(request, one_shot, daemon, kind):
    """The target greets the moment it accepts, before reading a byte; stdin is held open (and
    empty) until the whole greeting has come out, so the greeting cannot be the answer to
    anything sockcat sent: it follows the proxy's reply, and must not be lost with it."""
    proxy = request.getfixturevalue(daemon)
    port, handle = one_shot(greet_then_ack)
    status, first, out, err = greeting_session(["connect", *via(proxy, kind), LOOP4, port])
    assert first == GREETING, (first, err, proxy.log()[-2000:])
    assert out == GREETING + b"ack\n", (out, err)
    assert status == 0, err
    assert err == b""
    assert handle.join() == b"bye\n"


@pytest.mark.parametrize("kind,host,extra,expected", [
    ("socks4", LOOP4, [],
     {"version": 4, "command": 1, "address": LOOP4, "user": b""}),
    ("socks4", LOOP4, ["--proxy-auth", "alice:unused"],
     {"version": 4, "command": 1, "address": LOOP4, "user": b"alice"}),
    ("socks4", "localhost", [],  # socks4 resolves here: an address goes out
     {"version": 4, "command": 1, "address": LOOP4, "user": b""}),
    ("socks4a", "target.invalid", [],  # the name goes out unresolved
     {"version": 4, "command": 1, "address": "0.0.0.1", "name": b"target.invalid"}),
    ("socks5", "target.invalid", [],
     {"version": 5, "methods": b"\x00", "command": 1, "reserved": 0, "address_type": 3,
      "name": b"target.invalid"}),
    ("socks5", LOOP4, [],
     {"version": 5, "command": 1, "address_type": 1, "address": LOOP4}),
    ("socks5", "localhost", ["--proxy-dns", "local", "-4"],
     {"version": 5, "command": 1, "address_type": 1, "address": LOOP4}),
    ("socks5", LOOP6, [],
     {"version": 5, "command": 1, "address_type": 4, "address": LOOP6}),
], ids=["socks4", "socks4-userid", "socks4-local-dns", "socks4a-name", "socks5-name",
        "socks5-ipv4", "socks5-local-dns", "socks5-ipv6"])
def test_scripted_proxy_request_and_greeting_in_the_reply_segment(one_shot, kind, host, extra,
                                                                    expected):
    """The proxy's success reply and the target's greeting leave in ONE write: whatever
    arrives in the same read as the reply belongs to the session. The request is checked
    field by field (the port too)."""
    proxy = ScriptedProxy(one_shot, kind)
    target_port = 4000 + random.Random(kind + host).randrange(20000)
    status, first, out, err = greeting_session(
        ["connect", "--proxy", f"{LOOP4}:{proxy.port}", "--proxy-type", kind, *extra, host,
         target_port])
    seen = proxy.handle.join()
    for key, value in expected.items():
        assert seen.get(key) == value, (key, seen, err)
    assert seen["port"] == target_port, seen
    assert first == GREETING, (first, err)
    assert out == GREETING + b"ack\n" and status == 0 and err == b"", (out, status, err)


@pytest.mark.parametrize("bound", [1, 3, 4], ids=["ipv4", "name", "ipv6"])
def test_scripted_socks5_reply_of_every_length_then_greeting(one_shot, bound):
    """A SOCKS5 reply is 10, 4+1+13+2 or 22 bytes long by its bound address type: each is read
    to its exact end, and the greeting behind it is whole."""
    proxy = ScriptedProxy(one_shot, "socks5", socks5_bound=bound)
    status, first, out, err = greeting_session(
        ["connect", "-v", "--proxy", f"{LOOP4}:{proxy.port}", "-X", "5", "target.invalid",
         "7"])
    proxy.handle.join()
    assert first == GREETING, (first, err)
    assert out == GREETING + b"ack\n" and status == 0, (out, status, err)
    assert f"proxy {LOOP4}:{proxy.port} (socks5): connected to target.invalid port 7" \
        in err.decode(), err


def test_scripted_http_request_is_exact_with_basic_auth(one_shot):
    proxy = ScriptedProxy(one_shot, "http")
    status, first, out, err = greeting_session(
        ["connect", "--proxy", f"{LOOP4}:{proxy.port}", "--proxy-auth", "alice:s3cr:t",
         "target.invalid", "8443"])
    head = proxy.handle.join()["head"]
    lines = head.split(b"\r\n")
    assert lines[0] == b"CONNECT target.invalid:8443 HTTP/1.1", head
    assert b"Host: target.invalid:8443" in lines, head
    assert b"Proxy-Authorization: Basic " + base64.b64encode(b"alice:s3cr:t") in lines, head
    assert first == GREETING, (first, err)
    assert out == GREETING + b"ack\n" and status == 0 and err == b"", (out, status, err)


# --- 5. ssh with sockcat as its ProxyCommand ------------------------------------------------

def run_ssh_env(sshd, proxy_command, env, command=("echo", "ok"), input=None, timeout=30):
    """ssh to the sshd fixture with ProxyCommand=`proxy_command` and environment `env` (the
    ProxyCommand inherits it), in a session of its own; returns the CompletedProcess."""
    argv = sshd.ssh_argv(["-o", f"ProxyCommand={proxy_command}"], command)
    stdin = {} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(argv, input=input, capture_output=True, timeout=timeout, env=env,
                          start_new_session=True, **stdin)


def test_ssh_proxy_command_through_danted(sshd, danted):
    command = (f"{shlex.quote(SOCKCAT_PATH)} connect --proxy {danted.address} "
               f"--proxy-type socks5 %h %p")
    data = random.Random(1307).randbytes(MIB)
    result = run_ssh_env(sshd, command, env_with(), command=["sha256sum"], input=data)
    assert result.returncode == 0, (result.stderr, sshd.log()[-2000:], danted.log()[-2000:])
    assert result.stdout.split()[0].decode() == sha256(data)
    result = run_ssh_env(sshd, command, env_with())
    assert (result.returncode, result.stdout) == (0, b"ok\n"), result.stderr


def test_ssh_proxy_command_through_microsocks_password_from_environment(sshd, microsocks):
    mark = len(microsocks.log())
    command = (f"{shlex.quote(SOCKCAT_PATH)} connect --proxy {microsocks.address} "
               f"--proxy-type socks5 %h %p")
    assert microsocks.password not in command
    env = env_with(SOCKCAT_PROXY_AUTH=f"{microsocks.user}:{microsocks.password}")
    result = run_ssh_env(sshd, command, env)
    assert (result.returncode, result.stdout) == (0, b"ok\n"), \
        (result.stderr, microsocks.log()[mark:])
    log_after(microsocks, mark, f"connected to {LOOP4}:{sshd.port}")
    # Without the variable the same command is refused by microsocks: ssh gets nothing.
    result = run_ssh_env(sshd, command, env_with())
    assert result.returncode == 255 and result.stdout == b"", result
    assert b"no acceptable authentication method" in result.stderr, result.stderr


def test_ssh_proxy_command_nc_form_through_danted(sshd, danted):
    command = f"{shlex.quote(SOCKCAT_PATH)} -X 5 -x {danted.address} %h %p"
    result = run_ssh_env(sshd, command, env_with())
    assert (result.returncode, result.stdout) == (0, b"ok\n"), (result.stderr, danted.log()[-2000:])
    assert wait_until(lambda: re.search(r"pass\(\d+\): tcp/connect \[: .* -> \S+ 127\.0\.0\.1\.%d$"
                                        % sshd.port, danted.log(), re.MULTILINE)), danted.log()


# --- 6. TLS end to end ----------------------------------------------------------------------

def test_tls_end_to_end_through_danted(danted, pki, tls_target):
    target = tls_target(pki.good)
    data = random.Random(1308).randbytes(256 * 1024)
    result = sockcat("connect", "-v", "--ssl", "--ssl-trustfile", pki.ca,
                     *via(danted, "socks5"), "localhost", target.port, input=data)
    assert result.returncode == 0, (result.stderr, danted.log()[-2000:])
    assert sha256(result.stdout) == sha256(data), len(result.stdout)
    text = result.stderr.decode()
    assert f"proxy {danted.address} (socks5): connected to localhost port {target.port}" in text
    assert f"TLS with localhost port {target.port}: " in text
    assert "certificate verified for localhost" in text, text
    session = target.wait_session()
    assert session.ending == "close_notify" and session.received == b"%d" % len(data), session
    assert target.server_names == ["localhost"]  # the SNI went through the tunnel


def test_tls_wrong_name_through_danted_is_the_tls_line(danted, pki, tls_target):
    target = tls_target(pki.wrong_name)
    result = sockcat("connect", "--ssl", "--ssl-trustfile", pki.ca, *via(danted, "socks5"),
                     "localhost", target.port, input=b"never sent\n")
    assert result.returncode == 1 and result.stdout == b"", result
    line = assert_one_error_line(result.stderr, "does not match", "wrong.example", "localhost")
    assert not line.startswith("sockcat: proxy "), line
    assert target.wait_session().handshake_error, "the target finished a handshake"


# --- 7. refusals ----------------------------------------------------------------------------

def test_socks5_to_a_closed_port_names_the_proxy_and_the_reply(danted):
    closed = unused_port()
    result = sockcat("connect", *via(danted, "socks5"), LOOP4, closed, input=b"x\n")
    assert result.returncode == 1 and result.stdout == b"", result
    line = assert_one_error_line(result.stderr)
    assert line == f"sockcat: proxy {danted.address}: SOCKS5 reply: connection refused", line


def test_socks4_to_a_closed_port_names_the_proxy_and_the_reply(danted):
    result = sockcat("connect", *via(danted, "socks4"), LOOP4, unused_port(), input=b"x\n")
    assert result.returncode == 1 and result.stdout == b"", result
    assert_one_error_line(result.stderr, f"sockcat: proxy {danted.address}: SOCKS4 reply: ",
                          "rejected or failed")


def test_socks4a_name_refused_by_danted(danted, echo_target):
    """danted 1.4.2 reads SOCKS4a as SOCKS4 to 0.0.0.1 and refuses: the refusal line, and
    danted's block line for 0.0.0.1 shows that sockcat sent the name the 4a way."""
    before = echo_target.connections
    result = sockcat("connect", *via(danted, "socks4a"), "localhost", echo_target.port,
                     input=b"x\n")
    assert result.returncode == 1 and result.stdout == b"", result
    assert_one_error_line(result.stderr, f"sockcat: proxy {danted.address}: SOCKS4 reply: ")
    pattern = re.compile(r"block\(\d+\): tcp/connect \]: .*\b0\.0\.0\.1\.%d\b" % echo_target.port)
    assert wait_until(lambda: pattern.search(danted.log())), danted.log()[-2000:]
    assert echo_target.connections == before


def test_nothing_listening_on_the_proxy_port():
    port = unused_port()
    result = sockcat("connect", "--proxy", f"{LOOP4}:{port}", "-X", "5", LOOP4, "9",
                     input=b"x\n")
    assert result.returncode == 1 and result.stdout == b"", result
    assert_one_error_line(result.stderr, f"connect to {LOOP4} port {port}", "refused")


@pytest.mark.parametrize("kind", ["socks4", "socks5", "http"])
def test_proxy_that_says_nothing_is_given_up_after_w(kind):
    """The kernel completes the TCP handshake for the listener's backlog, but nobody answers:
    -w 300ms bounds the proxy's handshake too."""
    listener, port = tcp_listener()
    try:
        start = time.monotonic()
        result = sockcat("connect", "-w", "300ms", "--proxy", f"{LOOP4}:{port}", "-X", kind,
                         LOOP4, "9", input=b"x\n", timeout=20)
        elapsed = time.monotonic() - start
    finally:
        listener.close()
    assert result.returncode == 1 and result.stdout == b"", result
    assert_one_error_line(result.stderr, f"sockcat: proxy {LOOP4}:{port}: ", "no answer in time")
    assert 0.25 <= elapsed < 5, elapsed


@pytest.mark.parametrize("kind", ["socks4", "socks5", "http"])
def test_proxy_that_hangs_up_is_one_line(one_shot, kind):
    def read_request_then_close(conn):
        return conn.recv(4096)  # the whole request is one write; then a clean close

    port, handle = one_shot(read_request_then_close)
    result = sockcat("connect", "--proxy", f"{LOOP4}:{port}", "-X", kind, LOOP4, "9",
                     input=b"x\n")
    assert handle.join(), "the proxy received no request"
    assert result.returncode == 1 and result.stdout == b"", result
    assert_one_error_line(result.stderr, f"sockcat: proxy {LOOP4}:{port}: ",
                          "closed the connection")


@pytest.mark.parametrize("kind,port", [("socks5", 1080), ("socks4", 1080), ("http", 3128)])
def test_default_proxy_port(kind, port):
    """Without :PORT the proxy is at 1080 (SOCKS) or 3128 (HTTP). Whatever is there (most
    likely nothing), the one line names that port."""
    result = sockcat("connect", "-w", "2s", "--proxy", LOOP4, "-X", kind, LOOP4,
                     unused_port(), input=b"x\n")
    assert result.returncode == 1 and result.stdout == b"", result
    line = assert_one_error_line(result.stderr)
    assert f"{LOOP4} port {port}:" in line or f"proxy {LOOP4}:{port}:" in line, line


# --- --proxy-dns ----------------------------------------------------------------------------

@pytest.mark.parametrize("where,logged", [("remote", "localhost"), ("local", LOOP4)])
def test_proxy_dns_as_microsocks_sees_it(microsocks, echo_target, where, logged):
    mark = len(microsocks.log())
    args = ["connect", "-4", *via(microsocks, "socks5"), "--proxy-dns", where, "localhost",
            echo_target.port]
    status, out, err = converse(args, b"who resolves\n")
    assert status == 0 and out == b"who resolves\n", err
    part = log_after(microsocks, mark, f"connected to {logged}:{echo_target.port}")
    if where == "local":
        assert "localhost" not in part, part


# --- 8. -z through the proxy ----------------------------------------------------------------

def test_zero_io_through_danted(danted, echo_target):
    closed = unused_port()
    before = echo_target.connections
    result = sockcat("connect", "-v", "-z", *via(danted, "socks5"), LOOP4,
                     f"{echo_target.port},{closed}")
    assert result.returncode == 0, result.stderr
    text = result.stderr.decode()
    assert f"sockcat: {LOOP4} port {echo_target.port}: open" in text.splitlines(), text
    assert f"sockcat: {LOOP4} port {closed}: SOCKS5 reply: connection refused" \
        in text.splitlines(), text
    assert text.index(f"port {echo_target.port}: open") < text.index(f"port {closed}:"), text
    assert wait_until(lambda: echo_target.connections == before + 1), echo_target.connections
    only_closed = sockcat("connect", "-z", *via(danted, "socks5"), LOOP4, closed)
    assert only_closed.returncode == 1, only_closed
    assert only_closed.stdout == b""


# --- the nc form ----------------------------------------------------------------------------

def test_nc_form_connect_through_open_tinyproxy(tinyproxy_open, echo_target):
    mark = len(tinyproxy_open.log())
    data = b"nc form, -X connect\n" * 50
    status, out, err = converse(["-X", "connect", "-x", tinyproxy_open.address, LOOP4,
                                 echo_target.port], data)
    assert status == 0 and out == data, err
    log_after(tinyproxy_open, mark, f"CONNECT {LOOP4}:{echo_target.port} ")


def test_nc_form_x_without_capital_x_is_still_the_hex_dump(echo_target, tmp_path):
    dump = tmp_path / "dump.hex"
    before = echo_target.connections
    result = sockcat("-x", dump, LOOP4, echo_target.port, input=b"hex dump\n")
    assert result.returncode == 0 and result.stdout == b"hex dump\n", result
    text = dump.read_text()
    assert "68 65 78" in text, text  # "hex"
    assert wait_until(lambda: echo_target.connections == before + 1)


# --- 9. listen --forward through a proxy ----------------------------------------------------

def test_forward_through_danted(start_server, danted, echo_target):
    server = start_server("listen", "-b", LOOP4, "-p", "0", "-v", "--forward",
                          f"{LOOP4}:{echo_target.port}", "--proxy", danted.address,
                          "--proxy-type", "socks5")
    data = random.Random(1309).randbytes(300_000)
    client = connect(LOOP4, server.port)
    try:
        client_port = client.getsockname()[1]
        client.sendall(data)
        client.shutdown(socket.SHUT_WR)
        echoed = recv_until_eof(client, timeout=20)
    finally:
        client.close()
    assert sha256(echoed) == sha256(data), len(echoed)
    wait_log(server, r"proxy %s \(socks5\): connected to 127\.0\.0\.1 port %d"
             % (re.escape(danted.address), echo_target.port))
    wait_log(server, r"connection from 127\.0\.0\.1:%d closed \(received %d bytes, sent %d\)"
             % (client_port, len(data), len(data)))
    dante_tunnel_from(danted, local_port_to(danted, server.stderr()), echo_target.port)


def test_forward_through_a_refusing_proxy_closes_the_client_and_goes_on(start_server,
                                                                       microsocks, echo_target):
    """No credentials: microsocks refuses the forwarder's tunnel; that client is closed with
    nothing, a -v line names the refusal, and the forwarder serves the next client."""
    server = start_server("listen", "-b", LOOP4, "-p", "0", "-v", "--forward",
                          f"{LOOP4}:{echo_target.port}", "--proxy", microsocks.address,
                          "--proxy-type", "socks5", "--proxy-auth", "nobody:wrong")
    for _ in range(2):
        client = connect(LOOP4, server.port)
        try:
            client.sendall(b"refused\n")
            assert recv_until_eof(client, timeout=10) == b""
        except ConnectionResetError:
            pass  # closed with our bytes unread: a reset is a close too
        finally:
            client.close()
    wait_log(server, r"username/password refused", count=2)
    assert server.proc.poll() is None, server.stderr()


# --- 10. usage errors -----------------------------------------------------------------------

USAGE_ERRORS = [
    (["connect", "-u", "--proxy", "{proxy}", LOOP4, "9"], "--proxy"),
    (["connect", "-U", "/tmp/sockcat-proxy-no-such-socket", "--proxy", "{proxy}"], "-U"),
    (["connect", "--proxy-type", "socks5", LOOP4, "{port}"], "--proxy-type needs --proxy"),
    (["connect", "--proxy-auth", "a:b", LOOP4, "{port}"], "--proxy-auth needs --proxy"),
    (["connect", "--proxy-dns", "local", LOOP4, "{port}"], "--proxy-dns needs --proxy"),
    (["connect", "--proxy", "{proxy}", "--proxy-type", "socks9", LOOP4, "9"], "socks9"),
    (["connect", "--proxy", "{proxy}", "-X", "6", LOOP4, "9"], "--proxy-type"),
    (["connect", "--proxy", "{proxy}", "-X", "socks4", "--proxy-dns", "remote", LOOP4, "9"],
     "socks4a"),
    (["connect", "--proxy", "{proxy}", "--proxy-dns", "nowhere", LOOP4, "9"], "nowhere"),
    (["connect", "--proxy", "127.0.0.1:99999", LOOP4, "9"], "99999"),
    (["connect", "--proxy", "", LOOP4, "9"], "--proxy"),
    (["connect", "--proxy", "[::1", LOOP4, "9"], "--proxy"),
    (["listen", "-p", "0", "--proxy", "{proxy}"], "--forward"),
]


def test_usage_errors_are_one_line_exit_2_and_connect_nowhere():
    listener, port = tcp_listener()
    try:
        for template, needle in USAGE_ERRORS:
            args = [word.format(proxy=f"{LOOP4}:{port}", port=port) for word in template]
            result = sockcat(*args, timeout=10)
            assert result.returncode == 2, (args, result)
            assert result.stdout == b"", (args, result.stdout)
            assert_one_error_line(result.stderr, needle)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # none of them connected to the would-be proxy
    finally:
        listener.close()
