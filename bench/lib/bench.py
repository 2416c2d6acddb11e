#!/usr/bin/python3
"""sockcat benchmark orchestrator. Started by bench/run.sh; see bench/README.md.

    python3 bench/lib/bench.py run              settings from the environment
    python3 bench/lib/bench.py summarize DIR    re-create DIR/summary.md from DIR/raw.tsv

Every process it starts runs under `timeout` (its own process group, led by the timeout
process whose PID is kept) and, where CPU time matters, under bin/runstat, which records
the command's user+sys time and peak RSS from wait4() when it ends. Servers are stopped by
sending SIGTERM to their timeout wrapper; anything of that group still alive afterwards is
killed by PID. The load generators are bounded by time and by an operation count.
"""
import csv
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = ["nc-openbsd", "ncat", "socat"]
DEVNULL = subprocess.DEVNULL


def helper(name):
    return os.path.join(BENCH, "bin", name)


def log(msg):
    sys.stderr.write(time.strftime("[%H:%M:%S] ") + msg + "\n")
    sys.stderr.flush()


def parse_size(text):
    text = text.strip()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text and text[-1].upper() in mult:
        return int(float(text[:-1]) * mult[text[-1].upper()])
    return int(text)


def human_bytes(n):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{n}B"


# ----------------------------------------------------------------------------- settings

class Config:
    def __init__(self):
        e = os.environ
        self.smoke = e.get("SMOKE", "0") == "1"
        s = self.smoke

        def get(name, full, smoke):
            return e.get(name) or (smoke if s else full)

        self.reps = int(get("REPS", "5", "1"))
        all_sections = "tcp udp echo framed churn zio hold idle tls-bulk tls-echo tls-churn tls-hold forward"
        self.sections = get("SECTIONS", all_sections, all_sections).split()
        self.tools = get("TOOLS", "sockcat nc-openbsd ncat socat", "sockcat").split()
        self.bulk = parse_size(get("BULK_BYTES", "2G", "32M"))
        self.verify = parse_size(get("VERIFY_BYTES", "256M", "8M"))
        self.bulk_timeout = int(get("BULK_TIMEOUT", "120", "30"))
        self.udp_count = int(get("UDP_COUNT", "200000", "5000"))
        self.udp_size = int(get("UDP_SIZE", "1400", "1400"))
        self.udp_timeout = int(get("UDP_TIMEOUT", "60", "20"))
        self.echo_conns = [int(x) for x in get("ECHO_CONNS", "1 10 100 1000", "1 10").split()]
        self.churn_conns = [int(x) for x in get("CHURN_CONNS", "10", "10").split()]
        self.echo_secs = float(get("ECHO_SECS", "3", "1"))
        self.echo_setup = float(get("ECHO_SETUP_S", "20", "5"))
        self.max_ops = int(get("MAX_OPS", "5000000", "500000"))
        self.zio_runs = int(get("ZIO_RUNS", "100", "5"))
        self.hold_conns = int(get("HOLD_CONNS", "10000", "200"))
        self.hold_secs = float(get("HOLD_SECS", "2", "0.3"))
        self.hold_setup = float(get("HOLD_SETUP_S", "60", "10"))
        self.tls_bulk = parse_size(get("TLS_BULK_BYTES", "1G", "8M"))
        self.tls_verify = parse_size(get("TLS_VERIFY_BYTES", "64M", "2M"))
        self.tls_echo_conns = [int(x) for x in get("TLS_ECHO_CONNS", "1 100 1000", "10").split()]
        self.tls_churn_conns = [int(x) for x in get("TLS_CHURN_CONNS", "10", "10").split()]
        self.tls_secs = float(get("TLS_SECS", e.get("ECHO_SECS") or "3", "0.5"))
        self.tls_hold_conns = int(get("TLS_HOLD_CONNS", "10000", "100"))
        self.fwd_bulk = parse_size(get("FORWARD_BULK_BYTES", "1G", "8M"))
        self.fwd_verify = parse_size(get("FORWARD_VERIFY_BYTES", "64M", "2M"))
        self.fwd_echo_conns = [int(x) for x in get("FORWARD_ECHO_CONNS", "1 100 1000", "10").split()]
        self.fwd_churn_conns = [int(x) for x in get("FORWARD_CHURN_CONNS", "10", "10").split()]
        self.fwd_secs = float(get("FORWARD_SECS", e.get("ECHO_SECS") or "3", "0.5"))
        self.fwd_hold_conns = int(get("FORWARD_HOLD_CONNS", "10000", "100"))
        self.host = get("HOST", "127.0.0.1", "127.0.0.1")
        self.iperf3 = get("IPERF3", "1", "0") == "1"
        self.hyperfine = get("HYPERFINE", "1", "0") == "1"
        self.port = int(get("PORT_BASE", "20000", "20000"))
        self.sockcat = e.get("SOCKCAT_BIN") or os.path.join(BENCH, "build", "sockcat")
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.out = e.get("OUT") or os.path.join(BENCH, "results", stamp + ("-smoke" if s else ""))
        self.netns = e.get("BENCH_IN_NETNS", "0") == "1"

    def describe(self):
        return (f"REPS={self.reps} SECTIONS='{' '.join(self.sections)}' TOOLS='{' '.join(self.tools)}' "
                f"BULK_BYTES={human_bytes(self.bulk)} VERIFY_BYTES={human_bytes(self.verify)} "
                f"UDP_COUNT={self.udp_count} UDP_SIZE={self.udp_size} "
                f"ECHO_CONNS='{' '.join(map(str, self.echo_conns))}' CHURN_CONNS='{' '.join(map(str, self.churn_conns))}' "
                f"ECHO_SECS={self.echo_secs:g} ECHO_SETUP_S={self.echo_setup:g} MAX_OPS={self.max_ops} "
                f"ZIO_RUNS={self.zio_runs} HOLD_CONNS={self.hold_conns} HOLD_SECS={self.hold_secs:g} "
                f"TLS_BULK_BYTES={human_bytes(self.tls_bulk)} TLS_VERIFY_BYTES={human_bytes(self.tls_verify)} "
                f"TLS_ECHO_CONNS='{' '.join(map(str, self.tls_echo_conns))}' "
                f"TLS_CHURN_CONNS='{' '.join(map(str, self.tls_churn_conns))}' TLS_SECS={self.tls_secs:g} "
                f"TLS_HOLD_CONNS={self.tls_hold_conns} "
                f"FORWARD_BULK_BYTES={human_bytes(self.fwd_bulk)} FORWARD_VERIFY_BYTES={human_bytes(self.fwd_verify)} "
                f"FORWARD_ECHO_CONNS='{' '.join(map(str, self.fwd_echo_conns))}' "
                f"FORWARD_CHURN_CONNS='{' '.join(map(str, self.fwd_churn_conns))}' FORWARD_SECS={self.fwd_secs:g} "
                f"FORWARD_HOLD_CONNS={self.fwd_hold_conns} "
                f"HOST={self.host} IPERF3={int(self.iperf3)} SMOKE={int(self.smoke)}")


# ----------------------------------------------------------------------------- tools

TLS_SUITE = "TLS_AES_128_GCM_SHA256"
TLS_EXPECTED = "TLSv1.3/" + TLS_SUITE   # what every TLS row must negotiate

# OPENSSL_CONF for ncat and socat: neither has an option for the TLS 1.3 suites (ncat's
# --ssl-ciphers and socat's cipher= set the TLS 1.2 cipher list only), but both let libssl
# load its configuration, whose system_default section applies to every context they make.
TLS_OPENSSL_CNF = f"""openssl_conf = bench_init
[bench_init]
ssl_conf = bench_ssl
[bench_ssl]
system_default = bench_tls13
[bench_tls13]
MinProtocol = TLSv1.3
Ciphersuites = {TLS_SUITE}
"""


def tool_table(sockcat):
    """How each tool is driven in each mode. {H} host, {HB} host ([::1] for IPv6), {V} 4 or 6,
    {P} port, {TMP} scratch folder; TLS: {CERT} and {KEY} (PEM, made at run time), {TLSCNF}
    (TLS_OPENSSL_CNF); forward: {TP} the target's port, {HAPCFG} haproxy's configuration
    (HAPROXY_CFG, written per run). A mode a tool lacks is simply absent. "c-tls" is the TLS
    limit row, "haproxy" the forward section's."""
    S = sockcat
    s13 = ["--ssl-ciphers", TLS_SUITE, "--ssl-min-version", "1.3"]
    s_srv = ["--ssl", "--ssl-cert", "{CERT}", "--ssl-key", "{KEY}"] + s13
    ncat_tls = ["env", "OPENSSL_CONF={TLSCNF}", "ncat", "--ssl"]
    socat_tls = ["env", "OPENSSL_CONF={TLSCNF}", "socat"]
    socat_srv = "cert={CERT},key={KEY},verify=0,min-version=TLS1.3,pf=ip{V}"
    return {
        "c-tls": {
            "bin": helper("tls_server"), "version": ["openssl", "version"],
            "tls_recv": [helper("tls_server"), "-m", "sink", "-H", "{H}", "-p", "{P}", "-c", "{CERT}", "-k", "{KEY}",
                         "-t", "600"],
            "tls_send": [helper("tls_send"), "{H}", "{P}"],
            "tls_echo": [helper("tls_server"), "-m", "echo", "-H", "{H}", "-p", "{P}", "-c", "{CERT}", "-k", "{KEY}"],
        },
        "sockcat": {
            "bin": S, "version": [S, "--version"],
            "tcp_recv": [S, "listen", "-b", "{H}", "-p", "{P}"],
            "tcp_send": [S, "connect", "{H}", "{P}"],
            "udp_recv": [S, "listen", "-u", "-b", "{H}", "-p", "{P}"],
            "udp_send": [S, "connect", "-u", "{H}", "{P}"],
            "echo": [S, "listen", "-b", "{H}", "-p", "{P}", "--transform", "echo"],
            "echo_line": [S, "listen", "-b", "{H}", "-p", "{P}", "--transform", "echo", "--framing", "line"],
            "zio": [S, "connect", "-z", "{H}", "{P}"],
            "idle": [S, "listen", "-b", "{H}", "-p", "{P}"],
            "tls_recv": [S, "listen", "-b", "{H}", "-p", "{P}"] + s_srv,
            "tls_send": [S, "connect", "--ssl", "--ssl-insecure"] + s13 + ["{H}", "{P}"],
            "tls_echo": [S, "listen", "-b", "{H}", "-p", "{P}", "--transform", "echo"] + s_srv,
            # every client at once; a connection to the target for each, relayed both ways
            "forward": [S, "listen", "-b", "{H}", "-p", "{P}", "--forward", "{HB}:{TP}"],
        },
        "nc-openbsd": {
            "bin": "/bin/nc.openbsd",
            "version": ["dpkg-query", "-W", "-f=netcat-openbsd ${Version}", "netcat-openbsd"],
            # -d: never read stdin; -N: shutdown(SHUT_WR) at stdin EOF (else the stream never ends)
            "tcp_recv": ["nc.openbsd", "-d", "-l", "{H}", "{P}"],
            "tcp_send": ["nc.openbsd", "-N", "{H}", "{P}"],
            "udp_recv": ["nc.openbsd", "-u", "-d", "-l", "{H}", "{P}"],
            # -q 0: quit at stdin EOF (Debian's default waits forever)
            "udp_send": ["nc.openbsd", "-u", "-q", "0", "{H}", "{P}"],
            # no -e, and -k serves one connection at a time: a FIFO loop echoes, serially
            "echo": ["bash", "-c", 'f={TMP}/ncfifo.{P}; rm -f "$f"; mkfifo "$f"; '
                     'cat "$f" | nc.openbsd -k -l {H} {P} > "$f"; rm -f "$f"'],
            "echo_max": 1,
            "zio": ["nc.openbsd", "-z", "{H}", "{P}"],
            "idle": ["nc.openbsd", "-l", "{H}", "{P}"],
        },
        "ncat": {
            "bin": "/usr/bin/ncat", "version": ["ncat", "--version"],
            "tcp_recv": ["ncat", "--recv-only", "-l", "{H}", "{P}"],
            "tcp_send": ["ncat", "--send-only", "{H}", "{P}"],
            "udp_recv": ["ncat", "-u", "--recv-only", "-l", "{H}", "{P}"],
            "udp_send": ["ncat", "-u", "--send-only", "{H}", "{P}"],
            # one /bin/cat per connection; ncat's default --max-conns is 100
            "echo": ["ncat", "-l", "-k", "-e", "/bin/cat", "{H}", "{P}"],
            "zio": ["ncat", "-z", "{H}", "{P}"],
            "idle": ["ncat", "-l", "{H}", "{P}"],
            # ncat's client verifies nothing unless told (--ssl-verify)
            "tls_recv": ncat_tls + ["--ssl-cert", "{CERT}", "--ssl-key", "{KEY}", "--recv-only", "-l", "{H}", "{P}"],
            "tls_send": ncat_tls + ["--send-only", "{H}", "{P}"],
            "tls_echo": ncat_tls + ["--ssl-cert", "{CERT}", "--ssl-key", "{KEY}", "-l", "-k", "-e", "/bin/cat",
                                    "{H}", "{P}"],
            # per client: a forked ncat runs /bin/sh -c, which runs a second ncat (three processes;
            # default --max-conns 100)
            "forward": ["ncat", "-l", "{H}", "{P}", "-k", "--sh-exec", "ncat {H} {TP}"],
        },
        "socat": {
            "bin": "/usr/bin/socat", "version": ["socat", "-V"],
            "tcp_recv": ["socat", "-u", "TCP{V}-LISTEN:{P},bind={HB},reuseaddr", "STDOUT"],
            "tcp_send": ["socat", "-u", "STDIN", "TCP{V}:{HB}:{P}"],
            "udp_recv": ["socat", "-u", "UDP{V}-RECV:{P},bind={HB}", "STDOUT"],
            "udp_send": ["socat", "-u", "STDIN", "UDP{V}:{HB}:{P}"],
            # fork: one socat child per connection, running cat over a socket pair
            "echo": ["socat", "TCP{V}-LISTEN:{P},bind={HB},reuseaddr,fork", "EXEC:/bin/cat"],
            # -u with /dev/null: connect, send nothing, exit
            "zio": ["socat", "-u", "/dev/null", "TCP{V}:{HB}:{P}"],
            "idle": ["socat", "-u", "TCP{V}-LISTEN:{P},bind={HB},reuseaddr", "STDOUT"],
            "tls_recv": socat_tls + ["-u", "OPENSSL-LISTEN:{P},bind={HB},reuseaddr," + socat_srv, "STDOUT"],
            "tls_send": socat_tls + ["-u", "STDIN", "OPENSSL:{HB}:{P},verify=0,min-version=TLS1.3,pf=ip{V}"],
            "tls_echo": socat_tls + ["OPENSSL-LISTEN:{P},bind={HB},reuseaddr,fork," + socat_srv, "EXEC:/bin/cat"],
            # fork: one socat child per client, connecting to the target
            "forward": ["socat", "TCP{V}-LISTEN:{P},bind={HB},reuseaddr,fork", "TCP{V}:{HB}:{TP}"],
        },
        "haproxy": {   # the forward section's limit row: one process, one thread, mode tcp
            "bin": "/usr/sbin/haproxy", "version": ["/usr/sbin/haproxy", "-v"],
            "forward": ["/usr/sbin/haproxy", "-db", "-f", "{HAPCFG}"],
        },
    }


# haproxy's configuration for the forward section: {MAXCONN} covers the held connections
# (it needs 2 descriptors per connection, and haproxy refuses to start if RLIMIT_NOFILE
# cannot be raised to what MAXCONN needs); -db keeps it in the foreground, nothing is logged.
HAPROXY_CFG = """global
    maxconn {MAXCONN}
    nbthread 1
defaults
    mode tcp
    maxconn {MAXCONN}
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend relay
    bind {H}:{P}
    default_backend target
backend target
    server target {H}:{TP}
"""


def is_usage_error(rc, err):
    """sockcat (and the peers) exit 2 with a usage line when a flag is not (yet) supported."""
    low = err.lower()
    return rc == 2 and ("usage" in low or "--help" in low or "unknown option" in low or "unrecognized" in low)


# ----------------------------------------------------------------------------- /proc helpers

def proc_children(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return kids


def descendants(pid, depth=0):
    out = [pid]
    if depth < 10:
        for c in proc_children(pid):
            out += descendants(c, depth + 1)
    return out


def status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def io_field(pid, key):
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def tree_mem(pid):
    pids = descendants(pid)
    return (sum(status_kb(p, "VmRSS") for p in pids), sum(pss_kb(p) for p in pids), len(pids))


def tree_own_cpu(pid):
    """{pid: CPU seconds} of PID and each of its descendants, each process's own time only
    (schedstat ns summed over its threads; clock ticks from stat if that is unreadable).
    Sampled often and summed over every process seen, it counts a forking relay's
    per-connection processes even when they end unreaped or orphaned, which
    cutime/cstime (what the reaping parent collects) would miss."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for p in descendants(pid):
        own = None
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/schedstat") as f:
                    own = (own or 0.0) + int(f.read().split()[0]) / 1e9
        except (OSError, IndexError, ValueError):
            own = None
        if own is None:
            try:
                with open(f"/proc/{p}/stat") as f:
                    rest = f.read().rsplit(")", 1)[1].split()
                own = (int(rest[11]) + int(rest[12])) / tick   # fields 14, 15: utime stime
            except (OSError, IndexError, ValueError):
                continue
        out[p] = own
    return out


def group_members(pgid):
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            if int(rest[2]) == pgid:      # fields after ")": state ppid pgrp ...
                found.append(int(name))
        except (OSError, IndexError, ValueError):
            pass
    return found


def listening(proto, port):
    """Is something bound to PORT (tcp: in LISTEN state)? Read from /proc/net, no connect."""
    want = f":{port:04X}"
    for fam in ("", "6"):
        try:
            with open(f"/proc/net/{proto}{fam}") as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[1].endswith(want) and (proto == "udp" or parts[3] == "0A"):
                        return True
        except OSError:
            pass
    return False


def udp_counters(host):
    """(InDatagrams, OutDatagrams, RcvbufErrors, SndbufErrors) of this network namespace."""
    if ":" in host:
        v = {}
        with open("/proc/net/snmp6") as f:
            for line in f:
                k, _, val = line.partition(" ")
                v[k] = int(val)
        return (v["Udp6InDatagrams"], v["Udp6OutDatagrams"], v["Udp6RcvbufErrors"], v["Udp6SndbufErrors"])
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    m = dict(zip(rows[0][1:], map(int, rows[1][1:])))
    return (m["InDatagrams"], m["OutDatagrams"], m["RcvbufErrors"], m["SndbufErrors"])


# ----------------------------------------------------------------------------- processes

class Proc:
    """A command under `timeout` (own process group, led by the wrapper whose PID we hold)
    and bin/runstat (CPU time and peak RSS of the command at exit, pid of the command)."""

    def __init__(self, h, argv, limit_s, tag, stdin=None, stdout=None, stats=True):
        self.h = h
        self.statf, self.pidf, self.errf = h.tmp(tag + ".stat"), h.tmp(tag + ".pid"), h.tmp(tag + ".err")
        for f in (self.statf, self.pidf):
            if os.path.exists(f):
                os.remove(f)
        cmd = ["timeout", "-k", "2", f"{limit_s:g}"]
        if stats:
            cmd += [helper("runstat"), "-o", self.statf, "-p", self.pidf, "--"]
        self.err = open(self.errf, "wb")
        self.p = subprocess.Popen(cmd + argv, stdin=DEVNULL if stdin is None else stdin,
                                  stdout=DEVNULL if stdout is None else stdout, stderr=self.err)
        self.limit = limit_s
        self.stopped = False
        h.live.add(self)

    def pid(self, wait_s=3.0):
        """PID of the command itself (runstat's child)."""
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            try:
                with open(self.pidf) as f:
                    return int(f.read().strip())
            except (OSError, ValueError):
                time.sleep(0.005)
        return None

    def running(self):
        return self.p.poll() is None

    def wait(self, timeout_s):
        try:
            return self.p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            return None

    def stop(self):
        if self.stopped:
            return self.p.returncode
        self.stopped = True
        self.h.live.discard(self)
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)   # timeout passes it on to its whole group
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait(5)
        for _ in range(100):
            if not group_members(self.p.pid):
                break
            time.sleep(0.02)
        left = group_members(self.p.pid)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if left:
            log(f"killed {len(left)} leftover process(es) of group {self.p.pid}")
        self.err.close()
        return self.p.returncode

    def stats(self):
        """{wall, user, sys, cpu, maxrss_kb, status} from runstat, or None."""
        try:
            with open(self.statf) as f:
                w, u, s, m, st = f.read().split()
            return {"wall": float(w), "user": float(u), "sys": float(s), "cpu": float(u) + float(s),
                    "maxrss_kb": int(m), "status": int(st)}
        except (OSError, ValueError):
            return None

    def errtext(self, n=300):
        if not self.err.closed:
            self.err.flush()
        try:
            with open(self.errf, errors="replace") as f:
                return " ".join(f.read(n).split())
        except OSError:
            return ""


def run_bounded(argv, limit_s, capture=True):
    """Run a client to completion under timeout; returns (rc, stdout, stderr)."""
    try:
        r = subprocess.run(["timeout", "-k", "2", f"{limit_s:g}"] + argv, stdin=DEVNULL,
                           capture_output=capture, text=True, timeout=limit_s + 10)
        return r.returncode, r.stdout or "", r.stderr or ""
    except subprocess.TimeoutExpired:
        return 124, "", "timed out"


def parse_kv(line):
    out = {}
    for tok in line.split():
        k, sep, v = tok.partition("=")
        if sep:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


# ----------------------------------------------------------------------------- the run

class Harness:
    def __init__(self, cfg):
        self.cfg = cfg
        self.tools = tool_table(cfg.sockcat)
        self.out = cfg.out
        os.makedirs(self.out, exist_ok=True)
        self.tmpdir = os.path.join("/tmp", f"sockcat-bench.{os.getpid()}")
        os.makedirs(self.tmpdir, exist_ok=True)
        self.port = cfg.port
        self.raw = open(os.path.join(self.out, "raw.tsv"), "w")
        self.raw.write("section\ttool\tparam\trep\tmetric\tvalue\n")
        self.notes = open(os.path.join(self.out, "notes.tsv"), "w")
        self.notes.write("section\ttool\tparam\tnote\n")
        self.na = {}   # (tool, mode) -> reason
        self.skipped_tools = {}
        self.hf = shutil.which("hyperfine") if cfg.hyperfine else None
        self.live = set()   # Procs started and not stopped yet (stopped on the way out)
        self.tls_files = {}   # {CERT}, {KEY}, {TLSCNF} once tls_prepare() has made them
        self.tls_state = None   # None: not prepared yet; True/False: the TLS sections can run

    # -- bookkeeping
    def tmp(self, name):
        return os.path.join(self.tmpdir, name)

    def emit(self, section, tool, param, rep, metric, value):
        if value is None:
            return
        if isinstance(value, float):
            value = f"{value:.6g}"
        self.raw.write(f"{section}\t{tool}\t{param}\t{rep}\t{metric}\t{value}\n")
        self.raw.flush()

    def note(self, section, tool, param, text):
        text = " ".join(str(text).split())
        self.notes.write(f"{section}\t{tool}\t{param}\t{text}\n")
        self.notes.flush()
        log(f"NOTE {section}/{tool}/{param}: {text}")

    def mark_na(self, section, tool, param, mode, reason):
        if (tool, mode) not in self.na:
            self.na[(tool, mode)] = reason
            self.note(section, tool, param, f"n/a: {reason}")
        self.emit(section, tool, param, 0, "na", 1)

    def is_na(self, section, tool, param, mode):
        if (tool, mode) in self.na:
            self.emit(section, tool, param, 0, "na", 1)
            return True
        return False

    def next_port(self):
        while True:
            self.port += 1
            if self.port > 32000:
                self.port = self.cfg.port + 1
            if not listening("tcp", self.port) and not listening("udp", self.port):
                return self.port

    def sub(self, argv, port, extra=None):
        h = self.cfg.host
        v6 = ":" in h
        rep = {"{H}": h, "{HB}": f"[{h}]" if v6 else h, "{V}": "6" if v6 else "4",
               "{P}": str(port), "{TMP}": self.tmpdir}
        rep.update(self.tls_files)
        rep.update(extra or {})
        out = []
        for a in argv:
            for k, v in rep.items():
                a = a.replace(k, v)
            out.append(a)
        return out

    def wait_listen(self, proto, port, proc, limit_s=5.0):
        end = time.monotonic() + limit_s
        while time.monotonic() < end:
            if listening(proto, port):
                return True
            if not proc.running():
                return False
            time.sleep(0.01)
        return False

    def server_failed(self, section, tool, param, proc, mode):
        """A server did not come up: n/a if it exited with a usage error, else a note."""
        rc = None
        if not proc.running():
            proc.p.wait()
            st = proc.stats()
            rc = st["status"] if st else proc.p.returncode
        err = proc.errtext()
        proc.stop()
        if rc is not None and is_usage_error(rc, err):
            self.mark_na(section, tool, param, mode, f"'{mode}' mode exits 2 with a usage error: {err[:160]}")
        else:
            self.note(section, tool, param, f"server did not start listening (rc={rc}): {err}")

    def order(self, rows, rep):
        """Rows of one repetition, rotated by rep so no row always runs first."""
        k = rep % len(rows) if rows else 0
        return rows[k:] + rows[:k]

    def present(self, tool):
        t = self.tools.get(tool)
        if t is None:
            return False
        b = t["bin"]
        return os.path.exists(b) or shutil.which(b) is not None

    # ------------------------------------------------------------------ tcp
    def tcp_verify(self, tool, param, section="tcp", modes=("tcp_recv", "tcp_send"), nbytes=None):
        """NBYTES (default VERIFY_BYTES) through the tool, compared byte for byte (also the TLS rows)."""
        recv_mode, send_mode = modes
        nbytes = nbytes or self.cfg.verify
        t = self.tools[tool]
        port = self.next_port()
        recv_stdout_r, recv_stdout_w = os.pipe()
        recv = Proc(self, self.sub(t[recv_mode], port), self.cfg.bulk_timeout, "tcpv.recv", stdout=recv_stdout_w)
        os.close(recv_stdout_w)
        cmpf = self.tmp("tcpv.cmp")
        with open(cmpf, "w") as cf:
            cmp = subprocess.Popen(["timeout", "-k", "2", str(self.cfg.bulk_timeout), "bash", "-c",
                                    f'cmp - <("{helper("gen")}" {nbytes})'],
                                   stdin=recv_stdout_r, stdout=cf, stderr=subprocess.STDOUT)
        os.close(recv_stdout_r)
        if not self.wait_listen("tcp", port, recv):
            self.server_failed(section, tool, param, recv, recv_mode)
            cmp.wait(10)
            return False
        rc, _, err = run_bounded(["bash", "-c", f'"{helper("gen")}" {nbytes} | exec "$@"', "gen"]
                                 + self.sub(t[send_mode], port), self.cfg.bulk_timeout)
        if is_usage_error(rc, err):
            recv.stop()
            cmp.wait(10)
            self.mark_na(section, tool, param, send_mode, f"'connect' exits 2 with a usage error: {err[:160]}")
            return False
        rrc = recv.wait(self.cfg.bulk_timeout)
        recv.stop()
        crc = cmp.wait(self.cfg.bulk_timeout)
        with open(cmpf) as f:
            diff = " ".join(f.read(300).split())
        ok = crc == 0
        self.emit(section, tool, param, 0, "verify_ok", 1 if ok else 0)
        if not ok:
            self.note(section, tool, param, f"verify: {human_bytes(nbytes)} through the tool "
                      f"did not arrive intact (sender rc={rc}, receiver rc={rrc}): {diff} {err[:200]}")
        return True

    def tcp_tool(self, tool, rep, param, section="tcp", modes=("tcp_recv", "tcp_send"), nbytes=None):
        recv_mode, send_mode = modes
        cfg = self.cfg
        nbytes = nbytes or cfg.bulk
        t = self.tools[tool]
        if self.is_na(section, tool, param, recv_mode) or self.is_na(section, tool, param, send_mode):
            return
        port = self.next_port()
        recv = Proc(self, self.sub(t[recv_mode], port), cfg.bulk_timeout, "tcp.recv")
        if not self.wait_listen("tcp", port, recv):
            self.server_failed(section, tool, param, recv, recv_mode)
            return
        sstat, serr = self.tmp("tcp.send.stat"), self.tmp("tcp.send.err")
        if os.path.exists(sstat):
            os.remove(sstat)
        t0 = time.perf_counter()
        gen = subprocess.Popen(["timeout", "-k", "2", str(cfg.bulk_timeout), helper("gen"), str(nbytes)],
                               stdout=subprocess.PIPE, stdin=DEVNULL)
        with open(serr, "wb") as ef:
            send = subprocess.Popen(["timeout", "-k", "2", str(cfg.bulk_timeout), helper("runstat"), "-o", sstat, "--"]
                                    + self.sub(t[send_mode], port), stdin=gen.stdout, stdout=DEVNULL, stderr=ef)
        gen.stdout.close()
        try:
            src = send.wait(cfg.bulk_timeout + 10)
        except subprocess.TimeoutExpired:
            src = None
        rrc = recv.wait(cfg.bulk_timeout + 10)
        t1 = time.perf_counter()
        try:
            gen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        recv.stop()
        with open(serr, errors="replace") as f:
            err = " ".join(f.read(300).split())
        if src is not None and is_usage_error(src, err):
            self.mark_na(section, tool, param, send_mode, f"'connect' exits 2 with a usage error: {err[:160]}")
            return
        rs, ss = recv.stats(), None
        try:
            with open(sstat) as f:
                w, u, s, m, st = f.read().split()
                ss = {"cpu": float(u) + float(s), "maxrss_kb": int(m), "status": int(st)}
        except (OSError, ValueError):
            pass
        if src != 0 or rrc != 0 or not rs or not ss:
            self.note(section, tool, param, f"rep {rep}: sender rc={src} receiver rc={rrc}: {err} {recv.errtext()}")
            if not rs or not ss:
                return
        wall = t1 - t0
        gb = nbytes / 1e9
        self.emit(section, tool, param, rep, "gbps", gb / wall)
        self.emit(section, tool, param, rep, "gbps_wall", gb / wall)
        self.emit(section, tool, param, rep, "wall_s", wall)
        self.emit(section, tool, param, rep, "cpu_s_per_gb", (rs["cpu"] + ss["cpu"]) / gb)
        self.emit(section, tool, param, rep, "send_cpu_s", ss["cpu"])
        self.emit(section, tool, param, rep, "recv_cpu_s", rs["cpu"])
        self.emit(section, tool, param, rep, "send_rss_kb", ss["maxrss_kb"])
        self.emit(section, tool, param, rep, "recv_rss_kb", rs["maxrss_kb"])

    def tcp_pipe(self, rep, param, section="tcp", nbytes=None):
        """Limit: the same generator into a pipe read by cat (the pipe alone, no socket)."""
        cfg = self.cfg
        nbytes = nbytes or cfg.bulk
        t0 = time.perf_counter()
        gen = subprocess.Popen(["timeout", "-k", "2", str(cfg.bulk_timeout), helper("gen"), str(nbytes)],
                               stdout=subprocess.PIPE, stdin=DEVNULL)
        cat = Proc(self, ["cat"], cfg.bulk_timeout, "pipe.cat", stdin=gen.stdout)
        gen.stdout.close()
        rc = cat.wait(cfg.bulk_timeout + 10)
        t1 = time.perf_counter()
        gen.wait(5)
        cat.stop()
        st = cat.stats()
        if rc != 0 or not st:
            self.note(section, "pipe", param, f"rep {rep}: cat rc={rc}")
            return
        gb = nbytes / 1e9
        self.emit(section, "pipe", param, rep, "gbps", gb / (t1 - t0))
        self.emit(section, "pipe", param, rep, "gbps_wall", gb / (t1 - t0))
        self.emit(section, "pipe", param, rep, "wall_s", t1 - t0)
        self.emit(section, "pipe", param, rep, "cpu_s_per_gb", st["cpu"] / gb)
        self.emit(section, "pipe", param, rep, "recv_rss_kb", st["maxrss_kb"])

    def tcp_iperf3(self, rep, param):
        cfg = self.cfg
        port = self.next_port()
        srv = Proc(self, ["iperf3", "-s", "-1", "-B", cfg.host, "-p", str(port)], cfg.bulk_timeout, "ip.srv")
        if not self.wait_listen("tcp", port, srv):
            self.note("tcp", "iperf3", param, f"rep {rep}: server did not listen: {srv.errtext()}")
            srv.stop()
            return
        t0 = time.perf_counter()
        with open(self.tmp("ip.json"), "wb") as jf:
            cli = Proc(self, ["iperf3", "-c", cfg.host, "-p", str(port), "-n", str(cfg.bulk), "-J"],
                       cfg.bulk_timeout, "ip.cli", stdout=jf)
            crc = cli.wait(cfg.bulk_timeout + 10)
        srv.wait(15)
        t1 = time.perf_counter()
        cli.stop()
        srv.stop()
        try:
            with open(self.tmp("ip.json")) as f:
                j = json.load(f)
            bps = j["end"]["sum_received"]["bits_per_second"]
        except (OSError, ValueError, KeyError):
            self.note("tcp", "iperf3", param, f"rep {rep}: no result (rc={crc}) {cli.errtext()}")
            return
        cs, ss = cli.stats(), srv.stats()
        gb = cfg.bulk / 1e9
        self.emit("tcp", "iperf3", param, rep, "gbps", bps / 8e9)
        self.emit("tcp", "iperf3", param, rep, "gbps_wall", gb / (t1 - t0))
        if cs and ss:
            self.emit("tcp", "iperf3", param, rep, "cpu_s_per_gb", (cs["cpu"] + ss["cpu"]) / gb)
            self.emit("tcp", "iperf3", param, rep, "send_cpu_s", cs["cpu"])
            self.emit("tcp", "iperf3", param, rep, "recv_cpu_s", ss["cpu"])
            self.emit("tcp", "iperf3", param, rep, "send_rss_kb", cs["maxrss_kb"])
            self.emit("tcp", "iperf3", param, rep, "recv_rss_kb", ss["maxrss_kb"])

    def section_tcp(self):
        cfg = self.cfg
        param = human_bytes(cfg.bulk)
        tools = [t for t in cfg.tools if "tcp_recv" in self.tools[t]]
        log(f"tcp: {param} one way, {cfg.reps} reps; verify {human_bytes(cfg.verify)} first; rows: "
            f"pipe{' iperf3' if cfg.iperf3 else ''} {' '.join(tools)}")
        for t in tools:
            self.tcp_verify(t, param)
        rows = ["pipe"] + (["iperf3"] if cfg.iperf3 else []) + tools
        for rep in range(1, cfg.reps + 1):
            for r in self.order(rows, rep):
                if r == "pipe":
                    self.tcp_pipe(rep, param)
                elif r == "iperf3":
                    self.tcp_iperf3(rep, param)
                else:
                    self.tcp_tool(r, rep, param)
            log(f"tcp rep {rep}/{cfg.reps} done")

    # ------------------------------------------------------------------ udp
    def udp_watch(self, sender, limit_s):
        """Sample the UDP counters every 2 ms while the sender runs and until the receive
        count has been still for 300 ms after it ended. Returns the first and last moments
        datagrams were sent and the last one they were received (midpoints of 2 ms steps)."""
        host = self.cfg.host
        last = udp_counters(host)
        prev_t = time.perf_counter()
        start = prev_t
        first_out = last_out = last_in = None
        sender_end = None
        while True:
            time.sleep(0.002)
            now = time.perf_counter()
            c = udp_counters(host)
            mid = (prev_t + now) / 2
            if c[1] != last[1]:
                if first_out is None:
                    first_out = mid
                last_out = mid
            if c[0] != last[0]:
                last_in = mid
            last, prev_t = c, now
            if sender_end is None and sender.poll() is not None:
                sender_end = now
            if sender_end is not None and now - max(sender_end, last_in or 0, last_out or 0) > 0.3:
                return first_out, last_out, last_in, True
            if now - start > limit_s:
                return first_out, last_out, last_in, False

    def udp_emit(self, name, rep, param, c0, c1, times, send_cpu, recv_cpu, rbytes, send_rss, recv_rss):
        cfg = self.cfg
        first_out, last_out, last_in = times
        sent, recvd = c1[1] - c0[1], c1[0] - c0[0]
        total = cfg.udp_count * cfg.udp_size
        self.emit("udp", name, param, rep, "sent", sent)
        self.emit("udp", name, param, rep, "received", recvd)
        self.emit("udp", name, param, rep, "loss_pct", 100.0 * (sent - recvd) / sent if sent else 100.0)
        self.emit("udp", name, param, rep, "rcvbuf_drops", c1[2] - c0[2])
        if first_out is not None and last_out is not None and sent > 1:
            span = max(last_out - first_out, 0.002)
            self.emit("udp", name, param, rep, "send_kpps", sent / span / 1000)
            self.emit("udp", name, param, rep, "send_gbps", total / span / 1e9)
        if first_out is not None and last_in is not None and recvd > 1:
            span = max(last_in - first_out, 0.002)
            self.emit("udp", name, param, rep, "recv_kpps", recvd / span / 1000)
            if rbytes is not None:
                self.emit("udp", name, param, rep, "recv_gbps", rbytes / span / 1e9)
        if rbytes is not None and recvd:
            self.emit("udp", name, param, rep, "recv_avg_bytes", rbytes / recvd)
        if send_cpu is not None and sent:
            self.emit("udp", name, param, rep, "send_cpu_us_per_dgram", 1e6 * send_cpu / sent)
        if recv_cpu is not None and recvd:
            self.emit("udp", name, param, rep, "recv_cpu_us_per_dgram", 1e6 * recv_cpu / recvd)
        self.emit("udp", name, param, rep, "send_rss_kb", send_rss)
        self.emit("udp", name, param, rep, "recv_rss_kb", recv_rss)
        if name != "iperf3":
            # the sender's datagram count is exact; the receiver's written bytes (wchar) also count
            # a few non-payload writes (e.g. an event loop's 8-byte eventfd wake-ups)
            intact = sent == cfg.udp_count and (rbytes is None or not recvd or abs(rbytes / recvd - cfg.udp_size) < 1)
            self.emit("udp", name, param, rep, "dgrams_intact", 1 if intact else 0)
            if not intact:
                self.note("udp", name, param, f"rep {rep}: {cfg.udp_count} records of {cfg.udp_size} B became "
                          f"{sent} datagrams sent; {recvd} received carrying {rbytes} B (merged or split)")

    def udp_tool(self, tool, rep, param):
        cfg = self.cfg
        t = self.tools[tool]
        if self.is_na("udp", tool, param, "udp_recv") or self.is_na("udp", tool, param, "udp_send"):
            return
        port = self.next_port()
        recv = Proc(self, self.sub(t["udp_recv"], port), cfg.udp_timeout + 30, "udp.recv")
        if not self.wait_listen("udp", port, recv):
            self.server_failed("udp", tool, param, recv, "udp_recv")
            return
        rpid = recv.pid()
        sstat, serr = self.tmp("udp.send.stat"), self.tmp("udp.send.err")
        if os.path.exists(sstat):
            os.remove(sstat)
        c0 = udp_counters(cfg.host)
        with open(serr, "wb") as ef:
            sender = subprocess.Popen(["timeout", "-k", "2", str(cfg.udp_timeout), helper("dgramfeed"),
                                       str(cfg.udp_count), str(cfg.udp_size), "--",
                                       helper("runstat"), "-o", sstat, "--"] + self.sub(t["udp_send"], port),
                                      stdin=DEVNULL, stdout=DEVNULL, stderr=ef)
        first_out, last_out, last_in, finished = self.udp_watch(sender, cfg.udp_timeout + 5)
        try:
            src = sender.wait(10)
        except subprocess.TimeoutExpired:
            src = None
        rbytes = io_field(rpid, "wchar") if rpid else None
        rhwm = status_kb(rpid, "VmHWM") if rpid else None
        recv.stop()
        c1 = udp_counters(cfg.host)
        with open(serr, errors="replace") as f:
            err = " ".join(f.read(300).split())
        if src is not None and is_usage_error(src, err):
            self.mark_na("udp", tool, param, "udp_send", f"'connect -u' exits 2 with a usage error: {err[:160]}")
            return
        if src != 0 or not finished:
            self.note("udp", tool, param, f"rep {rep}: sender rc={src} finished={finished}: {err}")
        ss, rs = None, recv.stats()
        try:
            with open(sstat) as f:
                w, u, s, m, st = f.read().split()
                ss = {"cpu": float(u) + float(s), "maxrss_kb": int(m)}
        except (OSError, ValueError):
            pass
        self.udp_emit(tool, rep, param, c0, c1, (first_out, last_out, last_in),
                      ss["cpu"] if ss else None, rs["cpu"] if rs else None, rbytes,
                      ss["maxrss_kb"] if ss else None, rhwm)

    def udp_iperf3(self, rep, param):
        cfg = self.cfg
        port = self.next_port()
        srv = Proc(self, ["iperf3", "-s", "-1", "-B", cfg.host, "-p", str(port)], cfg.udp_timeout + 30, "ipu.srv")
        if not self.wait_listen("tcp", port, srv):
            self.note("udp", "iperf3", param, f"rep {rep}: server did not listen: {srv.errtext()}")
            srv.stop()
            return
        c0 = udp_counters(cfg.host)
        with open(self.tmp("ipu.json"), "wb") as jf:
            cli = Proc(self, ["iperf3", "-c", cfg.host, "-p", str(port), "-u", "-b", "0", "-l", str(cfg.udp_size),
                              "-n", str(cfg.udp_count * cfg.udp_size), "-J"], cfg.udp_timeout, "ipu.cli", stdout=jf)
            times = self.udp_watch(cli.p, cfg.udp_timeout + 5)
        srv.wait(10)
        cli.stop()
        srv.stop()
        c1 = udp_counters(cfg.host)
        cs, ss = cli.stats(), srv.stats()
        try:
            with open(self.tmp("ipu.json")) as f:
                j = json.load(f)
            lost = j["end"]["sum"].get("lost_percent")
        except (OSError, ValueError, KeyError):
            self.note("udp", "iperf3", param, f"rep {rep}: no result: {cli.errtext()}")
            lost = None
        recvd = c1[0] - c0[0]
        self.udp_emit("iperf3", rep, param, c0, c1, times[:3], cs["cpu"] if cs else None, ss["cpu"] if ss else None,
                      recvd * cfg.udp_size, cs["maxrss_kb"] if cs else None, ss["maxrss_kb"] if ss else None)
        self.emit("udp", "iperf3", param, rep, "iperf3_loss_pct", lost)

    def section_udp(self):
        cfg = self.cfg
        param = f"{cfg.udp_count}x{cfg.udp_size}B"
        tools = [t for t in cfg.tools if "udp_recv" in self.tools[t]]
        rows = (["iperf3"] if cfg.iperf3 else []) + tools
        log(f"udp: {param}, {cfg.reps} reps; rows: {' '.join(rows)}"
            + ("" if cfg.netns else " (WARNING: shared network namespace, counters include other traffic)"))
        for rep in range(1, cfg.reps + 1):
            for r in self.order(rows, rep):
                if r == "iperf3":
                    self.udp_iperf3(rep, param)
                else:
                    self.udp_tool(r, rep, param)
            log(f"udp rep {rep}/{cfg.reps} done")

    # ------------------------------------------------------------------ echo / churn
    def echo_server_argv(self, row):
        if row == "c-epoll":
            return [helper("epoll_echo"), "-H", "{H}", "-p", "{P}", "-t", "3600"]
        return self.tools[row].get("echo")

    def echo_one(self, section, row, conns, rep, argv=None, loadgen_extra=(), mode="echo", gen="loadgen", secs=None):
        """One load-generator run against a fresh server. The TLS sections pass their own
        server command, mode name (for n/a), load generator (tls_loadgen) and duration."""
        cfg = self.cfg
        param = str(conns)
        secs = secs or cfg.echo_secs
        argv = argv or self.echo_server_argv(row)
        if not argv or self.is_na(section, row, param, mode):
            return
        mx = self.tools.get(row, {}).get("echo_max")
        if mx is not None and conns > mx:
            if rep == 1:
                self.note(section, row, param, f"skipped: serial server, at most {mx} connection(s)")
            self.emit(section, row, param, 0, "skipped", 1)
            return
        port = self.next_port()
        limit = cfg.echo_setup + secs + 60
        srv = Proc(self, self.sub(argv, port), limit, "echo.srv")
        if not self.wait_listen("tcp", port, srv):
            self.server_failed(section, row, param, srv, mode)
            return
        self.loadgen_measure(section, row, conns, rep, srv, port, secs, loadgen_extra, gen)

    def loadgen_measure(self, section, row, conns, rep, srv, port, secs, loadgen_extra=(), gen="loadgen"):
        """Run the load generator against PORT (SRV: the server, or the relay in front of one,
        whose process tree the generator reads), stop SRV and record the figures."""
        cfg = self.cfg
        param = str(conns)
        churn = section.endswith("churn")
        spid = srv.pid()
        rc, out, err = run_bounded([helper(gen), "-H", cfg.host, "-p", str(port), "-c", str(conns),
                                    "-d", f"{secs:g}", "-m", "churn" if churn else "persist",
                                    "-s", "64", "-S", f"{cfg.echo_setup:g}", "-T", "5", "-n", str(cfg.max_ops),
                                    "-P", str(spid or 0)] + list(loadgen_extra), cfg.echo_setup + secs + 30)
        alive = srv.running()
        srv.stop()
        st = srv.stats()
        with open(os.path.join(self.out, "loadgen.log"), "a") as f:
            f.write(f"{section}\t{row}\tc={conns}\trep={rep}\trc={rc}\t{out.strip()}\t{err.strip()[:200]}\n")
        r = parse_kv(out)
        if "rps" not in r:
            self.note(section, row, param, f"rep {rep}: loadgen rc={rc}: {err[:200]} server: {srv.errtext()}")
            return
        ops = r.get("ops", 0)
        errors = sum(r.get(k, 0) for k in ("connect_err", "handshake_err", "eof_err", "reset_err", "timeouts"))
        self.emit(section, row, param, rep, "rps", r["rps"])
        self.emit(section, row, param, rep, "p50_us", r["p50_us"])
        self.emit(section, row, param, rep, "p99_us", r["p99_us"])
        self.emit(section, row, param, rep, "errors", errors)
        self.emit(section, row, param, rep, "mismatch", r.get("mismatch", 0))
        if ops:
            self.emit(section, row, param, rep, "server_cpu_us_per_op", 1e6 * r.get("server_cpu_s", 0) / ops)
            self.emit(section, row, param, rep, "client_cpu_us_per_op", 1e6 * r.get("client_cpu_s", 0) / ops)
        self.emit(section, row, param, rep, "server_procs", r.get("server_procs"))
        self.emit(section, row, param, rep, "server_rss_mb", r.get("server_rss_kb", 0) / 1024)
        self.emit(section, row, param, rep, "server_pss_mb", r.get("server_pss_kb", 0) / 1024)
        if st:
            self.emit(section, row, param, rep, "server_maxrss_mb", st["maxrss_kb"] / 1024)
        self.tls_cipher_check(section, row, param, rep, r)
        if not churn:
            self.emit(section, row, param, rep, "ready", r.get("ready"))
            self.emit(section, row, param, rep, "setup_s", r.get("setup_s"))
            if r.get("ready", 0) < conns:
                self.note(section, row, param, f"rep {rep}: only {r.get('ready', 0):g}/{conns} connections were "
                          f"served within set-up ({r.get('setup_s', 0):g} s)")
        if errors:
            self.note(section, row, param, f"rep {rep}: connect_err={r.get('connect_err', 0):g} "
                      + (f"handshake_err={r.get('handshake_err', 0):g} " if "handshake_err" in r else "")
                      + f"eof={r.get('eof_err', 0):g} reset={r.get('reset_err', 0):g} timeouts={r.get('timeouts', 0):g} "
                      f"(ops={ops:g})")
        if r.get("mismatch", 0):
            self.note(section, row, param, f"rep {rep}: {r['mismatch']:g} echo mismatches")
        if not alive:
            self.note(section, row, param, f"rep {rep}: the server had exited by the end: {srv.errtext()}")

    def section_echo(self, section):
        cfg = self.cfg
        levels = cfg.echo_conns if section == "echo" else cfg.churn_conns
        rows = ["c-epoll"] + [t for t in cfg.tools if "echo" in self.tools[t]]
        log(f"{section}: conns {levels}, {cfg.echo_secs:g} s each, {cfg.reps} reps; rows: {' '.join(rows)}")
        for c in levels:
            for rep in range(1, cfg.reps + 1):
                for r in self.order(rows, rep):
                    self.echo_one(section, r, c, rep)
            log(f"{section} c={c} done")

    def section_framed(self):
        """sockcat's framed echo (--framing line) against its raw echo, both driven by the same
        64 B lines (loadgen -L), interleaved: the row 'raw-echo' is the reference."""
        cfg = self.cfg
        if "sockcat" not in cfg.tools:
            return
        argv = {"raw-echo": self.tools["sockcat"]["echo"], "sockcat": self.tools["sockcat"]["echo_line"]}
        rows = list(argv)
        log(f"framed: conns {cfg.echo_conns}, {cfg.echo_secs:g} s each, {cfg.reps} reps; rows: {' '.join(rows)}")
        for c in cfg.echo_conns:
            for rep in range(1, cfg.reps + 1):
                for r in self.order(rows, rep):
                    self.echo_one("framed", r, c, rep, argv=argv[r], loadgen_extra=["-L"])
            log(f"framed c={c} done")

    # ------------------------------------------------------------------ zero-I/O
    def section_zio(self):
        cfg = self.cfg
        param = "connect+close"
        port = self.next_port()
        srv = Proc(self, self.sub(self.echo_server_argv("c-epoll"), port), 3600, "zio.srv", stats=False)
        if not self.wait_listen("tcp", port, srv):
            self.note("zio", "c-connect", param, "port server did not listen")
            srv.stop()
            return
        cands = [(t, self.sub(self.tools[t]["zio"], port)) for t in cfg.tools if "zio" in self.tools[t]]
        cands += [("c-connect", [helper("zcheck"), cfg.host, str(port)]), ("/bin/true", ["/bin/true"])]
        usable = []
        for name, argv in cands:
            rc, _, err = run_bounded(argv, 10)
            if rc == 0:
                usable.append((name, argv))
            elif is_usage_error(rc, err):
                self.mark_na("zio", name, param, "zio", f"'-z' exits 2 with a usage error: {err.strip()[:160]}")
            else:
                self.note("zio", name, param, f"check against an open port failed (rc={rc}): {err.strip()[:200]}")
        log(f"zio: {cfg.zio_runs} runs x {cfg.reps} reps ({'hyperfine' if self.hf else 'internal timer'}): "
            + " ".join(n for n, _ in usable))
        for rep in range(1, cfg.reps + 1):
            rows = self.order(usable, rep)
            if self.hf:
                jf = os.path.join(self.out, f"zio.rep{rep}.json")
                args = [self.hf, "-N", "--style", "none", "--warmup", str(max(3, cfg.zio_runs // 10)),
                        "--runs", str(cfg.zio_runs), "--export-json", jf]
                for name, argv in rows:
                    args += ["-n", name, " ".join(argv)]
                rc, out, err = run_bounded(args, 600)
                if rc != 0:
                    self.note("zio", "-", param, f"rep {rep}: hyperfine rc={rc}: {(err or out)[-300:]}")
                    continue
                with open(jf) as f:
                    for res in json.load(f)["results"]:
                        name = res["command"]
                        self.emit("zio", name, param, rep, "median_ms", 1000 * res["median"])
                        self.emit("zio", name, param, rep, "mean_ms", 1000 * res["mean"])
                        self.emit("zio", name, param, rep, "min_ms", 1000 * res["min"])
                        self.emit("zio", name, param, rep, "cpu_ms", 1000 * (res["user"] + res["system"]))
            else:
                for name, argv in rows:
                    times, cpus = [], []
                    for i in range(cfg.zio_runs + 2):
                        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                        t0 = time.perf_counter()
                        subprocess.run(argv, stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, timeout=10)
                        dt = time.perf_counter() - t0
                        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                        if i >= 2:   # two warm-up runs
                            times.append(dt)
                            cpus.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
                    self.emit("zio", name, param, rep, "median_ms", 1000 * statistics.median(times))
                    self.emit("zio", name, param, rep, "mean_ms", 1000 * statistics.mean(times))
                    self.emit("zio", name, param, rep, "min_ms", 1000 * min(times))
                    self.emit("zio", name, param, rep, "cpu_ms", 1000 * statistics.mean(cpus))
            log(f"zio rep {rep}/{cfg.reps} done")
        srv.stop()

    # ------------------------------------------------------------------ hold
    def section_hold(self, section="hold"):
        """Plain (bin/hold) or TLS (section tls-hold: bin/tls_loadgen -m hold) clients held."""
        cfg = self.cfg
        tls = section == "tls-hold"
        n = cfg.tls_hold_conns if tls else cfg.hold_conns
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if n + 64 > hard:
            self.note(section, "-", str(n), f"RLIMIT_NOFILE hard limit {hard} is too low for {n} connections; "
                      f"using {hard - 64}")
            n = hard - 64
        param = str(n)
        limit_row, mode = ("c-tls", "tls_echo") if tls else ("c-epoll", "echo")
        rows = [limit_row] + [t for t in cfg.tools if t == "sockcat"]
        log(f"{section}: {n} clients held by one server process, {cfg.reps} reps; rows: {' '.join(rows)}")
        for rep in range(1, cfg.reps + 1):
            for row in self.order(rows, rep):
                if self.is_na(section, row, param, mode):
                    continue
                port = self.next_port()
                argv = self.tools[row][mode] if tls else self.echo_server_argv(row)
                srv = Proc(self, self.sub(argv, port), cfg.hold_setup * 2 + cfg.hold_secs + 60, "hold.srv")
                if not self.wait_listen("tcp", port, srv):
                    self.server_failed(section, row, param, srv, mode)
                    continue
                spid = srv.pid()
                time.sleep(0.2)
                idle_kb = status_kb(spid, "VmRSS") if spid else 0
                client = ([helper("tls_loadgen"), "-m", "hold", "-c", str(n)] if tls else
                          [helper("hold"), "-n", str(n)])
                rc, out, err = run_bounded(client + ["-H", cfg.host, "-p", str(port),
                                            "-S", f"{cfg.hold_setup:g}", "-h", f"{cfg.hold_secs:g}",
                                            "-P", str(spid or 0)], cfg.hold_setup * 2 + cfg.hold_secs + 30)
                alive = srv.running()
                srv.stop()
                with open(os.path.join(self.out, "hold.log"), "a") as f:
                    f.write(f"{section}\t{row}\trep={rep}\trc={rc}\tidle_rss_kb={idle_kb}\t{out.strip()}\t{err.strip()[:200]}\n")
                r = parse_kv(out)
                if "answered" not in r:
                    self.note(section, row, param, f"rep {rep}: hold rc={rc}: {err[:200]} server: {srv.errtext()}")
                    continue
                for k in ("connected", "answered", "answered2", "setup_s", "round2_s", "server_fds", "server_procs"):
                    self.emit(section, row, param, rep, k, r.get(k))
                self.emit(section, row, param, rep, "server_rss_mb", r["server_rss_kb"] / 1024)
                self.emit(section, row, param, rep, "server_hwm_mb", r["server_hwm_kb"] / 1024)
                self.emit(section, row, param, rep, "idle_rss_mb", idle_kb / 1024)
                self.emit(section, row, param, rep, "kb_per_conn", (r["server_rss_kb"] - idle_kb) / n)
                self.tls_cipher_check(section, row, param, rep, r)
                if r["answered2"] < n or not alive:
                    self.note(section, row, param, f"rep {rep}: connected {r['connected']:g}, answered {r['answered']:g}, "
                              f"answered again after the hold {r['answered2']:g} of {n}; server "
                              f"{'running' if alive else 'exited: ' + srv.errtext()}; connect_err={r['connect_err']:g} "
                              + (f"handshake_err={r['handshake_err']:g} timeouts={r['timeouts']:g} " if tls else "")
                              + f"eof={r['eof_err']:g} reset={r['reset_err']:g}")
            log(f"{section} rep {rep}/{cfg.reps} done")

    # ------------------------------------------------------------------ TLS
    def tls_prepare(self):
        """Once per run: check the TLS helpers, make an ECDSA P-256 self-signed certificate
        with the openssl CLI, and write the OpenSSL configuration for ncat and socat.
        False (with a note) if the TLS sections cannot run."""
        if self.tls_state is not None:
            return self.tls_state
        self.tls_state = False
        missing = [h for h in ("tls_server", "tls_send", "tls_loadgen") if not os.access(helper(h), os.X_OK)]
        if missing:
            self.note("tls", "-", "-", f"TLS sections skipped: helpers {' '.join(missing)} not built "
                      "(bench/setup.sh builds them when libssl-dev is installed)")
            return False
        if not shutil.which("openssl"):
            self.note("tls", "-", "-", "TLS sections skipped: no openssl command to make the certificate")
            return False
        cert, key, cnf = self.tmp("tls-cert.pem"), self.tmp("tls-key.pem"), self.tmp("tls13.cnf")
        rc, _, err = run_bounded(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                  "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                                  "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"], 30)
        if rc != 0:
            self.note("tls", "-", "-", f"TLS sections skipped: openssl req failed (rc={rc}): {err.strip()[:200]}")
            return False
        with open(cnf, "w") as f:
            f.write(TLS_OPENSSL_CNF)
        self.tls_files = {"{CERT}": cert, "{KEY}": key, "{TLSCNF}": cnf}
        self.tls_state = True
        return True

    def sockcat_has_tls(self):
        """Does the sockcat under test know --ssl (its `connect --help` mentions it)?"""
        if "sockcat" not in self.cfg.tools:
            return False
        rc, out, err = run_bounded([self.cfg.sockcat, "connect", "--help"], 10)
        return "--ssl" in out + err

    def tls_cipher_check(self, section, row, param, rep, r):
        """From a tls_loadgen result: aes128 = 1 if every handshake negotiated TLS 1.3 with
        TLS_AES_128_GCM_SHA256 (the client offers nothing else, so anything else is a failure)."""
        if "cipher" not in r:
            return
        ok = r["cipher"] == TLS_EXPECTED and not r.get("cipher_other", 0)
        self.emit(section, row, param, rep, "aes128", 1 if ok else 0)
        if not ok and r["cipher"] != "none":
            self.note(section, row, param, f"rep {rep}: negotiated {r['cipher']} ({r.get('cipher_other', 0):g} "
                      f"handshakes not {TLS_EXPECTED})")

    def tls_probe(self, section, tool, param):
        """What a tool negotiates when the other end would take any TLS 1.3 suite: its client
        against tls_server -A (which follows the client's order), its server against tls_send -A
        (which offers OpenSSL's default order, AES-256-GCM first). Emits aes128 = 1 if both
        ends gave TLS 1.3 with TLS_AES_128_GCM_SHA256; the names go to the notes."""
        t, cfg, got = self.tools[tool], self.cfg, {}
        feed = ["bash", "-c", 'head -c 65536 /dev/zero | exec "$@"', "feed"]
        # its client end
        port = self.next_port()
        sink = Proc(self, [helper("tls_server"), "-m", "sink", "-A", "-v", "-H", cfg.host, "-p", str(port),
                           "-c", self.tls_files["{CERT}"], "-k", self.tls_files["{KEY}"], "-t", "20"], 25, "probe.sink",
                    stats=False)
        if self.wait_listen("tcp", port, sink):
            rc, _, err = run_bounded(feed + self.sub(t["tls_send"], port), 20)
            if is_usage_error(rc, err):
                sink.stop()
                self.mark_na(section, tool, param, "tls_send", f"'connect --ssl' exits 2 with a usage error: {err[:160]}")
                return
            sink.wait(5)
        text = sink.errtext(2000)
        sink.stop()
        got["client"] = next((w.split()[0] for w in text.split("negotiated ")[1:]), "no handshake")
        # its server end
        port = self.next_port()
        srv = Proc(self, self.sub(t["tls_recv"], port), 25, "probe.srv", stats=False)
        if not self.wait_listen("tcp", port, srv):
            self.server_failed(section, tool, param, srv, "tls_recv")
            return
        rc, _, err = run_bounded(feed + [helper("tls_send"), "-A", "-v", cfg.host, str(port)], 20)
        srv.wait(5)
        srv.stop()
        got["server"] = next((w.split()[0] for w in err.split("negotiated ")[1:]), "no handshake")
        ok = got["client"] == TLS_EXPECTED and got["server"] == TLS_EXPECTED
        self.emit(section, tool, param, 0, "aes128", 1 if ok else 0)
        self.note(section, tool, param, f"negotiated: as client {got['client']} (against a server taking any "
                  f"TLS 1.3 suite), as server {got['server']} (against a client offering OpenSSL's default order)")

    def section_tls_bulk(self):
        cfg = self.cfg
        sec, param, modes = "tls-bulk", human_bytes(cfg.tls_bulk), ("tls_recv", "tls_send")
        tls_rows = ["c-tls"] + [t for t in cfg.tools if "tls_recv" in self.tools[t]]
        rows = ["pipe"] + tls_rows   # the pipe: what `gen | SENDER` can carry at all (every row reads one)
        log(f"{sec}: {param} one way, {cfg.reps} reps; verify {human_bytes(cfg.tls_verify)} and probe the cipher "
            f"first; rows: {' '.join(rows)}")
        for t in tls_rows:
            if not cfg.smoke:   # the smoke keeps to the load generators' own cipher check
                self.tls_probe(sec, t, param)
            self.tcp_verify(t, param, section=sec, modes=modes, nbytes=cfg.tls_verify)
        for rep in range(1, cfg.reps + 1):
            for r in self.order(rows, rep):
                if r == "pipe":
                    self.tcp_pipe(rep, param, section=sec, nbytes=cfg.tls_bulk)
                else:
                    self.tcp_tool(r, rep, param, section=sec, modes=modes, nbytes=cfg.tls_bulk)
            log(f"{sec} rep {rep}/{cfg.reps} done")

    def section_tls_echo(self, section):
        cfg = self.cfg
        levels = cfg.tls_echo_conns if section == "tls-echo" else cfg.tls_churn_conns
        rows = ["c-tls"] + [t for t in cfg.tools if "tls_echo" in self.tools[t]]
        log(f"{section}: conns {levels}, {cfg.tls_secs:g} s each, {cfg.reps} reps; rows: {' '.join(rows)}")
        for c in levels:
            for rep in range(1, cfg.reps + 1):
                for r in self.order(rows, rep):
                    self.echo_one(section, r, c, rep, argv=self.tools[r]["tls_echo"], mode="tls_echo",
                                  gen="tls_loadgen", secs=cfg.tls_secs)
            log(f"{section} c={c} done")

    # ------------------------------------------------------------------ forward
    def sockcat_has_forward(self):
        """Does the sockcat under test know --forward (its `listen --help` mentions it)?"""
        rc, out, err = run_bounded([self.cfg.sockcat, "listen", "--help"], 10)
        return "--forward" in out + err

    def fwd_target(self, section, row, param, argv, limit, tag, stdout=None):
        """Start the server behind the relay on a fresh port: (Proc, port), or (None, None) noted."""
        tport = self.next_port()
        tgt = Proc(self, self.sub(argv, tport), limit, tag, stdout=stdout, stats=False)
        if not self.wait_listen("tcp", tport, tgt):
            self.note(section, row, param, f"the target ({os.path.basename(argv[0])}) did not listen: {tgt.errtext()}")
            tgt.stop()
            return None, None
        return tgt, tport

    def fwd_relay(self, section, row, param, tport, limit):
        """Start ROW's relay on a fresh port in front of the target on TPORT: (Proc, port), or
        (None, None) when it did not come up (n/a if it exited with a usage error)."""
        port = self.next_port()
        extra = {"{TP}": str(tport)}
        if row == "haproxy":
            text = HAPROXY_CFG
            for k, v in (("{MAXCONN}", str(self.fwd_maxconn)), ("{H}", self.cfg.host), ("{P}", str(port)),
                         ("{TP}", str(tport))):
                text = text.replace(k, v)
            extra["{HAPCFG}"] = self.tmp(f"haproxy.{port}.cfg")
            with open(extra["{HAPCFG}"], "w") as f:
                f.write(text)
        relay = Proc(self, self.sub(self.tools[row]["forward"], port, extra), limit, "fwd.relay")
        if not self.wait_listen("tcp", port, relay):
            self.server_failed(section, row, param, relay, "forward")
            return None, None
        return relay, port

    def sink_eof(self, sink, limit_s):
        """Wait for bin/sink's `bytes=N eof_ns=T` line (or its end): the parsed line, or {}."""
        end = time.monotonic() + limit_s
        while True:
            r = parse_kv(sink.errtext(2000))
            if "eof_ns" in r or not sink.running() or time.monotonic() > end:
                return r
            time.sleep(0.002)

    def forward_bulk(self, row, rep, param, nbytes, verify=False):
        """gen NBYTES into a socket connected to ROW's relay, which forwards it to bin/sink.
        Timed from the connect to the sink's EOF. CPU: the relay's process tree over the same
        span, every process's own time sampled every 10 ms (tree_own_cpu), so a forking
        relay's per-connection processes count even if they end unreaped; processes: how many
        were seen; RSS and PSS: the tree at the sink's EOF. VERIFY: the sink's bytes go to
        `cmp` against a second gen instead, and only verify_ok is recorded."""
        cfg, sec = self.cfg, "forward-bulk"
        if self.is_na(sec, row, param, "forward"):
            return
        limit = cfg.bulk_timeout + 30
        cmp = cmpf = None
        sink_argv = [helper("sink"), "-H", "{H}", "-p", "{P}", "-t", str(limit)]
        if verify:
            r_fd, w_fd = os.pipe()
            sink, tport = self.fwd_target(sec, row, param, sink_argv + ["-o"], limit, "fwd.sink", stdout=w_fd)
            os.close(w_fd)
            cmpf = self.tmp("fwdv.cmp")
            with open(cmpf, "w") as cf:
                cmp = subprocess.Popen(["timeout", "-k", "2", str(limit), "bash", "-c",
                                        f'cmp - <("{helper("gen")}" {nbytes})'],
                                       stdin=r_fd, stdout=cf, stderr=subprocess.STDOUT)
            os.close(r_fd)
        else:
            sink, tport = self.fwd_target(sec, row, param, sink_argv, limit, "fwd.sink")
        if sink is None:
            if cmp:
                cmp.wait(10)
            return
        relay, port = self.fwd_relay(sec, row, param, tport, limit + 30)
        if relay is None:
            sink.stop()
            if cmp:
                cmp.wait(10)
            return
        spid = relay.pid()
        base = tree_own_cpu(spid) if spid else {}
        seen = dict(base)   # pid -> its CPU time when last seen (every 10 ms)
        t0 = time.monotonic()
        gen = None
        try:
            sock = socket.create_connection((cfg.host, port), timeout=10)
            sock.setblocking(True)   # gen writes to it directly, with blocking writes
            try:
                gen = subprocess.Popen(["timeout", "-k", "2", str(cfg.bulk_timeout), helper("gen"), str(nbytes)],
                                       stdin=DEVNULL, stdout=sock.fileno(), stderr=subprocess.PIPE)
            finally:
                sock.close()   # gen holds the only descriptor: its exit is the client's close
        except OSError as e:
            self.note(sec, row, param, f"rep {rep}: could not connect to the relay: {e}")
        r = {}
        end = t0 + cfg.bulk_timeout + 10
        while gen is not None:
            if spid:
                seen.update(tree_own_cpu(spid))
            r = parse_kv(sink.errtext(2000))
            if "eof_ns" in r or not sink.running() or time.monotonic() > end:
                break
            time.sleep(0.01)
        if spid:
            seen.update(tree_own_cpu(spid))
        procs = len(seen)
        rss, pss, _ = tree_mem(spid) if spid else (0, 0, 0)
        grc, gerr = None, b""
        if gen is not None:
            try:
                _, gerr = gen.communicate(timeout=5)
                grc = gen.returncode
            except subprocess.TimeoutExpired:
                gen.terminate()   # its timeout wrapper passes it on to gen
                try:
                    gen.wait(5)
                except subprocess.TimeoutExpired:
                    gen.kill()
                    gen.wait(5)
        alive = relay.running()
        relay.stop()
        sink.stop()
        got = int(r.get("bytes", -1))
        problem = gen is None or grc != 0 or "eof_ns" not in r or got != nbytes
        if problem:
            self.note(sec, row, param, f"rep {rep}: gen rc={grc}, the sink got {got if got >= 0 else 'no EOF'} of "
                      f"{nbytes} B; relay {'running' if alive else 'exited'}: "
                      f"{gerr.decode(errors='replace')[:100]} {relay.errtext(200)} {sink.errtext(200)}")
        if verify:
            crc = cmp.wait(limit)
            with open(cmpf) as f:
                diff = " ".join(f.read(300).split())
            ok = crc == 0 and not problem
            self.emit(sec, row, param, 0, "verify_ok", 1 if ok else 0)
            if not ok:
                self.note(sec, row, param, f"verify: {human_bytes(nbytes)} through the relay did not arrive intact "
                          f"(cmp rc={crc}): {diff}")
            return
        if problem:
            return
        wall = r["eof_ns"] / 1e9 - t0
        gb = nbytes / 1e9
        self.emit(sec, row, param, rep, "gbps", gb / wall)
        self.emit(sec, row, param, rep, "wall_s", wall)
        if spid:
            cpu = sum(seen.values()) - sum(base.values())
            self.emit(sec, row, param, rep, "relay_cpu_s_per_gb", cpu / gb)
            self.emit(sec, row, param, rep, "relay_cpu_s", cpu)
        self.emit(sec, row, param, rep, "relay_rss_kb", rss)
        self.emit(sec, row, param, rep, "relay_pss_kb", pss)
        self.emit(sec, row, param, rep, "server_procs", procs)

    def forward_echo(self, section, row, conns, rep):
        """loadgen (persist, or churn for forward-churn) -> ROW's relay -> bin/epoll_echo; the
        server figures (CPU per op, processes, RSS, PSS) are the relay's process tree."""
        cfg, param = self.cfg, str(conns)
        if self.is_na(section, row, param, "forward"):
            return
        limit = cfg.echo_setup + cfg.fwd_secs + 90
        tgt, tport = self.fwd_target(section, row, param, self.echo_server_argv("c-epoll"), limit, "fwd.echo")
        if tgt is None:
            return
        relay, port = self.fwd_relay(section, row, param, tport, limit)
        if relay is not None:
            self.loadgen_measure(section, row, conns, rep, relay, port, cfg.fwd_secs)
        tgt.stop()

    def forward_hold(self, row, rep, n):
        """bin/hold: N clients through ROW's relay to bin/epoll_echo, each answered once (end to
        end), held HOLD_SECS, answered again; the relay's process-tree RSS and PSS while held.
        Set-up and the second round are bounded by HOLD_SETUP_S each (a forking relay may not
        get them all: what was held is reported)."""
        cfg, sec, param = self.cfg, "forward-hold", str(n)
        if self.is_na(sec, row, param, "forward"):
            return
        limit = cfg.hold_setup * 2 + cfg.hold_secs + 90
        tgt, tport = self.fwd_target(sec, row, param, self.echo_server_argv("c-epoll"), limit, "fwd.echo")
        if tgt is None:
            return
        relay, port = self.fwd_relay(sec, row, param, tport, limit)
        if relay is None:
            tgt.stop()
            return
        spid = relay.pid()
        time.sleep(0.2)
        idle_rss, idle_pss, _ = tree_mem(spid) if spid else (0, 0, 0)
        rc, out, err = run_bounded([helper("hold"), "-n", str(n), "-H", cfg.host, "-p", str(port),
                                    "-S", f"{cfg.hold_setup:g}", "-h", f"{cfg.hold_secs:g}", "-P", str(spid or 0)],
                                   cfg.hold_setup * 2 + cfg.hold_secs + 30)
        alive = relay.running()
        t_stop = time.monotonic()
        relay.stop()
        stop_s = time.monotonic() - t_stop
        tgt.stop()
        with open(os.path.join(self.out, "hold.log"), "a") as f:
            f.write(f"{sec}\t{row}\trep={rep}\trc={rc}\tidle_rss_kb={idle_rss}\tidle_pss_kb={idle_pss}\t"
                    f"{out.strip()}\t{err.strip()[:200]}\n")
        r = parse_kv(out)
        if "answered" not in r:
            self.note(sec, row, param, f"rep {rep}: hold rc={rc}: {err[:200]} relay: {relay.errtext()}")
            return
        held = r.get("held", 0)
        for k in ("connected", "answered", "held", "answered2", "setup_s", "round2_s", "server_fds", "server_procs"):
            self.emit(sec, row, param, rep, k, r.get(k))
        self.emit(sec, row, param, rep, "server_rss_mb", r["server_rss_kb"] / 1024)
        self.emit(sec, row, param, rep, "server_pss_mb", r.get("server_pss_kb", 0) / 1024)
        self.emit(sec, row, param, rep, "idle_rss_mb", idle_rss / 1024)
        self.emit(sec, row, param, rep, "idle_pss_mb", idle_pss / 1024)
        if held:
            self.emit(sec, row, param, rep, "kb_per_conn", (r["server_rss_kb"] - idle_rss) / held)
            self.emit(sec, row, param, rep, "pss_kb_per_conn", (r.get("server_pss_kb", 0) - idle_pss) / held)
        self.emit(sec, row, param, rep, "stop_s", stop_s)
        if r["answered2"] < n or not alive:
            self.note(sec, row, param, f"rep {rep}: connected {r['connected']:g}, answered {r['answered']:g}, held "
                      f"{held:g}, answered again after the hold {r['answered2']:g} of {n}; relay "
                      f"{'running' if alive else 'exited: ' + relay.errtext()}; connect_err={r['connect_err']:g} "
                      f"eof={r['eof_err']:g} reset={r['reset_err']:g}")

    def section_forward(self):
        """A relay in the middle: client -> relay (port P) -> a target we control (port TP).
        Rows: haproxy (the limit), sockcat --forward, socat fork, ncat --sh-exec."""
        cfg = self.cfg
        rows = ["haproxy"] + [t for t in cfg.tools if "forward" in self.tools[t]]
        if not self.present("haproxy"):
            self.note("forward", "haproxy", "-", "haproxy not installed: the forward section's limit row is skipped "
                      "(bench/setup.sh installs it)")
            rows.remove("haproxy")
        n = cfg.fwd_hold_conns   # a relay needs 2 descriptors per held connection
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if 2 * n + 64 > hard:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (2 * n + 64, 2 * n + 64))
            except (ValueError, OSError):
                n = (hard - 64) // 2
                self.note("forward-hold", "-", str(n), f"RLIMIT_NOFILE hard limit {hard} is too low for a relay to "
                          f"hold {cfg.fwd_hold_conns} connections (2 descriptors each, and it cannot be raised): "
                          f"{n} held instead")
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        self.fwd_maxconn = max(n, min(n + 1000, (hard - 32) // 2))   # haproxy needs 2 x maxconn + ~14
        param = human_bytes(cfg.fwd_bulk)
        log(f"forward: bulk {param} (verify {human_bytes(cfg.fwd_verify)} first), echo conns {cfg.fwd_echo_conns}, "
            f"churn slots {cfg.fwd_churn_conns} ({cfg.fwd_secs:g} s each), {n} held; {cfg.reps} reps; "
            f"rows: {' '.join(rows)}")
        for r in rows:
            self.forward_bulk(r, 0, param, cfg.fwd_verify, verify=True)
        for rep in range(1, cfg.reps + 1):
            for r in self.order(rows, rep):
                self.forward_bulk(r, rep, param, cfg.fwd_bulk)
        log("forward bulk done")
        for sec, levels in (("forward-echo", cfg.fwd_echo_conns), ("forward-churn", cfg.fwd_churn_conns)):
            for c in levels:
                for rep in range(1, cfg.reps + 1):
                    for r in self.order(rows, rep):
                        self.forward_echo(sec, r, c, rep)
                log(f"{sec} c={c} done")
        for rep in range(1, cfg.reps + 1):
            for r in self.order(rows, rep):
                self.forward_hold(r, rep, n)
            log(f"forward-hold rep {rep}/{cfg.reps} done")

    # ------------------------------------------------------------------ idle
    def section_idle(self):
        cfg = self.cfg
        rows = ["c-epoll"] + cfg.tools
        log(f"idle: binary size and idle memory; rows: {' '.join(rows)}")
        for row in rows:
            b = helper("epoll_echo") if row == "c-epoll" else self.tools[row]["bin"]
            path = b if os.path.exists(b) else shutil.which(b)
            if path:
                path = os.path.realpath(path)
                self.emit("idle", row, "binary", 0, "size_kb", os.path.getsize(path) / 1024)
                rc, out, _ = run_bounded(["ldd", path], 10)
                self.emit("idle", row, "binary", 0, "shared_libs", out.count("=>"))
        for rep in range(1, min(cfg.reps, 3) + 1):
            for row in self.order(rows, rep):
                kinds = [("echo-server", self.echo_server_argv(row))]
                kinds.insert(0, ("listener", self.echo_server_argv(row) if row == "c-epoll" else self.tools[row].get("idle")))
                for kind, argv in kinds:
                    if not argv or self.is_na("idle", row, kind, "echo" if kind == "echo-server" else "idle"):
                        continue
                    port = self.next_port()
                    srv = Proc(self, self.sub(argv, port), 30, "idle.srv")
                    if not self.wait_listen("tcp", port, srv):
                        self.server_failed("idle", row, kind, srv, "echo" if kind == "echo-server" else "idle")
                        continue
                    time.sleep(0.2)
                    spid = srv.pid()
                    rss, pss, procs = tree_mem(spid) if spid else (0, 0, 0)
                    srv.stop()
                    self.emit("idle", row, kind, rep, "rss_kb", rss)
                    self.emit("idle", row, kind, rep, "pss_kb", pss)
                    self.emit("idle", row, kind, rep, "procs", procs)
        log("idle done")

    # ------------------------------------------------------------------ driver
    def env_info(self):
        cfg = self.cfg
        lines = [f"date_utc: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"]
        model = "?"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        model = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        mem = status = "?"
        try:
            with open("/proc/meminfo") as f:
                mem = f"{int(f.readline().split()[1]) / 1048576:.1f} GiB"
        except (OSError, ValueError):
            pass
        try:
            with open("/etc/os-release") as f:
                status = dict(line.rstrip().split("=", 1) for line in f if "=" in line).get("PRETTY_NAME", "?").strip('"')
        except OSError:
            pass
        lines.append(f"machine: {model}, {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {mem} RAM")
        lines.append(f"kernel: {platform.system()} {platform.release()} {platform.machine()}; os: {status}")
        try:
            with open("/proc/loadavg") as f:
                lines.append(f"loadavg at start: {' '.join(f.read().split()[:3])}")
        except OSError:
            pass
        lines.append(f"network: {'private network namespace (unshare -n), loopback only' if cfg.netns else 'the host network namespace, loopback only'}")
        lines.append(f"RLIMIT_NOFILE: {resource.getrlimit(resource.RLIMIT_NOFILE)}")
        lines.append(f"settings: {cfg.describe()}")
        lines.append(f"sockcat binary: {cfg.sockcat}")
        repo = os.path.dirname(BENCH)
        if shutil.which("git") and os.path.isdir(os.path.join(repo, ".git")):
            # read-only queries (--no-optional-locks: not even an index refresh)
            rc, head, _ = run_bounded(["git", "--no-optional-locks", "-C", repo, "log", "-1", "--format=%h %cI %s"], 10)
            rc2, _, _ = run_bounded(["git", "--no-optional-locks", "-C", repo, "diff", "--quiet", "HEAD", "--",
                                     "src", "CMakeLists.txt"], 10)
            lines.append(f"sockcat source: {head.strip()}{' (src/ modified since)' if rc2 == 1 else ''}")
        for t in cfg.tools:
            rc, out, err = run_bounded(self.tools[t]["version"], 10)
            lines.append(f"version {t}: {((out or err).strip().splitlines() or ['?'])[0] if self.present(t) else 'not installed'}")
        if "forward" in cfg.sections:
            rc, out, err = run_bounded(self.tools["haproxy"]["version"], 10)
            lines.append(f"version haproxy: {((out or err).strip().splitlines() or ['?'])[0] if self.present('haproxy') else 'not installed'}")
        if any(x.startswith("tls-") for x in cfg.sections):
            lines.append(f"tls: every row TLS 1.3 with {TLS_SUITE}; ECDSA P-256 self-signed certificate made at run "
                         "time; ncat and socat get the suite through OPENSSL_CONF (see bench/README.md)")
        for name, argv in (("iperf3", ["iperf3", "--version"]), ("hyperfine", ["hyperfine", "--version"]),
                           ("gcc", ["gcc", "--version"]), ("openssl", ["openssl", "version"])):
            if shutil.which(argv[0]):
                rc, out, err = run_bounded(argv, 10)
                lines.append(f"version {name}: {((out or err).strip().splitlines() or ['?'])[0]}")
        text = "\n".join(lines) + "\n"
        with open(os.path.join(self.out, "env.txt"), "w") as f:
            f.write(text)
        sys.stderr.write(text)

    def run(self):
        cfg = self.cfg
        missing = [t for t in cfg.tools if not self.present(t)]
        for t in missing:
            self.note("-", t, "-", "not installed: skipped (bench/setup.sh installs it)")
        cfg.tools = [t for t in cfg.tools if t not in missing]
        if cfg.iperf3 and not shutil.which("iperf3"):
            self.note("-", "iperf3", "-", "not installed: iperf3 limit rows skipped")
            cfg.iperf3 = False
        tls_secs = [x for x in cfg.sections if x.startswith("tls-")]
        if tls_secs and "sockcat" in cfg.tools and not self.sockcat_has_tls():
            if cfg.smoke:   # the smoke measures sockcat's TLS only once it has TLS
                self.note("tls", "sockcat", "-", f"no --ssl in `{cfg.sockcat} connect --help`: "
                          f"{' '.join(tls_secs)} skipped in the smoke")
                cfg.sections = [x for x in cfg.sections if x not in tls_secs]
            else:
                self.note("tls", "sockcat", "-", "no --ssl in `connect --help`: its TLS rows will be n/a")
        if "forward" in cfg.sections and "sockcat" in cfg.tools and not self.sockcat_has_forward():
            # its rows are n/a, as for a mode that exits 2 with a usage error
            self.na[("sockcat", "forward")] = "no --forward in `listen --help`"
            self.note("forward", "sockcat", "-", f"n/a: no --forward in `{cfg.sockcat} listen --help`")
        self.env_info()
        t0 = time.monotonic()
        for sec in cfg.sections:
            s0 = time.monotonic()
            if sec.startswith("tls-") and not self.tls_prepare():
                continue
            if sec == "tcp":
                self.section_tcp()
            elif sec == "udp":
                self.section_udp()
            elif sec in ("echo", "churn"):
                self.section_echo(sec)
            elif sec == "framed":
                self.section_framed()
            elif sec == "zio":
                self.section_zio()
            elif sec == "hold":
                self.section_hold()
            elif sec == "idle":
                self.section_idle()
            elif sec == "tls-bulk":
                self.section_tls_bulk()
            elif sec in ("tls-echo", "tls-churn"):
                self.section_tls_echo(sec)
            elif sec == "tls-hold":
                self.section_hold("tls-hold")
            elif sec == "forward":
                self.section_forward()
            else:
                self.note("-", "-", "-", f"unknown section {sec}")
                continue
            log(f"section {sec}: {time.monotonic() - s0:.1f} s")
        self.raw.close()
        self.notes.close()
        with open(os.path.join(self.out, "env.txt"), "a") as f:
            f.write(f"run_seconds: {time.monotonic() - t0:.1f}\n")
        shutil.rmtree(self.tmpdir, ignore_errors=True)


# ----------------------------------------------------------------------------- summary

# metric -> (label, direction): +1 higher is better, -1 lower is better, 0 neither
METRICS = {
    "gbps": ("GB/s", +1), "gbps_wall": ("GB/s (wall)", +1), "cpu_s_per_gb": ("CPU s/GB", -1),
    "send_cpu_s": ("send CPU s", -1), "recv_cpu_s": ("recv CPU s", -1),
    "send_rss_kb": ("send max RSS KiB", -1), "recv_rss_kb": ("recv max RSS KiB", -1), "verify_ok": ("verified", 0),
    "send_kpps": ("sent kpps", +1), "recv_kpps": ("received kpps", +1), "send_gbps": ("sent GB/s", +1),
    "recv_gbps": ("received GB/s", +1), "sent": ("sent", 0), "received": ("received", 0),
    "loss_pct": ("loss %", -1), "rcvbuf_drops": ("rcvbuf drops", -1), "recv_avg_bytes": ("B/datagram rcvd", 0),
    "dgrams_intact": ("1 record = 1 datagram", 0), "send_cpu_us_per_dgram": ("send CPU µs/dgram", -1),
    "recv_cpu_us_per_dgram": ("recv CPU µs/dgram", -1), "iperf3_loss_pct": ("iperf3 loss %", -1),
    "rps": ("ops/s", +1), "p50_us": ("p50 µs", -1), "p99_us": ("p99 µs", -1), "errors": ("errors", -1),
    "mismatch": ("mismatches", -1), "ready": ("ready conns", +1), "setup_s": ("set-up s", -1),
    "server_cpu_us_per_op": ("server CPU µs/op", -1), "client_cpu_us_per_op": ("loadgen CPU µs/op", -1),
    "server_procs": ("server procs", -1), "server_rss_mb": ("server RSS MB", -1),
    "server_pss_mb": ("server PSS MB", -1), "server_maxrss_mb": ("server max RSS MB", -1),
    "median_ms": ("median ms", -1), "mean_ms": ("mean ms", -1), "min_ms": ("min ms", -1), "cpu_ms": ("CPU ms", -1),
    "connected": ("connected", +1), "answered": ("answered", +1), "answered2": ("answered after hold", +1),
    "round2_s": ("2nd round s", -1), "server_fds": ("server fds", 0), "server_hwm_mb": ("server peak RSS MB", -1),
    "idle_rss_mb": ("idle RSS MB", -1), "kb_per_conn": ("KiB per conn", -1),
    "size_kb": ("size KiB", -1), "shared_libs": ("shared libs", -1), "rss_kb": ("RSS KiB", -1),
    "pss_kb": ("PSS KiB", -1), "procs": ("procs", -1), "aes128": ("TLS 1.3 AES-128-GCM (1 = yes)", 0),
    "wall_s": ("wall s", -1), "relay_cpu_s_per_gb": ("relay CPU s/GB", -1), "relay_cpu_s": ("relay CPU s", -1),
    "relay_rss_kb": ("relay RSS KiB", -1), "relay_pss_kb": ("relay PSS KiB", -1), "held": ("held", +1),
    "idle_pss_mb": ("idle PSS MB", -1), "pss_kb_per_conn": ("PSS KiB per conn", -1), "stop_s": ("stop s", -1),
}

SECTIONS = [
    # section, title, metrics shown, limit row, metrics given ratio columns
    ("tcp", "TCP bulk, one way (GB = 1e9 B; wall from sender start until both ends exited; "
            "CPU = sender + receiver user+sys)",
     ["gbps", "gbps_wall", "cpu_s_per_gb", "send_cpu_s", "recv_cpu_s", "send_rss_kb", "recv_rss_kb", "verify_ok"],
     "iperf3", ["gbps", "cpu_s_per_gb"]),
    ("udp", "UDP one way (kernel counters of a private network namespace; kpps = 1000 datagrams/s)",
     ["send_kpps", "recv_kpps", "sent", "received", "loss_pct", "rcvbuf_drops", "recv_avg_bytes", "dgrams_intact",
      "send_cpu_us_per_dgram", "recv_cpu_us_per_dgram", "send_rss_kb", "recv_rss_kb", "iperf3_loss_pct"],
     "iperf3", ["send_kpps", "recv_kpps"]),
    ("echo", "Echo server, persistent connections, 64 B round trips (param = concurrent connections)",
     ["rps", "p50_us", "p99_us", "ready", "setup_s", "errors", "mismatch", "server_cpu_us_per_op",
      "client_cpu_us_per_op", "server_procs", "server_rss_mb", "server_pss_mb"],
     "c-epoll", ["rps", "server_cpu_us_per_op"]),
    ("framed", "Framed echo (--framing line) vs raw echo, 64 B lines (63 B + LF), persistent connections "
               "(param = concurrent connections)",
     ["rps", "p50_us", "p99_us", "ready", "errors", "mismatch", "server_cpu_us_per_op"],
     "raw-echo", ["rps", "server_cpu_us_per_op"]),
    ("churn", "Connection churn: connect + 64 B echo + close (param = concurrent slots)",
     ["rps", "p50_us", "p99_us", "errors", "mismatch", "server_cpu_us_per_op", "server_procs"],
     "c-epoll", ["rps", "server_cpu_us_per_op"]),
    ("zio", "Zero-I/O port check against an open port, per run (hyperfine -N; an internal timer without it)",
     ["median_ms", "mean_ms", "min_ms", "cpu_ms"], "c-connect", ["median_ms"]),
    ("hold", "Clients held by one server process (each answered once, held, answered again)",
     ["connected", "answered", "answered2", "setup_s", "round2_s", "server_rss_mb", "server_hwm_mb",
      "idle_rss_mb", "kb_per_conn", "server_fds", "server_procs"],
     "c-epoll", ["server_rss_mb"]),
    ("idle", "Binary and idle memory (process tree of the tool)",
     ["size_kb", "shared_libs", "rss_kb", "pss_kb", "procs"], "c-epoll", ["rss_kb"]),
    ("tls-bulk", "TLS bulk, one way, TLS 1.3 AES-128-GCM (GB = 1e9 B; wall from sender start until both ends "
                 "exited, handshake included; CPU = sender + receiver user+sys)",
     ["gbps", "cpu_s_per_gb", "send_cpu_s", "recv_cpu_s", "send_rss_kb", "recv_rss_kb", "verify_ok", "aes128"],
     "c-tls", ["gbps", "cpu_s_per_gb"]),
    ("tls-echo", "TLS echo server, persistent connections, 64 B round trips (param = concurrent connections)",
     ["rps", "p50_us", "p99_us", "ready", "setup_s", "errors", "mismatch", "server_cpu_us_per_op",
      "client_cpu_us_per_op", "server_procs", "server_rss_mb", "aes128"],
     "c-tls", ["rps", "server_cpu_us_per_op"]),
    ("tls-churn", "TLS handshakes: connect + full handshake + 64 B echo + close_notify + close "
                  "(param = concurrent slots)",
     ["rps", "p50_us", "p99_us", "errors", "mismatch", "server_cpu_us_per_op", "client_cpu_us_per_op",
      "server_procs", "aes128"],
     "c-tls", ["rps", "server_cpu_us_per_op"]),
    ("tls-hold", "Idle TLS clients held by one server process (each: handshake, answered once, held, answered again)",
     ["connected", "answered", "answered2", "setup_s", "round2_s", "server_rss_mb", "server_hwm_mb",
      "idle_rss_mb", "kb_per_conn", "server_fds", "server_procs", "aes128"],
     "c-tls", ["server_rss_mb", "kb_per_conn"]),
    ("forward-bulk", "Bulk through a relay, one way: gen -> relay -> bin/sink (GB = 1e9 B; wall from the client's "
                     "connect to the sink's EOF; CPU, RSS, PSS and processes: the relay's process tree only)",
     ["gbps", "wall_s", "relay_cpu_s_per_gb", "relay_cpu_s", "relay_rss_kb", "relay_pss_kb", "server_procs",
      "verify_ok"],
     "haproxy", ["gbps", "relay_cpu_s_per_gb"]),
    ("forward-echo", "Echo through a relay: loadgen -> relay -> bin/epoll_echo, persistent connections, 64 B round "
                     "trips (param = concurrent connections; server = the relay's process tree)",
     ["rps", "p50_us", "p99_us", "ready", "setup_s", "errors", "mismatch", "server_cpu_us_per_op",
      "client_cpu_us_per_op", "server_procs", "server_rss_mb", "server_pss_mb"],
     "haproxy", ["rps", "server_cpu_us_per_op"]),
    ("forward-churn", "Connection churn through a relay: connect + 64 B echo + close, each a new connection from the "
                      "relay to bin/epoll_echo (param = concurrent slots; server = the relay's process tree)",
     ["rps", "p50_us", "p99_us", "errors", "mismatch", "server_cpu_us_per_op", "server_procs"],
     "haproxy", ["rps", "server_cpu_us_per_op"]),
    ("forward-hold", "Connections held through a relay to bin/epoll_echo (each answered once end to end, held, "
                     "answered again; memory: the relay's process tree while held; per conn: above idle, per held)",
     ["connected", "answered", "held", "answered2", "setup_s", "round2_s", "server_rss_mb", "server_pss_mb",
      "idle_rss_mb", "idle_pss_mb", "kb_per_conn", "pss_kb_per_conn", "server_fds", "server_procs", "stop_s"],
     "haproxy", ["server_rss_mb", "server_pss_mb"]),
]
LIMIT_ROWS = ["pipe", "iperf3", "c-epoll", "c-tls", "haproxy", "c-connect", "/bin/true"]


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 10000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def med_cell(vals, spread=True):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    m = statistics.median(vals)
    f = fmt
    if all(v == int(v) for v in vals) and m == int(m):   # counts: no decimals
        f = lambda v: f"{v:,.0f}" if abs(v) >= 10000 else f"{v:.0f}"
    if not spread or len(vals) == 1 or min(vals) == max(vals):
        return f(m)
    return f"{f(m)} [{f(min(vals))}–{f(max(vals))}]"


class Results:
    def __init__(self, d):
        self.d = d
        self.data = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))  # (sec,param)->tool->metric->{rep:v}
        self.order = defaultdict(list)
        with open(os.path.join(d, "raw.tsv")) as f:
            for row in csv.DictReader(f, delimiter="\t"):
                key = (row["section"], row["param"])
                if row["tool"] not in self.order[key]:
                    self.order[key].append(row["tool"])
                try:
                    v = float(row["value"])
                except ValueError:
                    continue
                self.data[key][row["tool"]][row["metric"]][row["rep"]] = v
        self.notes = []
        p = os.path.join(d, "notes.tsv")
        if os.path.exists(p):
            with open(p) as f:
                self.notes = list(csv.DictReader(f, delimiter="\t"))

    def status(self, key, tool):
        md = self.data[key].get(tool)
        if md is None:
            return "not run"
        if "na" in md:
            return "n/a"
        if "skipped" in md:
            return "skipped"
        return None

    def values(self, key, tool, metric):
        return self.data[key].get(tool, {}).get(metric, {})

    def ratios(self, key, tool, metric, against):
        """Per-rep ratios tool/against; `against` is a row name or 'best-peer'."""
        direction = METRICS.get(metric, ("", 0))[1]
        mine = self.values(key, tool, metric)
        out = []
        for rep, v in mine.items():
            if against == "best-peer":
                peers = [self.values(key, p, metric).get(rep) for p in PEERS if p != tool]
                peers = [x for x in peers if x is not None and x > 0]
                if not peers:
                    continue
                ref = max(peers) if direction >= 0 else min(peers)
            else:
                ref = self.values(key, against, metric).get(rep)
            if ref:
                out.append(v / ref)
        return out

    def cell(self, key, tool, metric, spread=True):
        s = self.status(key, tool)
        if s == "n/a":
            return "n/a"
        if s in ("not run", "skipped"):
            return "—"
        return med_cell(list(self.values(key, tool, metric).values()), spread)

    def ratio_cell(self, key, tool, metric, against):
        s = self.status(key, tool)
        if s == "n/a":
            return "n/a"
        r = self.ratios(key, tool, metric, against)
        return med_cell(r, spread=False) + "×" if r else "—"


def headline(res):
    """The issue's table: one row per workload, the limit, sockcat, the peers and ratios."""
    rows = []
    arrow = {+1: "↑", -1: "↓", 0: ""}

    def value(key, tool, metric):
        c = res.cell(key, tool, metric, spread=False)
        if key[0] in ("echo", "tls-echo", "forward-echo") and c not in ("n/a", "—", "-"):   # fewer connections than asked for
            ready = list(res.values(key, tool, "ready").values())
            if ready and statistics.median(ready) < float(key[1]):
                c += f" ({statistics.median(ready):.0f} ready)"
        if key[0] == "forward-hold" and metric != "answered2" and c not in ("n/a", "—", "-"):
            held = list(res.values(key, tool, "held").values())
            if held and statistics.median(held) < float(key[1]):
                c += f" ({statistics.median(held):.0f} held)"
        return c

    def add(label, key, metric, limit, ratios=True):
        if key not in res.data:
            return
        has_limit = limit is not None and limit in res.data[key]
        lim = f"{limit} {value(key, limit, metric)}" if has_limit else (f"{limit} —" if limit else "—")
        peers = [value(key, p, metric) for p in PEERS]
        rows.append([(label + " " + arrow[METRICS[metric][1]]).strip(), lim, value(key, "sockcat", metric)]
                    + peers + [res.ratio_cell(key, "sockcat", metric, limit) if has_limit and ratios else "—",
                               res.ratio_cell(key, "sockcat", metric, "best-peer") if ratios else "—"])

    keys = sorted(res.data, key=lambda k: (k[0], float(k[1]) if k[1].replace(".", "").isdigit() else 0, k[1]))
    for sec, param in keys:
        key = (sec, param)
        if sec == "tcp":
            add(f"TCP bulk {param}, GB/s", key, "gbps", "iperf3")
            add(f"TCP bulk {param}, GB/s vs a pipe", key, "gbps", "pipe")
            add(f"TCP bulk {param}, CPU s/GB (both ends)", key, "cpu_s_per_gb", "iperf3")
    for sec, param in keys:
        if sec == "udp":
            add(f"UDP {param}, kpps sent", (sec, param), "send_kpps", "iperf3")
            add(f"UDP {param}, kpps received", (sec, param), "recv_kpps", "iperf3")
            add(f"UDP {param}, loss %", (sec, param), "loss_pct", "iperf3", ratios=False)
            add(f"UDP {param}, 1 stdin record = 1 datagram (1 = yes)", (sec, param), "dgrams_intact", None, ratios=False)
    for sec, param in keys:
        if sec == "echo":
            add(f"echo 64 B, {param} conn(s), round trips/s", (sec, param), "rps", "c-epoll")
    for sec, param in keys:
        if sec == "framed":
            add(f"framed echo (line) 64 B, {param} conn(s), round trips/s", (sec, param), "rps", "raw-echo")
    for sec, param in keys:
        if sec == "churn":
            add(f"connect+echo+close, {param} slots, conns/s", (sec, param), "rps", "c-epoll")
    for sec, param in keys:
        if sec == "zio":
            add("zero-I/O port check, ms per run", (sec, param), "median_ms", "c-connect")
    for sec, param in keys:
        if sec == "hold":
            add(f"{param} clients held, answered after the hold", (sec, param), "answered2", "c-epoll", ratios=False)
            add(f"{param} clients held, server RSS MB", (sec, param), "server_rss_mb", "c-epoll")
    for sec, param in keys:
        if sec == "idle" and param == "listener":
            add("idle listener RSS KiB", (sec, param), "rss_kb", "c-epoll")
    for sec, param in keys:
        if sec == "tls-bulk":
            add(f"TLS bulk {param}, GB/s", (sec, param), "gbps", "c-tls")
            add(f"TLS bulk {param}, GB/s vs the stdin pipe", (sec, param), "gbps", "pipe")
            add(f"TLS bulk {param}, CPU s/GB (both ends)", (sec, param), "cpu_s_per_gb", "c-tls")
    for sec, param in keys:
        if sec == "tls-echo":
            add(f"TLS echo 64 B, {param} conn(s), round trips/s", (sec, param), "rps", "c-tls")
    for sec, param in keys:
        if sec == "tls-churn":
            add(f"TLS handshakes (+64 B echo), {param} slots, per s", (sec, param), "rps", "c-tls")
            add(f"TLS handshakes, {param} slots, server CPU µs each", (sec, param), "server_cpu_us_per_op", "c-tls")
    for sec, param in keys:
        if sec == "tls-hold":
            add(f"{param} TLS clients held, answered after the hold", (sec, param), "answered2", "c-tls", ratios=False)
            add(f"{param} TLS clients held, server RSS MB", (sec, param), "server_rss_mb", "c-tls")
            add(f"{param} TLS clients held, KiB per client", (sec, param), "kb_per_conn", "c-tls")
    for sec, param in keys:
        if sec == "forward-bulk":
            add(f"forward: bulk {param} through the relay, GB/s (goal ≥ 0.9× haproxy)", (sec, param), "gbps", "haproxy")
            add(f"forward: bulk {param}, relay CPU s/GB", (sec, param), "relay_cpu_s_per_gb", "haproxy")
    for sec, param in keys:
        if sec == "forward-echo":
            add(f"forward: echo 64 B, {param} conn(s), round trips/s (goal ≥ 0.9× haproxy)", (sec, param), "rps",
                "haproxy")
    for sec, param in keys:
        if sec == "forward-churn":
            add(f"forward: connect+echo+close, {param} slots, conns/s (goal ≥ 10× socat)", (sec, param), "rps",
                "haproxy")
    for sec, param in keys:
        if sec == "forward-hold":
            add(f"forward: {param} connections held, answered after the hold", (sec, param), "answered2", "haproxy",
                ratios=False)
            add(f"forward: {param} connections held, relay RSS MB (goal < 64 MiB)", (sec, param), "server_rss_mb",
                "haproxy")
            add(f"forward: {param} connections held, relay PSS MB", (sec, param), "server_pss_mb", "haproxy")
    hdr = ["workload", "limit row", "sockcat"] + PEERS + ["sockcat ÷ limit", "sockcat ÷ best peer"]
    out = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def summarize(d):
    res = Results(d)
    out = ["# sockcat benchmark summary", ""]
    envp = os.path.join(d, "env.txt")
    if os.path.exists(envp):
        with open(envp) as f:
            out += ["```", f.read().rstrip(), "```", ""]
    out += ["Cells are medians over the repetitions, `[min–max]` in the detail tables. A ratio is the median of",
            "the per-repetition ratios (sockcat ÷ the row measured in the same repetition, so drift between",
            "repetitions cancels); *best peer* is, per repetition, the best of nc-openbsd, ncat and socat.",
            "↑ higher is better, ↓ lower is better. `n/a`: the mode is not implemented by that tool (it exited 2",
            "with a usage error); `—`: not measured (not installed, serial-only server, or no such mode).", "",
            "## Targets", ""]
    out += headline(res)
    out.append("")
    for sec, title, metrics, limit, ratio_metrics in SECTIONS:
        keys = [k for k in res.data if k[0] == sec]
        keys.sort(key=lambda k: (0, float(k[1])) if k[1].replace(".", "").isdigit() else (1, k[1]))
        if not keys:
            continue
        out += [f"## {sec}: {title}", ""]
        for key in keys:
            tools = res.order[key]
            tools = [t for t in LIMIT_ROWS if t in tools] + [t for t in tools if t not in LIMIT_ROWS]
            shown = [m for m in metrics if any(m in res.data[key][t] for t in tools)]
            if not shown:
                shown = []
            rcols = [m for m in ratio_metrics if m in shown]
            hdr = ["row", "param"] + [METRICS[m][0] for m in shown]
            hdr += [f"{METRICS[m][0]} ÷ {limit}" for m in rcols if limit in res.data[key]]
            hdr += [f"{METRICS[m][0]} ÷ best peer" for m in rcols]
            out.append("| " + " | ".join(hdr) + " |")
            out.append("|" + "---|" * len(hdr))
            for t in tools:
                name = t + (" (limit)" if t in LIMIT_ROWS else "")
                cells = [name, key[1]] + [res.cell(key, t, m) for m in shown]
                if limit in res.data[key]:
                    cells += ["" if t == limit else res.ratio_cell(key, t, m, limit) for m in rcols]
                cells += [res.ratio_cell(key, t, m, "best-peer") if t not in LIMIT_ROWS else "" for m in rcols]
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
    if res.notes:
        out += ["## Notes (failures, n/a modes and oddities recorded during the run)", ""]
        out += [f"- {n['section']} / {n['tool']} / {n['param']}: {n['note']}" for n in res.notes]
        out.append("")
    text = "\n".join(out)
    with open(os.path.join(d, "summary.md"), "w") as f:
        f.write(text)
    return text, res


# ----------------------------------------------------------------------------- main

def smoke_check(res, cfg):
    """The harness works if each section produced its limit row (the C helpers) and the
    summary was written; sockcat's own numbers, failures and n/a modes do not count."""
    expect = {"tcp": [("tcp", human_bytes(cfg.bulk), "pipe", "gbps")],
              "echo": [("echo", str(c), "c-epoll", "rps") for c in cfg.echo_conns],
              "churn": [("churn", str(c), "c-epoll", "rps") for c in cfg.churn_conns],
              "framed": [("framed", str(c), "raw-echo", "rps") for c in cfg.echo_conns],
              "zio": [("zio", "connect+close", "c-connect", "median_ms")],
              "hold": [("hold", None, "c-epoll", "answered2")],
              "idle": [("idle", "listener", "c-epoll", "rss_kb")],
              "udp": [("udp", f"{cfg.udp_count}x{cfg.udp_size}B", "sockcat", "sent")],
              "tls-bulk": [("tls-bulk", human_bytes(cfg.tls_bulk), "c-tls", "gbps")],
              "tls-echo": [("tls-echo", str(c), "c-tls", "rps") for c in cfg.tls_echo_conns],
              "tls-churn": [("tls-churn", str(c), "c-tls", "rps") for c in cfg.tls_churn_conns],
              "tls-hold": [("tls-hold", None, "c-tls", "answered2")],
              "forward": [("forward-bulk", human_bytes(cfg.fwd_bulk), "haproxy", "gbps"),
                          ("forward-bulk", human_bytes(cfg.fwd_bulk), "haproxy", "verify_ok")]
              + [("forward-echo", str(c), "haproxy", "rps") for c in cfg.fwd_echo_conns]
              + [("forward-churn", str(c), "haproxy", "rps") for c in cfg.fwd_churn_conns]
              + [("forward-hold", None, "haproxy", "answered2")]}
    problems = []
    tls_skipped = any("TLS sections skipped" in n.get("note", "") for n in res.notes)
    for sec in cfg.sections:
        if sec.startswith("tls-") and tls_skipped:   # no TLS helpers or no openssl: noted, not a failure
            continue
        if sec == "forward" and not shutil.which("haproxy") and not os.path.exists("/usr/sbin/haproxy"):
            continue   # the limit row needs haproxy (noted); CI may not have it

        for s, param, row, metric in expect.get(sec, []):
            keys = [k for k in res.data if k[0] == s and (param is None or k[1] == param)]
            if row == "sockcat" and any(res.status(k, "sockcat") == "n/a" for k in keys):
                continue
            if not any(res.values(k, row, metric) for k in keys):
                problems.append(f"{s}: no '{metric}' for {row}")
    return problems


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "summarize":
        text, _ = summarize(sys.argv[2])
        print(text)
        return 0
    if len(sys.argv) < 2 or sys.argv[1] != "run":
        print(__doc__, file=sys.stderr)
        return 2
    cfg = Config()
    if not cfg.host.startswith("127.") and cfg.host != "::1":
        print("HOST must be a loopback address (127.x.x.x or ::1)", file=sys.stderr)
        return 2
    for h in ("gen", "dgramfeed", "runstat", "epoll_echo", "loadgen", "zcheck", "hold", "sink"):
        if not os.access(helper(h), os.X_OK):
            print(f"missing helper bin/{h}: run bench/setup.sh", file=sys.stderr)
            return 2
    if "sockcat" in cfg.tools and not os.access(cfg.sockcat, os.X_OK):
        print(f"no sockcat binary at {cfg.sockcat}: run bench/setup.sh or set SOCKCAT_BIN", file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    h = Harness(cfg)
    t0 = time.monotonic()
    try:
        h.run()
    finally:
        for p in list(h.live):
            p.stop()
        shutil.rmtree(h.tmpdir, ignore_errors=True)
    text, res = summarize(cfg.out)
    print(text)
    log(f"results: {cfg.out} ({time.monotonic() - t0:.1f} s)")
    if cfg.smoke:
        problems = smoke_check(res, cfg)
        for p in problems:
            log(f"SMOKE FAIL: {p}")
        log("smoke: the harness works" if not problems else "smoke: the harness is broken")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
