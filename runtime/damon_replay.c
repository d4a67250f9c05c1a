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

/* Whether addr is accessed, among the patterns active this sample. */
static int accessed(const struct vmlab_damon_pattern *const *act, size_t n, struct vmlab_rng *rng,
                    uint64_t addr)
{
    for (size_t i = 0; i < n; i++) {
        const struct vmlab_damon_pattern *x = act[i];
        if (addr < x->start || addr >= x->end)
            continue;
        if (x->p >= 1.0)
            return 1;
        return (double)(vmlab_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0) < x->p;
    }
    return 0;
}

static void pattern_check(struct vmlab_damon *d)
{
    struct pattern *p = d->backend;
    const struct vmlab_damon_pattern *stack[16], **act = stack;
    size_t na = 0;
    uint64_t now = d->now_us;
    struct vmlab_rng rng = p->rng;

    /* The time windows change per sample, not per region: filter once. */
    if (p->n > 16 && !(act = malloc(p->n * sizeof *act)))
        act = stack;   /* out of memory: look at the first 16 only */
    for (size_t i = 0; i < p->n && (act != stack || na < 16); i++)
        if (now >= p->v[i].from_us && (!p->v[i].until_us || now < p->v[i].until_us))
            act[na++] = &p->v[i];
    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_region *v = d->targets[t].regions.v;
        size_t n = d->targets[t].regions.n;
        for (size_t i = 0; i < n; i++)
            v[i].nr_accesses += (uint32_t)accessed(act, na, &rng, v[i].sampling_addr);
    }
    p->rng = rng;
    if (act != stack)
        free(act);
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
