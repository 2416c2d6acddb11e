"""sockcat --ssl against real TLS peers we did not write, both directions: `connect --ssl` to
openssl s_server, ncat --ssl -l, socat OPENSSL-LISTEN and a Python ssl server that answers
only after our close_notify (nothing lost at EOF); openssl s_client, ncat --ssl, socat
OPENSSL: and Python ssl clients of `listen --ssl`, with a certificate from the test CA and
with the ephemeral one pinned by the fingerprint -v prints; ALPN and cipher choices seen by
the peer; SHA-256 of 64 MiB through a TLS echo both ways."""
import random
import subprocess
import threading

import pytest

from conftest import SOCKCAT, run_sockcat, wait_log
from helpers_peers import finish, payload, read_until, stop_process
from helpers_tcp import procs  # noqa: F401
from helpers_tls import (FINGERPRINT, NCAT, OPENSSL, SOCAT, client_context, connect_tls,  # noqa: F401
                         echo_handler, foreign, ncat_server_argv, pki, py_tls_server, quiet_until_eof,
                         reply_after_eof, s_server_argv, server_context, sha256,
                         socat_server_argv, tls_exchange)

MIB = 1024 * 1024




def tls_connect(pki, host, port, *extra, **kwargs):
    """Runs `sockcat connect --ssl --ssl-trustfile CA ... HOST PORT` to completion."""
    return run_sockcat("connect", "--ssl", "--ssl-trustfile", pki.ca, *extra, host, str(port),
                       **kwargs)


def tls_listen(start_server, pki, *extra, **kwargs):
    """`sockcat listen -v -p 0 --ssl` with the good certificate of the test CA."""
    return start_server("listen", "-v", "-p", "0", "--ssl", "--ssl-cert", pki.good.cert,
                        "--ssl-key", pki.good.key, *extra, **kwargs)


def lines(count, seed):
    rng = random.Random(seed)
    return b"".join(b"line %d %s\n" % (i, rng.randbytes(rng.randrange(1, 40)).hex().encode())
                    for i in range(count))


def reversed_lines(data):
    return b"".join(line[::-1] + b"\n" for line in data.split(b"\n")[:-1])


# --- sockcat connect --ssl to real servers --------------------------------------------------

@pytest.mark.parametrize("host", [["127.0.0.1"], ["-4", "localhost"]], ids=["ip", "name"])
def test_connect_to_openssl_s_server_rev(foreign, pki, host):
    """s_server -rev answers each line reversed, some of it after our close_notify; it
    answers our close_notify with its own: exit 0 with every line."""
    s_server, port = foreign(s_server_argv(pki.good, "-naccept", "1", "-quiet", "-rev"),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    data = lines(300, 1)
    result = tls_connect(pki, host[-1], port, *host[:-1], input=data, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert result.stdout == reversed_lines(data)
    assert s_server.wait(10) == 0


def test_connect_over_tls_1_2_to_s_server(foreign, pki):
    """The default minimum is TLS 1.2: a server that speaks nothing newer is served."""
    s_server, port = foreign(s_server_argv(pki.good, "-naccept", "1", "-quiet", "-rev", "-tls1_2"),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    data = lines(50, 2)
    result = tls_connect(pki, "127.0.0.1", port, input=data, timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == reversed_lines(data)


def test_connect_with_client_certificate_to_s_server_that_requires_one(foreign, pki):
    s_server, port = foreign(s_server_argv(pki.good, "-naccept", "1", "-quiet", "-rev",
                                           "-Verify", "1", "-verify_return_error", "-CAfile", pki.ca),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    result = tls_connect(pki, "127.0.0.1", port, "--ssl-cert", pki.client.cert,
                         "--ssl-key", pki.client.key, input=b"mutual\n", timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"lautum\n"
    assert s_server.wait(10) == 0


def test_connect_to_ncat_ssl_listener_both_ways(foreign, pki, procs, tmp_path):
    rng = random.Random(3)
    from_ncat, to_ncat = payload(rng, 256 * 1024), payload(rng, 192 * 1024)
    with open(tmp_path / "ncat_out", "wb") as ncat_out:
        ncat, port = foreign(ncat_server_argv(pki.good), stdin=subprocess.PIPE, stdout=ncat_out,
                             stderr=subprocess.PIPE)
    client = procs.sockcat("connect", "--ssl", "--ssl-trustfile", pki.ca, "127.0.0.1", port,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    # ncat's own stdin ending would close the connection without close_notify (its way), so
    # it stays open: first ncat's data reaches us whole, then ours goes and we leave first.
    ncat.stdin.write(from_ncat)
    ncat.stdin.flush()
    got = read_until(client.stdout, lambda data: len(data) >= len(from_ncat), timeout=15)
    assert sha256(got) == sha256(from_ncat)
    client.stdin.write(to_ncat)
    client.stdin.close()
    status, out, err = finish(client, timeout=15)
    assert status == 0, err
    assert out == b""
    ncat_status, _, ncat_err = finish(ncat, timeout=15)
    assert ncat_status == 0, ncat_err
    assert sha256((tmp_path / "ncat_out").read_bytes()) == sha256(to_ncat)


@pytest.mark.parametrize("program, convert", [
    ("SYSTEM:tr a-z A-Z", bytes.upper),  # tr answers only at its EOF: after our close_notify
    ("EXEC:cat", lambda data: data),
])
def test_connect_to_socat_openssl_listen_1mib(foreign, pki, program, convert):
    data = payload(random.Random(4), MIB)
    socat, port = foreign(socat_server_argv(pki.good, program), stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    result = tls_connect(pki, "127.0.0.1", port, input=data, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert len(result.stdout) == MIB
    assert sha256(result.stdout) == sha256(convert(data))
    assert socat.wait(10) == 0


@pytest.mark.parametrize("size", [0, 1, 3 * MIB])
def test_connect_gets_the_reply_python_sends_after_our_close_notify(py_tls_server, pki, size):
    """The Python server reads to our close_notify and only then answers (the upper-cased
    input and a summary line) and sends its own: all of it reaches stdout, exit 0."""
    data = payload(random.Random(5), size)
    server = py_tls_server(server_context(pki.good), reply_after_eof(
        lambda received: received.upper() + b"\nreceived %d bytes\n" % len(received)))
    result = tls_connect(pki, "127.0.0.1", server.port, input=data, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    expected = data.upper() + b"\nreceived %d bytes\n" % size
    assert len(result.stdout) == len(expected)
    assert sha256(result.stdout) == sha256(expected)
    (session,) = server.wait_sessions(1)
    assert session.ending == "close_notify"  # our EOF was a close_notify, not a bare FIN
    assert sha256(session.received) == sha256(data)


def test_connect_alpn_and_cipher_reach_the_server(py_tls_server, pki):
    ctx = server_context(pki.good)
    ctx.set_alpn_protocols(["http/1.1", "sockcat-test"])
    server = py_tls_server(ctx, quiet_until_eof)
    result = tls_connect(pki, "127.0.0.1", server.port, "--ssl-alpn", "sockcat-test,h2",
                         "--ssl-ciphers", "TLS_AES_128_GCM_SHA256", input=b"", timeout=20)
    assert result.returncode == 0, result.stderr
    (session,) = server.wait_sessions(1)
    assert session.alpn == "sockcat-test"
    assert session.cipher == "TLS_AES_128_GCM_SHA256"
    assert session.version == "TLSv1.3"


# --- real clients of sockcat listen --ssl ---------------------------------------------------

def test_s_client_of_upper_server(start_server, pki):
    server = tls_listen(start_server, pki, "--transform", "upper")
    client = subprocess.Popen([OPENSSL, "s_client", "-connect", f"127.0.0.1:{server.port}",
                               "-CAfile", pki.ca, "-verify_return_error", "-verify_ip", "127.0.0.1",
                               "-quiet", "-no_ign_eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        data = lines(100, 6)
        client.stdin.write(data)
        client.stdin.flush()
        # s_client leaves at its stdin's end without waiting for the reply: end it after.
        # (-quiet alone would ignore that end: -no_ign_eof.)
        got = read_until(client.stdout, lambda out: len(out) >= len(data), timeout=15)
        assert got == data.upper()
        status, _, err = finish(client, timeout=10)
        assert status == 0, err
    finally:
        stop_process(client)
    assert server.proc.poll() is None


def test_s_client_of_relay_listener_gets_stdin_and_close_notify(start_server, pki):
    """listen (one client) relays its stdin to s_client and, at its end, sends close_notify:
    s_client -ign_eof leaves on it. What s_client sent reaches stdout; exit 0."""
    to_client = lines(2000, 7)
    server = tls_listen(start_server, pki, stdin=subprocess.PIPE)
    client = subprocess.Popen([OPENSSL, "s_client", "-connect", f"127.0.0.1:{server.port}",
                               "-CAfile", pki.ca, "-verify_return_error", "-verify_hostname",
                               "localhost", "-servername", "localhost", "-quiet", "-ign_eof"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        client.stdin.write(b"from s_client\n")
        client.stdin.flush()
        got = read_until(server.proc.stdout, lambda out: len(out) >= 14, timeout=15)
        assert got == b"from s_client\n"
        # Then sockcat's stdin, all of it, and its end.
        server.proc.stdin.write(to_client)
        server.proc.stdin.close()
        got = read_until(client.stdout, lambda out: len(out) >= len(to_client), timeout=15)
        assert sha256(got) == sha256(to_client)
        status, rest, err = finish(client, timeout=10)
        assert rest == b""
        assert status == 0, err
    finally:
        stop_process(client)
    assert server.wait(10) == 0, server.stderr()
    assert server.proc.stdout.read() == b""


def test_ncat_client_of_upper_server(start_server, pki):
    """In lockstep, a line and its answer at a time: ncat 7.93 leaves a TLS record it has
    already read in OpenSSL's buffer until the socket turns readable again, so a bulk reply
    whose last two records arrive together would stall in ncat, not in sockcat."""
    server = tls_listen(start_server, pki, "--transform", "upper")
    client = subprocess.Popen([NCAT, "--ssl", "--ssl-verify", "--ssl-trustfile", pki.ca,
                               "localhost", str(server.port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        got = b""
        for line in lines(50, 8).splitlines(keepends=True):
            # ncat quits at its stdin's end before the reply: its stdin stays open until then.
            client.stdin.write(line)
            client.stdin.flush()
            got = read_until(client.stdout, lambda out: len(out) >= len(line), timeout=10)
            assert got == line.upper()
        status, _, err = finish(client, timeout=10)
        assert status == 0, err
    finally:
        stop_process(client)
    assert server.proc.poll() is None


@pytest.mark.parametrize("transform, convert", [("upper", bytes.upper), ("echo", lambda d: d)])
def test_socat_client_of_replying_server_1mib(start_server, pki, transform, convert):
    server = tls_listen(start_server, pki, "--transform", transform)
    data = payload(random.Random(9), MIB)
    result = subprocess.run([SOCAT, "-t", "10", "-",
                             f"OPENSSL:127.0.0.1:{server.port},cafile={pki.ca},commonname=localhost"],
                            input=data, capture_output=True, timeout=20)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) == MIB
    assert sha256(result.stdout) == sha256(convert(data))


def test_socat_client_of_relay_listener_both_ways(start_server, pki, tmp_path):
    rng = random.Random(10)
    from_socat, from_sockcat = payload(rng, 256 * 1024), payload(rng, 128 * 1024)
    (tmp_path / "in").write_bytes(from_sockcat)
    with open(tmp_path / "in", "rb") as stdin, open(tmp_path / "out", "wb") as stdout:
        server = tls_listen(start_server, pki, stdin=stdin, stdout=stdout)
    result = subprocess.run([SOCAT, "-t", "10", "-",
                             f"OPENSSL:127.0.0.1:{server.port},cafile={pki.ca},commonname=localhost"],
                            input=from_socat, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert server.wait(15) == 0, server.stderr()
    assert sha256(result.stdout) == sha256(from_sockcat)
    assert sha256((tmp_path / "out").read_bytes()) == sha256(from_socat)


def test_python_client_verifies_the_ca_certificate_over_ipv4_and_ipv6(start_server, pki):
    server = tls_listen(start_server, pki, "--transform", "upper")
    ctx = client_context(pki.ca)
    for host, name in (("127.0.0.1", "localhost"), ("::1", "localhost"), ("127.0.0.1", None)):
        exchange = tls_exchange((host, server.port), ctx, b"verified peer\n", server_hostname=name or host)
        assert exchange.received == b"VERIFIED PEER\n"
        assert exchange.ending == "close_notify"
        assert exchange.peer_fingerprint == pki.good.fingerprint


def test_key_read_from_the_cert_file_when_no_ssl_key(start_server, pki):
    server = start_server("listen", "-v", "-p", "0", "--ssl-cert", pki.combined, "--transform", "upper")
    exchange = tls_exchange(("127.0.0.1", server.port), client_context(pki.ca), b"one file\n",
                            server_hostname="localhost")
    assert exchange.received == b"ONE FILE\n"
    assert exchange.peer_fingerprint == pki.good.fingerprint


def ephemeral_fingerprint(server):
    (value,) = wait_log(server, FINGERPRINT.pattern)
    return value


def test_ephemeral_certificate_fingerprint_is_what_the_client_sees(start_server, tmp_path):
    server = start_server("listen", "-v", "-p", "0", "--ssl", "--transform", "upper")
    printed = ephemeral_fingerprint(server)
    stream = connect_tls(("127.0.0.1", server.port), client_context(verify=False))
    try:
        assert stream.peer_fingerprint == printed
        (tmp_path / "peer.der").write_bytes(stream.peer_cert)
        stream.send(b"pin me\n")
        stream.close_notify()
        assert stream.read_to_end() == (b"PIN ME\n", "close_notify")
    finally:
        stream.close()
    # An ECDSA P-256 key, as the note says.
    text = subprocess.run([OPENSSL, "x509", "-inform", "DER", "-in", str(tmp_path / "peer.der"),
                           "-noout", "-text"], capture_output=True, timeout=10).stdout.decode()
    assert "id-ecPublicKey" in text and "prime256v1" in text, text


def test_ephemeral_certificate_differs_between_runs(start_server):
    first = ephemeral_fingerprint(start_server("listen", "-v", "-p", "0", "--ssl"))
    second = ephemeral_fingerprint(start_server("listen", "-v", "-p", "0", "--ssl"))
    assert first != second


@pytest.mark.parametrize("form", ["colons", "bare", "lower"])
def test_sockcat_connect_pins_the_ephemeral_certificate(start_server, form):
    server = start_server("listen", "-v", "-p", "0", "--ssl", "--transform", "upper")
    printed = ephemeral_fingerprint(server)
    pin = {"colons": printed, "bare": printed.replace(":", ""),
           "lower": printed.replace(":", "").lower()}[form]
    result = run_sockcat("connect", "--ssl-pin", pin, "127.0.0.1", str(server.port),
                         input=b"pinned\n", timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert result.stdout == b"PINNED\n"


def test_listen_alpn_is_chosen_from_the_clients_list(start_server, pki):
    server = tls_listen(start_server, pki, "--transform", "upper", "--ssl-alpn", "sockcat-test")
    ctx = client_context(pki.ca)
    ctx.set_alpn_protocols(["h2", "sockcat-test"])
    stream = connect_tls(("127.0.0.1", server.port), ctx, "localhost")
    try:
        assert stream.obj.selected_alpn_protocol() == "sockcat-test"
        stream.send(b"alpn\n")
        stream.close_notify()
        assert stream.read_to_end() == (b"ALPN\n", "close_notify")
    finally:
        stream.close()


# --- 64 MiB through a TLS echo ---------------------------------------------------------------

@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """64 MiB of pseudo-random bytes, in memory and in a file."""
    data = random.Random(64).randbytes(64 * MIB)
    path = tmp_path_factory.mktemp("big") / "64mib"
    path.write_bytes(data)
    return data, path


def test_64_mib_python_client_through_sockcat_echo(start_server, pki, big):
    """The client sends on one thread and receives on another, so neither side's buffers
    filling up can stop the transfer."""
    data, _ = big
    server = tls_listen(start_server, pki, "--transform", "echo")
    exchange = tls_exchange(("127.0.0.1", server.port), client_context(pki.ca), data,
                            server_hostname="localhost", timeout=60, keep=False)
    assert exchange.ending == "close_notify"
    assert exchange.received_size == len(data)
    assert exchange.received_sha == sha256(data)


def test_64_mib_sockcat_connect_through_sockcat_echo(start_server, pki, big, tmp_path):
    data, path = big
    server = tls_listen(start_server, pki, "--transform", "echo")
    with open(path, "rb") as stdin, open(tmp_path / "out", "wb") as stdout:
        result = subprocess.run([SOCKCAT, "connect", "--ssl",
                                 "--ssl-trustfile", pki.ca, "127.0.0.1", str(server.port)],
                                stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, timeout=60)
    assert result.returncode == 0, result.stderr
    out = (tmp_path / "out").read_bytes()
    assert len(out) == len(data)
    assert sha256(out) == sha256(data)


def test_64_mib_sockcat_connect_through_python_echo(py_tls_server, pki, big, tmp_path):
    data, path = big
    server = py_tls_server(server_context(pki.good), echo_handler, timeout=60)
    with open(path, "rb") as stdin, open(tmp_path / "out", "wb") as stdout:
        result = subprocess.run([SOCKCAT, "connect", "--ssl",
                                 "--ssl-trustfile", pki.ca, "127.0.0.1", str(server.port)],
                                stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, timeout=60)
    assert result.returncode == 0, result.stderr
    out = (tmp_path / "out").read_bytes()
    assert len(out) == len(data)
    assert sha256(out) == sha256(data)
    (session,) = server.wait_sessions(1)
    assert session.ending == "close_notify"
