/* The exact-mode tracer's protection-key cache (see the comment on
 * struct kslot in trace_seg.h): which thread may reach which key, the
 * opening and closing of cached pages by PKRU edits in the signal frame,
 * and the keys' allocation.  Runs in the fault hook, under the lock. */
#include "trace_pkey.h"
#include "trace_seg.h"

#include <errno.h>
#include <stdlib.h>

/* Keys still open in a thread other than the one that stopped a trace:
 * never freed, so no later pkey_alloc hands out a key that thread reaches */
static atomic_uint quarantined;
/* Keys of the running tracers, for vmlab_trace_thread_begin */
static atomic_uint running_keys;

void vmlab_trace_thread_begin(void)
{
    unsigned m = atomic_load(&running_keys) | atomic_load(&quarantined);
    if (!m) /* never set on a machine without keys: rdpkru would fault */
        return;
    uint32_t v = vmlab_pkey_read();
    for (int k = 1; k < 16; k++)
        if (m & (1u << k))
            v = (v & ~PKRU_WD(k)) | PKRU_AD(k);
    vmlab_pkey_write(v);
}

static uint32_t set_key(uint32_t v, int key, int level)
{
    v &= ~(PKRU_AD(key) | PKRU_WD(key));
    return v | (level == PG_NONE ? PKRU_AD(key) : level == PG_READ ? PKRU_WD(key) : 0);
}

/* The faulting thread's bit in the holder masks, or -1 past MAXTHR. */
static int thread_index(struct vmlab_tracer *t)
{
    uint32_t me = tseg_tid();
    for (int i = 0; i < t->ntids; i++)
        if (t->tids[i] == me)
            return i;
    if (t->ntids == MAXTHR)
        return -1;
    t->tids[t->ntids] = me;
    return t->ntids++;
}

/* The thread's PKRU for our keys, from the table: open where it holds a
 * key whose page is open, closed everywhere else (a PKRU inherited from
 * the thread's creator, or left from before, is corrected here). */
static uint32_t sync_pkru(struct vmlab_tracer *t, uint32_t v, int me)
{
    uint64_t mb = me >= 0 ? 1ull << me : 0;
    for (int k = 0; k < t->nks; k++) {
        struct kslot *s = &t->ks[k];
        int level = PG_NONE;
        if (s->holders & mb) {
            if (s->used)
                level = t->state[s->seg][s->pg];
            if (level == PG_NONE)
                s->holders &= ~mb;
        }
        v = set_key(v, s->key, level);
    }
    return v;
}

void tpk_uncache(struct vmlab_tracer *t, int k)
{
    t->pslot[t->ks[k].seg][t->ks[k].pg] = 0;
    t->ks[k].used = 0;
}

/* Give every cached page key 0 and the protection of its state, and use
 * keys no more (a frame without PKRU: nothing to edit). */
void tpk_keys_off(struct vmlab_tracer *t)
{
    for (int k = 0; k < t->nks; k++) {
        struct kslot *s = &t->ks[k];
        if (s->used) {
            pkey_mprotect(page_addr(t, s->seg, s->pg), t->psz, protof(t->state[s->seg][s->pg]), 0);
            tpk_uncache(t, k);
        }
    }
    t->keys_off = 1;
}

/* A free slot (no page, no holder), or -1.  A slot left with holders
 * waits for them to fault again; a holder that has exited never will, so
 * now and then (every 64 events at most: it is a system call a thread)
 * holders that are gone are let go. */
static int free_slot(struct vmlab_tracer *t)
{
    uint64_t gone = 0, asked = 0;
    int free = -1;
    for (int k = 0; k < t->nks; k++)
        if (!t->ks[k].used && !t->ks[k].holders)
            return k;
    uint64_t now = atomic_load_explicit(&t->head, memory_order_relaxed);
    if (now < t->gone_check + 64)
        return -1;
    t->gone_check = now;
    for (int k = 0; k < t->nks; k++) {
        struct kslot *s = &t->ks[k];
        if (s->used || !s->holders)
            continue;
        for (int i = 0; i < t->ntids; i++)
            if ((s->holders & ~asked) & (1ull << i)) {
                asked |= 1ull << i;
                if (syscall(SYS_tgkill, t->pid, t->tids[i], 0) != 0 && errno == ESRCH)
                    gone |= 1ull << i;
            }
        if (!(s->holders &= ~gone) && free < 0)
            free = k;
    }
    return free;
}

/* Whether one pkey_mprotect to PROT_NONE, key 0 may cover pages a..b of
 * segment i: those between are closed, uncached and mapped (so already
 * PROT_NONE with key 0: the kernel skips them), and not too many. */
enum { GAP_MAX = 32 };
static int joinable(const struct vmlab_tracer *t, size_t i, size_t a, size_t b)
{
    if (b - a > GAP_MAX)
        return 0;
    for (size_t p = a + 1; p < b; p++)
        if (t->state[i][p] != PG_NONE || t->pslot[i][p] || !t->pprot[i][p])
            return 0;
    return 1;
}

/* No free key: give back, at once, the closed cached pages that no
 * thread holds and that were not reopened since the last time (or, if
 * all were, the older half of them); the others get a second chance.
 * Closing a page is the dear half of an event (a TLB flush: 1.3-1.6 us a
 * page here against 0.5-0.8 to open one); one pkey_mprotect over a run
 * of them and the closed pages between flushes once (0.4-0.6 us a page
 * measured), so a pattern without reuse pays about one open per event,
 * and one with hot pages keeps them.  A free slot, or -1. */
static int evict_batch(struct vmlab_tracer *t)
{
    int c[MAXKEYS], n = 0, fresh = 0;
    for (int k = 0; k < t->nks; k++) {
        const struct kslot *s = &t->ks[k];
        if (s->used && !s->holders && t->state[s->seg][s->pg] == PG_NONE) {
            int j = n++;
            fresh += !s->reused;
            for (; j > 0 && (t->ks[c[j - 1]].reused > s->reused ||
                             (t->ks[c[j - 1]].reused == s->reused && t->ks[c[j - 1]].stamp > s->stamp));
                 j--) /* not reused first, then by age */
                c[j] = c[j - 1];
            c[j] = k;
        }
    }
    for (int x = fresh; x < n; x++)
        t->ks[c[x]].reused = 0;
    n = fresh ? fresh : (n + 1) / 2;
    for (int x = 1; x < n; x++) { /* the older half by address */
        int k = c[x], j = x;
        for (; j > 0 && (t->ks[c[j - 1]].seg > t->ks[k].seg ||
                         (t->ks[c[j - 1]].seg == t->ks[k].seg && t->ks[c[j - 1]].pg > t->ks[k].pg));
             j--)
            c[j] = c[j - 1];
        c[j] = k;
    }
    for (int a = 0, b; a < n; a = b) {
        const struct kslot *s = &t->ks[c[a]];
        for (b = a + 1; b < n && t->ks[c[b]].seg == s->seg && joinable(t, s->seg, t->ks[c[b - 1]].pg, t->ks[c[b]].pg);
             b++)
            ;
        size_t len = (t->ks[c[b - 1]].pg - s->pg + 1) * t->psz;
        if (pkey_mprotect(page_addr(t, s->seg, s->pg), len, PROT_NONE, 0) == 0) {
            for (int x = a; x < b; x++)
                tpk_uncache(t, c[x]);
            continue;
        }
        for (int x = a; x < b; x++) /* one by one, then */
            if (pkey_mprotect(page_addr(t, t->ks[c[x]].seg, t->ks[c[x]].pg), t->psz, PROT_NONE, 0) == 0)
                tpk_uncache(t, c[x]);
    }
    return free_slot(t);
}

/* Raise page pg of segment i from `st` to `level` for the faulting thread
 * (bit me, PKRU v): a PKRU edit when the page holds a key (and, if it was
 * closed, nobody else may have that key open); else give it a free key
 * (one pkey_mprotect, and now and then a batch of evictions); else
 * mprotect.  0, or -1 (errno). */
int tpk_raise(struct vmlab_tracer *t, size_t i, size_t pg, int st, int level, int me, uint32_t *v)
{
    char *pa = page_addr(t, i, pg);
    int k = t->pslot ? t->pslot[i][pg] - 1 : -1;
    uint64_t mb = me >= 0 ? 1ull << me : 0;
    if (k >= 0) {
        struct kslot *s = &t->ks[k];
        if (mb && (st != PG_NONE || !(s->holders & ~mb))) {
            s->holders |= mb;
            if (st == PG_NONE)
                s->stamp = ++t->stamp, s->reused = 1;
            *v = set_key(*v, s->key, level);
            atomic_fetch_add_explicit(&t->khits, 1, memory_order_relaxed);
            return 0;
        }
        if (pkey_mprotect(pa, t->psz, protof(level), 0))
            return -1;
        tpk_uncache(t, k);
        return 0;
    }
    if (mb && st == PG_NONE && t->pslot && !t->keys_off && ((k = free_slot(t)) >= 0 || (k = evict_batch(t)) >= 0)) {
        struct kslot *s = &t->ks[k];
        if (pkey_mprotect(pa, t->psz, t->pprot[i][pg], s->key) == 0) {
            s->used = 1, s->seg = (uint32_t)i, s->pg = (uint32_t)pg, s->holders = mb, s->reused = 0;
            s->stamp = ++t->stamp;
            t->pslot[i][pg] = (uint8_t)(k + 1);
            *v = set_key(*v, s->key, level);
            return 0;
        }
    }
    return mprotect(pa, t->psz, protof(level));
}

/* Close a page of the window: a PKRU edit when the faulting thread is the
 * only one that may have its key open (it stays in the cache, closed). */
void tpk_close(struct vmlab_tracer *t, size_t j, size_t pg, int me, uint32_t *v)
{
    char *pa = page_addr(t, j, pg);
    int k = t->pslot ? t->pslot[j][pg] - 1 : -1;
    t->state[j][pg] = PG_NONE;
    if (k >= 0) {
        struct kslot *s = &t->ks[k];
        if (me >= 0)
            s->holders &= ~(1ull << me);
        *v = set_key(*v, s->key, PG_NONE);
        if (!s->holders)
            return;
        if (pkey_mprotect(pa, t->psz, PROT_NONE, 0) == 0) {
            tpk_uncache(t, k);
            return;
        }
    }
    mprotect(pa, t->psz, PROT_NONE);
}

/* Protection changes once keys may be on the pages: key 0 with it. */
int tpk_reprot(const struct vmlab_tracer *t, void *a, size_t len, int prot)
{
    return t->nks ? pkey_mprotect(a, len, prot, 0) : mprotect(a, len, prot);
}

/* Close our keys in the calling thread's PKRU and free them, except
 * those another live thread may still have open (quarantined). */
static void free_keys(struct vmlab_tracer *t, int me, int check_live)
{
    uint32_t v = vmlab_pkey_read();
    uint64_t live = 0;
    for (int k = 0; k < t->nks; k++)
        v = set_key(v, t->ks[k].key, PG_NONE);
    vmlab_pkey_write(v);
    for (int i = 0; i < t->ntids; i++)
        if (check_live && i != me && syscall(SYS_tgkill, t->pid, t->tids[i], 0) == 0)
            live |= 1ull << i;
    for (int k = 0; k < t->nks; k++) {
        atomic_fetch_and(&running_keys, ~(1u << t->ks[k].key));
        if (t->ks[k].holders & live)
            atomic_fetch_or(&quarantined, 1u << t->ks[k].key);
        else
            pkey_free(t->ks[k].key);
    }
    t->nks = 0;
}

/* Exact mode: up to MAXKEYS keys (no more than pages).  None where the
 * machine has no usable keys or pkey_alloc refuses (valgrind, all keys
 * taken): then every page goes the mprotect way.  0 or -ENOMEM. */
int tpk_take(struct vmlab_tracer *t, size_t total)
{
    if (!vmlab_pkey_usable())
        return 0;
    while (t->nks < MAXKEYS && (size_t)t->nks < total) {
        int k = pkey_alloc(0, PKEY_DISABLE_ACCESS);
        if (k < 0)
            break;
        t->ks[t->nks++].key = k;
        atomic_fetch_or(&running_keys, 1u << k);
    }
    if (!t->nks)
        return 0;
    if (!(t->pslot = calloc(t->nsegs, sizeof *t->pslot)))
        goto nomem;
    for (size_t i = 0; i < t->nsegs; i++)
        if (!(t->pslot[i] = calloc(t->segs[i].size / t->psz + 1, 1)))
            goto nomem;
    return 0;
nomem:
    free_keys(t, -1, 0);
    return -ENOMEM;
}

void vmlab_tracer_pkeys(const struct vmlab_tracer *t, int *keys, uint64_t *hits)
{
    *keys = t->keys_off ? 0 : t->nks;
    *hits = atomic_load(&((struct vmlab_tracer *)t)->khits);
}


/* Stop: the keys back (the pages have key 0 again by then). */
void tpk_free(struct vmlab_tracer *t)
{
    free_keys(t, thread_index(t), 1);
}

/* On a fault: the thread's bit (*me) and its PKRU for our keys. */
uint32_t tpk_sync(struct vmlab_tracer *t, uint32_t pkru, int *me)
{
    *me = thread_index(t);
    return sync_pkru(t, pkru, *me);
}
