/* Recording: an aggregation hook that writes every aggregation to a damo
 * record file in C, in whatever thread samples, whether or not anybody
 * reads snapshots.  The file is finished (valid) when the monitor stops
 * its record (vmlab_damon_record_finish), when it is freed, and at exit
 * for a monitor nobody freed (os.exit, a script that never closes). */
#include "vmlab/damon.h"
#include "vmlab/record.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vmlab_damon_recorder {
    struct vmlab_damon *d;
    struct vmlab_rec_stream *st;
    const struct vmlab_region **rv;   /* per target, for each write */
    size_t *n;
    size_t nr_targets;
    uint64_t prev_us;                 /* where the next aggregation starts */
    int err;                          /* the first write error (-errno) */
    pid_t pid;
    struct vmlab_damon_recorder *next;
};

/* Recorders not finished yet, for the exit handler. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vmlab_damon_recorder *live;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void unlink_live(struct vmlab_damon_recorder *r)
{
    pthread_mutex_lock(&live_mu);
    for (struct vmlab_damon_recorder **p = &live; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    pthread_mutex_unlock(&live_mu);
}

/* Targets added while recording (children followed): the record gets them
 * from this aggregation on. */
static int grow_targets(struct vmlab_damon_recorder *r, size_t nt)
{
    const struct vmlab_region **rv = realloc(r->rv, (nt + 1) * sizeof *rv);
    size_t *n;
    if (rv)
        r->rv = rv;
    n = realloc(r->n, (nt + 1) * sizeof *n);
    if (n)
        r->n = n;
    if (!rv || !n || vmlab_rec_stream_add_targets(r->st, nt) < 0)
        return -ENOMEM;
    r->nr_targets = nt;
    return 0;
}

static void record_hook(struct vmlab_damon *d, uint64_t time_us, void *ctx)
{
    struct vmlab_damon_recorder *r = ctx;
    struct vmlab_rec_intervals iv = {d->last.sample_us, d->last.aggr_us, d->last.update_us};
    size_t nt = d->nr_targets < r->nr_targets ? d->nr_targets : r->nr_targets;
    uint64_t start = time_us >= d->last.aggr_us ? time_us - d->last.aggr_us : 0;
    int e;

    if (d->nr_targets > r->nr_targets && grow_targets(r, d->nr_targets) < 0 && !r->err)
        r->err = -ENOMEM;
    nt = d->nr_targets < r->nr_targets ? d->nr_targets : r->nr_targets;
    if (r->prev_us && r->prev_us < time_us)
        start = r->prev_us;
    r->prev_us = time_us;
    for (size_t t = 0; t < nt; t++) {
        r->rv[t] = d->targets[t].regions.v;
        r->n[t] = d->targets[t].regions.n;
    }
    e = vmlab_rec_stream_add(r->st, start * 1000, time_us * 1000, &iv, nt, r->rv, r->n);
    if (e < 0 && !r->err)
        r->err = e;
}

/* Finish the file and free r (the hook is gone already). */
static int finish(struct vmlab_damon_recorder *r, char *why, size_t len)
{
    struct vmlab_damon *d = r->d;
    struct vmlab_rec_intervals iv = {d->overall.sample_us, d->overall.aggr_us, d->overall.update_us};
    char tmp[256];
    int e;

    unlink_live(r);
    d->recorder = NULL;
    e = vmlab_rec_stream_close(r->st, &iv, tmp, sizeof tmp);
    if (r->err && r->pid == getpid()) {
        e = r->err;
        snprintf(tmp, sizeof tmp, "writing an aggregation: %s", strerror(-e));
    }
    if (e < 0 && why)
        snprintf(why, len, "%s", tmp);
    free(r->rv);
    free(r->n);
    free(r);
    return e;
}

/* The monitor is freed with the record open. */
static void record_release(void *ctx)
{
    finish(ctx, NULL, 0);
}

static void finish_at_exit(void)
{
    for (;;) {
        struct vmlab_damon_recorder *r;
        pthread_mutex_lock(&live_mu);
        r = live;
        while (r && r->pid != getpid())
            r = r->next;
        pthread_mutex_unlock(&live_mu);
        if (!r)
            return;
        vmlab_damon_stop(r->d);
        vmlab_damon_record_finish(r->d, NULL, 0);
    }
}

static void register_exit(void)
{
    atexit(finish_at_exit);
}

int vmlab_damon_record(struct vmlab_damon *d, const char *path, int format, char *why, size_t len)
{
    struct vmlab_damon_recorder *r;
    struct vmlab_damon_hook h;
    int e;

    if (!(d->ops->caps & VMLAB_DAMON_CAP_HOOKS)) {
        snprintf(why, len, "record: the %s backend aggregates outside vmlab (record it with damo)",
                 d->ops->name);
        return -ENOTSUP;
    }
    if (d->recorder) {
        snprintf(why, len, "record: the monitor records already");
        return -EBUSY;
    }
    if (!(r = calloc(1, sizeof *r)) || !(r->rv = calloc(d->nr_targets + 1, sizeof *r->rv)) ||
        !(r->n = calloc(d->nr_targets + 1, sizeof *r->n))) {
        if (r)
            free(r->rv);
        free(r);
        snprintf(why, len, "record: not enough memory");
        return -ENOMEM;
    }
    r->d = d;
    r->nr_targets = d->nr_targets;
    r->pid = getpid();
    if (!(r->st = vmlab_rec_stream_open(path, (enum vmlab_rec_format)format, d->nr_targets, &e, why, len))) {
        free(r->rv);
        free(r->n);
        free(r);
        return e;
    }
    h = (struct vmlab_damon_hook){record_hook, record_release, r};
    if ((e = vmlab_damon_add_hook(d, &h)) < 0) {
        vmlab_rec_stream_drop(r->st);
        free(r->rv);
        free(r->n);
        free(r);
        snprintf(why, len, "record: %s", e == -ENOSPC ? "the monitor's hook table is full" : strerror(-e));
        return e;
    }
    d->recorder = r;
    pthread_once(&exit_once, register_exit);
    pthread_mutex_lock(&live_mu);
    r->next = live;
    live = r;
    pthread_mutex_unlock(&live_mu);
    return 0;
}

int vmlab_damon_record_finish(struct vmlab_damon *d, char *why, size_t len)
{
    struct vmlab_damon_recorder *r = d->recorder;

    if (!r)
        return 0;
    vmlab_damon_del_aggr_hook(d, record_hook, r);
    return finish(r, why, len);
}

long vmlab_damon_record_count(const struct vmlab_damon *d)
{
    const struct vmlab_damon_recorder *r = d->recorder;
    if (!r)
        return -ENOENT;
    return r->err ? r->err : (long)vmlab_rec_stream_count(r->st);
}
