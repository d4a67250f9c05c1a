/* Approximate LRU miss-ratio curves by spatially hashed sampling (SHARDS,
 * Waldspurger, Park, Garthwaite, Ahmad, FAST'15), with the hottest pages
 * kept exact.
 *
 * A page is tracked when hash(page) falls under rate x 2^24; every tracked
 * page stands for 1/rate pages, so its stack distance (in tracked pages)
 * and its reference count are scaled by 1/rate.  On a Zipf-headed trace
 * the few hottest pages carry most of the references, and whether each
 * one happens to be sampled moves the whole curve: so `hot` pages, found
 * first from a 1/64 subsample, are tracked with weight 1 and the rest are
 * sampled.  A tracked reference's distance is then
 *     1 + (hot pages touched since) + (sampled pages touched since) / rate,
 * both counted as in sim_mrc.c (bitmaps of last-use times, one per class,
 * with counts over 512-bit blocks).  Every reference goes through one
 * multiply and a bit of a filter, in blocks whose first pass keeps only
 * those that may be hot or sampled; the hot pages' last references are
 * updated without a branch.  SHARDS_adj: the sampled
 * references are fewer or more than rate x (references to non-hot pages);
 * the difference goes to the first bucket, so the curve's total is right. */
#include "vmlab/sim.h"
#include "sim_internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* first sizes of the distance structures and tracked-page tables (they grow) */
#define SD_SLACK 8192

enum { SHARDS_BLOCK = 1024 };

static inline uint64_t hash64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* page -> small int, open addressing; keys+1 so 0 means empty */
struct pmap {
    uint64_t *key;
    uint32_t *val;
    size_t cap, n;
    uint64_t seed;       /* the hash is hash64(page ^ seed) */
};
static int pmap_init(struct pmap *t, size_t cap)
{
    t->cap = cap, t->n = 0;
    t->key = calloc(cap, sizeof *t->key);
    t->val = malloc(cap * sizeof *t->val);
    return t->key && t->val ? 0 : -1;
}
static void pmap_free(struct pmap *t)
{
    free(t->key), free(t->val);
}
/* The slot of page p (its key is p + 1, or 0 when absent). */
static inline size_t pmap_slot(const struct pmap *t, uint64_t p, uint64_t h)
{
    size_t i = h & (t->cap - 1);
    while (t->key[i] && t->key[i] != p + 1)
        i = (i + 1) & (t->cap - 1);
    return i;
}
static int pmap_grow(struct pmap *t)
{
    struct pmap g;
    g.seed = t->seed;
    if (pmap_init(&g, t->cap * 2)) {
        pmap_free(&g);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++)
        if (t->key[i]) {
            size_t j = pmap_slot(&g, t->key[i] - 1, hash64((t->key[i] - 1) ^ t->seed));
            g.key[j] = t->key[i], g.val[j] = t->val[i];
        }
    g.n = t->n;
    pmap_free(t);
    *t = g;
    return 0;
}

/* A bigger stack when the sampled pages outgrow it (times kept in order). */
static int sd_grow(struct sd *s, uint32_t *last)
{
    struct sd g;
    if (sd_init(&g, 2 * s->live + SD_SLACK, 1))
        return -1;
    for (size_t w = 0; w < s->T / 64; w++) {
        uint64_t v = s->bits[w];
        while (v) {
            size_t p = w * 64 + (size_t)__builtin_ctzll(v);
            v &= v - 1;
            last[s->owner[p]] = (uint32_t)sd_push(&g, s->owner[p], s->gtime[p]);
        }
    }
    g.live = s->live;
    sd_free(s);
    *s = g;
    return 0;
}

/* Hot pages whose last reference is after g: a scan of their times (a
 * few hundred words, 8 compares per AVX2 instruction in the x86-64-v3
 * clone: each lane subtracts its compare's -1).  hl holds index + 1 of
 * each page's last reference, 0 for never. */
typedef uint32_t sh_u32x8 __attribute__((vector_size(32)));
static inline size_t hot_after(const uint32_t *hl, size_t nh16, uint32_t g)
{
    sh_u32x8 acc = {0}, v;
    uint32_t g1 = g + 1;
    for (size_t i = 0; i < nh16; i += 8) {
        memcpy(&v, hl + i, sizeof v);
        acc -= (sh_u32x8)(v > g1);
    }
    size_t c = 0;
    for (int k = 0; k < 8; k++)
        c += acc[k];
    return c;
}

/* The distances are logged (bucket << 1 | hot) and added to the histogram
 * at the end, with prefetching: the histogram spans every scaled distance
 * (megabytes) and each add would be a cache miss in the loop. */
enum { DLOG_FIRST = 1 << 12 }; /* first entries of the log (it doubles) */
struct dlog {
    uint64_t *v;
    size_t n, cap, maxb;
};
static inline int dlog_add(struct dlog *l, double d, int hot)
{
    size_t b = (size_t)(d + 0.5);
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : DLOG_FIRST;
        uint64_t *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv, l->cap = nc;
    }
    l->v[l->n++] = (uint64_t)b << 1 | (uint64_t)hot;
    if (b > l->maxb)
        l->maxb = b;
    return 0;
}

/* The sampling hash: one multiply; its top 24 bits decide the sample,
 * its top 16 index the filter and bits 25..37 pick the hot pages'
 * direct-mapped slot. */
static inline uint64_t hmul(uint64_t p, uint64_t seed)
{
    return (p ^ seed) * 0x9e3779b97f4a7c15ULL;
}
enum { DM_BITS = 13, FILTER_BITS = 16 };
static inline size_t dm_slot(uint64_t h) { return (size_t)(h >> 25) & ((1u << DM_BITS) - 1); }
/* a bit per value of the top 16 hash bits (8 KiB): set for the hot pages
 * and for the values that may be sampled (all below rate x 2^16, and the
 * one the threshold falls in), so that the first pass is one test */
static inline size_t filter_bit(uint64_t h) { return (size_t)(h >> (64 - FILTER_BITS)); }

/* The `hot` most referenced pages of a 1/64 subsample, into the
 * direct-mapped table dm (slot -> index into hotpage; `none` when empty).
 * Two hot pages on one slot: the second stays an ordinary page (the table
 * is a filter every reference goes through, so it has no probing).
 * Returns the number of hot pages, or -1. */
static long find_hot(const uint64_t *pages, size_t n, size_t hot, uint64_t seed,
                     uint16_t *dm, uint16_t none, uint64_t *hotpage, uint64_t *filter)
{
    struct pmap cnt;
    size_t cap = 1024;
    cnt.seed = seed;
    while (cap < 2 * (n / 64 + 1))
        cap <<= 1;
    if (pmap_init(&cnt, cap)) {
        pmap_free(&cnt);
        return -1;
    }
    for (size_t i = 0; i < n; i += 64) {
        size_t j = pmap_slot(&cnt, pages[i], hmul(pages[i], seed) >> 24);
        if (!cnt.key[j])
            cnt.key[j] = pages[i] + 1, cnt.val[j] = 0, cnt.n++;
        cnt.val[j]++;
    }
    /* the hot-th largest count, from a histogram of counts */
    size_t maxc = n / 64 + 2, want = hot, thr = 1;
    size_t *h = calloc(maxc + 1, sizeof *h);
    if (!h) {
        pmap_free(&cnt);
        return -1;
    }
    for (size_t i = 0; i < cnt.cap; i++)
        if (cnt.key[i])
            h[cnt.val[i]]++;
    size_t above = 0;
    for (size_t c = maxc; c >= 1; c--) {
        if (above + h[c] >= want) {
            thr = c;
            break;
        }
        above += h[c];
    }
    free(h);
    /* pages above thr, then those at thr until `hot` */
    size_t taken = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < cnt.cap && taken < hot; i++) {
            if (!cnt.key[i] || cnt.val[i] < thr || (pass == 0) != (cnt.val[i] > thr))
                continue;
            if (cnt.val[i] < 2)
                continue; /* seen once: nothing says it is hot */
            uint64_t p = cnt.key[i] - 1;
            uint64_t hh = hmul(p, seed);
            size_t j = dm_slot(hh);
            if (dm[j] != none)
                continue;
            filter[filter_bit(hh) / 64] |= 1ULL << (filter_bit(hh) % 64);
            hotpage[taken] = p;
            dm[j] = (uint16_t)taken++;
        }
    pmap_free(&cnt);
    return (long)taken;
}

/* With and without the popcnt instruction, as vmlab_mrc_lru, and for
 * x86-64-v3 (AVX2: hot_after's compares 8 at a time). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v3", "popcnt", "default")))
#endif
int vmlab_mrc_shards(const uint64_t *pages, size_t n, const struct vmlab_shards_opts *o,
                     struct vmlab_mrc *out)
{
    enum { HOT_EVERY = 64 }; /* a hot page's distance is taken at one reference in 64 */
    double rate = o->rate, inv = 1.0 / rate, cold = 0, wsum = 0;
    uint64_t thr = (uint64_t)(rate * (double)(1u << 24)), seed = o->seed * 0x9e3779b97f4a7c15ULL;
    size_t hot = o->hot, ntracked = 0, tcap = SD_SLACK, hlen = 1024, nh16 = 0;
    uint16_t *dm = malloc(sizeof *dm << DM_BITS);
    uint64_t *filter = calloc((1u << FILTER_BITS) / 64, sizeof *filter);
    uint32_t *cand = malloc(SHARDS_BLOCK * sizeof *cand);
    uint64_t *hotpage = NULL, hotcold = 0;
    struct pmap ps = {0};
    uint32_t *hlast = NULL, *slast = NULL;
    double *hist = NULL;
    struct dlog dl = {0};
    struct sd S = {0};
    int err = -ENOMEM;

    memset(out, 0, sizeof *out);
    if (!(rate > 0 && rate <= 1) || n >= UINT32_MAX) {
        free(dm);
        return -EINVAL;
    }
    if (hot > (1u << DM_BITS) / 4)
        hot = (1u << DM_BITS) / 4; /* the direct-mapped filter stays sparse */
    /* hot indices 0 .. nh-1, then padding to 16 for hot_after, then one
     * dummy (`none`) that every other reference updates, so that the hot
     * path has no branch */
    nh16 = (hot + 15) / 16 * 16;
    uint16_t none = (uint16_t)nh16;
    hotpage = malloc((nh16 + 1) * sizeof *hotpage);
    hlast = malloc((nh16 + 1) * sizeof *hlast);
    ps.seed = seed;
    if (!dm || !filter || !cand || !hotpage || !hlast || pmap_init(&ps, 1u << 12))
        goto out;
    for (size_t j = 0; j < (1u << DM_BITS); j++)
        dm[j] = none;
    long nh = hot ? find_hot(pages, n, hot, seed, dm, none, hotpage, filter) : 0;
    if (nh < 0)
        goto out;
    for (size_t v = 0; v < (1u << FILTER_BITS) && v <= (thr >> (24 - FILTER_BITS)); v++)
        filter[v / 64] |= 1ULL << (v % 64);
    nh16 = ((size_t)nh + 15) / 16 * 16;
    slast = malloc(tcap * sizeof *slast);
    if (!slast || sd_init(&S, SD_SLACK, 1))
        goto out;
    memset(hlast, 0, (none + 1) * sizeof *hlast);
    hotpage[none] = 0;
    /* A hot page's distance is taken at the references whose index i has
     * (i x phi) mod 2^64 below 2^64 / HOT_EVERY: one in HOT_EVERY, spread
     * evenly (a Weyl sequence, so no period of the trace aliases it). */
    const uint64_t phi = 0x9e3779b97f4a7c15ULL, hot_cut = UINT64_MAX / HOT_EVERY;
    /* In blocks: a first pass keeps the references that may be hot (their
     * filter bit) or sampled, with no branch (99 % of the others go); the
     * second does the work on those, in order. */
    for (size_t i0 = 0; i0 < n; i0 += SHARDS_BLOCK) {
      size_t nb = n - i0 < SHARDS_BLOCK ? n - i0 : SHARDS_BLOCK, nc = 0;
      for (size_t j = 0; j < nb; j++) {
        uint64_t h = hmul(pages[i0 + j], seed);
        size_t fb = filter_bit(h);
        cand[nc] = (uint32_t)j;
        nc += (filter[fb / 64] >> (fb % 64)) & 1;
      }
      for (size_t c = 0; c < nc; c++) {
        size_t i = i0 + cand[c];
        uint64_t tick = (uint64_t)i * phi;
        uint64_t p = pages[i], h = hmul(p, seed);
        /* a hot page: tracked exactly (its last reference index + 1), with
         * no branch on whether it is one: other pages update a dummy */
        uint16_t k = dm[dm_slot(h)];
        int match = (k != none) & (hotpage[k] == p);
        k = match ? k : none;
        uint32_t q = hlast[k];
        hlast[k] = (uint32_t)i + 1;
        int rare = match ? (tick < hot_cut) & (q != 0) : (h >> 40) < thr;
        if (__builtin_expect(!rare, 1))
            continue;
        if (match) {
            /* hot_after counts this page itself (just updated): the 1 */
            double d = (double)hot_after(hlast, nh16, q - 1) + (double)sd_after_gtime(&S, q - 1) * inv;
            if (dlog_add(&dl, d, 1))
                goto out;
            wsum += HOT_EVERY;
            continue;
        }
        /* a sampled page (1 in 1/rate): weight 1 / rate */
        size_t j = pmap_slot(&ps, p, hash64(p ^ seed));
        if (!ps.key[j]) {
            if (ntracked == tcap) {
                uint32_t *nl = realloc(slast, 2 * tcap * sizeof *slast);
                if (!nl)
                    goto out;
                slast = nl, tcap *= 2;
            }
            ps.key[j] = p + 1, ps.val[j] = (uint32_t)ntracked, ps.n++;
            slast[ntracked] = UINT32_MAX;
            j = ntracked++;
            if (2 * ps.n > ps.cap && pmap_grow(&ps))
                goto out;
        } else
            j = ps.val[j];
        if (S.now == S.T) {
            if (2 * S.live + 1 > S.T / 2 ? sd_grow(&S, slast) : (sd_compact(&S, slast), 0))
                goto out;
        }
        q = slast[j];
        if (q == UINT32_MAX) {
            cold += inv, wsum += inv;
            S.live++;
        } else {
            double d = 1.0 + (double)sd_after(&S, q) * inv + (double)hot_after(hlast, nh16, (uint32_t)S.gtime[q]);
            if (dlog_add(&dl, d, 0))
                goto out;
            wsum += inv;
            sd_clear(&S, q);
        }
        slast[j] = (uint32_t)sd_push(&S, (uint32_t)j, i);
      }
    }
    hlen = dl.maxb + 2;
    hist = sim_big(hlen * sizeof *hist);
    if (!hist)
        goto out;
    memset(hist, 0, hlen * sizeof *hist);
    for (size_t k = 0; k < dl.n; k++) {
        if (k + 16 < dl.n)
            __builtin_prefetch(&hist[dl.v[k + 16] >> 1], 1);
        hist[dl.v[k] >> 1] += dl.v[k] & 1 ? (double)HOT_EVERY : inv;
    }
    for (size_t k = 0; k < nh16; k++) /* each hot page's first reference */
        hotcold += hlast[k] != 0;
    cold += (double)hotcold, wsum += (double)hotcold;
    if (o->adjust && hlen > 1) /* SHARDS_adj: the weights sum to the references */
        hist[1] += (double)n - wsum;
    out->hist = hist, hist = NULL;
    out->maxd = hlen - 1;
    out->cold = cold;
    out->refs = (double)n;
    err = 0;
out:
    free(hist), free(hlast), free(slast), free(dm), free(hotpage), free(filter), free(cand), free(dl.v);
    pmap_free(&ps);
    if (S.bits)
        sd_free(&S);
    return err;
}
