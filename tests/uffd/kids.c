/* A program with children, for the uffd tests of following children and
 * of raw clones.  Prints "checksum ..." lines that must equal an
 * unmonitored run's, and exits 0 when every check held.
 *
 *   kids fork N      N children (fork), each works on a buffer of its own
 *                    for a while and checks the memory it inherited; the
 *                    parent works on its own meanwhile
 *   kids exec N      the same, but each child execs this program first
 *                    ("kids worker"), from a plain fork
 *   kids clone N     N raw clone(2)s without CLONE_VM through syscall()
 *                    (no fork handler runs) while the parent's pages are
 *                    sampled: each child checksums the whole buffer it got
 *   kids asmclone N  the same with the system call instruction itself (no
 *                    C library function at all)
 *   kids worker      a child's work (after exec)
 * A third argument multiplies the children's work (rounds). */
#include <errno.h>
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

#include "pattern.h"

#define MiB (1UL << 20)
static size_t PG;
static int scale = 1;


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

/* clone(SIGCHLD) by the instruction itself: nobody can wrap it */
static long asm_clone(void)
{
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"((long)SYS_clone), "D"((long)SIGCHLD), "S"(0L), "d"(0L)
                     : "rcx", "r11", "r10", "r8", "r9", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = SYS_clone, x0 __asm__("x0") = SIGCHLD, x1 __asm__("x1") = 0,
                  x2 __asm__("x2") = 0, x3 __asm__("x3") = 0, x4 __asm__("x4") = 0;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
    return x0;
#else
    return syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
#endif
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
    } else if (!strcmp(argv[1], "clone") || !strcmp(argv[1], "asmclone")) {
        /* pages go out all the time: clone in the middle of it */
        for (int i = 0; i < kids; i++) {
            long pid;
            /* writing every page makes it the parent's alone again (a
             * page shared with an earlier child cannot be moved out) */
            fill(p, n, 7);
            work(p, n, 3);
            pid = argv[1][0] == 'a' ? asm_clone() : syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
            if (pid == 0)
                _exit(sum(p, n) != expect);   /* raw syscalls only below */
            if (pid < 0 && pid > -4096 && argv[1][0] == 'a')
                errno = (int)-pid;
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
