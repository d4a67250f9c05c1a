/* libvmmalloc.so after a burst: in a 32 MiB pool, fill with small blocks
 * until malloc says NULL, free them all, and the largest block malloc gives
 * must be within 10% of a fresh pool's (jemalloc's metadata carved between
 * data extents once left 5 MiB of 32).  Also mallinfo2/mallinfo and
 * malloc_stats answer with the pool's figures.  Re-executes itself under
 * the preload. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "preload.h"

#define MiB ((size_t)1 << 20)

/* The largest block malloc gives now, to 64 KiB. */
static size_t largest(void)
{
    size_t lo = 0, hi = 64 * MiB;
    while (hi - lo > 65536) {
        size_t mid = lo + (hi - lo) / 2;
        void *p = malloc(mid);
        if (p) {
            ((volatile char *)p)[mid - 1] = 1;
            free(p);
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Allocate until NULL (sizes from size_of), then free all: the count. */
static size_t burst(void **slots, size_t max, size_t (*size_of)(uint64_t *), int *saw_enomem)
{
    uint64_t s = 88172645463325252ull;
    size_t n = 0;
    *saw_enomem = 0;
    while (n < max) {
        errno = 0;
        void *p = malloc(size_of(&s));
        if (!p) {
            *saw_enomem = errno == ENOMEM;
            break;
        }
        slots[n++] = p;
    }
    for (size_t i = 0; i < n; i++)
        free(slots[i]);
    return n;
}

static size_t eight(uint64_t *s) { return 8; }
static size_t mixed(uint64_t *s) { return 16 + rnd(s) % 4081; }
static size_t medium(uint64_t *s) { return 16384 + rnd(s) % (256 * 1024); }

int main(int argc, char **argv)
{
    size_t max = 8 * MiB, fresh, after, n;
    void **slots;
    int enomem;

    preload_reexec(argv, "33554432", NULL);
    /* the pointers live outside the pool */
    slots = mmap(NULL, max * sizeof *slots, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
    if (slots == MAP_FAILED)
        tap_skip_all("no memory for the slots");
    fresh = largest();
    ok(fresh >= 28 * MiB, "a fresh 32 MiB pool gives a block of %zu MiB", fresh / MiB);

    n = burst(slots, max, eight, &enomem);
    ok(enomem && n > 1000000, "malloc(8) %zu times until NULL with ENOMEM", n);
    void *big = malloc(8 * MiB);
    ok(big != NULL, "after freeing them all, malloc(8 MiB) succeeds");
    free(big);
    after = largest();
    ok(after * 10 >= fresh * 9, "the largest block after the burst: %zu KiB, fresh %zu KiB (within 10%%)",
       after >> 10, fresh >> 10);

    struct {
        const char *name;
        size_t (*f)(uint64_t *);
    } kinds[] = {{"16 B-4 KiB", mixed}, {"16-272 KiB", medium}};
    for (unsigned k = 0; k < 2; k++) {
        n = burst(slots, max, kinds[k].f, &enomem);
        after = largest();
        ok(enomem && after * 10 >= fresh * 9, "a burst of %zu blocks of %s until NULL, freed: largest %zu KiB",
           n, kinds[k].name, after >> 10);
    }

    /* memory the pool got back is reused dirty: calloc must still zero it */
    {
        size_t nb = 0, bad = 0;
        char *b[64];
        for (nb = 0; nb < 24 && (b[nb] = malloc(MiB)); nb++)
            memset(b[nb], 0xaa, MiB);
        while (nb)
            free(b[--nb]);
        malloc_trim(0);            /* back to the pool's free ranges */
        for (nb = 0; nb < 64; nb++) {
            size_t sz = nb % 2 ? 3000 * (nb + 1) : 100000 * (nb + 1) % (3 * MiB);
            unsigned char *c = calloc(1, sz);
            for (size_t i = 0; c && i < sz; i += 61)
                bad += c[i] != 0;
            b[nb] = (char *)c;
        }
        for (nb = 0; nb < 64; nb++)
            free(b[nb]);
        ok(bad == 0, "calloc zeroes memory the pool took back dirty (%zu nonzero bytes)", bad);
    }

    /* the heap queries answer for the pool */
    void *p = malloc(3 * MiB);
    memset(p, 1, 3 * MiB);
    struct mallinfo2 mi = mallinfo2();
    ok(mi.uordblks >= 3 * MiB && mi.uordblks < 32 * MiB, "mallinfo2: %zu bytes in use (%p)", mi.uordblks, p);
    ok(mi.arena >= mi.uordblks && mi.arena <= 32 * MiB, "mallinfo2: %zu bytes of the pool in use by jemalloc",
       mi.arena);
    ok(mi.fordblks + mi.uordblks == 32 * MiB, "mallinfo2: free + in use = the pool");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    struct mallinfo m1 = mallinfo();
#pragma GCC diagnostic pop
    ok((size_t)m1.uordblks == mi.uordblks || (size_t)m1.uordblks >= 3 * MiB, "mallinfo: %d bytes in use",
       m1.uordblks);
    {
        char path[] = "/tmp/vmlab-stats-XXXXXX", buf[1024] = "";
        int fd = mkstemp(path), saved = dup(2);
        dup2(fd, 2);
        malloc_stats();
        dup2(saved, 2);
        close(saved);
        ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
        close(fd);
        unlink(path);
        unsigned long inuse = 0;
        const char *at = got > 0 ? strstr(buf, "in use bytes     =") : NULL;
        if (at)
            inuse = strtoul(at + 18, NULL, 10);
        ok(strstr(buf, "libvmmalloc pool of 33554432 bytes") && inuse >= 3 * MiB,
           "malloc_stats prints the pool's figures (in use %lu)", inuse);
    }
    free(p);
    return tap_done();
}
