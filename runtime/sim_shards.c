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
 * with Fenwick trees over 512-bit blocks).  SHARDS_adj: the sampled
 * references are fewer or more than rate x (references to non-hot pages);
 * the difference goes to the first bucket, so the curve's total is right. */
#include "vmlab/sim.h"
#include "sim_internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define BLK_BITS 512
#define BLK_WORDS 8

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

/* ---- two-class timeline ---- */
struct tl {
    uint64_t *bits[2];
    uint32_t *fen[2];
    uint32_t *owner;
    size_t T, nb, now, live[2];
};

static int tl_init(struct tl *s, size_t T)
{
    T = (T + BLK_BITS - 1) / BLK_BITS * BLK_BITS;
    memset(s, 0, sizeof *s);
    s->T = T, s->nb = T / BLK_BITS;
    for (int c = 0; c < 2; c++) {
        s->bits[c] = calloc(T / 64, sizeof **s->bits);
        s->fen[c] = calloc(s->nb + 1, sizeof **s->fen);
    }
    s->owner = malloc(T * sizeof *s->owner);
    return s->bits[0] && s->bits[1] && s->fen[0] && s->fen[1] && s->owner ? 0 : -1;
}
static void tl_free(struct tl *s)
{
    for (int c = 0; c < 2; c++)
        free(s->bits[c]), free(s->fen[c]);
    free(s->owner);
}
static inline void fen_add(uint32_t *fen, size_t nb, size_t b, int32_t v)
{
    for (size_t i = b + 1; i <= nb; i += i & -i)
        fen[i] += (uint32_t)v;
}
static inline size_t rank(const uint64_t *bits, const uint32_t *fen, size_t p)
{
    size_t b = p / BLK_BITS, w = p / 64, r = 0;
    for (size_t i = b; i > 0; i -= i & -i)
        r += fen[i];
    for (size_t i = b * BLK_WORDS; i < w; i++)
        r += (size_t)__builtin_popcountll(bits[i]);
    unsigned bit = p % 64;
    uint64_t mask = bit == 63 ? ~0ULL : (2ULL << bit) - 1;
    return r + (size_t)__builtin_popcountll(bits[w] & mask);
}
static void fen_build(uint32_t *fen, const uint64_t *bits, size_t nb)
{
    memset(fen, 0, (nb + 1) * sizeof *fen);
    for (size_t b = 0; b < nb; b++) {
        size_t cnt = 0;
        for (size_t i = 0; i < BLK_WORDS; i++)
            cnt += (size_t)__builtin_popcountll(bits[b * BLK_WORDS + i]);
        fen[b + 1] += (uint32_t)cnt;
        size_t up = (b + 1) + ((b + 1) & -(b + 1));
        if (up <= nb)
            fen[up] += fen[b + 1];
    }
}
/* Renumber live times in order; grow T when more than half is live. */
static int tl_compact(struct tl *s, uint32_t *last)
{
    size_t live = s->live[0] + s->live[1], k = 0;
    uint32_t *own = s->owner;
    uint64_t *ob[2] = {s->bits[0], s->bits[1]};
    size_t oT = s->T;
    struct tl g;

    if (tl_init(&g, live * 4 > oT ? oT * 2 : oT)) {
        tl_free(&g);
        return -1;
    }
    for (size_t w = 0; w < oT / 64; w++) {
        uint64_t v = ob[0][w] | ob[1][w];
        while (v) {
            size_t p = w * 64 + (size_t)__builtin_ctzll(v);
            v &= v - 1;
            int c = (ob[1][w] >> (p % 64)) & 1;
            g.bits[c][k / 64] |= 1ULL << (k % 64);
            g.owner[k] = own[p];
            last[own[p]] = (uint32_t)k++;
        }
    }
    for (int c = 0; c < 2; c++)
        fen_build(g.fen[c], g.bits[c], g.nb);
    g.now = k, g.live[0] = s->live[0], g.live[1] = s->live[1];
    tl_free(s);
    *s = g;
    return 0;
}

/* The `hot` most referenced pages of a 1/64 subsample, into a table. */
static int find_hot(const uint64_t *pages, size_t n, size_t hot, uint64_t seed,
                    struct pmap *hs, uint64_t *filter)
{
    struct pmap cnt;
    size_t cap = 1024;
    while (cap < 2 * (n / 64 + 1))
        cap <<= 1;
    if (pmap_init(&cnt, cap)) {
        pmap_free(&cnt);
        return -1;
    }
    for (size_t i = 0; i < n; i += 64) {
        size_t j = pmap_slot(&cnt, pages[i], hash64(pages[i] ^ seed));
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
            uint64_t p = cnt.key[i] - 1, hh = hash64(p ^ seed);
            size_t j = pmap_slot(hs, p, hh);
            hs->key[j] = p + 1, hs->val[j] = (uint32_t)taken++, hs->n++;
            filter[(hh >> 48) / 64] |= 1ULL << ((hh >> 48) % 64);
        }
    pmap_free(&cnt);
    return 0;
}

/* With and without the popcnt instruction, as vmlab_mrc_lru. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
int vmlab_mrc_shards(const uint64_t *pages, size_t n, const struct vmlab_shards_opts *o,
                     struct vmlab_mrc *out)
{
    double rate = o->rate, inv = 1.0 / rate, cold = 0, hot_refs = 0, samp_refs = 0;
    uint64_t thr = (uint64_t)(rate * (double)(1u << 24)), seed = o->seed * 0x9e3779b97f4a7c15ULL;
    size_t hot = o->hot, hcap = 16, ntracked, tcap;
    uint64_t *filter = calloc(1024, sizeof *filter); /* 2^16 bits */
    struct pmap hs = {0}, ps = {0};
    uint32_t *last = NULL;
    double *hist = NULL;
    size_t hlen = 0;
    struct tl s;
    int err = -ENOMEM;

    memset(out, 0, sizeof *out);
    memset(&s, 0, sizeof s);
    if (!(rate > 0 && rate <= 1))
        return free(filter), -EINVAL;
    while (hcap < 4 * hot)
        hcap <<= 1;
    hs.seed = ps.seed = seed;
    if (!filter || pmap_init(&hs, hcap) || pmap_init(&ps, 1u << 12) ||
        (hot && find_hot(pages, n, hot, seed, &hs, filter)))
        goto out;
    ntracked = hs.n, tcap = hs.n + 4096;
    last = malloc(tcap * sizeof *last);
    hlen = 1024;
    hist = calloc(hlen, sizeof *hist);
    if (!last || !hist || tl_init(&s, 4 * tcap))
        goto out;
    memset(last, 0xff, tcap * sizeof *last);
    for (size_t i = 0; i < n; i++) {
        uint64_t p = pages[i], h = hash64(p ^ seed);
        uint32_t k;
        int c;
        if (hs.n && ((filter[(h >> 48) / 64] >> ((h >> 48) % 64)) & 1) &&
            hs.key[pmap_slot(&hs, p, h)]) {
            k = hs.val[pmap_slot(&hs, p, h)], c = 0;
            hot_refs++;
        } else if ((h & 0xffffff) < thr) {
            size_t j = pmap_slot(&ps, p, h);
            if (!ps.key[j]) {
                if (ntracked == tcap) {
                    uint32_t *nl = realloc(last, 2 * tcap * sizeof *last);
                    if (!nl)
                        goto out;
                    memset(nl + tcap, 0xff, tcap * sizeof *nl);
                    last = nl, tcap *= 2;
                }
                ps.key[j] = p + 1, ps.val[j] = (uint32_t)ntracked++, ps.n++;
                k = ps.val[j];
                if (2 * ps.n > ps.cap && pmap_grow(&ps))
                    goto out;
            } else
                k = ps.val[j];
            c = 1;
            samp_refs++;
        } else
            continue;
        double w = c ? inv : 1.0;
        if (s.now == s.T && tl_compact(&s, last))
            goto out;
        uint32_t t0 = last[k];
        if (t0 == UINT32_MAX) {
            cold += w;
            s.live[c]++;
        } else {
            double d = 1.0 + (double)(s.live[0] - rank(s.bits[0], s.fen[0], t0)) +
                       (double)(s.live[1] - rank(s.bits[1], s.fen[1], t0)) * inv;
            size_t b = (size_t)(d + 0.5);
            if (b >= hlen) {
                size_t nl = hlen;
                while (nl <= b)
                    nl *= 2;
                double *nh = realloc(hist, nl * sizeof *nh);
                if (!nh)
                    goto out;
                memset(nh + hlen, 0, (nl - hlen) * sizeof *nh);
                hist = nh, hlen = nl;
            }
            hist[b] += w;
            s.bits[c][t0 / 64] &= ~(1ULL << (t0 % 64));
            fen_add(s.fen[c], s.nb, t0 / BLK_BITS, -1);
        }
        size_t t = s.now++;
        s.bits[c][t / 64] |= 1ULL << (t % 64);
        fen_add(s.fen[c], s.nb, t / BLK_BITS, 1);
        s.owner[t] = k;
        last[k] = (uint32_t)t;
    }
    if (o->adjust && hlen > 1)
        hist[1] += ((double)n - hot_refs) - samp_refs * inv;
    out->hist = hist, hist = NULL;
    out->maxd = hlen - 1;
    out->cold = cold;
    out->refs = (double)n;
    err = 0;
out:
    free(hist), free(last), free(filter);
    pmap_free(&hs), pmap_free(&ps);
    tl_free(&s);
    return err;
}
