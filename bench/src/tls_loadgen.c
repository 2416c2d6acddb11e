/* tls_loadgen: the TLS load generator for the tls-echo, tls-churn and tls-hold sections
 * (one thread, epoll, non-blocking sockets, OpenSSL; TLS 1.3 with TLS_AES_128_GCM_SHA256
 * only; the server's certificate is not verified; no session is ever resumed, so every
 * handshake is a full one).
 *
 *   tls_loadgen -p PORT [-H ADDR] [-m persist|churn|hold] [-c CONNS] [-d SECS] [-n MAX_OPS]
 *               [-s SIZE] [-S SETUP_S] [-T OP_TIMEOUT_S] [-P SERVER_PID] [-h HOLD_S] [-b MAX_PENDING]
 *
 * persist: open CONNS connections, handshake, and do one SIZE-byte round trip on each to
 *   prove it is served (set-up, at most SETUP_S seconds; connections not served by then
 *   are closed and left out). Then every ready connection sends SIZE bytes, waits for all
 *   of them to come back, checks them, and sends the next message at once, for SECS seconds.
 * churn: CONNS slots; each slot connects, does the handshake, sends SIZE bytes, reads them
 *   back, sends close_notify, closes, and starts again at once, for SECS seconds. Latency
 *   is connect start to echo received; ops/s is handshakes (with their echo) per second.
 * hold: CONNS clients connect (at most MAX_PENDING, default 512, in flight at once), each
 *   does the handshake and one round trip and is kept open. When all are answered (or
 *   SETUP_S has passed) they are held for HOLD_S seconds, the server is read (-P), then
 *   every client still open does a second round trip to show it is still served.
 *
 * persist and churn stop after SECS seconds or MAX_OPS completed operations, whichever
 * comes first; a request or handshake not done within OP_TIMEOUT_S counts as a timeout and
 * its connection is closed. With -P, the CPU time, process count, RSS, PSS (and in hold
 * mode peak RSS and descriptors) of the server's process tree are read from /proc.
 *
 * Output: one line of key=value pairs on stdout; `cipher` is what the first handshake
 * negotiated (e.g. TLSv1.3/TLS_AES_128_GCM_SHA256) and `cipher_other` counts handshakes
 * that negotiated anything else. Exit 0 if at least one operation completed in the
 * measured phase (hold: every client answered twice), 1 otherwise, 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_common.h"
#include "server_proc.h"
#include "tls_common.h"

enum state { S_IDLE, S_CONNECTING, S_HANDSHAKE, S_SENDING, S_WAITING, S_PARKED, S_RETRY, S_DEAD };
enum mode { M_PERSIST, M_CHURN, M_HOLD };
enum phase { P_SETUP, P_MEASURE };

struct conn {
    int fd;
    enum state st;
    uint32_t id;
    uint32_t got;            /* bytes of the current reply received */
    uint64_t seq;            /* message number on this connection */
    int64_t t_op;            /* when the current operation started (ns) */
    int64_t retry_at;        /* S_RETRY: when to connect again */
    int counted;             /* the operation started in the measured phase */
    int inflight;            /* hold: counted in `inflight` */
    SSL *ssl;
    unsigned char *rx;
};

/* ---- settings and counters ---- */
static enum mode mode = M_PERSIST;
static int conns = 1, size = 64, server_pid = 0;
static double secs = 5, setup_s = 20, op_timeout_s = 5;
static long long max_ops = 10000000;

static SSL_CTX *ctx;
static int ep;
static struct conn *cs;
static unsigned char *tx;   /* scratch for the message being built */
static enum phase phase = P_SETUP;
static int running = 1;
static long long ops, ready, connected, handshakes, cipher_other, connect_err, handshake_err, eof_err,
    reset_err, timeouts, mismatch, live, attempts, inflight;
static char cipher[96] = "none";
static uint32_t *hist;     /* latencies: HIST_MAX + 1 buckets (client_common.h) */

/* ---- messages: connection id, sequence number, then a pattern of both ---- */
static void build_message(const struct conn *c, unsigned char *m) {
    memcpy(m, &c->id, 4);
    memcpy(m + 4, &c->seq, 8);
    for (int i = 12; i < size; i++) m[i] = (unsigned char)(c->seq * 7 + c->id + i);
}

/* ---- connection life ---- */
static void watch(struct conn *c, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.u32 = c->id};
    epoll_ctl(ep, op, c->fd, &ev);
}

static void leave_flight(struct conn *c) {
    if (c->inflight) { c->inflight = 0; inflight--; }
}

static void close_conn(struct conn *c) {
    if (c->ssl) { SSL_free(c->ssl); c->ssl = NULL; }
    if (c->fd >= 0) { close(c->fd); c->fd = -1; live--; }   /* close() also leaves the epoll set */
    c->st = S_DEAD;
}

/* an operation failed: persist and hold lose the connection, churn tries again shortly */
static void fail(struct conn *c, long long *counter) {
    (*counter)++;
    ERR_clear_error();
    leave_flight(c);
    close_conn(c);
    if (mode == M_CHURN && running) { c->st = S_RETRY; c->retry_at = now_ns() + 1000000; }
}

/* After SSL_* returned r <= 0: set the events to wait for and return 1, or return 0 (failed). */
static int wait_for(struct conn *c, int r, int *zero_return) {
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) { watch(c, EPOLLIN, EPOLL_CTL_MOD); return 1; }
    if (e == SSL_ERROR_WANT_WRITE) { watch(c, EPOLLOUT | EPOLLIN, EPOLL_CTL_MOD); return 1; }
    if (zero_return) *zero_return = e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0);
    return 0;
}

static void start_connect(struct conn *c);

static void send_message(struct conn *c) {
    if (c->st != S_SENDING) {   /* a new message */
        c->seq++;
        c->got = 0;
        c->st = S_SENDING;
        if (mode != M_CHURN) { c->t_op = now_ns(); c->counted = phase == P_MEASURE; }
    }
    build_message(c, tx);   /* a retried SSL_write gets the same bytes again */
    int w = SSL_write(c->ssl, tx, size);
    if (w <= 0) {
        int eof = 0;
        if (!wait_for(c, w, &eof)) fail(c, eof ? &eof_err : &reset_err);
        return;
    }
    c->st = S_WAITING;
    watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

static void do_handshake(struct conn *c) {
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) {
        if (!wait_for(c, r, NULL)) fail(c, &handshake_err);
        return;
    }
    const SSL_CIPHER *ci = SSL_get_current_cipher(c->ssl);
    if (handshakes++ == 0) tls_negotiated(c->ssl, cipher, sizeof cipher);
    if (SSL_version(c->ssl) != TLS1_3_VERSION || !ci || strcmp(SSL_CIPHER_get_name(ci), BENCH_TLS_SUITE) != 0)
        cipher_other++;
    send_message(c);
}

static void begin_tls(struct conn *c) {
    connected++;
    c->ssl = SSL_new(ctx);
    if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) { fail(c, &handshake_err); return; }
    SSL_set_connect_state(c->ssl);
    c->st = S_HANDSHAKE;
    do_handshake(c);
}

static void start_connect(struct conn *c) {
    attempts++;
    c->t_op = now_ns();
    c->counted = phase == P_MEASURE;
    if (mode == M_HOLD && !c->inflight) { c->inflight = 1; inflight++; }
    c->fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        connect_err++;
        leave_flight(c);
        c->st = mode == M_CHURN ? S_RETRY : S_DEAD;
        c->retry_at = now_ns() + 10000000;
        return;
    }
    live++;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->st = S_CONNECTING;
    c->got = 0;
    if (connect(c->fd, (struct sockaddr *)&dst, dst_len) == 0) {
        watch(c, EPOLLIN, EPOLL_CTL_ADD);
        begin_tls(c);
        return;
    }
    if (errno != EINPROGRESS) { fail(c, &connect_err); return; }
    watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void finish_op(struct conn *c, int64_t t) {
    int64_t lat_us = (t - c->t_op) / 1000;
    if (c->counted && phase == P_MEASURE) {
        ops++;
        hist[lat_us < HIST_MAX ? lat_us : HIST_MAX]++;
    }
    if (mode == M_CHURN) {
        SSL_shutdown(c->ssl);   /* close_notify, then close without waiting for the server's */
        close_conn(c);
        c->st = S_IDLE;
        if (running && ops < max_ops) start_connect(c);
        return;
    }
    if (mode == M_HOLD || phase == P_SETUP) {
        leave_flight(c);
        c->st = S_PARKED;
        ready++;
        return;
    }
    if (running && ops < max_ops) send_message(c);
    else c->st = S_PARKED;
}

static void on_event(struct conn *c, uint32_t ev) {
    if (c->fd < 0) return;
    switch (c->st) {
    case S_CONNECTING: {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err || (ev & (EPOLLERR | EPOLLHUP))) { fail(c, &connect_err); return; }
        begin_tls(c);
        return;
    }
    case S_HANDSHAKE: do_handshake(c); return;
    case S_SENDING: send_message(c); return;
    case S_WAITING:
        for (;;) {
            int r = SSL_read(c->ssl, c->rx + c->got, size - (int)c->got);
            if (r > 0) {
                c->got += (uint32_t)r;
                if (c->got < (uint32_t)size) continue;
                build_message(c, tx);
                if (memcmp(tx, c->rx, (size_t)size) != 0) mismatch++;
                finish_op(c, now_ns());
                return;
            }
            int eof = 0;
            if (!wait_for(c, r, &eof)) fail(c, eof ? &eof_err : &reset_err);
            return;
        }
    default: {   /* parked: session tickets are fine; data or EOF nobody asked for is not */
        unsigned char junk[512];
        int r = SSL_read(c->ssl, junk, sizeof junk);
        if (r > 0) { fail(c, &mismatch); return; }
        int eof = 0;
        if (!wait_for(c, r, &eof)) fail(c, eof ? &eof_err : &reset_err);
        return;
    }
    }
}

static long count_state(enum state st) {
    long k = 0;
    for (int i = 0; i < conns; i++) k += cs[i].st == st;
    return k;
}

static void dispatch(int timeout_ms) {
    static struct epoll_event evs[1024];
    int n = epoll_wait(ep, evs, 1024, timeout_ms);
    if (n < 0 && errno != EINTR) { perror("tls_loadgen: epoll_wait"); exit(1); }
    for (int i = 0; i < n; i++) on_event(&cs[evs[i].data.u32], evs[i].events);
}

/* ---- hold: connect all, answer once, hold, read the server, answer again ---- */
static int run_hold(double hold_s, int max_pending) {
    phase = P_MEASURE;
    int64_t t_start = now_ns(), deadline = t_start + (int64_t)(setup_s * 1e9);
    int next = 0;
    while (now_ns() < deadline) {
        while (next < conns && inflight < max_pending) start_connect(&cs[next++]);
        if (next == conns && inflight == 0) break;
        dispatch(10);
    }
    double setup_done = (double)(now_ns() - t_start) / 1e9;
    long answered = count_state(S_PARKED);
    for (int i = 0; i < conns; i++)   /* whatever is still unanswered by now does not count */
        if (cs[i].inflight) fail(&cs[i], &timeouts);

    int64_t hold_end = now_ns() + (int64_t)(hold_s * 1e9);
    while (now_ns() < hold_end) dispatch(20);   /* a held client should hear nothing but tickets */
    struct tree m = tree_of(server_pid, 1);
    long held = count_state(S_PARKED);

    int64_t t2 = now_ns(), deadline2 = t2 + (int64_t)(setup_s * 1e9);
    for (int i = 0; i < conns; i++)
        if (cs[i].st == S_PARKED) { cs[i].inflight = 1; inflight++; send_message(&cs[i]); }
    while (inflight > 0 && now_ns() < deadline2) dispatch(10);
    double round2 = (double)(now_ns() - t2) / 1e9;
    for (int i = 0; i < conns; i++)
        if (cs[i].inflight) fail(&cs[i], &timeouts);
    long answered2 = count_state(S_PARKED);
    struct tree m2 = tree_of(server_pid, 1);

    printf("mode=hold conns=%d connected=%lld handshakes=%lld answered=%ld held=%ld answered2=%ld setup_s=%.3f "
           "round2_s=%.3f connect_err=%lld handshake_err=%lld eof_err=%lld reset_err=%lld timeouts=%lld "
           "mismatch=%lld server_rss_kb=%ld server_hwm_kb=%ld server_fds=%ld server_procs=%ld server_rss2_kb=%ld "
           "client_rss_kb=%ld cipher=%s cipher_other=%lld\n",
           conns, connected, handshakes, answered, held, answered2, setup_done, round2, connect_err, handshake_err,
           eof_err, reset_err, timeouts, mismatch, m.rss_kb, m.hwm_kb, m.fds, m.procs, m2.rss_kb,
           proc_kb("/proc/self/status", "VmRSS:"), cipher, cipher_other);
    fflush(stdout);
    return answered2 == conns ? 0 : 1;
}

/* ---- persist and churn ---- */
static int run_load(void) {
    int64_t t_start = now_ns(), t0 = 0, t1 = 0, setup_deadline = t_start + (int64_t)(setup_s * 1e9), end = 0;
    double srv_cpu_a = 0, cli_cpu_a = 0;
    int64_t last_scan = t_start;
    int churn = mode == M_CHURN;
    if (churn) {   /* no set-up phase: measure from the first connect */
        phase = P_MEASURE;
        t0 = t_start;
        end = t0 + (int64_t)(secs * 1e9);
        srv_cpu_a = tree_of(server_pid, 0).cpu_s;
        cli_cpu_a = self_cpu_s();
    }
    for (int i = 0; i < conns; i++) start_connect(&cs[i]);

    int aborted = 0;
    for (;;) {
        dispatch(5);
        int64_t t = now_ns();
        if (phase == P_SETUP) {
            long long settled = 0;
            for (int i = 0; i < conns; i++) settled += cs[i].st == S_PARKED || cs[i].st == S_DEAD;
            if (settled == conns || t >= setup_deadline) {
                for (int i = 0; i < conns; i++)
                    if (cs[i].st != S_PARKED && cs[i].st != S_DEAD) close_conn(&cs[i]);
                phase = P_MEASURE;
                t0 = now_ns();
                end = t0 + (int64_t)(secs * 1e9);
                srv_cpu_a = tree_of(server_pid, 0).cpu_s;
                cli_cpu_a = self_cpu_s();
                for (int i = 0; i < conns; i++)
                    if (cs[i].st == S_PARKED) send_message(&cs[i]);
            }
            continue;
        }
        if (t >= end || ops >= max_ops) { t1 = t; break; }
        if (!churn && live == 0) { t1 = t; break; }   /* every connection is gone */
        if (churn && ops == 0 && t - t0 > (int64_t)(setup_s * 1e9)) { t1 = t; aborted = 1; break; }
        if (churn)
            for (int i = 0; i < conns; i++)
                if (cs[i].st == S_RETRY && t >= cs[i].retry_at) start_connect(&cs[i]);
        if (t - last_scan > 50000000) {   /* unanswered requests and stalled handshakes */
            last_scan = t;
            for (int i = 0; i < conns; i++) {
                struct conn *c = &cs[i];
                if ((c->st == S_WAITING || c->st == S_SENDING || c->st == S_CONNECTING || c->st == S_HANDSHAKE) &&
                    t - c->t_op > (int64_t)(op_timeout_s * 1e9))
                    fail(c, c->st == S_CONNECTING ? &connect_err : c->st == S_HANDSHAKE ? &handshake_err : &timeouts);
            }
        }
    }
    running = 0;
    double cli_cpu = self_cpu_s() - cli_cpu_a;
    struct tree after = tree_of(server_pid, 1);
    double setup_done = (double)((churn ? t_start : t0) - t_start) / 1e9;
    double span = (double)(t1 - t0) / 1e9;
    if (churn) ready = conns;

    printf("mode=%s conns=%d size=%d ready=%lld setup_s=%.3f secs=%.3f ops=%lld rps=%.1f "
           "p50_us=%lld p90_us=%lld p99_us=%lld max_us=%lld connect_err=%lld handshake_err=%lld eof_err=%lld "
           "reset_err=%lld timeouts=%lld mismatch=%lld attempts=%lld handshakes=%lld client_cpu_s=%.3f "
           "server_cpu_s=%.3f server_cpu_total_s=%.3f server_procs=%ld server_rss_kb=%ld server_pss_kb=%ld "
           "aborted=%d cipher=%s cipher_other=%lld\n",
           churn ? "churn" : "persist", conns, size, ready, setup_done, span, ops, span > 0 ? ops / span : 0,
           percentile(hist, 0.50, ops), percentile(hist, 0.90, ops), percentile(hist, 0.99, ops),
           percentile(hist, 1.0, ops),
           connect_err, handshake_err, eof_err, reset_err, timeouts, mismatch, attempts, handshakes, cli_cpu,
           server_pid > 0 ? after.cpu_s - srv_cpu_a : 0.0, after.cpu_s, after.procs, after.rss_kb, after.pss_kb,
           aborted, cipher, cipher_other);
    fflush(stdout);
    return ops > 0 ? 0 : 1;
}

static void usage(void) {
    fprintf(stderr, "usage: tls_loadgen -p PORT [-H ADDR] [-m persist|churn|hold] [-c CONNS] [-d SECS] [-n MAX_OPS]\n"
                    "                   [-s SIZE] [-S SETUP_S] [-T OP_TIMEOUT_S] [-P SERVER_PID] [-h HOLD_S] [-b MAX_PENDING]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = -1, max_pending = 512, opt;
    double hold_s = 2;
    while ((opt = getopt(argc, argv, "H:p:m:c:d:n:s:S:T:P:h:b:")) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'm':
            if (strcmp(optarg, "churn") == 0) mode = M_CHURN;
            else if (strcmp(optarg, "persist") == 0) mode = M_PERSIST;
            else if (strcmp(optarg, "hold") == 0) mode = M_HOLD;
            else usage();
            break;
        case 'c': conns = atoi(optarg); break;
        case 'd': secs = atof(optarg); break;
        case 'n': max_ops = atoll(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'S': setup_s = atof(optarg); break;
        case 'T': op_timeout_s = atof(optarg); break;
        case 'P': server_pid = atoi(optarg); break;
        case 'h': hold_s = atof(optarg); break;
        case 'b': max_pending = atoi(optarg); break;
        default: usage();
        }
    }
    if (port < 1 || port > 65535 || conns < 1 || conns > 1000000 || secs <= 0 || secs > 3600 || max_ops < 1 ||
        size < 16 || size > 16384 || setup_s <= 0 || setup_s > 3600 || op_timeout_s <= 0 || hold_s < 0 ||
        hold_s > 600 || max_pending < 1)
        usage();
    if (parse_addr(host, port) != 0) { fprintf(stderr, "tls_loadgen: not a numeric address: %s\n", host); return 2; }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
    if ((rlim_t)conns + 16 > rl.rlim_cur) {
        fprintf(stderr, "tls_loadgen: %d connections need more descriptors than RLIMIT_NOFILE allows (%llu)\n",
                conns, (unsigned long long)rl.rlim_cur);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    ctx = tls_context(0, NULL, NULL, 0);
    hist = calloc(HIST_MAX + 1, sizeof *hist);
    cs = calloc((size_t)conns, sizeof *cs);
    tx = malloc((size_t)size);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!ctx || !hist || !cs || !tx || ep < 0) { perror("tls_loadgen: init"); return 1; }
    for (int i = 0; i < conns; i++) {
        cs[i].fd = -1;
        cs[i].id = (uint32_t)i;
        cs[i].rx = malloc((size_t)size);
        if (!cs[i].rx) { perror("tls_loadgen: malloc"); return 1; }
    }
    int rc = mode == M_HOLD ? run_hold(hold_s, max_pending) : run_load();
    running = 0;
    for (int i = 0; i < conns; i++) if (cs[i].fd >= 0) close_conn(&cs[i]);
    return rc;
}
