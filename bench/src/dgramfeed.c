/* dgramfeed COUNT SIZE -- CMD [ARG...]
 *
 * Runs CMD with its stdin connected to one end of an AF_UNIX SOCK_SEQPACKET socket pair
 * and writes COUNT records of SIZE bytes into the other end, then closes it. A read() on
 * a SEQPACKET socket returns exactly one record (never two merged, never half of one if
 * the buffer is large enough), so a tool that "sends one datagram per read of stdin" sees
 * exactly one SIZE-byte read per datagram, however fast or slow it reads. CMD reads EOF
 * after the last record. Each record starts with its 8-byte sequence number.
 *
 * Exit status: CMD's (128+N if killed by signal N); 2 on bad arguments.
 * stderr (if DGRAMFEED_REPORT is set, to that file): records written, seconds taken.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: dgramfeed COUNT SIZE -- CMD [ARG...]\n");
        return 2;
    }
    long long count = atoll(argv[1]);
    long size = atol(argv[2]);
    if (count < 0 || size < 8 || size > 65000) { fprintf(stderr, "dgramfeed: bad COUNT or SIZE\n"); return 2; }

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) { perror("dgramfeed: socketpair"); return 1; }
    signal(SIGPIPE, SIG_IGN);
    pid_t child = fork();
    if (child < 0) { perror("dgramfeed: fork"); return 1; }
    if (child == 0) {
        signal(SIGPIPE, SIG_DFL);
        if (dup2(sv[1], STDIN_FILENO) < 0) _exit(127);   /* dup2 clears CLOEXEC on fd 0 */
        execvp(argv[4], argv + 4);
        fprintf(stderr, "dgramfeed: exec %s: %s\n", argv[4], strerror(errno));
        _exit(127);
    }
    close(sv[1]);

    char *rec = calloc(1, (size_t)size);
    if (!rec) { perror("dgramfeed: calloc"); return 1; }
    memset(rec, 'd', (size_t)size);
    double t0 = now_s();
    long long done = 0;
    for (; done < count; done++) {
        uint64_t seq = (uint64_t)done;
        memcpy(rec, &seq, sizeof seq);
        ssize_t n;
        do n = send(sv[0], rec, (size_t)size, 0); while (n < 0 && errno == EINTR);
        if (n != size) {
            if (n < 0 && errno != EPIPE) fprintf(stderr, "dgramfeed: send: %s\n", strerror(errno));
            break;   /* the reader went away */
        }
    }
    double t1 = now_s();
    close(sv[0]);

    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    const char *rep = getenv("DGRAMFEED_REPORT");
    if (rep && *rep) {
        FILE *f = fopen(rep, "w");
        if (f) { fprintf(f, "records=%lld write_s=%.6f\n", done, t1 - t0); fclose(f); }
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}
