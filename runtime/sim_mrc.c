/* Miss-ratio curves: exact LRU for every size in one pass, exact OPT by
 * Mattson's stack algorithm, and the histogram arithmetic shared with the
 * sampled curves (sim_shards.c). */
#include "vmlab/sim.h"
#include "sim_internal.h"
#include "sim_tstack.h"

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
 * The stack of last-use times in sim_tstack.h.  Per reference: the page's
 * last time (a table prefetched 16 references ahead), the count of set
 * bits after it, two updates of the stack; the histogram, as big as the
 * pages and hit at random, is prefetched and each count added PEND
 * references later. */
enum { PEND = 8, AHEAD = 16, NEAR = 6 };

/* A histogram that grows with the pages (distances are at most m). */
struct lhist {
    uint32_t *h;
    size_t cap;
};
static int lhist_room(struct lhist *lh, size_t need)
{
    if (need <= lh->cap)
        return 0;
    size_t cap = lh->cap ? lh->cap : 1024;
    while (cap < need)
        cap *= 2;
    uint32_t *h = sim_big(cap * sizeof *h);
    if (!h)
        return -1;
    if (lh->cap)
        memcpy(h, lh->h, lh->cap * sizeof *h);
    memset(h + lh->cap, 0, (cap - lh->cap) * sizeof *h);
    free(lh->h);
    lh->h = h, lh->cap = cap;
    return 0;
}
static int lhist_out(struct lhist *lh, size_t m, uint64_t cold, size_t n, struct vmlab_mrc *out)
{
    out->hist = malloc((m + 2) * sizeof *out->hist);
    if (!out->hist)
        return -ENOMEM;
    out->maxd = m;
    out->hist[0] = 0; /* the pending slots start at 0, which counts nothing */
    for (size_t d = 1; d <= m; d++)
        out->hist[d] = d < lh->cap ? (double)lh->h[d] : 0;
    out->cold = (double)cold;
    out->refs = (double)n;
    return 0;
}

/* ---- dense ids and the LRU curve in one pass ----
 * One open-addressing table of {page, id, last time}: one look-up (its
 * line prefetched AHEAD references before) gives both. */
struct lslot {
    uint64_t key;
    uint32_t id;   /* UINT32_MAX: empty */
    uint32_t last;
};
static inline size_t lslot_hash(uint64_t p, unsigned lg)
{
    return (size_t)((p * 0x9e3779b97f4a7c15ULL) >> (64 - lg));
}
static int ltab_grow(struct lslot **tab, unsigned *lg)
{
    size_t cap = (size_t)1 << *lg, ncap = cap * 2;
    struct lslot *nt = sim_big(ncap * sizeof *nt);
    if (!nt)
        return -1;
    for (size_t j = 0; j < ncap; j++)
        nt[j].id = nt[j].last = UINT32_MAX; /* last: read by the NEAR prefetch */
    for (size_t j = 0; j < cap; j++)
        if ((*tab)[j].id != UINT32_MAX) {
            size_t g = lslot_hash((*tab)[j].key, *lg + 1);
            while (nt[g].id != UINT32_MAX)
                g = (g + 1) & (ncap - 1);
            nt[g] = (*tab)[j];
        }
    free(*tab);
    *tab = nt, *lg += 1;
    return 0;
}

/* The loops, built twice: with AVX2 where the processor has it (picked
 * at run time), and portable. */
#define TS_AFTER ts_after
#define TS_PUSH ts_push
#define TS_CLEAR ts_clear
#define LRU_FN(name) name##_c
#define LRU_ATTR
#include "sim_lru_loop.h"
#undef TS_PUSH
#undef TS_CLEAR
#undef LRU_FN
#undef LRU_ATTR
#ifdef TS_X86
#define TS_PUSH ts_push_avx2
#define TS_CLEAR ts_clear_avx2
#define LRU_FN(name) name##_avx2
#define LRU_ATTR TS_AVX2
#include "sim_lru_loop.h"
#endif

int vmlab_mrc_lru(const uint32_t *ids, size_t n, uint32_t m, struct vmlab_mrc *out)
{
#ifdef TS_X86
    if (ts_have_avx2())
        return lru_ids_avx2(ids, n, m, out);
#endif
    return lru_ids_c(ids, n, m, out);
}

int64_t vmlab_mrc_lru_pages(const uint64_t *pages, size_t n, uint32_t *ids, struct vmlab_mrc *out)
{
#ifdef TS_X86
    if (ts_have_avx2())
        return lru_pages_avx2(pages, n, ids, out);
#endif
    return lru_pages_c(pages, n, ids, out);
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
