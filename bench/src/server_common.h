/* What the limit-row servers (epoll_echo, tls_server) share: the listening socket, the
 * stop signals, the descriptor limit, and accepting clients from an epoll loop (with a
 * pause when the process is out of descriptors). What they do with a client differs
 * (plain echo, or a TLS handshake then echo). Header-only: each server is built from its
 * one .c file. */
#ifndef BENCH_SERVER_COMMON_H
#define BENCH_SERVER_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

/* Set by SIGTERM or SIGINT (see catch_signals): the server's loop ends. */
static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

/* SIGTERM and SIGINT set `stop`; SIGPIPE is ignored. */
static void catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* A listening TCP socket on the numeric IPv4 or IPv6 HOST and PORT, with SO_REUSEADDR and
 * the system's maximum backlog (non-blocking if NONBLOCK). Exits 2 if HOST is not numeric
 * and 1 if it cannot listen; PROG starts the message. */
static int listen_on(const char *prog, const char *host, int port, int nonblock) {
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET; a4->sin_port = htons((unsigned short)port); len = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6; a6->sin6_port = htons((unsigned short)port); len = sizeof *a6;
    } else {
        fprintf(stderr, "%s: not a numeric address: %s\n", prog, host);
        exit(2);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
        fprintf(stderr, "%s: listen: %s\n", prog, strerror(errno));
        exit(1);
    }
    return fd;
}

/* Raises RLIMIT_NOFILE to its hard limit and returns how many entries a table indexed by
 * descriptor needs (the limit, or 65536 if it is unknown or above 4 Mi). */
__attribute__((unused)) static size_t raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1u << 16;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur > 0 && rl.rlim_cur < (1u << 22) ? (size_t)rl.rlim_cur : (1u << 16);
}

/* A non-blocking listening socket in an epoll set (data.fd = its descriptor). */
struct listener { int fd, ep, paused; };

__attribute__((unused)) static void listener_watch(struct listener *l) {
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->fd};
    epoll_ctl(l->ep, EPOLL_CTL_ADD, l->fd, &ev);
}

/* The epoll_wait timeout in ms: short while accepting is paused. */
__attribute__((unused)) static int listener_timeout(const struct listener *l) { return l->paused ? 100 : 1000; }

/* After each epoll_wait: if accepting was paused (out of descriptors), try again now. */
__attribute__((unused)) static void listener_resume(struct listener *l) {
    if (!l->paused) return;
    l->paused = 0;
    listener_watch(l);
}

/* The next waiting client (non-blocking, close-on-exec, TCP_NODELAY), or -1 if there is
 * none; out of descriptors, the listening socket also leaves the epoll set until
 * listener_resume. */
__attribute__((unused)) static int listener_accept(struct listener *l) {
    int c = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            epoll_ctl(l->ep, EPOLL_CTL_DEL, l->fd, NULL);
            l->paused = 1;
        }
        return -1;
    }
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return c;
}

#endif
