/* Touching, filling and verifying segment memory.  Every loop runs under a
 * fault guard, so a touch of an unmapped or protected page comes back as
 * -EFAULT with the faulting address instead of killing the runtime, and
 * polls the interrupt flag so Ctrl-C stops it. */
#include "vmlab/seg.h"
#include "vmlab/interrupt.h"
#include "vmlab/progress.h"
#include "vmlab/units.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define POLL_PAGES 1024
/* Whole-page writes go to memset in big pieces: small ones would miss the
 * non-temporal path glibc takes for large sizes (~40% slower). */
#define MEMSET_PAGES 16384
/* Work this big shows a progress line on a terminal (progress.h). */
#define PROGRESS_MIN (1ULL << 30)

static void progress_begin(struct vmlab_progress *p, const char *op, const struct vmlab_seg *s,
                           uint64_t len)
{
    char what[96];
    snprintf(what, sizeof what, "%s %s", op, s->name);
    vmlab_progress_begin(p, what, len, VMLAB_PROGRESS_BYTES, PROGRESS_MIN);
}

/* Page i of n in the requested order.  Random order is a bijection
 * i -> (a*i + c) mod n with a coprime to n: every page once, no table. */
struct order {
    enum vmlab_touch_order kind;
    uint64_t n, stride, a, c, col, step;
};

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void order_init(struct order *o, const struct vmlab_touch *t, uint64_t n)
{
    memset(o, 0, sizeof *o);
    o->kind = t->order;
    o->n = n;
    o->stride = t->stride ? t->stride : 1;
    if (t->order == VMLAB_ORDER_RANDOM && n > 1) {
        uint64_t x = t->seed * 6364136223846793005ULL + 1442695040888963407ULL;
        o->a = (x >> 11) % n | 1;
        while (gcd(o->a, n) != 1)
            o->a = (o->a + 2) % n ? (o->a + 2) % n : 1;
        o->c = (x >> 33) % n;
    }
}

/* Stride order visits 0, s, 2s, ... then 1, 1+s, ... so that every page
 * is still touched once. */
static uint64_t order_page(struct order *o, uint64_t i)
{
    switch (o->kind) {
    case VMLAB_ORDER_RANDOM:
        return o->n > 1 ? (uint64_t)(((unsigned __int128)o->a * i + o->c) % o->n) : 0;
    case VMLAB_ORDER_STRIDE: {
        uint64_t per_col = (o->n + o->stride - 1) / o->stride, col = i / per_col, k = i % per_col;
        uint64_t p = col + k * o->stride;
        /* columns past the end are shorter; skip to the next column */
        while (p >= o->n) {
            i++;
            col = i / per_col;
            k = i % per_col;
            p = col + k * o->stride;
        }
        return p;
    }
    default:
        return i;
    }
}

static void touch_page(volatile unsigned char *p, size_t ps, enum vmlab_touch_op op, int all)
{
    if (!all) {
        volatile uint64_t *w = (volatile uint64_t *)p;
        switch (op) {
        case VMLAB_TOUCH_READ: (void)*w; break;
        case VMLAB_TOUCH_WRITE: *w = (uint64_t)(uintptr_t)p; break;
        case VMLAB_TOUCH_RMW: *w += 1; break;
        }
        return;
    }
    switch (op) {
    case VMLAB_TOUCH_READ: {
        uint64_t sum = 0;
        for (size_t i = 0; i < ps; i += 8)
            sum += *(volatile uint64_t *)(p + i);
        (void)sum;
        break;
    }
    case VMLAB_TOUCH_WRITE:
        memset((void *)p, 0x5a, ps);
        break;
    case VMLAB_TOUCH_RMW:
        for (size_t i = 0; i < ps; i += 8)
            *(volatile uint64_t *)(p + i) += 1;
        break;
    }
}

int vmlab_seg_touch(struct vmlab_seg *s, struct vmlab_touch *t)
{
    struct vmlab_fault_guard g;
    volatile uint64_t done = 0;
    volatile int r = 0;
    uint64_t len = t->length, n;
    size_t ps = vmlab_pagesize();
    struct order o;
    struct vmlab_progress pr;
    double t0;
    int rc;

    if ((rc = vmlab_seg_range(s, t->offset, &len)) < 0)
        return rc;
    n = (len + ps - 1) / ps;
    order_init(&o, t, n);
    progress_begin(&pr, "touch", s, len);
    t0 = vmlab_now();
    /* Sequential whole-page writes are one memset: as fast as it gets. */
    vmlab_fault_push(&g);
    if (sigsetjmp(g.env, 1) == 0) {
        unsigned char *base = (unsigned char *)s->addr + t->offset;
        if (t->all && t->op == VMLAB_TOUCH_WRITE && t->order == VMLAB_ORDER_SEQ) {
            for (uint64_t i = 0; i < n; i += MEMSET_PAGES) {
                uint64_t k = n - i < MEMSET_PAGES ? n - i : MEMSET_PAGES;
                size_t bytes = i + k == n ? len - i * ps : k * ps;
                if (vmlab_interrupted()) {
                    r = -EINTR;
                    break;
                }
                memset(base + i * ps, 0x5a, bytes);
                done = i + k;
                vmlab_progress_update(&pr, done * ps);
            }
        } else {
            for (uint64_t i = 0; i < n; i++) {
                if (i % POLL_PAGES == 0) {
                    if (vmlab_interrupted()) {
                        r = -EINTR;
                        break;
                    }
                    vmlab_progress_update(&pr, i * ps);
                }
                uint64_t pg = order_page(&o, i);
                size_t bytes = pg == n - 1 && len % ps ? len % ps : ps;
                touch_page(base + pg * ps, bytes, t->op, t->all);
                done = i + 1;
            }
        }
    } else {
        t->fault = g.fault;
        r = -EFAULT;
    }
    vmlab_fault_pop(&g);
    vmlab_progress_end(&pr);
    t->pages = done;
    t->seconds = vmlab_now() - t0;
    return r;
}

/* The word stored at segment offset `off` for `seed`. */
static inline uint64_t pattern(uint64_t off, uint64_t seed)
{
    uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ULL ^ (seed * 0xbf58476d1ce4e5b9ULL + 1);
    return x ^ (x >> 31);
}

int vmlab_seg_fill(struct vmlab_seg *s, uint64_t off, uint64_t len, uint64_t seed,
                   struct vmlab_fault *f)
{
    /* Keyed by the offset in the backing object, so that another mapping
     * of the same file (at another offset) verifies what this one wrote. */
    uint64_t key = (uint64_t)s->offset + off;
    struct vmlab_fault_guard g;
    struct vmlab_progress pr;
    volatile int r = 0;
    int rc;

    if ((rc = vmlab_seg_range(s, off, &len)) < 0)
        return rc;
    progress_begin(&pr, "fill", s, len);
    vmlab_fault_push(&g);
    if (sigsetjmp(g.env, 1) == 0) {
        uint64_t *w = (uint64_t *)((char *)s->addr + off);
        for (uint64_t i = 0; i < len / 8; i++) {
            if (i % (POLL_PAGES * 512) == 0) {
                if (vmlab_interrupted()) {
                    r = -EINTR;
                    break;
                }
                vmlab_progress_update(&pr, i * 8);
            }
            w[i] = pattern(key + i * 8, seed);
        }
    } else {
        *f = g.fault;
        r = -EFAULT;
    }
    vmlab_fault_pop(&g);
    vmlab_progress_end(&pr);
    return r;
}

int vmlab_seg_verify(struct vmlab_seg *s, uint64_t off, uint64_t len, uint64_t seed,
                     uint64_t *first_bad, uint64_t *nbad_pages, struct vmlab_fault *f)
{
    uint64_t key = (uint64_t)s->offset + off;
    struct vmlab_fault_guard g;
    volatile int r = 0;
    volatile uint64_t bad = 0, first = UINT64_MAX;
    size_t words_per_page = vmlab_pagesize() / 8;
    struct vmlab_progress pr;
    int rc;

    if ((rc = vmlab_seg_range(s, off, &len)) < 0)
        return rc;
    progress_begin(&pr, "verify", s, len);
    vmlab_fault_push(&g);
    if (sigsetjmp(g.env, 1) == 0) {
        const uint64_t *w = (const uint64_t *)((char *)s->addr + off);
        uint64_t nwords = len / 8;
        for (uint64_t pg = 0; pg * words_per_page < nwords; pg++) {
            uint64_t end = (pg + 1) * words_per_page;
            if (pg % POLL_PAGES == 0) {
                if (vmlab_interrupted()) {
                    r = -EINTR;
                    break;
                }
                vmlab_progress_update(&pr, pg * words_per_page * 8);
            }
            if (end > nwords)
                end = nwords;
            for (uint64_t i = pg * words_per_page; i < end; i++) {
                if (w[i] != pattern(key + i * 8, seed)) {
                    if (first == UINT64_MAX)
                        first = off + i * 8;
                    bad++;
                    break;                    /* count pages, not words */
                }
            }
        }
    } else {
        *f = g.fault;
        r = -EFAULT;
    }
    vmlab_fault_pop(&g);
    vmlab_progress_end(&pr);
    *first_bad = first;
    *nbad_pages = bad;
    return r;
}
