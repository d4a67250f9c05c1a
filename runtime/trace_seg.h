/* The in-process tracer's state, shared by runtime/trace_seg.c (faults,
 * the window, the ring, start and stop) and runtime/trace_pkcache.c (the
 * protection-key cache of exact mode).  Private to those two. */
#ifndef VMLAB_RUNTIME_TRACE_SEG_H
#define VMLAB_RUNTIME_TRACE_SEG_H
#include "vmlab/seg.h"
#include "vmlab/trace.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { PG_NONE, PG_READ, PG_WRITE };

struct slot {
    struct vmlab_trace_event ev;
    atomic_int ready;
};

/* What the tracer needs of a segment, copied at start: the segment itself
 * may be closed (and freed) by its owner while the tracer runs. */
struct tseg {
    void *addr;
    size_t size;
};

/* The key cache (exact mode, where the CPU has protection keys): up to
 * MAXKEYS pages each hold a key of their own, with their full protection
 * in the page table; whether a thread may reach one is its PKRU, edited in
 * the signal frame, so reopening a page of the cache costs no system
 * call.  PKRU is per thread: `holders` are the threads (bits of tids[])
 * whose PKRU may open the key.  A page may be closed by a PKRU edit only
 * when the faulting thread is its only holder; otherwise it leaves the
 * cache (pkey_mprotect to PROT_NONE and key 0), and its key is reused
 * only once every holder has faulted again (each fault rewrites that
 * thread's PKRU from this table).  Threads past MAXTHR never hold keys. */
enum { MAXKEYS = 14, MAXTHR = 64 };
struct kslot {
    int key;
    int used;          /* holds a page */
    uint32_t seg, pg;
    uint64_t holders;
    uint64_t stamp;    /* last opened */
    int reused;        /* reopened from the cache since the last eviction */
};

struct vmlab_tracer {
    struct tseg *segs;
    size_t nsegs, psz, window;
    uint8_t **state;              /* per segment, per page */
    uint8_t **pprot;              /* per page, the user's protection (0: not
                                   * ours to open: PROT_NONE or unmapped) */
    uint8_t **pslot;              /* per page, its key slot + 1, or 0 */
    uint32_t **opened;            /* interval mode: per segment, the pages
                                   * opened since the last revocation */
    size_t *nopened;
    double interval, t0;
    struct slot *ring;
    size_t cap;
    atomic_ulong head, dropped, khits;
    unsigned long tail;           /* drained up to here (the thread only) */
    atomic_int lock;              /* page states, the window, the keys */
    uint64_t *win, *win2;         /* interval 0: the accessible pages (addresses) */
    size_t nwin, wpos;
    struct kslot ks[MAXKEYS];
    int nks, keys_off;
    uint32_t tids[MAXTHR];
    int ntids;
    uint64_t stamp, gone_check;
    pid_t pid;
    struct vmlab_seg_listener listener;
    struct vmlab_trace_writer *w;
    int split;                    /* the segments' pages are single VMAs */
    pthread_t thr;
    int running;
    atomic_int stop;
    pthread_mutex_t mu;           /* with cv: wakes the thread to stop */
    pthread_cond_t cv;
};

/* A spin lock (a signal handler takes it): waiters read before they
 * try, and pause; after a while they yield the CPU, since on a loaded
 * machine the holder may have been preempted (the drain thread's
 * spinning was 3-4% of an interval run's CPU time). */
static inline void lock(struct vmlab_tracer *t)
{
    for (int spins = 0; atomic_exchange_explicit(&t->lock, 1, memory_order_acquire);)
        while (atomic_load_explicit(&t->lock, memory_order_relaxed)) {
            if (++spins % 256 == 0)
                sched_yield();
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
}
static inline void unlock(struct vmlab_tracer *t) { atomic_store_explicit(&t->lock, 0, memory_order_release); }

/* gettid() once per thread: a system call per event is measurable */
extern __thread uint32_t tseg_my_tid;

static inline uint32_t tseg_tid(void)
{
    if (!tseg_my_tid)
        tseg_my_tid = (uint32_t)syscall(SYS_gettid);
    return tseg_my_tid;
}

static inline int protof(int level)
{
    return level == PG_NONE ? PROT_NONE : level == PG_READ ? PROT_READ : PROT_READ | PROT_WRITE;
}

static inline char *page_addr(const struct vmlab_tracer *t, size_t seg, size_t pg)
{
    return (char *)t->segs[seg].addr + pg * t->psz;
}

/* trace_pkcache.c; all under the tracer's lock but take and free */
uint32_t tpk_sync(struct vmlab_tracer *t, uint32_t pkru, int *me);
void tpk_keys_off(struct vmlab_tracer *t);
void tpk_uncache(struct vmlab_tracer *t, int k);
int tpk_raise(struct vmlab_tracer *t, size_t i, size_t pg, int st, int level, int me, uint32_t *v);
void tpk_close(struct vmlab_tracer *t, size_t j, size_t pg, int me, uint32_t *v);
int tpk_reprot(const struct vmlab_tracer *t, void *a, size_t len, int prot);
int tpk_take(struct vmlab_tracer *t, size_t total);
void tpk_free(struct vmlab_tracer *t);
#endif
