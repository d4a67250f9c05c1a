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
 * The stack of last-use times in sim_internal.h (struct sd): the hot
 * pages, whose last time is near the newest, cost a few words each. */
/* Built twice, with and without the popcnt instruction (the build targets
 * plain x86-64, where popcount is a library call); the loader picks. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define POPCNT_CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define POPCNT_CLONES
#endif

POPCNT_CLONES
int vmlab_mrc_lru(const uint32_t *ids, size_t n, uint32_t m, struct vmlab_mrc *out)
{
    struct sd s;
    uint32_t *last = sim_big(((size_t)m + 1) * sizeof *last);
    uint32_t *hist = sim_big(((size_t)m + 2) * sizeof *hist);
    uint64_t cold = 0;

    memset(out, 0, sizeof *out);
    if (!last || !hist || n >= UINT32_MAX || sd_init(&s, m, 0)) {
        free(last), free(hist);
        return -ENOMEM;
    }
    memset(last, 0xff, ((size_t)m + 1) * sizeof *last);
    memset(hist, 0, ((size_t)m + 2) * sizeof *hist);
    /* the histogram is as big as the pages and hit at random: each count
     * is prefetched and added PEND references later */
    enum { PEND = 8 };
    size_t pend[PEND] = {0};
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
            size_t d = sd_after(&s, p) + 1, slot = i % PEND;
            __builtin_prefetch(&hist[d], 1);
            hist[pend[slot]]++;
            pend[slot] = d;
            s.bits[p / 64] &= ~(1ULL << (p % 64));
            sd_add(&s, p, -1);
        }
        size_t t = s.now++;
        s.bits[t / 64] |= 1ULL << (t % 64);
        sd_add(&s, t, 1);
        s.owner[t] = x;
        last[x] = (uint32_t)t;
    }
    for (size_t k = 0; k < PEND; k++)
        hist[pend[k]]++;
    hist[0] = 0; /* the pending slots start at 0, which counts nothing */
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
