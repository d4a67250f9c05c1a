/* Miss-ratio curves: exact LRU for every size in one pass, exact OPT by
 * Mattson's stack algorithm, and the histogram arithmetic shared with the
 * sampled curves (sim_shards.c). */
#include "vmlab/sim.h"
#include "sim_internal.h"

#include <errno.h>
#include <string.h>

void vmlab_mrc_free(struct vmlab_mrc *c)
{
    free(c->hist);
    c->hist = NULL;
    c->maxd = 0;
}

double vmlab_mrc_misses(const struct vmlab_mrc *c, size_t frames)
{
    double miss = c->cold;
    for (size_t d = frames + 1; d <= c->maxd; d++)
        miss += c->hist[d];
    return miss;
}

void vmlab_mrc_ratios(const struct vmlab_mrc *c, const size_t *sizes, size_t k, double *out)
{
    /* suffix sums once, then one look-up per size */
    double *suf = malloc((c->maxd + 2) * sizeof *suf);
    if (!suf) {
        for (size_t j = 0; j < k; j++)
            out[j] = c->refs > 0 ? vmlab_mrc_misses(c, sizes[j]) / c->refs : 0;
        return;
    }
    suf[c->maxd + 1] = 0;
    for (size_t d = c->maxd + 1; d-- > 1;)
        suf[d] = suf[d + 1] + c->hist[d];
    for (size_t j = 0; j < k; j++) {
        double miss = c->cold + (sizes[j] + 1 <= c->maxd ? suf[sizes[j] + 1] : 0);
        double r = c->refs > 0 ? miss / c->refs : 0;
        out[j] = r < 0 ? 0 : r > 1 ? 1 : r;
    }
    free(suf);
}

/* ---- exact LRU ----
 * Every page's last reference is one set bit in a bitmap of times; the
 * LRU stack distance of a reference is 1 + the number of set bits after
 * the page's previous one.  A Fenwick tree counts bits per 512-bit block
 * (so it stays in L1 for a million pages), popcount does the rest of the
 * block.  Times run out at T = 2 x pages (at least); then the live bits are
 * renumbered in order (compaction, O(T) every T - live references). */
#define BLK_BITS 512
#define BLK_WORDS (BLK_BITS / 64)

struct sd {
    uint64_t *bits;
    uint32_t *fen;      /* 1-based Fenwick tree over blocks */
    uint32_t *owner;    /* page at each time */
    size_t T, nb, now, live;
};

static int sd_init(struct sd *s, size_t pages)
{
    size_t T = 2 * pages + BLK_BITS;
    if (T < (1u << 16))
        T = 1u << 16;
    T = (T + BLK_BITS - 1) / BLK_BITS * BLK_BITS;
    s->T = T, s->nb = T / BLK_BITS, s->now = 0, s->live = 0;
    s->bits = calloc(T / 64, sizeof *s->bits);
    s->fen = calloc(s->nb + 1, sizeof *s->fen);
    s->owner = malloc(T * sizeof *s->owner);
    if (!s->bits || !s->fen || !s->owner) {
        free(s->bits), free(s->fen), free(s->owner);
        return -1;
    }
    return 0;
}

static void sd_free(struct sd *s)
{
    free(s->bits), free(s->fen), free(s->owner);
}

static inline void fen_add(uint32_t *fen, size_t nb, size_t b, int32_t v)
{
    for (size_t i = b + 1; i <= nb; i += i & -i)
        fen[i] += (uint32_t)v;
}

/* Set bits strictly before block b. */
static inline uint32_t fen_prefix(const uint32_t *fen, size_t b)
{
    uint32_t s = 0;
    for (size_t i = b; i > 0; i -= i & -i)
        s += fen[i];
    return s;
}

/* Set bits at times <= p. */
static inline size_t sd_rank(const struct sd *s, size_t p)
{
    size_t b = p / BLK_BITS, w = p / 64, w0 = b * BLK_WORDS;
    size_t r = fen_prefix(s->fen, b);
    for (size_t i = w0; i < w; i++)
        r += (size_t)__builtin_popcountll(s->bits[i]);
    unsigned bit = p % 64;
    uint64_t mask = bit == 63 ? ~0ULL : (2ULL << bit) - 1;
    return r + (size_t)__builtin_popcountll(s->bits[w] & mask);
}

/* Renumber the live times 0..live-1 in order; last[] follows. */
static void sd_compact(struct sd *s, uint32_t *last)
{
    size_t k = 0;
    for (size_t w = 0; w < s->T / 64; w++) {
        uint64_t v = s->bits[w];
        while (v) {
            size_t p = w * 64 + (size_t)__builtin_ctzll(v);
            v &= v - 1;
            uint32_t x = s->owner[p];
            s->owner[k] = x;
            last[x] = (uint32_t)k++;
        }
    }
    memset(s->bits, 0, s->T / 8);
    for (size_t p = 0; p < k; p++)
        s->bits[p / 64] |= 1ULL << (p % 64);
    memset(s->fen, 0, (s->nb + 1) * sizeof *s->fen);
    for (size_t b = 0; b < s->nb; b++) { /* O(nb) Fenwick build */
        size_t cnt = 0;
        for (size_t i = 0; i < BLK_WORDS; i++)
            cnt += (size_t)__builtin_popcountll(s->bits[b * BLK_WORDS + i]);
        s->fen[b + 1] += (uint32_t)cnt;
        size_t up = (b + 1) + ((b + 1) & -(b + 1));
        if (up <= s->nb)
            s->fen[up] += s->fen[b + 1];
    }
    s->now = k;
}

int vmlab_mrc_lru(const uint32_t *ids, size_t n, uint32_t m, struct vmlab_mrc *out)
{
    struct sd s;
    uint32_t *last = malloc(((size_t)m + 1) * sizeof *last);
    uint64_t *hist = calloc((size_t)m + 2, sizeof *hist), cold = 0;

    memset(out, 0, sizeof *out);
    if (!last || !hist || sd_init(&s, m)) {
        free(last), free(hist);
        return -ENOMEM;
    }
    memset(last, 0xff, ((size_t)m + 1) * sizeof *last);
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        if (i + 16 < n)
            __builtin_prefetch(&last[ids[i + 16]]);
        if (s.now == s.T)
            sd_compact(&s, last);
        uint32_t p = last[x];
        if (p == UINT32_MAX) {
            cold++;
            s.live++;
        } else {
            hist[s.live - sd_rank(&s, p) + 1]++;
            s.bits[p / 64] &= ~(1ULL << (p % 64));
            fen_add(s.fen, s.nb, p / BLK_BITS, -1);
        }
        size_t t = s.now++;
        s.bits[t / 64] |= 1ULL << (t % 64);
        fen_add(s.fen, s.nb, t / BLK_BITS, 1);
        s.owner[t] = x;
        last[x] = (uint32_t)t;
    }
    sd_free(&s);
    free(last);
    out->hist = malloc(((size_t)m + 2) * sizeof *out->hist);
    if (!out->hist) {
        free(hist);
        return -ENOMEM;
    }
    out->maxd = m;
    for (size_t d = 0; d <= m; d++)
        out->hist[d] = (double)hist[d];
    out->cold = (double)cold;
    out->refs = (double)n;
    free(hist);
    return 0;
}

/* ---- exact OPT ----
 * Mattson et al.'s stack algorithm for MIN: the stack is ordered so that
 * its first c entries are OPT's memory of c frames for every c.  A
 * reference moves its page to the top; the page pushed down from the top
 * is compared level by level with the page there, and the one needed
 * later (larger next use) keeps going down, until the referenced page's
 * old level (or the bottom, for a first reference). */
int vmlab_mrc_opt(const uint32_t *ids, size_t n, uint32_t m, struct vmlab_mrc *out)
{
    uint32_t *next = sim_next_use(ids, n, m);
    uint32_t *stk = malloc(((size_t)m + 1) * sizeof *stk);
    uint32_t *pos = malloc(((size_t)m + 1) * sizeof *pos);
    uint32_t *nu = malloc(((size_t)m + 1) * sizeof *nu);
    uint64_t *hist = calloc((size_t)m + 2, sizeof *hist), cold = 0;
    size_t depth = 0;

    memset(out, 0, sizeof *out);
    if (!next || !stk || !pos || !nu || !hist) {
        free(next), free(stk), free(pos), free(nu), free(hist);
        return -ENOMEM;
    }
    memset(pos, 0xff, ((size_t)m + 1) * sizeof *pos);
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        size_t at = pos[x];
        nu[x] = next[i];
        if (at == UINT32_MAX) {
            cold++;
            at = depth++;
        } else
            hist[at + 1]++;
        if (at == 0) {
            stk[0] = x, pos[x] = 0;
            continue;
        }
        uint32_t carry = stk[0];
        stk[0] = x, pos[x] = 0;
        for (size_t j = 1; j < at; j++) {
            uint32_t z = stk[j];
            if (nu[z] > nu[carry]) {
                stk[j] = carry, pos[carry] = (uint32_t)j;
                carry = z;
            }
        }
        stk[at] = carry, pos[carry] = (uint32_t)at;
    }
    free(next), free(stk), free(pos), free(nu);
    out->hist = malloc(((size_t)m + 2) * sizeof *out->hist);
    if (!out->hist) {
        free(hist);
        return -ENOMEM;
    }
    out->maxd = m;
    for (size_t d = 0; d <= m; d++)
        out->hist[d] = (double)hist[d];
    out->cold = (double)cold;
    out->refs = (double)n;
    free(hist);
    return 0;
}
