/* Baselines for tests/bench/touch and tests/bench/where, in plain C:
 *   seg_baseline memset SIZE      - memset over faulted-in memory
 *   seg_baseline firsttouch SIZE  - one byte per page of fresh memory
 *   seg_baseline where SIZE       - one move_pages() query over all pages
 * Prints the seconds the measured step took. */
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    size_t size = argc > 2 ? strtoull(argv[2], NULL, 0) : (1UL << 30), ps = sysconf(_SC_PAGESIZE);
    size_t n = size / ps;
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    double t0, t1;

    if (argc < 2 || p == MAP_FAILED)
        return 2;
    if (!strcmp(argv[1], "memset")) {
        memset(p, 1, size);
        t0 = now();
        memset(p, 0x5a, size);
        t1 = now();
    } else if (!strcmp(argv[1], "firsttouch")) {
        t0 = now();
        for (size_t i = 0; i < n; i++)
            ((volatile char *)p)[i * ps] = 1;
        t1 = now();
    } else if (!strcmp(argv[1], "where")) {
        void **pages = malloc(n * sizeof *pages);
        int *status = malloc(n * sizeof *status);
        memset(p, 1, size);
        for (size_t i = 0; i < n; i++)
            pages[i] = p + i * ps;
        t0 = now();
        if (move_pages(0, n, pages, NULL, status, 0) < 0)
            return 1;
        t1 = now();
    } else {
        return 2;
    }
    printf("%.6f\n", t1 - t0);
    return 0;
}
