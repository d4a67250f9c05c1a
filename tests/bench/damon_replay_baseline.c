/* The replay bench's same-run baseline: the least work any replay of this
 * size must do, one random page per region per sample tested against the
 * oracle's two ranges (the second accessed with p = 0.3), with no merging,
 * splitting or aggregation.  Prints its seconds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t s = 1;
static inline uint64_t next(void)
{
    unsigned __int128 m;
    s += 0xa0761d6478bd642fULL;
    m = (unsigned __int128)s * (s ^ 0xe7037ed1a0b428dbULL);
    return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

int main(int argc, char **argv)
{
    const uint64_t base = 0x100000000ULL, size = 64ULL << 30, nr = 1000;
    const long samples = argc > 1 ? atol(argv[1]) : 200000;
    const uint64_t h0 = base, h1 = base + size / 10;
    const uint64_t w0 = base + size / 2, w1 = w0 + size / 20;
    uint64_t *start = malloc(nr * sizeof *start), *addr = malloc(nr * sizeof *addr);
    uint32_t *acc = calloc(nr, sizeof *acc);
    struct timespec a, b;

    if (!start || !addr || !acc)
        return 1;
    for (uint64_t i = 0; i < nr; i++)
        start[i] = base + i * (size / nr);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long k = 0; k < samples; k++) {
        for (uint64_t i = 0; i < nr; i++)
            addr[i] = start[i] + (((unsigned __int128)next() * (size / nr / 4096)) >> 64) * 4096;
        for (uint64_t i = 0; i < nr; i++) {
            uint64_t x = addr[i];
            if (x >= h0 && x < h1)
                acc[i]++;
            else if (x >= w0 && x < w1)
                acc[i] += (double)(next() >> 11) * (1.0 / 9007199254740992.0) < 0.3;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < nr; i++)
        sum += acc[i];
    printf("%.3f %llu\n", (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, (unsigned long long)sum);
    return 0;
}
