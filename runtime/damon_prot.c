/* The prot backend: vmtrace's trick in user space.  Each sampled page is
 * made PROT_NONE; the first touch faults, the fault hook records the access
 * and restores the page's protection, and the touch goes on.
 *
 * The protection a page gets back is the seg engine's, not a copy taken at
 * attach: the backend keeps a map of runs (address ranges and their
 * protection) read from /proc/self/maps once, and listens to the seg
 * engine (vmlab_seg_listen) to follow every protect and unmap of a watched
 * range.  A protect re-arms the pages it disarmed and gives new ones the
 * new protection; an unmap gives armed pages back first and marks the
 * range gone, so nothing is ever restored onto a page that is not there.
 *
 * Locks and races:
 *  - `mu` (recursive) is held by prepare and check on the sampling thread
 *    and by a seg listener from before() to after() on the thread changing
 *    the segment: the runs and the slots' protections change under it;
 *  - the fault hook (any thread, signal context) takes no lock: slots live
 *    in two generations (this sample's and the last one's); the sampler
 *    rewrites (and may grow) the older one only after publishing it empty
 *    and waiting for the hooks in flight (inflight == 0);
 *  - a fault whose slot vanished before the hook ran (the sampler restored
 *    the page and rewrote its generation meanwhile: the faulting thread
 *    was preempted for two samples) is retried; a second unclaimed fault
 *    on the same page with no prepare() between (the same `epoch`) is a
 *    real one and goes on to the guards and the previous handler.  Without
 *    the epoch, the page of a stale fault long ago (the retry succeeded)
 *    turned the next stale fault on it into a "real" one: CI's make test
 *    once raised on a page the sampler had armed. */
#include "vmlab/damon.h"
#include "vmlab/damon_prot.h"
#include "vmlab/fault.h"
#include "vmlab/maps.h"
#include "vmlab/seg.h"
#include "vmlab/units.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GONE (-1)   /* a run's protection once its memory was unmapped */

struct slot {
    uintptr_t page;      /* 0: not armed (its memory is gone) */
    int accessed;
    int prot;            /* what the page gets back */
};

struct run {
    uintptr_t start, end;
    int prot;            /* or GONE */
};

struct prot_state {
    pthread_mutex_t mu;
    struct slot *gen[2];
    size_t n[2], cap[2];
    int cur;
    int checked;                 /* check() has run on gen[cur] (its untouched
                                    pages are restored): until the next
                                    prepare(), a protect must not re-arm them */
    int inflight;
    struct run *runs;            /* sorted, not overlapping */
    size_t nr_runs, cap_runs;
    struct vmlab_range *bounds;  /* each target's span, for stale faults */
    size_t nr_targets;
    uint64_t faults;
    unsigned long epoch;         /* prepare()s begun: see on_fault */
    uintptr_t pagemask;
    struct vmlab_seg_listener listener;
};

static __thread uintptr_t last_unclaimed;
static __thread unsigned long last_epoch;
/* prot monitors alive: their armed pages show as ---p in /proc/self/maps */
static int nr_live;
static __thread char why_buf[256];

const char *vmlab_damon_prot_why(void) { return why_buf; }

/* ---- the fault hook (signal context) --------------------------------------- */

static int claim(struct prot_state *ps, int g, uintptr_t page)
{
    size_t n = __atomic_load_n(&ps->n[g], __ATOMIC_SEQ_CST);
    struct slot *s = __atomic_load_n(&ps->gen[g], __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < n; i++) {
        if (__atomic_load_n(&s[i].page, __ATOMIC_ACQUIRE) == page) {
            __atomic_store_n(&s[i].accessed, 1, __ATOMIC_SEQ_CST);
            mprotect((void *)page, ps->pagemask + 1, __atomic_load_n(&s[i].prot, __ATOMIC_SEQ_CST));
            return 1;
        }
    }
    return 0;
}

static int on_fault(void *addr, int sig, int code, void *ctx)
{
    struct prot_state *ps = ctx;
    uintptr_t page = (uintptr_t)addr & ~ps->pagemask;
    int cur, handled = 0;
    unsigned long epoch;

    if (sig != SIGSEGV || code != SEGV_ACCERR || page == 0)
        return 0;
    __atomic_add_fetch(&ps->inflight, 1, __ATOMIC_SEQ_CST);
    epoch = __atomic_load_n(&ps->epoch, __ATOMIC_SEQ_CST);
    cur = __atomic_load_n(&ps->cur, __ATOMIC_ACQUIRE);
    if (claim(ps, cur, page) || claim(ps, !cur, page)) {
        handled = 1;
        __atomic_add_fetch(&ps->faults, 1, __ATOMIC_RELAXED);
        last_unclaimed = 0;
    } else if (page != last_unclaimed || epoch != last_epoch) {
        for (size_t t = 0; t < ps->nr_targets; t++)
            if (page >= ps->bounds[t].start && page < ps->bounds[t].end) {
                last_unclaimed = page;   /* maybe stale: retry */
                last_epoch = epoch;
                handled = 1;
            }
    } else {
        last_unclaimed = 0;
    }
    __atomic_sub_fetch(&ps->inflight, 1, __ATOMIC_SEQ_CST);
    return handled;
}

static void wait_hooks(struct prot_state *ps)
{
    while (__atomic_load_n(&ps->inflight, __ATOMIC_SEQ_CST))
        ;
}

/* ---- runs: the protection each watched page gets back ------------------------ */

/* The run holding page, or NULL (binary search). */
static const struct run *run_at(const struct prot_state *ps, uintptr_t page)
{
    size_t lo = 0, hi = ps->nr_runs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (page < ps->runs[mid].start)
            hi = mid;
        else if (page >= ps->runs[mid].end)
            lo = mid + 1;
        else
            return &ps->runs[mid];
    }
    return NULL;
}

/* Room for `more` runs: done in a listener's before(), so a change that
 * cannot be recorded is refused rather than half applied. */
static int reserve_runs(struct prot_state *ps, size_t more)
{
    if (ps->nr_runs + more > ps->cap_runs) {
        size_t cap = (ps->nr_runs + more) * 2;
        struct run *v = realloc(ps->runs, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        ps->runs = v;
        ps->cap_runs = cap;
    }
    return 0;
}

/* Give [start, end) the protection prot where runs cover it (at most two
 * new runs: the cut ends).  Room is reserved. */
static void set_runs(struct prot_state *ps, uintptr_t start, uintptr_t end, int prot)
{
    size_t n = ps->nr_runs, k = 0;
    struct run *v = ps->runs, tmp[3];

    for (size_t i = 0; i < n; i++) {
        struct run r = v[i];
        size_t m = 0;
        if (r.end <= start || r.start >= end) {
            v[k++] = r;
            continue;
        }
        if (r.start < start)
            tmp[m++] = (struct run){r.start, start, r.prot};
        tmp[m++] = (struct run){r.start > start ? r.start : start, r.end < end ? r.end : end, prot};
        if (r.end > end)
            tmp[m++] = (struct run){end, r.end, r.prot};
        /* the cut pieces go in place; later runs move right by m - 1 */
        if (m > 1)
            memmove(&v[i + m], &v[i + 1], (n - i - 1) * sizeof *v);
        memcpy(&v[k], tmp, m * sizeof *v);
        k += m;
        n += m - 1;
        i += m - 1;
    }
    ps->nr_runs = k;
}

/* A ---p run may be another prot monitor's armed page rather than the
 * memory's protection: the segment holding it says what it really is
 * (a segment protected "none" on purpose says none). */
static int seg_prot_of(uintptr_t addr, int def)
{
    for (struct vmlab_seg *sg = vmlab_seg_first(); sg; sg = sg->next)
        if (sg->mapped && addr >= (uintptr_t)sg->addr && addr < (uintptr_t)sg->addr + sg->size)
            return sg->prot;
    return def;
}

static int add_mapping_run(void *ctx, const struct vmlab_mapping *m)
{
    struct prot_state *ps = ctx;
    const struct vmlab_range *b = &ps->bounds[ps->nr_targets];   /* the range being read */
    char rwx[4] = {m->perms[0], m->perms[1], m->perms[2], '\0'};
    uintptr_t s = m->start > b->start ? m->start : b->start;
    uintptr_t e = m->end < b->end ? m->end : b->end;
    int prot;

    if (m->end <= b->start)
        return 0;
    if (m->start >= b->end)
        return 1;
    if (vmlab_parse_prot(rwx, &prot) < 0 || reserve_runs(ps, 1) < 0)
        return -ENOMEM;
    if (prot == PROT_NONE && __atomic_load_n(&nr_live, __ATOMIC_SEQ_CST))
        prot = seg_prot_of(s, prot);
    ps->runs[ps->nr_runs++] = (struct run){s, e, prot};
    return 0;
}

static int cmp_runs(const void *a, const void *b)
{
    const struct run *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* ---- the seg engine tells us about protect and unmap ------------------------ */

static int overlaps(const struct prot_state *ps, uintptr_t start, uintptr_t end)
{
    for (size_t i = 0; i < ps->nr_runs; i++)
        if (ps->runs[i].start < end && ps->runs[i].end > start)
            return 1;
    return 0;
}

static int seg_before(void *ctx, const struct vmlab_seg *s, enum vmlab_seg_event ev, uintptr_t start,
                      uintptr_t end, int prot)
{
    struct prot_state *ps = ctx;
    (void)s;
    (void)prot;
    pthread_mutex_lock(&ps->mu);
    if (!overlaps(ps, start, end))
        return 0;
    if (reserve_runs(ps, 2) < 0) {
        pthread_mutex_unlock(&ps->mu);
        return -ENOMEM;
    }
    if (ev == VMLAB_SEG_UNMAP) {
        /* Give armed pages back while they are still there (a wrap's
         * memory stays mapped), then forget them: a hook racing us
         * restores the same protection, and none claims them after. */
        for (int g = 0; g < 2; g++)
            for (size_t i = 0; i < ps->n[g]; i++) {
                struct slot *sl = &ps->gen[g][i];
                uintptr_t page = __atomic_load_n(&sl->page, __ATOMIC_SEQ_CST);
                if (page && page >= start && page < end) {
                    mprotect((void *)page, ps->pagemask + 1, sl->prot);
                    __atomic_store_n(&sl->page, 0, __ATOMIC_SEQ_CST);
                }
            }
        wait_hooks(ps);
    }
    return 0;
}

static void seg_after(void *ctx, const struct vmlab_seg *s, enum vmlab_seg_event ev, uintptr_t start,
                      uintptr_t end, int prot, int result)
{
    struct prot_state *ps = ctx;
    (void)s;
    if (result == 0 && overlaps(ps, start, end)) {
        set_runs(ps, start, end, ev == VMLAB_SEG_UNMAP ? GONE : prot);
        if (ev == VMLAB_SEG_PROTECT) {
            /* Hooks from now on restore the new protection; then pages the
             * mprotect disarmed are armed again and pages already touched
             * get the new protection (a hook may have restored the old). */
            for (int g = 0; g < 2; g++)
                for (size_t i = 0; i < ps->n[g]; i++) {
                    struct slot *sl = &ps->gen[g][i];
                    if (sl->page >= start && sl->page < end)
                        __atomic_store_n(&sl->prot, prot, __ATOMIC_SEQ_CST);
                }
            wait_hooks(ps);
            /* the older generation first: a page sampled twice in a row
             * ends armed, as the current sample wants */
            for (int k = 0, g = !ps->cur; k < 2; k++, g = !g)
                for (size_t i = 0; i < ps->n[g]; i++) {
                    struct slot *sl = &ps->gen[g][i];
                    uintptr_t page = __atomic_load_n(&sl->page, __ATOMIC_SEQ_CST);
                    if (page < start || page >= end)
                        continue;
                    if (g == ps->cur && !ps->checked && !__atomic_load_n(&sl->accessed, __ATOMIC_SEQ_CST))
                        mprotect((void *)page, ps->pagemask + 1, PROT_NONE);
                    else
                        mprotect((void *)page, ps->pagemask + 1, prot);
                }
        }
    }
    pthread_mutex_unlock(&ps->mu);
}

/* ---- the backend's ops --------------------------------------------------------- */

static int prot_init(struct vmlab_damon *d)
{
    (void)d;
    return 0;
}

/* Room for need slots in generation g, which no hook may be reading (the
 * caller published it empty and waited).  A table that cannot grow keeps
 * what it has: those regions go unsampled this time, and stats say so. */
static int grow(struct prot_state *ps, int g, size_t need)
{
    struct slot *v;
    size_t cap;

    if (need <= ps->cap[g])
        return 0;
    cap = need * 2;
    v = realloc(ps->gen[g], cap * sizeof *v);
    if (!v)
        return -ENOMEM;
    __atomic_store_n(&ps->gen[g], v, __ATOMIC_SEQ_CST);
    ps->cap[g] = cap;
    return 0;
}

static void prot_prepare(struct vmlab_damon *d)
{
    struct prot_state *ps = d->backend;
    int next = !ps->cur;
    size_t k = 0, need = 0;
    struct slot *v;

    pthread_mutex_lock(&ps->mu);
    __atomic_add_fetch(&ps->epoch, 1, __ATOMIC_SEQ_CST);
    /* Nobody may be reading the generation we are about to rewrite: hooks
     * that start after this store see it empty. */
    __atomic_store_n(&ps->n[next], 0, __ATOMIC_SEQ_CST);
    wait_hooks(ps);
    for (size_t t = 0; t < d->nr_targets; t++)
        need += d->targets[t].regions.n;
    if (grow(ps, next, need) < 0)
        need = ps->cap[next];
    v = ps->gen[next];
    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_regions *rs = &d->targets[t].regions;
        for (size_t i = 0; i < rs->n && k < need; i++) {
            struct slot *sl = &v[k++];
            uintptr_t page = rs->v[i].sampling_addr & ~ps->pagemask;
            const struct run *r = run_at(ps, page);
            /* gone or never ours: a slot that arms nothing keeps the
             * slots in step with the regions for check() */
            sl->page = r && r->prot != GONE ? page : 0;
            sl->prot = r && r->prot != GONE ? r->prot : PROT_NONE;
            sl->accessed = 0;
        }
    }
    __atomic_store_n(&ps->n[next], k, __ATOMIC_SEQ_CST);
    __atomic_store_n(&ps->cur, next, __ATOMIC_SEQ_CST);
    ps->checked = 0;
    for (size_t i = 0; i < k; i++)
        if (v[i].page)
            mprotect((void *)v[i].page, ps->pagemask + 1, PROT_NONE);
    pthread_mutex_unlock(&ps->mu);
}

static void prot_check(struct vmlab_damon *d)
{
    struct prot_state *ps = d->backend;
    struct slot *s;
    size_t k = 0, n;

    pthread_mutex_lock(&ps->mu);
    s = ps->gen[ps->cur];
    n = ps->n[ps->cur];
    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_regions *rs = &d->targets[t].regions;
        for (size_t i = 0; i < rs->n && k < n; i++, k++) {
            if (!s[k].page)
                continue;
            if (__atomic_load_n(&s[k].accessed, __ATOMIC_SEQ_CST))
                rs->v[i].nr_accesses++;
            else
                mprotect((void *)s[k].page, ps->pagemask + 1, s[k].prot);  /* not touched: undo */
        }
    }
    /* Between here and the next prepare() a protect may come (seg_after):
     * a page re-armed then would be in no generation after the next one. */
    ps->checked = 1;
    d->stats.faults = __atomic_load_n(&ps->faults, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&ps->mu);
}

static void free_state(struct prot_state *ps)
{
    if (ps->listener.before)
        __atomic_sub_fetch(&nr_live, 1, __ATOMIC_SEQ_CST);
    free(ps->gen[0]);
    free(ps->gen[1]);
    free(ps->runs);
    free(ps->bounds);
    pthread_mutex_destroy(&ps->mu);
    free(ps);
}

static void prot_cleanup(struct vmlab_damon *d)
{
    struct prot_state *ps = d->backend;
    if (!ps)
        return;
    vmlab_seg_unlisten(&ps->listener);
    pthread_mutex_lock(&ps->mu);
    /* Give every page its protection back before forgetting it. */
    for (int g = 0; g < 2; g++)
        for (size_t i = 0; i < ps->n[g]; i++)
            if (ps->gen[g][i].page)
                mprotect((void *)ps->gen[g][i].page, ps->pagemask + 1, ps->gen[g][i].prot);
    vmlab_fault_remove_hook(on_fault, ps);
    wait_hooks(ps);
    pthread_mutex_unlock(&ps->mu);
    free_state(ps);
    d->backend = NULL;
}

const struct vmlab_damon_ops vmlab_damon_prot_ops = {
    .name = "prot",
    .caps = VMLAB_DAMON_CAP_STEP | VMLAB_DAMON_CAP_THREAD | VMLAB_DAMON_CAP_APPLY | VMLAB_DAMON_CAP_HOOKS,
    .init = prot_init,
    .prepare = prot_prepare,
    .check = prot_check,
    .cleanup = prot_cleanup,
};

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why_buf, sizeof why_buf, fmt, ap);
    va_end(ap);
    return -err;
}

/* The protections come from /proc/self/maps and the seg engine, not from
 * the caller: `prot` is accepted for the callers of the old interface and
 * not used. */
int vmlab_damon_prot_attach(struct vmlab_damon *d, const int *prot)
{
    struct prot_state *ps;
    pthread_mutexattr_t ma;
    /* a first guess; prepare() grows the table to the regions there are
     * (max_nr_regions is only a target, and may be absurd) */
    size_t cap = d->attrs.max_nr_regions < 1024 ? (size_t)d->attrs.max_nr_regions * 3 + 64 : 3136;
    int e;

    (void)prot;
    why_buf[0] = '\0';
    if ((e = vmlab_damon_prot_check_targets(d, why_buf, sizeof why_buf)) < 0)
        return e;
    if (!(ps = calloc(1, sizeof *ps)))
        return fail(ENOMEM, "not enough memory for the prot backend");
    ps->pagemask = vmlab_pagesize() - 1;
    ps->cap[0] = ps->cap[1] = cap;
    ps->gen[0] = calloc(cap, sizeof(struct slot));
    ps->gen[1] = calloc(cap, sizeof(struct slot));
    ps->bounds = calloc(d->nr_targets + 1, sizeof *ps->bounds);
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&ps->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    if (!ps->gen[0] || !ps->gen[1] || !ps->bounds) {
        free_state(ps);
        return fail(ENOMEM, "not enough memory for the prot backend");
    }
    /* the runs: each target range's mappings, as the kernel has them now */
    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_damon_target *tg = &d->targets[t];
        for (size_t i = 0; i < tg->nr_ranges; i++) {
            ps->nr_targets = t;          /* add_mapping_run reads bounds[t] */
            ps->bounds[t] = tg->ranges[i];
            if ((e = vmlab_maps_each(add_mapping_run, ps)) < 0) {
                free_state(ps);
                return fail(-e, "reading /proc/self/maps: %s", strerror(-e));
            }
        }
        if (tg->nr_ranges) {
            ps->bounds[t].start = tg->ranges[0].start;
            ps->bounds[t].end = tg->ranges[tg->nr_ranges - 1].end;
        }
    }
    ps->nr_targets = d->nr_targets;
    qsort(ps->runs, ps->nr_runs, sizeof *ps->runs, cmp_runs);
    if (vmlab_fault_add_hook(on_fault, ps) < 0) {
        e = errno;
        free_state(ps);
        if (e == ENOSPC)
            return fail(EBUSY, "%d prot monitors run already: the limit of the runtime's fault "
                        "hooks (close one first)", VMLAB_FAULT_MAX_HOOKS);
        return fail(e, "installing the fault handler: %s", strerror(e));
    }
    ps->listener = (struct vmlab_seg_listener){seg_before, seg_after, ps, NULL};
    vmlab_seg_listen(&ps->listener);
    __atomic_add_fetch(&nr_live, 1, __ATOMIC_SEQ_CST);
    d->backend = ps;
    d->ops = &vmlab_damon_prot_ops;
    return 0;
}
