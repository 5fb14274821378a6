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
 *     TIMEOUT_MS, CPUS ("" or e.g. "1" / "0,2-3"), STDOUT ("pipe" or "devnull"), CWD, N, N times
 *     NAME=VALUE, then ARGV...
 *   STDOUT "devnull" sends the command's stdout to /dev/null, as `hyperfine -N` does: nothing counts
 *   it (stdout_bytes -1), and a command that writes much pays no pipe (git log -n 300: 2-4 %).
 *   The command gets stdin /dev/null, stdout on a fresh pipe and stderr on a fresh memfd.  Nobody
 *   waits on the pipe while the command runs (a reader woken at every write competes for the
 *   cores: 13.7 % on `git log -n 300` with a Python reader); a periodic tick drains it (see
 *   run_one) and counts the bytes.  A pipe, not a file: programs see what a user's pipe or terminal
 *   gives them (git flushes stdout per commit unless it is a regular file: with a memfd
 *   `git log -n 300` ran 8 % faster than under a pipe or /dev/null).  One reply per request on stdout:
 *     "wall_ns user_ns sys_ns maxrss_kb inblock oublock nvcsw nivcsw exit_code signal timed_out
 *      exec_errno stdout_bytes stderr_bytes tail_len\n" then tail_len bytes: the end of stderr
 *   (at most TAIL bytes).  A batch, "B<count>\n" then count such requests, is read whole, run back
 *   to back and answered with count replies after the last run: as in hyperfine's loop, nothing
 *   of the worker runs between two runs (bench-pipeline measure, the runner benchmark).  CPUS pins
 *   this helper and so the command and the clock readings around it (identical placement for
 *   every tool, whichever core the worker sits on); an empty CPUS restores the helper's own
 *   initial set.  A CPU set or directory that cannot be
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TAIL 4096
#define MAX_REQUEST (64L << 20)
#define MAX_BATCH 100000
#define TICK_FIRST_US 1000
#define TICK_US 5000
#define PIPE_SIZE (1 << 20) /* the default /proc/sys/fs/pipe-max-size */

extern char **environ;

static volatile sig_atomic_t timed_out = 0;
static volatile sig_atomic_t ticked = 0;
static volatile pid_t child = 0;
static volatile long long deadline = 0; /* CLOCK_MONOTONIC ns; 0: none */

static long long now_ns(void);

/* The periodic tick while a command runs: drain its stdout pipe (in run_one), kill at the deadline. */
static void on_alarm(int sig) {
    (void)sig;
    ticked = 1;
    if (deadline && child > 0 && now_ns() >= deadline) {
        timed_out = 1;
        kill(-child, SIGKILL);
    }
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

static char sink_buf[1 << 16]; /* where the command's stdout is read to; only its size is kept */

/* Read what the stdout pipe holds (non-blocking) and count it. */
static void drain(int fd, long long *bytes) {
    ssize_t got;
    while ((got = read(fd, sink_buf, sizeof sink_buf)) > 0) *bytes += got;
}

/* SIGALRM after first_us, then every every_us (0, 0: off). */
static void set_tick(long first_us, long every_us) {
    struct itimerval it;
    it.it_value.tv_sec = first_us / 1000000;
    it.it_value.tv_usec = first_us % 1000000;
    it.it_interval.tv_sec = every_us / 1000000;
    it.it_interval.tv_usec = every_us % 1000000;
    setitimer(ITIMER_REAL, &it, NULL);
}

/* Spawn argv (searched on environ's PATH), wait for it, fill o.  out_fd < 0: inherit 0-2.
 * pipe_rd >= 0: out_fd is the write end of a pipe whose read end this is (non-blocking).  Nobody
 * waits on it while the command runs (a reader woken at every write competes for the cores); a
 * tick drains it, 1 ms after the start, then every 5 ms.  A command that fills half the pipe
 * between two ticks is a heavy writer: from then on this reads as it writes, as the consumer of a
 * user's pipe would, so it is not held up by a full pipe (should it exit while a grandchild keeps
 * the pipe open, its end is seen at the next tick).  The byte count goes to *piped. */
static void run_one(char **argv, long timeout_ms, int out_fd, int err_fd, int pipe_rd, long long *piped,
                    struct outcome *o) {
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
    ticked = 0;
    pid_t pid;
    long long t0 = now_ns();
    int e = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    if (pipe_rd >= 0) close(out_fd); /* the command holds the write end now: EOF when it is done */
    if (e != 0) {
        failed(o, e);
        return;
    }
    deadline = timeout_ms > 0 ? t0 + timeout_ms * 1000000LL : 0;
    child = pid;
    long capacity = pipe_rd >= 0 ? fcntl(pipe_rd, F_GETPIPE_SZ) : 0;
    int reading = 0; /* a heavy writer: read as it writes, as its consumer in a user's pipe would */
    set_tick(TICK_FIRST_US, TICK_US);
    int status = 0;
    struct rusage ru;
    pid_t r;
    for (;;) {
        if (reading) {
            ssize_t got = read(pipe_rd, sink_buf, sizeof sink_buf); /* blocking; the tick interrupts it */
            if (got > 0) {
                *piped += got;
                continue;
            }
            r = wait4(pid, &status, got == 0 ? 0 : WNOHANG, &ru); /* EOF: it is done or closing */
            if (r == pid || (r < 0 && errno != EINTR)) break;
            continue;
        }
        r = wait4(pid, &status, 0, &ru);
        if (r >= 0 || errno != EINTR) break;
        if (ticked && pipe_rd >= 0) {
            ticked = 0;
            int held = 0;
            int heavy = ioctl(pipe_rd, FIONREAD, &held) == 0 && held >= capacity / 2;
            drain(pipe_rd, piped);
            if (heavy) { /* it fills the pipe faster than the tick drains it */
                reading = 1;
                fcntl(pipe_rd, F_SETFL, 0);
            }
        }
    }
    long long t1 = now_ns();
    set_tick(0, 0);
    child = 0;
    deadline = 0;
    if (pipe_rd >= 0) { /* what is left; a grandchild still writing gets EPIPE later */
        fcntl(pipe_rd, F_SETFL, O_NONBLOCK);
        drain(pipe_rd, piped);
    }
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

/* One request (n bytes at buf, NUL-separated fields): run it and append its reply to out. */
static void handle(char *buf, long n, const cpu_set_t *initial, FILE *out) {
    /* split into NUL-terminated fields */
    size_t count = 0;
    for (long i = 0; i < n; i++) count += buf[i] == '\0';
    char **field = calloc(count + 1, sizeof *field);
    size_t k = 0;
    for (long i = 0; field && i < n && k < count; i += (long)strlen(buf + i) + 1) field[k++] = buf + i;
    struct outcome o;
    long long out_bytes = 0, err_bytes = 0;
    char tail[TAIL];
    int tail_len = 0;
    long nenv = field && count > 5 ? atol(field[4]) : -1;
    int to_null = field && count > 2 && strcmp(field[2], "devnull") == 0;
    if (!field) {
        failed(&o, ENOMEM);
    } else if (nenv < 0 || (size_t)(5 + nenv) >= count || (!to_null && strcmp(field[2], "pipe") != 0)) {
        failed(&o, EINVAL);
    } else {
        cpu_set_t set;
        char **env = calloc((size_t)nenv + 1, sizeof *env);
        for (long i = 0; env && i < nenv; i++) env[i] = field[5 + i];
        char **argv = field + 5 + nenv; /* NULL-terminated by calloc */
        int pipe_fds[2] = {-1, -1}, serr = -1;
        if (!env) failed(&o, ENOMEM);
        else if (*field[1] ? parse_cpus(field[1], &set) != 0 : 0) failed(&o, EINVAL);
        else if (sched_setaffinity(0, sizeof set, *field[1] ? &set : initial) != 0) failed(&o, errno);
        else if (chdir(field[3]) != 0) failed(&o, errno);
        else if ((to_null ? (pipe_fds[1] = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0
                          : pipe2(pipe_fds, O_CLOEXEC) != 0) ||
                 (serr = sink("bench-stderr")) < 0)
            failed(&o, errno);
        else {
            if (!to_null) {
                fcntl(pipe_fds[0], F_SETPIPE_SZ, PIPE_SIZE); /* as much as we may: the less draining */
                fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
            }
            char **saved = environ;
            environ = env; /* the command's environment, and the PATH posix_spawnp searches */
            run_one(argv, atol(field[0]), pipe_fds[1], serr, pipe_fds[0], &out_bytes, &o);
            if (to_null) out_bytes = -1; /* not counted */
            else pipe_fds[1] = -1;       /* closed by run_one */
            environ = saved;
            struct stat st;
            if (fstat(serr, &st) == 0) err_bytes = st.st_size;
            long long from = err_bytes > TAIL ? err_bytes - TAIL : 0;
            ssize_t got = err_bytes ? pread(serr, tail, (size_t)(err_bytes - from), from) : 0;
            tail_len = got > 0 ? (int)got : 0;
        }
        for (int i = 0; i < 2; i++)
            if (pipe_fds[i] >= 0) close(pipe_fds[i]);
        if (serr >= 0) close(serr);
        free(env);
    }
    print_outcome(out, &o);
    fprintf(out, " %lld %lld %d\n", out_bytes, err_bytes, tail_len);
    fwrite(tail, 1, (size_t)tail_len, out);
    free(field);
}

/* "<length>\n" then the request's bytes; NULL on EOF or a malformed header. */
static char *read_request(long *n) {
    char head[32];
    if (!fgets(head, sizeof head, stdin)) return NULL;
    *n = strtol(head, NULL, 10);
    if (*n <= 0 || *n > MAX_REQUEST) return NULL;
    char *buf = malloc((size_t)*n + 1);
    if (!buf || fread(buf, 1, (size_t)*n, stdin) != (size_t)*n) {
        free(buf);
        return NULL;
    }
    buf[*n] = '\0';
    return buf;
}

static int serve(void) {
    cpu_set_t initial;
    if (sched_getaffinity(0, sizeof initial, &initial) != 0) return 125;
    for (;;) {
        int c = getc(stdin);
        if (c == EOF) return 0;
        if (c != 'B') {
            ungetc(c, stdin);
            long n;
            char *buf = read_request(&n);
            if (!buf) return 125;
            handle(buf, n, &initial, stdout);
            fflush(stdout);
            free(buf);
            continue;
        }
        /* a batch, "B<count>\n" then count requests: all are read first, run back to back, and
           their replies written together after the last, so nothing wakes the worker between runs */
        char head[32];
        long count = fgets(head, sizeof head, stdin) ? strtol(head, NULL, 10) : 0;
        if (count <= 0 || count > MAX_BATCH) return 125;
        char **bufs = calloc((size_t)count, sizeof *bufs);
        long *lens = calloc((size_t)count, sizeof *lens);
        if (!bufs || !lens) return 125;
        long total = 0;
        for (long i = 0; i < count; i++) {
            if (!(bufs[i] = read_request(&lens[i]))) return 125;
            if ((total += lens[i]) > MAX_REQUEST) return 125;
        }
        char *replies = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&replies, &size);
        if (!out) return 125;
        for (long i = 0; i < count; i++) {
            handle(bufs[i], lens[i], &initial, out);
            free(bufs[i]);
        }
        fclose(out);
        fwrite(replies, 1, size, stdout);
        fflush(stdout);
        free(replies);
        free(bufs);
        free(lens);
    }
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
    else run_one(&argv[cmd], atol(argv[2]), -1, -1, -1, NULL, &o);
    FILE *f = fdopen(result_fd, "w");
    if (!f) return 125;
    print_outcome(f, &o);
    fputc('\n', f);
    fclose(f);
    return 0;
}
