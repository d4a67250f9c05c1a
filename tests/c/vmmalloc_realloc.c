/* libvmmalloc.so's realloc policy (runtime/vmmalloc/vmmalloc.c): a block
 * growing geometrically gets room for two doublings, a block under 64 KiB
 * stays until less than a quarter of it is asked for, larger ones until
 * less than half; contents survive every move.  Re-executes itself under
 * the preload with a 64 MiB pool. */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"

#define KiB ((size_t)1024)
#define BAIL_OUT(...) do { printf("Bail out! "); printf(__VA_ARGS__); printf("\n"); exit(1); } while (0)

static void fill(unsigned char *b, size_t from, size_t to, unsigned seed)
{
    for (size_t j = from; j < to; j++)
        b[j] = (unsigned char)(j * 13 + seed);
}

static size_t check(const unsigned char *b, size_t n, unsigned seed)
{
    size_t bad = 0;
    for (size_t j = 0; j < n; j++)
        bad += b[j] != (unsigned char)(j * 13 + seed);
    return bad;
}

/* realloc remembers the usable sizes of blocks it saw: a block freed
 * (here by another thread) and handed out again smaller at the same
 * address must not keep the old size */
static void *free_it(void *p)
{
    free(p);
    return NULL;
}

static int reused_smaller(int threaded)
{
    int bad = 0;
    for (int i = 0; i < 50; i++) {
        unsigned char *p, *q, *r;
        /* page-aligned, so that the same extent gives the same address */
        malloc_trim(0);
        p = aligned_alloc(4096, 100 * KiB);
        p = realloc(p, 90 * KiB);            /* seen: about 100 KiB */
        if (!p)
            BAIL_OUT("realloc failed");
        uintptr_t was = (uintptr_t)p;
        if (threaded) {
            pthread_t t;
            pthread_create(&t, NULL, free_it, p);
            pthread_join(t, NULL);
        } else {
            free(p);
        }
        q = aligned_alloc(4096, 20 * KiB);
        if ((uintptr_t)q != was) {
            free(q);
            continue;
        }
        memset(q, 7, 20 * KiB);
        r = realloc(q, 90 * KiB);
        bad += !r || malloc_usable_size(r) < 90 * KiB || r[20 * KiB - 1] != 7;
        free(r);
        if (!bad)
            return 1;
    }
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    preload_reexec(argv, "67108864", NULL);

    /* doubled 16 B -> 64 KiB, a small block kept after each step so that
     * it cannot grow in place: 13 steps, moves at 32 B, 256 B, 2 KiB and
     * 16 KiB only (4x room below 16 KiB); every byte checked at each step */
    {
        unsigned char *b = NULL;
        void *keep[16];
        size_t have = 0, bad = 0;
        int k = 0, moves = 0;
        for (size_t n = 16; n <= 64 * KiB; n *= 2) {
            uintptr_t was = (uintptr_t)b;
            unsigned char *nb = realloc(b, n);
            if (!nb)
                BAIL_OUT("realloc to %zu failed", n);
            moves += was && (uintptr_t)nb != was;
            b = nb;
            bad += malloc_usable_size(b) < n;
            bad += check(b, have, 1);
            fill(b, have, n, 1);
            have = n;
            keep[k++] = malloc(24);
        }
        ok(bad == 0, "a buffer doubled 16 B -> 64 KiB keeps every byte");
        ok(moves == 4, "and moves 4 times in 12 growths (%d): room for two doublings below 16 KiB", moves);
        free(b);
        while (k)
            free(keep[--k]);
    }

    /* the shrink rule: under 64 KiB a block stays down to a quarter */
    {
        unsigned char *b = malloc(32 * KiB), *nb;
        size_t u = malloc_usable_size(b);
        fill(b, 0, 32 * KiB, 2);
        nb = realloc(b, 8 * KiB);
        ok(nb == b && malloc_usable_size(nb) == u, "32 KiB asked down to 8 KiB (a quarter): stays");
        nb = realloc(nb, 4 * KiB);
        ok(nb && malloc_usable_size(nb) < u && check(nb, 4 * KiB, 2) == 0,
           "to 4 KiB (an eighth): moves to a smaller block (%zu bytes), contents kept", malloc_usable_size(nb));
        free(nb);
    }
    /* from 64 KiB on, down to half */
    {
        unsigned char *b = malloc(256 * KiB), *nb;
        size_t u = malloc_usable_size(b);
        fill(b, 0, 256 * KiB, 3);
        nb = realloc(b, 128 * KiB);
        ok(nb == b && malloc_usable_size(nb) == u, "256 KiB asked down to 128 KiB (a half): stays");
        nb = realloc(nb, 100 * KiB);
        ok(nb && malloc_usable_size(nb) < u && check(nb, 100 * KiB, 3) == 0,
           "to 100 KiB: shrinks (%zu bytes), contents kept", malloc_usable_size(nb));
        free(nb);
    }

    /* grown by small steps: room to double only (usable size at most twice
     * the request after each move), contents kept */
    {
        unsigned char *b = NULL;
        size_t len = 0, bad = 0, over = 0;
        for (int i = 0; i < 2000; i++) {
            uintptr_t was = (uintptr_t)b;
            unsigned char *nb = realloc(b, len + 200);
            if (!nb)
                BAIL_OUT("realloc to %zu failed", len + 200);
            if ((uintptr_t)nb != was && malloc_usable_size(nb) > 2 * (len + 200))
                over++;
            fill(nb, len, len + 200, 4);
            b = nb;
            len += 200;
        }
        ok(bad == 0 && check(b, len, 4) == 0, "2000 growths by 200 bytes keep every byte");
        ok(over == 0, "a moved block gets at most twice what was asked (%zu times more)", over);
        free(b);
    }
    /* grown by small steps to 1 MiB, twice, a small block taken now and
     * then: moves at 1 KiB (to 4 KiB), 8, 16 and 32 KiB (into its growth
     * arena), and from there grows in place (the space after it is kept
     * free); the shared arena moved it 5-6 times */
    for (int round = 0; round < 2; round++) {
        unsigned char *b = NULL;
        void *keep[64];
        size_t len = 0;
        int moves = 0, k = 0;
        for (int i = 0; len + 512 <= 1024 * KiB; i++) {
            uintptr_t was = (uintptr_t)b;
            unsigned char *nb = realloc(b, len + 512);
            if (!nb)
                BAIL_OUT("realloc to %zu failed", len + 512);
            moves += was && (uintptr_t)nb != was;
            fill(nb, len, len + 512, 5);
            b = nb;
            len += 512;
            if (i % 64 == 0 && k < 64)
                keep[k++] = malloc(100);
        }
        ok(check(b, len, 5) == 0 && moves <= 4, "round %d: grown to 1 MiB by 512 bytes, every byte kept, %d moves", round, moves);
        free(b);
        while (k)
            free(keep[--k]);
    }
    {
        int r = reused_smaller(0);
        ok(r >= 0, "a block freed, its address handed out smaller, then realloc'ed: grows (%s)",
           r ? "the address came back" : "the address did not come back");
        r = reused_smaller(1);
        ok(r >= 0, "the same with the free in another thread (%s)", r ? "the address came back" : "the address did not come back");
    }
    return tap_done();
}
