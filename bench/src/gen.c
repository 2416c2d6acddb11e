/* gen BYTES [CHUNK]: write BYTES bytes of a fixed pattern to stdout, fast.
 *
 * BYTES and CHUNK take K, M, G suffixes (powers of 1024). The stream is the byte
 * sequence i % 251 (a prime period, so a shifted, dropped or repeated block shows up
 * in a comparison against a second `gen BYTES`). Writes are CHUNK bytes (128 KiB by
 * default). Exit 0 when everything was written, 1 when stdout failed (EPIPE included).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PERIOD 251u

static int parse_size(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    uint64_t mult = 1;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mult = 1ull << 10; end++; break;
    case 'm': case 'M': mult = 1ull << 20; end++; break;
    case 'g': case 'G': mult = 1ull << 30; end++; break;
    default: return -1;
    }
    if (*end != '\0' && strcmp(end, "iB") != 0 && strcmp(end, "B") != 0) return -1;
    *out = (uint64_t)v * mult;
    return 0;
}

int main(int argc, char **argv) {
    uint64_t total, chunk = 128 * 1024;
    if (argc < 2 || argc > 3 || parse_size(argv[1], &total) != 0 ||
        (argc == 3 && (parse_size(argv[2], &chunk) != 0 || chunk == 0 || chunk > (64u << 20)))) {
        fprintf(stderr, "usage: gen BYTES [CHUNK]   (suffixes K M G = KiB MiB GiB)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* one buffer of CHUNK + PERIOD bytes: any stream offset starts at (pos % PERIOD) */
    unsigned char *buf = malloc(chunk + PERIOD);
    if (!buf) { perror("gen: malloc"); return 1; }
    for (uint64_t i = 0; i < chunk + PERIOD; i++) buf[i] = (unsigned char)(i % PERIOD);

    uint64_t pos = 0;
    while (pos < total) {
        uint64_t want = total - pos < chunk ? total - pos : chunk;
        ssize_t n = write(STDOUT_FILENO, buf + pos % PERIOD, want);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EPIPE) fprintf(stderr, "gen: write: %s\n", strerror(errno));
            return 1;
        }
        pos += (uint64_t)n;
    }
    return 0;
}
