/* loadgen: the load generator for the echo and churn workloads (one thread, epoll,
 * non-blocking sockets).
 *
 *   loadgen -p PORT [-H ADDR] [-m persist|churn] [-c CONNS] [-d SECS] [-n MAX_OPS]
 *           [-s SIZE] [-S SETUP_S] [-T OP_TIMEOUT_S] [-P SERVER_PID] [-L]
 *
 * persist: open CONNS connections; each does one SIZE-byte round trip to prove it is
 *   served (set-up, at most SETUP_S seconds; connections not served by then are closed
 *   and left out). Then every ready connection sends SIZE bytes, waits for all of them to
 *   come back, checks them, and sends the next message at once, for SECS seconds.
 * churn: CONNS slots; each slot connects, sends SIZE bytes, reads them back, closes, and
 *   starts again at once, for SECS seconds. Latency is connect start to echo received.
 *
 * -L makes every message one line (SIZE - 1 bytes without LF or CR, then LF), for a server
 *   with --framing line; the reply must still be the same SIZE bytes.
 * Both stop after SECS seconds or MAX_OPS completed operations, whichever comes first;
 * a request not answered within OP_TIMEOUT_S counts as a timeout and its connection is
 * closed. With -P, the CPU time, process count, RSS and PSS of the server's process tree
 * (PID and its descendants, from /proc) are read around the measured phase.
 *
 * Output: one line of key=value pairs on stdout (see print_result). Exit 0 if at least
 * one operation completed in the measured phase, 1 otherwise, 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
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
#include <time.h>
#include <unistd.h>

#include "client_common.h"
#include "server_proc.h"

enum state { S_IDLE, S_CONNECTING, S_SENDING, S_WAITING, S_PARKED, S_RETRY, S_DEAD };
enum phase { P_SETUP, P_MEASURE };

struct conn {
    int fd;
    enum state st;
    uint32_t id;
    uint32_t sent, got;      /* bytes of the current message sent / received */
    uint64_t seq;            /* message number on this connection */
    int64_t t_op;            /* when the current operation started (ns) */
    int64_t retry_at;        /* S_RETRY: when to connect again */
    int counted;             /* the operation started in the measured phase */
    unsigned char *rx;
};

/* ---- settings and counters ---- */
static int churn, conns = 1, size = 64, server_pid = 0;
static double secs = 5, setup_s = 20, op_timeout_s = 5;
static long long max_ops = 10000000;

static int ep;
static struct conn *cs;
static unsigned char *tx;   /* scratch for the message being built */
static enum phase phase = P_SETUP;
static int running = 1;
static int lines;   /* -L: each message is one LF-terminated line (for --framing line servers) */
static long long ops, ready, connect_err, eof_err, reset_err, timeouts, mismatch, live, attempts;
static uint32_t *hist;     /* latencies: HIST_MAX + 1 buckets (client_common.h) */

/* ---- messages ---- */
static void build_message(const struct conn *c, unsigned char *m) {
    memcpy(m, &c->id, 4);
    memcpy(m + 4, &c->seq, 8);
    for (int i = 12; i < size; i++) m[i] = (unsigned char)(c->seq * 7 + c->id + i);
    if (lines) {   /* one line per message: no LF or CR inside, LF last */
        for (int i = 0; i < size - 1; i++)
            if (m[i] == '\n' || m[i] == '\r') m[i] = '.';
        m[size - 1] = '\n';
    }
}

/* ---- connection life ---- */
static void watch(struct conn *c, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.u32 = c->id};
    epoll_ctl(ep, op, c->fd, &ev);
}

static void close_conn(struct conn *c) {
    if (c->fd >= 0) { close(c->fd); c->fd = -1; live--; }   /* close() also leaves the epoll set */
    c->st = S_DEAD;
}

static void start_connect(struct conn *c);

/* an operation failed: persist loses the connection, churn tries again shortly */
static void fail(struct conn *c) {
    close_conn(c);
    if (churn && running) { c->st = S_RETRY; c->retry_at = now_ns() + 1000000; }
}

static void send_message(struct conn *c) {
    if (c->st != S_SENDING) {   /* a new message */
        c->seq++;
        c->sent = c->got = 0;
        c->st = S_SENDING;
        if (!churn) { c->t_op = now_ns(); c->counted = phase == P_MEASURE; }
    }
    build_message(c, tx);
    while (c->sent < (uint32_t)size) {
        ssize_t w = send(c->fd, tx + c->sent, (size_t)size - c->sent, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { watch(c, EPOLLOUT | EPOLLIN, EPOLL_CTL_MOD); return; }
            reset_err++; fail(c); return;
        }
        c->sent += (uint32_t)w;
    }
    c->st = S_WAITING;
    watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

static void start_connect(struct conn *c) {
    attempts++;
    c->t_op = now_ns();
    c->counted = phase == P_MEASURE;
    c->fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { connect_err++; c->st = S_RETRY; c->retry_at = now_ns() + 10000000; return; }
    live++;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->st = S_CONNECTING;
    c->sent = c->got = 0;
    if (connect(c->fd, (struct sockaddr *)&dst, dst_len) == 0) {
        watch(c, EPOLLIN, EPOLL_CTL_ADD);
        send_message(c);
        return;
    }
    if (errno != EINPROGRESS) { connect_err++; fail(c); return; }
    watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void finish_op(struct conn *c, int64_t t) {
    int64_t lat_us = (t - c->t_op) / 1000;
    if (c->counted && phase == P_MEASURE) {
        ops++;
        hist[lat_us < HIST_MAX ? lat_us : HIST_MAX]++;
    }
    if (churn) {
        close_conn(c);
        c->st = S_IDLE;
        if (running && ops < max_ops) start_connect(c);
        return;
    }
    if (phase == P_SETUP) { c->st = S_PARKED; ready++; return; }
    if (running && ops < max_ops) send_message(c);
    else c->st = S_PARKED;
}

static void on_event(struct conn *c, uint32_t ev) {
    if (c->fd < 0) return;
    if (c->st == S_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err || (ev & (EPOLLERR | EPOLLHUP))) { connect_err++; fail(c); return; }
        send_message(c);
        return;
    }
    if (c->st == S_SENDING && (ev & EPOLLOUT)) { send_message(c); if (c->fd < 0 || c->st == S_SENDING) return; }
    if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    if (c->st != S_WAITING) {   /* data or EOF nobody asked for */
        char junk[512];
        ssize_t r = recv(c->fd, junk, sizeof junk, 0);
        if (r > 0) mismatch++;
        else if (r == 0) eof_err++;
        else if (errno != EAGAIN && errno != EINTR) reset_err++;
        else return;
        fail(c);
        return;
    }
    for (;;) {
        ssize_t r = recv(c->fd, c->rx + c->got, (size_t)size - c->got, 0);
        if (r > 0) {
            c->got += (uint32_t)r;
            if (c->got < (uint32_t)size) continue;
            build_message(c, tx);
            if (memcmp(tx, c->rx, (size_t)size) != 0) mismatch++;
            finish_op(c, now_ns());
            return;
        }
        if (r == 0) { eof_err++; fail(c); return; }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        reset_err++;
        fail(c);
        return;
    }
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen -p PORT [-H ADDR] [-m persist|churn] [-c CONNS] [-d SECS] [-n MAX_OPS]\n"
                    "               [-s SIZE] [-S SETUP_S] [-T OP_TIMEOUT_S] [-P SERVER_PID] [-L]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = -1, opt;
    while ((opt = getopt(argc, argv, "H:p:m:c:d:n:s:S:T:P:L")) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'm':
            if (strcmp(optarg, "churn") == 0) churn = 1;
            else if (strcmp(optarg, "persist") == 0) churn = 0;
            else usage();
            break;
        case 'c': conns = atoi(optarg); break;
        case 'd': secs = atof(optarg); break;
        case 'n': max_ops = atoll(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'S': setup_s = atof(optarg); break;
        case 'T': op_timeout_s = atof(optarg); break;
        case 'P': server_pid = atoi(optarg); break;
        case 'L': lines = 1; break;
        default: usage();
        }
    }
    if (port < 1 || port > 65535 || conns < 1 || conns > 1000000 || secs <= 0 || secs > 3600 ||
        max_ops < 1 || size < 16 || size > 65536 || setup_s <= 0 || setup_s > 3600 || op_timeout_s <= 0)
        usage();
    if (parse_addr(host, port) != 0) { fprintf(stderr, "loadgen: not a numeric address: %s\n", host); return 2; }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
    signal(SIGPIPE, SIG_IGN);

    hist = calloc(HIST_MAX + 1, sizeof *hist);
    cs = calloc((size_t)conns, sizeof *cs);
    tx = malloc((size_t)size);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!hist || !cs || !tx || ep < 0) { perror("loadgen: init"); return 1; }
    for (int i = 0; i < conns; i++) {
        cs[i].fd = -1;
        cs[i].id = (uint32_t)i;
        cs[i].rx = malloc((size_t)size);
        if (!cs[i].rx) { perror("loadgen: malloc"); return 1; }
    }

    int64_t t_start = now_ns(), t0 = 0, t1 = 0, setup_deadline = t_start + (int64_t)(setup_s * 1e9), end = 0;
    double srv_cpu_a = 0, srv_cpu_b = 0, cli_cpu_a = 0;
    int64_t last_scan = t_start;
    if (churn) {   /* no set-up phase: measure from the first connect */
        phase = P_MEASURE;
        t0 = t_start;
        end = t0 + (int64_t)(secs * 1e9);
        srv_cpu_a = tree_of(server_pid, 0).cpu_s;
        cli_cpu_a = self_cpu_s();
    }
    for (int i = 0; i < conns; i++) start_connect(&cs[i]);

    struct epoll_event evs[512];
    int aborted = 0;
    for (;;) {
        int n = epoll_wait(ep, evs, 512, 5);
        if (n < 0 && errno != EINTR) { perror("loadgen: epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) on_event(&cs[evs[i].data.u32], evs[i].events);
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
        if (t - last_scan > 50000000) {   /* unanswered requests */
            last_scan = t;
            for (int i = 0; i < conns; i++) {
                struct conn *c = &cs[i];
                if ((c->st == S_WAITING || c->st == S_SENDING || c->st == S_CONNECTING) &&
                    t - c->t_op > (int64_t)(op_timeout_s * 1e9)) {
                    if (c->st == S_CONNECTING) connect_err++; else timeouts++;
                    fail(c);
                }
            }
        }
    }
    running = 0;
    double cli_cpu = self_cpu_s() - cli_cpu_a;
    struct tree after = tree_of(server_pid, 1);
    srv_cpu_b = after.cpu_s;
    double setup_done = (double)((churn ? t_start : t0) - t_start) / 1e9;
    double span = (double)(t1 - t0) / 1e9;
    if (churn) ready = conns;

    printf("mode=%s conns=%d size=%d ready=%lld setup_s=%.3f secs=%.3f ops=%lld rps=%.1f "
           "p50_us=%lld p90_us=%lld p99_us=%lld max_us=%lld connect_err=%lld eof_err=%lld reset_err=%lld "
           "timeouts=%lld mismatch=%lld attempts=%lld client_cpu_s=%.3f server_cpu_s=%.3f server_cpu_total_s=%.3f server_procs=%ld "
           "server_rss_kb=%ld server_pss_kb=%ld aborted=%d\n",
           churn ? "churn" : "persist", conns, size, ready, setup_done, span, ops, span > 0 ? ops / span : 0,
           percentile(hist, 0.50, ops), percentile(hist, 0.90, ops), percentile(hist, 0.99, ops),
           percentile(hist, 1.0, ops),
           connect_err, eof_err, reset_err, timeouts, mismatch, attempts, cli_cpu,
           server_pid > 0 ? srv_cpu_b - srv_cpu_a : 0.0, srv_cpu_b, after.procs, after.rss_kb, after.pss_kb, aborted);
    fflush(stdout);
    for (int i = 0; i < conns; i++) if (cs[i].fd >= 0) close(cs[i].fd);
    return ops > 0 ? 0 : 1;
}
