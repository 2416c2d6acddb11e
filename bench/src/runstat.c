/* runstat -o FILE [-p PIDFILE] -- CMD [ARG...]
 *
 * Runs CMD as a child and, when it ends, writes one line to FILE:
 *     wall_s user_s sys_s maxrss_kb status
 * from wait4()'s resource usage (CMD plus every descendant it waited for; maxrss is the
 * largest single process). status is CMD's exit code, or 128+N if a signal N ended it.
 * Unlike /usr/bin/time it survives the SIGTERM that stops a server: SIGTERM, SIGINT and
 * SIGHUP sent to runstat are passed on to CMD and runstat keeps waiting, so a server's
 * CPU time is still written when the harness stops it (by signalling its process group).
 * -p PIDFILE: write CMD's PID there as soon as it has started.
 * Exit status: CMD's status as above; 125 if runstat itself failed, 127 if exec failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void forward(int sig) {
    if (child_pid > 0) kill(child_pid, sig);
}

static double tv_s(struct timeval tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

int main(int argc, char **argv) {
    const char *out = NULL, *pidfile = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { i++; break; }
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out = argv[++i];
        else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) pidfile = argv[++i];
        else { i = argc; break; }
    }
    if (!out || i >= argc) {
        fprintf(stderr, "usage: runstat -o FILE [-p PIDFILE] -- CMD [ARG...]\n");
        return 125;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* block the forwarded signals until the handler knows the child's PID */
    sigset_t fwd, old;
    sigemptyset(&fwd);
    sigaddset(&fwd, SIGTERM); sigaddset(&fwd, SIGINT); sigaddset(&fwd, SIGHUP);
    sigprocmask(SIG_BLOCK, &fwd, &old);

    pid_t pid = fork();
    if (pid < 0) { perror("runstat: fork"); return 125; }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(argv[i], argv + i);
        fprintf(stderr, "runstat: exec %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);

    if (pidfile) {
        FILE *f = fopen(pidfile, "w");
        if (f) { fprintf(f, "%d\n", (int)pid); fclose(f); }
    }

    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) { perror("runstat: wait4"); return 125; }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 125;

    FILE *f = fopen(out, "w");
    if (!f) { perror("runstat: open output"); return 125; }
    fprintf(f, "%.6f %.6f %.6f %ld %d\n",
            (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
            tv_s(ru.ru_utime), tv_s(ru.ru_stime), ru.ru_maxrss, code);
    fclose(f);
    return code;
}
