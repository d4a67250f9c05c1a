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
    if (nr_pieces == 1)
        return 0;               /* as upstream: one piece is the region */
    r = rs->v[i];
    orig_end = r.end;
    sz_piece = ALIGN_DOWN(vmlab_region_size(&r) / nr_pieces, min_sz ? min_sz : 1);
    if (sz_piece == 0)
        return -EINVAL;
    rs->v[i].end = r.start + sz_piece;
    at = i + 1;
    /* exactly nr_pieces, as vaddr's damon_va_evenly_split_region since
     * its fix (it made an extra piece when the size did not divide) */
    for (start = r.start + sz_piece; at < i + nr_pieces; start += sz_piece) {
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

/* Cut *l at sz from its start; *right gets the rest.  Both keep the
 * counts; the right piece samples its first page until the next pick. */
static void cut(struct vmlab_region *l, uint64_t sz, struct vmlab_region *right)
{
    *right = *l;
    right->start = right->sampling_addr = l->start + sz;
    l->end = right->start;
    if (l->sampling_addr >= l->end)
        l->sampling_addr = l->start;
}

int vmlab_damon_split_at(struct vmlab_regions *rs, size_t i, uint64_t sz)
{
    struct vmlab_region right;

    if (i >= rs->n || sz == 0 || sz >= vmlab_region_size(&rs->v[i]))
        return -EINVAL;
    cut(&rs->v[i], sz, &right);
    return insert_at(rs, i + 1, &right);
}

/* Fold r into l, its left neighbour: size-weighted nr_accesses and age. */
static void merge_into(struct vmlab_region *l, const struct vmlab_region *r)
{
    uint64_t sl = vmlab_region_size(l), sr = vmlab_region_size(r);

    l->nr_accesses = (uint32_t)((l->nr_accesses * sl + r->nr_accesses * sr) / (sl + sr));
    l->age = (uint32_t)((l->age * sl + r->age * sr) / (sl + sr));
    l->end = r->end;
}

void vmlab_damon_merge_two(struct vmlab_regions *rs, size_t i)
{
    merge_into(&rs->v[i], &rs->v[i + 1]);
    remove_at(rs, i + 1);
}

static unsigned diff(unsigned a, unsigned b) { return a > b ? a - b : b - a; }

/* One pass, compacting in place (the kernel walks a list; an array would
 * pay a memmove a merge). */
void vmlab_damon_merge_regions_of(struct vmlab_regions *rs, unsigned thres, uint64_t sz_limit)
{
    size_t kept = 0;

    for (size_t i = 0; i < rs->n; i++) {
        struct vmlab_region r = rs->v[i], *prev = kept ? &rs->v[kept - 1] : NULL;
        /* A changed access rate restarts the age (kernel semantics). */
        if (diff(r.nr_accesses, r.last_nr_accesses) > thres)
            r.age = 0;
        else
            r.age++;
        if (prev && prev->end == r.start && diff(prev->nr_accesses, r.nr_accesses) <= thres &&
            vmlab_region_size(prev) + vmlab_region_size(&r) <= sz_limit)
            merge_into(prev, &r);
        else
            rs->v[kept++] = r;
    }
    rs->n = kept;
}

static int push(struct vmlab_regions *rs, const struct vmlab_region *r)
{
    int e = reserve(rs, rs->n + 1);
    if (!e)
        rs->v[rs->n++] = *r;
    return e;
}

/* Into a new array in one pass: each region's pieces are made left piece
 * first, as the kernel keeps splitting the left one, then laid out in
 * address order.  On failure the regions are as they were. */
int vmlab_damon_split_regions_of(struct vmlab_regions *rs, int nr_subs, uint64_t min_sz,
                                 struct vmlab_rng *rng)
{
    struct vmlab_regions out = {0}, rights = {0};
    int e = 0;

    if (!min_sz)
        min_sz = 1;
    if (nr_subs > 1)
        e = reserve(&out, rs->n * 2);
    for (size_t i = 0; i < rs->n && !e; i++) {
        struct vmlab_region left = rs->v[i], right;
        uint64_t sz_region = vmlab_region_size(&left);
        for (int k = 0; k < nr_subs - 1 && sz_region > 2 * min_sz && !e; k++) {
            /* The left piece gets 10 to 90 percent of the region. */
            uint64_t sz_sub = ALIGN_DOWN(vmlab_rng_range(rng, 1, 10) * sz_region / 10, min_sz);
            if (sz_sub == 0 || sz_sub >= sz_region)
                continue;
            cut(&left, sz_sub, &right);
            e = push(&rights, &right);
            /* as the kernel: keep splitting the left piece */
            sz_region = sz_sub;
        }
        if (!e)
            e = push(&out, &left);
        while (!e && rights.n)
            e = push(&out, &rights.v[--rights.n]);
    }
    vmlab_regions_free(&rights);
    if (e) {
        vmlab_regions_free(&out);
        return e;
    }
    vmlab_regions_free(rs);
    *rs = out;
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
