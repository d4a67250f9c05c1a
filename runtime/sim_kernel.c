/* Kernel-style policies driven by accessed bits: a model of Linux's
 * active/inactive lists, of its multi-gen LRU, and CLOCK-Pro.  Every
 * reference sets the page's accessed ("young") bit, as the MMU does; the
 * policy only sees those bits when it scans. */
#include "sim_internal.h"

#include <string.h>

#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* Linux's two lists (mm/vmscan.c).  A faulted page enters the inactive
 * list young (the instantiating fault).  To free a frame:
 *  - while the inactive list is smaller than the active one
 *    (inactive_is_low with ratio 1, memory under 1 GiB), the active tail
 *    is deactivated to the inactive head, its young bit cleared
 *    (shrink_active_list);
 *  - the inactive tail is checked as folio_check_references does: young
 *    -> PG_referenced set, and activated if PG_referenced was already set,
 *    else rotated to the inactive head; not young -> reclaimed.
 * Not modelled: file vs anon lists, mark_page_accessed from read(),
 * dirty/writeback, executable pages, swappiness, refault distances. */
enum { LX_NONE, LX_INACTIVE, LX_ACTIVE };

int64_t sim_linux(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    const uint32_t INA = m, ACT = m + 1;
    uint8_t *st = calloc(m, 1), *young = calloc(m, 1), *ref = calloc(m, 1);
    size_t nin = 0, nact = 0;
    struct links l;
    int64_t faults = 0;

    if (!st || !young || !ref || links_init(&l, m, 2)) {
        free(st), free(young), free(ref);
        return SIM_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        if (st[x]) {
            young[x] = 1;
            continue;
        }
        faults++;
        while (nin + nact == frames) {
            if (nin < nact) {
                uint32_t y = l_tail(&l, ACT);
                l_remove(&l, y), nact--;
                young[y] = 0;
                l_push_head(&l, INA, y), st[y] = LX_INACTIVE, nin++;
                continue;
            }
            uint32_t y = l_tail(&l, INA);
            int was_ref = ref[y];
            ref[y] = 0;
            if (young[y]) {
                young[y] = 0;
                ref[y] = 1;
                l_remove(&l, y);
                if (was_ref)
                    l_push_head(&l, ACT, y), st[y] = LX_ACTIVE, nin--, nact++;
                else
                    l_push_head(&l, INA, y);
                continue;
            }
            l_remove(&l, y), st[y] = LX_NONE, nin--;
        }
        st[x] = LX_INACTIVE, young[x] = 1, ref[x] = 0;
        l_push_head(&l, INA, x), nin++;
    }
    links_free(&l);
    free(st), free(young), free(ref);
    return faults;
}

/* The multi-gen LRU (mm/vmscan.c lru_gen_*, MAX_NR_GENS 4, MIN_NR_GENS 2).
 * Generations are numbered by sequence; a faulted anon page joins
 * max_seq - 1 (lru_gen_add_folio).  Eviction takes the oldest generation's
 * tail: a young page found there is promoted to max_seq (what look-around
 * does in lru_gen_look_around), an old one is evicted.  An empty oldest
 * generation is retired (min_seq++) while more than MIN_NR_GENS remain;
 * otherwise aging runs (inc_max_seq): a new youngest generation, and the
 * page-table walk moves every young page into it, clearing the bit.
 * Not modelled: tiers and the PID controller, anon/file balance, bloom
 * filters (the walk sees every page). */
#define MG_GENS 4
int64_t sim_mglru(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    uint8_t *res = calloc(m, 1), *young = calloc(m, 1);
    uint64_t *gen = malloc((size_t)m * sizeof *gen);
    uint64_t min_seq = 0, max_seq = 1;
    size_t used = 0;
    struct links l;
    int64_t faults = 0;

    if (!res || !young || !gen || links_init(&l, m, MG_GENS)) {
        free(res), free(young), free(gen);
        return SIM_NOMEM;
    }
#define GL(seq) (m + (uint32_t)((seq) % MG_GENS))
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        if (res[x]) {
            young[x] = 1;
            continue;
        }
        faults++;
        while (used == frames) {
            if (l_empty(&l, GL(min_seq))) {
                if (max_seq - min_seq + 1 > 2) {
                    min_seq++;
                    continue;
                }
                max_seq++; /* aging: walk every generation older than the new one */
                for (uint64_t s = min_seq; s < max_seq; s++) {
                    uint32_t y = l_head(&l, GL(s));
                    while (y != GL(s)) {
                        uint32_t nx = l.next[y];
                        if (young[y]) {
                            young[y] = 0;
                            l_remove(&l, y);
                            l_push_head(&l, GL(max_seq), y), gen[y] = max_seq;
                        }
                        y = nx;
                    }
                }
                continue;
            }
            uint32_t y = l_tail(&l, GL(min_seq));
            l_remove(&l, y);
            if (young[y]) {
                young[y] = 0;
                l_push_head(&l, GL(max_seq), y), gen[y] = max_seq;
                continue;
            }
            res[y] = 0, used--;
        }
        res[x] = 1, young[x] = 1, used++;
        gen[x] = max_seq - 1;
        l_push_head(&l, GL(max_seq - 1), x);
    }
#undef GL
    links_free(&l);
    free(res), free(young), free(gen);
    return faults;
}

/* CLOCK-Pro (Jiang, Chen & Zhang, section 3): one circular list of hot
 * pages, resident cold pages and non-resident cold pages in their test
 * period, swept by three hands that all move the same way; new and
 * promoted pages go in just behind HAND_hot (the list head).  mc, the
 * target of resident cold pages, starts at the whole memory and adapts:
 * +1 when a page is re-referenced within its test period, -1 when a test
 * period ends unused.
 *  HAND_cold (to free a frame), at a resident cold page: referenced and in
 *   its test period -> hot; referenced, not in test -> a new test period,
 *   moved to the head; unreferenced -> evicted, kept as non-resident while
 *   in test.
 *  HAND_hot (while hot pages exceed frames - mc): a referenced hot page
 *   loses its bit, an unreferenced one becomes cold; a cold page's test
 *   period ends (a non-resident one leaves the list).
 *  HAND_test (while non-resident pages exceed the frames): ends test
 *   periods until one non-resident page has left. */
enum { CP_NONE, CP_HOT, CP_COLD, CP_NONRES };
#define CP_REF 1
#define CP_TEST 2

struct cp {
    struct links l;
    uint8_t *st, *bits;
    uint32_t S, hand_hot, hand_cold, hand_test; /* S = none / the sentinel */
    size_t nhot, ncold, nnonres, frames, mc;
};

static uint32_t cp_next(const struct cp *c, uint32_t x)
{
    uint32_t y = c->l.next[x];
    return y == c->S ? c->l.next[c->S] : y;
}

/* Take x out of the circle, moving any hand that points at it. */
static void cp_unlink(struct cp *c, uint32_t x)
{
    uint32_t nx = cp_next(c, x);
    if (nx == x)
        nx = c->S;
    if (c->hand_hot == x)
        c->hand_hot = nx;
    if (c->hand_cold == x)
        c->hand_cold = nx;
    if (c->hand_test == x)
        c->hand_test = nx;
    l_remove(&c->l, x);
}

/* Put x at the list head, just behind HAND_hot. */
static void cp_insert_head(struct cp *c, uint32_t x)
{
    if (c->hand_hot == c->S) {
        l_push_head(&c->l, c->S, x);
        c->hand_hot = c->hand_cold = c->hand_test = x;
        return;
    }
    l_insert_after(&c->l, c->l.prev[c->hand_hot], x);
}

static void cp_end_test(struct cp *c, uint32_t x)
{
    c->bits[x] &= (uint8_t)~CP_TEST;
    if (c->mc > 1)
        c->mc--;
    if (c->st[x] == CP_NONRES) {
        cp_unlink(c, x);
        c->st[x] = CP_NONE, c->nnonres--;
    }
}

static void cp_run_hot(struct cp *c)
{
    for (;;) {
        uint32_t x = c->hand_hot;
        c->hand_hot = cp_next(c, x);
        if (c->st[x] == CP_HOT) {
            if (c->bits[x] & CP_REF) {
                c->bits[x] &= (uint8_t)~CP_REF;
                continue;
            }
            c->st[x] = CP_COLD, c->bits[x] = 0, c->nhot--, c->ncold++;
            return;
        }
        if (c->bits[x] & CP_TEST)
            cp_end_test(c, x);
    }
}

static void cp_run_test(struct cp *c)
{
    for (;;) {
        uint32_t x = c->hand_test;
        c->hand_test = cp_next(c, x);
        if (c->st[x] != CP_HOT && (c->bits[x] & CP_TEST)) {
            int nonres = c->st[x] == CP_NONRES;
            cp_end_test(c, x);
            if (nonres)
                return;
        }
    }
}

static void cp_make_hot(struct cp *c, uint32_t x)
{
    c->st[x] = CP_HOT, c->bits[x] = 0, c->nhot++;
    cp_insert_head(c, x);
    while (c->nhot > c->frames - c->mc)
        cp_run_hot(c);
}

static void cp_run_cold(struct cp *c)
{
    for (;;) {
        uint32_t x = c->hand_cold;
        c->hand_cold = cp_next(c, x);
        if (c->st[x] != CP_COLD)
            continue;
        if (c->bits[x] & CP_REF) {
            cp_unlink(c, x);
            if (c->bits[x] & CP_TEST) {
                c->ncold--;
                cp_make_hot(c, x);
            } else {
                c->bits[x] = CP_TEST;
                cp_insert_head(c, x);
            }
            continue;
        }
        c->ncold--;
        if (c->bits[x] & CP_TEST) {
            c->st[x] = CP_NONRES, c->nnonres++;
            while (c->nnonres > c->frames)
                cp_run_test(c);
        } else {
            cp_unlink(c, x);
            c->st[x] = CP_NONE;
        }
        return;
    }
}

int64_t sim_clock_pro(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    struct cp c = {.S = m, .hand_hot = m, .hand_cold = m, .hand_test = m,
                   .frames = frames, .mc = frames};
    int64_t faults = 0;

    c.st = calloc(m, 1), c.bits = calloc(m, 1);
    if (!c.st || !c.bits || links_init(&c.l, m, 1)) {
        free(c.st), free(c.bits);
        return SIM_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        if (c.st[x] == CP_HOT || c.st[x] == CP_COLD) {
            c.bits[x] |= CP_REF;
            continue;
        }
        faults++;
        while (c.nhot + c.ncold >= frames)
            cp_run_cold(&c);
        if (c.st[x] == CP_NONRES) { /* re-referenced in its test period */
            cp_unlink(&c, x);
            c.nnonres--;
            c.mc = MIN(frames, c.mc + 1);
            cp_make_hot(&c, x);
        } else {
            c.st[x] = CP_COLD, c.bits[x] = CP_TEST, c.ncold++;
            cp_insert_head(&c, x);
        }
    }
    links_free(&c.l);
    free(c.st), free(c.bits);
    return faults;
}
