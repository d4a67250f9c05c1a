/* A program for the uffd correctness tests: it does to its memory what
 * programs do, while vmlab moves its pages out and back, and prints a
 * checksum that must equal an unmonitored run's.
 *
 *   victim MODE [seconds]
 *     syscalls  the kernel touches the pages: read, write, futex,
 *               process_vm_readv, vmsplice/splice
 *     zap       munmap, MADV_DONTNEED and mremap of pages, maybe out
 *     threads   4 threads writing and checking their own slices
 *     fork      fork children that check the memory they inherited
 *     thp       a huge-page buffer: AnonHugePages before and after
 *     overlap   two pages out and a hole beside them (tests/c/uffd_overlap)
 *     long      checks its memory for `seconds`, writes "ok" to
 *               $VICTIM_OK at the end (the SIGKILL test)
 * The work is the same whatever the time it takes (rounds, not seconds),
 * except in long mode.  Exit status 0 when every check held. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pattern.h"

#define MiB (1UL << 20)
static size_t PG;
static int bad;

#define CHECK(c, ...) do { if (!(c)) { fprintf(stderr, "victim: " __VA_ARGS__); fputc('\n', stderr); bad = 1; } } while (0)


static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void syscalls(void)
{
    size_t n = 32 * MiB;
    unsigned char *a = area(n), *b = area(n);
    int p[2];

    fill(a, n, 1);
    memset(b, 0, n);
    for (int round = 0; round < 40; round++) {
        for (size_t off = 0; off < n; off += 64 * PG) {
            size_t len = 16 * PG;
            /* write(2) from a, read(2) into b */
            if (pipe(p) < 0)
                exit(2);
            CHECK(write(p[1], a + off, PG) == (ssize_t)PG, "write: %s", strerror(errno));
            CHECK(read(p[0], b + off, PG) == (ssize_t)PG, "read: %s", strerror(errno));
            /* vmsplice a page in, splice through a second pipe, read it out */
            {
                int q[2];
                struct iovec v = {a + off + PG, PG};
                if (pipe(q) < 0)
                    exit(2);
                CHECK(vmsplice(p[1], &v, 1, 0) == (ssize_t)PG, "vmsplice: %s", strerror(errno));
                CHECK(splice(p[0], NULL, q[1], NULL, PG, 0) == (ssize_t)PG, "splice: %s", strerror(errno));
                CHECK(read(q[0], b + off + PG, PG) == (ssize_t)PG, "read after splice");
                close(q[0]);
                close(q[1]);
            }
            close(p[0]);
            close(p[1]);
            /* process_vm_readv of our own pages */
            {
                struct iovec l = {b + off + 2 * PG, len - 2 * PG}, r = {a + off + 2 * PG, len - 2 * PG};
                CHECK(process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)(len - 2 * PG),
                      "process_vm_readv: %s", strerror(errno));
            }
            /* futex on a word in a sampled page: the value must be seen */
            {
                uint32_t *w = (uint32_t *)(a + off + 32 * PG);
                uint32_t v = *(volatile uint32_t *)w;
                pause_ms(0);
                long r = syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v + 1, &(struct timespec){0, 1000}, NULL, 0);
                CHECK(r < 0 && errno == EAGAIN, "futex saw the wrong value");
                syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
            }
        }
        for (size_t off = 0; off < n; off += 64 * PG)
            CHECK(!memcmp(a + off, b + off, 16 * PG), "copy at +%zu differs (round %d)", off, round);
        pause_ms(20);
    }
    printf("checksum %llx %llx\n", (unsigned long long)sum(a, n), (unsigned long long)sum(b, n));
}

static void zap(void)
{
    size_t n = 16 * MiB, pages = n / PG;
    unsigned char *a = area(n), *spare = area(8 * PG);

    const char *only = getenv("VICTIM_ZAP");   /* "012": which cases (debugging) */
    char *refilled = calloc(pages, 1);        /* filled again on its own */
    /* a second copy of that bookkeeping, in a mapping of its own, checked
     * every round: the victim's own heap is memory vmlab moves too */
    char *mirror = (char *)area(pages);
    if (getenv("VICTIM_SAY"))
        fprintf(stderr, "victim: bookkeeping at %p\n", (void *)refilled);
    fill(a, n, 2);
    munmap(spare, 8 * PG);   /* a hole to mremap into */
    for (int round = 0; round < 60; round++) {
        for (size_t i = (size_t)round % 7; i < pages; i += 97) {
            unsigned char *pg = a + i * PG;
            if (only && !strchr(only, (int)('0' + (i + (size_t)round) % 3)))
                continue;
            switch ((i + (size_t)round) % 3) {
            case 0:   /* dropped: reads zeros, then new data */
                madvise(pg, PG, MADV_DONTNEED);
                CHECK(pg[0] == 0 && pg[PG - 1] == 0, "MADV_DONTNEED page not zero");
                fill(pg, PG, (unsigned)i);
                refilled[i] = mirror[i] = 1;
                break;
            case 1: { /* unmapped and mapped again: zeros */
                munmap(pg, PG);
                unsigned char *q = mmap(pg, PG, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
                CHECK(q == pg, "mmap again failed");
                CHECK(q[7] == 0 && q[PG - 1] == 0, "a new page is not zero");
                fill(pg, PG, (unsigned)i);
                refilled[i] = mirror[i] = 1;
                break;
            }
            default: { /* moved away and back: the data travels along */
                uint64_t before = sum(pg, PG);
                unsigned char *t = mremap(pg, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, spare + (i % 8) * PG);
                CHECK(t != MAP_FAILED, "mremap: %s", strerror(errno));
                CHECK(sum(t, PG) == before, "mremap'ed page changed");
                CHECK(mremap(t, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, pg) == pg, "mremap back");
                CHECK(sum(pg, PG) == before, "page moved back changed");
                break;
            }
            }
        }
        for (size_t i = 0; i < pages; i++)
            if (refilled[i] != mirror[i]) {
                CHECK(0, "round %d: the heap's bookkeeping at %p (byte %zu) changed", round,
                      (void *)(refilled + i), i);
                break;
            }
        pause_ms(15);
    }
    /* every page as it should be: the first fill, or its own refill */
    {
        unsigned char *e = malloc(n), *z = calloc(1, PG);
        fill(e, n, 2);
        for (size_t i = 0; i < pages; i++)
            if (refilled[i] != mirror[i]) {
                CHECK(0, "at the end: the heap's bookkeeping at %p (byte %zu) changed, e %p z %p", 
                      (void *)(refilled + i), i, (void *)e, (void *)z);
                break;
            }
        for (size_t i = 0; i < pages; i++) {
            if (refilled[i])
                fill(e + i * PG, PG, (unsigned)i);
            if (memcmp(e + i * PG, a + i * PG, PG)) {
                unsigned char *f2 = malloc(PG), *fi = malloc(PG);
                size_t k = 0;
                fill(f2, PG, 2 + (unsigned)(i * PG));
                fill(fi, PG, (unsigned)i);
                while (k < PG && e[i * PG + k] == a[i * PG + k])
                    k++;
                CHECK(0, "page %zu (%p) holds %s from byte %zu; refilled %d; a: first fill %d refill %d; e: first fill %d refill %d", i, (void *)(a + i * PG),
                      memcmp(z, a + i * PG, PG) ? "other data" : "zeros", k, refilled[i],
                      !memcmp(f2, a + i * PG, PG), !memcmp(fi, a + i * PG, PG),
                      !memcmp(f2, e + i * PG, PG), !memcmp(fi, e + i * PG, PG));
                free(f2);
                free(fi);
            }
        }
        free(e);
        free(z);
    }
    printf("checksum %llx\n", (unsigned long long)sum(a, n));
}

static volatile sig_atomic_t go;
static void on_usr1(int sig)
{
    (void)sig;
    go = 1;
}

/* overlap (driven by tests/c/uffd_overlap.c): two pages written at the
 * start of an otherwise untouched 2 MiB, its address written to
 * $VICTIM_ADDR; on SIGUSR1 the third page is touched, then the two are
 * checked.  The test arms the three pages in one batch in between: the
 * two first are out then, the 2 MiB looks empty. */
static void overlap(void)
{
    unsigned char *raw = area(4 * MiB), *h;
    sigset_t usr1, old;
    FILE *f = getenv("VICTIM_ADDR") ? fopen(getenv("VICTIM_ADDR"), "w") : NULL;
    h = (unsigned char *)(((uintptr_t)raw + 2 * MiB - 1) & ~(uintptr_t)(2 * MiB - 1));
    madvise(h, 2 * MiB, MADV_NOHUGEPAGE);
    fill(h, 2 * PG, 6);
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old);
    signal(SIGUSR1, on_usr1);
    if (!f) {
        fprintf(stderr, "victim: overlap needs $VICTIM_ADDR\n");
        exit(2);
    }
    fprintf(f, "%p\n", (void *)h);
    fclose(f);
    while (!go)
        sigsuspend(&old);
    h[2 * PG] = 1;
    {
        unsigned char *e = malloc(2 * PG);
        fill(e, 2 * PG, 6);
        CHECK(!memcmp(e, h, PG), "page 0 of the 2 MiB holds %s", h[0] || h[PG - 1] ? "other data" : "zeros");
        CHECK(!memcmp(e + PG, h + PG, PG), "page 1 of the 2 MiB holds %s",
              h[PG] || h[2 * PG - 1] ? "other data" : "zeros");
        free(e);
    }
}

struct slice {
    unsigned char *p;
    size_t n;
    unsigned seed;
};

static void *worker(void *arg)
{
    struct slice *s = arg;
    for (int round = 0; round < 30; round++) {
        fill(s->p, s->n, s->seed + (unsigned)round);
        pause_ms(5);
        for (size_t i = 0; i < s->n; i += 8) {
            uint64_t w, e = (i + s->seed + (unsigned)round) * 0x9e3779b97f4a7c15ULL;
            memcpy(&w, s->p + i, 8);
            if (w != e) {
                CHECK(0, "thread %u: word at +%zu changed", s->seed, i);
                return NULL;
            }
        }
    }
    return NULL;
}

static void threads(void)
{
    size_t n = 8 * MiB;
    unsigned char *a = area(4 * n);
    pthread_t th[4];
    struct slice s[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (struct slice){a + (size_t)i * n, n, (unsigned)i * 1000};
        pthread_create(&th[i], NULL, worker, &s[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    printf("checksum %llx\n", (unsigned long long)sum(a, 4 * n));
}

static void forks(void)
{
    size_t n = 16 * MiB;
    unsigned char *a = area(n);
    fill(a, n, 3);
    uint64_t want = sum(a, n);
    for (int round = 0; round < 20; round++) {
        pid_t pid;
        int st;
        pause_ms(30);
        pid = fork();
        if (pid == 0) {
            if (sum(a, n) == want)
                _exit(0);
            unsigned char *e = malloc(PG);
            for (size_t off = 0; off < n; off += PG) {
                fill(e, PG, 3 + (unsigned)off);
                if (memcmp(e, a + off, PG))
                    fprintf(stderr, "victim: child: page +%zu (%p) differs, first byte %d\n", off,
                            (void *)(a + off), a[off]);
            }
            _exit(1);
        }
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the child of round %d saw other memory", round);
        CHECK(sum(a, n) == want, "the parent's memory changed in round %d", round);
    }
    printf("checksum %llx\n", (unsigned long long)want);
}

static long anon_huge_kb(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static void thp(void)
{
    size_t n = 64 * MiB;
    unsigned char *raw = area(n + 2 * MiB), *a;
    a = (unsigned char *)(((uintptr_t)raw + 2 * MiB - 1) & ~(uintptr_t)(2 * MiB - 1));
    madvise(a, n, MADV_HUGEPAGE);
    fill(a, n, 4);
    printf("thp_before %ld\n", anon_huge_kb());
    fflush(stdout);
    uint64_t want = sum(a, n);
    for (int round = 0; round < 60; round++) {
        for (size_t off = 0; off < n / 4; off += PG)
            a[off] ^= 0;   /* a hot quarter, read and written */
        CHECK(sum(a, n) == want, "content changed in round %d", round);
        pause_ms(10);
    }
    printf("thp_after %ld\nchecksum %llx\n", anon_huge_kb(), (unsigned long long)want);
}

static void long_run(double seconds)
{
    size_t n = 32 * MiB;
    unsigned char *a = area(n);
    struct timespec t0, t;
    fill(a, n, 5);
    uint64_t want = sum(a, n);
    printf("# pid %d\n", (int)getpid());
    fflush(stdout);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        CHECK(sum(a, n) == want, "memory changed");
        pause_ms(2);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (!bad && (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 < seconds);
    if (!bad && getenv("VICTIM_OK")) {
        FILE *f = fopen(getenv("VICTIM_OK"), "w");
        if (f) {
            fputs("ok\n", f);
            fclose(f);
        }
    }
}

int main(int argc, char **argv)
{
    PG = (size_t)sysconf(_SC_PAGESIZE);
    if (argc < 2) {
        fprintf(stderr, "usage: victim syscalls|zap|threads|fork|thp|overlap|long [seconds]\n");
        return 2;
    }
    if (!strcmp(argv[1], "syscalls"))
        syscalls();
    else if (!strcmp(argv[1], "zap"))
        zap();
    else if (!strcmp(argv[1], "threads"))
        threads();
    else if (!strcmp(argv[1], "fork"))
        forks();
    else if (!strcmp(argv[1], "thp"))
        thp();
    else if (!strcmp(argv[1], "overlap"))
        overlap();
    else if (!strcmp(argv[1], "long"))
        long_run(argc > 2 ? atof(argv[2]) : 3);
    else {
        fprintf(stderr, "victim: unknown mode %s\n", argv[1]);
        return 2;
    }
    return bad;
}
