/* What both uffd backends (another process's, damon_uffd.c, and vmlab's
 * own segments, damon_uffd_self.c) read the same way: PAGEMAP_SCAN for
 * write mode, and a RESULT word's flags. */
#include "vmlab/uffd.h"

#include <sys/ioctl.h>

long vmlab_pagemap_scan(int pagemap, uint64_t start, uint64_t end, uint64_t flags, uint64_t cat,
                        uint64_t ret, struct page_region *pr)
{
    struct pm_scan_arg a = {.size = sizeof a, .flags = flags, .start = start, .end = end,
                            .vec = (uint64_t)(uintptr_t)pr, .vec_len = 1, .category_mask = cat,
                            .return_mask = ret};
    return ioctl(pagemap, PAGEMAP_SCAN, &a);
}

/* One walk: one TLB flush for all of [start, end), where a page at a time
 * would interrupt the target's CPU per page. */
void vmlab_pagemap_wp_range(int pagemap, uint64_t start, uint64_t end)
{
    struct pm_scan_arg a = {.size = sizeof a, .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
                            .start = start, .end = end, .category_mask = PAGE_IS_WRITTEN,
                            .return_mask = PAGE_IS_WRITTEN};
    while (a.start < end && ioctl(pagemap, PAGEMAP_SCAN, &a) >= 0 && a.walk_end > a.start)
        a.start = a.walk_end;
}

int vmlab_uffd_tally(struct vmlab_uffd_stats *st, uint64_t f)
{
    if (f & VMLAB_AGENT_R_UNMON) {
        st->unmonitorable++;
        return 0;
    }
    if (f & VMLAB_AGENT_R_HUGE)
        st->huge++;
    if (f & VMLAB_AGENT_R_GONE)
        st->gone++;
    if (!(f & VMLAB_AGENT_R_HOLE))
        st->moves++;
    if (!(f & VMLAB_AGENT_R_ACCESSED))
        return 0;
    st->accessed++;
    return 1;
}
