/* epoll_echo -p PORT [-H ADDR] [-t LIFETIME_S]
 *
 * The limit row for the echo, churn and hold workloads: a minimal single-threaded,
 * level-triggered epoll echo server. Every byte read is written straight back; if the
 * socket cannot take it all, the rest waits in a per-connection buffer and reading from
 * that client pauses until it has drained. At the client's EOF the connection is closed.
 * It listens with the system's maximum backlog, raises RLIMIT_NOFILE to the hard limit,
 * exits 0 on SIGTERM/SIGINT and by itself after LIFETIME_S seconds (default 3600).
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

struct pending { char *data; size_t len, off; };

static struct pending *pend;   /* indexed by fd; data == NULL: nothing waiting */
static size_t pend_cap;

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    if ((size_t)fd < pend_cap && pend[fd].data) { free(pend[fd].data); pend[fd].data = NULL; }
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = -1, opt;
    long lifetime = 3600;
    while ((opt = getopt(argc, argv, "H:p:t:")) != -1) {
        if (opt == 'H') host = optarg;
        else if (opt == 'p') port = atoi(optarg);
        else if (opt == 't') lifetime = atol(optarg);
        else { fprintf(stderr, "usage: epoll_echo -p PORT [-H ADDR] [-t LIFETIME_S]\n"); return 2; }
    }
    if (port < 0 || port > 65535) { fprintf(stderr, "usage: epoll_echo -p PORT [-H ADDR] [-t LIFETIME_S]\n"); return 2; }

    pend_cap = raise_nofile();
    pend = calloc(pend_cap, sizeof *pend);
    catch_signals();

    struct listener l = {.fd = listen_on("epoll_echo", host, port, 1), .ep = epoll_create1(EPOLL_CLOEXEC)};
    int ep = l.ep;
    listener_watch(&l);

    static char buf[64 * 1024];
    struct epoll_event evs[256];
    time_t end = time(NULL) + lifetime;
    while (!stop && time(NULL) < end) {
        int n = epoll_wait(ep, evs, 256, listener_timeout(&l));
        if (n < 0 && errno != EINTR) { perror("epoll_echo: epoll_wait"); return 1; }
        listener_resume(&l);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l.fd) {
                for (int k = 0; k < 64; k++) {
                    int c = listener_accept(&l);
                    if (c < 0) break;
                    if ((size_t)c >= pend_cap) { close(c); continue; }
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            struct pending *p = &pend[fd];
            if (p->data) {   /* waiting for room to send the rest */
                ssize_t w = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN && errno != EINTR) { drop(ep, fd); continue; }
                if (w > 0) p->off += (size_t)w;
                if (p->off == p->len) {
                    free(p->data); p->data = NULL;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
                }
                continue;
            }
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { drop(ep, fd); continue; }
            if (r < 0) continue;
            ssize_t w = send(fd, buf, (size_t)r, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) { drop(ep, fd); continue; }
            if (w < 0) w = 0;
            if (w < r) {
                p->len = (size_t)(r - w); p->off = 0;
                p->data = malloc(p->len);
                if (!p->data) { drop(ep, fd); continue; }
                memcpy(p->data, buf + w, p->len);
                struct epoll_event cev = {.events = EPOLLOUT, .data.fd = fd};
                epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
            }
        }
    }
    return 0;
}
