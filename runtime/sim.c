/* The simulator's front: policy names and sources, dense page ids, and
 * the helpers the policies share (a keyed heap, next-use times). */
#include "vmlab/sim.h"
#include "sim_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"opt", "lru", "fifo", "clock", "second-chance", "lfu",
                                    "2q", "arc", "lirs", "clock-pro", "sieve", "s3-fifo",
                                    "linux", "mglru", NULL};

static const char *const sources[] = {
    "Belady, A study of replacement algorithms for a virtual-storage computer, IBM Sys. J. 5(2), 1966",
    "Mattson, Gecsei, Slutz, Traiger, Evaluation techniques for storage hierarchies, IBM Sys. J. 9(2), 1970",
    "first in, first out; Belady, Nelson, Shedler, An anomaly in space-time characteristics..., CACM 12(6), 1969",
    "Corbato, A paging experiment with the Multics system, MIT Project MAC MAC-M-384, 1968 (as libCacheSim's Clock: loaded unreferenced)",
    "FIFO with second chance (Tanenbaum, Modern Operating Systems, 3.4.4): the faulting access sets the referenced bit",
    "least frequently used, ties to the least recently used; frequency kept while resident (libCacheSim LFU)",
    "Johnson, Shasha, 2Q: a low overhead high performance buffer management replacement algorithm, VLDB 1994 (full version, Kin 25%, Kout 50%)",
    "Megiddo, Modha, ARC: a self-tuning, low overhead replacement cache, USENIX FAST 2003",
    "Jiang, Zhang, LIRS: an efficient low inter-reference recency set replacement policy, SIGMETRICS 2002 (HIR 1%)",
    "Jiang, Chen, Zhang, CLOCK-Pro: an effective improvement of the CLOCK replacement, USENIX ATC 2005",
    "Zhang, Yang, Yue, Vigfusson, Rashmi, SIEVE is simpler than LRU, USENIX NSDI 2024",
    "Yang, Zhang, Qiu, Yue, Rashmi, FIFO queues are all you need for cache eviction (S3-FIFO), SOSP 2023",
    "Linux mm/vmscan.c (folio_check_references, shrink_active_list, inactive_is_low) and mm/swap.c: active/inactive lists with referenced bits",
    "Linux multi-gen LRU, mm/vmscan.c (lru_gen_*) and Documentation/admin-guide/mm/multigen_lru.rst: 4 generations, aging by accessed bits",
};

static const sim_fn fns[] = {sim_opt, sim_lru, sim_fifo, sim_clock, sim_second_chance, sim_lfu,
                             sim_2q, sim_arc, sim_lirs, sim_clock_pro, sim_sieve, sim_s3fifo,
                             sim_linux, sim_mglru};

int vmlab_sim_policy_find(const char *name)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(name, names[i]))
            return i;
    /* libCacheSim's spellings */
    if (!strcmp(name, "belady") || !strcmp(name, "min"))
        return VMLAB_SIM_OPT;
    if (!strcmp(name, "s3fifo"))
        return VMLAB_SIM_S3FIFO;
    if (!strcmp(name, "clockpro"))
        return VMLAB_SIM_CLOCK_PRO;
    return -1;
}

const char *vmlab_sim_policy_name(int p)
{
    return p >= 0 && p < VMLAB_SIM_NPOLICIES ? names[p] : NULL;
}
const char *const *vmlab_sim_policy_names(void) { return names; }
const char *vmlab_sim_policy_source(int p)
{
    return p >= 0 && p < VMLAB_SIM_NPOLICIES ? sources[p] : NULL;
}

int64_t vmlab_sim_run(int policy, const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    if (policy < 0 || policy >= VMLAB_SIM_NPOLICIES || frames == 0 || n >= UINT32_MAX ||
        m >= UINT32_MAX - 16)
        return -EINVAL;
    if (n == 0)
        return 0;
    if (frames > m)
        frames = m; /* more frames than pages: only cold misses, whatever the policy */
    int64_t r = fns[policy](ids, n, m, frames);
    return r == SIM_NOMEM ? -ENOMEM : r;
}

/* ---- dense ids: open addressing, multiplicative hash ---- */

static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* One slot holds key and id, so a look-up is one cache line; the slot of
 * the reference 16 ahead is prefetched (the table outgrows the caches). */
struct dslot {
    uint64_t key;
    uint32_t id; /* UINT32_MAX: empty */
};

static int dense_grow(struct dslot **tab, size_t *cap)
{
    size_t ncap = *cap * 2;
    struct dslot *nt = sim_big(ncap * sizeof *nt);
    if (!nt)
        return -1;
    for (size_t j = 0; j < ncap; j++)
        nt[j].id = UINT32_MAX;
    for (size_t j = 0; j < *cap; j++)
        if ((*tab)[j].id != UINT32_MAX) {
            size_t g = mix((*tab)[j].key) & (ncap - 1);
            while (nt[g].id != UINT32_MAX)
                g = (g + 1) & (ncap - 1);
            nt[g] = (*tab)[j];
        }
    free(*tab);
    *tab = nt, *cap = ncap;
    return 0;
}

int64_t vmlab_sim_dense(const uint64_t *pages, size_t n, uint32_t *ids, uint64_t **orig)
{
    size_t cap = 1 << 16, m = 0, ocap = 0;
    struct dslot *tab = sim_big(cap * sizeof *tab);
    uint64_t *o = NULL;

    if (!tab)
        return -ENOMEM;
    for (size_t j = 0; j < cap; j++)
        tab[j].id = UINT32_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t p = pages[i];
        size_t mask = cap - 1, h = mix(p) & mask;
        if (i + 16 < n)
            __builtin_prefetch(&tab[mix(pages[i + 16]) & mask]);
        while (tab[h].id != UINT32_MAX && tab[h].key != p)
            h = (h + 1) & mask;
        uint32_t id = tab[h].id;
        if (id == UINT32_MAX) {
            if (m >= UINT32_MAX - 16)
                goto nomem;
            if (orig) {
                if (m == ocap) {
                    uint64_t *no = realloc(o, (ocap = ocap ? ocap * 2 : 1024) * sizeof *o);
                    if (!no)
                        goto nomem;
                    o = no;
                }
                o[m] = p;
            }
            id = (uint32_t)m++;
            tab[h].key = p, tab[h].id = id;
            if (2 * m > cap && dense_grow(&tab, &cap))
                goto nomem;
        }
        ids[i] = id;
    }
    free(tab);
    if (orig)
        *orig = o;
    return (int64_t)m;
nomem:
    free(tab), free(o);
    return -ENOMEM;
}

uint32_t *sim_next_use(const uint32_t *ids, size_t n, uint32_t m)
{
    uint32_t *next = malloc((n ? n : 1) * sizeof *next);
    uint32_t *last = malloc(((size_t)m + 1) * sizeof *last);
    if (!next || !last) {
        free(next), free(last);
        return NULL;
    }
    for (uint32_t j = 0; j < m; j++)
        last[j] = (uint32_t)n;
    for (size_t i = n; i-- > 0;) {
        next[i] = last[ids[i]];
        last[ids[i]] = (uint32_t)i;
    }
    free(last);
    return next;
}

/* ---- heap ---- */

int heap_init(struct heap *h, uint32_t m, size_t cap, int max)
{
    h->v = malloc((cap + 1) * sizeof *h->v);
    h->pos = calloc((size_t)m + 1, sizeof *h->pos);
    h->key = malloc(((size_t)m + 1) * sizeof *h->key);
    h->n = 0, h->max = max;
    if (!h->v || !h->pos || !h->key) {
        heap_free(h);
        return -1;
    }
    return 0;
}
void heap_free(struct heap *h)
{
    free(h->v), free(h->pos), free(h->key);
}
static inline int before(const struct heap *h, uint32_t a, uint32_t b)
{
    return h->max ? h->key[a] > h->key[b] : h->key[a] < h->key[b];
}
static void sift_up(struct heap *h, size_t i)
{
    uint32_t x = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(h, x, h->v[p]))
            break;
        h->v[i] = h->v[p], h->pos[h->v[i]] = (uint32_t)i + 1;
        i = p;
    }
    h->v[i] = x, h->pos[x] = (uint32_t)i + 1;
}
static void sift_down(struct heap *h, size_t i)
{
    uint32_t x = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(h, h->v[c + 1], h->v[c]))
            c++;
        if (!before(h, h->v[c], x))
            break;
        h->v[i] = h->v[c], h->pos[h->v[i]] = (uint32_t)i + 1;
        i = c;
    }
    h->v[i] = x, h->pos[x] = (uint32_t)i + 1;
}
void heap_push(struct heap *h, uint32_t id, uint64_t key)
{
    h->key[id] = key;
    h->v[h->n++] = id;
    sift_up(h, h->n - 1);
}
void heap_update(struct heap *h, uint32_t id, uint64_t key)
{
    size_t i = h->pos[id] - 1;
    h->key[id] = key;
    sift_up(h, i);
    sift_down(h, h->pos[id] - 1);
}
uint32_t heap_pop(struct heap *h)
{
    uint32_t top = h->v[0];
    h->pos[top] = 0;
    if (--h->n > 0) {
        h->v[0] = h->v[h->n];
        sift_down(h, 0);
    }
    return top;
}
