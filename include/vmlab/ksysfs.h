/* A kdamond vmlab configures in full through DAMON's sysfs interface
 * (runtime/damon_ksysfs.c): any operations set (vaddr on pids, fvaddr,
 * paddr), targets with or without regions, and DAMOS schemes with access
 * patterns, quotas, watermarks and filters; their stats and tried regions
 * read back with vmlab_kstatus_read_scheme (include/vmlab/kstatus.h).
 * Like the kernel backend (damon_kernel.c) it starts only where no kdamond
 * runs (-EBUSY otherwise: adding one rewrites nr_kdamonds, which would stop
 * the others) and stops only the one it started.  Failures are -errno with
 * `why` naming the file written and the value. */
#ifndef VMLAB_KSYSFS_H
#define VMLAB_KSYSFS_H
#include <stddef.h>
#include <stdint.h>

#include "vmlab/damon.h"
#include "vmlab/kstatus.h"

struct vmlab_ksysfs_filter {
    char type[32];          /* anon, memcg, young, addr, target, ... */
    int matching;
    int allow;              /* -1: leave the kernel's (6.14+ has the file) */
    char memcg_path[256];
    uint64_t addr_start, addr_end;
    int64_t target_idx;
};

struct vmlab_ksysfs_scheme {
    char action[32];        /* the kernel's name: stat, pageout, cold, ... */
    struct vmlab_kstatus_range sz, nr_accesses, age;   /* age in aggregations */
    int64_t apply_interval_us;                         /* -1: leave it */
    int64_t target_nid;                                /* -1: leave it */
    uint64_t quota_ms, quota_bytes, quota_reset_ms;
    uint64_t w_sz, w_nr_accesses, w_age;               /* permil */
    char wmark_metric[32];                             /* "" or none: no watermarks */
    uint64_t wmark_interval_us, wmark_high, wmark_mid, wmark_low;
    const struct vmlab_ksysfs_filter *filters;
    size_t nr_filters;
};

struct vmlab_ksysfs_target {
    int64_t pid;            /* -1 for paddr */
    const struct vmlab_range *ranges;   /* NULL: the kernel picks */
    size_t nr_ranges;
};

struct vmlab_ksysfs_spec {
    char ops[16];           /* vaddr, fvaddr, paddr */
    struct vmlab_damon_attrs attrs;
    const struct vmlab_ksysfs_target *targets;
    size_t nr_targets;
    const struct vmlab_ksysfs_scheme *schemes;
    size_t nr_schemes;
};

struct vmlab_ksysfs {
    char dir[512];          /* .../kdamonds/0 */
    char ctx[600];          /* .../kdamonds/0/contexts/0 */
    size_t nr_schemes;
    int started;
};

/* A scheme spec matching every region, no quota or watermarks, as the
 * kernel's defaults would be if they matched anything (they are 0..0). */
void vmlab_ksysfs_scheme_init(struct vmlab_ksysfs_scheme *s, const char *action);

int vmlab_ksysfs_start(struct vmlab_ksysfs *k, const struct vmlab_ksysfs_spec *spec, char *why, size_t len);
/* Write a command to the kdamond's state file: update_schemes_stats,
 * update_schemes_tried_regions, clear_schemes_tried_regions, commit, ... */
int vmlab_ksysfs_command(struct vmlab_ksysfs *k, const char *cmd, char *why, size_t len);
/* The kdamond's thread id (its pid file), or -errno. */
long vmlab_ksysfs_pid(const struct vmlab_ksysfs *k);
/* Scheme i's stats and tried regions, as the kernel last updated them. */
int vmlab_ksysfs_scheme(const struct vmlab_ksysfs *k, size_t i, struct vmlab_kstatus_scheme *out,
                        char *why, size_t len);
void vmlab_ksysfs_stop(struct vmlab_ksysfs *k);
/* The largest System RAM range in /proc/iomem (paddr's default region);
 * -EACCES where its addresses read as zeros (not root). */
int vmlab_ksysfs_system_ram(struct vmlab_range *out);
#endif
