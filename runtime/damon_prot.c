/* The prot backend: vmtrace's trick in user space.  Each sampled page is
 * made PROT_NONE; the first touch faults, the fault hook records the access
 * and restores the page's protection, and the touch goes on.
 *
 * Races between the sampling thread and the hook (which runs in whatever
 * thread touched the page):
 *  - slots live in two generations (this sample's and the last one's); the
 *    sampler overwrites the older generation only when no hook is running
 *    (inflight == 0), so a hook never reads a slot being rewritten;
 *  - a fault whose slot vanished before the hook ran (the sampler restored
 *    the page meanwhile) is retried once; a second fault on the same page
 *    is a real one and goes on to the guards and the previous handler. */
#include "vmlab/damon.h"
#include "vmlab/fault.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL

struct slot {
    uintptr_t page;
    int accessed;
    int prot;
};

struct prot_state {
    struct slot *gen[2];
    size_t n[2], cap;
    int cur;
    int inflight;
    int *target_prot;
    struct vmlab_range *bounds;    /* each target's span, for stale faults */
    size_t nr_targets;
    uint64_t faults;
};

static __thread uintptr_t last_unclaimed;

static int claim(struct prot_state *ps, int g, uintptr_t page)
{
    size_t n = __atomic_load_n(&ps->n[g], __ATOMIC_ACQUIRE);
    struct slot *s = ps->gen[g];
    for (size_t i = 0; i < n; i++) {
        if (__atomic_load_n(&s[i].page, __ATOMIC_ACQUIRE) == page) {
            __atomic_store_n(&s[i].accessed, 1, __ATOMIC_RELEASE);
            mprotect((void *)page, PAGE, s[i].prot);
            return 1;
        }
    }
    return 0;
}

static int on_fault(void *addr, int sig, int code, void *ctx)
{
    struct prot_state *ps = ctx;
    uintptr_t page = (uintptr_t)addr & ~(PAGE - 1);
    int cur, handled = 0;

    if (sig != SIGSEGV || code != SEGV_ACCERR)
        return 0;
    __atomic_add_fetch(&ps->inflight, 1, __ATOMIC_ACQ_REL);
    cur = __atomic_load_n(&ps->cur, __ATOMIC_ACQUIRE);
    if (claim(ps, cur, page) || claim(ps, !cur, page)) {
        handled = 1;
        __atomic_add_fetch(&ps->faults, 1, __ATOMIC_RELAXED);
        last_unclaimed = 0;
    } else if (page != last_unclaimed) {
        for (size_t t = 0; t < ps->nr_targets; t++)
            if (page >= ps->bounds[t].start && page < ps->bounds[t].end) {
                last_unclaimed = page;   /* maybe stale: retry once */
                handled = 1;
            }
    } else {
        last_unclaimed = 0;
    }
    __atomic_sub_fetch(&ps->inflight, 1, __ATOMIC_ACQ_REL);
    return handled;
}

static int prot_init(struct vmlab_damon *d)
{
    (void)d;
    return 0;
}

static int grow(struct prot_state *ps, size_t need)
{
    if (need <= ps->cap)
        return 0;
    /* Only from prepare, with no hook in flight on the older generation:
     * the current one is reallocated after it stops being current. */
    return -ENOMEM;
}

static void prot_prepare(struct vmlab_damon *d)
{
    struct prot_state *ps = d->backend;
    int next = !ps->cur;
    size_t k = 0;

    /* Nobody may be reading the generation we are about to rewrite. */
    while (__atomic_load_n(&ps->inflight, __ATOMIC_ACQUIRE))
        ;
    __atomic_store_n(&ps->n[next], 0, __ATOMIC_RELEASE);
    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_regions *rs = &d->targets[t].regions;
        for (size_t i = 0; i < rs->n; i++) {
            struct slot *s;
            if (grow(ps, k + 1) < 0)
                break;
            s = &ps->gen[next][k++];
            s->page = rs->v[i].sampling_addr & ~(PAGE - 1);
            s->accessed = 0;
            s->prot = ps->target_prot[t];
        }
    }
    __atomic_store_n(&ps->n[next], k, __ATOMIC_RELEASE);
    __atomic_store_n(&ps->cur, next, __ATOMIC_RELEASE);
    for (size_t i = 0; i < k; i++)
        mprotect((void *)ps->gen[next][i].page, PAGE, PROT_NONE);
}

static void prot_check(struct vmlab_damon *d)
{
    struct prot_state *ps = d->backend;
    struct slot *s = ps->gen[ps->cur];
    size_t k = 0, n = ps->n[ps->cur];

    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_regions *rs = &d->targets[t].regions;
        for (size_t i = 0; i < rs->n && k < n; i++, k++) {
            if (__atomic_load_n(&s[k].accessed, __ATOMIC_ACQUIRE))
                rs->v[i].nr_accesses++;
            else
                mprotect((void *)s[k].page, PAGE, s[k].prot);  /* not touched: undo */
        }
    }
    d->stats.faults = __atomic_load_n(&ps->faults, __ATOMIC_RELAXED);
}

static void prot_cleanup(struct vmlab_damon *d)
{
    struct prot_state *ps = d->backend;
    if (!ps)
        return;
    /* Give every page its protection back before forgetting it. */
    for (int g = 0; g < 2; g++)
        for (size_t i = 0; i < ps->n[g]; i++)
            mprotect((void *)ps->gen[g][i].page, PAGE, ps->gen[g][i].prot);
    vmlab_fault_remove_hook(on_fault, ps);
    while (__atomic_load_n(&ps->inflight, __ATOMIC_ACQUIRE))
        ;
    free(ps->gen[0]);
    free(ps->gen[1]);
    free(ps->target_prot);
    free(ps->bounds);
    free(ps);
    d->backend = NULL;
}

const struct vmlab_damon_ops vmlab_damon_prot_ops = {
    .name = "prot",
    .caps = VMLAB_DAMON_CAP_STEP | VMLAB_DAMON_CAP_THREAD | VMLAB_DAMON_CAP_APPLY | VMLAB_DAMON_CAP_HOOKS,
    .init = prot_init,
    .prepare = prot_prepare,
    .check = prot_check,
    .cleanup = prot_cleanup,
};

int vmlab_damon_prot_attach(struct vmlab_damon *d, const int *prot)
{
    struct prot_state *ps = calloc(1, sizeof *ps);
    size_t cap = (size_t)d->attrs.max_nr_regions * 3 + 64;
    int e;

    if (!ps)
        return -ENOMEM;
    ps->cap = cap;
    ps->gen[0] = calloc(cap, sizeof(struct slot));
    ps->gen[1] = calloc(cap, sizeof(struct slot));
    ps->target_prot = calloc(d->nr_targets + 1, sizeof *ps->target_prot);
    ps->bounds = calloc(d->nr_targets + 1, sizeof *ps->bounds);
    if (!ps->gen[0] || !ps->gen[1] || !ps->target_prot || !ps->bounds) {
        free(ps->gen[0]); free(ps->gen[1]); free(ps->target_prot); free(ps->bounds); free(ps);
        return -ENOMEM;
    }
    ps->nr_targets = d->nr_targets;
    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_damon_target *tg = &d->targets[t];
        ps->target_prot[t] = prot ? prot[t] : PROT_READ | PROT_WRITE;
        if (tg->nr_ranges) {
            ps->bounds[t].start = tg->ranges[0].start;
            ps->bounds[t].end = tg->ranges[tg->nr_ranges - 1].end;
        }
    }
    d->backend = ps;
    d->ops = &vmlab_damon_prot_ops;
    if ((e = vmlab_fault_add_hook(on_fault, ps)) < 0) {
        e = -errno;
        prot_cleanup(d);
        return e;
    }
    return 0;
}
