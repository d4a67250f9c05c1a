/* DAMON's region algorithms on sorted arrays of regions, following the
 * kernel's mm/damon/core.c and vaddr.c step by step. */
#include "vmlab/damon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_DOWN(x, a) ((x) / (a) * (a))
#define ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))

void vmlab_regions_free(struct vmlab_regions *rs)
{
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

static int reserve(struct vmlab_regions *rs, size_t n)
{
    if (n > rs->cap) {
        size_t cap = rs->cap ? rs->cap : 16;
        struct vmlab_region *v;
        while (cap < n)
            cap *= 2;
        v = realloc(rs->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        rs->v = v;
        rs->cap = cap;
    }
    return 0;
}

/* Insert a copy of *r at position i. */
static int insert_at(struct vmlab_regions *rs, size_t i, const struct vmlab_region *r)
{
    int e = reserve(rs, rs->n + 1);
    if (e)
        return e;
    memmove(&rs->v[i + 1], &rs->v[i], (rs->n - i) * sizeof *rs->v);
    rs->v[i] = *r;
    rs->n++;
    return 0;
}

static void remove_at(struct vmlab_regions *rs, size_t i)
{
    memmove(&rs->v[i], &rs->v[i + 1], (rs->n - i - 1) * sizeof *rs->v);
    rs->n--;
}

int vmlab_regions_push(struct vmlab_regions *rs, uint64_t start, uint64_t end)
{
    struct vmlab_region r = {.start = start, .end = end, .sampling_addr = start};
    return insert_at(rs, rs->n, &r);
}

uint64_t vmlab_regions_size(const struct vmlab_regions *rs)
{
    uint64_t sz = 0;
    for (size_t i = 0; i < rs->n; i++)
        sz += vmlab_region_size(&rs->v[i]);
    return sz;
}

int vmlab_damon_three_regions(const struct vmlab_range *vmas, size_t n, struct vmlab_range out[3])
{
    struct vmlab_range first = {0, 0}, second = {0, 0};
    uint64_t start = 0, prev_end = 0;

    if (n == 0)
        return -EINVAL;
    /* The two biggest gaps between consecutive VMAs. */
    for (size_t i = 0; i < n; i++) {
        if (i == 0) {
            start = vmas[i].start;
        } else {
            uint64_t gap = vmas[i].start > prev_end ? vmas[i].start - prev_end : 0;
            if (gap > first.end - first.start) {
                second = first;
                first = (struct vmlab_range){prev_end, vmas[i].start};
            } else if (gap > second.end - second.start) {
                second = (struct vmlab_range){prev_end, vmas[i].start};
            }
        }
        prev_end = vmas[i].end;
    }
    if (first.end == first.start || second.end == second.start)
        return -EINVAL;
    /* Sort the two gaps by address. */
    if (first.start > second.start) {
        struct vmlab_range t = first;
        first = second;
        second = t;
    }
    out[0] = (struct vmlab_range){start, first.start};
    out[1] = (struct vmlab_range){first.end, second.start};
    out[2] = (struct vmlab_range){second.end, prev_end};
    return 0;
}

int vmlab_damon_split_evenly(struct vmlab_regions *rs, size_t i, size_t nr_pieces, uint64_t min_sz)
{
    struct vmlab_region r;
    uint64_t sz_piece, orig_end, start;
    size_t at;

    if (i >= rs->n || nr_pieces == 0)
        return -EINVAL;
    r = rs->v[i];
    orig_end = r.end;
    sz_piece = ALIGN_DOWN(vmlab_region_size(&r) / nr_pieces, min_sz ? min_sz : 1);
    if (sz_piece == 0)
        return -EINVAL;
    rs->v[i].end = r.start + sz_piece;
    at = i + 1;
    for (start = r.start + sz_piece; start + sz_piece <= orig_end; start += sz_piece) {
        struct vmlab_region n = r;
        n.start = n.sampling_addr = start;
        n.end = start + sz_piece;
        if (insert_at(rs, at++, &n))
            return -ENOMEM;
    }
    /* The last piece takes what rounding left over. */
    rs->v[at - 1].end = orig_end;
    return 0;
}

int vmlab_damon_split_at(struct vmlab_regions *rs, size_t i, uint64_t sz)
{
    struct vmlab_region right;

    if (i >= rs->n || sz == 0 || sz >= vmlab_region_size(&rs->v[i]))
        return -EINVAL;
    right = rs->v[i];
    right.start = right.sampling_addr = rs->v[i].start + sz;
    rs->v[i].end = right.start;
    if (rs->v[i].sampling_addr >= rs->v[i].end)
        rs->v[i].sampling_addr = rs->v[i].start;
    return insert_at(rs, i + 1, &right);
}

void vmlab_damon_merge_two(struct vmlab_regions *rs, size_t i)
{
    struct vmlab_region *l = &rs->v[i], *r = &rs->v[i + 1];
    uint64_t sl = vmlab_region_size(l), sr = vmlab_region_size(r);

    l->nr_accesses = (uint32_t)((l->nr_accesses * sl + r->nr_accesses * sr) / (sl + sr));
    l->age = (uint32_t)((l->age * sl + r->age * sr) / (sl + sr));
    l->end = r->end;
    remove_at(rs, i + 1);
}

static unsigned diff(unsigned a, unsigned b) { return a > b ? a - b : b - a; }

void vmlab_damon_merge_regions_of(struct vmlab_regions *rs, unsigned thres, uint64_t sz_limit)
{
    size_t prev = SIZE_MAX;

    for (size_t i = 0; i < rs->n;) {
        struct vmlab_region *r = &rs->v[i];
        /* A changed access rate restarts the age (kernel semantics). */
        if (diff(r->nr_accesses, r->last_nr_accesses) > thres)
            r->age = 0;
        else
            r->age++;
        if (prev != SIZE_MAX && rs->v[prev].end == r->start &&
            diff(rs->v[prev].nr_accesses, r->nr_accesses) <= thres &&
            vmlab_region_size(&rs->v[prev]) + vmlab_region_size(r) <= sz_limit) {
            vmlab_damon_merge_two(rs, prev);     /* r is gone; i now names the next */
        } else {
            prev = i++;
        }
    }
}

int vmlab_damon_split_regions_of(struct vmlab_regions *rs, int nr_subs, uint64_t min_sz,
                                 struct vmlab_rng *rng)
{
    if (!min_sz)
        min_sz = 1;
    for (size_t i = 0; i < rs->n;) {
        uint64_t sz_region = vmlab_region_size(&rs->v[i]);
        size_t pieces = 1;
        for (int k = 0; k < nr_subs - 1 && sz_region > 2 * min_sz; k++) {
            /* The left piece gets 10 to 90 percent of the region. */
            uint64_t sz_sub = ALIGN_DOWN(vmlab_rng_range(rng, 1, 10) * sz_region / 10, min_sz);
            if (sz_sub == 0 || sz_sub >= sz_region)
                continue;
            if (vmlab_damon_split_at(rs, i, sz_sub))
                return -ENOMEM;
            /* as the kernel: keep splitting the left piece */
            sz_region = sz_sub;
            pieces++;
        }
        i += pieces;
    }
    return 0;
}

static int intersects(const struct vmlab_region *r, const struct vmlab_range *g)
{
    return r->start < g->end && g->start < r->end;
}

int vmlab_damon_set_regions(struct vmlab_regions *rs, const struct vmlab_range *ranges,
                            size_t n, uint64_t min_sz)
{
    if (!min_sz)
        min_sz = 1;
    /* Drop the regions outside every range. */
    for (size_t i = 0; i < rs->n;) {
        size_t k;
        for (k = 0; k < n; k++)
            if (intersects(&rs->v[i], &ranges[k]))
                break;
        if (k == n)
            remove_at(rs, i);
        else
            i++;
    }
    for (size_t k = 0; k < n; k++) {
        const struct vmlab_range *g = &ranges[k];
        size_t first = SIZE_MAX, last = 0, at = rs->n;
        for (size_t i = 0; i < rs->n; i++) {
            if (intersects(&rs->v[i], g)) {
                if (first == SIZE_MAX)
                    first = i;
                last = i;
            }
            if (rs->v[i].start >= g->end) {
                at = i;
                break;
            }
        }
        if (first == SIZE_MAX) {
            struct vmlab_region nr = {0};
            nr.start = nr.sampling_addr = ALIGN_DOWN(g->start, min_sz);
            nr.end = ALIGN_UP(g->end, min_sz);
            if (insert_at(rs, at, &nr))
                return -ENOMEM;
            continue;
        }
        rs->v[first].start = ALIGN_DOWN(g->start, min_sz);
        rs->v[last].end = ALIGN_UP(g->end, min_sz);
        /* Fill the holes between the regions now covering the range. */
        for (size_t i = first; i < last; i++) {
            if (rs->v[i].end < rs->v[i + 1].start) {
                struct vmlab_region hole = {0};
                hole.start = hole.sampling_addr = rs->v[i].end;
                hole.end = rs->v[i + 1].start;
                if (insert_at(rs, i + 1, &hole))
                    return -ENOMEM;
                last++;
                i++;
            }
        }
        for (size_t i = first; i <= last; i++)
            if (rs->v[i].sampling_addr < rs->v[i].start || rs->v[i].sampling_addr >= rs->v[i].end)
                rs->v[i].sampling_addr = rs->v[i].start;
    }
    return 0;
}
