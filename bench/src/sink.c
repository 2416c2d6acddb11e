/* sink -p PORT [-H ADDR] [-o] [-t LIFETIME_S]
 *
 * The target behind the relay in the forward section's bulk runs: accepts one connection
 * and reads it to EOF in 256 KiB reads, discarding the bytes (-o: copying them to stdout,
 * for a comparison). At EOF it closes stdout and writes one line to stderr,
 *     bytes=N eof_ns=T
 * T being CLOCK_MONOTONIC at EOF in ns (the clock of Python's time.monotonic()), so the
 * harness can time the transfer and read the relay's CPU while the relay's connection is
 * still open. It then keeps the connection open until SIGTERM/SIGINT or LIFETIME_S
 * (default 600) and exits 0, or 1 if reading failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server_common.h"

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = -1, copy = 0, opt;
    long lifetime = 600;
    while ((opt = getopt(argc, argv, "H:p:ot:")) != -1) {
        if (opt == 'H') host = optarg;
        else if (opt == 'p') port = atoi(optarg);
        else if (opt == 'o') copy = 1;
        else if (opt == 't') lifetime = atol(optarg);
        else goto bad;
    }
    if (port < 1 || port > 65535 || lifetime < 1) goto bad;
    catch_signals();
    alarm((unsigned)lifetime);   /* the whole run, accept included; SIGALRM ends the process */

    int l = listen_on("sink", host, port, 0);
    int c;
    do c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    while (c < 0 && errno == EINTR && !stop);
    if (c < 0) { perror("sink: accept"); return 1; }
    close(l);

    static char buf[256 * 1024];
    unsigned long long total = 0;
    int rc = 0;
    for (;;) {
        ssize_t r = read(c, buf, sizeof buf);
        if (r == 0) break;
        if (r < 0) {
            if (errno == EINTR && !stop) continue;
            fprintf(stderr, "sink: read: %s\n", stop ? "stopped" : strerror(errno));
            rc = 1;
            break;
        }
        total += (unsigned long long)r;
        if (copy && write_all(STDOUT_FILENO, buf, (size_t)r) != 0) {
            fprintf(stderr, "sink: write: %s\n", strerror(errno));
            copy = 0;   /* keep reading: the relay must not stall on us */
            rc = 1;
        }
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    close(STDOUT_FILENO);
    fprintf(stderr, "bytes=%llu eof_ns=%lld\n", total, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    fflush(stderr);
    while (!stop) {   /* until SIGTERM or SIGINT (stop), or SIGALRM (the lifetime) ends the process */
        struct timespec d = {0, 20 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
    close(c);
    return rc;
bad:
    fprintf(stderr, "usage: sink -p PORT [-H ADDR] [-o] [-t LIFETIME_S]\n");
    return 2;
}
