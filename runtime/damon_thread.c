/* The background sampler: a thread that runs the monitor every sample
 * interval while Lua (or a workload) goes on, and keeps its own cost under
 * a budget by stretching the interval. */
#include "vmlab/damon.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct runner {
    pthread_t th;
    pthread_mutex_t mu;       /* held while sampling; readers take it too */
    pthread_cond_t cv;
    int stop;
    double cost_avg;          /* CPU seconds per sample, smoothed */
    struct timespec start;    /* when the thread started, and ... */
    uint64_t start_us;        /* ... the monitor time then */
    double cpu0;              /* ... and its CPU seconds then */
};

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double elapsed_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) * 1e-9;
}

static void *run(void *arg)
{
    struct vmlab_damon *d = arg;
    struct runner *r = d->runner;

    pthread_mutex_lock(&r->mu);
    while (!r->stop && d->ops->poll) {
        /* Sampled elsewhere (the kernel): wait for its aggregations. */
        double c0 = thread_cpu();
        int e;
        pthread_mutex_unlock(&r->mu);
        e = d->ops->poll(d);
        pthread_mutex_lock(&r->mu);
        d->stats.cpu_seconds += thread_cpu() - c0;
        if (e < 0)
            break;
    }
    while (!r->stop && !d->ops->poll) {
        struct timespec ts;
        uint64_t us = d->stats.effective_sample_us;
        double c0, cost;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(us % 1000000) * 1000;
        ts.tv_sec += (time_t)(us / 1000000) + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &ts) != ETIMEDOUT)
            ;
        if (r->stop)
            break;
        /* Monitor time follows the wall clock (sleeps run late under load). */
        {
            struct timespec now;
            uint64_t real, eff = d->stats.effective_sample_us;
            clock_gettime(CLOCK_MONOTONIC, &now);
            real = (uint64_t)(now.tv_sec - r->start.tv_sec) * 1000000ULL +
                   (uint64_t)((now.tv_nsec - r->start.tv_nsec) / 1000) + r->start_us;
            if (real > d->now_us + eff)
                d->now_us = real - eff;
        }
        c0 = thread_cpu();
        vmlab_damon_sample(d);
        cost = thread_cpu() - c0;
        d->stats.cpu_seconds += cost;
        r->cost_avg = r->cost_avg ? 0.9 * r->cost_avg + 0.1 * cost : cost;
        /* budget: cost / interval <= budget, so interval >= cost / budget.
         * The smoothed cost lags behind spikes (aggregations, updates), so
         * whatever CPU was spent beyond budget * elapsed is paid back by
         * longer next intervals: the long-run share stays in budget. */
        if (d->budget > 0) {
            uint64_t need = (uint64_t)(r->cost_avg / d->budget * 1e6);
            double debt = (d->stats.cpu_seconds - r->cpu0) / d->budget - elapsed_since(&r->start);
            /* Paid back over several intervals (at most one aggregation
             * interval each), so one costly start does not silence it. */
            if (debt > 0)
                need += debt * 1e6 < (double)d->attrs.aggr_us ? (uint64_t)(debt * 1e6) : d->attrs.aggr_us;
            d->stats.effective_sample_us = need > d->attrs.sample_us ? need : d->attrs.sample_us;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int vmlab_damon_thread_start(struct vmlab_damon *d)
{
    struct runner *r;
    int e;

    if (d->runner)
        return -EBUSY;
    r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    r->start_us = d->now_us;
    r->cpu0 = d->stats.cpu_seconds;
    d->runner = r;
    if ((e = pthread_create(&r->th, NULL, run, d)) != 0) {
        d->runner = NULL;
        free(r);
        return -e;
    }
    return 0;
}

void vmlab_damon_thread_stop(struct vmlab_damon *d)
{
    struct runner *r = d->runner;
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->th, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
    d->runner = NULL;
}

void vmlab_damon_lock(struct vmlab_damon *d)
{
    if (d->runner)
        pthread_mutex_lock(&((struct runner *)d->runner)->mu);
}

void vmlab_damon_unlock(struct vmlab_damon *d)
{
    if (d->runner)
        pthread_mutex_unlock(&((struct runner *)d->runner)->mu);
}
