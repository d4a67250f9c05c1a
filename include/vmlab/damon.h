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

/* The intervals a monitor actually ran at: the budget may stretch the
 * sample interval past the one asked for (then fewer samples make an
 * aggregation, and a region's nr_accesses counts out of fewer). */
struct vmlab_damon_intervals {
    uint64_t sample_us, aggr_us, update_us;
};

struct vmlab_damon_target {
    struct vmlab_regions regions;
    struct vmlab_range *ranges;   /* what to monitor (NULL: the whole process) */
    size_t nr_ranges;
};

struct vmlab_damon;
struct vmlab_damon_snapshot;

/* What a backend can do (ops->caps): the engine and the schemes decide by
 * these, never by a backend's name. */
enum {
    VMLAB_DAMON_CAP_STEP = 1,      /* may be driven by vmlab_damon_step() (virtual time) */
    VMLAB_DAMON_CAP_THREAD = 2,    /* start() samples on a thread, in real time */
    VMLAB_DAMON_CAP_EXTERNAL = 4,  /* samples elsewhere (the kernel): snapshot() reads it */
    VMLAB_DAMON_CAP_APPLY = 8,     /* its regions are this process's memory: actions apply */
    VMLAB_DAMON_CAP_HOOKS = 16,    /* aggregates here, so aggregation hooks run */
    VMLAB_DAMON_CAP_REMOTE = 32,   /* its regions are another process's memory: actions
                                      go through ops->apply (process_madvise) */
};

/* A backend.  Every one has the same lifecycle, driven by the engine:
 *   attach (vmlab_damon_new) -> init -> [start -> ... -> stop]* -> cleanup
 * with prepare/check (or check_and_pick) every sample between.  prepare()
 * readies sampled pages for a check (the prot backend protects them);
 * check() says whether each was accessed since.  Both see every target's
 * regions, sampling_addr set.  Every member but name may be NULL. */
struct vmlab_damon_ops {
    const char *name;
    unsigned caps;                         /* VMLAB_DAMON_CAP_* */
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
    /* Start / stop sampling (NULL with CAP_THREAD: the engine's sampling
     * thread).  start writes why it failed into why. */
    int (*start)(struct vmlab_damon *d, char *why, size_t len);
    void (*stop)(struct vmlab_damon *d);
    /* CAP_EXTERNAL: the regions as the sampler sees them now. */
    int (*snapshot)(struct vmlab_damon *d, struct vmlab_damon_snapshot *out);
    /* CAP_EXTERNAL with CAP_HOOKS: the sampling thread calls it in a loop,
     * unlocked; it waits for the sampler's next aggregation and hands it
     * over with vmlab_damon_deliver (locked).  < 0 ends the thread (the
     * reason goes to vmlab_damon_hook_error). */
    int (*poll)(struct vmlab_damon *d);
    void (*cleanup)(struct vmlab_damon *d);
    /* CAP_REMOTE: apply DAMOS action (VMLAB_DAMOS_*) to [start, end) of
     * target t; 0, -errno, -EOPNOTSUPP for an action it cannot apply. */
    int (*apply)(struct vmlab_damon *d, size_t t, int action, uint64_t start, uint64_t end);
};

struct vmlab_damon_stats {
    uint64_t samples, aggregations, updates, faults;
    double cpu_seconds;
    uint64_t effective_sample_us;  /* the sampling thread's interval now */
};

/* Called after each aggregation with the regions as they are before the
 * reset.  Hooks (DAMOS schemes, the recorder) may read and change the
 * regions; they run on whichever thread samples, with the monitor held
 * (vmlab_damon_lock).  release, when set, runs once when the monitor is
 * freed with the hook still attached (so the owner forgets it). */
typedef void (*vmlab_damon_aggr_fn)(struct vmlab_damon *d, uint64_t time_us, void *ctx);
struct vmlab_damon_hook {
    vmlab_damon_aggr_fn fn;
    void (*release)(void *ctx);
    void *ctx;
};
#define VMLAB_DAMON_MAX_HOOKS 16

struct vmlab_damon {
    struct vmlab_damon_attrs attrs;
    const struct vmlab_damon_ops *ops;
    void *backend;                 /* the backend's state */
    struct vmlab_damon_target *targets;
    size_t nr_targets;
    struct vmlab_rng rng;
    uint64_t page;                 /* the sampling granularity: vmlab_pagesize() */
    uint64_t now_us;               /* monitor time: virtual (replay) or real */
    uint64_t next_aggr_us, next_update_us;
    unsigned last_nr_regions;
    double budget;                 /* fraction of one CPU; 0 = unbounded */
    struct vmlab_damon_stats stats;
    /* The intervals of the last aggregation, as they ran (samples counted
     * since the one before) and over the whole run. */
    struct vmlab_damon_intervals last, overall;
    uint64_t aggr_start_us, aggr_samples, first_aggr_start_us, aggr_samples_total;
    /* Said once when the budget first stretches the sample interval by
     * more than a fifth (the caller shows it: vmlab_damon_take_note). */
    char note[256];
    int note_state;                /* 0 nothing yet, 1 pending, 2 shown */
    /* The reporter: called first after each aggregation (the binding's
     * snapshot queue), then the hooks in order. */
    vmlab_damon_aggr_fn on_aggr;
    void *on_aggr_ctx;
    struct vmlab_damon_hook hooks[VMLAB_DAMON_MAX_HOOKS];
    size_t nr_hooks;
    int hooks_running;             /* > 0 while hooks run: removal only marks */
    void *runner;                  /* the sampling thread, when one runs */
    int started;
    /* Re-entry: > 0 while vmlab_damon_step() runs (hooks and the oracle
     * run inside it); free_pending when freed from inside. */
    int stepping, free_pending, halted;
    /* Set by whoever drives vmlab_damon_step() for the callbacks it runs
     * (bindings: the lua_State running the monitor); NULL on the
     * sampling thread. */
    void *caller;
    /* The first error a hook reported (vmlab_damon_hook_error), for the
     * caller to raise on its thread; empty when none. */
    char hook_error[256];
    struct vmlab_damon_recorder *recorder;
    /* What measured the accesses, when the backend has modes (uffd: "rw"
     * or "write"); copied into each snapshot.  NULL: not said. */
    const char *mode;
};

/* ---- constructing and driving a monitor ---------------------------------------- */

enum vmlab_damon_backend { VMLAB_DAMON_PROT, VMLAB_DAMON_REPLAY, VMLAB_DAMON_KERNEL,
                           VMLAB_DAMON_UFFD };
struct vmlab_agent_proc;

/* A synthetic access pattern for the replay backend: each range is
 * accessed with probability p per sample, from from_us of virtual time
 * until until_us (0: for ever). */
struct vmlab_damon_pattern {
    uint64_t start, end;
    double p;
    uint64_t from_us, until_us;
};

/* An oracle for the replay backend: 1 when addr was accessed at time_us,
 * 0 when not, < 0 to halt the monitor (vmlab_damon_step returns -ECANCELED
 * having stopped at that sample). */
typedef int (*vmlab_damon_oracle_fn)(void *ctx, uint64_t addr, uint64_t time_us);

struct vmlab_damon_opts {
    int backend;                       /* enum vmlab_damon_backend */
    struct vmlab_damon_attrs attrs;    /* vmlab_damon_default_attrs() first */
    uint64_t seed;
    double budget;                     /* fraction of one CPU for the sampling thread; 0: none */
    /* Targets: one address range each (page aligned), or none for the
     * whole process (the kernel backend only). */
    const struct vmlab_range *ranges;
    size_t nr_targets;
    const int *prot;                   /* prot backend: each target's PROT_*; NULL: read/write */
    /* replay: a pattern answered in C, or an oracle */
    const struct vmlab_damon_pattern *pattern;
    size_t nr_pattern;
    vmlab_damon_oracle_fn oracle;
    void *oracle_ctx;
    /* record every aggregation to this file (NULL: none) */
    const char *record;
    int record_format;                 /* enum vmlab_rec_format */
    /* uffd (include/vmlab/uffd.h): one process target, whole process:
     * argv, a command started here with the agent (the monitor owns it),
     * or proc, one started with the agent (vmlab_agent_spawn + hello; the
     * caller owns it and keeps it until the monitor is freed). */
    char *const *argv;
    struct vmlab_agent_proc *proc;
    int uffd_mode;                     /* enum vmlab_uffd_mode: rw or write */
    int uffd_children;                 /* follow children (damo's include_child_tasks):
                                          proc must be spawned with
                                          vmlab_agent_spawn_children */
};

/* A monitor set up and initialised (regions split evenly), stopped.  NULL
 * with *err (negative errno) and the reason in why: -EINVAL for bad
 * options; where the kernel backend cannot run, its probe's errno (-ENOENT
 * no DAMON, -EBUSY a kdamond vmlab did not start, -EACCES not root); the
 * record file's errno when it cannot be created or written. */
struct vmlab_damon *vmlab_damon_new(const struct vmlab_damon_opts *o, int *err, char *why,
                                    size_t len);
/* Stop it, finish its record, release hooks and free it.  From inside one
 * of its own callbacks (hooks, the oracle) the free waits until the
 * outermost vmlab_damon_step() returns (which then returns -ECANCELED). */
void vmlab_damon_free(struct vmlab_damon *d);
/* Start / stop sampling on the monitor's own (CAP_THREAD: a thread here;
 * CAP_EXTERNAL: the kernel).  -EBUSY when started already or stepping,
 * -ENOTSUP when the backend is stepped only. */
int vmlab_damon_start(struct vmlab_damon *d, char *why, size_t len);
void vmlab_damon_stop(struct vmlab_damon *d);
/* Run nr sample intervals now (CAP_STEP, stopped); until_aggr: stop early
 * after the next aggregation.  Returns the aggregations done, -EBUSY when
 * re-entered from a callback or running on its thread, -ENOTSUP for a
 * backend that is not stepped, -ECANCELED when the oracle halted it or it
 * was freed from a callback (then d is gone). */
long vmlab_damon_step(struct vmlab_damon *d, uint64_t nr, int until_aggr);
/* The regions now, as a snapshot (the kernel's from its sysfs). */
int vmlab_damon_read(struct vmlab_damon *d, struct vmlab_damon_snapshot *out);
/* Copy the note on stretched intervals into buf once; 0 when none. */
int vmlab_damon_take_note(struct vmlab_damon *d, char *buf, size_t len);
/* A hook reports an error for the caller to raise (the first is kept). */
void vmlab_damon_hook_error(struct vmlab_damon *d, const char *msg);
/* Take the pending hook error into buf (and clear it); 0 when none. */
int vmlab_damon_take_hook_error(struct vmlab_damon *d, char *buf, size_t len);

/* Set up the targets' initial regions (evenly split, as the kernel). */
int vmlab_damon_init(struct vmlab_damon *d);
/* The backend's cleanup and the targets' memory (vmlab_damon_free's last
 * step; d itself stays). */
void vmlab_damon_destroy(struct vmlab_damon *d);
/* One sample interval: check, count, maybe aggregate and update, prepare
 * the next samples.  now_us advances by the (effective) sample interval. */
void vmlab_damon_sample(struct vmlab_damon *d);
/* Register / remove an aggregation hook (see hooks above); both take the
 * monitor's lock themselves.  A hook removed while hooks run is skipped
 * from then on.  -ENOSPC when VMLAB_DAMON_MAX_HOOKS are registered;
 * -ENOTSUP when the backend aggregates elsewhere (no CAP_HOOKS). */
int vmlab_damon_add_hook(struct vmlab_damon *d, const struct vmlab_damon_hook *h);
int vmlab_damon_add_aggr_hook(struct vmlab_damon *d, vmlab_damon_aggr_fn fn, void *ctx);
void vmlab_damon_del_aggr_hook(struct vmlab_damon *d, vmlab_damon_aggr_fn fn, void *ctx);

unsigned vmlab_damon_nr_regions(const struct vmlab_damon *d);
/* A new whole-process target (its ranges from ops->ranges), appended:
 * its index, or -ENOMEM.  Only from a backend's check() (the monitor held,
 * no loop over the targets under way): d->targets moves.  Snapshots and
 * the record take it from the next aggregation on (target id index + 1). */
int vmlab_damon_add_target(struct vmlab_damon *d);

/* An aggregation made elsewhere (CAP_EXTERNAL: the kernel), its regions
 * already in d->targets at time_us: the reporter and hooks run on it (as
 * after vmlab_damon_sample's own) and it is counted.  Call it locked. */
void vmlab_damon_deliver(struct vmlab_damon *d, uint64_t time_us);
void vmlab_damon_run_hooks(struct vmlab_damon *d);

/* ---- snapshots: what each aggregation reports ---------------------------------- */

struct vmlab_damon_snapshot {
    uint64_t time_us;
    struct vmlab_damon_intervals intervals;  /* as they ran for this aggregation */
    size_t nr_targets;
    struct vmlab_regions *targets;  /* a copy of each target's regions */
    const char *mode;               /* d->mode: what measured them (NULL: not said) */
};

/* Copy the monitor's regions into s (reusing its buffers). */
int vmlab_damon_snapshot_copy(const struct vmlab_damon *d, uint64_t time_us,
                              struct vmlab_damon_snapshot *s);

/* A bounded queue of snapshots, filled by the monitor (in whatever
 * thread samples) and drained by the Lua thread.  Records do not go
 * through it: they are written by their own hook. */
#define VMLAB_DAMON_SNAPQ_DEPTH 1024
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

/* ---- recording (runtime/damon_record.c) ---------------------------------------- */

/* Every aggregation written to a damo record file as it happens, by an
 * aggregation hook, in whatever thread samples.  The file is created (and
 * its header written) at once, so a bad path fails here with its errno;
 * it is finished (a valid file) by vmlab_damon_free, and at exit for a
 * monitor nobody freed.  0 or -errno with the reason in why. */
int vmlab_damon_record(struct vmlab_damon *d, const char *path, int format, char *why, size_t len);
/* Finish the record now (m:stop()): later aggregations are not recorded.
 * 0 (also when there is none) or -errno with the reason in why. */
int vmlab_damon_record_finish(struct vmlab_damon *d, char *why, size_t len);
/* Aggregations written so far; -errno of the first write that failed;
 * -ENOENT when not recording. */
long vmlab_damon_record_count(const struct vmlab_damon *d);

/* ---- backends and the background sampler --------------------------------------- */

/* The page region r samples next: page aligned, within r.  One draw from
 * rng, none for a region smaller than a page (the order of draws is what
 * makes a seed's snapshots repeatable). */
static inline uint64_t vmlab_damon_pick_sample(const struct vmlab_region *r, struct vmlab_rng *rng,
                                               uint64_t page)
{
    uint64_t pages = vmlab_region_size(r) / page;
    return r->start + (pages ? vmlab_rng_range(rng, 0, pages) * page : 0);
}

/* PROT_NONE on each sampled page; a fault hook records the access and
 * restores the protection.  prot[t] is target t's normal protection.
 * (vmlab_damon_new attaches backends; these are what it calls.) */
int vmlab_damon_prot_attach(struct vmlab_damon *d, const int *prot);
extern const struct vmlab_damon_ops vmlab_damon_prot_ops;
int vmlab_damon_pattern_attach(struct vmlab_damon *d, const struct vmlab_damon_pattern *v,
                               size_t n, uint64_t seed);
extern const struct vmlab_damon_ops vmlab_damon_pattern_ops;
int vmlab_damon_oracle_attach(struct vmlab_damon *d, vmlab_damon_oracle_fn fn, void *ctx);
extern const struct vmlab_damon_ops vmlab_damon_oracle_ops;
/* The kernel backend: targets' ranges become the kdamond's regions (none:
 * the kernel's three regions of this process). */
int vmlab_damon_kernel_attach(struct vmlab_damon *d);
extern const struct vmlab_damon_ops vmlab_damon_kernel_ops;

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
