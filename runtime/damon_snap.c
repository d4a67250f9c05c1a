/* Snapshots of the monitor's regions, queued from the sampling thread to
 * the Lua thread. */
#include "vmlab/damon.h"
#include "vmlab/interrupt.h"
#include "vmlab/units.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct vmlab_damon_snapq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct vmlab_damon_snapshot *v;
    size_t cap, head, n;
    uint64_t dropped;
};

struct vmlab_damon_snapq *vmlab_damon_snapq_new(size_t cap)
{
    struct vmlab_damon_snapq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->v = calloc(cap, sizeof *q->v);
    if (!q->v) {
        free(q);
        return NULL;
    }
    q->cap = cap;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    return q;
}

void vmlab_damon_snapshot_free(struct vmlab_damon_snapshot *s)
{
    for (size_t t = 0; t < s->nr_targets; t++)
        vmlab_regions_free(&s->targets[t]);
    free(s->targets);
    memset(s, 0, sizeof *s);
}

void vmlab_damon_snapq_free(struct vmlab_damon_snapq *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        vmlab_damon_snapshot_free(&q->v[(q->head + i) % q->cap]);
    free(q->v);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}

int vmlab_damon_snapshot_copy(const struct vmlab_damon *d, uint64_t time_us,
                              struct vmlab_damon_snapshot *s)
{
    if (s->nr_targets != d->nr_targets) {
        vmlab_damon_snapshot_free(s);
        s->targets = calloc(d->nr_targets + 1, sizeof *s->targets);
        if (!s->targets)
            return -ENOMEM;
        s->nr_targets = d->nr_targets;
    }
    for (size_t t = 0; t < d->nr_targets; t++) {
        const struct vmlab_regions *src = &d->targets[t].regions;
        struct vmlab_regions *dst = &s->targets[t];
        if (dst->cap < src->n || !dst->v) {
            struct vmlab_region *v = realloc(dst->v, (src->n + 1) * sizeof *v);
            if (!v)
                return -ENOMEM;
            dst->v = v;
            dst->cap = src->n;
        }
        if (src->n)   /* (a target with no regions yet has no array) */
            memcpy(dst->v, src->v, src->n * sizeof *src->v);
        dst->n = src->n;
    }
    s->time_us = time_us;
    s->intervals = d->last;      /* the requested ones until an aggregation measured them */
    s->mode = d->mode;
    return 0;
}

void vmlab_damon_snapq_push(struct vmlab_damon *d, uint64_t time_us, void *ctx)
{
    struct vmlab_damon_snapq *q = ctx;
    struct vmlab_damon_snapshot s = {0};

    if (vmlab_damon_snapshot_copy(d, time_us, &s) < 0) {
        vmlab_damon_snapshot_free(&s);
        return;
    }
    pthread_mutex_lock(&q->mu);
    if (q->n == q->cap) {
        vmlab_damon_snapshot_free(&q->v[q->head]);
        q->head = (q->head + 1) % q->cap;
        q->n--;
        q->dropped++;
    }
    q->v[(q->head + q->n) % q->cap] = s;
    q->n++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

int vmlab_damon_snapq_pop(struct vmlab_damon_snapq *q, struct vmlab_damon_snapshot *out, double timeout)
{
    double end = timeout < 0 ? 0 : vmlab_now() + timeout;
    int r = 0;

    pthread_mutex_lock(&q->mu);
    while (q->n == 0) {
        struct timespec ts;
        double wake;
        if (timeout == 0 || (timeout > 0 && vmlab_now() >= end))
            goto out;
        if (vmlab_interrupted()) {
            r = -EINTR;
            goto out;
        }
        /* wake every 50 ms to notice ^C */
        clock_gettime(CLOCK_REALTIME, &ts);
        wake = 0.05;
        if (timeout > 0 && end - vmlab_now() < wake)
            wake = end - vmlab_now();
        ts.tv_nsec += (long)(wake * 1e9);
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&q->cv, &q->mu, &ts);
    }
    *out = q->v[q->head];
    memset(&q->v[q->head], 0, sizeof q->v[q->head]);
    q->head = (q->head + 1) % q->cap;
    q->n--;
    r = 1;
out:
    pthread_mutex_unlock(&q->mu);
    return r;
}

uint64_t vmlab_damon_snapq_dropped(struct vmlab_damon_snapq *q)
{
    uint64_t d;
    pthread_mutex_lock(&q->mu);
    d = q->dropped;
    pthread_mutex_unlock(&q->mu);
    return d;
}
