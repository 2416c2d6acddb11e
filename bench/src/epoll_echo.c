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
#include <time.h>
#include <unistd.h>

struct pending { char *data; size_t len, off; };

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static struct pending *pend;   /* indexed by fd; data == NULL: nothing waiting */
static size_t pend_cap;

static int listen_on(const char *host, int port) {
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
        fprintf(stderr, "epoll_echo: not a numeric address: %s\n", host);
        exit(2);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
        perror("epoll_echo: listen");
        exit(1);
    }
    return fd;
}

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

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
    pend_cap = rl.rlim_cur > 0 && rl.rlim_cur < (1u << 22) ? rl.rlim_cur : (1u << 16);
    pend = calloc(pend_cap, sizeof *pend);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = listen_on(host, port);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

    static char buf[64 * 1024];
    struct epoll_event evs[256];
    time_t end = time(NULL) + lifetime;
    int accept_paused = 0;
    while (!stop && time(NULL) < end) {
        int n = epoll_wait(ep, evs, 256, accept_paused ? 100 : 1000);
        if (n < 0 && errno != EINTR) { perror("epoll_echo: epoll_wait"); return 1; }
        if (accept_paused) {   /* out of descriptors earlier: try again now */
            accept_paused = 0;
            ev.events = EPOLLIN; ev.data.fd = lfd;
            epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                for (int k = 0; k < 64; k++) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) {
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                            epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL);
                            accept_paused = 1;
                        }
                        break;
                    }
                    if ((size_t)c >= pend_cap) { close(c); continue; }
                    int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
