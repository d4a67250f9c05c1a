/* The monitor's loop, step by step as the kernel's kdamond_fn: check the
 * sampled pages, count, aggregate (merge, report, reset, split), update
 * the target ranges, and pick the next samples. */
#include "vmlab/damon.h"
#include "vmlab/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void vmlab_damon_default_attrs(struct vmlab_damon_attrs *a)
{
    a->sample_us = 5000;
    a->aggr_us = 100000;
    a->update_us = 1000000;
    a->min_nr_regions = 10;
    a->max_nr_regions = 1000;
}

const char *vmlab_damon_check_attrs(const struct vmlab_damon_attrs *a)
{
    if (a->min_nr_regions < 3)
        return "min_regions must be at least 3";
    if (a->min_nr_regions > a->max_nr_regions)
        return "min_regions must not exceed max_regions";
    if (a->sample_us == 0)
        return "the sample interval must be above zero";
    if (a->sample_us > a->aggr_us)
        return "the sample interval must not exceed the aggregation interval";
    if (a->aggr_us > a->update_us && a->update_us)
        return "the aggregation interval must not exceed the update interval";
    return NULL;
}

unsigned vmlab_damon_nr_regions(const struct vmlab_damon *d)
{
    unsigned n = 0;
    for (size_t t = 0; t < d->nr_targets; t++)
        n += (unsigned)d->targets[t].regions.n;
    return n;
}

/* The biggest a merged region may get: total size / min_nr_regions. */
static uint64_t region_sz_limit(const struct vmlab_damon *d)
{
    uint64_t sz = 0;
    for (size_t t = 0; t < d->nr_targets; t++)
        sz += vmlab_regions_size(&d->targets[t].regions);
    if (d->attrs.min_nr_regions)
        sz /= d->attrs.min_nr_regions;
    return sz < d->page ? d->page : sz;
}

static uint32_t max_nr_accesses(const struct vmlab_damon *d)
{
    return (uint32_t)(d->attrs.aggr_us / (d->attrs.sample_us ? d->attrs.sample_us : 1));
}

/* Fit target t's regions to ranges, splitting a fresh target evenly. */
static int apply_ranges(struct vmlab_damon *d, size_t t, const struct vmlab_range *g, size_t n)
{
    struct vmlab_regions *rs = &d->targets[t].regions;
    int fresh = rs->n == 0, e;

    if ((e = vmlab_damon_set_regions(rs, g, n, d->page)) < 0)
        return e;
    if (fresh) {
        uint64_t total = 0, sz;
        for (size_t i = 0; i < n; i++)
            total += g[i].end - g[i].start;
        sz = total / (d->attrs.min_nr_regions ? d->attrs.min_nr_regions : 1);
        if (sz < d->page)
            sz = d->page;
        for (size_t i = rs->n; i-- > 0;) {
            uint64_t pieces = vmlab_region_size(&rs->v[i]) / sz;
            if (pieces > 1)
                vmlab_damon_split_evenly(rs, i, pieces, d->page);
        }
    }
    return 0;
}

static int update_ranges(struct vmlab_damon *d)
{
    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_damon_target *tg = &d->targets[t];
        struct vmlab_range *g = tg->ranges;
        size_t n = tg->nr_ranges;
        int e;
        if (!g) {
            if (!d->ops->ranges)
                return -EINVAL;
            if ((e = d->ops->ranges(d, t, &g, &n)) < 0)
                return e;
        }
        e = apply_ranges(d, t, g, n);
        if (g != tg->ranges)
            free(g);
        if (e < 0)
            return e;
    }
    d->stats.updates++;
    return 0;
}

int vmlab_damon_add_target(struct vmlab_damon *d)
{
    struct vmlab_damon_target *v = realloc(d->targets, (d->nr_targets + 1) * sizeof *v);
    struct vmlab_range *g = NULL;
    size_t t = d->nr_targets, n = 0;

    if (!v)
        return -ENOMEM;
    d->targets = v;
    memset(&v[t], 0, sizeof v[t]);
    d->nr_targets++;
    /* its regions now, split evenly (else it waits for the next update) */
    if (d->ops->ranges && d->ops->ranges(d, t, &g, &n) == 0) {
        apply_ranges(d, t, g, n);
        free(g);
    }
    return (int)t;
}

/* Pick the page each region samples next (page aligned, in the region). */
static void pick_samples(struct vmlab_damon *d)
{
    struct vmlab_rng rng = d->rng;   /* a local copy the compiler keeps in registers */
    uint64_t page = d->page;

    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_region *v = d->targets[t].regions.v;
        size_t n = d->targets[t].regions.n;
        for (size_t i = 0; i < n; i++)
            v[i].sampling_addr = vmlab_damon_pick_sample(&v[i], &rng, page);
    }
    d->rng = rng;
}

int vmlab_damon_init(struct vmlab_damon *d)
{
    int e;

    if (vmlab_damon_check_attrs(&d->attrs))
        return -EINVAL;
    if (!d->page)
        d->page = vmlab_pagesize();
    if (d->ops->init && (e = d->ops->init(d)) < 0)
        return e;
    if ((e = update_ranges(d)) < 0)
        return e;
    d->stats.effective_sample_us = d->attrs.sample_us;
    d->aggr_start_us = d->first_aggr_start_us = d->now_us;
    d->last = d->overall = (struct vmlab_damon_intervals){d->attrs.sample_us, d->attrs.aggr_us,
                                                          d->attrs.update_us};
    d->next_aggr_us = d->now_us + d->attrs.aggr_us;
    d->next_update_us = d->now_us + d->attrs.update_us;
    pick_samples(d);
    if (d->ops->prepare)
        d->ops->prepare(d);
    return 0;
}

/* kdamond_merge_regions: raise the threshold while there are too many. */
static void merge_regions(struct vmlab_damon *d)
{
    unsigned thres = max_nr_accesses(d) / 10, max_thres = max_nr_accesses(d), nr;
    uint64_t limit = region_sz_limit(d);

    do {
        nr = 0;
        for (size_t t = 0; t < d->nr_targets; t++) {
            vmlab_damon_merge_regions_of(&d->targets[t].regions, thres, limit);
            nr += (unsigned)d->targets[t].regions.n;
        }
        thres = thres ? thres * 2 : 1;
    } while (nr > d->attrs.max_nr_regions && thres / 2 < max_thres);
}

static void reset_aggregated(struct vmlab_damon *d)
{
    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_regions *rs = &d->targets[t].regions;
        for (size_t i = 0; i < rs->n; i++) {
            rs->v[i].last_nr_accesses = rs->v[i].nr_accesses;
            rs->v[i].nr_accesses = 0;
        }
    }
}

/* kdamond_split_regions: two pieces, three when the count is stuck low. */
static void split_regions(struct vmlab_damon *d)
{
    unsigned nr = vmlab_damon_nr_regions(d);
    int subs = 2;

    if (nr > d->attrs.max_nr_regions / 2)
        return;
    if (d->last_nr_regions == nr && nr < d->attrs.max_nr_regions / 3)
        subs = 3;
    for (size_t t = 0; t < d->nr_targets; t++)
        vmlab_damon_split_regions_of(&d->targets[t].regions, subs, d->page, &d->rng);
    d->last_nr_regions = nr;
}

/* The intervals this aggregation ran at: the samples it counted over the
 * time it spanned (the budget may have stretched the sample interval). */
static void measure_intervals(struct vmlab_damon *d)
{
    uint64_t span = d->now_us - d->aggr_start_us, n = d->aggr_samples ? d->aggr_samples : 1;

    d->last.sample_us = (span + n / 2) / n;
    d->last.aggr_us = span ? span : d->attrs.aggr_us;
    d->last.update_us = d->attrs.update_us;
    d->aggr_samples_total += d->aggr_samples;
    n = d->aggr_samples_total ? d->aggr_samples_total : 1;
    d->overall.sample_us = (d->now_us - d->first_aggr_start_us + n / 2) / n;
    d->overall.aggr_us = d->attrs.aggr_us;
    d->overall.update_us = d->attrs.update_us;
    d->aggr_start_us = d->now_us;
    d->aggr_samples = 0;
    if (d->note_state == 0 && d->budget > 0 && d->last.sample_us * 5 > d->attrs.sample_us * 6) {
        snprintf(d->note, sizeof d->note,
                 "damon %s monitor: the budget (%g%% of a CPU) stretches the sample interval from "
                 "%llu us to %llu us (%llu samples per %llu us aggregation); snapshots, records and "
                 "stats carry the intervals as they ran",
                 d->ops && d->ops->name ? d->ops->name : "", d->budget * 100,
                 (unsigned long long)d->attrs.sample_us, (unsigned long long)d->last.sample_us,
                 (unsigned long long)(d->last.aggr_us / (d->last.sample_us ? d->last.sample_us : 1)),
                 (unsigned long long)d->attrs.aggr_us);
        d->note_state = 1;
    }
}

void vmlab_damon_run_hooks(struct vmlab_damon *d)
{
    size_t n;

    d->hooks_running++;
    for (size_t i = 0; i < d->nr_hooks; i++)
        if (d->hooks[i].fn)
            d->hooks[i].fn(d, d->now_us, d->hooks[i].ctx);
    d->hooks_running--;
    /* compact what was removed while they ran */
    n = 0;
    for (size_t i = 0; i < d->nr_hooks; i++)
        if (d->hooks[i].fn)
            d->hooks[n++] = d->hooks[i];
    d->nr_hooks = n;
}

static void aggregate(struct vmlab_damon *d)
{
    merge_regions(d);
    measure_intervals(d);
    if (d->on_aggr)
        d->on_aggr(d, d->now_us, d->on_aggr_ctx);
    vmlab_damon_run_hooks(d);
    reset_aggregated(d);
    split_regions(d);
    d->stats.aggregations++;
}

int vmlab_damon_add_hook(struct vmlab_damon *d, const struct vmlab_damon_hook *h)
{
    int e = 0;

    if (d->ops && !(d->ops->caps & VMLAB_DAMON_CAP_HOOKS))
        return -ENOTSUP;
    vmlab_damon_lock(d);
    if (d->nr_hooks >= VMLAB_DAMON_MAX_HOOKS)
        e = -ENOSPC;
    else
        d->hooks[d->nr_hooks++] = *h;
    vmlab_damon_unlock(d);
    return e;
}

int vmlab_damon_add_aggr_hook(struct vmlab_damon *d, vmlab_damon_aggr_fn fn, void *ctx)
{
    struct vmlab_damon_hook h = {fn, NULL, ctx};
    return vmlab_damon_add_hook(d, &h);
}

void vmlab_damon_del_aggr_hook(struct vmlab_damon *d, vmlab_damon_aggr_fn fn, void *ctx)
{
    vmlab_damon_lock(d);
    for (size_t i = 0; i < d->nr_hooks; i++)
        if (d->hooks[i].fn == fn && d->hooks[i].ctx == ctx) {
            if (d->hooks_running) {       /* removed from inside a hook: skip it */
                d->hooks[i].fn = NULL;
                d->hooks[i].ctx = NULL;
            } else {
                memmove(&d->hooks[i], &d->hooks[i + 1], (d->nr_hooks - i - 1) * sizeof d->hooks[i]);
                d->nr_hooks--;
            }
            break;
        }
    vmlab_damon_unlock(d);
}

static int aggregation_due(const struct vmlab_damon *d, uint64_t now)
{
    return now >= d->next_aggr_us;
}

static int update_due(const struct vmlab_damon *d, uint64_t now)
{
    return d->attrs.update_us && now >= d->next_update_us;
}

/* Whether the backend may check and pick in one pass this sample: only
 * when the regions stay as they are from the check to the pick. */
static int can_fuse(const struct vmlab_damon *d, uint64_t next_us)
{
    return d->ops->check_and_pick && !aggregation_due(d, next_us) && !update_due(d, next_us);
}

void vmlab_damon_sample(struct vmlab_damon *d)
{
    uint64_t next_us = d->now_us +
        (d->stats.effective_sample_us ? d->stats.effective_sample_us : d->attrs.sample_us);
    int fused = can_fuse(d, next_us);

    if (fused)
        d->ops->check_and_pick(d);
    else if (d->ops->check)
        d->ops->check(d);
    d->stats.samples++;
    d->aggr_samples++;
    d->now_us = next_us;
    if (aggregation_due(d, d->now_us)) {
        aggregate(d);
        d->next_aggr_us += d->attrs.aggr_us;
        if (d->next_aggr_us <= d->now_us)
            d->next_aggr_us = d->now_us + d->attrs.aggr_us;
    }
    if (update_due(d, d->now_us)) {
        update_ranges(d);
        d->next_update_us = d->now_us + d->attrs.update_us;
    }
    if (!fused)
        pick_samples(d);
    if (d->ops->prepare)
        d->ops->prepare(d);
}

void vmlab_damon_destroy(struct vmlab_damon *d)
{
    if (d->ops && d->ops->cleanup)
        d->ops->cleanup(d);
    for (size_t t = 0; d->targets && t < d->nr_targets; t++) {
        vmlab_regions_free(&d->targets[t].regions);
        free(d->targets[t].ranges);
    }
    free(d->targets);
    d->targets = NULL;
    d->nr_targets = 0;
}
