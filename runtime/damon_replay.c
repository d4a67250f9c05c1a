/* The replay backend's synthetic oracle: address ranges, each accessed
 * with a probability per sample (1 = always), optionally only within a
 * window of virtual time.  Seeded, so every run gives the same answers. */
#include "vmlab/damon.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A pattern active this sample, as the hot loop wants it: a flat array
 * entry (no pointer to chase), [start, start + last] so that one unsigned
 * compare tests the range; it draws when p < 1, and a draw hits when its
 * top 53 bits are below `below`; else it always hits (p = 1). */
struct active {
    uint64_t start, last;
    uint64_t below;
    uint32_t draws, always;
};

/* Ends the active list: what an address outside them all gets (no hit,
 * no draw). */
static const struct active outside = {0, UINT64_MAX, 0, 0, 0};

struct pattern {
    struct vmlab_damon_pattern *v;
    size_t n;
    struct vmlab_rng rng;
    struct active *act;   /* room for n + 1: the patterns active this sample */
};

/* The draw u (53 bits) hits when u * 2^-53 < p, as a double.  Both sides
 * are exact (a power-of-two scale), so that is u < p * 2^53, and for an
 * integer u, u < ceil(p * 2^53).  p < 0 or NaN: never. */
static uint64_t draws_below(double p)
{
    double t = ceil(p * 9007199254740992.0);
    return t > 0 ? (uint64_t)t : 0;
}

static struct active make_active(const struct vmlab_damon_pattern *x)
{
    struct active a = {x->start, x->end - x->start - 1, 0, 0, 0};

    if (x->p >= 1.0) {
        a.always = 1;
    } else {
        a.draws = 1;
        a.below = draws_below(x->p);
    }
    return a;
}

/* The time windows change per sample, not per region: filter once.
 * *disjoint says whether they sort into
 * non-overlapping ranges (then sorted by start), where the first holding
 * an address is the only one and a cursor finds it. */
static void active_patterns(const struct pattern *p, uint64_t now, int *disjoint)
{
    size_t na = 0;

    for (size_t i = 0; i < p->n; i++) {
        const struct vmlab_damon_pattern *x = &p->v[i];
        if (x->end > x->start && now >= x->from_us && (!x->until_us || now < x->until_us))
            p->act[na++] = make_active(x);
    }
    p->act[na] = outside;
    *disjoint = 1;
    for (size_t i = 1; i < na && *disjoint; i++)
        if (p->act[i].start <= p->act[i - 1].start + p->act[i - 1].last)
            *disjoint = 0;   /* unsorted or overlapping: keep list order */
}

/* Whether a sample hits the pattern that holds it (the end mark: none),
 * drawing unless its p is 1. */
static inline uint32_t hit(const struct active *a, struct vmlab_rng *rng)
{
    if (!a->draws)
        return a->always;
    return (vmlab_rng_next(rng) >> 11) < a->below;
}

/* Any order: the first active pattern holding addr decides (the end mark
 * holds every address and never hits). */
static inline const struct active *first_holding(const struct active *a, uint64_t addr)
{
    while (addr - a->start > a->last)   /* below start wraps: outside too */
        a++;
    return a;
}

/* Sorted and disjoint: regions are sorted too and each sample lies in its
 * region, so a cursor that only moves forward finds the pattern; its
 * bounds stay in locals, as most regions lie in the same pattern (or gap)
 * as the one before. */
static inline __attribute__((always_inline)) uint32_t cursor_hit(const struct active **cur, uint64_t *lo,
                                                                 uint64_t *hi, uint64_t addr,
                                                                 struct vmlab_rng *rng)
{
    if (__builtin_expect(addr > *hi, 0)) {
        const struct active *a = *cur;
        while (addr > a->start + a->last)   /* past it (never past the end mark) */
            a++;
        *cur = a;
        *lo = a->start;
        *hi = a->start + a->last;
    }
    return addr >= *lo ? hit(*cur, rng) : 0;
}

/* Check every region's sample; with pick, also choose its next sample in
 * the same pass (the two draw from different streams, p->rng and d->rng,
 * each still in region order). */
static inline __attribute__((always_inline)) void check_regions(struct vmlab_damon *d, int pick)
{
    struct pattern *p = d->backend;
    const struct active *act = p->act;
    struct vmlab_rng rng = p->rng, pick_rng = d->rng;   /* local copies stay in registers */
    uint64_t page = d->page;
    int disjoint;

    active_patterns(p, d->now_us, &disjoint);
    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_region *v = d->targets[t].regions.v;
        size_t n = d->targets[t].regions.n;
        const struct active *cur = act;
        uint64_t lo = act->start, hi = act->start + act->last;
        for (size_t i = 0; i < n; i++) {
            uint64_t addr = v[i].sampling_addr;
            v[i].nr_accesses += disjoint ? cursor_hit(&cur, &lo, &hi, addr, &rng)
                                         : hit(first_holding(act, addr), &rng);
            if (pick)
                v[i].sampling_addr = vmlab_damon_pick_sample(&v[i], &pick_rng, page);
        }
    }
    p->rng = rng;
    if (pick)
        d->rng = pick_rng;
}

static void pattern_check(struct vmlab_damon *d)
{
    check_regions(d, 0);
}

static void pattern_check_and_pick(struct vmlab_damon *d)
{
    check_regions(d, 1);
}

static void pattern_cleanup(struct vmlab_damon *d)
{
    struct pattern *p = d->backend;
    if (p) {
        free(p->v);
        free(p->act);
        free(p);
    }
    d->backend = NULL;
}

const struct vmlab_damon_ops vmlab_damon_pattern_ops = {
    .name = "replay",
    .caps = VMLAB_DAMON_CAP_STEP | VMLAB_DAMON_CAP_HOOKS,
    .check = pattern_check,
    .check_and_pick = pattern_check_and_pick,
    .cleanup = pattern_cleanup,
};

int vmlab_damon_pattern_attach(struct vmlab_damon *d, const struct vmlab_damon_pattern *v,
                               size_t n, uint64_t seed)
{
    struct pattern *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->v = malloc((n + 1) * sizeof *v);
    p->act = malloc((n + 1) * sizeof *p->act);   /* and the end mark */
    if (!p->v || !p->act) {
        free(p->v);
        free(p->act);
        free(p);
        return -ENOMEM;
    }
    memcpy(p->v, v, n * sizeof *v);
    p->n = n;
    p->rng.s = seed * 0x2545f4914f6cdd1dULL + 1;
    d->backend = p;
    d->ops = &vmlab_damon_pattern_ops;
    return 0;
}

/* ---- an oracle function answers (the Lua binding's, or a C caller's) ---- */

struct oracle {
    vmlab_damon_oracle_fn fn;
    void *ctx;
};

static void oracle_check(struct vmlab_damon *d)
{
    struct oracle *o = d->backend;

    for (size_t t = 0; t < d->nr_targets && !d->halted; t++) {
        struct vmlab_regions *rs = &d->targets[t].regions;
        for (size_t i = 0; i < rs->n; i++) {
            int r = o->fn(o->ctx, rs->v[i].sampling_addr, d->now_us);
            if (r < 0 || d->free_pending) {   /* failed, or freed its monitor */
                d->halted = r < 0;
                return;
            }
            rs->v[i].nr_accesses += r > 0;
        }
    }
}

static void oracle_cleanup(struct vmlab_damon *d)
{
    free(d->backend);
    d->backend = NULL;
}

const struct vmlab_damon_ops vmlab_damon_oracle_ops = {
    .name = "replay",
    .caps = VMLAB_DAMON_CAP_STEP | VMLAB_DAMON_CAP_HOOKS,
    .check = oracle_check,
    .cleanup = oracle_cleanup,
};

int vmlab_damon_oracle_attach(struct vmlab_damon *d, vmlab_damon_oracle_fn fn, void *ctx)
{
    struct oracle *o = calloc(1, sizeof *o);
    if (!o)
        return -ENOMEM;
    o->fn = fn;
    o->ctx = ctx;
    d->backend = o;
    d->ops = &vmlab_damon_oracle_ops;
    return 0;
}
