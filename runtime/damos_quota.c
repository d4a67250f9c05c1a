/* DAMOS quotas as mm/damon/core.c keeps them: per reset interval, a size
 * (sz) and a time (ms).  The time is not watched while acting: at each
 * window start it becomes a size, ms times the action's throughput
 * measured over all the regions charged so far, and the smaller of the two
 * sizes is the window's effective size (esz).  A window that used esz up
 * counts a qt_exceeds when it ends, and the next window resumes after the
 * last region charged, so that a binding quota walks the whole space. */
#include <time.h>

#include "vmlab/damos.h"
#include "vmlab/units.h"

uint64_t vmlab_damos_quota_clock(const struct vmlab_damos *s)
{
    if (s->quota.clock_ns)
        return s->quota.clock_ns(s->quota.clock_arg);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t vmlab_damos_quota_esz(const struct vmlab_damos *s)
{
    uint64_t esz = UINT64_MAX;
    if (!s->quota.ms)
        return s->quota.sz;
    /* bytes per ms; nothing measured yet (or too fast to measure): the default */
    unsigned __int128 tp = s->quota.total_ns
        ? (unsigned __int128)s->quota.total_sz * 1000000 / s->quota.total_ns
        : (unsigned __int128)vmlab_pagesize() * 1024;
    unsigned __int128 t = tp * s->quota.ms;
    if (t < esz)
        esz = (uint64_t)t;
    if (s->quota.sz && s->quota.sz < esz)
        esz = s->quota.sz;
    return esz;
}

/* Less than a page left: no region fits any more. */
int vmlab_damos_quota_used_up(const struct vmlab_damos *s)
{
    return s->quota.esz && s->quota.esz - s->quota.charged_sz < vmlab_pagesize();
}

void vmlab_damos_quota_window(struct vmlab_damos *s, uint64_t now_us)
{
    if (!s->quota.sz && !s->quota.ms)
        return;
    if (s->quota.started && now_us < s->quota.window_start_us + s->quota.reset_us)
        return;
    if (s->quota.started && vmlab_damos_quota_used_up(s))
        s->stats.qt_exceeds++;
    s->quota.started = 1;
    s->quota.window_start_us = now_us;
    s->quota.charged_sz = 0;
    s->quota.esz = vmlab_damos_quota_esz(s);
}

void vmlab_damos_quota_charge(struct vmlab_damos *s, unsigned target, uint64_t end, uint64_t sz,
                              uint64_t ns)
{
    s->quota.charged_sz += sz;
    s->quota.total_sz += sz;
    s->quota.total_ns += ns;
    if (vmlab_damos_quota_used_up(s)) {
        s->quota.resume = (struct vmlab_damos_resume){1, target, end};
    }
}
