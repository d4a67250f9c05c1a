/* A hotspot workload for the uffd backend's accuracy and overhead benches.
 *
 *   hotspot [--size MiB] [--hot MiB] [--seconds S | --passes N] [--thp] [--write]
 *           [--report S]
 *
 * Maps --size MiB of anonymous memory, fills all of it once (so the cold
 * part is resident), then passes over the hot MiB (which start 3/8 of the
 * way in), one cache line per page, reading (or adding, --write).  Prints
 * the ground truth and the result on stdout:
 *   area 0x... 0x...
 *   hot 0x... 0x...
 *   pages_per_sec N        (with --seconds)
 *   pages_per_cpu_sec N    (per CPU second of the whole process, the
 *                           agent's thread included: what other load on a
 *                           shared machine does not change)
 *   checksum X             (a function of the content; same for the same
 *                           --passes whether or not something watched)
 * Waits for a line on stdin before the passes when --wait is given.
 * --report S adds a line every S seconds (flushed), for benches that turn
 * a monitor on and off in the same run:
 *   rate T CPU_RATE WALL_RATE THREAD_RATE
 *        (T: CLOCK_MONOTONIC at the interval's end; pages per CPU second
 *        of the process, per second, per CPU second of this thread alone:
 *        without the agent's own CPU) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double tcpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    size_t size = 256, hot = 32, page = (size_t)sysconf(_SC_PAGESIZE);
    double seconds = 0, report = 0;
    long passes = 0;
    int thp = 0, write = 0, wait = 0;
    unsigned char *m, *h;
    uint64_t sum = 0, touched = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--hot") && i + 1 < argc)
            hot = strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--passes") && i + 1 < argc)
            passes = atol(argv[++i]);
        else if (!strcmp(argv[i], "--thp"))
            thp = 1;
        else if (!strcmp(argv[i], "--write"))
            write = 1;
        else if (!strcmp(argv[i], "--report") && i + 1 < argc)
            report = atof(argv[++i]);
        else if (!strcmp(argv[i], "--wait"))
            wait = 1;
        else {
            fprintf(stderr, "usage: %s [--size MiB] [--hot MiB] [--seconds S | --passes N] [--thp] "
                            "[--write] [--wait] [--report S]\n", argv[0]);
            return 2;
        }
    }
    if (hot > size || (!seconds && !passes)) {
        fprintf(stderr, "hotspot: need hot <= size and --seconds or --passes\n");
        return 2;
    }
    size <<= 20;
    hot <<= 20;
    /* 2 MiB aligned, so that --thp gets whole huge pages */
    m = mmap(NULL, size + (2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    m = (unsigned char *)(((uintptr_t)m + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
    if (thp)
        madvise(m, size, MADV_HUGEPAGE);
    for (size_t i = 0; i < size; i += 64)
        m[i] = (unsigned char)(i * 2654435761u >> 24);
    h = m + ((size * 3 / 8) & ~(size_t)((2 << 20) - 1));
    printf("area 0x%lx 0x%lx\nhot 0x%lx 0x%lx\n", (unsigned long)(uintptr_t)m,
           (unsigned long)(uintptr_t)(m + size), (unsigned long)(uintptr_t)h,
           (unsigned long)(uintptr_t)(h + hot));
    fflush(stdout);
    if (wait) {
        char line[16];
        if (!fgets(line, sizeof line, stdin))
            return 1;
    }
    {
        double t0 = now(), end = t0 + seconds, c0 = cpu(), rt = t0, rc = c0, rtc = tcpu();
        uint64_t rn = 0;
        for (long p = 0; passes ? p < passes : now() < end; p++) {
            for (size_t off = (size_t)(p % 64) * 64 % page; off < hot; off += page) {
                if (write)
                    h[off] += 1;
                else
                    sum += h[off];
            }
            touched += hot / page;
            if (report > 0 && now() >= rt + report) {
                double t = now(), c = cpu(), tc = tcpu();
                printf("rate %.6f %.0f %.0f %.0f\n", t, (double)(touched - rn) / (c - rc),
                       (double)(touched - rn) / (t - rt), (double)(touched - rn) / (tc - rtc));
                rtc = tc;
                fflush(stdout);
                rt = t;
                rc = c;
                rn = touched;
            }
        }
        if (seconds)
            printf("pages_per_sec %.0f\npages_per_cpu_sec %.0f\n", (double)touched / (now() - t0),
                   (double)touched / (cpu() - c0));
    }
    for (size_t i = 0; i < size; i += 64)
        sum = sum * 31 + m[i];
    printf("checksum %llx\n", (unsigned long long)sum);
    return 0;
}
