/* What the client-side helpers (loadgen, hold, tls_loadgen, tls_send) share: a monotonic
 * clock, the numeric address they connect to, and for the load generators (loadgen,
 * tls_loadgen) their own CPU time and the latency histogram's percentiles.
 * Header-only: each helper is built from its one .c file. */
#ifndef BENCH_CLIENT_COMMON_H
#define BENCH_CLIENT_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
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

/* This process's CPU time (user + system) in seconds. */
__attribute__((unused)) static double self_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* A latency histogram (loadgen, tls_loadgen): HIST_MAX + 1 buckets of 1 us up to 1 s;
 * slower operations land in the last. */
#define HIST_MAX 1000000

/* The latency in us at quantile Q (0 < Q <= 1) of the TOTAL operations counted in HIST; 0 if none. */
__attribute__((unused)) static long long percentile(const uint32_t *hist, double q, long long total) {
    if (total == 0) return 0;
    long long want = (long long)(q * (double)total + 0.999999), seen = 0;
    if (want < 1) want = 1;
    for (long long i = 0; i <= HIST_MAX; i++) {
        seen += hist[i];
        if (seen >= want) return i;
    }
    return HIST_MAX;
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
