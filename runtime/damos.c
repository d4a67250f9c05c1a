/* DAMOS schemes: run on every aggregation (a monitor hook) over each
 * target's regions.  One pass filters and matches, an O(regions) score
 * histogram sets the quota's score threshold (as the kernel's
 * damos_adjust_quota), a second pass applies. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <numaif.h>
#include <sys/mman.h>

#include "vmlab/damos.h"
#include "vmlab/maps.h"
#include "vmlab/units.h"

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#define MAX_SCORE 99
#define MAX_AGE_IN_LOG 20

void vmlab_damos_init(struct vmlab_damos *s)
{
    memset(s, 0, sizeof *s);
    s->sz_max = UINT64_MAX;
    s->nr_max = UINT32_MAX;
    s->freq_max = 100;
    s->age_max = INFINITY;
    s->apply = 1;
    s->quota.w_nr = 1;
    s->quota.w_age = 1;
    s->quota.reset_us = 1000000;
    s->wmark.active = 1;
    s->wmark.injected = -1;
    s->wmark.last_metric = -1;
}

void vmlab_damos_free(struct vmlab_damos *s)
{
    free(s->tried);
    s->tried = NULL;
    s->nr_tried = s->cap_tried = 0;
}

int vmlab_damos_do_action(int action, uint64_t start, uint64_t end)
{
    void *p = (void *)(uintptr_t)start;
    size_t len = end - start;
    int rc = 0;
    switch (action) {
    case VMLAB_DAMOS_STAT: return 0;
    case VMLAB_DAMOS_PAGEOUT: rc = madvise(p, len, MADV_PAGEOUT); break;
    case VMLAB_DAMOS_COLD: rc = madvise(p, len, MADV_COLD); break;
    case VMLAB_DAMOS_WILLNEED: rc = madvise(p, len, MADV_WILLNEED); break;
    case VMLAB_DAMOS_HUGEPAGE: rc = madvise(p, len, MADV_HUGEPAGE); break;
    case VMLAB_DAMOS_NOHUGEPAGE: rc = madvise(p, len, MADV_NOHUGEPAGE); break;
    case VMLAB_DAMOS_COLLAPSE: rc = madvise(p, len, MADV_COLLAPSE); break;
    case VMLAB_DAMOS_LOCK: rc = mlock(p, len); break;
    case VMLAB_DAMOS_UNLOCK: rc = munlock(p, len); break;
    default: return -EINVAL;
    }
    return rc < 0 ? -errno : 0;
}

int vmlab_damos_migrate(uint64_t start, uint64_t end, int node)
{
    enum { CHUNK = 512 };
    const uint64_t page = vmlab_pagesize();
    void *pages[CHUNK];
    int nodes[CHUNK], status[CHUNK];
    for (uint64_t a = start; a < end;) {
        unsigned long n = 0;
        for (; n < CHUNK && a < end; n++, a += page) {
            pages[n] = (void *)(uintptr_t)a;
            nodes[n] = node;
        }
        if (move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE) < 0)
            return -errno;
    }
    return 0;
}

long vmlab_damos_free_mem_rate(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[128];
    unsigned long long total = 0, free_kb = 0, v;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemTotal: %llu", &v) == 1)
            total = v;
        else if (sscanf(line, "MemFree: %llu", &v) == 1)
            free_kb = v;
    }
    fclose(f);
    return total ? (long)(free_kb * 1000 / total) : -1;
}

static uint32_t max_nr_accesses(const struct vmlab_damon *d)
{
    uint64_t n = d->attrs.sample_us ? d->attrs.aggr_us / d->attrs.sample_us : 1;
    return n ? (uint32_t)n : 1;
}

/* mm/damon/ops-common.c damon_hot_score, plus an optional size term. */
unsigned vmlab_damos_hot_score(const struct vmlab_damon *d, const struct vmlab_damos *s,
                               const struct vmlab_region *r)
{
    unsigned w_sz = s->quota.w_sz, w_nr = s->quota.w_nr, w_age = s->quota.w_age;
    uint64_t freq_sub = (uint64_t)r->nr_accesses * MAX_SCORE / max_nr_accesses(d);
    if (freq_sub > MAX_SCORE)
        freq_sub = MAX_SCORE;
    uint64_t age_sec = (uint64_t)r->age * d->attrs.aggr_us / 1000000;
    int age_log = 0;
    for (; age_sec; age_log++)
        age_sec >>= 1;
    if (!freq_sub)
        age_log = -age_log;
    age_log += MAX_AGE_IN_LOG;
    if (age_log < 0)
        age_log = 0;
    if (age_log > 2 * MAX_AGE_IN_LOG)
        age_log = 2 * MAX_AGE_IN_LOG;
    uint64_t age_sub = (uint64_t)age_log * MAX_SCORE / (2 * MAX_AGE_IN_LOG);
    int sz_log = 0;
    for (uint64_t sz = vmlab_region_size(r) / d->page; sz; sz >>= 1)
        sz_log++;
    uint64_t sz_sub = (uint64_t)(sz_log > 40 ? 40 : sz_log) * MAX_SCORE / 40;
    unsigned wsum = w_sz + w_nr + w_age;
    if (!wsum)
        return 0;
    return (unsigned)((w_sz * sz_sub + w_nr * freq_sub + w_age * age_sub) / wsum);
}

static unsigned score(const struct vmlab_damon *d, const struct vmlab_damos *s,
                      const struct vmlab_region *r)
{
    unsigned h = vmlab_damos_hot_score(d, s, r);
    return (s->action == VMLAB_DAMOS_PAGEOUT || s->action == VMLAB_DAMOS_COLD ||
            s->action == VMLAB_DAMOS_MIGRATE_COLD) ? MAX_SCORE - h : h;
}

static int matches(const struct vmlab_damon *d, const struct vmlab_damos *s,
                   const struct vmlab_region *r, uint32_t nr_lo, uint32_t nr_hi, double age_lo,
                   double age_hi)
{
    uint64_t sz = vmlab_region_size(r);
    return sz >= s->sz_min && sz <= s->sz_max && r->nr_accesses >= nr_lo &&
           r->nr_accesses <= nr_hi && r->age >= age_lo && r->age <= age_hi;
}

/* The process's mappings, for anon/file filters: read once per pass, and
 * only when such a filter exists.  What cannot be read stays unknown:
 * filters then see no mapping. */
struct vma_kinds {
    struct vmlab_mapping *v;
    size_t n;
};

static void read_vmas(struct vma_kinds *k)
{
    if (vmlab_maps_read(&k->v, &k->n) < 0) {
        k->v = NULL;
        k->n = 0;
    }
}

/* 1 anon, 0 file, -1 unmapped (by the mapping holding addr) */
static int vma_anon(const struct vma_kinds *k, uint64_t addr)
{
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (addr < k->v[mid].start)
            hi = mid;
        else if (addr >= k->v[mid].end)
            lo = mid + 1;
        else
            return k->v[mid].inode == 0;  /* shmem and memfd have inodes: not anon */
    }
    return -1;
}

/* First filter whose condition holds decides; none: allowed. */
static int allowed(const struct vmlab_damos *s, const struct vmlab_region *r, unsigned t,
                   const struct vma_kinds *k)
{
    for (size_t i = 0; i < s->nr_filters; i++) {
        const struct vmlab_damos_filter *f = &s->filters[i];
        int in;
        switch (f->type) {
        case VMLAB_DAMOS_FILTER_TARGET: in = t == f->target; break;
        case VMLAB_DAMOS_FILTER_ANON: in = vma_anon(k, r->start) == 1; break;
        case VMLAB_DAMOS_FILTER_FILE: in = vma_anon(k, r->start) == 0; break;
        default: in = r->start >= f->start && r->end <= f->end; break;
        }
        if (in == !!f->matching)
            return f->allow;
    }
    return 1;
}

/* Split regions straddling filter bounds, so that each is wholly in or out. */
static void split_at_filters(struct vmlab_damos *s, struct vmlab_regions *rs)
{
    for (size_t fi = 0; fi < s->nr_filters; fi++) {
        if (s->filters[fi].type != VMLAB_DAMOS_FILTER_ADDR)
            continue;
        uint64_t cut[2] = {s->filters[fi].start, s->filters[fi].end};
        for (int c = 0; c < 2; c++)
            for (size_t i = 0; i < rs->n; i++) {
                struct vmlab_region *r = &rs->v[i];
                if (r->start < cut[c] && cut[c] < r->end) {
                    vmlab_damon_split_at(rs, i, cut[c] - r->start);
                    break;
                }
            }
    }
}

static void wmark_update(struct vmlab_damos *s, uint64_t now_us)
{
    if (!s->wmark.interval_us || now_us < s->wmark.next_us)
        return;
    s->wmark.next_us = now_us + s->wmark.interval_us;
    long m = s->wmark.injected >= 0 ? s->wmark.injected : vmlab_damos_free_mem_rate();
    s->wmark.last_metric = m;
    if (m < 0)
        return;
    /* mm/damon/core.c damos_wmark_wait_us */
    if ((unsigned long)m > s->wmark.high || (unsigned long)m < s->wmark.low)
        s->wmark.active = 0;
    else if (!s->wmark.active && (unsigned long)m <= s->wmark.mid)
        s->wmark.active = 1;
}

static void remember(struct vmlab_damos *s, const struct vmlab_region *r, unsigned t)
{
    if (s->nr_tried == s->cap_tried) {
        size_t cap = s->cap_tried ? 2 * s->cap_tried : 64;
        struct vmlab_damos_tried *v = realloc(s->tried, cap * sizeof *v);
        if (!v)
            return;
        s->tried = v;
        s->cap_tried = cap;
    }
    s->tried[s->nr_tried].r = *r;
    s->tried[s->nr_tried++].target = t;
}

/* mm/damon/core.c damos_skip_charged_region: after a window that used its
 * quota up, the next one starts after the last region charged instead of
 * at the lowest address again.  1: skip rs->v[i] (its charged head is
 * split off and skipped; the rest is the next region). */
static int skip_charged(struct vmlab_damos *s, struct vmlab_regions *rs, size_t i, unsigned t,
                        uint64_t page)
{
    if (!s->quota.resume.on)
        return 0;
    if (t < s->quota.resume.target)
        return 1;
    if (t == s->quota.resume.target) {
        struct vmlab_region *r = &rs->v[i];
        if (i + 1 == rs->n) {           /* the end of the target: wrap around */
            s->quota.resume.on = 0;
            return 1;
        }
        if (r->end <= s->quota.resume.addr)
            return 1;
        if (r->start < s->quota.resume.addr) {
            vmlab_damon_split_at(rs, i, (s->quota.resume.addr - r->start) / page * page);
            return 1;
        }
    }
    s->quota.resume.on = 0;
    return 0;
}

/* What one pass decides before it applies: the access and age bounds in
 * the monitor's units, the VMA kinds filters need, and the window's size. */
struct pass {
    uint32_t nr_lo, nr_hi;
    double age_lo, age_hi;
    struct vma_kinds kinds;
    uint64_t esz;             /* 0: no quota */
};

/* Apply the action to the regions that match and score within [lo, hi],
 * in address order, charging the quota; the kernel's damos_apply_scheme.
 * Returns 1 when the quota ran out. */
static int apply_band(struct vmlab_damon *d, struct vmlab_damos *s, struct pass *ps, unsigned lo, unsigned hi)
{
    int quota = ps->esz != 0;

    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_regions *rs = &d->targets[t].regions;
        for (size_t i = 0; i < rs->n; i++) {
            if (quota && skip_charged(s, rs, i, (unsigned)t, d->page))
                continue;
            struct vmlab_region *r = &rs->v[i];
            if (!allowed(s, r, (unsigned)t, &ps->kinds) ||
                !matches(d, s, r, ps->nr_lo, ps->nr_hi, ps->age_lo, ps->age_hi))
                continue;
            if (quota) {
                unsigned sc = score(d, s, r);
                if (sc < lo || sc > hi)
                    continue;
            }
            if (quota && vmlab_damos_quota_used_up(s))
                return 1;
            if (quota && vmlab_region_size(r) > ps->esz - s->quota.charged_sz) {
                /* the kernel splits the region to what the quota leaves */
                uint64_t fit = (ps->esz - s->quota.charged_sz) / d->page * d->page;
                if (!fit || vmlab_damon_split_at(rs, i, fit) < 0)
                    return 1;
                r = &rs->v[i];
            }
            uint64_t sz = vmlab_region_size(r);
            s->stats.nr_tried++;
            s->stats.sz_tried += sz;
            remember(s, r, (unsigned)t);
            /* the action's time, charged with its size: the throughput a
             * time quota turns into a size */
            uint64_t t0 = quota ? vmlab_damos_quota_clock(s) : 0;
            int rc = s->fn ? s->fn(s->fn_ctx, r, (unsigned)t)
                     : !s->apply ? 0
                     : d->ops->apply ? d->ops->apply(d, t, s->action, r->start, r->end)
                     : (s->action == VMLAB_DAMOS_MIGRATE_HOT || s->action == VMLAB_DAMOS_MIGRATE_COLD)
                         ? vmlab_damos_migrate(r->start, r->end, s->node)
                         : vmlab_damos_do_action(s->action, r->start, r->end);
            if (quota)
                vmlab_damos_quota_charge(s, (unsigned)t, r->end, sz, vmlab_damos_quota_clock(s) - t0);
            if (rc == 0) {
                s->stats.nr_applied++;
                s->stats.sz_applied += sz;
                /* as the kernel: any action but stat restarts the age,
                 * a script's too when it says it acted */
                if (s->fn || s->action != VMLAB_DAMOS_STAT)
                    r->age = 0;
            } else if (rc != -EAGAIN) {  /* EAGAIN: a script chose not to act */
                s->last_err = -rc;
            }
        }
    }
    return 0;
}

void vmlab_damos_hook(struct vmlab_damon *d, uint64_t now_us, void *ctx)
{
    struct vmlab_damos *s = ctx;
    uint32_t maxnr = max_nr_accesses(d);
    struct pass ps = {s->nr_min, s->nr_max, s->age_min, s->age_max, {0}, 0};
    uint64_t hist[MAX_SCORE + 1] = {0}, eligible = 0;
    unsigned min_score = 0;
    int binds = 0;

    if (s->apply_us) {
        if (now_us < s->next_apply_us)
            return;
        s->next_apply_us = now_us + s->apply_us;
    }
    wmark_update(s, now_us);
    if (!s->wmark.active)
        return;
    if (s->use_freq) {
        ps.nr_lo = (uint32_t)ceil(s->freq_min * maxnr / 100 - 1e-9);
        ps.nr_hi = s->freq_max >= 100 ? UINT32_MAX : (uint32_t)floor(s->freq_max * maxnr / 100 + 1e-9);
    }
    if (s->age_time && d->attrs.aggr_us) {
        ps.age_lo = ceil(s->age_min / d->attrs.aggr_us - 1e-9);
        ps.age_hi = isinf(s->age_max) ? INFINITY : floor(s->age_max / d->attrs.aggr_us + 1e-9);
    }
    /* a new reset interval: the quota is whole again, its size set anew */
    vmlab_damos_quota_window(s, now_us);
    if (vmlab_damos_quota_used_up(s)) {
        s->passes++;
        return;
    }
    ps.esz = s->quota.esz;
    /* tried regions: those of this pass.  A pass skipped (watermarks off,
     * the quota used up) keeps the last pass's, which sysfs would show. */
    s->nr_tried = 0;
    for (size_t i = 0; i < s->nr_filters; i++)
        if (s->filters[i].type == VMLAB_DAMOS_FILTER_ANON || s->filters[i].type == VMLAB_DAMOS_FILTER_FILE) {
            read_vmas(&ps.kinds);
            break;
        }
    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_regions *rs = &d->targets[t].regions;
        if (s->nr_filters)
            split_at_filters(s, rs);
        if (ps.esz)
            for (size_t i = 0; i < rs->n; i++)
                if (allowed(s, &rs->v[i], (unsigned)t, &ps.kinds) &&
                    matches(d, s, &rs->v[i], ps.nr_lo, ps.nr_hi, ps.age_lo, ps.age_hi)) {
                    hist[score(d, s, &rs->v[i])] += vmlab_region_size(&rs->v[i]);
                    eligible += vmlab_region_size(&rs->v[i]);
                }
    }
    /* The quota binds: as the kernel's damos_adjust_quota, the threshold
     * is the score at which the hotter-or-equal regions fill what is left.
     * Unlike the kernel, which then applies in address order, the levels
     * above the threshold go first, and the threshold's own level takes
     * what remains: the best regions always win. */
    if (ps.esz && eligible > ps.esz - s->quota.charged_sz) {
        uint64_t left = ps.esz - s->quota.charged_sz, acc = 0;
        for (int sc = MAX_SCORE; sc >= 0; sc--) {
            acc += hist[sc];
            if (hist[sc] && acc >= left) {
                min_score = (unsigned)sc;
                binds = 1;
                break;
            }
        }
    }
    if (binds && min_score < MAX_SCORE) {
        /* both bands start at the same resume point */
        struct vmlab_damos_resume resume = s->quota.resume;
        if (!apply_band(d, s, &ps, min_score + 1, MAX_SCORE)) {
            s->quota.resume = resume;
            apply_band(d, s, &ps, min_score, min_score);
        }
    } else {
        apply_band(d, s, &ps, min_score, MAX_SCORE);
    }
    vmlab_maps_free(ps.kinds.v, ps.kinds.n);
    s->passes++;
}

int vmlab_damos_attach(struct vmlab_damos *s, struct vmlab_damon *d, int apply,
                       void (*release)(void *s), char *why, size_t len)
{
    struct vmlab_damon_hook h = {vmlab_damos_hook, release, s};
    int e;

    if (!(d->ops->caps & VMLAB_DAMON_CAP_HOOKS) || (d->ops->caps & VMLAB_DAMON_CAP_EXTERNAL)) {
        snprintf(why, len, "the %s backend aggregates outside vmlab: its schemes are the kernel's "
                 "DAMOS (run them with vmlab.damon.kdamond{schemes=...})", d->ops->name);
        return -ENOTSUP;
    }
    s->apply = apply < 0 ? (d->ops->caps & (VMLAB_DAMON_CAP_APPLY | VMLAB_DAMON_CAP_REMOTE)) != 0 : apply;
    /* another process's memory: only what its ops->apply can do */
    if (s->apply && !s->fn && d->ops->apply && d->ops->apply(d, 0, s->action, 0, 0) == -EOPNOTSUPP) {
        snprintf(why, len, "the %s backend cannot apply this action to another process's memory "
                 "(process_madvise takes cold, pageout, willneed, collapse; or stat)", d->ops->name);
        return -ENOTSUP;
    }
    /* the kernel starts a watermarked scheme deactivated until its first check */
    s->wmark.active = s->wmark.interval_us == 0;
    if ((e = vmlab_damon_add_hook(d, &h)) < 0)
        snprintf(why, len, "%s", e == -ENOSPC ? "the monitor's hook table is full (16 hooks: schemes and "
                 "its record)" : strerror(-e));
    return e;
}

void vmlab_damos_detach(struct vmlab_damos *s, struct vmlab_damon *d)
{
    vmlab_damon_del_aggr_hook(d, vmlab_damos_hook, s);
}
