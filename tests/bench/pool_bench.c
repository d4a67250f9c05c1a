/* tests/bench/pool's workload: one row per run, the seconds it took on
 * stdout.  The allocator is whatever the process's malloc is (glibc, or an
 * LD_PRELOAD), or memkind's PMEM kind when built with -DWITH_MEMKIND (the
 * pool directory is then argv[3]).
 *   pool_bench ws <threads> [dir]   working set of live blocks per thread
 *   pool_bench loop 1 [dir]         malloc/free at once, one thread
 *   pool_bench realloc 1 [dir]      a buffer grown by realloc, one thread
 *   pool_bench double 1 [dir]       a buffer doubled 16 B -> 64 KiB by
 *                                   realloc, a small block kept between steps
 *   pool_bench run N cmd args...    cmd run N times (stdout to /dev/null):
 *                                   the CPU time of the runs (wait4's
 *                                   rusage), whatever the rest of the
 *                                   machine does
 * The time is the process's CPU time, all threads: the machine may be
 * shared, and time spent waiting for a CPU is not the allocator's (lock
 * contention still shows, as spinning and futex calls).  A row prints it
 * and, second, the part of it spent in the kernel (getrusage's system time:
 * page faults, mostly), to tell the allocator's cost from the memory's.
 * Sizes are 16 B-4 KiB, one in 64 of the working set's 64 KiB-1 MiB; every
 * block has its first and last byte written, as a program would. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef WITH_MEMKIND
#include <memkind.h>
static memkind_t kind;
#define A_MALLOC(n) memkind_malloc(kind, n)
#define A_FREE(p) memkind_free(kind, p)
#define A_REALLOC(p, n) memkind_realloc(kind, p, n)
#else
#define A_MALLOC(n) malloc(n)
#define A_FREE(p) free(p)
#define A_REALLOC(p, n) realloc(p, n)
#endif

#define SLOTS 4096
#define WS_OPS 600000
#define LOOP_OPS 3000000
#define REALLOC_OPS 2000000
#define DOUBLE_ROUNDS 60000

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t small_size(uint64_t *s) { return 16 + next(s) % (4096 - 16 + 1); }

static void *get(size_t n)
{
    char *p = A_MALLOC(n);
    if (!p) {
        fprintf(stderr, "pool_bench: out of memory at %zu bytes\n", n);
        exit(1);
    }
    p[0] = 1;
    p[n - 1] = 1;
    return p;
}

static void *ws_thread(void *arg)
{
    uint64_t s = 88172645463325252ull + (uintptr_t)arg;
    void **slot = calloc(SLOTS, sizeof *slot);
    for (long i = 0; i < WS_OPS; i++) {
        size_t k = next(&s) % SLOTS;
        size_t n = next(&s) % 64 ? small_size(&s) : 65536 + next(&s) % (1048576 - 65536 + 1);
        if (slot[k])
            A_FREE(slot[k]);
        slot[k] = get(n);
    }
    for (size_t k = 0; k < SLOTS; k++)
        if (slot[k])
            A_FREE(slot[k]);
    free(slot);
    return NULL;
}

static void loop(void)
{
    uint64_t s = 2463534242ull;
    for (long i = 0; i < LOOP_OPS; i++)
        A_FREE(get(small_size(&s)));
}

/* A buffer grown by 1-512 bytes at a time up to 256 KiB, then started over
 * (a string builder): glibc can grow it in place, jemalloc moves it at
 * every size class. */
static void grow(void)
{
    uint64_t s = 362436069ull;
    char *buf = NULL;
    size_t len = 0;
    for (long i = 0; i < REALLOC_OPS; i++) {
        size_t n = len + 1 + next(&s) % 512;
        if (n > 262144) {
            A_FREE(buf);
            buf = NULL;
            n = 1 + next(&s) % 512;
        }
        char *q = A_REALLOC(buf, n);
        if (!q) {
            fprintf(stderr, "pool_bench: realloc failed at %zu bytes\n", n);
            exit(1);
        }
        q[n - 1] = 1;
        buf = q;
        len = n;
    }
    A_FREE(buf);
}

/* A buffer doubled from 16 B to 64 KiB, with a small block allocated (and
 * kept) after each step so that the buffer cannot simply grow in place;
 * then everything freed, and again. */
static void doubling(void)
{
    void *keep[16];
    for (long i = 0; i < DOUBLE_ROUNDS; i++) {
        char *buf = NULL;
        int k = 0;
        for (size_t n = 16; n <= 65536; n *= 2) {
            char *q = A_REALLOC(buf, n);
            if (!q) {
                fprintf(stderr, "pool_bench: realloc failed at %zu bytes\n", n);
                exit(1);
            }
            q[n - 1] = 1;
            buf = q;
            keep[k++] = get(24);
        }
        A_FREE(buf);
        while (k)
            A_FREE(keep[--k]);
    }
}

static int run(int n, char **cmd)
{
    double cpu = 0;
    for (int i = 0; i < n; i++) {
        struct rusage ru;
        int st;
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            execvp(cmd[0], cmd);
            _exit(127);
        }
        if (pid < 0 || wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
            fprintf(stderr, "pool_bench: %s failed\n", cmd[0]);
            return 1;
        }
        cpu += (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
    }
    printf("%.6f\n", cpu);
    return 0;
}

int main(int argc, char **argv)
{
    struct timespec t0, t1;
    pthread_t th[16];
    int nth = argc > 2 ? atoi(argv[2]) : 1;

    if (argc > 3 && !strcmp(argv[1], "run"))
        return run(atoi(argv[2]), argv + 3);
    if (argc < 2 || nth < 1 || nth > 16) {
        fprintf(stderr, "usage: pool_bench ws|loop|realloc|double [threads] [dir]\n");
        return 2;
    }
#ifdef WITH_MEMKIND
    if (memkind_create_pmem(argc > 3 ? argv[3] : "/tmp", (size_t)1 << 30, &kind)) {
        fprintf(stderr, "pool_bench: memkind_create_pmem failed\n");
        return 1;
    }
#endif
    clockid_t clk = CLOCK_PROCESS_CPUTIME_ID;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    clock_gettime(clk, &t0);
    if (!strcmp(argv[1], "ws")) {
        for (int i = 0; i < nth; i++)
            pthread_create(&th[i], NULL, ws_thread, (void *)(uintptr_t)i);
        for (int i = 0; i < nth; i++)
            pthread_join(th[i], NULL);
    } else if (!strcmp(argv[1], "loop")) {
        loop();
    } else if (!strcmp(argv[1], "realloc")) {
        grow();
    } else if (!strcmp(argv[1], "double")) {
        doubling();
    } else {
        fprintf(stderr, "pool_bench: unknown row %s\n", argv[1]);
        return 2;
    }
    clock_gettime(clk, &t1);
    getrusage(RUSAGE_SELF, &r1);
    printf("%.6f %.6f\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9,
           (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) + (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) * 1e-6);
    return 0;
}
