/* Workload threads and their ground truth.  Each access sets the page's
 * bit in the bitmap of the current interval (a ring of intervals), so the
 * truth for any recent window is the union of a few bitmaps. */
#include "vmlab/workload.h"
#include "vmlab/fault.h"
#include "vmlab/trace.h"
#include "vmlab/units.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* the page the engine touches: the system's, asked once */
#define PAGE ((uint64_t)vmlab_pagesize())

struct interval {
    uint64_t index;            /* which interval (since start) this slot holds */
    uint64_t *bits;
};

struct vmlab_workload {
    uint64_t start, len, npages;
    struct vmlab_wl_phase *phases;
    size_t nphases;
    int nthreads;
    pthread_t *th;
    int running, stop;
    double t0, interval;
    struct interval *ring;
    size_t keep, words;
    uint64_t seed;
    uint64_t accesses;
    double *zipf_cdf;          /* per 64-page chunk, for ZIPF phases */
    uint64_t nchunks;
    int faulted;
    uint64_t fault_addr;
    pthread_mutex_t ring_mu;
};

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static uint64_t below(uint64_t *s, uint64_t n)
{
    return n ? (uint64_t)(((unsigned __int128)rnd(s) * n) >> 64) : 0;
}
static double unit(uint64_t *s) { return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0); }

/* The interval slot for now, cleared when it starts a new interval. */
static uint64_t *current_bits(struct vmlab_workload *w, double now)
{
    uint64_t idx = (uint64_t)((now - w->t0) / w->interval);
    struct interval *iv = &w->ring[idx % w->keep];
    if (__atomic_load_n(&iv->index, __ATOMIC_ACQUIRE) != idx) {
        pthread_mutex_lock(&w->ring_mu);
        if (iv->index != idx) {
            memset(iv->bits, 0, w->words * sizeof *iv->bits);
            __atomic_store_n(&iv->index, idx, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&w->ring_mu);
    }
    return iv->bits;
}

static uint64_t zipf_chunk(struct vmlab_workload *w, uint64_t *s)
{
    double u = unit(s);
    uint64_t lo = 0, hi = w->nchunks - 1;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (w->zipf_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint64_t next_page(struct vmlab_workload *w, const struct vmlab_wl_phase *p, uint64_t *s,
                          uint64_t *cursor)
{
    switch (p->pattern) {
    case VMLAB_WL_SEQUENTIAL:
        return (*cursor)++ % w->npages;
    case VMLAB_WL_STRIDE:
        *cursor += p->stride ? p->stride : 1;
        return *cursor % w->npages;
    case VMLAB_WL_HOTSPOT:
        if (unit(s) < p->hot_share) {
            uint64_t hp = p->hot_len / PAGE;
            return p->hot_off / PAGE + below(s, hp ? hp : 1);
        }
        return below(s, w->npages);
    case VMLAB_WL_ZIPF: {
        uint64_t c = zipf_chunk(w, s), pg = c * 64 + below(s, 64);
        return pg < w->npages ? pg : w->npages - 1;
    }
    default:
        return below(s, w->npages);
    }
}

static const struct vmlab_wl_phase *phase_at(struct vmlab_workload *w, double t, int *which)
{
    double acc = 0;
    for (size_t i = 0; i < w->nphases; i++) {
        acc += w->phases[i].seconds;
        if (w->phases[i].seconds <= 0 || t < acc || i == w->nphases - 1) {
            *which = (int)i;
            return &w->phases[i];
        }
    }
    *which = 0;
    return &w->phases[0];
}

struct thread_arg {
    struct vmlab_workload *w;
    uint64_t seed;
};

/* The access loop of one thread, until stopped. */
static void access_loop(struct vmlab_workload *w, uint64_t seed)
{
    uint64_t s = seed, cursor = below(&s, w->npages);

    while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
        double now = vmlab_now();
        int which;
        const struct vmlab_wl_phase *p = phase_at(w, now - w->t0, &which);
        uint64_t *bits = current_bits(w, now);
        /* a batch of accesses between clock reads */
        for (int k = 0; k < 64; k++) {
            uint64_t pg = next_page(w, p, &s, &cursor);
            volatile uint64_t *word =
                (volatile uint64_t *)(uintptr_t)(w->start + pg * PAGE + below(&s, PAGE / 8) * 8);
            switch (p->op) {
            case VMLAB_WL_READ: (void)*word; break;
            case VMLAB_WL_WRITE: *word = pg; break;
            case VMLAB_WL_RMW: *word += 1; break;
            }
            __atomic_or_fetch(&bits[pg / 64], 1ULL << (pg % 64), __ATOMIC_RELAXED);
        }
        __atomic_add_fetch(&w->accesses, 64, __ATOMIC_RELAXED);
        if (p->rate > 0) {
            /* keep to the rate: 64 accesses take 64 / rate seconds */
            double pause = 64.0 / p->rate;
            struct timespec ts = {(time_t)pause, (long)((pause - (double)(time_t)pause) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
}

/* A fault (the memory went away under us) stops this thread and is
 * reported through the stats, instead of killing the process. */
static void *run(void *arg)
{
    struct thread_arg *ta = arg;
    struct vmlab_workload *w = ta->w;
    struct vmlab_fault_guard g;
    uint64_t seed = ta->seed;

    free(ta);
    vmlab_trace_thread_begin(); /* not its creator's open trace keys */
    vmlab_fault_push(&g);
    if (sigsetjmp(g.env, 1) == 0) {
        access_loop(w, seed);
    } else {
        __atomic_store_n(&w->fault_addr, (uint64_t)(uintptr_t)g.fault.addr, __ATOMIC_RELEASE);
        __atomic_store_n(&w->faulted, 1, __ATOMIC_RELEASE);
    }
    vmlab_fault_pop(&g);
    return NULL;
}

struct vmlab_workload *vmlab_workload_new(uint64_t start, uint64_t len,
                                          const struct vmlab_wl_phase *phases, size_t nphases,
                                          int threads, double interval, size_t keep, uint64_t seed)
{
    struct vmlab_workload *w;

    if (!len || start % PAGE || !nphases || threads < 1 || interval <= 0 || keep < 1)
        return NULL;
    w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->start = start;
    w->len = len;
    w->npages = (len + PAGE - 1) / PAGE;
    w->phases = malloc(nphases * sizeof *phases);
    w->th = calloc((size_t)threads, sizeof *w->th);
    w->ring = calloc(keep, sizeof *w->ring);
    w->words = (w->npages + 63) / 64;
    if (!w->phases || !w->th || !w->ring)
        goto fail;
    memcpy(w->phases, phases, nphases * sizeof *phases);
    w->nphases = nphases;
    w->nthreads = threads;
    w->interval = interval;
    w->keep = keep;
    w->seed = seed;
    for (size_t i = 0; i < keep; i++) {
        w->ring[i].index = UINT64_MAX;
        if (!(w->ring[i].bits = calloc(w->words, sizeof(uint64_t))))
            goto fail;
    }
    w->nchunks = (w->npages + 63) / 64;
    w->zipf_cdf = malloc(w->nchunks * sizeof *w->zipf_cdf);
    if (!w->zipf_cdf)
        goto fail;
    {
        double s = phases[0].zipf_s > 0 ? phases[0].zipf_s : 1.0, sum = 0;
        for (size_t i = 0; i < nphases; i++)
            if (phases[i].pattern == VMLAB_WL_ZIPF && phases[i].zipf_s > 0)
                s = phases[i].zipf_s;
        for (uint64_t c = 0; c < w->nchunks; c++)
            sum += 1.0 / pow((double)(c + 1), s);
        for (uint64_t c = 0; c < w->nchunks; c++)
            w->zipf_cdf[c] = (c ? w->zipf_cdf[c - 1] : 0) + 1.0 / pow((double)(c + 1), s) / sum;
        w->zipf_cdf[w->nchunks - 1] = 1.0;
    }
    pthread_mutex_init(&w->ring_mu, NULL);
    return w;
fail:
    vmlab_workload_free(w);
    return NULL;
}

int vmlab_workload_start(struct vmlab_workload *w)
{
    if (w->running)
        return -EBUSY;
    w->stop = 0;
    w->t0 = vmlab_now();
    for (size_t i = 0; i < w->keep; i++) {
        w->ring[i].index = UINT64_MAX;
        memset(w->ring[i].bits, 0, w->words * sizeof(uint64_t));
    }
    for (int i = 0; i < w->nthreads; i++) {
        struct thread_arg *ta = malloc(sizeof *ta);
        int e;
        if (!ta)
            e = ENOMEM;
        else {
            ta->w = w;
            ta->seed = w->seed * 1000003ULL + (uint64_t)i + 1;
            e = pthread_create(&w->th[i], NULL, run, ta);
            if (e)
                free(ta);
        }
        if (e) {
            w->nthreads = i;      /* join what started */
            w->running = 1;
            vmlab_workload_stop(w);
            return -e;
        }
    }
    w->running = 1;
    return 0;
}

void vmlab_workload_stop(struct vmlab_workload *w)
{
    if (!w->running)
        return;
    __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < w->nthreads; i++)
        pthread_join(w->th[i], NULL);
    w->running = 0;
}

void vmlab_workload_free(struct vmlab_workload *w)
{
    if (!w)
        return;
    vmlab_workload_stop(w);
    if (w->ring)
        for (size_t i = 0; i < w->keep; i++)
            free(w->ring[i].bits);
    free(w->ring);
    free(w->phases);
    free(w->th);
    free(w->zipf_cdf);
    free(w);
}

void vmlab_workload_stats(struct vmlab_workload *w, struct vmlab_wl_stats *s)
{
    memset(s, 0, sizeof *s);
    s->accesses = __atomic_load_n(&w->accesses, __ATOMIC_RELAXED);
    s->seconds = w->t0 ? vmlab_now() - w->t0 : 0;
    phase_at(w, s->seconds, &s->phase);
    s->faulted = __atomic_load_n(&w->faulted, __ATOMIC_ACQUIRE);
    s->fault_addr = __atomic_load_n(&w->fault_addr, __ATOMIC_ACQUIRE);
}

uint64_t vmlab_workload_pages(const struct vmlab_workload *w) { return w->npages; }

uint64_t vmlab_workload_truth(struct vmlab_workload *w, double from, double to, unsigned char *pages)
{
    uint64_t *u = calloc(w->words, sizeof *u), count = 0;
    uint64_t first = from > 0 ? (uint64_t)(from / w->interval) : 0;
    uint64_t last = to > from ? (uint64_t)(to / w->interval) : UINT64_MAX;

    if (!u)
        return 0;
    pthread_mutex_lock(&w->ring_mu);
    for (size_t i = 0; i < w->keep; i++) {
        uint64_t idx = w->ring[i].index;
        if (idx == UINT64_MAX || idx < first || idx > last)
            continue;
        for (size_t k = 0; k < w->words; k++)
            u[k] |= __atomic_load_n(&w->ring[i].bits[k], __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&w->ring_mu);
    for (uint64_t pg = 0; pg < w->npages; pg++) {
        int on = (u[pg / 64] >> (pg % 64)) & 1;
        count += (uint64_t)on;
        if (pages)
            pages[pg] = (unsigned char)on;
    }
    free(u);
    return count;
}
