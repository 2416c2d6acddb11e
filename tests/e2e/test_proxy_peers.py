"""The proxy daemons of helpers_proxy (danted, microsocks, tinyproxy, sshd) and its loopback
targets, proven with clients we did not write (curl, OpenBSD nc, ssh) before sockcat's own
proxy client and server are tested against them (issue 13): each fixture tunnels what it should,
refuses what it should (wrong or missing credentials, destinations off loopback), listens on
loopback only, and leaves no process behind when stopped."""
import hashlib
import random
import re
import socket
import subprocess

import pytest

from conftest import wait_until
import helpers_proxy
from helpers_proxy import (LOOP4, LOOP6, descendants, keygen, listening_addresses, nc_exchange,
                           nc_proxy_command, run_curl, run_nc_through, run_ssh, still_running)

# The fixtures, bound in this module so that pytest finds them (an assignment, unlike an
# import that only parameters use, keeps pyflakes quiet).
danted = helpers_proxy.danted
microsocks = helpers_proxy.microsocks
tinyproxy = helpers_proxy.tinyproxy
tinyproxy_open = helpers_proxy.tinyproxy_open
sshd = helpers_proxy.sshd
echo_target = helpers_proxy.echo_target
http_target = helpers_proxy.http_target
private_daemons = helpers_proxy.private_daemons


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def in_log(daemon, needle, timeout=10):
    """Waits (bounded) until `needle` is in the daemon's log: daemons log asynchronously."""
    assert wait_until(lambda: needle in daemon.log(), timeout=timeout), \
        f"{needle!r} not in the {daemon.name} log:\n{daemon.log()}"


def dante_tunnel_logged(danted, host, port, timeout=10):
    """Waits (bounded) for danted's line about a tunnel it opened to HOST:PORT:
    `pass(N): tcp/connect [: CLIENT PROXY -> SOURCE TARGET`, addresses as 127.0.0.1.8080."""
    pattern = re.compile(r"pass\(\d+\): tcp/connect \[: .* -> \S+ %s$"
                         % re.escape(f"{host}.{port}"), re.MULTILINE)
    assert wait_until(lambda: pattern.search(danted.log()), timeout=timeout), \
        f"no tunnel to {host}:{port} in the danted log:\n{danted.log()}"


def dante_block_logged(danted, host, port, timeout=10):
    """Waits (bounded) for danted's line refusing a request to HOST:PORT (`block(N):
    tcp/connect ]: ...`; the readiness probe's `block(N): tcp/accept` lines do not count)."""
    pattern = re.compile(r"block\(\d+\): tcp/connect \]: .*\b%s\b"
                         % re.escape(f"{host}.{port}"))
    assert wait_until(lambda: pattern.search(danted.log()), timeout=timeout), \
        f"no refusal of {host}:{port} in the danted log:\n{danted.log()}"


# --- danted ---------------------------------------------------------------------------------

def test_curl_socks5_hostname_through_danted(danted, http_target):
    result, code, _ = run_curl("--socks5-hostname", danted.address, http_target.url())
    assert result.returncode == 0 and code == 200, (result.stderr, danted.log())
    assert result.stdout == http_target.body
    dante_tunnel_logged(danted, LOOP4, http_target.port)


def test_curl_socks5_name_resolved_by_danted(danted, http_target):
    """--socks5-hostname sends the name itself; danted resolves `localhost` (to 127.0.0.1 or
    ::1, the target listens on both)."""
    result, code, _ = run_curl("--socks5-hostname", danted.address,
                               http_target.url(host="localhost"))
    assert result.returncode == 0 and code == 200, (result.stderr, danted.log())
    assert result.stdout == http_target.body


def test_curl_socks5_to_ipv6_loopback_through_danted(danted, http_target):
    if LOOP6 not in http_target.hosts:
        pytest.skip("::1 cannot be bound here")
    result, code, _ = run_curl("--socks5", danted.address, http_target.url(host=LOOP6))
    assert result.returncode == 0 and code == 200, (result.stderr, danted.log())
    assert result.stdout == http_target.body


def test_curl_socks4_through_danted(danted, http_target):
    result, code, _ = run_curl("--socks4", danted.address, http_target.url("/size/100000"))
    assert result.returncode == 0 and code == 200, (result.stderr, danted.log())
    assert len(result.stdout) == 100000


def test_danted_does_not_implement_socks4a(danted, http_target):
    """A quirk to know before testing sockcat against it: Dante 1.4.2 reads a SOCKS4a request
    (0.0.0.1 plus a name) as SOCKS4 to 0.0.0.1, which the rules block (reply 91). If a newer
    dante passes this, SOCKS4a tests can use danted."""
    result, code, _ = run_curl("--socks4a", danted.address, http_target.url())
    assert result.returncode == 97, (result.returncode, result.stderr)
    assert b"(91)" in result.stderr and result.stdout == b""
    dante_block_logged(danted, "0.0.0.1", http_target.port)


def test_danted_refuses_destinations_off_loopback(danted, http_target):
    """0.0.0.0 is not in the rules' 127.0.0.0/8, and a connect to it would reach the target on
    127.0.0.1 (danted refuses it even before its rules: "unbound ipaddress")."""
    before = http_target.connections
    result, code, _ = run_curl("--socks5", danted.address, http_target.url(host="0.0.0.0"))
    assert result.returncode == 97 and result.stdout == b"", (result.returncode, result.stderr)
    dante_block_logged(danted, "0.0.0.0", http_target.port)
    assert http_target.connections == before


def test_nc_socks5_through_danted_to_echo(danted, echo_target):
    data = random.Random(5).randbytes(300_000)
    result = run_nc_through(danted, 5, LOOP4, echo_target.port, data)
    assert result.returncode == 0, (result.stderr, danted.log(), echo_target.log())
    assert sha256(result.stdout) == sha256(data), (len(result.stdout), result.stderr)
    dante_tunnel_logged(danted, LOOP4, echo_target.port)


def test_nc_socks4_through_danted_to_echo(danted, echo_target):
    data = b"socks4 line through danted\n" * 1000
    result = run_nc_through(danted, 4, LOOP4, echo_target.port, data)
    assert result.returncode == 0, (result.stderr, danted.log())
    assert result.stdout == data


# --- microsocks -----------------------------------------------------------------------------

def test_curl_socks5_with_password_through_microsocks(microsocks, http_target):
    proxy = f"{microsocks.user}:{microsocks.password}@{microsocks.address}"
    result, code, _ = run_curl("--socks5-hostname", proxy, http_target.url())
    assert result.returncode == 0 and code == 200, (result.stderr, microsocks.log())
    assert result.stdout == http_target.body
    in_log(microsocks, f"connected to {LOOP4}:{http_target.port}")


def test_curl_proxy_user_through_microsocks_name_resolved_remotely(microsocks, http_target):
    result, code, _ = run_curl("--socks5-hostname", microsocks.address, "--proxy-user",
                               f"{microsocks.user}:{microsocks.password}",
                               http_target.url(host="localhost"))
    assert result.returncode == 0 and code == 200, (result.stderr, microsocks.log())
    assert result.stdout == http_target.body
    in_log(microsocks, f"connected to localhost:{http_target.port}")


def test_microsocks_refuses_a_wrong_password(microsocks, http_target):
    before = http_target.connections
    proxy = f"{microsocks.user}:wrong-{microsocks.password}@{microsocks.address}"
    result, _, _ = run_curl("--socks5-hostname", proxy, http_target.url())
    assert result.returncode == 97 and result.stdout == b"", (result.returncode, result.stderr)
    assert b"rejected" in result.stderr, result.stderr
    assert http_target.connections == before


def test_microsocks_refuses_no_credentials(microsocks, http_target):
    result, _, _ = run_curl("--socks5-hostname", microsocks.address, http_target.url())
    assert result.returncode == 97 and result.stdout == b"", (result.returncode, result.stderr)
    assert b"No authentication method was acceptable" in result.stderr, result.stderr


# --- tinyproxy ------------------------------------------------------------------------------

def test_curl_connect_with_basic_auth_through_tinyproxy(tinyproxy, http_target):
    result, code, connect = run_curl("-p", "-x", f"http://{tinyproxy.address}", "--proxy-user",
                                     f"{tinyproxy.user}:{tinyproxy.password}", http_target.url())
    assert result.returncode == 0 and (connect, code) == (200, 200), \
        (result.stderr, tinyproxy.log())
    assert result.stdout == http_target.body
    in_log(tinyproxy, f"CONNECT {LOOP4}:{http_target.port} ")


def test_tinyproxy_answers_407_without_credentials(tinyproxy, http_target):
    before = http_target.connections
    result, _, connect = run_curl("-p", "-x", f"http://{tinyproxy.address}", http_target.url())
    assert result.returncode == 56 and connect == 407, (result.returncode, result.stderr)
    assert result.stdout == b""
    assert http_target.connections == before


def test_tinyproxy_refuses_a_wrong_password(tinyproxy, http_target):
    """tinyproxy 1.11 answers wrong credentials with 401, not 407 (407 is for none at all)."""
    result, _, connect = run_curl("-p", "-x", f"http://{tinyproxy.address}", "--proxy-user",
                                  f"{tinyproxy.user}:wrong", http_target.url())
    assert result.returncode == 56 and connect in (401, 407), (result.returncode, result.stderr)
    assert result.stdout == b""


def test_tinyproxy_refuses_destinations_off_loopback(tinyproxy, http_target):
    """0.0.0.0 is not in the filter (yet a connect to it would reach the target on 127.0.0.1:
    a pass would show)."""
    before = http_target.connections
    result, _, connect = run_curl("-p", "-x", f"http://{tinyproxy.address}", "--proxy-user",
                                  f"{tinyproxy.user}:{tinyproxy.password}",
                                  http_target.url(host="0.0.0.0"))
    assert connect == 403 and result.stdout == b"", (result.returncode, result.stderr)
    in_log(tinyproxy, 'filtered domain "0.0.0.0"')
    assert http_target.connections == before


def test_nc_connect_through_open_tinyproxy_to_echo(tinyproxy_open, echo_target):
    """The echo is read before nc's EOF: tinyproxy does not keep a half-close (once the client
    has sent EOF it flushes what it holds and closes, and the rest of the reply is lost)."""
    data = random.Random(6).randbytes(200_000)
    status, reply, stderr = nc_exchange(tinyproxy_open, "connect", LOOP4, echo_target.port, data)
    assert status == 0, (stderr, tinyproxy_open.log())
    assert sha256(reply) == sha256(data), (len(reply), stderr)
    in_log(tinyproxy_open, f"CONNECT {LOOP4}:{echo_target.port} ")


def test_nc_connect_without_password_gets_407_from_tinyproxy(tinyproxy, echo_target):
    """OpenBSD nc cannot take a proxy password from a script (issue 13's case for sockcat):
    without -P it stops at the 407."""
    before = echo_target.connections
    result = run_nc_through(tinyproxy, "connect", LOOP4, echo_target.port, b"never echoed\n")
    assert result.returncode != 0 and result.stdout == b"", (result.returncode, result.stderr)
    assert b"407" in result.stderr, result.stderr
    assert echo_target.connections == before


# --- sshd -----------------------------------------------------------------------------------

def test_ssh_direct_to_sshd(sshd):
    result = run_ssh(sshd)
    assert (result.returncode, result.stdout) == (0, b"ok\n"), (result.stderr, sshd.log())
    in_log(sshd, f"Accepted publickey for {sshd.user}")


def test_ssh_through_danted_with_nc_proxy_command(sshd, danted):
    result = run_ssh(sshd, ["-o", f"ProxyCommand={nc_proxy_command(danted)}"],
                     command=["echo", "ok", "via", "socks5"])
    assert (result.returncode, result.stdout) == (0, b"ok via socks5\n"), \
        (result.stderr, danted.log(), sshd.log())
    dante_tunnel_logged(danted, LOOP4, sshd.port)


def test_ssh_moves_bytes_both_ways_through_danted(sshd, danted):
    """sha256sum on the far side of an ssh session tunnelled by danted: 1 MB up, the hash down."""
    data = random.Random(7).randbytes(1_000_000)
    result = run_ssh(sshd, ["-o", f"ProxyCommand={nc_proxy_command(danted)}"], ["sha256sum"],
                     input=data)
    assert result.returncode == 0, (result.stderr, sshd.log())
    assert result.stdout.split()[0].decode() == sha256(data)


def test_sshd_refuses_a_key_it_does_not_know(sshd, tmp_path):
    stranger = keygen(tmp_path / "stranger", "not-authorised")
    argv = sshd.ssh_argv()
    argv[argv.index(str(sshd.client_key))] = str(stranger)
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                            start_new_session=True)
    assert result.returncode == 255 and result.stdout == b"", result
    assert b"Permission denied" in result.stderr, result.stderr


# --- the fixtures themselves ----------------------------------------------------------------

def test_daemons_listen_on_loopback_only(danted, microsocks, tinyproxy, tinyproxy_open, sshd):
    for daemon in (danted, microsocks, tinyproxy, tinyproxy_open, sshd):
        addresses = listening_addresses(daemon.pid)
        assert addresses == [f"{LOOP4}:{daemon.port}"] * len(addresses) and addresses, \
            (daemon, addresses)


def test_targets_listen_on_loopback_only(echo_target, http_target):
    for target in (echo_target, http_target):
        for server in target.servers:
            host = server.socket.getsockname()[0]
            assert host in (LOOP4, LOOP6), (target.name, host)


def test_stop_ends_the_daemon_and_its_children(private_daemons, echo_target):
    """danted forks a dozen helpers; stop() must leave none of them, nor the port."""
    daemon = private_daemons.danted()
    children = descendants(daemon.pid)
    assert children, "danted should have started helper processes"
    data = b"one tunnel before the end\n"
    result = run_nc_through(daemon, 5, LOOP4, echo_target.port, data)
    assert result.stdout == data, (result.stderr, daemon.log())
    daemon.stop()
    assert daemon.proc.returncode is not None
    alive = [pid for pid, start in children.items() if still_running(pid, start)]
    assert not alive, alive
    with pytest.raises(OSError):
        socket.create_connection((LOOP4, daemon.port), timeout=2).close()
