"""Real proxy daemons we did not write, for the proxy end-to-end tests (issue 13): dante
(`danted`, SOCKS4 and SOCKS5 without authentication), microsocks (SOCKS5 with username and
password), tinyproxy (HTTP CONNECT with Basic auth, and an open one for clients that cannot send
a password) and OpenSSH's sshd, each started in the foreground as a child of the test process,
on 127.0.0.1 and a free port, with a throwaway configuration (and keys) in a pytest temporary
directory. Also the loopback targets that tunnels reach: a threaded TCP echo server and an HTTP
server, both on 127.0.0.1 and, where the machine has it, ::1 at the same port (so that the name
`localhost` works whichever address a proxy resolves it to).

Use from a test file by binding the fixtures in it (pytest finds fixtures among a module's
names; an assignment, unlike an import used only as parameter names, keeps pyflakes quiet):

    import helpers_proxy
    danted = helpers_proxy.danted
    echo_target = helpers_proxy.echo_target

Module-scoped fixtures: `danted`, `microsocks`, `tinyproxy`, `tinyproxy_open`, `sshd`,
`echo_target`, `http_target`. Function-scoped `private_daemons` starts instances of one test's
own (e.g. to kill one mid-test). Every daemon object has `host`, `port`, `pid`, `log()` (its
output so far, for failure messages) and `stop()`; the proxies with credentials have `user` and
`password`. A daemon is ready when its port accepts a connection and `ss` shows that the
listening socket is its own; every wait has a deadline, and stop() ends exactly the PID we
started (then, by PID, whatever children it leaves behind)."""
import http.server
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import socketserver
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers_peers import NC_OPENBSD, SS, finish, free_port, read_until, stop_process

LOOP4 = "127.0.0.1"
LOOP6 = "::1"

DANTED = shutil.which("danted") or "/usr/sbin/danted"
MICROSOCKS = shutil.which("microsocks") or "/usr/bin/microsocks"
TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
SSHD = "/usr/sbin/sshd"  # sshd re-executes itself and insists on an absolute path
SSH = shutil.which("ssh") or "/usr/bin/ssh"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
CURL = shutil.which("curl") or "/usr/bin/curl"

START_TIMEOUT = 10  # seconds for a daemon to accept connections
STOP_TIMEOUT = 5

# The name under which the sshd fixture's host key is in its known-hosts file: ssh_argv() passes
# -o HostKeyAlias with it, so the strict host key check holds whatever address or tunnel ssh
# goes through.
HOST_KEY_ALIAS = "sockcat-test-sshd"


def is_root():
    return os.geteuid() == 0


def have_ipv6_loopback():
    """True when ::1 can be bound here."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind((LOOP6, 0))
        return True
    except OSError:
        return False


def require(path, package):
    """Skips the test when `path` is not installed (scripts/setup.sh installs `package`)."""
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not installed (Debian package {package}; see scripts/setup.sh)")


def clean_env():
    """The environment without proxy variables (curl and others obey http_proxy, ALL_PROXY...)
    and without an ssh agent."""
    return {key: value for key, value in os.environ.items()
            if "proxy" not in key.lower() and key != "SSH_AUTH_SOCK"}


# --- processes ------------------------------------------------------------------------------

def _proc_stat(pid):
    """(state, ppid, starttime) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), fields[19]


def descendants(pid):
    """{pid: starttime} of every live descendant of `pid` (from /proc), so that each can later
    be told apart from a new process that reuses its number."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat and stat[0] != "Z":
                children.setdefault(stat[1], []).append((int(entry), stat[2]))
    found = {}
    todo = [pid]
    for _ in range(100000):  # bounded walk of the process tree
        if not todo:
            break
        for child, start in children.get(todo.pop(), ()):
            if child not in found:
                found[child] = start
                todo.append(child)
    return found


def still_running(pid, starttime):
    stat = _proc_stat(pid)
    return stat is not None and stat[0] != "Z" and stat[2] == starttime


def end_leftovers(processes, timeout=STOP_TIMEOUT):
    """Ends, by PID, those of `processes` ({pid: starttime}, from descendants()) still running:
    SIGTERM, a bounded wait, then SIGKILL. Returns the PIDs that had to be signalled."""
    signalled = []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = [pid for pid, start in processes.items() if still_running(pid, start)]
        for pid in left:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
            if pid not in signalled:
                signalled.append(pid)
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            left = [pid for pid in left if still_running(pid, processes[pid])]
            if left:
                time.sleep(0.02)
        if not left:
            break
    return signalled


def listener_pids(port):
    """PIDs that hold a TCP socket listening on local `port`, per `ss -p`."""
    out = subprocess.run([SS, "-ltnpH", f"sport = :{port}"], capture_output=True, text=True,
                         timeout=10).stdout
    return {int(pid) for pid in re.findall(r"pid=(\d+)", out)}


def listening_addresses(pid):
    """The local addresses (e.g. '127.0.0.1:1080') of the TCP sockets `pid` listens on."""
    out = subprocess.run([SS, "-ltnpH"], capture_output=True, text=True, timeout=10).stdout
    addresses = []
    for line in out.splitlines():
        if re.search(rf"pid={pid},", line):
            addresses.append(line.split()[3])
    return addresses


def wait_accepting(proc, host, port, timeout=START_TIMEOUT):
    """Polls (bounded in time and count) until `host`:`port` accepts a connection AND the
    listening socket belongs to `proc` (not to someone who took the port meanwhile).
    Returns None when ready, else why not."""
    deadline = time.monotonic() + timeout
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(int(timeout / 0.02) + 10):
        if proc.poll() is not None:
            return f"exited with status {proc.returncode}"
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
                probe.connect((host, port))
        except OSError:
            pass
        else:
            if proc.pid in listener_pids(port):
                return None
            # Someone else's socket: ours cannot bind, will exit, and we try another port.
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return f"not accepting on {host}:{port} within {timeout} s"


class Daemon:
    """A daemon we started in the foreground: `host`, `port`, `pid`, `log()`, `stop()`, and
    per kind `user`, `password` and more (see the start_* functions)."""

    user = None
    password = None

    def __init__(self, name, argv, proc, port, directory, log_path, **extra):
        self.name = name
        self.argv = argv
        self.proc = proc
        self.pid = proc.pid
        self.host = LOOP4
        self.port = port
        self.directory = Path(directory)
        self.log_path = Path(log_path)
        self.leftovers = []  # children that outlived the daemon and had to be ended by PID
        for key, value in extra.items():
            setattr(self, key, value)

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def log(self):
        """Everything the daemon wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"(no log: {error})"

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """Ends the daemon we started: SIGTERM to its PID, a bounded wait, SIGKILL; then any of
        its children still running (danted's helpers, sshd's sessions), each by its PID."""
        children = descendants(self.pid) if self.alive() else {}
        stop_process(self.proc, STOP_TIMEOUT)
        self.leftovers += end_leftovers(children)

    def __repr__(self):
        return f"<{self.name} pid {self.pid} on {self.address}>"


def start_daemon(name, directory, prepare, attempts=3, timeout=START_TIMEOUT, cls=Daemon,
                 **extra):
    """Starts a daemon on a free port of 127.0.0.1. `prepare(port)` writes its configuration
    for that port and returns its argv. stdout and stderr go to DIRECTORY/NAME.log. A port
    taken between our probe and the daemon's bind means another try on a new port. Fails the
    test, with the daemon's log, when it exits or does not accept within `timeout`."""
    directory = Path(directory)
    failures = []
    for attempt in range(1, attempts + 1):
        port = free_port()
        argv = [str(arg) for arg in prepare(port)]
        log_path = directory / f"{name}.log"
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                    stderr=subprocess.STDOUT, cwd=directory, env=clean_env(),
                                    start_new_session=True)
        daemon = cls(name, argv, proc, port, directory, log_path, **extra)
        problem = wait_accepting(proc, LOOP4, port, timeout)
        if problem is None:
            return daemon
        daemon.stop()
        failures.append(f"attempt {attempt}: {argv}: {problem}; log:\n{daemon.log()}")
        if problem.startswith("not accepting"):
            break  # a hang is not a lost port race
    pytest.fail(f"{name} did not start:\n" + "\n".join(failures))


def write(path, text, mode=0o644):
    path = Path(path)
    path.write_text(text)
    os.chmod(path, mode)
    return path


# --- dante ----------------------------------------------------------------------------------

def danted_version():
    out = subprocess.run([DANTED, "-v"], capture_output=True, text=True, timeout=10)
    return (out.stdout + out.stderr).strip()


def danted_config(port, ipv6=True):
    """A danted.conf (Dante 1.4.x keywords) for 127.0.0.1:`port`: SOCKS4 and SOCKS5, no
    authentication, clients from loopback only, CONNECT only, and to loopback destinations
    only (127.0.0.0/8 and, with `ipv6`, ::1); everything else is blocked and logged."""
    sources = ["127.0.0.0/8", "::1/128"]
    targets = ["127.0.0.0/8"] + (["::1/128"] if ipv6 else [])
    lines = [
        "logoutput: stderr",
        f"internal: {LOOP4} port = {port}",
        f"external: {LOOP4}",
    ]
    if ipv6:
        lines.append(f"external: {LOOP6}")
    lines += [
        "socksmethod: none",
        "clientmethod: none",
        "timeout.negotiate: 10",
        "timeout.connect: 10",
    ]
    if is_root():
        # Privileged operations as root, the rest of the time as nobody.
        lines += ["user.privileged: root", "user.unprivileged: nobody"]
    # Rule bodies take one keyword per line: `command: connect log: ...` on one line is a
    # syntax error in 1.4.2 (the keyword lists run on).
    for source in sources:
        lines += ["client pass {", f"  from: {source} to: {source}", "  log: error", "}"]
    for source, target in [(s, t) for s in sources for t in targets]:
        lines += ["socks pass {", f"  from: {source} to: {target}", "  command: connect",
                  "  log: connect disconnect error", "}"]
    for everything in ("0.0.0.0/0", "::/0"):
        lines += ["client block {", f"  from: {everything} to: {everything}",
                  "  log: connect error", "}"]
        lines += ["socks block {", f"  from: {everything} to: {everything}",
                  "  log: connect error", "}"]
    return "\n".join(lines) + "\n"


def start_danted(directory, **kwargs):
    """danted on 127.0.0.1: SOCKS4 and SOCKS5 CONNECT without authentication (see
    danted_config). Dante 1.4.2 does NOT implement SOCKS4a: a 4a request is read as plain
    SOCKS4 to 0.0.0.x and blocked. Its log has one `pass(N): tcp/connect [: CLIENT PROXY ->
    SOURCE TARGET` line per tunnel, addresses written as 127.0.0.1.PORT."""
    require(DANTED, "dante-server")
    directory = Path(directory)
    config = directory / "danted.conf"
    ipv6 = have_ipv6_loopback()

    def prepare(port):
        write(config, danted_config(port, ipv6))
        return [DANTED, "-f", config, "-p", directory / "danted.pid"]

    return start_daemon("danted", directory, prepare, config=config, version=danted_version(),
                        **kwargs)


# --- microsocks -----------------------------------------------------------------------------

def start_microsocks(directory, user="sockcat", password=None, **kwargs):
    """microsocks on 127.0.0.1: SOCKS5 only, username/password (RFC 1929) required (no -1
    auth-once: every connection authenticates). It cannot restrict destinations. Its log has
    `client[N] 127.0.0.1: connected to HOST:PORT` per tunnel, nothing for a refused login."""
    require(MICROSOCKS, "microsocks")
    password = password or "pw-" + secrets.token_hex(8)

    def prepare(port):
        return [MICROSOCKS, "-i", LOOP4, "-p", port, "-u", user, "-P", password]

    return start_daemon("microsocks", directory, prepare, user=user, password=password, **kwargs)


# --- tinyproxy ------------------------------------------------------------------------------

def tinyproxy_version():
    out = subprocess.run([TINYPROXY, "-v"], capture_output=True, text=True, timeout=10)
    return (out.stdout + out.stderr).strip()


# Destinations tinyproxy's filter lets through (extended regexes on the host of the request).
TINYPROXY_ALLOWED = [r"^127\.0\.0\.1$", r"^localhost$", r"^::1$", r"^\[::1\]$"]


def tinyproxy_config(port, directory, auth=None):
    lines = [
        f"Port {port}",
        f"Listen {LOOP4}",
        f"Allow {LOOP4}",
        "Timeout 30",
        "MaxClients 100",
        "LogLevel Info",  # no LogFile and no Syslog: with -d the log goes to stdout
        f'PidFile "{directory}/tinyproxy.pid"',
        "DisableViaHeader Yes",
        # No ConnectPort line: CONNECT is allowed to every port (tinyproxy.conf(5), 1.11).
        # Destinations are limited to loopback names by a default-deny filter instead.
        f'Filter "{directory}/filter"',
        "FilterType ere",
        "FilterDefaultDeny Yes",
    ]
    if is_root():
        lines += ["User nobody", "Group nogroup"]  # config and filter are read before this
    if auth:
        lines.append(f"BasicAuth {auth[0]} {auth[1]}")
    return "\n".join(lines) + "\n"


def start_tinyproxy(directory, user="sockcat", password=None, auth=True, **kwargs):
    """tinyproxy on 127.0.0.1 in the foreground (-d): HTTP CONNECT to any port of a loopback
    destination (127.0.0.1, ::1, localhost; anything else gets 403), and plain proxied GET.
    With `auth`, `BasicAuth USER PASSWORD`: no credentials get 407, but WRONG credentials get
    401 (a tinyproxy 1.11 quirk). Without `auth` it is open (for OpenBSD nc, which cannot send
    a proxy password from a script)."""
    require(TINYPROXY, "tinyproxy")
    directory = Path(directory)
    if auth:
        password = password or "pw-" + secrets.token_hex(8)
    else:
        user = password = None
    write(directory / "filter", "\n".join(TINYPROXY_ALLOWED) + "\n")
    config = directory / "tinyproxy.conf"

    def prepare(port):
        write(config, tinyproxy_config(port, directory, (user, password) if auth else None))
        return [TINYPROXY, "-d", "-c", config]

    return start_daemon("tinyproxy", directory, prepare, user=user, password=password,
                        config=config, version=tinyproxy_version(), **kwargs)


# --- sshd -----------------------------------------------------------------------------------

def keygen(path, comment):
    """A throwaway ed25519 key pair at `path` and `path`.pub (no passphrase)."""
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                   check=True, capture_output=True, timeout=30)
    return Path(path)


class SshDaemon(Daemon):
    """sshd with `user`, `client_key`, `known_hosts`, `host_key_alias` and ssh_argv()."""

    def ssh_argv(self, extra_options=(), command=("echo", "ok"), host=None, port=None):
        """The full ssh command line for this sshd: no config files, no agent, only the
        throwaway client key, batch mode, the host key checked strictly against the known-hosts
        file (under HostKeyAlias, so a tunnel or another address changes nothing), then
        `extra_options` (e.g. ["-o", "ProxyCommand=..."]), the destination and `command`."""
        return [SSH, "-F", "/dev/null",
                "-o", "BatchMode=yes",
                "-o", "IdentityAgent=none",
                "-o", "IdentitiesOnly=yes",
                "-i", str(self.client_key),
                "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", f"HostKeyAlias={self.host_key_alias}",
                "-o", "StrictHostKeyChecking=yes",
                "-o", "UpdateHostKeys=no",
                "-o", "PasswordAuthentication=no",
                "-o", "KbdInteractiveAuthentication=no",
                "-o", "ControlMaster=no",
                "-o", "ControlPath=none",
                "-o", "ForwardAgent=no",
                "-o", "ForwardX11=no",
                "-o", "ConnectTimeout=10",
                "-o", "LogLevel=ERROR",
                "-T",
                *[str(option) for option in extra_options],
                "-p", str(port or self.port),
                "-l", self.user,
                host or self.host,
                *[str(word) for word in command]]


def sshd_config(port, directory):
    return "\n".join([
        f"ListenAddress {LOOP4}:{port}",
        "AddressFamily inet",
        f"HostKey {directory}/host_key",
        f"PidFile {directory}/sshd.pid",
        f"AuthorizedKeysFile {directory}/authorized_keys",
        "AuthenticationMethods publickey",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "UsePAM no",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "X11Forwarding no",
        "AllowAgentForwarding no",
        "LoginGraceTime 30",
        "MaxStartups 50:30:100",
        "LogLevel VERBOSE",
    ]) + "\n"


def start_sshd(directory, **kwargs):
    """OpenSSH's sshd on 127.0.0.1 (-D -e: foreground, log to stderr) with a throwaway ed25519
    host key and one authorised throwaway client key; logs in as the current user (root here).
    Returns an SshDaemon."""
    require(SSHD, "openssh-server")
    require(SSH, "openssh-client")
    directory = Path(directory)
    if is_root() and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
    host_key = keygen(directory / "host_key", "sockcat-test-host")
    client_key = keygen(directory / "client_key", "sockcat-test-client")
    shutil.copyfile(f"{client_key}.pub", directory / "authorized_keys")
    host_public = " ".join(Path(f"{host_key}.pub").read_text().split()[:2])
    known_hosts = directory / "known_hosts"
    config = directory / "sshd_config"

    def prepare(port):
        write(config, sshd_config(port, directory))
        write(known_hosts, f"{HOST_KEY_ALIAS} {host_public}\n[{LOOP4}]:{port} {host_public}\n")
        return [SSHD, "-D", "-e", "-f", config]

    return start_daemon("sshd", directory, prepare, cls=SshDaemon,
                        user=pwd.getpwuid(os.geteuid()).pw_name, client_key=client_key,
                        host_key=host_key, known_hosts=known_hosts,
                        host_key_alias=HOST_KEY_ALIAS, config=config, **kwargs)


def nc_proxy_command(proxy, version="5"):
    """An ssh ProxyCommand that goes through `proxy` (a daemon) with OpenBSD nc -X VERSION."""
    return f"{NC_OPENBSD} -X {version} -x {proxy.host}:{proxy.port} %h %p"


# --- loopback targets -----------------------------------------------------------------------

def loopback_listeners(attempts=50):
    """Listening sockets on 127.0.0.1 and (where it exists) ::1, at one port; returns
    (sockets, port). A port free on 127.0.0.1 but taken on ::1 means another try."""
    want_v6 = have_ipv6_loopback()
    for _ in range(attempts):
        v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        v4.bind((LOOP4, 0))
        port = v4.getsockname()[1]
        if not want_v6:
            v4.listen(128)
            return [v4], port
        v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            v6.bind((LOOP6, port))
        except OSError:
            v4.close()
            v6.close()
            continue
        v4.listen(128)
        v6.listen(128)
        return [v4, v6], port
    raise AssertionError(f"no port free on both {LOOP4} and {LOOP6} in {attempts} tries")


class _Target:
    """Servers for one service on 127.0.0.1 (and ::1) at one port: `host`, `port`, `hosts`,
    `log()`, `connections`."""

    def __init__(self, name, handler, extra_server_attributes=None):
        self.name = name
        self.host = LOOP4
        self.lines = []
        self.connections = 0
        self._lock = threading.Lock()
        sockets, self.port = loopback_listeners()
        self.hosts = [LOOP4, LOOP6][:len(sockets)]
        self.servers = []
        self.threads = []
        for sock in sockets:
            server_class = type(f"{name}Server", (socketserver.ThreadingTCPServer,),
                                {"address_family": sock.family, "daemon_threads": True,
                                 "block_on_close": False})
            server = server_class((sock.getsockname()[0], self.port), handler,
                                  bind_and_activate=False)
            server.socket.close()
            server.socket = sock
            server.target = self
            for key, value in (extra_server_attributes or {}).items():
                setattr(server, key, value)
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      daemon=True, name=f"{name}-{sock.family.name}")
            thread.start()
            self.servers.append(server)
            self.threads.append(thread)

    def note(self, line):
        with self._lock:
            self.lines.append(line)

    def count(self):
        with self._lock:
            self.connections += 1

    def log(self):
        with self._lock:
            return "\n".join(self.lines)

    def close(self):
        for server in self.servers:
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(STOP_TIMEOUT)


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        target = self.server.target
        target.count()
        conn = self.request
        conn.settimeout(60)
        peer = "%s:%d" % conn.getpeername()[:2]
        total = 0
        try:
            for _ in range(1 << 30):  # ends at EOF; bounded anyway
                data = conn.recv(1 << 16)
                if not data:
                    break
                conn.sendall(data)
                total += len(data)
            conn.shutdown(socket.SHUT_WR)
            target.note(f"{peer}: echoed {total} bytes, then EOF both ways")
        except OSError as error:
            target.note(f"{peer}: {error!r} after {total} bytes")


class EchoTarget(_Target):
    """A threaded TCP echo server: sends back every byte, and after the client's EOF sends its
    own EOF. log() has one line per connection."""

    def __init__(self):
        super().__init__("echo", _EchoHandler)


def body_of_size(size):
    """The deterministic body `/size/N` of the HTTP target serves."""
    block = b"".join(b"%07d sockcat proxy test line\n" % i for i in range(1024))
    return (block * (size // len(block) + 1))[:size]


class _HttpHandler(http.server.BaseHTTPRequestHandler):
    server_version = "sockcat-test-target"

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.target.count()
        match = re.fullmatch(r"/size/(\d{1,9})", self.path)
        if self.path == "/":
            body = self.server.body
        elif match and int(match.group(1)) <= 64 << 20:
            body = body_of_size(int(match.group(1)))
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        self.server.target.note("%s %s" % (self.address_string(), format % args))


class HttpTarget(_Target):
    """An HTTP/1.0 server: GET / answers `body` (unique per instance), GET /size/N answers
    body_of_size(N), anything else 404. log() has one line per request."""

    def __init__(self):
        self.body = b"sockcat proxy peer target " + secrets.token_hex(16).encode() + b"\n"
        super().__init__("http", _HttpHandler, {"body": self.body})

    def url(self, path="/", host=None):
        host = host or self.host
        return f"http://{'[%s]' % host if ':' in host else host}:{self.port}{path}"


# --- clients we did not write ---------------------------------------------------------------

def run_curl(*args, timeout=30):
    """Runs curl (no ~/.curlrc, no proxy variables) with the body on stdout. Returns
    (CompletedProcess, http_code, http_connect): the two codes curl's -w gives (0 when none),
    taken from stderr, where -w writes them after curl's own error line."""
    argv = [CURL, "-q", "--silent", "--show-error", "--max-time", str(timeout - 5),
            "--write-out", "%{stderr}CURL-CODES %{http_code} %{http_connect}\n",
            *[str(arg) for arg in args]]
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=timeout, env=clean_env())
    match = re.search(rb"CURL-CODES (\d+) (\d+)", result.stderr)
    codes = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    return result, codes[0], codes[1]


def run_nc_through(proxy, version, host, port, data, timeout=30):
    """OpenBSD nc -N -X VERSION -x PROXY HOST PORT with `data` on stdin (in a session of its
    own: no terminal to ask a password on). Returns the CompletedProcess."""
    argv = [NC_OPENBSD, "-N", "-X", str(version), "-x", f"{proxy.host}:{proxy.port}",
            str(host), str(port)]
    return subprocess.run(argv, input=data, capture_output=True, timeout=timeout,
                          env=clean_env(), start_new_session=True)


def nc_exchange(proxy, version, host, port, data, timeout=30):
    """OpenBSD nc -N -X VERSION -x PROXY HOST PORT as a conversation: sends `data`, reads until
    as many bytes came back (an echo), and only then closes nc's stdin (-N: nc then shuts the
    tunnel down). For proxies that drop what is still in flight once the client has sent its
    EOF (tinyproxy does). Returns (status, reply, stderr)."""
    argv = [NC_OPENBSD, "-N", "-X", str(version), "-x", f"{proxy.host}:{proxy.port}",
            str(host), str(port)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=clean_env(), start_new_session=True)
    try:
        def send():
            try:
                proc.stdin.write(data)
                proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass

        writer = threading.Thread(target=send, daemon=True)
        writer.start()
        reply = read_until(proc.stdout, lambda got: len(got) >= len(data), timeout=timeout)
        writer.join(timeout)
        status, rest, stderr = finish(proc, timeout)
        return status, reply + (rest or b""), stderr
    finally:
        stop_process(proc)


def run_ssh(sshd, extra_options=(), command=("echo", "ok"), input=None, timeout=30, **kwargs):
    """Runs sshd.ssh_argv(...) to completion with `input` (bytes) or /dev/null on stdin, in a
    session of its own; returns the CompletedProcess."""
    stdin = {} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(sshd.ssh_argv(extra_options, command, **kwargs), input=input,
                          capture_output=True, timeout=timeout, env=clean_env(),
                          start_new_session=True, **stdin)


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def echo_target():
    """A TCP echo server on 127.0.0.1 (and ::1) at `port` (EchoTarget)."""
    target = EchoTarget()
    yield target
    target.close()


@pytest.fixture(scope="module")
def http_target():
    """An HTTP server on 127.0.0.1 (and ::1) at `port`; `body`, `url()` (HttpTarget)."""
    target = HttpTarget()
    yield target
    target.close()


@pytest.fixture(scope="module")
def danted(tmp_path_factory):
    """danted: SOCKS4/SOCKS5, no authentication, loopback destinations only (start_danted)."""
    daemon = start_danted(tmp_path_factory.mktemp("danted"))
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def microsocks(tmp_path_factory):
    """microsocks: SOCKS5 with `user`/`password` (start_microsocks)."""
    daemon = start_microsocks(tmp_path_factory.mktemp("microsocks"))
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def tinyproxy(tmp_path_factory):
    """tinyproxy: HTTP CONNECT with BasicAuth `user`/`password` (start_tinyproxy)."""
    daemon = start_tinyproxy(tmp_path_factory.mktemp("tinyproxy"))
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def tinyproxy_open(tmp_path_factory):
    """tinyproxy without authentication (user and password None), for OpenBSD nc."""
    daemon = start_tinyproxy(tmp_path_factory.mktemp("tinyproxy-open"), auth=False)
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """sshd on loopback (SshDaemon: port, user, client_key, known_hosts, ssh_argv())."""
    daemon = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield daemon
    daemon.stop()


class PrivateDaemons:
    """Daemons of one test's own, each in a directory of its own under the test's tmp_path:
    private_daemons.danted(), .microsocks(...), .tinyproxy(...), .sshd(); stopped at the end."""

    def __init__(self, tmp_path):
        self.tmp_path = Path(tmp_path)
        self.started = []
        self.made = 0

    def _start(self, start, name, **kwargs):
        self.made += 1
        directory = self.tmp_path / f"{name}-{self.made}"
        directory.mkdir()
        daemon = start(directory, **kwargs)
        self.started.append(daemon)
        return daemon

    def danted(self, **kwargs):
        return self._start(start_danted, "danted", **kwargs)

    def microsocks(self, **kwargs):
        return self._start(start_microsocks, "microsocks", **kwargs)

    def tinyproxy(self, **kwargs):
        return self._start(start_tinyproxy, "tinyproxy", **kwargs)

    def sshd(self, **kwargs):
        return self._start(start_sshd, "sshd", **kwargs)

    def stop_all(self):
        for daemon in self.started:
            daemon.stop()


@pytest.fixture
def private_daemons(tmp_path):
    daemons = PrivateDaemons(tmp_path)
    yield daemons
    daemons.stop_all()
