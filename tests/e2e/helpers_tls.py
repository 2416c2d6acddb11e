"""Helpers for the TLS end-to-end tests (test_tls_*.py): a PKI made at test time with the
`openssl` command (a CA, good, wrong-name, expired, not-yet-valid, self-signed and other-CA
server certificates, client certificates), fingerprints in the form `--ssl-pin` takes, real
TLS peers (openssl s_server, ncat --ssl -l, socat OPENSSL-LISTEN and a Python `ssl` server run
on a thread of the test process) and a Python TLS client that sends and receives on two
threads and can send close_notify without waiting for the peer's (ssl.SSLSocket.unwrap()
waits, and throws away what arrives meanwhile). Every wait has a deadline; all traffic stays
on loopback."""
import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field

import pytest

from conftest import SOCKCAT
from helpers_peers import start_foreign_server, stop_process

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
NCAT = shutil.which("ncat") or "/usr/bin/ncat"
SOCAT = shutil.which("socat") or "/usr/bin/socat"

# The fingerprint line `listen --ssl -v` prints for its certificate (ephemeral or not).
FINGERPRINT = re.compile(r"SHA-256 ([0-9A-F]{2}(?::[0-9A-F]{2}){31})")
FINGERPRINT_ANYWHERE = re.compile(r"[0-9A-F]{2}(?::[0-9A-F]{2}){31}")


# --- the PKI --------------------------------------------------------------------------------

REQ_CONFIG = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused

[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ self_signed ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
"""

EXTENSIONS = """\
[ server_good ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1

[ server_wrong_name ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:wrong.example

[ server_dns_ip ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:127.0.0.1, DNS:localhost

[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

CA_CONFIG = """\
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/issued
serial = $dir/serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
email_in_dn = no
[ any_name ]
commonName = supplied
"""


def _openssl(*args, cwd=None):
    result = subprocess.run([OPENSSL] + [str(a) for a in args], capture_output=True, timeout=60,
                            cwd=cwd, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"openssl {' '.join(map(str, args))}: {result.stderr.decode()}"
    return result.stdout


def _new_key(path):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    return path


@dataclass
class Credential:
    cert: str
    key: str

    @property
    def fingerprint(self):
        return fingerprint(self.cert)


class TestCa:
    """A CA directory for `openssl ca`, which (unlike `x509 -req` in OpenSSL 3.0) takes any
    notBefore and notAfter: how the expired and not-yet-valid certificates are made."""
    __test__ = False  # not a test class, whatever its name

    def __init__(self, directory, name):
        self.dir = directory
        os.makedirs(os.path.join(directory, "issued"))
        open(os.path.join(directory, "index.txt"), "w").close()
        with open(os.path.join(directory, "serial"), "w") as serial:
            serial.write("1000\n")
        self.config = os.path.join(directory, "ca.cnf")
        with open(self.config, "w") as config:
            config.write(CA_CONFIG.format(dir=directory))
        self.req_config = os.path.join(directory, "req.cnf")
        with open(self.req_config, "w") as config:
            config.write(REQ_CONFIG)
        self.extensions = os.path.join(directory, "ext.cnf")
        with open(self.extensions, "w") as config:
            config.write(EXTENSIONS)
        self.key = _new_key(os.path.join(directory, "ca.key"))
        self.cert = os.path.join(directory, "ca.pem")
        _openssl("req", "-config", self.req_config, "-x509", "-new", "-key", self.key,
                 "-subj", f"/CN={name}", "-days", "3650", "-extensions", "v3_ca",
                 "-out", self.cert)

    def issue(self, name, common_name, extensions, days=30, start=None, end=None):
        """A key and certificate for `common_name` with the named extension section; `start`
        and `end` (YYMMDDHHMMSSZ) replace `days` for a validity in the past or the future."""
        key = _new_key(os.path.join(self.dir, f"{name}.key"))
        csr = os.path.join(self.dir, f"{name}.csr")
        cert = os.path.join(self.dir, f"{name}.pem")
        _openssl("req", "-config", self.req_config, "-new", "-key", key, "-subj",
                 f"/CN={common_name}", "-out", csr)
        validity = ["-startdate", start, "-enddate", end] if start else ["-days", str(days)]
        _openssl("ca", "-config", self.config, "-batch", "-notext", "-in", csr, "-out", cert,
                 "-extfile", self.extensions, "-extensions", extensions, *validity)
        return Credential(cert, key)


@dataclass
class Pki:
    ca: str                  # the test CA's certificate (the --ssl-trustfile)
    other_ca: str            # a second CA nobody trusts
    good: Credential         # localhost, 127.0.0.1, ::1 from `ca`
    wrong_name: Credential   # wrong.example from `ca`
    dns_ip: Credential       # "127.0.0.1" as a DNS name (not an IP SAN) and localhost, from `ca`
    expired: Credential      # localhost etc., valid only on 1-2 January 2020
    not_yet_valid: Credential  # localhost etc., valid from 2040
    self_signed: Credential  # localhost etc., its own issuer
    other_issuer: Credential  # localhost etc. from `other_ca`
    client: Credential       # a client certificate from `ca`
    other_client: Credential  # a client certificate from `other_ca`
    combined: str            # good's certificate and key in one PEM file
    both_cas: str            # ca and other_ca in one PEM file
    dir: str = ""


def make_pki(directory):
    directory = str(directory)
    ca = TestCa(os.path.join(directory, "ca"), "sockcat test CA")
    other = TestCa(os.path.join(directory, "other-ca"), "sockcat other CA")
    pki = Pki(
        ca=ca.cert,
        other_ca=other.cert,
        good=ca.issue("good", "localhost", "server_good"),
        wrong_name=ca.issue("wrong-name", "wrong.example", "server_wrong_name"),
        dns_ip=ca.issue("dns-ip", "127.0.0.1", "server_dns_ip"),
        expired=ca.issue("expired", "localhost", "server_good",
                         start="200101000000Z", end="200102000000Z"),
        not_yet_valid=ca.issue("not-yet-valid", "localhost", "server_good",
                               start="400101000000Z", end="410101000000Z"),
        self_signed=None,
        other_issuer=other.issue("other-issuer", "localhost", "server_good"),
        client=ca.issue("client", "sockcat test client", "client"),
        other_client=other.issue("other-client", "sockcat other client", "client"),
        combined=os.path.join(directory, "good-combined.pem"),
        both_cas=os.path.join(directory, "both-cas.pem"),
        dir=directory,
    )
    key = _new_key(os.path.join(directory, "self-signed.key"))
    cert = os.path.join(directory, "self-signed.pem")
    _openssl("req", "-config", ca.req_config, "-x509", "-new", "-key", key, "-subj", "/CN=localhost",
             "-days", "30", "-extensions", "self_signed", "-out", cert)
    pki.self_signed = Credential(cert, key)
    with open(pki.combined, "w") as out:
        for part in (pki.good.cert, pki.good.key):
            with open(part) as source:
                out.write(source.read())
    with open(pki.both_cas, "w") as out:
        for part in (pki.ca, pki.other_ca):
            with open(part) as source:
                out.write(source.read())
    return pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """The test PKI, made once per session in a pytest tmp dir."""
    return make_pki(tmp_path_factory.mktemp("pki"))


def fingerprint(cert_path):
    """The SHA-256 fingerprint exactly as `openssl x509 -noout -fingerprint -sha256` prints
    it: AA:BB:... (95 characters)."""
    out = _openssl("x509", "-noout", "-fingerprint", "-sha256", "-in", cert_path).decode()
    value = out.strip().split("=", 1)[1]
    assert FINGERPRINT_ANYWHERE.fullmatch(value), out
    return value


def der_fingerprint(der):
    """The same form computed from a DER certificate (e.g. getpeercert(binary_form=True))."""
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- contexts -----------------------------------------------------------------------------

def strict_eof(ctx):
    """Clears OP_IGNORE_UNEXPECTED_EOF (Debian's Python sets it): a TCP EOF without
    close_notify must read as SSLEOFError, not as a clean end."""
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    return ctx


def server_context(credential=None, cert=None, key=None, client_ca=None, require_client=False,
                   maximum=None, minimum=None):
    ctx = strict_eof(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    if credential is not None:
        cert, key = credential.cert, credential.key
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client else ssl.CERT_OPTIONAL
    if maximum is not None:
        ctx.maximum_version = maximum
    if minimum is not None:
        ctx.minimum_version = minimum
    return ctx


def client_context(cafile=None, credential=None, verify=True):
    """A client context trusting only `cafile` (or nothing: verify=False)."""
    ctx = strict_eof(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    if verify:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if credential is not None:
        ctx.load_cert_chain(credential.cert, credential.key)
    return ctx


def unexpected_eof(error):
    """True for the error OpenSSL 3 gives for a TCP EOF without close_notify."""
    return (isinstance(error, ssl.SSLEOFError)
            or getattr(error, "reason", None) == "UNEXPECTED_EOF_WHILE_READING")


# --- a Python TLS client ------------------------------------------------------------------

class TlsStream:
    """A TLS client (or, with server_side, server) over a connected blocking socket (TCP or
    Unix), OpenSSL driven through memory BIOs: one thread may send while another receives (the SSL object is only touched
    under `lock`, the socket written under `send_lock`), and close_notify is sent without
    waiting for the peer's, the way sockcat ends its sending side."""

    def __init__(self, sock, ctx, server_hostname=None, timeout=20, server_side=False):
        self.sock = sock
        self.timeout = timeout
        sock.settimeout(timeout)
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                server_hostname=server_hostname)
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.ending = None  # "close_notify", "eof" (TCP EOF without close_notify) or an error
        self.pending = b""  # read past what read_exact/read_line returned
        self._handshake()
        der = self.obj.getpeercert(binary_form=True)
        self.peer_cert = der  # (not to be asked for once close_notify has gone both ways)
        self.peer_fingerprint = der_fingerprint(der) if der else ""

    def _flush(self):
        with self.send_lock:
            with self.lock:
                out = self.outgoing.read()
            if out:
                self.sock.sendall(out)

    def _handshake(self):
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                try:
                    self.obj.do_handshake()
                    return
                except ssl.SSLWantReadError:
                    pass
                self._flush()
                if time.monotonic() > deadline:
                    raise TimeoutError("TLS handshake not finished in time")
                data = self.sock.recv(65536)
                if not data:
                    self.incoming.write_eof()
                else:
                    self.incoming.write(data)
        finally:
            self._flush()  # our Finished, or the alert of a failed handshake

    def send(self, data, chunk=256 * 1024):
        view = memoryview(data)
        for offset in range(0, len(view), chunk):
            with self.lock:
                self.obj.write(view[offset:offset + chunk])
            self._flush()

    def close_notify(self, half_close=True, last=b""):
        """Sends close_notify (and, with half_close, a TCP FIN) and goes on receiving. `last`
        is data sent just before it in the same socket write: both records arrive together,
        and a reader that waits for the socket to turn readable again after the data never
        sees the close_notify already in its TLS buffer."""
        with self.lock:
            if last:
                self.obj.write(last)
            try:
                self.obj.unwrap()
            except ssl.SSLWantReadError:
                pass  # sent; the peer's close_notify has not come yet
        self._flush()
        if half_close:
            self.sock.shutdown(socket.SHUT_WR)

    def receive(self, sink, limit=1 << 31, timeout=None, until=None):
        """Hands each piece of plaintext to sink(bytes) until the peer's close_notify, a TCP EOF
        without it, an error, or `timeout` seconds; returns how it ended ("close_notify", "eof",
        "timeout", "reset" or the SSLError's text). At most `limit` bytes. With `until`, it
        returns "enough" as soon as until() is true after a piece (the stream stays usable)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        total = 0
        while True:
            with self.lock:
                try:
                    while True:
                        data = self.obj.read(1 << 20)
                        if not data:
                            self.ending = "close_notify"
                            return self.ending
                        total += len(data)
                        sink(data)
                        if total > limit:
                            self.ending = f"more than {limit} bytes"
                            return self.ending
                        if until is not None and until():
                            return "enough"
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLZeroReturnError:
                    self.ending = "close_notify"
                    return self.ending
                except ssl.SSLError as error:
                    self.ending = "eof" if unexpected_eof(error) else str(error)
                    return self.ending
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.ending = "timeout"
                return self.ending
            self.sock.settimeout(remaining)
            try:
                raw = self.sock.recv(1 << 20)
            except socket.timeout:
                self.ending = "timeout"
                return self.ending
            except ConnectionResetError:
                self.ending = "reset"
                return self.ending
            with self.lock:
                if raw:
                    self.incoming.write(raw)
                else:
                    self.incoming.write_eof()

    def read_exact(self, count, timeout=None):
        """Exactly `count` bytes of plaintext (fails the test on an end or the deadline)."""
        parts = [self.pending] if self.pending else []
        self.pending = b""
        have = sum(map(len, parts))
        if have < count:
            got = [have]

            def sink(chunk):
                parts.append(chunk)
                got[0] += len(chunk)
            ending = self.receive(sink, timeout=timeout, until=lambda: got[0] >= count)
            assert ending == "enough", f"{ending} after {got[0]} of {count} bytes: {b''.join(parts)!r}"
        data = b"".join(parts)
        self.pending = data[count:]
        return data[:count]

    def read_line(self, timeout=None):
        """One line, with its newline."""
        data = self.pending
        self.pending = b""
        while b"\n" not in data:
            parts = [data]
            ending = self.receive(parts.append, timeout=timeout, until=lambda: b"\n" in parts[-1])
            data = b"".join(parts)
            assert ending == "enough", f"{ending} before a whole line: {data!r}"
        line, _, self.pending = data.partition(b"\n")
        return line + b"\n"

    def read_to_end(self, timeout=None):
        """Everything up to the end; returns (bytes, how it ended)."""
        parts = [self.pending]
        self.pending = b""
        ending = self.receive(parts.append, timeout=timeout)
        return b"".join(parts), ending

    def close(self):
        self.sock.close()


def connect_tls(address, ctx, server_hostname=None, timeout=20, family=None):
    """Connects (TCP to (host, port), or a Unix stream socket to a path) and handshakes;
    returns the TlsStream. Handshake errors (ssl.SSLError) propagate."""
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(address)
    else:
        sock = socket.create_connection(address, timeout=timeout)
    try:
        return TlsStream(sock, ctx, server_hostname, timeout)
    except BaseException:
        sock.close()
        raise


@dataclass
class Exchange:
    received: bytes = b""
    received_sha: str = ""
    received_size: int = 0
    ending: str = ""
    peer_fingerprint: str = ""


def tls_exchange(address, ctx, data=b"", server_hostname=None, timeout=30, keep=True,
                 half_close=True):
    """One client session: connects, sends `data` on a thread of its own while this thread
    receives, sends close_notify after the last byte and receives until the peer's
    close_notify (or the end). Returns an Exchange (the bytes themselves only when `keep`)."""
    stream = connect_tls(address, ctx, server_hostname, timeout)
    hasher = hashlib.sha256()
    parts = []
    size = [0]
    errors = []

    def sink(chunk):
        hasher.update(chunk)
        size[0] += len(chunk)
        if keep:
            parts.append(chunk)

    def send():
        try:
            stream.send(data)
            stream.close_notify(half_close)
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    sender = threading.Thread(target=send, daemon=True)
    try:
        sender.start()
        ending = stream.receive(sink, timeout=timeout)
        sender.join(timeout)
        assert not sender.is_alive(), "the sending thread is still running"
        if errors:
            raise errors[0]
        return Exchange(b"".join(parts), hasher.hexdigest(), size[0], ending,
                        stream.peer_fingerprint)
    finally:
        stream.close()


# --- a Python TLS server ------------------------------------------------------------------

@dataclass
class Session:
    """What the Python server saw of one client."""
    received: bytes = b""
    ending: str = ""             # "close_notify", "eof", or the error
    handshake_error: str = ""
    server_name: str = None      # the SNI the client sent (None: none)
    peer_cert: bytes = None
    address: object = None       # the client's address (its port tells it apart in -v lines)
    alpn: str = None             # the protocol ALPN chose
    cipher: str = None
    version: str = None          # "TLSv1.3", ...
    done: threading.Event = field(default_factory=threading.Event)


class PyTlsServer:
    """A TLS server on a thread of the test process, on 127.0.0.1 (or ::1, or a Unix path)
    port 0: `port` is known at once, no readiness wait needed. `handler(conn, session)`
    serves each client after the handshake (blocking ssl.SSLSocket with timeouts,
    suppress_ragged_eofs off so that a TCP EOF without close_notify is told apart).
    `sessions` lists every client in order of arrival; stop() closes the listener."""

    def __init__(self, ctx, handler, host="127.0.0.1", unix_path=None, timeout=20):
        self.ctx = ctx
        self.handler = handler
        self.timeout = timeout
        self.sessions = []
        self.arrived = threading.Condition()
        self._stop = threading.Event()
        self._local = threading.local()
        ctx.sni_callback = self._sni
        if unix_path:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(unix_path)
            self.address = unix_path
            self.port = None
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.listener = socket.socket(family, socket.SOCK_STREAM)
            self.listener.bind((host, 0))
            self.port = self.listener.getsockname()[1]
            self.address = (host, self.port)
        self.listener.listen(64)
        self.listener.settimeout(0.2)  # so that stop() is seen within 0.2 s
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _sni(self, sslobj, name, ctx):
        self._local.name = name  # called on the serving thread, during its handshake

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            session = Session()
            session.address = raw.getpeername()
            with self.arrived:
                self.sessions.append(session)
                self.arrived.notify_all()
            threading.Thread(target=self._serve, args=(raw, session), daemon=True).start()

    def _serve(self, raw, session):
        try:
            raw.settimeout(self.timeout)
            try:
                conn = self.ctx.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
            except (ssl.SSLError, OSError) as error:
                session.handshake_error = str(error) or type(error).__name__
                session.server_name = getattr(self._local, "name", None)
                raw.close()
                return
            session.server_name = getattr(self._local, "name", None)
            session.peer_cert = conn.getpeercert(binary_form=True)
            session.alpn = conn.selected_alpn_protocol()
            session.cipher = conn.cipher()[0]
            session.version = conn.version()
            try:
                self.handler(conn, session)
            except (ssl.SSLError, OSError) as error:
                session.ending = session.ending or str(error) or type(error).__name__
            finally:
                conn.close()
        finally:
            session.done.set()

    def wait_sessions(self, count, timeout=20):
        """Waits until `count` clients have arrived and been served; returns the sessions."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.sessions) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"only {len(self.sessions)} of {count} clients arrived"
                self.arrived.wait(left)
        for session in self.sessions[:count]:
            assert session.done.wait(max(0.0, deadline - time.monotonic())), "a session never ended"
        return self.sessions[:count]

    def stop(self):
        self._stop.set()
        self.listener.close()
        self._thread.join(5)


def read_to_close_notify(conn, session, limit=1 << 30):
    """Reads until the client's close_notify (ending "close_notify") or a TCP EOF without it
    ("eof"); returns the bytes."""
    parts = []
    total = 0
    while total <= limit:
        try:
            chunk = conn.recv(1 << 20)
        except ssl.SSLZeroReturnError:
            chunk = b""
        except ssl.SSLError as error:
            if not unexpected_eof(error):
                raise
            session.ending = "eof"
            break
        if not chunk:
            session.ending = "close_notify"
            break
        parts.append(chunk)
        total += len(chunk)
    session.received = b"".join(parts)
    return session.received


def reply_after_eof(make_reply):
    """A handler that reads everything up to the client's close_notify and only THEN sends
    make_reply(received), then its own close_notify (unwrap): a client that stops reading at
    its stdin EOF loses the reply."""
    def handler(conn, session):
        received = read_to_close_notify(conn, session)
        if session.ending != "close_notify":
            return
        conn.sendall(make_reply(received))
        conn.unwrap()
    return handler


def quiet_until_eof(conn, session):
    """A handler that sends nothing and answers the client's close_notify with its own."""
    read_to_close_notify(conn, session)
    if session.ending == "close_notify":
        conn.unwrap()


def send_then_drop(data, wait_for_close_notify):
    """A handler that sends `data` and then closes the TCP connection with a FIN but no
    close_notify (a careless peer, or a truncation attack). With wait_for_close_notify it
    first reads until the client's close_notify, so that nothing unread turns the close into
    a reset."""
    def handler(conn, session):
        conn.sendall(data)
        if wait_for_close_notify:
            read_to_close_notify(conn, session)
        raw = socket.socket(fileno=os.dup(conn.fileno()))
        try:
            raw.shutdown(socket.SHUT_RDWR)
        finally:
            raw.close()
    return handler


def echo_handler(conn, session):
    """Echoes every byte back until the client's close_notify, then answers it."""
    total = 0
    while True:
        try:
            chunk = conn.recv(1 << 20)
        except ssl.SSLZeroReturnError:
            chunk = b""
        except ssl.SSLError as error:
            if not unexpected_eof(error):
                raise
            session.ending = "eof"
            return
        if not chunk:
            session.ending = "close_notify"
            break
        total += len(chunk)
        conn.sendall(chunk)
    session.received = b"%d" % total
    conn.unwrap()


@pytest.fixture
def py_tls_server():
    """py_tls_server(ctx, handler, **kw) starts a PyTlsServer; each is stopped at the end."""
    started = []

    def start(ctx, handler, **kwargs):
        server = PyTlsServer(ctx, handler, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --- third-party TLS servers --------------------------------------------------------------

def s_server_argv(credential, *extra):
    """openssl s_server on 127.0.0.1; give it "-accept" through start_foreign_server's port."""
    def make(port):
        return [OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", credential.cert,
                "-key", credential.key, *extra]
    return make


def ncat_server_argv(credential, *extra):
    def make(port):
        return [NCAT, "--ssl", "--ssl-cert", credential.cert, "--ssl-key", credential.key,
                *extra, "-l", "127.0.0.1", str(port)]
    return make


def socat_server_argv(credential, program, *options):
    def make(port):
        address = ",".join([f"OPENSSL-LISTEN:{port}", "bind=127.0.0.1", "reuseaddr",
                            f"cert={credential.cert}", f"key={credential.key}", "verify=0",
                            *options])
        return [SOCAT, "-t", "10", address, program]
    return make


@pytest.fixture
def foreign():
    """foreign(make_argv, **popen_kwargs) starts a third-party server on a free port of
    127.0.0.1, waits (bounded) until it listens and returns (process, port); each is ended,
    by PID, when the test is over."""
    started = []

    def start(make_argv, **kwargs):
        proc, port = start_foreign_server(make_argv, **kwargs)
        started.append(proc)
        return proc, port

    yield start
    for proc in started:
        stop_process(proc)

