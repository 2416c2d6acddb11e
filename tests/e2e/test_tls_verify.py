"""What `connect --ssl` trusts and what it refuses, and how it says so: each refusal (expired,
not yet valid, wrong name, unknown issuer, self-signed, pin mismatch, the peer's alert) is
exit 1 and exactly one stderr line that names the reason; a pin or --ssl-insecure accepts
what the chain check would refuse; --ssl-servername is both SNI and the name checked; an IP
literal is checked against IP SANs and never sent as SNI; the system store does not know the
test CA. Mutual TLS on `listen --ssl-verify`: a client without a certificate, or with one from
another CA, is refused by an alert and the server goes on serving. Usage errors are exit 2."""
import re
import subprocess

import pytest

from conftest import run_sockcat, wait_log
from helpers_tcp import assert_one_error_line, unused_port
from helpers_tls import (FINGERPRINT_ANYWHERE, client_context, connect_tls, foreign,  # noqa: F401
                         pki, py_tls_server, quiet_until_eof, reply_after_eof, s_server_argv,
                         server_context, tls_exchange)




def serve(py_tls_server, credential, host="127.0.0.1", **kwargs):
    """A Python TLS server presenting `credential` that answers "reply: <what it got>" after
    the client's close_notify."""
    return py_tls_server(server_context(credential, **kwargs),
                         reply_after_eof(lambda data: b"reply: " + data), host=host)


def connect(port, *args, host="127.0.0.1", data=b"hello\n", timeout=20):
    return run_sockcat("connect", *args, host, str(port), input=data, timeout=timeout)


def assert_refused(result, server, *needles):
    """Exit 1, nothing on stdout, one stderr line naming the reason; the server got nothing
    (no byte goes over a connection that did not verify)."""
    assert result.returncode == 1, result.stderr
    assert result.stdout == b""
    line = assert_one_error_line(result.stderr)
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"  # case-sensitive, as in the note
    if server is not None:
        (session,) = server.wait_sessions(1)
        assert session.received == b"", session
    return line


def assert_served(result, expected=b"reply: hello\n"):
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert result.stdout == expected


# --- the chain ------------------------------------------------------------------------------

def test_good_certificate_is_accepted(py_tls_server, pki):
    server = serve(py_tls_server, pki.good)
    assert_served(connect(server.port, "--ssl", "--ssl-trustfile", pki.ca))


def test_ssl_verify_on_connect_is_accepted_and_changes_nothing(py_tls_server, pki):
    good = serve(py_tls_server, pki.good)
    assert_served(connect(good.port, "--ssl-verify", "--ssl-trustfile", pki.ca))
    wrong = serve(py_tls_server, pki.wrong_name)
    assert_refused(connect(wrong.port, "--ssl-verify", "--ssl-trustfile", pki.ca), wrong,
                   "does not match")


def test_expired(py_tls_server, pki):
    server = serve(py_tls_server, pki.expired)
    assert_refused(connect(server.port, "--ssl", "--ssl-trustfile", pki.ca), server,
                   "certificate has expired")


def test_not_yet_valid(py_tls_server, pki):
    server = serve(py_tls_server, pki.not_yet_valid)
    assert_refused(connect(server.port, "--ssl", "--ssl-trustfile", pki.ca), server,
                   "certificate is not yet valid")


def test_unknown_issuer(py_tls_server, pki):
    server = serve(py_tls_server, pki.other_issuer)
    assert_refused(connect(server.port, "--ssl", "--ssl-trustfile", pki.ca), server,
                   "issuer is not trusted")


def test_a_trustfile_with_both_cas_trusts_the_other_issuer(py_tls_server, pki):
    server = serve(py_tls_server, pki.other_issuer)
    assert_served(connect(server.port, "--ssl", "--ssl-trustfile", pki.both_cas))


def test_self_signed(py_tls_server, pki):
    server = serve(py_tls_server, pki.self_signed)
    assert_refused(connect(server.port, "--ssl", "--ssl-trustfile", pki.ca), server,
                   "self-signed certificate")


def test_self_signed_without_trustfile(py_tls_server, pki):
    server = serve(py_tls_server, pki.self_signed)
    assert_refused(connect(server.port, "--ssl"), server, "self-signed certificate")


def test_system_store_does_not_trust_the_test_ca(py_tls_server, pki):
    server = serve(py_tls_server, pki.good)
    assert_refused(connect(server.port, "--ssl"), server, "issuer is not trusted")


# --- names ----------------------------------------------------------------------------------

def test_wrong_name_for_an_ip_literal_names_both(py_tls_server, pki):
    server = serve(py_tls_server, pki.wrong_name)
    assert_refused(connect(server.port, "--ssl", "--ssl-trustfile", pki.ca), server,
                   "does not match", "127.0.0.1", "wrong.example")


def test_wrong_name_for_a_host_name_names_both(py_tls_server, pki):
    server = serve(py_tls_server, pki.wrong_name)
    result = connect(server.port, "--ssl", "--ssl-trustfile", pki.ca, "-4", host="localhost")
    assert_refused(result, server, "does not match", "localhost", "wrong.example")


def test_servername_that_the_certificate_lacks_names_both(py_tls_server, pki):
    server = serve(py_tls_server, pki.good)
    result = connect(server.port, "--ssl", "--ssl-trustfile", pki.ca, "--ssl-servername",
                     "other.example")
    assert_refused(result, server, "does not match", "other.example", "localhost")
    (session,) = server.wait_sessions(1)
    assert session.server_name == "other.example"


def test_servername_is_the_sni_and_the_name_checked(py_tls_server, pki):
    server = serve(py_tls_server, pki.wrong_name)
    assert_served(connect(server.port, "--ssl", "--ssl-trustfile", pki.ca, "--ssl-servername",
                          "wrong.example"))
    (session,) = server.wait_sessions(1)
    assert session.server_name == "wrong.example"


def test_host_name_is_sent_as_sni(py_tls_server, pki):
    server = serve(py_tls_server, pki.good)
    assert_served(connect(server.port, "--ssl", "--ssl-trustfile", pki.ca, "-4", host="localhost"))
    (session,) = server.wait_sessions(1)
    assert session.server_name == "localhost"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_ip_literal_matches_an_ip_san_and_is_never_sni(py_tls_server, pki, host):
    server = serve(py_tls_server, pki.good, host=host)
    assert_served(connect(server.port, "--ssl", "--ssl-trustfile", pki.ca, host=host))
    (session,) = server.wait_sessions(1)
    assert session.server_name is None


def test_ip_literal_does_not_match_a_dns_name_spelled_like_it(py_tls_server, pki):
    """dns_ip carries DNS:127.0.0.1 (and DNS:localhost) but no IP SAN."""
    server = serve(py_tls_server, pki.dns_ip)
    assert_refused(connect(server.port, "--ssl", "--ssl-trustfile", pki.ca), server,
                   "does not match", "127.0.0.1")


# --- pins and --ssl-insecure ------------------------------------------------------------------

def test_pin_mismatch_shows_the_peers_fingerprint(py_tls_server, pki):
    server = serve(py_tls_server, pki.good)
    line = assert_refused(connect(server.port, "--ssl-pin", pki.client.fingerprint), server,
                          "does not match --ssl-pin", pki.good.fingerprint)
    assert FINGERPRINT_ANYWHERE.search(line)


@pytest.mark.parametrize("which", ["self_signed", "wrong_name", "expired", "other_issuer"])
def test_pin_match_is_the_whole_decision(py_tls_server, pki, which):
    credential = getattr(pki, which)
    server = serve(py_tls_server, credential)
    assert_served(connect(server.port, "--ssl-pin", credential.fingerprint))


def test_pin_without_colons(py_tls_server, pki):
    server = serve(py_tls_server, pki.self_signed)
    assert_served(connect(server.port, "--ssl-pin", pki.self_signed.fingerprint.replace(":", "")))


@pytest.mark.parametrize("which", ["self_signed", "wrong_name", "expired"])
def test_insecure_accepts_anything(py_tls_server, pki, which):
    server = serve(py_tls_server, getattr(pki, which))
    assert_served(connect(server.port, "--ssl-insecure"))


def test_insecure_says_so_under_v(py_tls_server, pki):
    server = serve(py_tls_server, pki.self_signed)
    result = connect(server.port, "--ssl-insecure", "-v")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"reply: hello\n"
    assert re.search(rb"insecure|not verified|no verification", result.stderr, re.I), result.stderr


# --- the peer's alert -------------------------------------------------------------------------

def test_min_version_1_3_against_a_tls_1_2_server_is_a_protocol_version_alert(foreign, pki):
    s_server, port = foreign(s_server_argv(pki.good, "-naccept", "1", "-quiet", "-rev", "-tls1_2"),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    result = connect(port, "--ssl", "--ssl-trustfile", pki.ca, "--ssl-min-version", "1.3")
    assert_refused(result, None, "alert protocol version")


def test_min_version_1_3_against_tls_1_3_is_served(py_tls_server, pki):
    server = serve(py_tls_server, pki.good)
    assert_served(connect(server.port, "--ssl", "--ssl-trustfile", pki.ca, "--ssl-min-version", "1.3"))


def test_server_that_requires_a_client_certificate_refuses_none(foreign, pki):
    s_server, port = foreign(s_server_argv(pki.good, "-naccept", "1", "-quiet", "-rev",
                                           "-Verify", "1", "-verify_return_error", "-CAfile", pki.ca),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    result = connect(port, "--ssl", "--ssl-trustfile", pki.ca)
    assert_refused(result, None, "alert certificate required")


# --- mutual TLS on listen ---------------------------------------------------------------------

@pytest.fixture
def mtls_server(start_server, pki):
    return start_server("listen", "-v", "-k", "-p", "0", "--ssl", "--ssl-cert", pki.good.cert,
                        "--ssl-key", pki.good.key, "--ssl-verify", "--ssl-trustfile", pki.ca,
                        "--transform", "upper")


def test_mtls_refuses_a_client_without_certificate_and_goes_on(mtls_server, pki):
    result = connect(mtls_server.port, "--ssl", "--ssl-trustfile", pki.ca)
    line = assert_refused(result, None, "alert")
    assert "alert certificate required" in line
    assert mtls_server.proc.poll() is None, mtls_server.stderr()
    served = connect(mtls_server.port, "--ssl", "--ssl-trustfile", pki.ca, "--ssl-cert",
                     pki.client.cert, "--ssl-key", pki.client.key)
    assert_served(served, b"HELLO\n")


def test_mtls_refuses_a_client_of_another_ca_and_goes_on(mtls_server, pki):
    result = connect(mtls_server.port, "--ssl", "--ssl-trustfile", pki.ca, "--ssl-cert",
                     pki.other_client.cert, "--ssl-key", pki.other_client.key)
    line = assert_refused(result, None, "alert")
    assert re.search(r"alert unknown ca", line, re.I), line
    assert mtls_server.proc.poll() is None, mtls_server.stderr()
    served = connect(mtls_server.port, "--ssl", "--ssl-trustfile", pki.ca, "--ssl-cert",
                     pki.client.cert, "--ssl-key", pki.client.key)
    assert_served(served, b"HELLO\n")


def test_mtls_every_refused_client_sees_the_alert(mtls_server, pki):
    """Many refused clients in a row, each with data to send: each is exit 1 with one line,
    never exit 0 (a race between our close_notify's write failing on the server's close and
    reading the alert before it must not turn a refusal into a clean end). The line is the
    alert, or the reset when the server's close (with our data unread) overtook its alert:
    the kernel then drops the alert unsent, and no client can tell it."""
    outcomes = []
    for index in range(60):
        credential = pki.other_client if index % 2 else None
        extra = ["--ssl-cert", credential.cert, "--ssl-key", credential.key] if credential else []
        result = connect(mtls_server.port, "--ssl", "--ssl-trustfile", pki.ca, *extra)
        told = b"alert" in result.stderr or b"Connection reset by peer" in result.stderr
        if result.returncode != 1 or not told or result.stderr.count(b"\n") != 1:
            outcomes.append((index, result.returncode, result.stdout, result.stderr))
    assert outcomes == [], outcomes
    assert mtls_server.proc.poll() is None


def test_mtls_python_clients_refused_and_served(mtls_server, pki):
    """Python clients: the refused ones are named in a -v line with a reason; the one with a
    certificate from the CA is served, and the server saw its certificate."""
    for credential in (None, pki.other_client):
        ctx = client_context(pki.ca, credential=credential)
        stream = connect_tls(("127.0.0.1", mtls_server.port), ctx, "localhost")
        port = stream.sock.getsockname()[1]
        try:
            # TLS 1.3: our handshake ends first; the server's verdict comes as an alert.
            data, ending = stream.read_to_end(timeout=10)
        finally:
            stream.close()
        assert data == b""
        assert "alert" in ending, ending
        wait_log(mtls_server, r"(?m)^(?=.*[.:\]]%d\b)(?=.*(certificate|issuer)).*$" % port)
    exchange = tls_exchange(("127.0.0.1", mtls_server.port), client_context(pki.ca, pki.client),
                            b"with a certificate\n", server_hostname="localhost")
    assert exchange.received == b"WITH A CERTIFICATE\n"
    assert exchange.ending == "close_notify"
    assert mtls_server.proc.poll() is None


# --- usage errors -------------------------------------------------------------------------------

def assert_usage(result, *needles):
    assert result.returncode == 2, result.stderr
    assert result.stdout == b""
    return assert_one_error_line(result.stderr, *needles)


@pytest.mark.parametrize("args", [
    ["connect", "-u", "--ssl", "127.0.0.1", "9"],
    ["listen", "-u", "--ssl", "-p", "0"],
    ["connect", "-u", "--ssl-insecure", "127.0.0.1", "9"],
], ids=["connect", "listen", "implied"])
def test_udp_with_ssl_is_a_usage_error(args):
    line = assert_usage(run_sockcat(*args, stdin=subprocess.DEVNULL, timeout=10))
    assert "-u" in line or "DTLS" in line or "UDP" in line, line


@pytest.mark.parametrize("pin", ["garbage", "AB:CD", "0" * 63, "0" * 65, "G" * 64,
                                 ":".join(["AB"] * 31), "AB:" * 31 + "ABC"])
def test_bad_pin_is_a_usage_error(pin):
    assert_usage(run_sockcat("connect", "--ssl-pin", pin, "127.0.0.1", str(unused_port()),
                             stdin=subprocess.DEVNULL, timeout=10), "--ssl-pin")


@pytest.mark.parametrize("version", ["1.1", "1.0", "2", "1.4", ""])
def test_bad_min_version_is_a_usage_error(version):
    assert_usage(run_sockcat("connect", "--ssl", "--ssl-min-version", version, "127.0.0.1",
                             str(unused_port()), stdin=subprocess.DEVNULL, timeout=10))


def test_listen_ssl_verify_needs_a_trustfile(pki):
    assert_usage(run_sockcat("listen", "--ssl", "--ssl-verify", "-p", "0", stdin=subprocess.DEVNULL,
                             timeout=10), "--ssl-trustfile")


def test_connect_unix_ssl_needs_a_name_pin_or_insecure(tmp_path):
    assert_usage(run_sockcat("connect", "-U", str(tmp_path / "sock"), "--ssl",
                             stdin=subprocess.DEVNULL, timeout=10), "--ssl-servername")


@pytest.mark.parametrize("option", [["--ssl-servername", "x"], ["--ssl-pin", "AB" * 32],
                                    ["--ssl-insecure"]])
def test_connect_only_options_are_usage_errors_on_listen(option):
    assert_usage(run_sockcat("listen", "--ssl", "-p", "0", *option, stdin=subprocess.DEVNULL,
                             timeout=10))

