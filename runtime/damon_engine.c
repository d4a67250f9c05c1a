/* The monitor's lifecycle, the same for every backend: vmlab_damon_new
 * attaches the backend and sets up the regions, start/stop sample on the
 * backend's own (a thread here, or the kernel), step drives a stopped
 * monitor in virtual time, free tears it down.  What a backend can do is
 * in its ops->caps; nothing here looks at a backend's name.
 *
 * Callbacks (aggregation hooks, the replay oracle) run inside step and may
 * re-enter or free the monitor: step then returns -EBUSY, and the free
 * waits until the outermost step returns. */
#include "vmlab/damon.h"
#include "vmlab/damon_prot.h"
#include "vmlab/fault.h"
#include "vmlab/record.h"
#include "vmlab/uffd.h"
#include "vmlab/uffd_self.h"
#include "vmlab/units.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct vmlab_damon *fail(struct vmlab_damon *d, int *err, int e, char *why, size_t len,
                                const char *msg)
{
    if (msg)
        snprintf(why, len, "%s", msg);
    *err = e;
    vmlab_damon_free(d);
    return NULL;
}

/* One range per target, page aligned; none: the whole process. */
static int set_targets(struct vmlab_damon *d, const struct vmlab_damon_opts *o, char *why, size_t len)
{
    size_t n = o->nr_targets ? o->nr_targets : 1;

    d->targets = calloc(n, sizeof *d->targets);
    if (!d->targets)
        return -ENOMEM;
    d->nr_targets = n;
    for (size_t t = 0; t < o->nr_targets; t++) {
        struct vmlab_range r = o->ranges[t];
        if (r.end <= r.start || r.start % d->page) {
            snprintf(why, len, "target %zu: [0x%llx, 0x%llx) is empty or not page aligned", t + 1,
                     (unsigned long long)r.start, (unsigned long long)r.end);
            return -EINVAL;
        }
        if (r.end > UINT64_MAX - d->page) {
            snprintf(why, len, "target %zu: [0x%llx, 0x%llx) reaches past the address space", t + 1,
                     (unsigned long long)r.start, (unsigned long long)r.end);
            return -EINVAL;
        }
        r.end = (r.end + d->page - 1) / d->page * d->page;
        d->targets[t].ranges = malloc(sizeof *d->targets[t].ranges);
        if (!d->targets[t].ranges)
            return -ENOMEM;
        d->targets[t].ranges[0] = r;
        d->targets[t].nr_ranges = 1;
    }
    return 0;
}

static int attach_backend(struct vmlab_damon *d, const struct vmlab_damon_opts *o, char *why, size_t len)
{
    int e;

    switch (o->backend) {
    case VMLAB_DAMON_PROT:
        if (!o->nr_targets) {
            snprintf(why, len, "the prot backend needs targets (segments or ranges): protecting the "
                     "runtime's own pages would fault inside the sampler");
            return -EINVAL;
        }
        /* the backend says why: a refused target, the fault-hook limit */
        if ((e = vmlab_damon_prot_attach(d, o->prot)) < 0)
            snprintf(why, len, "%s", *vmlab_damon_prot_why() ? vmlab_damon_prot_why() : strerror(-e));
        return e;
    case VMLAB_DAMON_REPLAY:
        if (!o->nr_targets) {
            snprintf(why, len, "the replay backend needs targets (segments or ranges), not \"self\"");
            return -EINVAL;
        }
        if (o->pattern)
            e = vmlab_damon_pattern_attach(d, o->pattern, o->nr_pattern, o->seed);
        else if (o->oracle)
            e = vmlab_damon_oracle_attach(d, o->oracle, o->oracle_ctx);
        else {
            snprintf(why, len, "the replay backend needs an oracle: function(addr, time_us) -> accessed, "
                     "or a pattern {{start=, [\"end\"]=, p=, from=, to=}, ...}");
            return -EINVAL;
        }
        if (e < 0)
            snprintf(why, len, "attaching the replay backend: %s", strerror(-e));
        return e;
    case VMLAB_DAMON_KERNEL:
        if ((e = vmlab_damon_kernel_probe(why, len)) < 0)
            return e;               /* ENOENT: no DAMON; EBUSY: a kdamond not ours; EACCES */
        if ((e = vmlab_damon_kernel_attach(d)) < 0)
            snprintf(why, len, "attaching the kernel backend: %s", strerror(-e));
        return e;
    case VMLAB_DAMON_UFFD:   /* another process through its agent (and its children), or our own segments */
        if (o->nr_targets)
            return vmlab_damon_uffd_self_open(d, o, why, len);
        return o->uffd_children ? vmlab_damon_uffd_kids_open(d, o, why, len)
                                : vmlab_damon_uffd_open(d, o, why, len);
    default:
        snprintf(why, len, "unknown backend %d", o->backend);
        return -EINVAL;
    }
}

struct vmlab_damon *vmlab_damon_new(const struct vmlab_damon_opts *o, int *err, char *why, size_t len)
{
    struct vmlab_damon *d = calloc(1, sizeof *d);
    const char *bad;
    int e;

    why[0] = 0;
    if (!d)
        return fail(NULL, err, -ENOMEM, why, len, "not enough memory");
    d->attrs = o->attrs;
    d->rng.s = o->seed;
    d->page = vmlab_pagesize();
    d->budget = o->budget;
    d->last = d->overall = (struct vmlab_damon_intervals){o->attrs.sample_us, o->attrs.aggr_us,
                                                          o->attrs.update_us};
    if ((bad = vmlab_damon_check_attrs(&d->attrs)))
        return fail(d, err, -EINVAL, why, len, bad);
    if (!(o->budget >= 0 && o->budget <= 1))
        return fail(d, err, -EINVAL, why, len, "the budget is a fraction of one CPU, 0 to 1");
    if ((e = set_targets(d, o, why, len)) < 0)
        return fail(d, err, e, why, len, e == -ENOMEM ? "not enough memory" : NULL);
    if ((e = attach_backend(d, o, why, len)) < 0)
        return fail(d, err, e, why, len, NULL);
    if ((d->ops->caps & (VMLAB_DAMON_CAP_HOOKS | VMLAB_DAMON_CAP_EXTERNAL)) == VMLAB_DAMON_CAP_HOOKS &&
        (e = vmlab_damon_init(d)) < 0) {
        snprintf(why, len, "setting up the regions: %s", strerror(-e));
        return fail(d, err, e, why, len, NULL);
    }
    if (o->record && (e = vmlab_damon_record(d, o->record, o->record_format, why, len)) < 0)
        return fail(d, err, e, why, len, NULL);
    *err = 0;
    return d;
}

void vmlab_damon_free(struct vmlab_damon *d)
{
    struct vmlab_damon_hook hooks[VMLAB_DAMON_MAX_HOOKS];
    size_t n;

    if (!d)
        return;
    if (d->stepping) {           /* from one of its callbacks: when step returns */
        d->free_pending = 1;
        return;
    }
    vmlab_damon_stop(d);
    /* The hooks' owners forget the monitor (the recorder finishes). */
    n = d->nr_hooks;
    memcpy(hooks, d->hooks, n * sizeof *hooks);
    d->nr_hooks = 0;
    for (size_t i = 0; i < n; i++)
        if (hooks[i].fn && hooks[i].release)
            hooks[i].release(hooks[i].ctx);
    vmlab_damon_destroy(d);
    free(d);
}

int vmlab_damon_start(struct vmlab_damon *d, char *why, size_t len)
{
    int e;

    why[0] = 0;
    if (d->stepping) {
        snprintf(why, len, "the monitor is busy (called from its own callback)");
        return -EBUSY;
    }
    if (d->started) {
        snprintf(why, len, "the monitor is running already");
        return -EBUSY;
    }
    if (d->ops->start)
        e = d->ops->start(d, why, len);
    else if (d->ops->caps & VMLAB_DAMON_CAP_THREAD)
        e = vmlab_damon_thread_start(d);
    else {
        snprintf(why, len, "a %s monitor runs in virtual time: drive it with step", d->ops->name);
        return -ENOTSUP;
    }
    if (e == 0)
        d->started = 1;
    return e;
}

void vmlab_damon_stop(struct vmlab_damon *d)
{
    if (!d->started)
        return;
    if (d->ops->stop)
        d->ops->stop(d);
    else
        vmlab_damon_thread_stop(d);
    d->started = 0;
}

long vmlab_damon_step(struct vmlab_damon *d, uint64_t nr, int until_aggr)
{
    uint64_t before = d->stats.aggregations;

    if (!(d->ops->caps & VMLAB_DAMON_CAP_STEP))
        return -ENOTSUP;
    if (d->stepping)
        return -EBUSY;
    if (d->started)
        return -EINPROGRESS;
    d->stepping = 1;
    for (uint64_t i = 0; i < nr && !d->halted && !d->free_pending; i++) {
        vmlab_damon_sample(d);
        if (until_aggr && d->stats.aggregations != before)
            break;
    }
    d->stepping = 0;
    if (d->free_pending) {
        d->free_pending = 0;
        vmlab_damon_free(d);
        return -EBADF;
    }
    if (d->halted) {
        d->halted = 0;
        return -ECANCELED;
    }
    return (long)(d->stats.aggregations - before);
}

int vmlab_damon_read(struct vmlab_damon *d, struct vmlab_damon_snapshot *out)
{
    int e;

    memset(out, 0, sizeof *out);
    if (d->ops->caps & VMLAB_DAMON_CAP_EXTERNAL)
        return d->ops->snapshot ? d->ops->snapshot(d, out) : -ENOTSUP;
    vmlab_damon_lock(d);
    e = vmlab_damon_snapshot_copy(d, d->now_us, out);
    vmlab_damon_unlock(d);
    return e;
}

int vmlab_damon_take_note(struct vmlab_damon *d, char *buf, size_t len)
{
    int r = 0;

    vmlab_damon_lock(d);
    if (d->note_state == 1) {
        snprintf(buf, len, "%s", d->note);
        d->note_state = 2;
        r = 1;
    }
    vmlab_damon_unlock(d);
    return r;
}

void vmlab_damon_hook_error(struct vmlab_damon *d, const char *msg)
{
    if (!d->hook_error[0])
        snprintf(d->hook_error, sizeof d->hook_error, "%s", msg);
}

int vmlab_damon_take_hook_error(struct vmlab_damon *d, char *buf, size_t len)
{
    int r = 0;

    vmlab_damon_lock(d);
    if (d->hook_error[0]) {
        snprintf(buf, len, "%s", d->hook_error);
        d->hook_error[0] = 0;
        r = 1;
    }
    vmlab_damon_unlock(d);
    return r;
}

/* The kernel aggregated: its regions are in d->targets.  The intervals are
 * the ones asked for (the kernel keeps them; it has no budget). */
void vmlab_damon_deliver(struct vmlab_damon *d, uint64_t time_us)
{
    if (!d->stats.aggregations)
        d->first_aggr_start_us = time_us > d->attrs.aggr_us ? time_us - d->attrs.aggr_us : 0;
    d->now_us = time_us;
    d->last = d->overall = (struct vmlab_damon_intervals){d->attrs.sample_us, d->attrs.aggr_us,
                                                          d->attrs.update_us};
    d->stats.effective_sample_us = d->attrs.sample_us;
    if (d->on_aggr)
        d->on_aggr(d, time_us, d->on_aggr_ctx);
    vmlab_damon_run_hooks(d);
    d->stats.aggregations++;
}
