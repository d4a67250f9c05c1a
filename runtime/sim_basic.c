/* The classic policies: OPT, LRU, FIFO, CLOCK, second chance, LFU, SIEVE.
 * Each takes dense ids and returns its fault count (SIM_NOMEM when memory
 * runs out).  Sources are in sim.c's table. */
#include "sim_internal.h"

#include <string.h>

/* Belady's MIN: on a fault evict the resident page used farthest ahead
 * (a max-heap on next-use time). */
int64_t sim_opt(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    uint32_t *next = sim_next_use(ids, n, m);
    struct heap h;
    int64_t faults = 0;

    if (!next)
        return SIM_NOMEM;
    if (heap_init(&h, m, frames, 1)) {
        free(next);
        return SIM_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        if (h.pos[x]) {
            heap_update(&h, x, next[i]);
            continue;
        }
        faults++;
        if (h.n == frames)
            heap_pop(&h);
        heap_push(&h, x, next[i]);
    }
    heap_free(&h);
    free(next);
    return faults;
}

/* LRU without a linked list: every reference appends (time, page) to a
 * queue and stamps the page with that time; the least recently used
 * resident page is the oldest queue entry whose time is still its page's
 * stamp (newer references left the older entries stale).  Appends and
 * pops are sequential, the only random access is the page's stamp, and it
 * is prefetched: several times faster than moving list nodes.  The queue
 * is compacted (stale entries dropped) when it fills; it holds 4 x frames
 * so that happens at most every 3 x frames references. */
struct lru_ent {
    uint32_t t, page;
};

int64_t sim_lru(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    uint32_t *stamp = malloc((size_t)m * sizeof *stamp); /* UINT32_MAX: not resident */
    size_t cap = 4 * frames + 64, head = 0, tail = 0, used = 0;
    struct lru_ent *q = malloc(cap * sizeof *q);
    int64_t faults = 0;

    if (!stamp || !q) {
        free(stamp), free(q);
        return SIM_NOMEM;
    }
    memset(stamp, 0xff, (size_t)m * sizeof *stamp);
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        if (i + 16 < n)
            __builtin_prefetch(&stamp[ids[i + 16]]);
        if (tail == cap) { /* compact: keep the live entries, in order */
            size_t k = 0;
            for (size_t j = head; j < tail; j++)
                if (stamp[q[j].page] == q[j].t)
                    q[k++] = q[j];
            head = 0, tail = k;
        }
        if (stamp[x] == UINT32_MAX) {
            faults++;
            if (used == frames) {
                for (;;) { /* the oldest live entry */
                    struct lru_ent e = q[head++];
                    if (head + 8 < tail)
                        __builtin_prefetch(&stamp[q[head + 8].page]);
                    if (stamp[e.page] == e.t) {
                        stamp[e.page] = UINT32_MAX;
                        break;
                    }
                }
            } else
                used++;
        }
        stamp[x] = (uint32_t)i;
        q[tail++] = (struct lru_ent){(uint32_t)i, x};
    }
    free(stamp), free(q);
    return faults;
}

/* A circular buffer of frames and a hand; res[x] is 0 (absent), 1
 * (resident, unreferenced) or 2 (resident, referenced).  `loaded` is the
 * state of a page just faulted in, `hit` the state a hit leaves: FIFO is
 * the clock whose hits never mark a page (hit 1), so its hand never skips.
 * Inlined so each policy's loop is compiled for its constants. */
static inline __attribute__((always_inline)) int64_t clock_run(const uint32_t *ids, size_t n, uint32_t m,
                                                               size_t frames, uint8_t loaded, uint8_t hit)
{
    uint8_t *res = calloc(m, 1);
    uint32_t *slot = malloc(frames * sizeof *slot);
    size_t used = 0, hand = 0;
    int64_t faults = 0;

    if (!res || !slot) {
        free(res), free(slot);
        return SIM_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        if (i + 16 < n)
            __builtin_prefetch(&res[ids[i + 16]]);
        if (res[x]) {
            if (hit != 1)
                res[x] = hit;
            continue;
        }
        faults++;
        if (used < frames) {
            slot[used++] = x;
            res[x] = loaded;
            continue;
        }
        while (hit != 1 && res[slot[hand]] == 2) {   /* (FIFO: never marked) */
            res[slot[hand]] = 1;
            if (++hand == frames)
                hand = 0;
        }
        res[slot[hand]] = 0;
        slot[hand] = x;
        res[x] = loaded;
        if (++hand == frames)
            hand = 0;
    }
    free(res), free(slot);
    return faults;
}

int64_t sim_fifo(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    return clock_run(ids, n, m, frames, 1, 1);
}

int64_t sim_clock(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    return clock_run(ids, n, m, frames, 1, 2);
}

int64_t sim_second_chance(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    return clock_run(ids, n, m, frames, 2, 2);
}

/* A min-heap on (frequency, time of the last reference). */
int64_t sim_lfu(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    struct heap h;
    int64_t faults = 0;

    if (heap_init(&h, m, frames, 0))
        return SIM_NOMEM;
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        if (h.pos[x]) {
            heap_update(&h, x, ((h.key[x] >> 32) + 1) << 32 | i);
            continue;
        }
        faults++;
        if (h.n == frames)
            heap_pop(&h);
        heap_push(&h, x, (uint64_t)1 << 32 | i);
    }
    heap_free(&h);
    return faults;
}

/* SIEVE: a FIFO queue (new pages at the head) and a hand that walks from
 * the tail toward the head, clearing visited bits, and evicts the first
 * unvisited page; the hand stays where it stopped. */
int64_t sim_sieve(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    struct links l;
    uint8_t *st = calloc(m, 1); /* 0 absent, 1 resident, 2 visited */
    uint32_t hand = m;          /* m: none (start at the tail) */
    size_t used = 0;
    int64_t faults = 0;

    if (!st || links_init(&l, m, 1)) {
        free(st);
        return SIM_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        if (st[x]) {
            st[x] = 2;
            continue;
        }
        faults++;
        if (used == frames) {
            uint32_t o = hand != m ? hand : l_tail(&l, m);
            while (st[o] == 2) {
                st[o] = 1;
                o = l.prev[o];
                if (o == m)
                    o = l_tail(&l, m);
            }
            hand = l.prev[o];
            l_remove(&l, o);
            st[o] = 0;
        } else
            used++;
        st[x] = 1;
        l_push_head(&l, m, x);
    }
    links_free(&l);
    free(st);
    return faults;
}
