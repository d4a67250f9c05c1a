/* A program with children, for the uffd tests of following children and
 * of raw clones.  Prints "checksum ..." lines that must equal an
 * unmonitored run's, and exits 0 when every check held.
 *
 *   kids fork N      N children (fork), each works on a buffer of its own
 *                    for a while and checks the memory it inherited; the
 *                    parent works on its own meanwhile
 *   kids exec N      the same, but each child execs this program first
 *                    ("kids worker"), from a plain fork
 *   kids clone N     N raw clone(2)s without CLONE_VM (no fork handler
 *                    runs) while the parent's pages are sampled: each
 *                    child checksums the whole buffer it got
 *   kids worker      a child's work (after exec)
 * A third argument multiplies the children's work (rounds). */
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1UL << 20)
static size_t PG;
static int scale = 1;

static uint64_t sum(const unsigned char *p, size_t n)
{
    uint64_t s = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        s = (s ^ w) * 1099511628211ULL;
    }
    return s;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = (i + seed) * 0x9e3779b97f4a7c15ULL;
        memcpy(p + i, &w, 8);
    }
}

static unsigned char *area(size_t n)
{
    unsigned char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    return p;
}

/* Touch a hot part of p for rounds (reads and writes), leaving it as it
 * was: every page is sampled meanwhile. */
static void work(unsigned char *p, size_t n, int rounds)
{
    volatile uint64_t acc = 0;
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < n / 4; i += PG) {
            p[i] ^= 0x5a;
            acc += p[i];
            p[i] ^= 0x5a;
        }
        usleep(2000);
    }
    (void)acc;
}

/* A child's share: its own 8 MiB, worked on, checked. */
static int child_work(void)
{
    size_t n = 8 * MiB;
    unsigned char *own = area(n);
    uint64_t before;
    fill(own, n, (unsigned)getpid());
    before = sum(own, n);
    work(own, n, 150 * scale);
    return sum(own, n) == before ? 0 : 1;
}

static int wait_all(int n)
{
    int bad = 0, st;
    for (int i = 0; i < n; i++) {
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad++;
    }
    return bad;
}

int main(int argc, char **argv)
{
    size_t n = 32 * MiB;
    unsigned char *p;
    uint64_t expect;
    int kids = argc > 2 ? atoi(argv[2]) : 2, bad = 0;

    PG = (size_t)sysconf(_SC_PAGESIZE);
    if (argc > 3 && atoi(argv[3]) > 0)
        scale = atoi(argv[3]);
    if (argc < 2) {
        fprintf(stderr, "usage: kids fork|exec|clone N | kids worker\n");
        return 2;
    }
    if (!strcmp(argv[1], "worker"))
        return child_work();
    p = area(n);
    fill(p, n, 7);
    expect = sum(p, n);
    work(p, n, 50);   /* the monitor takes pages out meanwhile */
    if (!strcmp(argv[1], "fork") || !strcmp(argv[1], "exec")) {
        for (int i = 0; i < kids; i++) {
            pid_t pid = fork();
            if (pid == 0) {
                int b = sum(p, n) != expect;
                if (!strcmp(argv[1], "exec")) {
                    execl("/proc/self/exe", argv[0], "worker", "0", argc > 3 ? argv[3] : "1", (char *)NULL);
                    _exit(3);
                }
                b |= child_work();
                b |= sum(p, n) != expect;
                _exit(b);
            }
            if (pid < 0) {
                perror("fork");
                return 2;
            }
        }
        work(p, n, 150);
        bad = wait_all(kids);
        printf("children_bad %d\n", bad);
    } else if (!strcmp(argv[1], "clone")) {
        /* pages go out all the time: clone in the middle of it */
        for (int i = 0; i < kids; i++) {
            long pid;
            /* writing every page makes it the parent's alone again (a
             * page shared with an earlier child cannot be moved out) */
            fill(p, n, 7);
            work(p, n, 3);
            pid = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
            if (pid == 0)
                _exit(sum(p, n) != expect);   /* raw syscalls only below */
            if (pid < 0) {
                perror("clone");
                return 2;
            }
            bad += wait_all(1);
        }
        printf("clone_bad %d\n", bad);
    } else {
        fprintf(stderr, "kids: unknown mode %s\n", argv[1]);
        return 2;
    }
    printf("checksum %016llx\n", (unsigned long long)sum(p, n));
    return bad || sum(p, n) != expect;
}
