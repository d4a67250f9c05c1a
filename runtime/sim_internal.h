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

/* ---- a stack of last-use times (SHARDS' sampled pages; the exact
 * curve has its own, sim_tstack.h) ----
 * Every tracked page's last reference is one set bit in a bitmap of
 * times; its LRU stack distance is 1 + the set bits after it.  Counts per
 * 512-bit block (u16), per group of 16 blocks (u16) and per supergroup of
 * 16 groups (u32) make that a short sum, taken only up to the newest time;
 * updates are three increments.  When times run out, the live bits are
 * renumbered in order (compaction). */
#include <string.h>
#include <sys/mman.h>
/* An array the curves hit at random: on transparent huge pages where the
 * kernel offers them on request (a TLB miss per reference otherwise).
 * Freed with free(). */
static inline void *sim_big(size_t bytes)
{
    if (bytes < (2u << 20))
        return malloc(bytes);
    size_t al = 2u << 20, sz = (bytes + al - 1) / al * al;
    void *p = aligned_alloc(al, sz);
#ifdef MADV_HUGEPAGE
    if (p)
        madvise(p, sz, MADV_HUGEPAGE);
#endif
    return p;
}
#define BLK_BITS 512                 /* level 0: a block of 8 words */
#define BLK_WORDS (BLK_BITS / 64)
#define FAN 16                       /* blocks per group, groups per supergroup */
#define GRP_BITS (BLK_BITS * FAN)
#define SUP_BITS (GRP_BITS * FAN)

struct sd {
    uint64_t *bits;
    uint16_t *bcnt;     /* set bits per block */
    uint16_t *gcnt;     /* per group of FAN blocks */
    uint32_t *scnt;     /* per supergroup of FAN groups */
    uint32_t *owner;    /* page at each time */
    uint64_t *gtime;    /* optional: the reference index of each time */
    size_t T, nb, ng, ns, now, live;
};

/* Room for `pages` live pages (times run to 2 x pages + a supergroup
 * before a compaction); with_gtime keeps each time's reference index. */
static inline int sd_init(struct sd *s, size_t pages, int with_gtime)
{
    size_t T = 2 * pages + SUP_BITS;
    T = (T + SUP_BITS - 1) / SUP_BITS * SUP_BITS;
    s->T = T, s->nb = T / BLK_BITS, s->ng = T / GRP_BITS, s->ns = T / SUP_BITS;
    s->now = 0, s->live = 0;
    s->bits = calloc(T / 64, sizeof *s->bits);
    s->bcnt = calloc(s->nb, sizeof *s->bcnt);
    s->gcnt = calloc(s->ng, sizeof *s->gcnt);
    s->scnt = calloc(s->ns, sizeof *s->scnt);
    s->owner = sim_big(T * sizeof *s->owner);
    s->gtime = with_gtime ? malloc(T * sizeof *s->gtime) : NULL;
    if (!s->bits || !s->bcnt || !s->gcnt || !s->scnt || !s->owner || (with_gtime && !s->gtime)) {
        free(s->bits), free(s->bcnt), free(s->gcnt), free(s->scnt), free(s->owner), free(s->gtime);
        memset(s, 0, sizeof *s);
        return -1;
    }
    return 0;
}

static inline void sd_free(struct sd *s)
{
    free(s->bits), free(s->bcnt), free(s->gcnt), free(s->scnt), free(s->owner), free(s->gtime);
}

static inline void sd_add(struct sd *s, size_t t, int v)
{
    s->bcnt[t / BLK_BITS] = (uint16_t)(s->bcnt[t / BLK_BITS] + v);
    s->gcnt[t / GRP_BITS] = (uint16_t)(s->gcnt[t / GRP_BITS] + v);
    s->scnt[t / SUP_BITS] = (uint32_t)(s->scnt[t / SUP_BITS] + (uint32_t)v);
}

/* Set bits at times after p (p < now): the rest of p's word and block by
 * popcount, then the rest of its group, supergroup, and the supergroups
 * up to the newest time (nothing is set beyond it). */
static inline size_t sd_after(const struct sd *s, size_t p)
{
    size_t last = s->now - 1;
    size_t w = p / 64, b = p / BLK_BITS, g = p / GRP_BITS, sg = p / SUP_BITS;
    unsigned bit = p % 64;
    size_t lw = last / 64, lb = last / BLK_BITS, lg = last / GRP_BITS, ls = last / SUP_BITS;
    size_t r = (size_t)__builtin_popcountll(bit == 63 ? 0 : s->bits[w] >> (bit + 1));
    size_t e = b == lb ? lw + 1 : (b + 1) * BLK_WORDS;
    for (size_t i = w + 1; i < e; i++)
        r += (size_t)__builtin_popcountll(s->bits[i]);
    if (b == lb)
        return r;
    e = g == lg ? lb + 1 : (g + 1) * FAN;
    for (size_t i = b + 1; i < e; i++)
        r += s->bcnt[i];
    if (g == lg)
        return r;
    e = sg == ls ? lg + 1 : (sg + 1) * FAN;
    for (size_t i = g + 1; i < e; i++)
        r += s->gcnt[i];
    for (size_t i = sg + 1; i <= ls; i++)
        r += s->scnt[i];
    return r;
}

/* Renumber the live times 0..live-1 in order; last[] follows. */
static inline void sd_compact(struct sd *s, uint32_t *last)
{
    size_t k = 0;
    for (size_t w = 0; w < s->T / 64; w++) {
        uint64_t v = s->bits[w];
        while (v) {
            size_t p = w * 64 + (size_t)__builtin_ctzll(v);
            v &= v - 1;
            uint32_t x = s->owner[p];
            s->owner[k] = x;
            if (s->gtime)
                s->gtime[k] = s->gtime[p];
            last[x] = (uint32_t)k++;
        }
    }
    memset(s->bits, 0, s->T / 8);
    memset(s->bcnt, 0, s->nb * sizeof *s->bcnt);
    memset(s->gcnt, 0, s->ng * sizeof *s->gcnt);
    memset(s->scnt, 0, s->ns * sizeof *s->scnt);
    for (size_t p = 0; p < k; p++) {
        s->bits[p / 64] |= 1ULL << (p % 64);
        sd_add(s, p, 1);
    }
    s->now = k;
}


/* Take time t for owner x (the caller compacts first when now == T). */
static inline size_t sd_push(struct sd *s, uint32_t x, uint64_t gtime)
{
    size_t t = s->now++;
    s->bits[t / 64] |= 1ULL << (t % 64);
    sd_add(s, t, 1);
    s->owner[t] = x;
    if (s->gtime)
        s->gtime[t] = gtime;
    return t;
}

static inline void sd_clear(struct sd *s, size_t p)
{
    s->bits[p / 64] &= ~(1ULL << (p % 64));
    sd_add(s, p, -1);
}

/* Set bits whose reference index is after g (needs gtime). */
static inline size_t sd_after_gtime(const struct sd *s, uint64_t g)
{
    size_t lo = 0, hi = s->now; /* the first time whose gtime > g */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->gtime[mid] <= g) lo = mid + 1; else hi = mid;
    }
    if (lo == 0)
        return s->live;
    if (lo == s->now)
        return 0;
    /* bits at times >= lo: those after lo - 1 */
    return sd_after(s, lo - 1);
}

/* next[i] = index of the next reference to ids[i], or n when none. */
uint32_t *sim_next_use(const uint32_t *ids, size_t n, uint32_t m);
#endif
