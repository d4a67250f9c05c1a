/* The region sampler: DAMON's algorithm in user space.
 *
 * The region algorithms (runtime/damon_regions.c) follow the kernel's
 * mm/damon/core.c and vaddr.c: merge adjacent regions of similar access
 * counts (size-weighted), split regions at random 10-90 % points, fit
 * regions to new address ranges, and the "three regions" of a process.
 * The monitor (runtime/damon_monitor.c) samples one page per region every
 * sample interval through a backend, and merges, reports, resets and
 * splits every aggregation interval.  Errors are negative errno values. */
#ifndef VMLAB_DAMON_H
#define VMLAB_DAMON_H
#include <stddef.h>
#include <stdint.h>

#include "vmlab/region.h"

/* ---- regions ---------------------------------------------------------------- */

struct vmlab_range {
    uint64_t start, end;
};

/* A target's regions: sorted by address, not overlapping. */
struct vmlab_regions {
    struct vmlab_region *v;
    size_t n, cap;
};

void vmlab_regions_free(struct vmlab_regions *rs);
int vmlab_regions_push(struct vmlab_regions *rs, uint64_t start, uint64_t end);
uint64_t vmlab_regions_size(const struct vmlab_regions *rs);

/* A small, seedable random source (the kernel uses get_random_u32). */
struct vmlab_rng {
    uint64_t s;
};
/* wyrand: one 128-bit multiply per number, the same sequence for the
 * same seed.  Inline: it runs once per region per sample. */
#define VMLAB_RNG_STEP 0xa0761d6478bd642fULL
/* The number a state gives (after its step). */
static inline uint64_t vmlab_rng_mix(uint64_t s)
{
    uint64_t k = s ^ 0xe7037ed1a0b428dbULL;
    /* the high and low halves of s * k: written apart, GCC keeps the
     * 128-bit product in registers inside loops (no stack round trip) */
    return (uint64_t)(((unsigned __int128)s * k) >> 64) ^ (s * k);
}
static inline uint64_t vmlab_rng_next(struct vmlab_rng *r)
{
    r->s += VMLAB_RNG_STEP;
    return vmlab_rng_mix(r->s);
}
/* A number in [lo, hi), by multiply-shift (no division). */
static inline uint64_t vmlab_rng_range(struct vmlab_rng *r, uint64_t lo, uint64_t hi)
{
    return hi > lo ? lo + (uint64_t)(((unsigned __int128)vmlab_rng_next(r) * (hi - lo)) >> 64) : lo;
}

/* The three regions covering sorted VMAs, cut at the two largest gaps.
 * -EINVAL when there are not two gaps. */
int vmlab_damon_three_regions(const struct vmlab_range *vmas, size_t n,
                              struct vmlab_range out[3]);
/* Replace region i by nr_pieces equal pieces (the last takes the rest).
 * -EINVAL when nr_pieces is 0 or the pieces would be smaller than min_sz. */
int vmlab_damon_split_evenly(struct vmlab_regions *rs, size_t i, size_t nr_pieces,
                             uint64_t min_sz);
/* Split region i at sz from its start; both halves keep its counts. */
int vmlab_damon_split_at(struct vmlab_regions *rs, size_t i, uint64_t sz);
/* Merge region i+1 into region i (size-weighted nr_accesses and age). */
void vmlab_damon_merge_two(struct vmlab_regions *rs, size_t i);
/* Age every region, then merge neighbours whose nr_accesses differ by at
 * most thres while the merged size stays within sz_limit. */
void vmlab_damon_merge_regions_of(struct vmlab_regions *rs, unsigned thres, uint64_t sz_limit);
/* Split each region into up to nr_subs random 10-90 % pieces. */
int vmlab_damon_split_regions_of(struct vmlab_regions *rs, int nr_subs, uint64_t min_sz,
                                 struct vmlab_rng *rng);
/* Fit the regions to new ranges: drop what is outside, stretch the first
 * and last overlapping regions to the range bounds, fill holes, and add a
 * region for a range nothing overlaps. */
int vmlab_damon_set_regions(struct vmlab_regions *rs, const struct vmlab_range *ranges,
                            size_t n, uint64_t min_sz);

/* ---- the monitor ------------------------------------------------------------- */

struct vmlab_damon_attrs {
    uint64_t sample_us, aggr_us, update_us;
    unsigned min_nr_regions, max_nr_regions;
};
/* The kernel's defaults: 5 ms, 100 ms, 1 s, 10 and 1000 regions. */
void vmlab_damon_default_attrs(struct vmlab_damon_attrs *a);
/* NULL when acceptable, else the reason (as the kernel rejects them). */
const char *vmlab_damon_check_attrs(const struct vmlab_damon_attrs *a);

struct vmlab_damon_target {
    struct vmlab_regions regions;
    struct vmlab_range *ranges;   /* what to monitor (NULL: the whole process) */
    size_t nr_ranges;
};

struct vmlab_damon;

/* How a backend checks accesses.  prepare() readies sampled pages for a
 * check (the prot backend protects them); check() says whether each was
 * accessed since.  Both see every target's regions, sampling_addr set. */
struct vmlab_damon_ops {
    const char *name;
    int (*init)(struct vmlab_damon *d);
    void (*prepare)(struct vmlab_damon *d);
    void (*check)(struct vmlab_damon *d);  /* adds to nr_accesses */
    /* Optional: check(), then pick each region's next sample with
     * vmlab_damon_pick_sample() and d->rng, in one pass over the regions.
     * The monitor uses it when no aggregation or update falls between
     * the check and the pick (they would change the regions). */
    void (*check_and_pick)(struct vmlab_damon *d);
    /* Current address ranges of target t (whole-process targets). */
    int (*ranges)(struct vmlab_damon *d, size_t t, struct vmlab_range **out, size_t *n);
    void (*cleanup)(struct vmlab_damon *d);
};

struct vmlab_damon_stats {
    uint64_t samples, aggregations, updates, faults;
    double cpu_seconds;
    uint64_t effective_sample_us;
};

/* Called after each aggregation with the regions as they are before the
 * reset (DAMOS hooks in here too). */
typedef void (*vmlab_damon_aggr_fn)(struct vmlab_damon *d, uint64_t time_us, void *ctx);
#define VMLAB_DAMON_MAX_HOOKS 16

struct vmlab_damon {
    struct vmlab_damon_attrs attrs;
    const struct vmlab_damon_ops *ops;
    void *backend;                 /* the backend's state */
    struct vmlab_damon_target *targets;
    size_t nr_targets;
    struct vmlab_rng rng;
    uint64_t now_us;               /* monitor time: virtual (replay) or real */
    uint64_t next_aggr_us, next_update_us;
    unsigned last_nr_regions;
    double budget;                 /* fraction of one CPU; 0 = unbounded */
    struct vmlab_damon_stats stats;
    vmlab_damon_aggr_fn on_aggr;
    void *on_aggr_ctx;
    /* More aggregation hooks (DAMOS schemes): called after on_aggr, in
     * order, before the reset, on whichever thread samples, with the
     * monitor held (vmlab_damon_lock) so they may read and change regions. */
    struct vmlab_damon_hook {
        vmlab_damon_aggr_fn fn;
        void *ctx;
    } hooks[VMLAB_DAMON_MAX_HOOKS];
    size_t nr_hooks;
    void *runner;                  /* the sampling thread, when one runs */
};

/* The sampling granularity: one page, and the smallest region. */
#define VMLAB_DAMON_MIN_REGION 4096ULL
/* The page region r samples next: page aligned, within r.  One draw from
 * rng, none for a region smaller than a page (the order of draws is what
 * makes a seed's snapshots repeatable). */
static inline uint64_t vmlab_damon_pick_sample(const struct vmlab_region *r, struct vmlab_rng *rng)
{
    uint64_t pages = vmlab_region_size(r) / VMLAB_DAMON_MIN_REGION;
    return r->start + (pages ? vmlab_rng_range(rng, 0, pages) * VMLAB_DAMON_MIN_REGION : 0);
}

/* Set up the targets' initial regions (evenly split, as the kernel). */
int vmlab_damon_init(struct vmlab_damon *d);
/* One sample interval: check, count, maybe aggregate and update, prepare
 * the next samples.  now_us advances by the (effective) sample interval. */
void vmlab_damon_sample(struct vmlab_damon *d);
void vmlab_damon_destroy(struct vmlab_damon *d);
/* Register / remove an aggregation hook (see hooks above).  Take
 * vmlab_damon_lock() around these while a sampling thread runs.
 * -ENOSPC when VMLAB_DAMON_MAX_HOOKS are registered. */
int vmlab_damon_add_aggr_hook(struct vmlab_damon *d, vmlab_damon_aggr_fn fn, void *ctx);
void vmlab_damon_del_aggr_hook(struct vmlab_damon *d, vmlab_damon_aggr_fn fn, void *ctx);

/* The Lua monitor userdata ("vmlab.damon.monitor") starts with its struct
 * vmlab_damon, so another binding (vmlab.damos) gets the monitor with
 *   struct vmlab_damon *d = luaL_checkudata(L, i, VMLAB_DAMON_MONITOR_MT); */
#define VMLAB_DAMON_MONITOR_MT "vmlab.damon.monitor"
unsigned vmlab_damon_nr_regions(const struct vmlab_damon *d);

/* ---- snapshots: what each aggregation reports ---------------------------------- */

struct vmlab_damon_snapshot {
    uint64_t time_us;
    size_t nr_targets;
    struct vmlab_regions *targets;  /* a copy of each target's regions */
};

/* A bounded queue of snapshots, filled by the monitor (in whatever
 * thread samples) and drained by the Lua thread. */
struct vmlab_damon_snapq;
struct vmlab_damon_snapq *vmlab_damon_snapq_new(size_t cap);
void vmlab_damon_snapq_free(struct vmlab_damon_snapq *q);
/* An on_aggr function that copies the monitor's regions into the queue
 * given as ctx (the oldest is dropped when it is full). */
void vmlab_damon_snapq_push(struct vmlab_damon *d, uint64_t time_us, void *q);
/* Take the oldest, waiting up to timeout seconds (< 0: forever, 0: not at
 * all).  Returns 1 with *out filled, 0 on timeout, -EINTR if interrupted. */
int vmlab_damon_snapq_pop(struct vmlab_damon_snapq *q, struct vmlab_damon_snapshot *out,
                          double timeout);
void vmlab_damon_snapshot_free(struct vmlab_damon_snapshot *s);
uint64_t vmlab_damon_snapq_dropped(struct vmlab_damon_snapq *q);

/* ---- the prot backend and the background sampler ------------------------------ */

/* PROT_NONE on each sampled page; a fault hook records the access and
 * restores the protection.  prot[t] is target t's normal protection. */
int vmlab_damon_prot_attach(struct vmlab_damon *d, const int *prot);
extern const struct vmlab_damon_ops vmlab_damon_prot_ops;

/* Run vmlab_damon_sample() on a thread every (effective) sample interval,
 * stretching the interval when the cost exceeds d->budget of one CPU. */
int vmlab_damon_thread_start(struct vmlab_damon *d);
void vmlab_damon_thread_stop(struct vmlab_damon *d);
/* Hold the monitor still (to read its regions from another thread). */
void vmlab_damon_lock(struct vmlab_damon *d);
void vmlab_damon_unlock(struct vmlab_damon *d);

/* Whether the kernel backend could run here; why not goes to `why`.
 * Never changes the kernel's DAMON state. */
int vmlab_damon_kernel_probe(char *why, size_t len);

/* A synthetic access pattern for the replay backend: each range is
 * accessed with probability p per sample, from from_us of virtual time
 * until until_us (0: for ever). */
struct vmlab_damon_pattern {
    uint64_t start, end;
    double p;
    uint64_t from_us, until_us;
};
int vmlab_damon_pattern_attach(struct vmlab_damon *d, const struct vmlab_damon_pattern *v,
                               size_t n, uint64_t seed);
extern const struct vmlab_damon_ops vmlab_damon_pattern_ops;

/* A kdamond vmlab started (kernel backend, runtime/damon_kernel.c). */
struct vmlab_kdamon {
    char dir[512];       /* .../kdamonds/0 */
    char scheme[700];    /* its stat scheme */
    int started;
};
/* Start a kdamond monitoring pid (ranges, or the kernel's three regions
 * when n is 0); -EBUSY where a kdamond vmlab did not start runs. */
int vmlab_kdamon_start(struct vmlab_kdamon *k, const struct vmlab_damon_attrs *a, int pid,
                       const struct vmlab_range *ranges, size_t n, char *why, size_t len);
int vmlab_kdamon_read(struct vmlab_kdamon *k, struct vmlab_regions *out);
void vmlab_kdamon_stop(struct vmlab_kdamon *k);
#endif
