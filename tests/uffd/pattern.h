/* What the uffd test programs (victim.c, kids.c) share: a checksum, a
 * fill pattern that makes every 8 bytes of an area different, and a
 * fresh private anonymous area. */
#ifndef VMLAB_TESTS_UFFD_PATTERN_H
#define VMLAB_TESTS_UFFD_PATTERN_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* FNV-1a over 8-byte words */
static inline uint64_t sum(const unsigned char *p, size_t n)
{
    uint64_t s = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        s = (s ^ w) * 1099511628211ULL;
    }
    return s;
}

static inline void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = (i + seed) * 0x9e3779b97f4a7c15ULL;
        memcpy(p + i, &w, 8);
    }
}

static inline unsigned char *area(size_t n)
{
    unsigned char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    return p;
}
#endif
