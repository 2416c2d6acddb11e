/* hold: many concurrent clients held open against one server.
 *
 *   hold -p PORT [-H ADDR] [-n CONNS] [-s SIZE] [-S SETUP_S] [-h HOLD_S] [-b MAX_PENDING] [-P SERVER_PID]
 *
 * Opens CONNS connections (at most MAX_PENDING connects in flight at once, default 512),
 * does one SIZE-byte round trip on each as soon as it is connected, and keeps every
 * connection open. When all are answered (or SETUP_S has passed) it holds them all for
 * HOLD_S seconds, reads the server's memory (-P: RSS, PSS, peak RSS, open descriptors and
 * process count of PID and its descendants, from /proc), then does a second round trip
 * on every connection still open to show the server still answers them all, and closes.
 * RLIMIT_NOFILE is raised to its hard limit; CONNS above what that allows is an error.
 *
 * Output: one line of key=value pairs. Exit 0 if every connection was answered twice.
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

enum { H_NONE, H_CONNECTING, H_WAITING, H_ANSWERED, H_FAILED };

struct client { int fd, st; uint32_t got; int64_t t; };

static int size = 64;
static int ep;
static unsigned char msg[65536];
static long long connect_err, eof_err, reset_err, mismatch, connected;

/* ---- one round of requests on every client in state `from` ---- */
static void fail(struct client *c, long long *counter) {
    (*counter)++;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->st = H_FAILED;
}

static void send_request(struct client *c) {
    ssize_t w = send(c->fd, msg, (size_t)size, MSG_NOSIGNAL);
    if (w != size) { fail(c, &reset_err); return; }   /* SIZE is small: a fresh socket takes it whole */
    c->st = H_WAITING;
    c->got = 0;
}

static void on_readable(struct client *c) {
    unsigned char buf[65536];
    for (;;) {
        ssize_t r = recv(c->fd, buf, (size_t)size - c->got, 0);
        if (r > 0) {
            if (memcmp(buf, msg + c->got, (size_t)r) != 0) mismatch++;
            c->got += (uint32_t)r;
            if (c->got == (uint32_t)size) { c->st = H_ANSWERED; return; }
            continue;
        }
        if (r == 0) { fail(c, &eof_err); return; }
        if (errno == EINTR) continue;
        if (errno != EAGAIN) fail(c, &reset_err);
        return;
    }
}

static long count_state(struct client *cl, int n, int st) {
    long k = 0;
    for (int i = 0; i < n; i++) k += cl[i].st == st;
    return k;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = -1, n = 10000, max_pending = 512, server_pid = 0, opt;
    double setup_s = 30, hold_s = 2;
    while ((opt = getopt(argc, argv, "H:p:n:s:S:h:b:P:")) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'n': n = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'S': setup_s = atof(optarg); break;
        case 'h': hold_s = atof(optarg); break;
        case 'b': max_pending = atoi(optarg); break;
        case 'P': server_pid = atoi(optarg); break;
        default: goto bad;
        }
    }
    if (port < 1 || port > 65535 || n < 1 || size < 1 || size > 65536 || setup_s <= 0 || setup_s > 600 ||
        hold_s < 0 || hold_s > 600 || max_pending < 1) goto bad;
    if (parse_addr(host, port) != 0) { fprintf(stderr, "hold: not a numeric address: %s\n", host); return 2; }

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)n + 16 > rl.rlim_cur) {
        fprintf(stderr, "hold: %d connections need more descriptors than RLIMIT_NOFILE allows (%llu)\n",
                n, (unsigned long long)rl.rlim_cur);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < size; i++) msg[i] = (unsigned char)('a' + i % 26);

    struct client *cl = calloc((size_t)n, sizeof *cl);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cl || ep < 0) { perror("hold: init"); return 1; }
    for (int i = 0; i < n; i++) cl[i].fd = -1;

    /* ---- round 1: connect (bounded in flight) + one round trip each ---- */
    int64_t t_start = now_ns(), deadline = t_start + (int64_t)(setup_s * 1e9);
    int next = 0, pending = 0;   /* pending: connecting or waiting for the first answer */
    struct epoll_event evs[1024];
    while (now_ns() < deadline) {
        while (next < n && pending < max_pending) {
            struct client *c = &cl[next];
            c->fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c->fd < 0) { fail(c, &connect_err); next++; continue; }
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            c->t = now_ns();
            int r = connect(c->fd, (struct sockaddr *)&dst, dst_len);
            if (r != 0 && errno != EINPROGRESS) { fail(c, &connect_err); next++; continue; }
            c->st = H_CONNECTING;
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)next};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
            next++;
            pending++;
        }
        if (next == n && pending == 0) break;
        int k = epoll_wait(ep, evs, 1024, 10);
        for (int i = 0; i < k; i++) {
            struct client *c = &cl[evs[i].data.u32];
            if (c->fd < 0) continue;
            if (c->st == H_CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err || (evs[i].events & EPOLLERR)) { fail(c, &connect_err); pending--; continue; }
                connected++;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[i].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                send_request(c);
                if (c->st == H_FAILED) pending--;
                continue;
            }
            if (c->st == H_WAITING) {
                on_readable(c);
                if (c->st != H_WAITING) pending--;
            } else if (c->st == H_ANSWERED) {   /* unexpected EOF or data while held */
                on_readable(c);
            }
        }
    }
    double setup_done = (double)(now_ns() - t_start) / 1e9;
    long answered = count_state(cl, n, H_ANSWERED);
    /* whatever is still unanswered by now does not count */
    for (int i = 0; i < n; i++)
        if (cl[i].st == H_CONNECTING || cl[i].st == H_WAITING) fail(&cl[i], &reset_err);

    /* ---- hold: keep everything open, watch for closes, then read the server ---- */
    int64_t hold_end = now_ns() + (int64_t)(hold_s * 1e9);
    while (now_ns() < hold_end) {
        int k = epoll_wait(ep, evs, 1024, 20);
        for (int i = 0; i < k; i++) {
            struct client *c = &cl[evs[i].data.u32];
            if (c->fd >= 0) on_readable(c);   /* an answered client should hear nothing */
        }
    }
    struct tree m = tree_of(server_pid, 1);
    long held = count_state(cl, n, H_ANSWERED);

    /* ---- round 2: one more round trip on every held connection ---- */
    int64_t t2 = now_ns(), deadline2 = t2 + (int64_t)(setup_s * 1e9);
    long waiting = 0;
    for (int i = 0; i < n; i++)
        if (cl[i].st == H_ANSWERED) { send_request(&cl[i]); if (cl[i].st == H_WAITING) waiting++; }
    while (waiting > 0 && now_ns() < deadline2) {
        int k = epoll_wait(ep, evs, 1024, 10);
        for (int i = 0; i < k; i++) {
            struct client *c = &cl[evs[i].data.u32];
            if (c->fd < 0 || c->st != H_WAITING) continue;
            on_readable(c);
            if (c->st != H_WAITING) waiting--;
        }
    }
    double round2 = (double)(now_ns() - t2) / 1e9;
    long answered2 = count_state(cl, n, H_ANSWERED);
    struct tree m2 = tree_of(server_pid, 1);

    printf("conns=%d connected=%lld answered=%ld held=%ld answered2=%ld setup_s=%.3f round2_s=%.3f "
           "connect_err=%lld eof_err=%lld reset_err=%lld mismatch=%lld "
           "server_rss_kb=%ld server_pss_kb=%ld server_hwm_kb=%ld server_fds=%ld server_procs=%ld server_rss2_kb=%ld "
           "client_rss_kb=%ld\n",
           n, connected, answered, held, answered2, setup_done, round2, connect_err, eof_err, reset_err, mismatch,
           m.rss_kb, m.pss_kb, m.hwm_kb, m.fds, m.procs, m2.rss_kb, proc_kb("/proc/self/status", "VmRSS:"));
    fflush(stdout);
    for (int i = 0; i < n; i++) if (cl[i].fd >= 0) close(cl[i].fd);
    return answered2 == n ? 0 : 1;
bad:
    fprintf(stderr, "usage: hold -p PORT [-H ADDR] [-n CONNS] [-s SIZE] [-S SETUP_S] [-h HOLD_S] [-b MAX_PENDING] [-P SERVER_PID]\n");
    return 2;
}
