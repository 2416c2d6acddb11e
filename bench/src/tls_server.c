/* tls_server -p PORT -c CERT [-k KEY] [-H ADDR] [-m echo|sink] [-t LIFETIME_S] [-A] [-v]
 *
 * The limit row of the TLS sections: a plain OpenSSL server (TLS 1.3, TLS_AES_128_GCM_SHA256
 * only; -A: OpenSSL's default TLS 1.3 suites, for the cipher probes).
 *
 * echo (default): single-threaded, level-triggered epoll, non-blocking sockets. Every
 *   connection does its handshake without holding up the others; every byte decrypted is
 *   written straight back. If the socket cannot take a reply, the reply waits in a
 *   per-connection buffer and that client is not read until it has gone out. The read and
 *   write buffers of an idle connection are released (SSL_MODE_RELEASE_BUFFERS). At the
 *   client's close_notify a close_notify is sent back and the connection closed; at EOF or
 *   an error it is just closed. OpenSSL's defaults otherwise: no session cache, two session
 *   tickets after each handshake.
 * sink: accepts one connection (blocking), copies what it decrypts to stdout (the harness
 *   gives it /dev/null, as it gives the tools) until the client's close_notify (answered
 *   with one) or EOF, and exits 0 (also when the sender just closed without close_notify,
 *   as ncat does: the verify step compares the bytes).
 *   Reads ahead (up to 64 KiB per read()) so a bulk stream costs fewer system calls.
 *
 * -v: one line on stderr per connection once its handshake is done (sink: at the end, with
 * the byte count and close_notify=1|0): "tls_server: negotiated TLSv1.3/TLS_AES_128_GCM_SHA256".
 * Listens with the system's maximum backlog, raises RLIMIT_NOFILE to the hard limit, exits 0
 * on SIGTERM/SIGINT and by itself after LIFETIME_S seconds (default 3600).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server_common.h"
#include "tls_common.h"

struct conn {
    SSL *ssl;
    int established;
    char *pend;        /* a reply SSL_write could not send yet (retried with the same bytes) */
    int pend_len;
};

static struct conn *conns;   /* indexed by fd */
static size_t conns_cap;
static int ep, verbose;

static void set_events(int fd, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void drop(int fd, int notify) {
    struct conn *c = &conns[fd];
    if (notify) SSL_shutdown(c->ssl);   /* our close_notify; the client's was already read */
    SSL_free(c->ssl);
    free(c->pend);
    memset(c, 0, sizeof *c);
    ERR_clear_error();
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
}

/* After SSL_* returned r <= 0: 1 = wait for the socket (events set), 0 = drop the connection. */
static int wait_for(int fd, SSL *ssl, int r) {
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ) { set_events(fd, EPOLLIN); return 1; }
    if (e == SSL_ERROR_WANT_WRITE) { set_events(fd, EPOLLOUT); return 1; }
    return 0;
}

/* Decrypt everything available and write it back, until the socket has nothing more. */
static void echo(int fd) {
    static char buf[16 * 1024];
    struct conn *c = &conns[fd];
    if (c->pend) {
        int w = SSL_write(c->ssl, c->pend, c->pend_len);
        if (w <= 0) { if (!wait_for(fd, c->ssl, w)) drop(fd, 0); return; }
        free(c->pend);
        c->pend = NULL;
        set_events(fd, EPOLLIN);
    }
    for (;;) {
        int r = SSL_read(c->ssl, buf, sizeof buf);
        if (r <= 0) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) return;
            if (e == SSL_ERROR_WANT_WRITE) { set_events(fd, EPOLLOUT); return; }
            drop(fd, e == SSL_ERROR_ZERO_RETURN);
            return;
        }
        int w = SSL_write(c->ssl, buf, r);
        if (w <= 0) {
            if (SSL_get_error(c->ssl, w) != SSL_ERROR_WANT_WRITE) { drop(fd, 0); return; }
            c->pend = malloc((size_t)r);
            if (!c->pend) { drop(fd, 0); return; }
            memcpy(c->pend, buf, (size_t)r);
            c->pend_len = r;
            set_events(fd, EPOLLOUT);
            return;
        }
    }
}

static void on_conn(int fd) {
    struct conn *c = &conns[fd];
    if (!c->established) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            if (!wait_for(fd, c->ssl, r)) drop(fd, 0);
            return;
        }
        c->established = 1;
        set_events(fd, EPOLLIN);
        if (verbose) {
            char neg[96];
            fprintf(stderr, "tls_server: negotiated %s\n", tls_negotiated(c->ssl, neg, sizeof neg));
        }
    }
    echo(fd);
}

static int serve_echo(SSL_CTX *ctx, int lfd, long lifetime) {
    conns_cap = raise_nofile();
    conns = calloc(conns_cap, sizeof *conns);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || ep < 0) { perror("tls_server: init"); return 1; }
    struct listener l = {.fd = lfd, .ep = ep};
    listener_watch(&l);
    struct epoll_event evs[256];
    time_t end = time(NULL) + lifetime;
    while (!stop && time(NULL) < end) {
        int n = epoll_wait(ep, evs, 256, listener_timeout(&l));
        if (n < 0 && errno != EINTR) { perror("tls_server: epoll_wait"); return 1; }
        listener_resume(&l);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd != lfd) { on_conn(fd); continue; }
            for (int k = 0; k < 64; k++) {
                int c = listener_accept(&l);
                if (c < 0) break;
                SSL *ssl = (size_t)c < conns_cap ? SSL_new(ctx) : NULL;
                if (!ssl || !SSL_set_fd(ssl, c)) { if (ssl) SSL_free(ssl); close(c); continue; }
                SSL_set_accept_state(ssl);
                conns[c].ssl = ssl;
                struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
            }
        }
    }
    return 0;
}

static int serve_sink(SSL_CTX *ctx, int lfd) {
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) { perror("tls_server: accept"); return 1; }
    close(lfd);
    SSL *ssl = SSL_new(ctx);
    if (!ssl || !SSL_set_fd(ssl, fd) || SSL_accept(ssl) != 1) {
        fprintf(stderr, "tls_server: handshake failed: ");
        ERR_print_errors_fp(stderr);
        return 1;
    }
    static char buf[64 * 1024];
    unsigned long long bytes = 0;
    int r;
    while ((r = SSL_read(ssl, buf, sizeof buf)) > 0) {   /* to stdout, like the tools (/dev/null when timed) */
        bytes += (unsigned long long)r;
        for (int off = 0; off < r;) {
            ssize_t w = write(1, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) { perror("tls_server: write"); return 1; }
            off += (int)w;
        }
    }
    int e = SSL_get_error(ssl, r), notified = e == SSL_ERROR_ZERO_RETURN;
    if (notified) SSL_shutdown(ssl);   /* our close_notify back */
    if (verbose) {
        char neg[96];
        fprintf(stderr, "tls_server: negotiated %s bytes=%llu close_notify=%d\n",
                tls_negotiated(ssl, neg, sizeof neg), bytes, notified);
    }
    SSL_free(ssl);
    close(fd);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: tls_server -p PORT -c CERT [-k KEY] [-H ADDR] [-m echo|sink] [-t LIFETIME_S] [-A] [-v]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *cert = NULL, *key = NULL;
    int port = -1, sink = 0, any = 0, opt;
    long lifetime = 3600;
    while ((opt = getopt(argc, argv, "H:p:c:k:m:t:Av")) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': cert = optarg; break;
        case 'k': key = optarg; break;
        case 'm':
            if (strcmp(optarg, "sink") == 0) sink = 1;
            else if (strcmp(optarg, "echo") == 0) sink = 0;
            else usage();
            break;
        case 't': lifetime = atol(optarg); break;
        case 'A': any = 1; break;
        case 'v': verbose = 1; break;
        default: usage();
        }
    }
    if (port < 0 || port > 65535 || !cert || lifetime <= 0) usage();

    catch_signals();

    SSL_CTX *ctx = tls_context(1, cert, key, any);
    if (!ctx) return 1;
    int lfd = listen_on("tls_server", host, port, !sink);
    if (sink) {
        alarm((unsigned)lifetime);
        return serve_sink(ctx, lfd);
    }
    return serve_echo(ctx, lfd, lifetime);
}
