/* The DAMOS engine from C: rule lines, action names, the hot score's
 * order, and a scheme hook run over hand-made regions (stat; quotas are
 * in damos_quota.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vmlab/damos.h"

static int never(void *ctx, uint64_t addr, uint64_t time_us)
{
    (void)ctx, (void)addr, (void)time_us;
    return 0;
}

int main(void)
{
    struct vmlab_damos_rule r;
    char err[160];
    ok(vmlab_damos_parse_line("na 500M 90 99 100ms mlock", &r, err, sizeof err) == 1, "six fields");
    ok(r.sz[0] == 0 && r.sz[1] == 500ULL << 20, "na 500M");
    ok(r.action == VMLAB_DAMOS_LOCK && r.age_time[0] && fabs(r.age[0] - 0.1) < 1e-9, "mlock, 100ms");
    ok(vmlab_damos_parse_line("2M null 5 null null null hugepage", &r, err, sizeof err) == 1, "seven fields");
    ok(r.sz[1] == UINT64_MAX && r.freq[0] == 5 && r.freq[1] == 100 && isinf(r.age[1]), "open bounds");
    ok(vmlab_damos_parse_line("   # comment", &r, err, sizeof err) == 0, "comment line");
    ok(vmlab_damos_parse_line("na na 0 10 pageout", &r, err, sizeof err) < 0 && strstr(err, "5 fields"), "too few");
    ok(vmlab_damos_action_parse("madv_cold") == VMLAB_DAMOS_COLD && vmlab_damos_action_parse("x") < 0, "actions");

    /* a monitor (from the constructor) given two regions: hot 4 MiB, cold 12 MiB */
    struct vmlab_range range = {0x10000000, 0x11000000};
    struct vmlab_damon_opts o = {.backend = VMLAB_DAMON_REPLAY, .ranges = &range, .nr_targets = 1,
                                 .oracle = never};
    int e;
    vmlab_damon_default_attrs(&o.attrs);
    struct vmlab_damon *d = vmlab_damon_new(&o, &e, err, sizeof err);
    if (!d) {
        tap_diag(err);
        return 1;
    }
    d->targets[0].regions.n = 0;
    vmlab_regions_push(&d->targets[0].regions, 0x10000000, 0x10400000);
    vmlab_regions_push(&d->targets[0].regions, 0x10400000, 0x11000000);
    struct vmlab_region *v = d->targets[0].regions.v;
    v[0].nr_accesses = 20, v[0].age = 50;
    v[1].nr_accesses = 0, v[1].age = 50;
    struct vmlab_damos s;
    vmlab_damos_init(&s);
    ok(vmlab_damos_hot_score(d, &s, &v[0]) > vmlab_damos_hot_score(d, &s, &v[1]), "hot scores above cold");
    s.use_freq = 1, s.freq_min = 50;
    vmlab_damos_hook(d, 100000, &s);
    ok(s.stats.nr_tried == 1 && s.stats.sz_tried == 4 << 20, "freq >= 50%% matches the hot region");
    ok(d->targets[0].regions.v[0].age == 50, "stat keeps the age");
    vmlab_damos_free(&s);

    vmlab_damon_free(d);
    return tap_done();
}
