/* Baseline for tests/bench/damon_overhead: what checking every page of a
 * target with the prot trick costs for one sample (protect, then restore,
 * each page of a MAP_NORESERVE anonymous mapping).  Prints CPU seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    size_t size = argc > 1 ? strtoull(argv[1], NULL, 0) : (size_t)4 << 30;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    struct timespec a, b;

    if (p == MAP_FAILED)
        return perror("mmap"), 1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    for (size_t off = 0; off < size; off += pg) {
        if (mprotect(p + off, pg, PROT_NONE) || mprotect(p + off, pg, PROT_READ | PROT_WRITE))
            return perror("mprotect"), 1;
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    printf("%.6f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
