/* Workloads: background threads that access memory in a chosen pattern
 * while Lua waits, and keep the ground truth (which pages they touched in
 * each interval) so that tests can score the sampler. */
#ifndef VMLAB_WORKLOAD_H
#define VMLAB_WORKLOAD_H
#include <stddef.h>
#include <stdint.h>

enum vmlab_wl_pattern { VMLAB_WL_SEQUENTIAL, VMLAB_WL_RANDOM, VMLAB_WL_STRIDE, VMLAB_WL_HOTSPOT,
                        VMLAB_WL_ZIPF };
enum vmlab_wl_op { VMLAB_WL_READ, VMLAB_WL_WRITE, VMLAB_WL_RMW };

/* One phase: a pattern over the workload's memory for a while. */
struct vmlab_wl_phase {
    enum vmlab_wl_pattern pattern;
    enum vmlab_wl_op op;
    uint64_t stride;            /* pages, STRIDE */
    uint64_t hot_off, hot_len;  /* bytes into the memory, HOTSPOT */
    double hot_share;           /* HOTSPOT: fraction of accesses to the hot range */
    double zipf_s;              /* ZIPF exponent (1.0 typical) */
    double rate;                /* accesses per second per thread; 0 = flat out */
    double seconds;             /* how long (0: until stopped; last phase repeats) */
};

struct vmlab_workload;

/* Memory: one contiguous range (page aligned).  interval: the ground
 * truth's resolution; keep: how many intervals it remembers. */
struct vmlab_workload *vmlab_workload_new(uint64_t start, uint64_t len,
                                          const struct vmlab_wl_phase *phases, size_t nphases,
                                          int threads, double interval, size_t keep, uint64_t seed);
int vmlab_workload_start(struct vmlab_workload *w);
/* Stop and join the threads (idempotent). */
void vmlab_workload_stop(struct vmlab_workload *w);
void vmlab_workload_free(struct vmlab_workload *w);

struct vmlab_wl_stats {
    uint64_t accesses;
    double seconds;             /* since start */
    int phase;                  /* the phase running now */
    int faulted;                /* a thread hit a fault and stopped */
    uint64_t fault_addr;
};
void vmlab_workload_stats(struct vmlab_workload *w, struct vmlab_wl_stats *s);

/* Pages touched in the intervals overlapping [from, to) seconds since
 * start (to <= from: everything remembered).  Fills `pages` (optional,
 * one byte per page) and returns the count. */
uint64_t vmlab_workload_truth(struct vmlab_workload *w, double from, double to, unsigned char *pages);
uint64_t vmlab_workload_pages(const struct vmlab_workload *w);
#endif
