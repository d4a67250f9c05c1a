/* The agent's chunks (see agent.h): runs of present pages of the program
 * kept registered MISSING across samples.
 *
 * Registering one page MISSING splits its VMA in three and unregistering
 * it merges them back: half of the agent's CPU (perf on 6.18), and the
 * mmap lock taken for writing twice per sample.  A run of the program's
 * pages that are all present (within one 2 MiB piece) stays registered
 * instead: a missing-page fault there is one of our moves; munmap,
 * MADV_DONTNEED and mremap (events) release the run first; any other
 * fault there finds no unit and releases it (fault()).  Whole 2 MiB
 * pieces were the first chunks; runs also keep the small mappings (data,
 * heap, stack, libraries' anonymous pages) registered, whose register and
 * unregister every sample were still 13% of the agent's CPU at 1 ms
 * samples.  Registered neighbours merge into one VMA again. */
#include "agent.h"

static size_t chunk_at(const struct agent *a, uint64_t c)   /* first start >= c */
{
    size_t lo = 0, hi = a->nchunks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->chunks[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The chunk holding addr (index), or nchunks. */
static size_t chunk_of(const struct agent *a, uint64_t addr)
{
    size_t i = chunk_at(a, addr + 1);
    return i > 0 && a->chunk_end[i - 1] > addr ? i - 1 : a->nchunks;
}

int agent_in_chunk(const struct agent *a, uint64_t addr)
{
    return chunk_of(a, addr) < a->nchunks;
}

/* Unregister [p, q) but the kept units armed in it (a page of theirs may
 * be out: its registration must stay until it is home), which keep their
 * own registration from now on. */
static void release_piece(struct agent *a, uint64_t p, uint64_t q)
{
    uint64_t lo[512], hi[512];
    size_t n = 0;
    for (size_t i = 0; i < a->nunits && n < 512; i++) {
        struct unit *u = &a->units[i];
        if (!u->kept || u->state == U_DONE || u->addr + u->len <= p || u->addr >= q)
            continue;
        u->kept = 0;
        size_t k = n++;
        for (; k > 0 && lo[k - 1] > u->addr; k--) {   /* insertion: by address */
            lo[k] = lo[k - 1];
            hi[k] = hi[k - 1];
        }
        lo[k] = u->addr > p ? u->addr : p;
        hi[k] = u->addr + u->len < q ? u->addr + u->len : q;
    }
    for (size_t k = 0; k < n; k++) {
        if (lo[k] > p)
            agent_unreg(a, p, lo[k] - p);
        if (hi[k] > p)
            p = hi[k];
    }
    if (q > p)
        agent_unreg(a, p, q - p);
}

static void forget(struct agent *a, size_t i, size_t j)   /* chunks [i, j) */
{
    for (size_t k = j; k < a->nchunks; k++) {
        a->chunks[i + k - j] = a->chunks[k];
        a->chunk_end[i + k - j] = a->chunk_end[k];
    }
    a->nchunks -= j - i;
}

/* Forget the chunks that meet [lo, hi): unregistered whole, or, when
 * [lo, hi) was unmapped, what is left of them around it. */
void agent_chunks_release(struct agent *a, uint64_t lo, uint64_t hi, int unmapped)
{
    size_t i = chunk_at(a, lo), j;
    if (i > 0 && a->chunk_end[i - 1] > lo)
        i--;
    for (j = i; j < a->nchunks && a->chunks[j] < hi; j++) {
        uint64_t c = a->chunks[j], e = a->chunk_end[j];
        if (!unmapped) {
            release_piece(a, c, e);
            continue;
        }
        if (lo > c)
            release_piece(a, c, lo);
        if (hi < e)
            release_piece(a, hi, e);
    }
    forget(a, i, j);
}

static int add(struct agent *a, uint64_t c, uint64_t e)   /* no overlap: checked */
{
    size_t at = chunk_at(a, c);
    if (a->nchunks >= MAXCHUNKS)
        return -1;
    for (size_t m = a->nchunks; m > at; m--) {
        a->chunks[m] = a->chunks[m - 1];
        a->chunk_end[m] = a->chunk_end[m - 1];
    }
    a->chunks[at] = c;
    a->chunk_end[at] = e;
    a->nchunks++;
    return 0;
}

/* mremap moved [from, from + len) to `to`: a chunk moved whole is still
 * one (its registration went with the mapping); others are forgotten
 * (their registration stays: a stray missing fault there finds no unit
 * and is unregistered then). */
void agent_chunks_remap(struct agent *a, uint64_t from, uint64_t to, uint64_t len)
{
    size_t i = chunk_at(a, from), j, n = 0;
    uint64_t moved[64][2];
    if (i > 0 && a->chunk_end[i - 1] > from)
        i--;
    for (j = i; j < a->nchunks && a->chunks[j] < from + len; j++) {
        uint64_t c = a->chunks[j], e = a->chunk_end[j];
        if (c >= from && e <= from + len && n < 64) {
            moved[n][0] = c - from + to;
            moved[n++][1] = e - from + to;
        }
    }
    forget(a, i, j);
    for (size_t k = 0; k < n; k++) {
        size_t at = chunk_at(a, moved[k][0]);
        if ((at < a->nchunks && a->chunks[at] < moved[k][1]) || (at > 0 && a->chunk_end[at - 1] > moved[k][0]))
            continue;   /* meets one already known: leave it be */
        add(a, moved[k][0], moved[k][1]);
    }
}

/* Keep the run of present anonymous pages around [page, page + len)
 * (within its 2 MiB piece) registered; 1 when all of [page, page + len)
 * is registered by a chunk now. */
int agent_chunk_take(struct agent *a, uint64_t page, uint64_t len)
{
    uint64_t c = page & ~(HUGE - 1), lo = 0, hi = 0;
    struct page_region pr[16];
    struct pm_scan_arg s = {
        .size = sizeof s, .start = c, .end = c + HUGE, .vec = (uint64_t)(uintptr_t)pr, .vec_len = 16,
        .category_mask = PAGE_IS_PRESENT, .return_mask = PAGE_IS_PRESENT | PAGE_IS_FILE};
    size_t at = chunk_of(a, page);
    long n;

    if (at < a->nchunks && a->chunk_end[at] >= page + len)
        return 1;
    /* a chunk covering only part of the unit (a huge page collapsed over
     * a run): released, else the unit's own unregistration would cut a
     * hole in it that it does not know of */
    agent_chunks_release(a, page, page + len, 0);
    if (a->nchunks >= MAXCHUNKS)
        return 0;
    n = R_IOCTL(a->pagemap, PAGEMAP_SCAN, &s);
    for (long k = 0; k < n; k++)
        if (pr[k].start <= page && pr[k].end >= page + len && !(pr[k].categories & PAGE_IS_FILE)) {
            lo = pr[k].start;
            hi = pr[k].end;
        }
    if (hi <= lo)
        return 0;
    /* not over another chunk (both sorted, page in neither) */
    at = chunk_at(a, page);
    if (at < a->nchunks && a->chunks[at] < hi)
        hi = a->chunks[at];
    if (at > 0 && a->chunk_end[at - 1] > lo)
        lo = a->chunk_end[at - 1];
    /* nor over the agent's own memory, often right beside the program's */
    {
        const uint64_t self[4][2] = {{a->self_lo, a->self_hi}, {a->stack_lo, a->stack_hi},
                                     {a->hold, a->hold + a->hold_len}, {a->small, a->small + a->small_len}};
        for (int k = 0; k < 4; k++) {
            if (self[k][1] <= page && self[k][1] > lo)
                lo = self[k][1];
            else if (self[k][0] >= page + len && self[k][0] < hi)
                hi = self[k][0];
        }
    }
    if (hi < page + len || lo > page || agent_in_self(a, lo, hi))
        return 0;
    /* nor over a unit of this batch registered alone: its own
     * unregistration, when done, would cut a hole in the chunk */
    for (size_t i = 0; i < a->nunits; i++) {
        const struct unit *u = &a->units[i];
        if (u->state != U_DONE && !u->kept && u->addr < hi && u->addr + u->len > lo)
            return 0;
    }
    /* The run may reach into a mapping that cannot be registered (the
     * copied-on-write pages of a library's data are anonymous in a file
     * mapping): then the part from the page up, then the part up to it. */
    if (agent_reg(a, lo, hi - lo, UFFDIO_REGISTER_MODE_MISSING) == 0)
        return add(a, lo, hi) == 0;
    if (hi > page + len && agent_reg(a, page, hi - page, UFFDIO_REGISTER_MODE_MISSING) == 0)
        return add(a, page, hi) == 0;
    if (lo < page && agent_reg(a, lo, page + len - lo, UFFDIO_REGISTER_MODE_MISSING) == 0)
        return add(a, lo, page + len) == 0;
    return 0;
}
