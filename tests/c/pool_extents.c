/* The pool space's free ranges against a model: random takes (aligned,
 * and in place at an address) and gives over a small space, checked after
 * every step against a byte map of what is handed out: no block overlaps
 * another or leaves the space, the free ranges are sorted, disjoint, never
 * adjacent (coalesced) and never touch the bump, and once everything is
 * given back the whole space is one piece again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vmlab/pool.h"

#define UNIT 4096u
#define UNITS 512u
#define MAXB 256

static unsigned char used[UNITS];
static struct {
    size_t off, len;
} blk[MAXB];
static int nblk;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* "" when x agrees with the model, else what is wrong */
static const char *check(const struct vmlab_pool_extents *x)
{
    size_t free_bytes = 0;
    for (size_t i = 0; i < x->n; i++) {
        const struct vmlab_pool_range *r = &x->r[i];
        if (!r->len || r->off % UNIT || r->len % UNIT)
            return "a range is empty or not unit-aligned";
        if (i && x->r[i - 1].off + x->r[i - 1].len >= r->off)
            return "ranges overlap, are unsorted or were not coalesced";
        if (r->off + r->len >= x->bump)
            return "a free range reaches the bump";
        for (size_t u = r->off / UNIT; u < (r->off + r->len) / UNIT; u++)
            if (used[u])
                return "a free range covers a live block";
        free_bytes += r->len;
    }
    if (free_bytes != x->free_bytes)
        return "free_bytes is wrong";
    for (size_t u = x->bump / UNIT; u < UNITS; u++)
        if (used[u])
            return "a live block above the bump";
    /* below the bump: every unit is live or free */
    size_t live = 0;
    for (size_t u = 0; u < x->bump / UNIT; u++)
        live += used[u];
    if (live * UNIT + free_bytes != x->bump)
        return "units below the bump are neither live nor free";
    return "";
}

static int mark(size_t off, size_t len, int v)
{
    for (size_t u = off / UNIT; u < (off + len) / UNIT; u++) {
        if (used[u] == v)
            return -1;
        used[u] = (unsigned char)v;
    }
    return 0;
}

int main(void)
{
    struct vmlab_pool_extents x;
    uint64_t s = 0x9e3779b97f4a7c15ull;
    const char *bad = "";
    long takes = 0, inplace = 0, fails = 0, step;

    vmlab_pool_extents_init(&x, (size_t)UNITS * UNIT);
    for (step = 0; step < 200000 && !*bad; step++) {
        int r = (int)(rnd(&s) % 10);
        if (nblk && (r < 4 || nblk == MAXB)) {
            int i = (int)(rnd(&s) % (uint64_t)nblk);
            if (mark(blk[i].off, blk[i].len, 0) < 0)
                bad = "a block given back twice";
            else if (vmlab_pool_extents_give(&x, blk[i].off, blk[i].len) < 0)
                bad = "give failed";
            blk[i] = blk[--nblk];
        } else {
            size_t len = (1 + rnd(&s) % 16) * UNIT, align = UNIT << (rnd(&s) % 4), want = (size_t)-1, at;
            if (r == 9 && nblk) {
                /* in place: right after a live block (a realloc growing) */
                int i = (int)(rnd(&s) % (uint64_t)nblk);
                want = blk[i].off + blk[i].len;
            }
            at = vmlab_pool_extents_take(&x, len, align, want);
            if (at == (size_t)-1) {
                fails++;
                /* refused: then there really was no room */
                if (want != (size_t)-1 && want + len <= (size_t)UNITS * UNIT) {
                    int room = 1;
                    for (size_t u = want / UNIT; u < (want + len) / UNIT; u++)
                        room &= !used[u];
                    if (room)
                        bad = "an in-place take refused with room there";
                }
            } else {
                takes++;
                inplace += want != (size_t)-1;
                if (at % align && want == (size_t)-1)
                    bad = "a block is not aligned";
                else if (at + len > (size_t)UNITS * UNIT)
                    bad = "a block leaves the space";
                else if (want != (size_t)-1 && at != want)
                    bad = "an in-place take went elsewhere";
                else if (mark(at, len, 1) < 0)
                    bad = "a block overlaps a live one";
                blk[nblk].off = at;
                blk[nblk++].len = len;
            }
        }
        if (!*bad)
            bad = check(&x);
    }
    ok(!*bad, "%ld random steps agree with the model (%ld takes, %ld in place, %ld refused)%s%s", step, takes,
       inplace, fails, *bad ? ": " : "", bad);
    while (nblk) {
        nblk--;
        mark(blk[nblk].off, blk[nblk].len, 0);
        vmlab_pool_extents_give(&x, blk[nblk].off, blk[nblk].len);
    }
    ok(x.n == 0 && x.bump == 0 && x.free_bytes == 0, "everything given back: one piece again (%zu ranges, bump %zu)",
       x.n, x.bump);
    ok(vmlab_pool_extents_take(&x, (size_t)UNITS * UNIT, UNIT, (size_t)-1) == 0, "and the whole space can be taken");
    ok(vmlab_pool_extents_take(&x, UNIT, UNIT, (size_t)-1) == (size_t)-1, "then nothing more");
    vmlab_pool_extents_fini(&x);
    return tap_done();
}
