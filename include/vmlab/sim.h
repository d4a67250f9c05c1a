/* Page-replacement simulation: how many faults a policy takes on a page
 * reference string with a given number of frames, and miss-ratio curves
 * (the miss ratio for every memory size at once).  Plain C, no Lua.
 *
 * Pages are arbitrary 64-bit numbers; vmlab_sim_dense() renames them to
 * dense ids 0..m-1 once, and every policy and curve works on dense ids (so
 * per-page state is an array, not a hash table).  Errors are negative
 * errno values (-ENOMEM, -EINVAL). */
#ifndef VMLAB_SIM_H
#define VMLAB_SIM_H
#include <stddef.h>
#include <stdint.h>

enum vmlab_sim_policy {
    VMLAB_SIM_OPT, VMLAB_SIM_LRU, VMLAB_SIM_FIFO, VMLAB_SIM_CLOCK, VMLAB_SIM_SECOND_CHANCE,
    VMLAB_SIM_LFU, VMLAB_SIM_2Q, VMLAB_SIM_ARC, VMLAB_SIM_LIRS, VMLAB_SIM_CLOCK_PRO,
    VMLAB_SIM_SIEVE, VMLAB_SIM_S3FIFO, VMLAB_SIM_LINUX, VMLAB_SIM_MGLRU, VMLAB_SIM_NPOLICIES
};

/* "lru" -> VMLAB_SIM_LRU; -1 when unknown.  names: NULL-terminated. */
int vmlab_sim_policy_find(const char *name);
const char *vmlab_sim_policy_name(int policy);
const char *const *vmlab_sim_policy_names(void);
/* One line: where the policy comes from (paper or kernel file). */
const char *vmlab_sim_policy_source(int policy);

/* Rename pages[0..n) to dense ids (first appearance order) into ids[];
 * returns the number of distinct pages m (>= 0) or -ENOMEM.  orig
 * (optional, malloc'ed, caller frees) gets the page of each id. */
int64_t vmlab_sim_dense(const uint64_t *pages, size_t n, uint32_t *ids, uint64_t **orig);

/* Faults of `policy` on ids[0..n) (dense, < m) with `frames` frames
 * (>= 1).  Returns the number of faults (misses, cold ones included) or a
 * negative errno. */
int64_t vmlab_sim_run(int policy, const uint32_t *ids, size_t n, uint32_t m, size_t frames);

/* ---- miss-ratio curves (runtime/sim_mrc.c) ---- */

/* A reuse-distance histogram: hist[d] (d >= 1) counts references whose
 * LRU (or OPT) stack distance is d, i.e. that hit in every memory of d or
 * more frames; `cold` counts first references (misses at every size).
 * Weights are doubles so that sampled curves (SHARDS) scale them. */
struct vmlab_mrc {
    double *hist;          /* [0..maxd], hist[0] unused */
    size_t maxd;
    double cold;
    double refs;           /* references the curve stands for */
};
void vmlab_mrc_free(struct vmlab_mrc *c);
/* Misses of a memory of `frames` frames (cold + distances > frames). */
double vmlab_mrc_misses(const struct vmlab_mrc *c, size_t frames);
/* The miss ratio at each of sizes[0..k) (any order) into out[]. */
void vmlab_mrc_ratios(const struct vmlab_mrc *c, const size_t *sizes, size_t k, double *out);

/* Exact LRU stack distances for every size in one pass (Mattson et al.
 * 1970), counted on a bitmap of last-access times with set-bit counts
 * per 512-bit block, group, supergroup and hypergroup (runtime/sim_tstack.h). */
int vmlab_mrc_lru(const uint32_t *ids, size_t n, uint32_t m, struct vmlab_mrc *out);
/* vmlab_sim_dense() and vmlab_mrc_lru() in one pass: one table of
 * {page, dense id, last time} gives both per reference.  ids (optional)
 * gets the dense ids as vmlab_sim_dense() numbers them.  Returns the
 * number of distinct pages m (>= 0) or a negative errno. */
int64_t vmlab_mrc_lru_pages(const uint64_t *pages, size_t n, uint32_t *ids, struct vmlab_mrc *out);
/* Exact OPT for every size: Mattson's stack algorithm with the priority
 * "next use" (Belady's MIN is a stack algorithm).  O(n x mean depth):
 * for traces of up to some 1e5 distinct pages. */
int vmlab_mrc_opt(const uint32_t *ids, size_t n, uint32_t m, struct vmlab_mrc *out);
/* Approximate LRU curve by spatially hashed sampling (SHARDS, Waldspurger
 * et al., FAST'15): a page is sampled when hash(page) mod 2^24 < rate *
 * 2^24; its distances are scaled by 1/rate.  `hot` > 0 first finds that
 * many of the most referenced pages from a 1/64 subsample and keeps them
 * exact (weight 1; at most 2048, and a hot page whose filter slot is
 * taken by another stays sampled); the rest are sampled.  The count of sampled
 * references is adjusted to the expected one in the first bucket
 * (SHARDS_adj).  seed picks the hash. */
struct vmlab_shards_opts {
    double rate;           /* (0, 1]; 0.01 = 1 % */
    size_t hot;            /* pages kept exact; 0 = plain SHARDS */
    uint64_t seed;
    int adjust;            /* apply the adjustment */
};
int vmlab_mrc_shards(const uint64_t *pages, size_t n, const struct vmlab_shards_opts *o,
                     struct vmlab_mrc *out);
#endif
