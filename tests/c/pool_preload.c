/* libvmmalloc.so's contracts from inside a program: the test re-executes
 * itself with LD_PRELOAD=$VMLAB_BUILD/libvmmalloc.so and a 32 MiB pool. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"

#define MiB (1024u * 1024u)

static uintptr_t pool_lo, pool_hi;

/* The pool: a shared mapping of a deleted file in /tmp of 32 MiB. */
static void find_pool(void)
{
    char line[512];
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char flags[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, flags) == 3 && hi - lo == 32 * MiB && flags[3] == 's' &&
            strstr(line, "/tmp/") && strstr(line, "(deleted)")) {
            pool_lo = lo;
            pool_hi = hi;
        }
    }
    if (f)
        fclose(f);
}

static int in_pool(const void *p) { return (uintptr_t)p >= pool_lo && (uintptr_t)p < pool_hi; }

int main(int argc, char **argv)
{
    void *p, *q, *blocks[64];
    int i, n, bad;

    preload_reexec(argv, "33554432", NULL);
    find_pool();
    ok(pool_lo != 0, "the pool is mapped: %lx-%lx", (unsigned long)pool_lo, (unsigned long)pool_hi);
    p = malloc(100);
    ok(in_pool(p), "malloc comes from the pool");
    ok(malloc_usable_size(p) >= 100, "malloc_usable_size %zu >= 100", malloc_usable_size(p));
    strcpy(p, "keep me");
    q = realloc(p, 3 * MiB);
    ok(q && in_pool(q) && !strcmp(q, "keep me"), "realloc keeps contents");
    free(q);
    /* a buffer grown a little at a time (realloc keeps slack), then shrunk */
    {
        unsigned char *b = NULL;
        size_t len = 0;
        int moves = 0;
        for (bad = 0, i = 0; i < 3000; i++) {
            unsigned char *nb = realloc(b, len + 100);
            if (!nb || malloc_usable_size(nb) < len + 100) {
                bad++;
                break;
            }
            moves += nb != b;
            memset(nb + len, (unsigned char)i, 100);
            b = nb;
            len += 100;
        }
        for (i = 0; !bad && i < 3000; i++)
            bad += b[(size_t)i * 100] != (unsigned char)i || b[(size_t)i * 100 + 99] != (unsigned char)i;
        ok(bad == 0, "3000 growths by 100 bytes keep every byte, usable size >= the size asked");
        /* plain jemalloc moves it 25 times here, glibc 4 */
        ok(moves <= 16, "and move the buffer %d times (growth by half at least)", moves);
        b = realloc(b, 1000);
        ok(b && b[999] == 9 && b[0] == 0 && malloc_usable_size(b) >= 1000, "shrinking keeps the start");
        free(b);
    }
    /* a buffer doubled 16 B -> 256 KiB with a small block kept after each
     * step (it moves: the malloc-copy-free path, the arena's for large
     * blocks), twice, each byte checked at every step */
    for (bad = 0, i = 0; i < 2; i++) {
        unsigned char *b = NULL;
        void *keep[16];
        int k = 0;
        size_t have = 0;
        for (size_t sz = 16; sz <= 256 * 1024; sz *= 2) {
            unsigned char *nb = realloc(b, sz);
            if (!nb) {
                bad++;
                break;
            }
            b = nb;
            if (!in_pool(b) || malloc_usable_size(b) < sz) {
                bad++;
                break;
            }
            for (size_t j = 0; j < have; j++)
                bad += b[j] != (unsigned char)(j * 7 + i);
            for (size_t j = have; j < sz; j++)
                b[j] = (unsigned char)(j * 7 + i);
            have = sz;
            keep[k++] = malloc(24);
        }
        free(b);
        while (k)
            free(keep[--k]);
    }
    ok(bad == 0, "a buffer doubled to 256 KiB with blocks kept between steps keeps every byte");
    for (size_t a = 16; a <= 2 * MiB; a *= 8) {
        void *r = NULL;
        ok(posix_memalign(&r, a, 1000) == 0 && ((uintptr_t)r % a) == 0 && in_pool(r), "posix_memalign %zu", a);
        free(r);
    }
    ok(posix_memalign(&p, 24, 10) == EINVAL, "posix_memalign with a bad alignment is EINVAL");
    p = aligned_alloc(4096, 4096);
    ok(p && ((uintptr_t)p & 4095) == 0, "aligned_alloc");
    free(p);
    p = valloc(10);
    ok(p && ((uintptr_t)p & 4095) == 0, "valloc is page aligned");
    free(p);
    {
        volatile size_t big = SIZE_MAX / 2;   /* hide the overflow from the compiler */
        errno = 0;
        ok(calloc(big, 4) == NULL && errno == ENOMEM, "calloc checks overflow");
    }
    p = calloc(1000, 1000);
    for (bad = 0, i = 0; i < 1000000; i++)
        bad += ((char *)p)[i] != 0;
    ok(p && in_pool(p) && bad == 0, "calloc zeroes");
    free(p);

    for (n = 0; n < 64; n++) {
        if (!(blocks[n] = malloc(MiB)))
            break;
        memset(blocks[n], n, MiB);
    }
    ok(n < 32 && errno == ENOMEM, "the pool never grows: NULL with ENOMEM after %d MiB", n);
    for (bad = 0, i = 0; i < n; i++)
        bad += ((unsigned char *)blocks[i])[MiB - 1] != i;
    ok(bad == 0, "the blocks before exhaustion are intact");
    {
        struct mallinfo2 mi = mallinfo2();
        ok(mi.uordblks >= (size_t)n * MiB && mi.arena <= 32 * MiB, "mallinfo2 answers for the pool: %zu in use",
           mi.uordblks);
    }
    for (i = 0; i < n; i++)
        free(blocks[i]);
    ok(malloc_trim(0) == 1, "malloc_trim");
    p = malloc(MiB);
    ok(p && in_pool(p), "space is reused after free");
    free(p);
    return tap_done();
}
