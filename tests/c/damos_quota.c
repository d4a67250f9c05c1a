/* DAMOS quotas from C, on hand-made regions: the size quota splits a
 * region to fit and waits for the next window; the time quota becomes a
 * size by the action's measured throughput (a fake clock that the action
 * advances, so the figures are exact), binds, is never exceeded within a
 * window, resets, and resumes where the last window stopped.  Every
 * expected size is recomputed here from what the action saw. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vmlab/damos.h"
#include "vmlab/units.h"

#define MiB (1ULL << 20)
#define BASE 0x10000000ULL
#define WINDOW 1000000ULL   /* reset interval, us */

/* The fake clock and the action that advances it: cost ns per MiB. */
struct fake {
    uint64_t ns, cost, bytes, spent_ns, first_start;
    int calls;
};
static uint64_t fake_clock(void *arg) { return ((struct fake *)arg)->ns; }
static int fake_action(void *arg, const struct vmlab_region *r, unsigned t)
{
    struct fake *f = arg;
    uint64_t sz = vmlab_region_size(r), ns = sz * f->cost / MiB;
    (void)t;
    if (!f->calls++)
        f->first_start = r->start;
    f->ns += ns;
    f->bytes += sz;
    f->spent_ns += ns;
    return 0;
}

static int never(void *ctx, uint64_t addr, uint64_t time_us)
{
    (void)ctx, (void)addr, (void)time_us;
    return 0;
}

/* A monitor from the constructor whose one target then gets n regions of
 * sz bytes, all cold and old. */
static struct vmlab_damon *monitor(int n, uint64_t sz)
{
    struct vmlab_range range = {BASE, BASE + n * sz};
    struct vmlab_damon_opts o = {.backend = VMLAB_DAMON_REPLAY, .ranges = &range, .nr_targets = 1,
                                 .oracle = never};
    char why[256];
    int e;
    struct vmlab_damon *d;

    vmlab_damon_default_attrs(&o.attrs);
    if (!(d = vmlab_damon_new(&o, &e, why, sizeof why))) {
        tap_diag(why);
        exit(1);
    }
    d->targets[0].regions.n = 0;
    for (int i = 0; i < n; i++) {
        vmlab_regions_push(&d->targets[0].regions, BASE + i * sz, BASE + (i + 1) * sz);
        d->targets[0].regions.v[i].age = 50;
    }
    return d;
}

static void timed_scheme(struct vmlab_damos *s, struct fake *f, uint64_t ms, uint64_t sz)
{
    vmlab_damos_init(s);
    s->action = VMLAB_DAMOS_STAT;   /* keeps ages: every region scores the same */
    s->fn = fake_action;
    s->fn_ctx = f;
    s->quota.ms = ms;
    s->quota.sz = sz;
    s->quota.reset_us = WINDOW;
    s->quota.clock_ns = fake_clock;
    s->quota.clock_arg = f;
}

/* What the kernel's damos_set_effective_quota gives, from the test's own
 * totals (bytes acted on, ns spent). */
static uint64_t expected_esz(uint64_t bytes, uint64_t ns, uint64_t ms, uint64_t sz)
{
    uint64_t tp = ns ? (uint64_t)((unsigned __int128)bytes * 1000000 / ns) : vmlab_pagesize() * 1024;
    uint64_t esz = tp * ms;
    return sz && sz < esz ? sz : esz;
}

static void size_quota(void)
{
    struct vmlab_damon *d;
    d = monitor(2, 8 * MiB);
    struct vmlab_region *v = d->targets[0].regions.v;
    v[0].nr_accesses = 20;                          /* hot */
    struct vmlab_damos s;
    vmlab_damos_init(&s);
    s.action = VMLAB_DAMOS_PAGEOUT;
    s.apply = 0;
    s.quota.sz = 1 * MiB;
    vmlab_damos_hook(d, 100000, &s);
    is_int(s.stats.sz_applied, 1 * MiB, "size quota: exactly 1 MiB applied");
    ok(s.nr_tried == 1 && s.tried[0].r.start == BASE + 8 * MiB, "the coldest region first");
    is_int(d->targets[0].regions.n, 3, "the region split at the quota");
    is_int(d->targets[0].regions.v[1].age, 0, "pageout restarts the age");
    vmlab_damos_hook(d, 100000 + WINDOW - 1, &s);
    is_int(s.stats.sz_applied, 1 * MiB, "no more in the same reset interval");
    is_int(s.stats.qt_exceeds, 0, "qt_exceeds counts when the window ends");
    vmlab_damos_hook(d, 100000 + WINDOW, &s);
    is_int(s.stats.sz_applied, 2 * MiB, "the next window: 1 MiB more");
    is_int(s.stats.qt_exceeds, 1, "and the window that used it up counted");
    ok(s.tried[0].r.start == BASE + 9 * MiB, "resumed after the last region charged");
    vmlab_damos_free(&s);
    vmlab_damon_free(d);
}

/* A binding quota takes the best level whole and fills what is left from
 * the next level down, even where that level lies first in the address
 * space: the coldest region (last here) first, then the next coldest. */
static void levels(void)
{
    struct vmlab_damon *d;
    d = monitor(3, 2 * MiB);
    struct vmlab_region *v = d->targets[0].regions.v;
    v[0].nr_accesses = v[1].nr_accesses = 5;        /* warmer: a lower cold score */
    struct vmlab_damos s;
    vmlab_damos_init(&s);
    s.action = VMLAB_DAMOS_PAGEOUT;
    s.apply = 0;
    s.quota.sz = 3 * MiB;
    vmlab_damos_hook(d, 100000, &s);
    is_int(s.stats.sz_applied, 3 * MiB, "levels: the whole quota is used (3 MiB)");
    ok(s.nr_tried == 2 && s.tried[0].r.start == BASE + 4 * MiB, "the coldest level first, though last by address");
    ok(s.nr_tried == 2 && s.tried[1].r.start == BASE && vmlab_region_size(&s.tried[1].r) == MiB,
       "then 1 MiB of the next level, from its lowest address");
    vmlab_damos_free(&s);
    vmlab_damon_free(d);
}

static void time_quota(void)
{
    struct vmlab_damon *d;
    struct vmlab_damos s;
    struct fake f = {.cost = 1000000};              /* 1 ms per MiB */
    const uint64_t ms = 2;
    d = monitor(16, 4 * MiB);
    timed_scheme(&s, &f, ms, 0);

    /* window 1: nothing measured yet, the kernel's default throughput */
    vmlab_damos_hook(d, 100000, &s);
    uint64_t esz1 = expected_esz(0, 0, ms, 0);
    is_int(s.quota.esz, esz1, "window 1: esz from the default throughput (%llu MiB)",
           (unsigned long long)(esz1 / MiB));
    is_int(f.bytes, esz1, "the time quota binds: exactly esz applied");
    for (uint64_t t = 200000; t < 100000 + WINDOW; t += 100000)
        vmlab_damos_hook(d, t, &s);
    is_int(f.bytes, esz1, "nothing more in the rest of the window");

    /* windows 2-5 at a steady cost: esz is what ms of that cost allows */
    int steady_ok = 1, resumed = 1;
    for (int w = 1; w <= 4; w++) {
        uint64_t b0 = f.bytes, ns0 = f.ns, want = expected_esz(f.bytes, f.ns, ms, 0);
        uint64_t resume = s.quota.resume.on ? s.quota.resume.addr : 0;
        f.spent_ns = 0;
        f.calls = 0;
        for (int p = 0; p < 10; p++)
            vmlab_damos_hook(d, 100000 + w * WINDOW + p * 100000, &s);
        if (s.quota.esz != want || f.bytes - b0 != want || f.spent_ns > ms * 1000000 ||
            f.ns - ns0 != f.spent_ns)
            steady_ok = 0;
        if (resume && f.first_start != resume)
            resumed = 0;
        printf("# window %d: esz %llu KiB, applied %llu KiB in %llu us\n", w + 1,
             (unsigned long long)(s.quota.esz >> 10), (unsigned long long)((f.bytes - b0) >> 10),
             (unsigned long long)(f.spent_ns / 1000));
    }
    ok(steady_ok, "steady cost: each window applies esz = ms x throughput, in at most %llu ms",
       (unsigned long long)ms);
    is_int(s.quota.esz, ms * MiB, "1 ms per MiB and ms=2: 2 MiB");
    ok(resumed, "each window resumes after the last region charged");
    is_int(s.stats.qt_exceeds, 4, "qt_exceeds: one per window that used its quota up");

    /* a varying cost (0.25 to 4 ms per MiB): never more than esz a window */
    int never_over = 1, used = 1;
    unsigned seed = 7;
    for (int w = 5; w < 40; w++) {
        seed = seed * 1103515245 + 12345;
        f.cost = 250000 + (seed >> 8) % 3750000;
        uint64_t b0 = f.bytes, want = expected_esz(f.bytes, f.ns, ms, 0);
        for (int p = 0; p < 10; p++)
            vmlab_damos_hook(d, 100000 + w * WINDOW + p * 100000, &s);
        if (f.bytes - b0 > want || s.quota.esz != want)
            never_over = 0;
        if (want - (f.bytes - b0) >= vmlab_pagesize())
            used = 0;
    }
    ok(never_over, "varying cost: never more than the window's esz");
    ok(used, "and each window's quota used");
    vmlab_damos_free(&s);

    /* both quotas: the smaller size wins */
    struct fake g = {.cost = 1000000};
    timed_scheme(&s, &g, ms, 1 * MiB);
    vmlab_damos_hook(d, 100000, &s);
    is_int(g.bytes, 1 * MiB, "sz 1 MiB under ms 2: 1 MiB");
    vmlab_damos_free(&s);
    struct fake h = {.cost = 0};                     /* too fast to measure */
    timed_scheme(&s, &h, 1, 0);
    for (int w = 0; w < 3; w++)
        vmlab_damos_hook(d, 100000 + w * WINDOW, &s);
    is_int(h.bytes, 3 * expected_esz(0, 0, 1, 0), "no time measured: the default throughput");
    vmlab_damos_free(&s);
    vmlab_damon_free(d);
}

/* The real clock and a real action cost something: the esz follows. */
static void real_clock(void)
{
    struct vmlab_damos s;
    vmlab_damos_init(&s);
    s.quota.ms = 10;
    s.quota.total_sz = 64 * MiB;
    s.quota.total_ns = 32000000;                     /* 2 MiB per ms */
    is_int(vmlab_damos_quota_esz(&s), 20 * MiB, "esz = ms x bytes per ms measured");
    s.quota.sz = 5 * MiB;
    is_int(vmlab_damos_quota_esz(&s), 5 * MiB, "capped by sz");
    uint64_t a = vmlab_damos_quota_clock(&s), b = vmlab_damos_quota_clock(&s);
    ok(a > 0 && b >= a, "the default action timer is monotonic");
    vmlab_damos_free(&s);
}

int main(void)
{
    size_quota();
    levels();
    time_quota();
    real_clock();
    return tap_done();
}
