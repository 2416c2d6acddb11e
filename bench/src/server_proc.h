/* The server's process tree as the client-side helpers read it from /proc (-P): CPU time,
 * process count, RSS, PSS, peak RSS and open descriptors of PID and its descendants, in
 * one walk. Used by loadgen (CPU, processes, RSS, PSS), hold (RSS, peak RSS, descriptors,
 * processes) and tls_loadgen (all of them). Header-only: each helper is built from its
 * one .c file. */
#ifndef BENCH_SERVER_PROC_H
#define BENCH_SERVER_PROC_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tree { double cpu_s; long procs, rss_kb, pss_kb, hwm_kb, fds; };

static long proc_kb(const char *path, const char *key) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[256];
    long v = 0;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0) { v = atol(line + kl); break; }
    fclose(f);
    return v;
}

/* CPU time of all threads of PID in ns (first field of each task's schedstat), -1 if unavailable */
static double proc_own_cpu_ns(int pid) {
    char path[300];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    double sum = 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        unsigned long long ns;
        if (fscanf(f, "%llu", &ns) == 1) { sum += (double)ns; found = 1; }
        fclose(f);
    }
    closedir(d);
    return found ? sum : -1;
}

static void tree_add(int pid, struct tree *t, int want_mem, int depth) {
    char path[300], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return;
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime cutime cstime.
     * Reaped children (cutime, cstime) are summed in the kernel before the conversion to clock
     * ticks, so they are exact enough. A live process's own utime+stime is truncated to whole
     * ticks, which loses everything for many short-lived or lightly loaded processes (a forking
     * server's children): its own time comes from schedstat (ns of CPU, per thread) instead. */
    unsigned long long ut = 0, st = 0, cut = 0, cst = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ut, &st, &cut, &cst) == 4) {
        double tick = (double)sysconf(_SC_CLK_TCK);
        double own = proc_own_cpu_ns(pid);
        t->cpu_s += (own >= 0 ? own / 1e9 : (double)(ut + st) / tick) + (double)(cut + cst) / tick;
    }
    t->procs++;
    struct dirent *e;
    DIR *d;
    if (want_mem) {
        snprintf(path, sizeof path, "/proc/%d/status", pid);
        t->rss_kb += proc_kb(path, "VmRSS:");
        t->hwm_kb += proc_kb(path, "VmHWM:");
        snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
        t->pss_kb += proc_kb(path, "Pss:");
        snprintf(path, sizeof path, "/proc/%d/fd", pid);
        if ((d = opendir(path))) {
            while ((e = readdir(d))) if (e->d_name[0] != '.') t->fds++;
            closedir(d);
        }
    }
    if (depth > 8) return;
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    if (!(d = opendir(path))) return;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char cp[300];
        snprintf(cp, sizeof cp, "/proc/%d/task/%s/children", pid, e->d_name);
        FILE *cf = fopen(cp, "r");
        if (!cf) continue;
        int child;
        while (fscanf(cf, "%d", &child) == 1) tree_add(child, t, want_mem, depth + 1);
        fclose(cf);
    }
    closedir(d);
}

/* The tree of PID (nothing if PID <= 0); want_mem: also RSS, PSS, peak RSS and descriptors
 * (CPU time and the process count are always read). */
static struct tree tree_of(int pid, int want_mem) {
    struct tree t;
    memset(&t, 0, sizeof t);
    if (pid > 0) tree_add(pid, &t, want_mem, 0);
    return t;
}

#endif
