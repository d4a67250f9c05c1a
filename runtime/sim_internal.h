/* Shared by the simulator's files: intrusive doubly linked lists on dense
 * page ids.  Links are two arrays indexed by id; a list's sentinel is an
 * extra id past the pages (m + j), so a page is in at most one list of a
 * link set at a time and every operation is O(1) without pointers. */
#ifndef VMLAB_SIM_INTERNAL_H
#define VMLAB_SIM_INTERNAL_H
#include <stdint.h>
#include <stdlib.h>

struct links {
    uint32_t *prev, *next;
};

/* m pages and nl lists: sentinels m .. m+nl-1.  0 or -1 (ENOMEM). */
static inline int links_init(struct links *l, uint32_t m, uint32_t nl)
{
    l->prev = malloc((size_t)(m + nl) * sizeof *l->prev);
    l->next = malloc((size_t)(m + nl) * sizeof *l->next);
    if (!l->prev || !l->next) {
        free(l->prev), free(l->next);
        l->prev = l->next = NULL;
        return -1;
    }
    for (uint32_t j = m; j < m + nl; j++)
        l->prev[j] = l->next[j] = j;
    return 0;
}
static inline void links_free(struct links *l)
{
    free(l->prev), free(l->next);
}
/* head = newest (next of the sentinel), tail = oldest (its prev). */
static inline uint32_t l_head(const struct links *l, uint32_t s) { return l->next[s]; }
static inline uint32_t l_tail(const struct links *l, uint32_t s) { return l->prev[s]; }
static inline int l_empty(const struct links *l, uint32_t s) { return l->next[s] == s; }
static inline void l_insert_after(struct links *l, uint32_t at, uint32_t x)
{
    uint32_t nx = l->next[at];
    l->prev[x] = at, l->next[x] = nx;
    l->prev[nx] = x, l->next[at] = x;
}
static inline void l_push_head(struct links *l, uint32_t s, uint32_t x) { l_insert_after(l, s, x); }
static inline void l_push_tail(struct links *l, uint32_t s, uint32_t x) { l_insert_after(l, l->prev[s], x); }
static inline void l_remove(struct links *l, uint32_t x)
{
    uint32_t p = l->prev[x], nx = l->next[x];
    l->next[p] = nx, l->prev[nx] = p;
}
static inline void l_to_head(struct links *l, uint32_t s, uint32_t x)
{
    l_remove(l, x), l_push_head(l, s, x);
}

/* A binary heap of ids keyed by a 64-bit key, with positions for
 * updates: the root is the largest key when max, else the smallest. */
struct heap {
    uint32_t *v, *pos;         /* pos[id] = index + 1, 0 = absent */
    uint64_t *key;             /* key[id] */
    size_t n;
    int max;
};
int heap_init(struct heap *h, uint32_t m, size_t cap, int max);
void heap_free(struct heap *h);
void heap_push(struct heap *h, uint32_t id, uint64_t key);
void heap_update(struct heap *h, uint32_t id, uint64_t key);
uint32_t heap_pop(struct heap *h);

#define SIM_NOMEM INT64_MIN
/* One function per policy; a negative result is -errno. */
typedef int64_t (*sim_fn)(const uint32_t *ids, size_t n, uint32_t m, size_t frames);
int64_t sim_opt(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_lru(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_fifo(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_clock(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_second_chance(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_lfu(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_sieve(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_2q(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_arc(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_lirs(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_clock_pro(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_s3fifo(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_linux(const uint32_t *, size_t, uint32_t, size_t);
int64_t sim_mglru(const uint32_t *, size_t, uint32_t, size_t);

/* next[i] = index of the next reference to ids[i], or n when none. */
uint32_t *sim_next_use(const uint32_t *ids, size_t n, uint32_t m);
#endif
