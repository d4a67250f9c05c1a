/* The DAMON engine from C, without Lua: the region algorithms against the
 * kernel's kunit results, and a pattern-driven monitor whose aggregation
 * hooks (the DAMOS attachment point) see the regions before the reset. */
#include "vmlab/damon.h"
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void test_merge_two(void)
{
    struct vmlab_regions rs = {0};
    vmlab_regions_push(&rs, 0, 100);
    vmlab_regions_push(&rs, 100, 300);
    rs.v[0].nr_accesses = 10, rs.v[0].age = 9;
    rs.v[1].nr_accesses = 20, rs.v[1].age = 21;
    vmlab_damon_merge_two(&rs, 0);
    is_int((int)rs.n, 1, "merge_two leaves one region");
    ok(rs.v[0].start == 0 && rs.v[0].end == 300, "merged region is [0, 300)");
    is_int(rs.v[0].nr_accesses, 16, "nr_accesses size-weighted");
    is_int(rs.v[0].age, 17, "age size-weighted");
    vmlab_regions_free(&rs);
}

static void test_three_regions(void)
{
    const struct vmlab_range vmas[] = {{10, 20}, {20, 25}, {200, 210}, {210, 220}, {300, 305}, {307, 330}};
    struct vmlab_range out[3];
    is_int(vmlab_damon_three_regions(vmas, 6, out), 0, "three regions found");
    ok(out[0].start == 10 && out[0].end == 25 && out[1].start == 200 && out[1].end == 220 &&
       out[2].start == 300 && out[2].end == 330, "three regions are [10,25) [200,220) [300,330)");
    is_int(vmlab_damon_three_regions(vmas, 1, out), -EINVAL, "one VMA has no two gaps");
}

static void test_split(void)
{
    struct vmlab_regions rs = {0};
    struct vmlab_rng rng = {1};
    vmlab_regions_push(&rs, 0, 1000);
    is_int(vmlab_damon_split_evenly(&rs, 0, 4, 1), 0, "split evenly in 4");
    ok(rs.n == 4 && rs.v[1].start == 250 && rs.v[3].end == 1000, "pieces of 250");
    is_int(vmlab_damon_split_evenly(&rs, 0, 300, 1), -EINVAL, "pieces under min_sz refused");
    vmlab_damon_split_regions_of(&rs, 2, 1, &rng);
    int sorted = 1;
    for (size_t i = 0; i < rs.n; i++)
        sorted &= rs.v[i].start < rs.v[i].end && (i == 0 || rs.v[i - 1].end == rs.v[i].start);
    ok(rs.n > 4 && rs.n <= 8 && sorted, "random split keeps regions contiguous (%zu)", rs.n);
    vmlab_regions_free(&rs);
}

struct seen {
    int calls;
    uint32_t max_acc;
};

static void hook(struct vmlab_damon *d, uint64_t time_us, void *ctx)
{
    struct seen *s = ctx;
    (void)time_us;
    s->calls++;
    for (size_t i = 0; i < d->targets[0].regions.n; i++)
        if (d->targets[0].regions.v[i].nr_accesses > s->max_acc)
            s->max_acc = d->targets[0].regions.v[i].nr_accesses;
}

static void test_monitor_hooks(void)
{
    struct vmlab_damon d;
    struct seen a = {0}, b = {0};
    const uint64_t base = 1ULL << 32, size = 256ULL << 20;
    struct vmlab_damon_pattern p = {.start = base, .end = base + size / 10, .p = 1.0};

    memset(&d, 0, sizeof d);
    vmlab_damon_default_attrs(&d.attrs);
    d.rng.s = 5;
    d.targets = calloc(1, sizeof *d.targets);
    d.targets[0].ranges = malloc(sizeof *d.targets[0].ranges);
    d.targets[0].ranges[0] = (struct vmlab_range){base, base + size};
    d.targets[0].nr_ranges = 1;
    d.nr_targets = 1;
    is_int(vmlab_damon_pattern_attach(&d, &p, 1, 5), 0, "pattern backend attached");
    is_int(vmlab_damon_init(&d), 0, "monitor initialised");
    is_int(vmlab_damon_add_aggr_hook(&d, hook, &a), 0, "hook a added");
    is_int(vmlab_damon_add_aggr_hook(&d, hook, &b), 0, "hook b added");
    for (int i = 0; i < 40; i++)
        vmlab_damon_sample(&d);
    is_int(a.calls, 2, "hook called once per aggregation");
    is_int((int)a.max_acc, 20, "hook sees counts before the reset (20 of 20 samples hot)");
    vmlab_damon_del_aggr_hook(&d, hook, &a);
    for (int i = 0; i < 20; i++)
        vmlab_damon_sample(&d);
    is_int(a.calls, 2, "removed hook no longer called");
    is_int(b.calls, 3, "other hook still called");
    for (int i = (int)d.nr_hooks; i < VMLAB_DAMON_MAX_HOOKS; i++)
        vmlab_damon_add_aggr_hook(&d, hook, &a);
    is_int(vmlab_damon_add_aggr_hook(&d, hook, &a), -ENOSPC, "hook table full: -ENOSPC");
    vmlab_damon_destroy(&d);
}

static void test_attrs(void)
{
    struct vmlab_damon_attrs a;
    vmlab_damon_default_attrs(&a);
    ok(a.sample_us == 5000 && a.aggr_us == 100000 && a.update_us == 1000000 &&
       a.min_nr_regions == 10 && a.max_nr_regions == 1000, "kernel defaults");
    ok(vmlab_damon_check_attrs(&a) == NULL, "defaults accepted");
    a.min_nr_regions = 2;
    ok(vmlab_damon_check_attrs(&a) != NULL, "min < 3 rejected");
    a.min_nr_regions = 2000;
    ok(vmlab_damon_check_attrs(&a) != NULL, "min > max rejected");
    vmlab_damon_default_attrs(&a);
    a.sample_us = a.aggr_us + 1;
    ok(vmlab_damon_check_attrs(&a) != NULL, "sample > aggr rejected");
}

int main(void)
{
    test_merge_two();
    test_three_regions();
    test_split();
    test_attrs();
    test_monitor_hooks();
    return tap_done();
}
