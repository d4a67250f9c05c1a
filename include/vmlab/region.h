/* A monitoring region, as the kernel's struct damon_region: the unit the
 * sampler counts accesses for and DAMOS schemes act on. */
#ifndef VMLAB_REGION_H
#define VMLAB_REGION_H
#include <stdint.h>

struct vmlab_region {
    uint64_t start, end;        /* [start, end), page aligned in monitors */
    uint64_t sampling_addr;     /* the page checked this sample interval */
    uint32_t nr_accesses;       /* samples that saw an access, this aggregation */
    uint32_t last_nr_accesses;  /* nr_accesses of the previous aggregation */
    uint32_t age;               /* aggregations with a similar access rate */
};

static inline uint64_t vmlab_region_size(const struct vmlab_region *r)
{
    return r->end - r->start;
}
#endif
