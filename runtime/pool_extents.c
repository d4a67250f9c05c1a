/* The pool space's free ranges (include/vmlab/pool.h).  jemalloc gives
 * extents back when it purges (at its decay, or when a full pool makes the
 * caller purge and retry); they merge here with their neighbours and with
 * the untouched top, so that after any burst is freed the pool offers
 * blocks as large as when it was new. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmlab/pool.h"

#define NONE ((size_t)-1)

void vmlab_pool_extents_init(struct vmlab_pool_extents *x, size_t size)
{
    memset(x, 0, sizeof *x);
    x->size = size;
}

void vmlab_pool_extents_fini(struct vmlab_pool_extents *x)
{
    if (x->r)
        munmap(x->r, x->cap * sizeof *x->r);
    x->r = NULL;
    x->n = x->cap = 0;
}

static int grow(struct vmlab_pool_extents *x)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t old = x->cap * sizeof *x->r, bytes = old ? old * 2 : pg;
    void *r = x->r ? mremap(x->r, old, bytes, MREMAP_MAYMOVE)
                   : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        return -1;
    x->r = r;
    x->cap = bytes / sizeof *x->r;
    return 0;
}

/* The first range at or after off. */
static size_t lower_bound(const struct vmlab_pool_extents *x, size_t off)
{
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->r[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int insert_at(struct vmlab_pool_extents *x, size_t i, size_t off, size_t len)
{
    if (x->n == x->cap && grow(x) < 0)
        return -1;
    memmove(&x->r[i + 1], &x->r[i], (x->n - i) * sizeof *x->r);
    x->r[i] = (struct vmlab_pool_range){off, len};
    x->n++;
    return 0;
}

static void remove_at(struct vmlab_pool_extents *x, size_t i)
{
    memmove(&x->r[i], &x->r[i + 1], (x->n - i - 1) * sizeof *x->r);
    x->n--;
}

/* Carve [off, off+len) out of range i; -1 when a split needs room there
 * is not. */
static int carve(struct vmlab_pool_extents *x, size_t i, size_t off, size_t len)
{
    struct vmlab_pool_range r = x->r[i];
    size_t left = off - r.off, right = r.off + r.len - (off + len);
    if (left && right) {
        if (insert_at(x, i + 1, off + len, right) < 0)
            return -1;
        x->r[i].len = left;
    } else if (left) {
        x->r[i].len = left;
    } else if (right) {
        x->r[i] = (struct vmlab_pool_range){off + len, right};
    } else {
        remove_at(x, i);
    }
    x->free_bytes -= len;
    return 0;
}

static size_t from_bump(struct vmlab_pool_extents *x, size_t at, size_t len)
{
    size_t gap = at - x->bump;
    if (at < x->bump || at > x->size || len > x->size - at)
        return NONE;
    /* the alignment gap below the block stays free */
    if (gap && vmlab_pool_extents_give(x, x->bump, gap) < 0)
        return NONE;
    x->bump = at + len;
    if (x->bump > x->top)
        x->top = x->bump;
    return at;
}

size_t vmlab_pool_extents_take(struct vmlab_pool_extents *x, size_t len, size_t align, size_t want)
{
    if (!len)
        return NONE;
    if (want != NONE) {
        size_t i = lower_bound(x, want + 1);
        /* the range that starts at or before want */
        if (i > 0 && x->r[i - 1].off <= want && want - x->r[i - 1].off <= x->r[i - 1].len &&
            len <= x->r[i - 1].off + x->r[i - 1].len - want)
            return carve(x, i - 1, want, len) < 0 ? NONE : want;
        return want == x->bump ? from_bump(x, want, len) : NONE;
    }
    for (size_t i = 0; i < x->n; i++) {
        size_t at = (x->r[i].off + align - 1) & ~(align - 1);
        if (at >= x->r[i].off && at - x->r[i].off <= x->r[i].len && len <= x->r[i].len - (at - x->r[i].off))
            return carve(x, i, at, len) < 0 ? NONE : at;
    }
    return from_bump(x, (x->bump + align - 1) & ~(align - 1), len);
}

int vmlab_pool_extents_give(struct vmlab_pool_extents *x, size_t off, size_t len)
{
    size_t end = off + len, i;

    if (!len)
        return 0;
    if (end == x->bump) {
        /* back to the top, and with it whatever free range now touches it */
        x->bump = off;
        while (x->n && x->r[x->n - 1].off + x->r[x->n - 1].len == x->bump) {
            x->bump = x->r[x->n - 1].off;
            x->free_bytes -= x->r[x->n - 1].len;
            x->n--;
        }
        return 0;
    }
    i = lower_bound(x, off);
    int prev = i > 0 && x->r[i - 1].off + x->r[i - 1].len == off;
    int next = i < x->n && x->r[i].off == end;
    if (prev && next) {
        x->r[i - 1].len += len + x->r[i].len;
        remove_at(x, i);
    } else if (prev) {
        x->r[i - 1].len += len;
    } else if (next) {
        x->r[i].off = off;
        x->r[i].len += len;
    } else if (insert_at(x, i, off, len) < 0) {
        return -1;
    }
    x->free_bytes += len;
    return 0;
}
