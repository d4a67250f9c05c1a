/* The DAMON engine from C, without Lua: the region algorithms against the
 * kernel's kunit results, and a pattern-driven monitor whose aggregation
 * hooks (the DAMOS attachment point) see the regions before the reset. */
#include "vmlab/damon.h"
#include "vmlab/record.h"
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    {
        struct vmlab_regions e = {0};
        vmlab_regions_push(&e, 0, 3);
        is_int(vmlab_damon_split_evenly(&e, 0, 2, 1), 0, "0-3 in 2");
        ok(e.n == 2 && e.v[0].end == 1 && e.v[1].start == 1 && e.v[1].end == 3,
           "exactly two pieces, the last taking the rest: [0,1) [1,3)");
        vmlab_regions_free(&e);
    }
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

/* A monitor from the constructor: one range, a pattern with the first
 * tenth always hot. */
static struct vmlab_damon *pattern_monitor(uint64_t base, uint64_t size, const char *record)
{
    struct vmlab_damon_pattern p = {.start = base, .end = base + size / 10, .p = 1.0};
    struct vmlab_range range = {base, base + size};
    struct vmlab_damon_opts o = {.backend = VMLAB_DAMON_REPLAY, .seed = 5, .ranges = &range,
                                 .nr_targets = 1, .pattern = &p, .nr_pattern = 1,
                                 .record = record, .record_format = VMLAB_REC_JSON};
    char why[256];
    int e;
    struct vmlab_damon *d;

    vmlab_damon_default_attrs(&o.attrs);
    d = vmlab_damon_new(&o, &e, why, sizeof why);
    if (!d)
        tap_diag(why);
    (void)e;
    return d;
}

static void test_monitor_hooks(void)
{
    struct seen a = {0}, b = {0};
    const uint64_t base = 1ULL << 32, size = 256ULL << 20;
    struct vmlab_damon *d = pattern_monitor(base, size, NULL);

    ok(d != NULL, "monitor from vmlab_damon_new");
    if (!d)
        return;
    is_int((int)vmlab_damon_nr_regions(d), 10, "split evenly into min_regions");
    is_int(vmlab_damon_add_aggr_hook(d, hook, &a), 0, "hook a added");
    is_int(vmlab_damon_add_aggr_hook(d, hook, &b), 0, "hook b added");
    is_int((int)vmlab_damon_step(d, 40, 0), 2, "40 samples: two aggregations");
    is_int(a.calls, 2, "hook called once per aggregation");
    is_int((int)a.max_acc, 20, "hook sees counts before the reset (20 of 20 samples hot)");
    vmlab_damon_del_aggr_hook(d, hook, &a);
    vmlab_damon_step(d, 20, 0);
    is_int(a.calls, 2, "removed hook no longer called");
    is_int(b.calls, 3, "other hook still called");
    ok(d->last.sample_us == 5000 && d->last.aggr_us == 100000, "intervals as they ran: 5 ms, 100 ms");
    for (int i = (int)d->nr_hooks; i < VMLAB_DAMON_MAX_HOOKS; i++)
        vmlab_damon_add_aggr_hook(d, hook, &a);
    is_int(vmlab_damon_add_aggr_hook(d, hook, &a), -ENOSPC, "hook table full: -ENOSPC");
    char why[128];
    is_int(vmlab_damon_start(d, why, sizeof why), -ENOTSUP, "a replay monitor is not started (%s)", why);
    vmlab_damon_free(d);
}

/* Freed from inside its own hook: the free waits for step to return. */
static void freeing_hook(struct vmlab_damon *d, uint64_t time_us, void *ctx)
{
    (void)time_us;
    ++*(int *)ctx;
    is_int((int)vmlab_damon_step(d, 1, 0), -EBUSY, "step from a hook: -EBUSY");
    vmlab_damon_free(d);
}

static void test_free_in_hook(void)
{
    struct vmlab_damon *d = pattern_monitor(1ULL << 32, 64ULL << 20, NULL);
    int calls = 0;

    if (!d)
        return;
    vmlab_damon_add_aggr_hook(d, freeing_hook, &calls);
    is_int((int)vmlab_damon_step(d, 100, 0), -EBADF, "step returns -EBADF: freed by its hook");
    is_int(calls, 1, "and stopped at that aggregation");
}

/* Recording from C: every aggregation in the file, finished by free. */
static void test_record(void)
{
    char path[] = "/tmp/vmlab-damon-rec-XXXXXX";
    int fd = mkstemp(path);
    struct vmlab_damon *d = pattern_monitor(1ULL << 32, 64ULL << 20, path);
    struct vmlab_records r;
    char err[256];

    close(fd);
    ok(d != NULL, "a recording monitor");
    if (!d)
        return;
    vmlab_damon_step(d, 20 * 7, 0);
    is_int((int)vmlab_damon_record_count(d), 7, "seven aggregations written");
    vmlab_damon_free(d);
    is_int(vmlab_records_read(path, &r, err, sizeof err), 0, "the record reads back (%s)", err);
    ok(r.n == 1 && r.targets[0].n == 7, "with the seven snapshots");
    ok(r.sample_us == 5000 && r.aggr_us == 100000, "and the intervals as they ran");
    vmlab_records_free(&r);
    unlink(path);
    struct vmlab_range range = {1ULL << 32, (1ULL << 32) + (64 << 20)};
    struct vmlab_damon_pattern p = {.start = range.start, .end = range.end, .p = 1.0};
    struct vmlab_damon_opts o = {.backend = VMLAB_DAMON_REPLAY, .ranges = &range, .nr_targets = 1,
                                 .pattern = &p, .nr_pattern = 1, .record = "/nonexistent/dir/rec"};
    int e;
    vmlab_damon_default_attrs(&o.attrs);
    ok(vmlab_damon_new(&o, &e, err, sizeof err) == NULL && e == -ENOENT,
       "a missing directory: -ENOENT at creation (%s)", err);
    o.record = "/tmp";
    ok(vmlab_damon_new(&o, &e, err, sizeof err) == NULL && e == -EISDIR,
       "a directory: -EISDIR at creation (%s)", err);
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
    test_free_in_hook();
    test_record();
    return tap_done();
}
