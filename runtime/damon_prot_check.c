/* What the prot backend may sample: the user's memory only (the seg
 * engine says which, runtime/seg_owner.c); arming a runtime page
 * PROT_NONE would fault inside the sampler or the handler. */
#include "vmlab/damon.h"
#include "vmlab/damon_prot.h"
#include "vmlab/seg.h"

#include <stdio.h>

int vmlab_damon_prot_check_range(uint64_t start, uint64_t end, char *why, size_t len)
{
    return vmlab_seg_check_user_range(start, end, why, len);
}

int vmlab_damon_prot_check_targets(const struct vmlab_damon *d, char *why, size_t len)
{
    char one[200];
    for (size_t t = 0; t < d->nr_targets; t++)
        for (size_t i = 0; i < d->targets[t].nr_ranges; i++) {
            const struct vmlab_range *rg = &d->targets[t].ranges[i];
            int r = vmlab_damon_prot_check_range(rg->start, rg->end, one, sizeof one);
            if (r < 0) {
                if (why && len)
                    snprintf(why, len, "the prot backend cannot sample target %zu: %s", t + 1, one);
                return r;
            }
        }
    return 0;
}
