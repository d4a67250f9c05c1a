/* The replay backend's synthetic oracle: address ranges, each accessed
 * with a probability per sample (1 = always), optionally only within a
 * window of virtual time.  Seeded, so every run gives the same answers. */
#include "vmlab/damon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A pattern active this sample, as the hot loop wants it: a flat array
 * entry (no pointer to chase) and [start, start + size) so that one
 * unsigned compare tests the range. */
struct active {
    uint64_t start, size;
    double p;
};

struct pattern {
    struct vmlab_damon_pattern *v;
    size_t n;
    struct vmlab_rng rng;
    struct active *act;   /* room for n: the patterns active this sample */
};

/* The time windows change per sample, not per region: filter once. */
static size_t active_patterns(const struct pattern *p, uint64_t now)
{
    size_t na = 0;

    for (size_t i = 0; i < p->n; i++) {
        const struct vmlab_damon_pattern *x = &p->v[i];
        if (now >= x->from_us && (!x->until_us || now < x->until_us))
            p->act[na++] = (struct active){x->start, x->end > x->start ? x->end - x->start : 0, x->p};
    }
    return na;
}

/* Whether addr is accessed: the first active pattern holding it decides,
 * drawing from rng unless its p is 1. */
static inline int accessed(const struct active *act, size_t n, struct vmlab_rng *rng, uint64_t addr)
{
    for (size_t i = 0; i < n; i++) {
        if (addr - act[i].start >= act[i].size)   /* below start wraps: outside too */
            continue;
        if (act[i].p >= 1.0)
            return 1;
        return (double)(vmlab_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0) < act[i].p;
    }
    return 0;
}

/* Check every region's sample; with pick, also choose its next sample in
 * the same pass (the two draw from different streams, p->rng and d->rng,
 * each still in region order). */
static inline void check_regions(struct vmlab_damon *d, int pick)
{
    struct pattern *p = d->backend;
    size_t na = active_patterns(p, d->now_us);
    const struct active *act = p->act;
    struct vmlab_rng rng = p->rng, pick_rng = d->rng;   /* local copies stay in registers */

    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_region *v = d->targets[t].regions.v;
        size_t n = d->targets[t].regions.n;
        for (size_t i = 0; i < n; i++) {
            v[i].nr_accesses += (uint32_t)accessed(act, na, &rng, v[i].sampling_addr);
            if (pick)
                v[i].sampling_addr = vmlab_damon_pick_sample(&v[i], &pick_rng);
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
    p->act = malloc((n + 1) * sizeof *p->act);
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
