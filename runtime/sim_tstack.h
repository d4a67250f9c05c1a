/* The exact LRU curve's engine: a stack of last-use times.
 *
 * Every page's last reference is one set bit in a bitmap of times; its
 * LRU stack distance is 1 + the set bits after it.  Above the bitmap, five
 * levels of fan 8 or 16 (word, 512-bit block, group of 16 blocks,
 * supergroup of 16 groups, hypergroup of 16 supergroups) each keep, per
 * node, the set bits in the LATER nodes of its parent (a suffix sum within
 * the parent).  So a count is the rest of the word (popcnt) plus one load
 * per level, with no loop and no branch; an update adds +-1 to the nodes
 * before it in each parent (16 lanes under a compare mask, in AVX2 where
 * the processor has it).  Pushes leave the levels from the group up alone
 * until they move to the next group (see sync): a push updates two.  The levels' totals beyond a hypergroup
 * chunk (2^25 times) are a short loop that ordinary traces never enter.
 * When the times run out, T doubles while over an eighth of them are live,
 * else the live times are renumbered 0..live-1 in order (a rank query
 * per page, so no owner array); both rebuild the levels from the bitmap. */
#ifndef VMLAB_SIM_TSTACK_H
#define VMLAB_SIM_TSTACK_H
#include "sim_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { TS_LGW = 6, TS_LGB = 9, TS_LGG = 13, TS_LGS = 17, TS_LGH = 21, TS_LGC = 25 };
/* The first T: a supergroup (it grows with the pages). */
#define TS_T0 ((size_t)1 << TS_LGS)

struct tstack {
    uint64_t *bits;
    uint16_t *sw;      /* per word: set bits in the later words of its block */
    uint16_t *sb;      /* per block: ... later blocks of its group */
    uint32_t *sg;      /* per group: ... later groups of its supergroup */
    uint32_t *ss;      /* per supergroup: ... of its hypergroup */
    uint32_t *sh;      /* per hypergroup: ... of its chunk of 16 */
    uint32_t *ht;      /* per chunk of 16 hypergroups: its set bits */
    size_t T, now;
    size_t sync, cur;  /* the levels from sg up hold the times < sync; cur
                        * counts the set bits at sync and after (all in
                        * sync's group), added to them when a push leaves it */
};

/* zeroed, 64-byte aligned (a parent's 16 lanes never cross a line) */
static inline void *ts_zalloc(size_t bytes)
{
    bytes = (bytes + 63) / 64 * 64;
    void *p = bytes >= (2u << 20) ? sim_big(bytes) : aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}
static inline size_t ts_up16(size_t x) { return (x + 15) & ~(size_t)15; }

static inline void ts_free(struct tstack *s)
{
    free(s->bits), free(s->sw), free(s->sb), free(s->sg), free(s->ss), free(s->sh), free(s->ht);
    memset(s, 0, sizeof *s);
}

/* Room for times 0..T-1, T rounded up to a supergroup; all clear. */
static inline int ts_init(struct tstack *s, size_t T)
{
    T = (T + TS_T0 - 1) / TS_T0 * TS_T0;
    s->T = T, s->now = 0, s->sync = 0, s->cur = 0;
    s->bits = ts_zalloc(T / 8);
    s->sw = ts_zalloc((T >> TS_LGW) * sizeof *s->sw);
    s->sb = ts_zalloc((T >> TS_LGB) * sizeof *s->sb);
    s->sg = ts_zalloc((T >> TS_LGG) * sizeof *s->sg);
    s->ss = ts_zalloc(ts_up16(T >> TS_LGS) * sizeof *s->ss);
    s->sh = ts_zalloc(ts_up16((T >> TS_LGH) + 1) * sizeof *s->sh);
    s->ht = ts_zalloc(((T >> TS_LGC) + 1) * sizeof *s->ht);
    if (!s->bits || !s->sw || !s->sb || !s->sg || !s->ss || !s->sh || !s->ht) {
        ts_free(s);
        return -1;
    }
    return 0;
}

/* +v to the nodes before node i in its parent of 16 (or 8) */
#define TS_LANES(a, i, fan, v)                                                 \
    do {                                                                       \
        __typeof__(a) c_ = (a) + ((i) & ~(size_t)((fan)-1));                   \
        unsigned k_ = (unsigned)((i) & ((fan)-1));                             \
        for (unsigned j_ = 0; j_ < (fan); j_++)                                \
            c_[j_] = (__typeof__(*c_))(c_[j_] + (j_ < k_ ? (v) : 0));          \
    } while (0)

/* the word and block levels, kept for every time */
static inline __attribute__((always_inline)) void ts_lo(struct tstack *s, size_t t, int v)
{
    TS_LANES(s->sw, t >> TS_LGW, 8, v);
    TS_LANES(s->sb, t >> TS_LGB, 16, v);
}
/* the levels from the group up, for times before sync */
static inline __attribute__((always_inline)) void ts_hi(struct tstack *s, size_t t, uint32_t v)
{
    TS_LANES(s->sg, t >> TS_LGG, 16, v);
    TS_LANES(s->ss, t >> TS_LGS, 16, v);
    TS_LANES(s->sh, t >> TS_LGH, 16, v);
    s->ht[t >> TS_LGC] += v;
}
/* A push into a new group first adds the last group's unsynced bits to
 * the levels above (once per 8192 pushes): so a push costs two levels. */
static inline __attribute__((always_inline)) void ts_sync(struct tstack *s, size_t t)
{
    if (__builtin_expect((t >> TS_LGG) != (s->sync >> TS_LGG), 0)) {
        ts_hi(s, s->sync, (uint32_t)s->cur);
        s->sync = t, s->cur = 0;
    }
}
/* Take the next time (the caller makes room first when now == T). */
static inline __attribute__((always_inline)) size_t ts_push(struct tstack *s)
{
    size_t t = s->now++;
    ts_sync(s, t);
    s->bits[t >> 6] |= 1ULL << (t & 63);
    ts_lo(s, t, 1);
    s->cur++;
    return t;
}
/* A time at or after sync is only in cur; else the levels above lose it.
 * No branch: an unsynced time updates the upper levels at time 0, where
 * no node comes before (an empty update), and ht by 0. */
static inline __attribute__((always_inline)) void ts_clear(struct tstack *s, size_t p)
{
    s->bits[p >> 6] &= ~(1ULL << (p & 63));
    ts_lo(s, p, -1);
    size_t un = p >= s->sync, ph = un ? 0 : p;
    s->cur -= un;
    TS_LANES(s->sg, ph >> TS_LGG, 16, (uint32_t)-1);
    TS_LANES(s->ss, ph >> TS_LGS, 16, (uint32_t)-1);
    TS_LANES(s->sh, ph >> TS_LGH, 16, (uint32_t)-1);
    s->ht[p >> TS_LGC] -= (uint32_t)(1 - un);
}

/* Set bits at times after p (p < now): the unsynced ones (cur) are all
 * after p unless p is in their group, where the block levels hold them. */
static inline __attribute__((always_inline)) size_t ts_after(const struct tstack *s, size_t p)
{
    size_t r = (size_t)__builtin_popcountll((s->bits[p >> 6] >> (p & 63)) >> 1);
    r += (size_t)s->sw[p >> TS_LGW] + s->sb[p >> TS_LGB] + s->sg[p >> TS_LGG] + s->ss[p >> TS_LGS] +
         s->sh[p >> TS_LGH];
    r += (p >> TS_LGG) < (s->sync >> TS_LGG) ? s->cur : 0;
    for (size_t c = (p >> TS_LGC) + 1; c <= (s->now - 1) >> TS_LGC; c++)
        r += s->ht[c];
    return r;
}

/* Every level again from the bitmap (after a renumbering or growth). */
static inline void ts_rebuild(struct tstack *s)
{
    size_t nw = s->T >> TS_LGW;
    memset(s->sb, 0, (s->T >> TS_LGB) * sizeof *s->sb);
    memset(s->sg, 0, (s->T >> TS_LGG) * sizeof *s->sg);
    memset(s->ss, 0, ts_up16(s->T >> TS_LGS) * sizeof *s->ss);
    memset(s->sh, 0, ts_up16((s->T >> TS_LGH) + 1) * sizeof *s->sh);
    memset(s->ht, 0, ((s->T >> TS_LGC) + 1) * sizeof *s->ht);
    /* the words of each block from the last; then each level's nodes
     * from its per-node totals, kept in the next level's scratch pass */
    for (size_t b = 0; b < nw / 8; b++) {
        uint32_t acc = 0, tot = 0;
        for (size_t j = 8; j-- > 0;) {
            s->sw[b * 8 + j] = (uint16_t)acc;
            acc += (uint32_t)__builtin_popcountll(s->bits[b * 8 + j]);
        }
        tot = acc;
        size_t t = b << TS_LGB; /* this block's total counts in every level above */
        size_t bi = t >> TS_LGB, gi = t >> TS_LGG, si = t >> TS_LGS, hi = t >> TS_LGH;
        for (size_t k = bi & ~(size_t)15; k < bi; k++)
            s->sb[k] = (uint16_t)(s->sb[k] + tot);
        for (size_t k = gi & ~(size_t)15; k < gi; k++)
            s->sg[k] += tot;
        for (size_t k = si & ~(size_t)15; k < si; k++)
            s->ss[k] += tot;
        for (size_t k = hi & ~(size_t)15; k < hi; k++)
            s->sh[k] += tot;
        s->ht[t >> TS_LGC] += tot;
    }
    s->sync = s->now, s->cur = 0;
}

/* When the times run out (now == T) with `live` pages: over an eighth
 * live, ts_grow() doubles T (the bitmap is a prefix of the bigger one);
 * else they are renumbered 0..live-1 in order, in two steps so that the
 * callers keep their own tables of last times: ts_rank() of every live
 * time (on the old stack), then ts_refill(). */
static inline int ts_must_grow(const struct tstack *s, size_t live)
{
    return 8 * live > s->T;
}
static inline int ts_grow(struct tstack *s)
{
    struct tstack g;
    if (ts_init(&g, 2 * s->T))
        return -1;
    memcpy(g.bits, s->bits, s->T / 8);
    g.now = s->now;
    ts_free(s);
    *s = g;
    ts_rebuild(s);
    return 0;
}
static inline size_t ts_rank(const struct tstack *s, size_t p, size_t live)
{
    return live - 1 - ts_after(s, p);
}
static inline void ts_refill(struct tstack *s, size_t live)
{
    memset(s->bits, 0, s->T / 8);
    memset(s->bits, 0xff, live / 64 * 8);
    if (live % 64)
        s->bits[live / 64] = (1ULL << (live % 64)) - 1;
    s->now = live;
    ts_rebuild(s);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same updates in AVX2 intrinsics (the vectorizer makes twice the
 * instructions of these): a parent's lanes before node k get -(k > lane),
 * i.e. +1 on a push, and the mask added back on a clear. */
#include <immintrin.h>
#define TS_X86 1
#define TS_AVX2 __attribute__((target("avx2,popcnt")))
/* VMLAB_NO_AVX2 (set, any value) takes the portable loops: for tests and
 * for comparing the two */
static inline int ts_have_avx2(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") && !getenv("VMLAB_NO_AVX2");
}
static inline __attribute__((always_inline)) TS_AVX2 void ts_l32_avx2(uint32_t *a, size_t i, int push)
{
    __m256i *c = (__m256i *)(a + (i & ~(size_t)15));
    __m256i kk = _mm256_set1_epi32((int)(i & 15));
    __m256i m0 = _mm256_cmpgt_epi32(kk, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i m1 = _mm256_cmpgt_epi32(kk, _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15));
    __m256i x0 = _mm256_load_si256(c), x1 = _mm256_load_si256(c + 1);
    _mm256_store_si256(c, push ? _mm256_sub_epi32(x0, m0) : _mm256_add_epi32(x0, m0));
    _mm256_store_si256(c + 1, push ? _mm256_sub_epi32(x1, m1) : _mm256_add_epi32(x1, m1));
}
static inline __attribute__((always_inline)) TS_AVX2 void ts_lo_avx2(struct tstack *s, size_t t, int push)
{
    size_t w = t >> TS_LGW, b = t >> TS_LGB;
    __m128i *cw = (__m128i *)(s->sw + (w & ~(size_t)7));
    __m128i mw = _mm_cmpgt_epi16(_mm_set1_epi16((short)(w & 7)), _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7));
    __m128i xw = _mm_load_si128(cw);
    _mm_store_si128(cw, push ? _mm_sub_epi16(xw, mw) : _mm_add_epi16(xw, mw));
    __m256i *cb = (__m256i *)(s->sb + (b & ~(size_t)15));
    __m256i mb = _mm256_cmpgt_epi16(_mm256_set1_epi16((short)(b & 15)),
                                    _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __m256i xb = _mm256_load_si256(cb);
    _mm256_store_si256(cb, push ? _mm256_sub_epi16(xb, mb) : _mm256_add_epi16(xb, mb));
}
static inline __attribute__((always_inline)) TS_AVX2 size_t ts_push_avx2(struct tstack *s)
{
    size_t t = s->now++;
    ts_sync(s, t);
    s->bits[t >> 6] |= 1ULL << (t & 63);
    ts_lo_avx2(s, t, 1);
    s->cur++;
    return t;
}
static inline __attribute__((always_inline)) TS_AVX2 void ts_clear_avx2(struct tstack *s, size_t p)
{
    s->bits[p >> 6] &= ~(1ULL << (p & 63));
    ts_lo_avx2(s, p, 0);
    size_t un = p >= s->sync, ph = un ? 0 : p; /* as ts_clear */
    s->cur -= un;
    ts_l32_avx2(s->sg, ph >> TS_LGG, 0);
    ts_l32_avx2(s->ss, ph >> TS_LGS, 0);
    ts_l32_avx2(s->sh, ph >> TS_LGH, 0);
    s->ht[p >> TS_LGC] -= (uint32_t)(1 - un);
}
#endif
#endif
