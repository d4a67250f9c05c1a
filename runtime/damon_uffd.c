/* The uffd backend: DAMON's algorithm in vmlab, the page checks in the
 * target through its agent (runtime/agent/agent.c).
 *
 * rw mode: prepare() sends the sampled addresses (ARM), the agent moves
 * each page out and back on its next touch; check() asks (CHECK) which
 * were touched.  write mode: no moves; the agent registered the target's
 * anonymous memory WP_ASYNC once (per update), and vmlab write-protects
 * each sampled page through /proc/PID/pagemap (PAGEMAP_SCAN with
 * PM_SCAN_WP_MATCHING) and later asks the same file whether it was written.
 * Both whole 2 MiB units inside huge pages, so no THP is split.
 *
 * Samples landing on memory neither method can watch (file mappings, gaps
 * inside the three regions) are moved to a watchable page of their region;
 * a region with none is left unmeasured and counted in unmon_bytes. */
#include "vmlab/damos.h"
#include "vmlab/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define NONE UINT32_MAX

struct uffd_state {
    struct vmlab_agent_proc *p;
    struct vmlab_agent_proc own;   /* a command the monitor started (p == &own) */
    int pidfd;               /* for process_madvise; -1 until first needed */
    enum vmlab_uffd_mode mode;
    uint64_t *addr;          /* what was armed, in region order */
    uint64_t *len;           /* write mode: each unit's length */
    uint32_t *ridx;          /* the region each belongs to */
    uint64_t *res;
    uint64_t *next;          /* rw, fused: the next batch, sent with CHECK ... */
    uint32_t *nridx;         /* ... and its regions */
    size_t n, cap;
    uint32_t seq;
    int armed;
    int prearmed;            /* the next batch went with CHECK: prepare() is done */
    int need_wp;             /* write mode: (re)register the mappings */
    int pagemap;
    struct vmlab_range *vmas;  /* watchable mappings, sorted */
    size_t nvmas;
    struct vmlab_range *wp;  /* write mode: what was write-protected whole */
    size_t nwp;
    struct vmlab_uffd_stats st;
};

static int grow(struct uffd_state *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t cap = need + need / 2 + 64;
    void *p;
    int bad = 0;
    /* each array keeps its old block when its realloc fails */
#define GROW(f) ((p = realloc(s->f, cap * sizeof *s->f)) ? (void)(s->f = p) : (void)(bad = 1))
    GROW(addr), GROW(len), GROW(ridx), GROW(res), GROW(next), GROW(nridx);
#undef GROW
    if (bad)
        return -ENOMEM;
    s->cap = cap;
    return 0;
}

/* The first watchable mapping ending above addr (index), or nvmas. */
static size_t vma_from(const struct uffd_state *s, uint64_t addr)
{
    size_t lo = 0, hi = s->nvmas;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->vmas[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A watchable page in region r near its sample, or 0 when it has none. */
static uint64_t watchable_sample(struct vmlab_damon *d, struct uffd_state *s, const struct vmlab_region *r)
{
    uint64_t a = r->sampling_addr, pg = d->page;
    size_t k = vma_from(s, a);

    if (!s->nvmas || (k < s->nvmas && s->vmas[k].start <= a))
        return a;
    /* the next watchable mapping in the region, else the first one */
    if (k >= s->nvmas || s->vmas[k].start >= r->end)
        k = vma_from(s, r->start);
    if (k >= s->nvmas || s->vmas[k].start >= r->end)
        return 0;
    {
        uint64_t lo = s->vmas[k].start > r->start ? s->vmas[k].start : r->start;
        uint64_t hi = s->vmas[k].end < r->end ? s->vmas[k].end : r->end;
        return lo + vmlab_rng_range(&d->rng, 0, (hi - lo) / pg) * pg;
    }
}

/* ---- write mode: PAGEMAP_SCAN on /proc/PID/pagemap ------------------------- */



/* Register the mappings WP_ASYNC (the agent), then write-protect what is
 * new since the last time whole.  A page written before it is first
 * sampled is written-looking until protected; protecting it at its first
 * sample cost a TLB-flush interrupt of the target per page (about 3% of a
 * read-only program's time at 5 ms samples); now only pages written since
 * their last sample are re-protected one by one. */
static void wp_register(struct uffd_state *s)
{
    uint64_t *v = malloc((s->nvmas * 2 + 1) * sizeof *v);
    struct vmlab_range *done;
    struct vmlab_agent_msg h;
    uint64_t dummy[1];
    size_t k = 0;
    if (!v)
        return;
    for (size_t i = 0; i < s->nvmas; i++) {
        v[2 * i] = s->vmas[i].start;
        v[2 * i + 1] = s->vmas[i].end;
    }
    if (vmlab_agent_send(s->p->sock, VMLAB_AGENT_WP, 0, 0, v, s->nvmas * 2) == 0)
        while (vmlab_agent_recv(s->p->sock, &h, dummy, 1, 2.0) == 0 && h.type != VMLAB_AGENT_ACK)
            if (h.type == VMLAB_AGENT_HELLO)
                s->nwp = 0;   /* exec: a new mm, nothing of it protected yet */
    free(v);
    s->need_wp = 0;
    /* each mapping minus what was protected before (both sorted) */
    for (size_t i = 0; i < s->nvmas; i++) {
        uint64_t a = s->vmas[i].start, e = s->vmas[i].end;
        while (k < s->nwp && s->wp[k].end <= a)
            k++;
        for (size_t j = k; j < s->nwp && s->wp[j].start < e && a < e; j++) {
            if (s->wp[j].start > a)
                vmlab_pagemap_wp_range(s->pagemap, a, s->wp[j].start);
            if (s->wp[j].end > a)
                a = s->wp[j].end;
        }
        if (a < e)
            vmlab_pagemap_wp_range(s->pagemap, a, e);
    }
    if ((done = realloc(s->wp, (s->nvmas + 1) * sizeof *done))) {
        if (s->nvmas)   /* (no mappings yet: vmas is NULL) */
            memcpy(done, s->vmas, s->nvmas * sizeof *done);
        s->wp = done;
        s->nwp = s->nvmas;
    }
}

static void wp_prepare(struct vmlab_damon *d, struct uffd_state *s)
{
    struct page_region pr;

    if (s->need_wp)
        wp_register(s);
    for (size_t i = 0; i < s->n; i++) {
        uint64_t a = s->addr[i], len = d->page;
        long r = vmlab_pagemap_scan(s->pagemap, a, a + len, 0, 0, PAGE_IS_HUGE | PAGE_IS_FILE, &pr);
        if (r < 0 || (r > 0 && (pr.categories & PAGE_IS_FILE))) {
            s->ridx[i] = NONE;
            s->st.unmonitorable++;
            continue;
        }
        if (r > 0 && (pr.categories & PAGE_IS_HUGE)) {
            a &= ~(VMLAB_AGENT_HUGE - 1);
            len = VMLAB_AGENT_HUGE;
            s->st.huge++;
        }
        s->addr[i] = a;
        s->len[i] = len;
        /* write-protect it: a write from now on clears PAGE_IS_WRITTEN */
        if (vmlab_pagemap_scan(s->pagemap, a, a + len, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
                               PAGE_IS_WRITTEN, PAGE_IS_WRITTEN, &pr) < 0) {
            s->ridx[i] = NONE;
            s->st.unmonitorable++;
        }
    }
    (void)d;
}

static void wp_check(struct vmlab_damon *d, struct uffd_state *s)
{
    struct vmlab_regions *rs = &d->targets[0].regions;
    struct page_region pr;

    for (size_t i = 0; i < s->n; i++) {
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

/* ---- rw mode: the agent moves ------------------------------------------------ */

/* CHECK, and with it the next batch to arm (nnext addresses in s->next;
 * 0: prepare() sends it), which saves the agent a wake-up per sample. */
static void rw_check(struct vmlab_damon *d, struct uffd_state *s, size_t nnext)
{
    struct vmlab_regions *rs = &d->targets[0].regions;
    struct vmlab_agent_msg h;
    int e;

    if (vmlab_agent_send(s->p->sock, VMLAB_AGENT_CHECK, ++s->seq, 0, s->next, nnext) < 0) {
        s->st.agent_gone = 1;
        return;
    }
    for (;;) {
        e = vmlab_agent_recv(s->p->sock, &h, s->res, s->cap, 2.0);
        if (e == -ETIMEDOUT)
            return;   /* stopped?  the late answer is dropped by its seq */
        if (e < 0) {
            s->st.agent_gone = 1;
            return;
        }
        if (h.type == VMLAB_AGENT_HELLO) {   /* the command exec'ed: a new agent */
            s->p->nskip = 0;
            for (size_t i = 0; i + 1 < h.n && i + 1 < 8; i += 2)
                s->p->skip[s->p->nskip++] = (struct vmlab_range){s->res[i], s->res[i + 1]};
            return;
        }
        if (h.type == VMLAB_AGENT_RESULT && h.seq == s->seq)
            break;
    }
    s->st.agent_cpu += (double)h.arg * 1e-9;
    d->stats.cpu_seconds += (double)h.arg * 1e-9;   /* the budget covers the agent too */
    if (h.n > s->n) {
        /* after the flags: the time the program was blocked on our faults
         * (the agent's view); the budget counts it as the monitor's cost */
        double lost = (double)s->res[s->n] * 1e-9;
        s->st.target_lost += lost;
        d->stats.cpu_seconds += lost;
    }
    if (h.n > s->n + 1) {
        /* then the program's main thread's system time meanwhile: its
         * CPU spent entering, waking from and leaving our faults */
        double sys = (double)s->res[s->n + 1] * 1e-9;
        s->st.target_sys += sys;
        d->stats.cpu_seconds += sys;
    }
    for (size_t i = 0; i < s->n && i < h.n; i++) {
        uint64_t f = s->res[i];
        if (s->ridx[i] == NONE || s->ridx[i] >= rs->n)
            continue;
        if (vmlab_uffd_tally(&s->st, f)) {
            rs->v[s->ridx[i]].nr_accesses++;
            d->stats.faults++;
        }
    }
}

/* ---- the ops ---------------------------------------------------------------- */

static int uffd_init(struct vmlab_damon *d)
{
    return d->nr_targets == 1 ? 0 : -EINVAL;
}

/* Each region's sample, moved to a watchable page, into addr and ridx;
 * how many (at most one batch in rw mode: the rest go unchecked). */
static size_t gather(struct vmlab_damon *d, struct uffd_state *s, uint64_t *addr, uint32_t *ridx)
{
    struct vmlab_regions *rs = &d->targets[0].regions;
    size_t n = 0;
    for (size_t i = 0; i < rs->n; i++) {
        uint64_t a = watchable_sample(d, s, &rs->v[i]);
        if (!a)
            continue;
        addr[n] = a;
        ridx[n++] = (uint32_t)i;
    }
    return n;
}

static void uffd_prepare(struct vmlab_damon *d)
{
    struct uffd_state *s = d->backend;
    struct vmlab_regions *rs = &d->targets[0].regions;

    if (s->prearmed) {   /* sent with the CHECK (uffd_check_and_pick) */
        s->prearmed = 0;
        return;
    }
    s->n = 0;
    s->armed = 0;
    if (s->st.agent_gone || grow(s, rs->n) < 0)
        return;
    s->n = gather(d, s, s->addr, s->ridx);
    s->st.armed += s->n;
    if (s->mode == VMLAB_UFFD_WRITE) {
        wp_prepare(d, s);
        s->armed = 1;
        return;
    }
    for (size_t off = 0; off < s->n; off += VMLAB_AGENT_MAX_BATCH) {
        size_t k = s->n - off < VMLAB_AGENT_MAX_BATCH ? s->n - off : VMLAB_AGENT_MAX_BATCH;
        if (vmlab_agent_send(s->p->sock, VMLAB_AGENT_ARM, 0, 0, s->addr + off, k) < 0) {
            s->st.agent_gone = 1;
            return;
        }
        if (k < s->n) {   /* more than one batch: check this one at once */
            s->n = k;
            break;
        }
    }
    s->armed = 1;
}

static void uffd_check(struct vmlab_damon *d)
{
    struct uffd_state *s = d->backend;

    if (!s->armed || s->st.agent_gone)
        return;
    if (s->mode == VMLAB_UFFD_WRITE)
        wp_check(d, s);
    else
        rw_check(d, s, 0);
    s->armed = 0;
}

/* The engine's fused step (no aggregation or update before the next
 * sample): pick the next samples first, so that in rw mode they go to the
 * agent with the CHECK and it arms them as soon as it has answered: one
 * wake-up of the agent per sample instead of two (each one preempts the
 * program on its CPU and costs the agent a poll, a receive and a /proc
 * read). */
static void uffd_check_and_pick(struct vmlab_damon *d)
{
    struct uffd_state *s = d->backend;
    struct vmlab_regions *rs = &d->targets[0].regions;
    size_t n = 0;

    s->prearmed = 0;
    for (size_t i = 0; i < rs->n; i++)
        rs->v[i].sampling_addr = vmlab_damon_pick_sample(&rs->v[i], &d->rng, d->page);
    if (s->mode == VMLAB_UFFD_WRITE || !s->armed || s->st.agent_gone || grow(s, rs->n) < 0) {
        uffd_check(d);   /* prepare() arms the next ones */
        return;
    }
    n = gather(d, s, s->next, s->nridx);
    if (n > VMLAB_AGENT_MAX_BATCH)
        n = VMLAB_AGENT_MAX_BATCH;
    rw_check(d, s, n);
    s->armed = 0;
    if (s->st.agent_gone)
        return;
    {   /* the batch sent is the one armed now */
        uint64_t *a = s->addr;
        uint32_t *r = s->ridx;
        s->addr = s->next;
        s->next = a;
        s->ridx = s->nridx;
        s->nridx = r;
    }
    s->n = n;
    s->st.armed += n;
    s->armed = s->prearmed = 1;
}

static int uffd_ranges(struct vmlab_damon *d, size_t t, struct vmlab_range **out, size_t *n)
{
    struct uffd_state *s = d->backend;
    struct vmlab_range *vmas = NULL;
    size_t nv = 0;
    int e;

    (void)t;
    e = vmlab_proc_ranges(s->p->pid, s->p->skip, s->p->nskip, out, n, &s->st.unmon_bytes, &vmas, &nv);
    if (e == -ENOENT || e == -ESRCH) {
        /* nothing to watch (yet, or any more: the command ended, even
         * before the monitor was set up): no regions, not an error */
        *out = NULL;
        *n = 0;
        return 0;
    }
    if (e < 0)
        return e;
    if (s->mode == VMLAB_UFFD_WRITE && (nv != s->nvmas || (nv && memcmp(vmas, s->vmas, nv * sizeof *vmas)))) {
        /* new mappings to register; after an exec, a new mm: its pagemap */
        char path[64];
        int fd;
        snprintf(path, sizeof path, "/proc/%d/pagemap", (int)s->p->pid);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
            close(s->pagemap);
            s->pagemap = fd;
        }
        s->need_wp = 1;
    }
    free(s->vmas);
    s->vmas = vmas;
    s->nvmas = nv;
    return 0;
}

/* A command the monitor started ends with it: the agent has put every
 * page back (BYE); SIGTERM, then SIGKILL if it is still there after 1 s. */
static void end_command(struct vmlab_agent_proc *p)
{
    vmlab_agent_end(p);
}

/* DAMOS actions on the target's memory: process_madvise(2) through a
 * pidfd (the advice it takes: COLD, PAGEOUT, WILLNEED, COLLAPSE).  An
 * empty range asks whether the action is one of them. */
static int uffd_apply(struct vmlab_damon *d, size_t t, int action, uint64_t start, uint64_t end)
{
    struct uffd_state *s = d->backend;
    struct iovec iov = {(void *)(uintptr_t)start, end - start};
    int adv;

    (void)t;
    switch (action) {
    case VMLAB_DAMOS_STAT: return 0;
    case VMLAB_DAMOS_COLD: adv = MADV_COLD; break;
    case VMLAB_DAMOS_PAGEOUT: adv = MADV_PAGEOUT; break;
    case VMLAB_DAMOS_WILLNEED: adv = MADV_WILLNEED; break;
    case VMLAB_DAMOS_COLLAPSE: adv = MADV_COLLAPSE; break;
    default: return -EOPNOTSUPP;
    }
    if (end <= start)
        return 0;
    if (s->p->reaped)
        return -ESRCH;
    if (s->pidfd < 0 && (s->pidfd = (int)syscall(SYS_pidfd_open, s->p->pid, 0)) < 0) {
        int e = -errno;
        s->pidfd = -1;
        return e;
    }
    /* ENOMEM: the range has holes; like madvise, it advised what is mapped */
    if (syscall(SYS_process_madvise, s->pidfd, &iov, 1UL, adv, 0U) < 0 && errno != ENOMEM)
        return -errno;
    return 0;
}

static void uffd_cleanup(struct vmlab_damon *d)
{
    struct uffd_state *s = d->backend;
    if (!s)
        return;
    if (!s->st.agent_gone && s->p->sock >= 0)
        vmlab_agent_send(s->p->sock, VMLAB_AGENT_BYE, 0, 0, NULL, 0);
    if (s->pagemap >= 0)
        close(s->pagemap);
    if (s->pidfd >= 0)
        close(s->pidfd);
    if (s->p == &s->own)
        end_command(&s->own);
    free(s->addr);
    free(s->len);
    free(s->ridx);
    free(s->res);
    free(s->next);
    free(s->nridx);
    free(s->vmas);
    free(s->wp);
    free(s);
    d->backend = NULL;
}

const struct vmlab_damon_ops vmlab_damon_uffd_ops = {
    .name = "uffd",
    .caps = VMLAB_DAMON_CAP_THREAD | VMLAB_DAMON_CAP_HOOKS | VMLAB_DAMON_CAP_REMOTE,
    .apply = uffd_apply,
    .init = uffd_init,
    .prepare = uffd_prepare,
    .check = uffd_check,
    .check_and_pick = uffd_check_and_pick,
    .ranges = uffd_ranges,
    .cleanup = uffd_cleanup,
};

int vmlab_damon_uffd_attach(struct vmlab_damon *d, struct vmlab_agent_proc *p, enum vmlab_uffd_mode mode)
{
    struct uffd_state *s;

    if (d->nr_targets != 1 || p->sock < 0)
        return -EINVAL;
    if (mode == VMLAB_UFFD_WRITE && !(p->features & UFFD_FEATURE_WP_ASYNC))
        return -ENOTSUP;
    if (!(s = calloc(1, sizeof *s)))
        return -ENOMEM;
    s->p = p;
    s->mode = mode;
    s->st.mode = mode;
    s->pagemap = -1;
    s->pidfd = -1;
    s->need_wp = mode == VMLAB_UFFD_WRITE;
    if (mode == VMLAB_UFFD_WRITE) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/pagemap", (int)p->pid);
        if ((s->pagemap = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            int e = -errno;
            free(s);
            return e;
        }
    }
    if (grow(s, (size_t)d->attrs.max_nr_regions * 3 + 64) < 0) {
        d->backend = s;
        uffd_cleanup(d);
        return -ENOMEM;
    }
    d->backend = s;
    d->ops = &vmlab_damon_uffd_ops;
    d->mode = mode == VMLAB_UFFD_WRITE ? "write" : "rw";
    return 0;
}

int vmlab_damon_uffd_open(struct vmlab_damon *d, const struct vmlab_damon_opts *o, char *why, size_t len)
{
    struct vmlab_agent_proc own, *p = o->proc;
    enum vmlab_uffd_mode mode = o->uffd_mode == VMLAB_UFFD_WRITE ? VMLAB_UFFD_WRITE : VMLAB_UFFD_RW;
    int e;

    if (o->nr_targets || !!o->argv == !!o->proc) {
        snprintf(why, len, "the uffd backend's target is one process: a command to start with the "
                 "agent, or one started with it");
        return -EINVAL;
    }
    if (o->argv) {
        if (!o->argv[0]) {
            snprintf(why, len, "the uffd target's command is empty");
            return -EINVAL;
        }
        if ((e = vmlab_agent_spawn(&own, o->argv, why, len)) < 0)
            return e;
        if ((e = vmlab_agent_hello_for(&own, o->argv[0], 10.0, why, len)) < 0) {
            end_command(&own);
            return e;
        }
        p = &own;
    } else if (p->borrowed) {   /* a vmlab.proc child: the monitor takes its socket */
        own = *p;
        o->proc->sock = -1;
        p = &own;
    }
    if (mode == VMLAB_UFFD_WRITE && !(p->features & UFFD_FEATURE_WP_ASYNC)) {
        snprintf(why, len, "write mode needs UFFD_FEATURE_WP_ASYNC (Linux 6.7 or later)");
        e = -ENOTSUP;
    } else if ((e = vmlab_damon_uffd_attach(d, p, mode)) < 0) {
        snprintf(why, len, "attaching the uffd backend to pid %d: %s", (int)p->pid, strerror(-e));
    }
    if (e < 0) {
        if (p == &own)
            end_command(&own);
        return e;
    }
    if (p == &own) {
        struct uffd_state *s = d->backend;
        s->own = own;
        s->p = &s->own;
    }
    return 0;
}

int vmlab_damon_uffd_command(struct vmlab_damon *d, pid_t *pid, int *status)
{
    struct uffd_state *s = d->backend;
    if (d->ops == &vmlab_damon_uffd_kids_ops)   /* children followed: the command's */
        return vmlab_damon_uffd_kids_command(d, pid, status);
    if (!s || d->ops != &vmlab_damon_uffd_ops)
        return -EINVAL;
    *pid = s->p->pid;
    if (!s->p->reaped)
        vmlab_agent_reap(s->p, 0);
    *status = s->p->reaped ? s->p->status : -1;
    return s->p->reaped;
}

void vmlab_damon_uffd_stats(const struct vmlab_damon *d, struct vmlab_uffd_stats *out)
{
    const struct uffd_state *s = d->backend;
    if (d->ops == &vmlab_damon_uffd_kids_ops)   /* children followed: every target's */
        vmlab_damon_uffd_kids_sum(d, out);
    else if (s && d->ops == &vmlab_damon_uffd_ops)
        *out = s->st;
    else
        memset(out, 0, sizeof *out);
}
