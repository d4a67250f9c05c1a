/* Tracing segments of this process by page protection (vmtrace's
 * kptecleaner in user space).  The fault hook runs in signal context: it
 * only mprotects one page, reads the clock and fills a slot of a ring of
 * events; a thread revokes every page each interval and drains the ring
 * into the trace writer (zlib is not for signal handlers). */
#include "trace_pkey.h"
#include "trace_seg.h"
#include "vmlab/fault.h"
#include "vmlab/seg.h"
#include "vmlab/trace.h"
#include "vmlab/units.h"

#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__thread uint32_t tseg_my_tid;

static void log_event(struct vmlab_tracer *t, size_t seg, uint64_t page, int kind)
{
    unsigned long i = atomic_fetch_add(&t->head, 1);
    if (i - t->tail >= t->cap) { /* full: the drain is behind */
        atomic_fetch_add(&t->dropped, 1);
        return;
    }
    struct slot *s = &t->ring[i % t->cap];
    s->ev.time = (uint64_t)((vmlab_now() - t->t0) * 1e6);
    s->ev.tid = tseg_tid();
    s->ev.target = (uint32_t)seg + 1;
    s->ev.page = page;
    s->ev.kind = (uint8_t)kind;
    atomic_store_explicit(&s->ready, 1, memory_order_release);
}

/* exact mode: keep `window` pages open, close the oldest */
static void window_push(struct vmlab_tracer *t, char *pa, int me, uint32_t *v)
{
    if (t->nwin == t->window) {
        uintptr_t old = (uintptr_t)t->win[t->wpos];
        for (size_t j = 0; j < t->nsegs; j++) {
            uintptr_t bj = (uintptr_t)t->segs[j].addr;
            if (old >= bj && old < bj + t->segs[j].size) {
                tpk_close(t, j, (old - bj) / t->psz, me, v);
                break;
            }
        }
    } else
        t->nwin++;
    t->win[t->wpos] = (uint64_t)(uintptr_t)pa;
    t->wpos = (t->wpos + 1) % t->window;
}

/* A fault on page pg of segment i, under the lock.  The access kind comes
 * from the page-fault error code: a first access that writes is opened
 * for writing at once and logged as a read and a write (the same events
 * as a read fault then a write fault, one signal fewer). */
static int on_page(struct vmlab_tracer *t, size_t i, size_t pg, int code, void *uc)
{
    uint8_t st = t->state[i][pg], pp = t->pprot[i][pg];
    int w = vmlab_pkey_fault_write(uc), r = 0, me = -1;
    int need = w > 0 ? PG_WRITE : w == 0 ? PG_READ : st == PG_READ ? PG_WRITE : PG_READ;
    uint32_t *pkru = NULL, v = 0;
    char *pa = page_addr(t, i, pg);
    uint64_t page = (uint64_t)(uintptr_t)pa / t->psz;

    if (t->pslot && !t->keys_off) {
        if ((pkru = vmlab_pkey_frame(uc)) != NULL)
            v = tpk_sync(t, *pkru, &me);
        else
            tpk_keys_off(t);
    }
    if (!(pp & PROT_READ) || (need == PG_WRITE && !(pp & PROT_WRITE)))
        goto out; /* not ours: the guards raise it */
    if (code == SEGV_PKUERR && !t->pslot)
        goto out; /* someone else's key */
    if (st >= need) {
        /* Open already: another thread opened it or raced us (a grant of
         * its key to this thread, or nothing to do), or someone else
         * changed its protection behind the seg engine's back (a
         * `prot` sampler): set it again, or the access would fault
         * forever. */
        int k = t->pslot ? t->pslot[i][pg] - 1 : -1;
        if (k >= 0 && tpk_raise(t, i, pg, st, st, me, &v))
            goto out;
        k = t->pslot ? t->pslot[i][pg] - 1 : -1;
        if (k >= 0 && code == SEGV_ACCERR)
            pkey_mprotect(pa, t->psz, pp, t->ks[k].key);
        else if (k < 0)
            mprotect(pa, t->psz, protof(st));
        r = 1;
        goto out;
    }
    if (tpk_raise(t, i, pg, st, need, me, &v))
        goto out;
    t->state[i][pg] = (uint8_t)need;
    if (st == PG_NONE) {
        if (t->interval > 0)
            t->opened[i][t->nopened[i]++] = (uint32_t)pg;
        log_event(t, i, page, VMLAB_TRACE_READ);
        if (t->interval == 0)
            window_push(t, pa, me, &v);
    }
    if (need == PG_WRITE)
        log_event(t, i, page, VMLAB_TRACE_WRITE);
    r = 1;
out:
    if (pkru)
        *pkru = v;
    return r;
}

static int hook(void *addr, int sig, int code, void *ctx)
{
    struct vmlab_tracer *t = ctx;
    uintptr_t a = (uintptr_t)addr;
    if (sig != SIGSEGV || (code != SEGV_ACCERR && code != SEGV_PKUERR))
        return 0;
    for (size_t i = 0; i < t->nsegs; i++) {
        struct tseg *s = &t->segs[i];
        uintptr_t b = (uintptr_t)s->addr;
        if (a < b || a >= b + s->size)
            continue;
        void *uc = vmlab_fault_ucontext();
        lock(t);
        int r = on_page(t, i, (a - b) / t->psz, code, uc);
        unlock(t);
        return r;
    }
    return 0;
}

/* A one-page mprotect inside a bigger mapping splits it in three, and
 * the next one merges them back: VMA surgery that cost more than the
 * protection change itself.  Every other page marked MADV_DONTDUMP makes
 * neighbours unmergeable, so each page is a VMA of its own for the whole
 * run and an mprotect only changes it.  The price: those pages are left
 * out of a core dump while tracing, and a VMA per page, so only up to
 * SPLIT_MAX pages (vm.max_map_count is 65530 by default).  Exact mode
 * only: an interval's revocation would then change every page's VMA one
 * by one (measured slower than the merges it saves). */
enum { SPLIT_MAX = 16384 };
static void split_pages(struct vmlab_tracer *t, int on)
{
    for (size_t i = 0; i < t->nsegs; i++) {
        struct tseg *s = &t->segs[i];
        if (!on) {
            madvise(s->addr, s->size, MADV_DODUMP);
            continue;
        }
        for (size_t pg = 1; pg < s->size / t->psz; pg += 2)
            madvise((char *)s->addr + pg * t->psz, t->psz, MADV_DONTDUMP);
    }
}

static void revoke_all(struct vmlab_tracer *t)
{
    lock(t);
    for (size_t i = 0; i < t->nsegs; i++) {
        mprotect(t->segs[i].addr, t->segs[i].size, PROT_NONE);
        memset(t->state[i], PG_NONE, t->segs[i].size / t->psz);
        t->nopened[i] = 0;
    }
    t->nwin = t->wpos = 0;
    unlock(t);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Interval mode: close again only the pages opened since the last time,
 * one mprotect per contiguous run of them.  A whole-segment mprotect
 * walks every page table entry of the segment each interval, which on a
 * big segment touched sparsely costs far more than the touched pages. */
static void revoke_opened(struct vmlab_tracer *t)
{
    lock(t);
    for (size_t i = 0; i < t->nsegs; i++) {
        uint32_t *o = t->opened[i];
        size_t n = t->nopened[i], k = 1;
        while (k < n && o[k - 1] < o[k])
            k++;
        if (k < n) /* touched out of order: runs need them sorted */
            qsort(o, n, sizeof *o, cmp_u32);
        for (size_t a = 0; a < n;) {
            size_t b = a + 1;
            if (!t->pprot[i][o[a]]) { /* unmapped meanwhile (seg_after) */
                a++;
                continue;
            }
            while (b < n && o[b] == o[b - 1] + 1 && t->pprot[i][o[b]])
                b++;
            mprotect((char *)t->segs[i].addr + (size_t)o[a] * t->psz, (b - a) * t->psz, PROT_NONE);
            for (size_t j = a; j < b; j++)
                t->state[i][o[j]] = PG_NONE;
            a = b;
        }
        t->nopened[i] = 0;
    }
    unlock(t);
}

static void drain(struct vmlab_tracer *t)
{
    unsigned long head = atomic_load(&t->head);
    while (t->tail < head) {
        struct slot *s = &t->ring[t->tail % t->cap];
        if (!atomic_load_explicit(&s->ready, memory_order_acquire)) {
            if (atomic_load(&t->dropped) && t->tail + t->cap <= head)
                ; /* a dropped index never becomes ready: skip it below */
            else
                break;
        }
        if (atomic_load_explicit(&s->ready, memory_order_acquire))
            vmlab_trace_write(t->w, &s->ev);
        atomic_store(&s->ready, 0);
        t->tail++;
    }
}

/* The ring holds a second or more of events at the fastest fault rate,
 * so draining every DRAIN_PERIOD is plenty; waking less often keeps this
 * thread off the other CPU, where it would hold the traced mm and make
 * every mprotect's TLB flush reach it. */
#define DRAIN_PERIOD 0.02

static void *run(void *arg)
{
    struct vmlab_tracer *t = arg;
    double next = vmlab_now() + t->interval, drained = vmlab_now();
    pthread_mutex_lock(&t->mu);
    while (!atomic_load(&t->stop)) {
        double now = vmlab_now(), until = drained + DRAIN_PERIOD;
        if (t->interval > 0 && next < until)
            until = next;
        if (until > now) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double d = until - now;
            ts.tv_sec += (time_t)d;
            ts.tv_nsec += (long)((d - (double)(time_t)d) * 1e9);
            if (ts.tv_nsec >= 1000000000L)
                ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&t->cv, &t->mu, &ts);
            continue;
        }
        if (t->interval > 0 && now >= next) {
            revoke_opened(t);
            next += t->interval;
            if (next < vmlab_now())
                next = vmlab_now() + t->interval;
        }
        if (now >= drained + DRAIN_PERIOD || t->interval == 0) {
            drain(t);
            drained = now;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static void free_tracer(struct vmlab_tracer *t)
{
    for (size_t i = 0; i < t->nsegs; i++) {
        if (t->state)
            free(t->state[i]);
        if (t->opened)
            free(t->opened[i]);
        if (t->pprot)
            free(t->pprot[i]);
        if (t->pslot)
            free(t->pslot[i]);
    }
    free(t->segs), free(t->state), free(t->opened), free(t->nopened), free(t->ring), free(t->win);
    free(t->win2), free(t->pprot), free(t->pslot);
    free(t);
}

/* Stop: every page back to the protection it has for the user, key 0. */
static void restore(struct vmlab_tracer *t)
{
    for (size_t i = 0; i < t->nsegs; i++) {
        size_t n = t->segs[i].size / t->psz;
        for (size_t a = 0, b; a < n; a = b) {
            for (b = a + 1; b < n && t->pprot[i][b] == t->pprot[i][a]; b++)
                ;
            if (t->pprot[i][a]) /* 0: PROT_NONE already, or unmapped */
                tpk_reprot(t, page_addr(t, i, a), (b - a) * t->psz, t->pprot[i][a]);
        }
    }
    if (t->nks)
        tpk_free(t);
}

static int overlaps(const struct vmlab_tracer *t, uintptr_t start, uintptr_t end)
{
    for (size_t i = 0; i < t->nsegs; i++) {
        uintptr_t b = (uintptr_t)t->segs[i].addr;
        if (start < b + t->segs[i].size && end > b)
            return 1;
    }
    return 0;
}

/* The seg engine changes traced pages (s:protect, unmap): hold the lock
 * from before() to after(), so no fault sees them half changed. */
static int seg_before(void *ctx, const struct vmlab_seg *s, enum vmlab_seg_event ev, uintptr_t start,
                      uintptr_t end, int prot)
{
    (void)s, (void)ev, (void)prot;
    if (overlaps(ctx, start, end))
        lock(ctx);
    return 0;
}

/* The changed pages leave the key cache, the window and the opened list,
 * take the new protection as the user's, and are revoked again (an
 * unmapped page is not opened again). */
static void seg_after(void *ctx, const struct vmlab_seg *sg, enum vmlab_seg_event ev, uintptr_t start,
                      uintptr_t end, int prot, int result)
{
    struct vmlab_tracer *t = ctx;
    (void)sg;
    if (!overlaps(t, start, end))
        return;
    for (size_t i = 0; i < t->nsegs; i++) {
        uintptr_t b = (uintptr_t)t->segs[i].addr, e = b + t->segs[i].size;
        uintptr_t lo = start > b ? start : b, hi = end < e ? end : e;
        if (lo >= hi)
            continue;
        size_t p0 = (lo - b) / t->psz, p1 = (hi - b + t->psz - 1) / t->psz;
        for (size_t pg = p0; pg < p1; pg++) {
            if (t->pslot && t->pslot[i][pg])
                tpk_uncache(t, t->pslot[i][pg] - 1);
            if (result == 0)
                t->pprot[i][pg] = ev == VMLAB_SEG_UNMAP ? 0 : (uint8_t)(prot & (PROT_READ | PROT_WRITE | PROT_EXEC));
            t->state[i][pg] = PG_NONE;
        }
        if (t->interval > 0) {
            size_t n = 0;
            for (size_t x = 0; x < t->nopened[i]; x++)
                if (t->opened[i][x] < p0 || t->opened[i][x] >= p1)
                    t->opened[i][n++] = t->opened[i][x];
            t->nopened[i] = n;
        }
        if (!(ev == VMLAB_SEG_UNMAP && result == 0))
            tpk_reprot(t, page_addr(t, i, p0), (p1 - p0) * t->psz, PROT_NONE);
    }
    size_t n = 0, first = t->nwin == t->window ? t->wpos : 0;
    for (size_t x = 0; x < t->nwin; x++) {
        uint64_t a = t->win[(first + x) % t->window];
        if (a < start || a >= end)
            t->win2[n++] = a;
    }
    memcpy(t->win, t->win2, n * sizeof *t->win);
    t->nwin = n, t->wpos = n % t->window;
    unlock(t);
}

int vmlab_tracer_start(const struct vmlab_tracer_opts *o, struct vmlab_tracer **out, char *err,
                       size_t errlen)
{
    struct vmlab_tracer *t = calloc(1, sizeof *t);
    struct vmlab_trace_header h = {0};
    int r = -ENOMEM;

    if (!t)
        goto fail;
    t->psz = vmlab_pagesize();
    t->pid = getpid();
    t->nsegs = o->nsegs, t->interval = o->interval, t->window = o->window ? o->window : 1;
    t->cap = o->buffer ? o->buffer : 1 << 20;
    t->segs = calloc(o->nsegs, sizeof *t->segs);
    t->state = calloc(o->nsegs, sizeof *t->state);
    t->ring = calloc(t->cap, sizeof *t->ring);
    t->win = calloc(t->window, sizeof *t->win);
    t->win2 = calloc(t->window, sizeof *t->win2);
    t->pprot = calloc(o->nsegs, sizeof *t->pprot);
    t->opened = calloc(o->nsegs, sizeof *t->opened);
    t->nopened = calloc(o->nsegs, sizeof *t->nopened);
    h.targets = calloc(o->nsegs + 1, sizeof *h.targets);
    if (!t->segs || !t->state || !t->ring || !t->win || !t->win2 || !t->pprot || !t->opened || !t->nopened ||
        !h.targets)
        goto fail;
    for (size_t i = 0; i < o->nsegs; i++) {
        struct vmlab_seg *s = o->segs[i];
        if (!s->mapped || s->pagesize != t->psz) {
            snprintf(err, errlen, "trace.start: segment '%s' is %s", s->name,
                     s->mapped ? "on huge pages (not traced)" : "not mapped");
            r = -EINVAL;
            goto fail;
        }
        t->segs[i] = (struct tseg){s->addr, s->size};
        if (s->size / t->psz > UINT32_MAX) {
            snprintf(err, errlen, "trace.start: segment '%s' is too big to trace (over 2^32 pages)", s->name);
            r = -EINVAL;
            goto fail;
        }
        if (!(t->state[i] = calloc(s->size / t->psz + 1, 1)) || !(t->pprot[i] = malloc(s->size / t->psz + 1)))
            goto fail;
        memset(t->pprot[i], s->prot & (PROT_READ | PROT_WRITE | PROT_EXEC), s->size / t->psz + 1);
        if (t->interval > 0 && !(t->opened[i] = calloc(s->size / t->psz + 1, sizeof **t->opened)))
            goto fail;
        snprintf(h.targets[i].name, sizeof h.targets[i].name, "%s", s->name);
        h.targets[i].start = (uint64_t)(uintptr_t)s->addr, h.targets[i].length = s->size;
        if (s->fd >= 0) {
            struct stat st;
            h.targets[i].offset = (uint64_t)s->offset;
            if (fstat(s->fd, &st) == 0)
                h.targets[i].inode = (uint64_t)st.st_ino;
        }
    }
    h.page_size = (uint32_t)t->psz, h.time_unit_ns = 1000, h.ntargets = (uint32_t)o->nsegs;
    t->w = vmlab_trace_create(o->output, VMLAB_TRACE_AUTO, &h, err, errlen);
    if (!t->w) {
        r = -EIO;
        goto fail;
    }
    free(h.targets);
    h.targets = NULL;
    if (vmlab_fault_init() || vmlab_fault_add_hook(hook, t)) {
        r = -errno;
        snprintf(err, errlen, "trace.start: no fault hook: %s", strerror(errno));
        vmlab_trace_finish(t->w, NULL, 0);
        t->w = NULL;
        goto fail;
    }
    size_t total = 0;
    for (size_t i = 0; i < t->nsegs; i++)
        total += t->segs[i].size / t->psz;
    if (t->interval == 0 && total <= SPLIT_MAX) {
        t->split = 1;
        split_pages(t, 1);
    }
    if (t->interval == 0 && !o->no_pkeys && (r = tpk_take(t, total)) != 0)
        goto fail_hooked;
    t->listener = (struct vmlab_seg_listener){seg_before, seg_after, t, NULL};
    vmlab_seg_listen(&t->listener);
    t->t0 = vmlab_now();
    revoke_all(t);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->mu, NULL);
    if (pthread_create(&t->thr, NULL, run, t) == 0)
        t->running = 1;
    *out = t;
    return 0;
fail_hooked:
    vmlab_fault_remove_hook(hook, t);
    if (t->split)
        split_pages(t, 0);
    vmlab_trace_finish(t->w, NULL, 0);
    t->w = NULL;
fail:
    if (r == -ENOMEM && err && errlen && !*err)
        snprintf(err, errlen, "trace.start: out of memory");
    if (t) {
        free_tracer(t);
    }
    free(h.targets);
    return r;
}

void vmlab_tracer_counts(const struct vmlab_tracer *t, uint64_t *events, uint64_t *dropped)
{
    *dropped = atomic_load(&((struct vmlab_tracer *)t)->dropped);
    *events = atomic_load(&((struct vmlab_tracer *)t)->head) - *dropped;
}

int vmlab_tracer_stop(struct vmlab_tracer *t, char *err, size_t errlen)
{
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->stop, 1);
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (t->running)
        pthread_join(t->thr, NULL);
    vmlab_seg_unlisten(&t->listener);
    lock(t);
    restore(t);
    if (t->split)
        split_pages(t, 0);
    unlock(t);
    vmlab_fault_remove_hook(hook, t);
    drain(t);
    int r = vmlab_trace_finish(t->w, err, errlen);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free_tracer(t);
    return r;
}
