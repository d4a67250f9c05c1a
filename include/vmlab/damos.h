/* DAMOS: access-pattern schemes acting on a monitor's regions.
 *
 * A scheme matches regions by size, access count and age, and applies an
 * action (madvise, mlock) to each; quotas bound what it does per reset
 * interval, picking regions by the kernel's hot/cold score; watermarks on
 * the free-memory rate switch it off and on; filters allow or reject by
 * address.  Semantics follow mm/damon/core.c.  Plain C, no Lua. */
#ifndef VMLAB_DAMOS_H
#define VMLAB_DAMOS_H
#include <stddef.h>
#include <stdint.h>

#include "vmlab/damon.h"

enum vmlab_damos_action {
    VMLAB_DAMOS_STAT, VMLAB_DAMOS_PAGEOUT, VMLAB_DAMOS_COLD, VMLAB_DAMOS_WILLNEED,
    VMLAB_DAMOS_HUGEPAGE, VMLAB_DAMOS_NOHUGEPAGE, VMLAB_DAMOS_COLLAPSE,
    VMLAB_DAMOS_LOCK, VMLAB_DAMOS_UNLOCK, VMLAB_DAMOS_MIGRATE_HOT, VMLAB_DAMOS_MIGRATE_COLD,
    VMLAB_DAMOS_NR_ACTIONS
};
/* Canonical names, indexed by action (NULL-terminated). */
extern const char *const vmlab_damos_action_names[];
/* An action from either spelling (madv_pageout or pageout, mlock or lock);
 * -1 when unknown. */
int vmlab_damos_action_parse(const char *s);

/* ---- rule text (the seed's two formats) ------------------------------------ */

/* One rule line.  Bounds: size in bytes (max UINT64_MAX when open), freq in
 * percent (0..100), age either aggregations or seconds (age_time[i]). */
struct vmlab_damos_rule {
    uint64_t sz[2];
    double freq[2];
    double age[2];          /* INFINITY when open */
    int age_time[2];        /* 1: age[i] is seconds */
    int action;
};
/* 1: a rule in *r; 0: blank or comment; -1: error, the reason in err. */
int vmlab_damos_parse_line(const char *line, struct vmlab_damos_rule *r, char *err, size_t len);

/* ---- schemes ------------------------------------------------------------------ */

struct vmlab_damos_stats {
    uint64_t nr_tried, sz_tried, nr_applied, sz_applied, qt_exceeds;
};

#define VMLAB_DAMOS_MAX_FILTERS 8
enum { VMLAB_DAMOS_FILTER_ADDR, VMLAB_DAMOS_FILTER_TARGET, VMLAB_DAMOS_FILTER_ANON,
       VMLAB_DAMOS_FILTER_FILE };
struct vmlab_damos_filter {
    int type;
    uint64_t start, end;    /* addr filters */
    unsigned target;        /* target filters (0-based) */
    int matching;           /* 1: applies to regions in the range; 0: outside */
    int allow;              /* 1: allow, 0: reject */
};

struct vmlab_damos_tried {
    struct vmlab_region r;
    unsigned target;
};

struct vmlab_damos {
    /* the access pattern: an unset freq uses nr[] (samples) */
    uint64_t sz_min, sz_max;
    uint32_t nr_min, nr_max;
    int use_freq;
    double freq_min, freq_max;      /* percent */
    double age_min, age_max;        /* aggregations, unless age_us */
    int age_time;                   /* 1: age bounds are microseconds */
    int action;
    int node;                       /* migrate_hot / migrate_cold: the target node */
    int apply;                      /* 0: record only (replay backends) */
    uint64_t apply_us, next_apply_us; /* act every apply_us (0: every aggregation) */
    uint64_t passes;                /* aggregations the scheme acted on */
    /* quota: sz bytes and ms of action time per reset interval (0: none).
     * As the kernel's, ms becomes a size at each window start: the action's
     * measured throughput (all windows so far) times ms, capped by sz. */
    struct {
        uint64_t sz, ms, reset_us;
        unsigned w_sz, w_nr, w_age;
        uint64_t esz;                   /* the effective size of this window */
        uint64_t charged_sz, window_start_us;
        uint64_t total_sz, total_ns;    /* everything charged: the throughput */
        int started;
        /* where the last window stopped, so that the next resumes there */
        struct vmlab_damos_resume {
            int on;
            unsigned target;
            uint64_t addr;
        } resume;
        /* the action timer: NULL is CLOCK_MONOTONIC; tests set a fake one */
        uint64_t (*clock_ns)(void *arg);
        void *clock_arg;
    } quota;
    /* watermarks on the free-memory rate, per thousand (interval 0: none) */
    struct {
        uint64_t interval_us, next_us;
        unsigned high, mid, low;
        int active;
        long injected;              /* >= 0: use this metric (tests) */
        long last_metric;
    } wmark;
    struct vmlab_damos_filter filters[VMLAB_DAMOS_MAX_FILTERS];
    size_t nr_filters;
    struct vmlab_damos_stats stats;
    struct vmlab_damos_tried *tried;  /* the last pass's regions */
    size_t nr_tried, cap_tried;
    int last_err;                   /* errno of the last failed action */
    /* A scripted action instead of `action`: 0 applied, else -errno. */
    int (*fn)(void *ctx, const struct vmlab_region *r, unsigned target);
    void *fn_ctx;
};

/* Attach s to monitor d as an aggregation hook (the engine's hook API).
 * Scheme semantics are decided here, by what the backend can do:
 * apply < 0 applies actions only where the backend's regions are this
 * process's memory (VMLAB_DAMON_CAP_APPLY), else records them (stat);
 * a scheme with watermarks starts inactive until the first check, as the
 * kernel's.  release(s) runs if d is freed first.  0, or -errno with the
 * reason: -ENOTSUP where the backend aggregates outside vmlab (the
 * kernel), -ENOSPC when the monitor has no hook left. */
int vmlab_damos_attach(struct vmlab_damos *s, struct vmlab_damon *d, int apply,
                       void (*release)(void *s), char *why, size_t len);
void vmlab_damos_detach(struct vmlab_damos *s, struct vmlab_damon *d);

/* vmlab.damos publishes its attach function under this registry key for
 * vmlab.damon's m:scheme (so that neither module requires the other). */
#define VMLAB_DAMOS_ATTACH_KEY "vmlab.damos.attach"

/* Defaults: everything matches, stat, no quota or watermarks, active. */
void vmlab_damos_init(struct vmlab_damos *s);
void vmlab_damos_free(struct vmlab_damos *s);
/* The aggregation hook (ctx: the struct vmlab_damos). */
void vmlab_damos_hook(struct vmlab_damon *d, uint64_t now_us, void *ctx);
/* The kernel's hot score, 0..99, of a region. */
unsigned vmlab_damos_hot_score(const struct vmlab_damon *d, const struct vmlab_damos *s,
                               const struct vmlab_region *r);
/* ---- quotas (runtime/damos_quota.c) --------------------------------------- */

/* Before anything was measured, an action does the kernel's PAGE_SIZE *
 * 1024 bytes per ms. */
/* Start a new window when the reset interval has passed (or at the first
 * pass): counts qt_exceeds for a window that used its quota up, and sets
 * the effective size.  0: none of ms and sz is set. */
void vmlab_damos_quota_window(struct vmlab_damos *s, uint64_t now_us);
/* The window's effective size is used up (less than a page left). */
int vmlab_damos_quota_used_up(const struct vmlab_damos *s);
/* The effective size from sz, ms and the throughput measured so far. */
uint64_t vmlab_damos_quota_esz(const struct vmlab_damos *s);
/* The action timer, in ns. */
uint64_t vmlab_damos_quota_clock(const struct vmlab_damos *s);
/* Charge one applied region: its size and the ns its action took. */
void vmlab_damos_quota_charge(struct vmlab_damos *s, unsigned target, uint64_t end, uint64_t sz,
                              uint64_t ns);

/* Free memory per thousand from /proc/meminfo; -1 if unreadable. */
long vmlab_damos_free_mem_rate(void);
/* Apply an action to [start, end): 0 or -errno. */
int vmlab_damos_do_action(int action, uint64_t start, uint64_t end);
/* Move the present pages of [start, end) to node (move_pages: the range's
 * policy stays as it was, as with the kernel's DAMOS_MIGRATE_*). */
int vmlab_damos_migrate(uint64_t start, uint64_t end, int node);
#endif
