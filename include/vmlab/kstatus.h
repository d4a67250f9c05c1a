/* A read-only view of the kernel's DAMON sysfs interface
 * (/sys/kernel/mm/damon/admin, or VMLAB_DAMON_SYSFS): every kdamond, its
 * contexts, operations, targets, attributes and schemes with their stats
 * and tried regions, as `damo status` shows them (runtime/damon_kstatus.c).
 * Reading opens files for reading only: it never writes, so the stats are
 * what the kdamond's owner last asked the kernel to update.  Fields a
 * kernel lacks (they came in later versions) are -1 or "". */
#ifndef VMLAB_KSTATUS_H
#define VMLAB_KSTATUS_H
#include <stddef.h>
#include <stdint.h>

#include "vmlab/damon.h"

struct vmlab_kstatus_range {
    uint64_t min, max;
};

struct vmlab_kstatus_filter {
    char kind[16];          /* "filters", "core_filters" or "ops_filters" */
    char type[32];          /* anon, memcg, young, addr, target, ... */
    int matching, allow;    /* allow: -1 before 6.14 */
    char memcg_path[256];
    uint64_t addr_start, addr_end;
    int64_t target_idx;
};

struct vmlab_kstatus_goal {
    char metric[48];
    uint64_t target_value, current_value;
    int64_t nid;            /* -1 when the kernel has no nid file */
};

struct vmlab_kstatus_scheme {
    char action[32];
    struct vmlab_kstatus_range sz, nr_accesses, age;
    int64_t apply_interval_us, target_nid;     /* -1: absent */
    struct {
        uint64_t ms, bytes, reset_interval_ms;
        uint64_t w_sz, w_nr_accesses, w_age;   /* permil */
        int64_t effective_bytes;               /* -1: absent */
        struct vmlab_kstatus_goal *goals;
        size_t nr_goals;
    } quota;
    struct {
        char metric[32];
        uint64_t interval_us, high, mid, low;
    } wmarks;
    struct vmlab_kstatus_filter *filters;
    size_t nr_filters;
    struct {
        uint64_t nr_tried, sz_tried, nr_applied, sz_applied, qt_exceeds;
        int64_t sz_ops_filter_passed;          /* -1: absent */
    } stats;
    int has_tried;                             /* the kernel has tried_regions */
    int64_t tried_total_bytes;
    struct vmlab_regions tried;                /* nr_accesses and age set */
};

struct vmlab_kstatus_target {
    int64_t pid;                               /* -1 for paddr targets */
    struct vmlab_regions regions;              /* the regions set, if any */
};

struct vmlab_kstatus_ctx {
    char operations[16];
    char avail_operations[64];
    uint64_t sample_us, aggr_us, update_us, min_nr_regions, max_nr_regions;
    struct vmlab_kstatus_target *targets;
    size_t nr_targets;
    struct vmlab_kstatus_scheme *schemes;
    size_t nr_schemes;
};

struct vmlab_kstatus_kdamond {
    char state[16];                            /* on, off */
    int64_t pid;                               /* -1 when off */
    int64_t refresh_ms;                        /* -1: absent (before 6.14) */
    struct vmlab_kstatus_ctx *ctxs;
    size_t nr_ctxs;
};

struct vmlab_kstatus {
    char root[256];
    struct vmlab_kstatus_kdamond *kdamonds;
    size_t nr_kdamonds;
};

/* The sysfs root: VMLAB_DAMON_SYSFS if set, else the kernel's. */
const char *vmlab_kstatus_root(void);

/* Read everything under root (NULL: vmlab_kstatus_root()).  0, or -errno
 * with why naming the file (EACCES for an unprivileged reader, ENOENT
 * where the kernel has no DAMON sysfs).  Free with vmlab_kstatus_free. */
int vmlab_kstatus_read(const char *root, struct vmlab_kstatus *st, char *why, size_t len);
void vmlab_kstatus_free(struct vmlab_kstatus *st);

/* One scheme directory (.../schemes/N) read the same way. */
int vmlab_kstatus_read_scheme(const char *dir, struct vmlab_kstatus_scheme *s, char *why, size_t len);
void vmlab_kstatus_scheme_free(struct vmlab_kstatus_scheme *s);
#endif
