/* The exact LRU curve's loops, included by sim_mrc.c once per variant:
 * TS_AFTER, TS_PUSH and TS_CLEAR are the stack's operations, LRU_FN(name)
 * the function's name and LRU_ATTR its target.  Per reference: the page's
 * last time (a table line prefetched AHEAD references before; NEAR
 * references before, that line has arrived and the bitmap word of its
 * time is prefetched), the set bits after it, two updates of the stack;
 * the histogram, as big as the pages and hit at random, is prefetched and
 * each count added PEND references later. */

/* page with last time *last (UINT32_MAX: never seen) is referenced now */
#define LRU_STEP(last)                                                         \
    do {                                                                       \
        uint32_t q_ = *(last);                                                 \
        if (q_ == UINT32_MAX) {                                                \
            cold++;                                                            \
        } else {                                                               \
            size_t d_ = TS_AFTER(&s, q_) + 1, slot_ = i % PEND;                \
            __builtin_prefetch(&lh.h[d_], 1);                                  \
            lh.h[pend[slot_]]++;                                               \
            pend[slot_] = d_;                                                  \
            TS_CLEAR(&s, q_);                                                  \
        }                                                                      \
        *(last) = (uint32_t)TS_PUSH(&s);                                       \
    } while (0)

/* a hint only: a stale or wrong time just prefetches another block */
#define LRU_NEAR(q)                                                            \
    do {                                                                       \
        uint32_t nq_ = (q) < s.now ? (q) : 0;                                  \
        __builtin_prefetch(&s.bits[nq_ >> 6]);                                 \
        __builtin_prefetch(&s.sw[nq_ >> TS_LGW]);                              \
    } while (0)

static LRU_ATTR int LRU_FN(lru_ids)(const uint32_t *ids, size_t n, uint32_t m, struct vmlab_mrc *out)
{
    struct tstack s = {0};
    struct lhist lh = {0};
    uint32_t *last = n < UINT32_MAX ? sim_big(((size_t)m + 1) * sizeof *last) : NULL;
    uint64_t cold = 0;
    size_t pend[PEND] = {0};

    memset(out, 0, sizeof *out);
    if (!last || lhist_room(&lh, (size_t)m + 2) || ts_init(&s, TS_T0))
        goto nomem;
    memset(last, 0xff, ((size_t)m + 1) * sizeof *last);
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n) {
            __builtin_prefetch(&last[ids[i + AHEAD]]);
            LRU_NEAR(last[ids[i + NEAR]]);
        }
        if (s.now == s.T) {
            size_t live = 0;
            for (uint32_t x = 0; x < m; x++)
                live += last[x] != UINT32_MAX;
            if (ts_must_grow(&s, live)) {
                if (ts_grow(&s))
                    goto nomem;
            } else {
                for (uint32_t x = 0; x < m; x++)
                    if (last[x] != UINT32_MAX)
                        last[x] = (uint32_t)ts_rank(&s, last[x], live);
                ts_refill(&s, live);
            }
        }
        LRU_STEP(&last[ids[i]]);
    }
    for (size_t k = 0; k < PEND; k++)
        lh.h[pend[k]]++;
    ts_free(&s);
    free(last);
    int rc = lhist_out(&lh, m, cold, n, out);
    free(lh.h);
    return rc;
nomem:
    ts_free(&s);
    free(last), free(lh.h);
    return -ENOMEM;
}

static LRU_ATTR int64_t LRU_FN(lru_pages)(const uint64_t *pages, size_t n, uint32_t *ids, struct vmlab_mrc *out)
{
    struct tstack s = {0};
    struct lhist lh = {0};
    unsigned lg = 16;
    struct lslot *tab = sim_big(sizeof *tab << lg);
    uint64_t cold = 0;
    size_t pend[PEND] = {0}, m = 0;

    memset(out, 0, sizeof *out);
    if (!tab || n >= UINT32_MAX || lhist_room(&lh, 1024) || ts_init(&s, TS_T0))
        goto nomem;
    for (size_t j = 0; j < (size_t)1 << lg; j++)
        tab[j].id = tab[j].last = UINT32_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t p = pages[i];
        size_t mask = ((size_t)1 << lg) - 1, h = lslot_hash(p, lg);
        if (i + AHEAD < n) {
            __builtin_prefetch(&tab[lslot_hash(pages[i + AHEAD], lg)]);
            LRU_NEAR(tab[lslot_hash(pages[i + NEAR], lg)].last);
        }
        while (tab[h].id != UINT32_MAX && tab[h].key != p)
            h = (h + 1) & mask;
        if (tab[h].id == UINT32_MAX) {
            if (m >= UINT32_MAX - 16 || lhist_room(&lh, m + 3))
                goto nomem;
            tab[h].key = p, tab[h].id = (uint32_t)m++, tab[h].last = UINT32_MAX;
        }
        if (s.now == s.T) {
            size_t live = m - (tab[h].last == UINT32_MAX); /* all but a new page */
            if (ts_must_grow(&s, live)) {
                if (ts_grow(&s))
                    goto nomem;
            } else {
                for (size_t j = 0; j <= mask; j++)
                    if (tab[j].id != UINT32_MAX && tab[j].last != UINT32_MAX)
                        tab[j].last = (uint32_t)ts_rank(&s, tab[j].last, live);
                ts_refill(&s, live);
            }
        }
        if (ids)
            ids[i] = tab[h].id;
        LRU_STEP(&tab[h].last);
        if (2 * m > mask && ltab_grow(&tab, &lg))
            goto nomem;
    }
    for (size_t k = 0; k < PEND; k++)
        lh.h[pend[k]]++;
    ts_free(&s);
    free(tab);
    int rc = lhist_out(&lh, m, cold, n, out);
    free(lh.h);
    return rc ? rc : (int64_t)m;
nomem:
    ts_free(&s);
    free(tab), free(lh.h);
    return -ENOMEM;
}
#undef LRU_STEP
#undef LRU_NEAR

#undef LRU_STEP
#undef LRU_NEAR
