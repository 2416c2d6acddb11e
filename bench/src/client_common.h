/* What the client-side helpers (loadgen, hold) share: a monotonic clock and the numeric
 * address they connect to. Header-only: each helper is built from its one .c file. */
#ifndef BENCH_CLIENT_COMMON_H
#define BENCH_CLIENT_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* The address every connection goes to, set by parse_addr(). */
static struct sockaddr_storage dst;
static socklen_t dst_len;

/* Monotonic time in nanoseconds. */
__attribute__((unused)) static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sets dst/dst_len to the numeric IPv4 or IPv6 HOST and PORT; -1 if HOST is not numeric. */
static int parse_addr(const char *host, int port) {
    memset(&dst, 0, sizeof dst);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&dst;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&dst;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET; a4->sin_port = htons((unsigned short)port); dst_len = sizeof *a4; return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6; a6->sin6_port = htons((unsigned short)port); dst_len = sizeof *a6; return 0;
    }
    return -1;
}

#endif
