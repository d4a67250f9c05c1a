/* The agent's chunks (see agent.h): 2 MiB pieces of the program kept
 * registered MISSING across samples.
 *
 * Registering one page MISSING splits its VMA in three and unregistering
 * it merges them back: half of the agent's CPU (perf on 6.18), and the
 * mmap lock taken for writing twice per sample.  A 2 MiB piece of the
 * program whose every page is present stays registered instead: a
 * missing-page fault there is one of our moves; munmap, MADV_DONTNEED and
 * mremap (events) release the piece first; any other fault there finds no
 * unit and releases it (fault()).  Registered neighbours merge into one
 * VMA again. */
#include "agent.h"

static size_t chunk_at(const struct agent *a, uint64_t c)   /* first >= c */
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

int agent_in_chunk(const struct agent *a, uint64_t addr)
{
    uint64_t c = addr & ~(HUGE - 1);
    size_t i = chunk_at(a, c);
    return i < a->nchunks && a->chunks[i] == c;
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

/* Forget the chunks that meet [lo, hi): unregistered whole, or, when
 * [lo, hi) was unmapped, what is left of them around it. */
void agent_chunks_release(struct agent *a, uint64_t lo, uint64_t hi, int unmapped)
{
    size_t i = chunk_at(a, lo & ~(HUGE - 1)), j = i;
    for (; j < a->nchunks && a->chunks[j] < hi; j++) {
        uint64_t c = a->chunks[j];
        if (!unmapped) {
            release_piece(a, c, c + HUGE);
            continue;
        }
        if (lo > c)
            release_piece(a, c, lo);
        if (hi < c + HUGE)
            release_piece(a, hi, c + HUGE);
    }
    for (size_t k = j; k < a->nchunks; k++)
        a->chunks[i + k - j] = a->chunks[k];
    a->nchunks -= j - i;
}

/* mremap moved [from, from + len) to `to`: a chunk moved whole to a
 * 2 MiB-aligned place is still one; others are forgotten (their
 * registration stays: a stray missing fault there finds no unit and is
 * unregistered then). */
void agent_chunks_remap(struct agent *a, uint64_t from, uint64_t to, uint64_t len)
{
    size_t i = chunk_at(a, from & ~(HUGE - 1)), j = i, n = 0;
    uint64_t moved[64];
    for (; j < a->nchunks && a->chunks[j] < from + len; j++) {
        uint64_t c = a->chunks[j];
        if (c >= from && c + HUGE <= from + len && ((to - from) & (HUGE - 1)) == 0 && n < 64)
            moved[n++] = c - from + to;
    }
    for (size_t k = j; k < a->nchunks; k++)
        a->chunks[i + k - j] = a->chunks[k];
    a->nchunks -= j - i;
    for (size_t k = 0; k < n && a->nchunks < MAXCHUNKS; k++) {
        size_t at = chunk_at(a, moved[k]);
        if (at < a->nchunks && a->chunks[at] == moved[k])
            continue;
        for (size_t m = a->nchunks; m > at; m--)
            a->chunks[m] = a->chunks[m - 1];
        a->chunks[at] = moved[k];
        a->nchunks++;
    }
}

/* Keep the 2 MiB piece around page registered when every page of it is
 * present anonymous memory; 1 when it is registered now. */
int agent_chunk_take(struct agent *a, uint64_t page)
{
    uint64_t c = page & ~(HUGE - 1);
    struct page_region pr[2];
    struct pm_scan_arg s = {
        .size = sizeof s, .start = c, .end = c + HUGE, .vec = (uint64_t)(uintptr_t)pr, .vec_len = 2,
        .category_mask = PAGE_IS_PRESENT, .return_mask = PAGE_IS_PRESENT | PAGE_IS_FILE};
    size_t at = chunk_at(a, c);

    if (at < a->nchunks && a->chunks[at] == c)
        return 1;
    if (a->nchunks >= MAXCHUNKS || agent_in_self(a, c, c + HUGE))
        return 0;
    if (R_IOCTL(a->pagemap, PAGEMAP_SCAN, &s) != 1 || pr[0].start != c || pr[0].end != c + HUGE ||
        (pr[0].categories & PAGE_IS_FILE))
        return 0;
    if (agent_reg(a, c, HUGE, UFFDIO_REGISTER_MODE_MISSING) < 0)
        return 0;
    /* UFFDIO_REGISTER skips holes: a page the program unmapped between
     * the scan and the registration (unregistered then, so no event) left
     * one, and a mapping it makes there later is not ours, while the piece
     * would claim it: its unit moved out unregistered, the program's touch
     * got a zero page (victim zap).  Look again: still wholly present. */
    if (R_IOCTL(a->pagemap, PAGEMAP_SCAN, &s) != 1 || pr[0].start != c || pr[0].end != c + HUGE ||
        (pr[0].categories & PAGE_IS_FILE)) {
        agent_unreg(a, c, HUGE);   /* no unit is out in it: it was wholly present */
        return 0;
    }
    for (size_t m = a->nchunks; m > at; m--)
        a->chunks[m] = a->chunks[m - 1];
    a->chunks[at] = c;
    a->nchunks++;
    return 1;
}

