/*
 * bench-exec: start one command, time it and report its own resource usage.
 *
 * Why this exists: on Linux, exec() folds the *previous* memory image's high-water RSS into the
 * process's ru_maxrss.  A command forked from a Python process therefore reports at least
 * Python's RSS (~10 MB for a bare interpreter, hundreds of MB for a Dagster process), which
 * makes peak-memory figures of small commands meaningless.  Spawning from this tiny static
 * program keeps that floor near 1 MB, as with GNU time or hyperfine.
 *
 * Commands are started with posix_spawnp (clone with CLONE_VM | CLONE_VFORK), as hyperfine's
 * Rust Command does: fork() would add 20-40 us per run (page tables, copy-on-write faults),
 * 1-2% of a 2 ms git command.  Each runs in its own process group; at the timeout the whole
 * group gets SIGKILL.  The wall time is CLOCK_MONOTONIC around spawn -> wait4.
 *
 * bench-exec --serve                         (what the runner uses)
 *   A long-lived spawner, like hyperfine's measuring loop: a fresh helper process per run
 *   would add its own exec and cold start to every sample (~50-80 us on `git --version`).
 *   Requests on stdin: "<length>\n" then <length> bytes of NUL-terminated strings:
 *     TIMEOUT_MS, CPUS ("" or e.g. "1" / "0,2-3"), CWD, N, N times NAME=VALUE, then ARGV...
 *   The command gets stdin /dev/null and stdout / stderr on two fresh memfds, so no reader
 *   process sits in its path; their sizes are the byte counts.  One reply per request on stdout:
 *     "wall_ns user_ns sys_ns maxrss_kb inblock oublock nvcsw nivcsw exit_code signal timed_out
 *      exec_errno stdout_bytes stderr_bytes tail_len\n" then tail_len bytes: the end of stderr
 *   (at most TAIL bytes).  CPUS pins this helper and so the command and the clock readings
 *   around it (identical placement for every tool, whichever core the worker sits on); an
 *   empty CPUS restores the helper's own initial set.  A CPU set or directory that cannot be
 *   used is reported as exec_errno with exit code 126 (127 for ENOENT) and no time.
 *
 * bench-exec RESULT_FD TIMEOUT_MS [--cpus LIST] -- CMD [ARGS...]   (one run, for manual use)
 *   CMD inherits stdin/stdout/stderr; the first 12 fields above go to RESULT_FD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TAIL 4096
#define MAX_REQUEST (64L << 20)

extern char **environ;

static volatile sig_atomic_t timed_out = 0;
static volatile pid_t child = 0;

static void on_alarm(int sig) {
    (void)sig;
    timed_out = 1;
    if (child > 0) kill(-child, SIGKILL);
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Parse "0,2-3" into set; 0 on success, -1 on a malformed list. */
static int parse_cpus(const char *list, cpu_set_t *set) {
    CPU_ZERO(set);
    const char *p = list;
    while (*p) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p || lo < 0) return -1;
        if (*end == '-') {
            p = end + 1;
            hi = strtol(p, &end, 10);
            if (end == p || hi < lo) return -1;
        }
        if (hi >= CPU_SETSIZE) return -1;
        for (long c = lo; c <= hi; c++) CPU_SET((int)c, set);
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    return CPU_COUNT(set) > 0 ? 0 : -1;
}

struct outcome {
    long long wall, user, sys;
    long maxrss, inblock, oublock, nvcsw, nivcsw;
    int code, sig, tout, exec_errno;
};

static void failed(struct outcome *o, int e) {
    memset(o, 0, sizeof *o);
    o->exec_errno = e;
    o->code = e == ENOENT ? 127 : 126;
}

/* Spawn argv (searched on environ's PATH), wait for it, fill o.  out_fd < 0: inherit 0-2. */
static void run_one(char **argv, long timeout_ms, int out_fd, int err_fd, struct outcome *o) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_fd >= 0) {
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
        posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    timed_out = 0;
    pid_t pid;
    long long t0 = now_ns();
    int e = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        failed(o, e);
        return;
    }
    child = pid;
    if (timeout_ms > 0) {
        struct itimerval it;
        memset(&it, 0, sizeof it);
        it.it_value.tv_sec = timeout_ms / 1000;
        it.it_value.tv_usec = (timeout_ms % 1000) * 1000;
        setitimer(ITIMER_REAL, &it, NULL);
    }
    int status = 0;
    struct rusage ru;
    pid_t r;
    do {
        r = wait4(pid, &status, 0, &ru);
    } while (r < 0 && errno == EINTR);
    long long t1 = now_ns();
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_REAL, &off, NULL);
    child = 0;
    o->wall = t1 - t0;
    o->user = (long long)ru.ru_utime.tv_sec * 1000000000LL + ru.ru_utime.tv_usec * 1000LL;
    o->sys = (long long)ru.ru_stime.tv_sec * 1000000000LL + ru.ru_stime.tv_usec * 1000LL;
    o->maxrss = ru.ru_maxrss;
    o->inblock = ru.ru_inblock;
    o->oublock = ru.ru_oublock;
    o->nvcsw = ru.ru_nvcsw;
    o->nivcsw = ru.ru_nivcsw;
    o->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o->sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    o->tout = (int)timed_out;
    o->exec_errno = 0;
}

static int print_outcome(FILE *f, const struct outcome *o) {
    return fprintf(f, "%lld %lld %lld %ld %ld %ld %ld %ld %d %d %d %d", o->wall, o->user, o->sys, o->maxrss,
                   o->inblock, o->oublock, o->nvcsw, o->nivcsw, o->code, o->sig, o->tout, o->exec_errno);
}

/* A fresh in-memory file for one stream of one run (an unlinked /tmp file without memfd). */
static int sink(const char *name) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    return fd;
}

static int serve(void) {
    cpu_set_t initial;
    if (sched_getaffinity(0, sizeof initial, &initial) != 0) return 125;
    char head[32];
    while (fgets(head, sizeof head, stdin)) {
        long n = strtol(head, NULL, 10);
        if (n <= 0 || n > MAX_REQUEST) return 125;
        char *buf = malloc((size_t)n + 1);
        if (!buf || fread(buf, 1, (size_t)n, stdin) != (size_t)n) return 125;
        buf[n] = '\0';
        /* split into NUL-terminated fields */
        size_t count = 0;
        for (long i = 0; i < n; i++) count += buf[i] == '\0';
        char **field = calloc(count + 1, sizeof *field);
        if (!field) return 125;
        size_t k = 0;
        for (long i = 0; i < n && k < count; i += (long)strlen(buf + i) + 1) field[k++] = buf + i;
        struct outcome o;
        long long out_bytes = 0, err_bytes = 0;
        char tail[TAIL];
        int tail_len = 0;
        long nenv = count > 4 ? atol(field[3]) : -1;
        if (nenv < 0 || (size_t)(4 + nenv) >= count) {
            failed(&o, EINVAL);
        } else {
            cpu_set_t set;
            char **env = calloc((size_t)nenv + 1, sizeof *env);
            for (long i = 0; env && i < nenv; i++) env[i] = field[4 + i];
            char **argv = field + 4 + nenv; /* NULL-terminated by calloc */
            int out = -1, err = -1;
            if (!env) failed(&o, ENOMEM);
            else if (*field[1] ? parse_cpus(field[1], &set) != 0 : 0) failed(&o, EINVAL);
            else if (sched_setaffinity(0, sizeof set, *field[1] ? &set : &initial) != 0) failed(&o, errno);
            else if (chdir(field[2]) != 0) failed(&o, errno);
            else if ((out = sink("bench-stdout")) < 0 || (err = sink("bench-stderr")) < 0) failed(&o, errno);
            else {
                environ = env; /* the command's environment, and the PATH posix_spawnp searches */
                run_one(argv, atol(field[0]), out, err, &o);
                struct stat st;
                if (fstat(out, &st) == 0) out_bytes = st.st_size;
                if (fstat(err, &st) == 0) err_bytes = st.st_size;
                long long from = err_bytes > TAIL ? err_bytes - TAIL : 0;
                ssize_t got = err_bytes ? pread(err, tail, (size_t)(err_bytes - from), from) : 0;
                tail_len = got > 0 ? (int)got : 0;
            }
            if (out >= 0) close(out);
            if (err >= 0) close(err);
            free(env);
        }
        print_outcome(stdout, &o);
        printf(" %lld %lld %d\n", out_bytes, err_bytes, tail_len);
        fwrite(tail, 1, (size_t)tail_len, stdout);
        fflush(stdout);
        free(field);
        free(buf);
    }
    return 0;
}

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    if (argc == 2 && strcmp(argv[1], "--serve") == 0) return serve();

    int cmd = 4;
    const char *cpus = NULL;
    if (argc >= 7 && strcmp(argv[3], "--cpus") == 0) {
        cpus = argv[4];
        cmd = 6;
    }
    if (argc < cmd + 1 || strcmp(argv[cmd - 1], "--") != 0) {
        fprintf(stderr, "usage: bench-exec --serve | bench-exec RESULT_FD TIMEOUT_MS [--cpus LIST] -- CMD [ARGS...]\n");
        return 125;
    }
    int result_fd = atoi(argv[1]);
    /* the command must not inherit the result pipe (0-2 are the command's own streams) */
    if (result_fd > 2 && fcntl(result_fd, F_SETFD, FD_CLOEXEC) != 0) return 125;
    cpu_set_t set;
    struct outcome o;
    if (cpus && parse_cpus(cpus, &set) != 0) failed(&o, EINVAL);
    else if (cpus && sched_setaffinity(0, sizeof set, &set) != 0) failed(&o, errno);
    else run_one(&argv[cmd], atol(argv[2]), -1, -1, &o);
    FILE *f = fdopen(result_fd, "w");
    if (!f) return 125;
    print_outcome(f, &o);
    fputc('\n', f);
    fclose(f);
    return 0;
}
