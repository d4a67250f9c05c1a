/* The replay backend's synthetic oracle: address ranges, each accessed
 * with a probability per sample (1 = always), optionally only within a
 * window of virtual time.  Seeded, so every run gives the same answers. */
#include "vmlab/damon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pattern {
    struct vmlab_damon_pattern *v;
    size_t n;
    struct vmlab_rng rng;
};

static int accessed(struct pattern *p, uint64_t addr, uint64_t now)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct vmlab_damon_pattern *x = &p->v[i];
        if (addr < x->start || addr >= x->end)
            continue;
        if (now < x->from_us || (x->until_us && now >= x->until_us))
            continue;
        if (x->p >= 1.0)
            return 1;
        return (double)(vmlab_rng_next(&p->rng) >> 11) * (1.0 / 9007199254740992.0) < x->p;
    }
    return 0;
}

static void pattern_check(struct vmlab_damon *d)
{
    struct pattern *p = d->backend;
    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_regions *rs = &d->targets[t].regions;
        for (size_t i = 0; i < rs->n; i++)
            rs->v[i].nr_accesses += (uint32_t)accessed(p, rs->v[i].sampling_addr, d->now_us);
    }
}

static void pattern_cleanup(struct vmlab_damon *d)
{
    struct pattern *p = d->backend;
    if (p) {
        free(p->v);
        free(p);
    }
    d->backend = NULL;
}

const struct vmlab_damon_ops vmlab_damon_pattern_ops = {
    .name = "replay",
    .check = pattern_check,
    .cleanup = pattern_cleanup,
};

int vmlab_damon_pattern_attach(struct vmlab_damon *d, const struct vmlab_damon_pattern *v,
                               size_t n, uint64_t seed)
{
    struct pattern *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->v = malloc((n + 1) * sizeof *v);
    if (!p->v) {
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
