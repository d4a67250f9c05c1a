/* The uffd backend on vmlab's own segments (include/vmlab/uffd_self.h).
 *
 * rw mode: the mover thread (runtime/uffd_self.c) moves each region's
 * sampled page (its whole 2 MiB inside a huge page) out in prepare() and
 * says in check() which were touched.  write mode needs no thread: the
 * target ranges are registered WP_ASYNC with a userfaultfd of our own, and
 * each sampled unit is write-protected and later asked PAGE_IS_WRITTEN
 * through /proc/self/pagemap (PAGEMAP_SCAN).  Either way every range is
 * registered whole, so no VMA is cut (the prot backend's PROT_NONE pages
 * cut a 64 MiB segment into 63). */
#include "uffd_self_priv.h"
#include "vmlab/damos.h"
#include "vmlab/maps.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NONE UINT32_MAX

struct self_state {
    enum vmlab_uffd_mode mode;
    struct vmlab_mover *mv;   /* rw */
    int uffd, pagemap;        /* write: our WP_ASYNC uffd; both: pagemap */
    uint64_t *addr, *len;
    uint32_t *tidx, *ridx;    /* target and region of each sample */
    size_t n, cap;
    int armed;
    struct vmlab_uffd_stats st;
};

/* Walking /proc/self/maps over one target: how far it is covered by
 * private anonymous writable mappings, and whether another kind was met. */
struct cover {
    uint64_t start, end, covered;
    int bad;
};

static int cover_one(void *ctx, const struct vmlab_mapping *mp)
{
    struct cover *c = ctx;
    if (mp->end <= c->covered || mp->start >= c->end)
        return mp->start >= c->end;   /* past it: stop */
    if (mp->start > c->covered)
        return 1;                     /* a gap */
    if (strncmp(mp->perms, "rw", 2) || mp->perms[3] != 'p' || mp->inode != 0 || strchr(mp->path, '/')) {
        c->bad = 1;
        return 1;
    }
    c->covered = mp->end;
    return c->covered >= c->end;
}

/* Whether [start, end) is all private anonymous writable mappings. */
static int check_range(const struct vmlab_range *r, size_t t, char *why, size_t len)
{
    struct cover c = {r->start, r->end, r->start, 0};
    int e = vmlab_maps_each(cover_one, &c);

    if (e < 0) {
        snprintf(why, len, "reading /proc/self/maps: %s", strerror(-e));
        return e;
    }
    if (c.bad || c.covered < r->end) {
        snprintf(why, len, "target %zu: [0x%" PRIx64 ", 0x%" PRIx64 ") is %s (the uffd backend moves "
                 "pages of private anonymous writable memory: an anon segment)", t + 1, r->start, r->end,
                 c.bad ? "not private anonymous writable memory" : "not mapped whole");
        return -EINVAL;
    }
    return 0;
}

static int grow(struct self_state *s, size_t need)
{
    size_t cap = need + need / 2 + 64;
    uint64_t *a, *l;
    uint32_t *t, *r;
    if (need <= s->cap)
        return 0;
    if ((a = realloc(s->addr, cap * sizeof *a)))
        s->addr = a;
    if ((l = realloc(s->len, cap * sizeof *l)))
        s->len = l;
    if ((t = realloc(s->tidx, cap * sizeof *t)))
        s->tidx = t;
    if ((r = realloc(s->ridx, cap * sizeof *r)))
        s->ridx = r;
    if (!a || !l || !t || !r)
        return -ENOMEM;
    s->cap = cap;
    return 0;
}

/* ---- write mode ------------------------------------------------------------------- */



static int wp_open(struct vmlab_damon *d, struct self_state *s, char *why, size_t len)
{
    struct uffdio_api probe = {.api = UFFD_API}, api = {.api = UFFD_API};
    /* user-mode only: WP_ASYNC resolves kernel-mode writes too, and so a
     * user without CAP_SYS_PTRACE may use it when
     * vm.unprivileged_userfaultfd is 0 */
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
    if (fd < 0) {
        int e = -errno;
        snprintf(why, len, "userfaultfd(): %s%s", strerror(-e),
                 e == -EPERM ? " (vm.unprivileged_userfaultfd is 0, or a seccomp filter)" : "");
        return e;
    } else {   /* WP_UNPOPULATED where the kernel has it (6.7+) */
        if (ioctl(fd, UFFDIO_API, &probe) == 0)
            api.features = UFFD_FEATURE_WP_ASYNC | (probe.features & UFFD_FEATURE_WP_UNPOPULATED);
        close(fd);
    }
    if (!(probe.features & UFFD_FEATURE_WP_ASYNC)) {
        snprintf(why, len, "write mode needs userfaultfd with UFFD_FEATURE_WP_ASYNC (Linux 6.7 or later)");
        return -ENOTSUP;
    }
    s->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (s->uffd < 0 || ioctl(s->uffd, UFFDIO_API, &api) < 0) {
        int e = -errno;
        snprintf(why, len, "write mode needs userfaultfd with UFFD_FEATURE_WP_ASYNC (Linux 6.7 or later): %s",
                 strerror(-e));
        return e;
    }
    for (size_t t = 0; t < d->nr_targets; t++) {
        const struct vmlab_range *r = &d->targets[t].ranges[0];
        struct uffdio_register rg = {.range = {r->start, r->end - r->start}, .mode = UFFDIO_REGISTER_MODE_WP};
        if (ioctl(s->uffd, UFFDIO_REGISTER, &rg) < 0) {
            int e = -errno;
            snprintf(why, len, "target %zu: UFFDIO_REGISTER(WP): %s%s", t + 1, strerror(-e),
                     e == -EBUSY ? " (another uffd watches it: one uffd monitor per segment)" : "");
            return e == -EBUSY ? -EINVAL : e;
        }
        vmlab_pagemap_wp_range(s->pagemap, r->start, r->end);   /* written-looking until protected */
    }
    return 0;
}

static void wp_prepare(struct vmlab_damon *d, struct self_state *s)
{
    struct page_region pr;
    for (size_t i = 0; i < s->n; i++) {
        const struct vmlab_range *tr = &d->targets[s->tidx[i]].ranges[0];
        uint64_t a = s->addr[i], len = d->page, h = a & ~(VMLAB_AGENT_HUGE - 1);
        long r = vmlab_pagemap_scan(s->pagemap, a, a + len, 0, 0, PAGE_IS_HUGE, &pr);
        if (r < 0) {
            s->ridx[i] = NONE;
            s->st.unmonitorable++;
            continue;
        }
        if (r > 0 && (pr.categories & PAGE_IS_HUGE) && h >= tr->start && h + VMLAB_AGENT_HUGE <= tr->end) {
            a = h;   /* the whole huge page: protecting a piece would split it */
            len = VMLAB_AGENT_HUGE;
            s->st.huge++;
        }
        s->addr[i] = a;
        s->len[i] = len;
        if (vmlab_pagemap_scan(s->pagemap, a, a + len, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
                               PAGE_IS_WRITTEN, PAGE_IS_WRITTEN, &pr) < 0) {
            s->ridx[i] = NONE;
            s->st.unmonitorable++;
        }
    }
}

static void wp_check(struct vmlab_damon *d, struct self_state *s)
{
    struct page_region pr;
    for (size_t i = 0; i < s->n; i++) {
        struct vmlab_regions *rs = &d->targets[s->tidx[i]].regions;
        if (s->ridx[i] == NONE || s->ridx[i] >= rs->n)
            continue;
        if (vmlab_pagemap_scan(s->pagemap, s->addr[i], s->addr[i] + s->len[i], 0, PAGE_IS_WRITTEN,
                               PAGE_IS_WRITTEN, &pr) > 0) {
            rs->v[s->ridx[i]].nr_accesses++;
            s->st.accessed++;
            d->stats.faults++;
        }
    }
}

/* ---- rw mode: the mover ---------------------------------------------------------- */

static void rw_prepare(struct self_state *s)
{
    struct vmlab_mover *m = s->mv;
    if (s->n > m->cap)
        s->n = m->cap;   /* more regions than slots: the rest wait */
    memcpy(m->req_addr, s->addr, s->n * sizeof *s->addr);
    m->req_n = s->n;
    if (vmlab_mover_request(m, MOVER_ARM) < 0)
        s->n = 0;
}

static void rw_check(struct vmlab_damon *d, struct self_state *s)
{
    struct vmlab_mover *m = s->mv;
    uint64_t cpu;
    if (vmlab_mover_request(m, MOVER_CHECK) < 0)
        return;
    cpu = __atomic_exchange_n(&m->cpu_ns, 0, __ATOMIC_RELAXED);
    s->st.agent_cpu += (double)cpu * 1e-9;
    d->stats.cpu_seconds += (double)cpu * 1e-9;   /* the budget covers the mover too */
    for (size_t i = 0; i < s->n && i < m->nres; i++) {
        struct vmlab_regions *rs = &d->targets[s->tidx[i]].regions;
        uint64_t f = m->res[i];
        if (s->ridx[i] >= rs->n)
            continue;
        if (vmlab_uffd_tally(&s->st, f)) {
            rs->v[s->ridx[i]].nr_accesses++;
            d->stats.faults++;
        }
    }
}

/* ---- the ops ------------------------------------------------------------------------ */

static void self_prepare(struct vmlab_damon *d)
{
    struct self_state *s = d->backend;
    size_t total = 0;

    s->n = 0;
    s->armed = 0;
    for (size_t t = 0; t < d->nr_targets; t++)
        total += d->targets[t].regions.n;
    if (grow(s, total) < 0)
        return;
    for (size_t t = 0; t < d->nr_targets; t++) {
        const struct vmlab_regions *rs = &d->targets[t].regions;
        for (size_t i = 0; i < rs->n; i++) {
            s->addr[s->n] = rs->v[i].sampling_addr;
            s->tidx[s->n] = (uint32_t)t;
            s->ridx[s->n++] = (uint32_t)i;
        }
    }
    if (s->mode == VMLAB_UFFD_WRITE)
        wp_prepare(d, s);
    else
        rw_prepare(s);
    s->st.armed += s->n;
    s->armed = 1;
}

static void self_check(struct vmlab_damon *d)
{
    struct self_state *s = d->backend;
    if (!s->armed)
        return;
    if (s->mode == VMLAB_UFFD_WRITE)
        wp_check(d, s);
    else
        rw_check(d, s);
    s->armed = 0;
}

static void self_cleanup(struct vmlab_damon *d)
{
    struct self_state *s = d->backend;
    if (!s)
        return;
    vmlab_mover_free(s->mv);   /* every page home before anything is unmapped */
    if (s->uffd >= 0)
        close(s->uffd);        /* drops the WP registration */
    if (s->pagemap >= 0)
        close(s->pagemap);
    free(s->addr);
    free(s->len);
    free(s->tidx);
    free(s->ridx);
    free(s);
    d->backend = NULL;
}

const struct vmlab_damon_ops vmlab_damon_uffd_self_ops = {
    .name = "uffd",
    .caps = VMLAB_DAMON_CAP_THREAD | VMLAB_DAMON_CAP_HOOKS | VMLAB_DAMON_CAP_APPLY,
    .prepare = self_prepare,
    .check = self_check,
    .cleanup = self_cleanup,
};

int vmlab_damon_uffd_self_open(struct vmlab_damon *d, const struct vmlab_damon_opts *o, char *why, size_t len)
{
    struct self_state *s;
    size_t nregions = 0;
    int e;

    if (o->argv || o->proc) {
        snprintf(why, len, "the uffd backend's targets are segments, or one process, not both");
        return -EINVAL;
    }
    for (size_t t = 0; t < d->nr_targets; t++)
        if ((e = check_range(&d->targets[t].ranges[0], t, why, len)) < 0)
            return e;
    for (size_t t = 0; t < d->nr_targets; t++)
        for (size_t k = t + 1; k < d->nr_targets; k++)
            if (d->targets[t].ranges[0].start < d->targets[k].ranges[0].end &&
                d->targets[k].ranges[0].start < d->targets[t].ranges[0].end) {
                snprintf(why, len, "targets %zu and %zu overlap", t + 1, k + 1);
                return -EINVAL;
            }
    if (!(s = calloc(1, sizeof *s)))
        return -ENOMEM;
    s->uffd = s->pagemap = -1;
    s->mode = o->uffd_mode == VMLAB_UFFD_WRITE ? VMLAB_UFFD_WRITE : VMLAB_UFFD_RW;
    s->st.mode = s->mode;
    d->backend = s;
    d->ops = &vmlab_damon_uffd_self_ops;
    d->mode = s->mode == VMLAB_UFFD_WRITE ? "write" : "rw";
    if (grow(s, (size_t)d->attrs.max_nr_regions * d->nr_targets + 64) < 0) {
        snprintf(why, len, "not enough memory");
        return -ENOMEM;   /* the engine's free calls cleanup */
    }
    nregions = (size_t)d->attrs.max_nr_regions * d->nr_targets + 16;
    if (s->mode == VMLAB_UFFD_WRITE) {
        if ((s->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0) {
            e = -errno;
            snprintf(why, len, "open(/proc/self/pagemap): %s", strerror(-e));
            return e;
        }
        return wp_open(d, s, why, len);
    }
    {
        struct vmlab_range *r = calloc(d->nr_targets, sizeof *r);
        if (!r)
            return -ENOMEM;
        for (size_t t = 0; t < d->nr_targets; t++)
            r[t] = d->targets[t].ranges[0];
        e = vmlab_mover_new(&s->mv, r, d->nr_targets,
                            nregions < VMLAB_AGENT_MAX_BATCH ? nregions : VMLAB_AGENT_MAX_BATCH, why, len);
        free(r);
    }
    return e;
}

void vmlab_damon_uffd_self_stats(const struct vmlab_damon *d, struct vmlab_uffd_stats *out)
{
    const struct self_state *s = d->backend;
    if (s && d->ops == &vmlab_damon_uffd_self_ops) {
        *out = s->st;
        if (s->mv)
            out->agent_cpu += (double)__atomic_load_n(&s->mv->cpu_ns, __ATOMIC_RELAXED) * 1e-9;
    } else {
        memset(out, 0, sizeof *out);
    }
}
