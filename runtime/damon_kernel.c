/* The kernel backend: the kernel's own DAMON, driven through
 * /sys/kernel/mm/damon/admin.  Adding a kdamond means writing nr_kdamonds,
 * which tears down every kdamond there is, so vmlab starts one only where
 * none runs, and stops only the one it started (checking it is still the
 * only one).  Snapshots come from a "stat" scheme's tried regions.
 * VMLAB_DAMON_SYSFS names another root (the tests use a model of it). */
#include "vmlab/damon.h"
#include "vmlab/sysfile.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *root(void)
{
    const char *r = getenv("VMLAB_DAMON_SYSFS");
    return r && *r ? r : "/sys/kernel/mm/damon/admin";
}

static int put(const char *dir, const char *file, const char *val)
{
    char path[512];
    FILE *f;
    int r;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (!(f = fopen(path, "w")))
        return -errno;
    r = fputs(val, f) < 0 ? -EIO : 0;
    if (fclose(f) != 0 && r == 0)
        r = -errno;
    return r;
}

static int putu(const char *dir, const char *file, unsigned long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", v);
    return put(dir, file, buf);
}

static int get(const char *dir, const char *file, char *buf, size_t len)
{
    char path[512];

    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return -ENAMETOOLONG;
    return vmlab_read_line(path, buf, len);
}

static long long getll(const char *dir, const char *file)
{
    char buf[64];
    if (get(dir, file, buf, sizeof buf) < 0 || !buf[0])
        return -1;
    return strtoll(buf, NULL, 10);
}

int vmlab_damon_kernel_probe(char *why, size_t len)
{
    char kd[512];
    long long n;

    char buf[64];
    int e;

    snprintf(kd, sizeof kd, "%s/kdamonds", root());
    if ((e = get(kd, "nr_kdamonds", buf, sizeof buf)) < 0) {
        if (e == -EACCES || e == -EPERM) {
            snprintf(why, len, "%s/nr_kdamonds: %s (DAMON's sysfs interface is root's)", kd, strerror(-e));
            return e;
        }
        snprintf(why, len, "the kernel has no DAMON sysfs interface (%s/nr_kdamonds: %s)", kd, strerror(-e));
        return -ENOENT;
    }
    n = buf[0] ? strtoll(buf, NULL, 10) : -1;
    if (n < 0) {
        snprintf(why, len, "the kernel's DAMON sysfs interface says nothing sensible (%s/nr_kdamonds: '%s')",
                 kd, buf);
        return -EIO;
    }
    if (n != 0) {
        snprintf(why, len, "the kernel already runs %lld kdamond(s) that vmlab did not start; adding "
                 "one rewrites nr_kdamonds, which would stop them, so vmlab leaves DAMON alone", n);
        return -EBUSY;
    }
    snprintf(why, len, "available");
    return 0;
}

/* Undo a start: only while ours is the only kdamond. */
void vmlab_kdamon_stop(struct vmlab_kdamon *k)
{
    char kd[512];

    if (!k->started)
        return;
    snprintf(kd, sizeof kd, "%s/kdamonds", root());
    put(k->dir, "state", "off");
    if (getll(kd, "nr_kdamonds") == 1)
        put(kd, "nr_kdamonds", "0");
    k->started = 0;
}

#define TRY(expr, what) do { if ((e = (expr)) < 0) { w = (what); goto fail; } } while (0)

int vmlab_kdamon_start(struct vmlab_kdamon *k, const struct vmlab_damon_attrs *a, int pid,
                       const struct vmlab_range *ranges, size_t n, char *why, size_t len)
{
    char kd[400], ctx[600], dir[700], ops[256] = "";
    const char *w = NULL;
    int e;

    memset(k, 0, sizeof *k);
    if ((e = vmlab_damon_kernel_probe(why, len)) < 0)
        return e;
    snprintf(kd, sizeof kd, "%s/kdamonds", root());
    TRY(put(kd, "nr_kdamonds", "1"), "nr_kdamonds");
    k->started = 1;
    snprintf(k->dir, sizeof k->dir, "%s/0", kd);
    snprintf(ctx, sizeof ctx, "%s/contexts", k->dir);
    TRY(put(ctx, "nr_contexts", "1"), "contexts/nr_contexts");
    snprintf(ctx, sizeof ctx, "%s/contexts/0", k->dir);
    if (get(ctx, "avail_operations", ops, sizeof ops) == 0 && !strstr(ops, "vaddr")) {
        e = -EOPNOTSUPP;
        w = "operations (the kernel lacks vaddr)";
        goto fail;
    }
    /* A segment's ranges stay fixed (fvaddr): vaddr would replace them with
     * the process's three regions at the first update interval. */
    TRY(put(ctx, "operations", n && strstr(ops, "fvaddr") ? "fvaddr" : "vaddr"), "operations");
    snprintf(dir, sizeof dir, "%s/monitoring_attrs/intervals", ctx);
    TRY(putu(dir, "sample_us", a->sample_us), "sample_us");
    TRY(putu(dir, "aggr_us", a->aggr_us), "aggr_us");
    TRY(putu(dir, "update_us", a->update_us), "update_us");
    snprintf(dir, sizeof dir, "%s/monitoring_attrs/nr_regions", ctx);
    TRY(putu(dir, "min", a->min_nr_regions), "nr_regions/min");
    TRY(putu(dir, "max", a->max_nr_regions), "nr_regions/max");
    snprintf(dir, sizeof dir, "%s/targets", ctx);
    TRY(put(dir, "nr_targets", "1"), "nr_targets");
    snprintf(dir, sizeof dir, "%s/targets/0", ctx);
    TRY(putu(dir, "pid_target", (unsigned long long)pid), "pid_target");
    if (n) {
        snprintf(dir, sizeof dir, "%s/targets/0/regions", ctx);
        TRY(putu(dir, "nr_regions", n), "regions/nr_regions");
        for (size_t i = 0; i < n; i++) {
            char r[800];
            snprintf(r, sizeof r, "%s/targets/0/regions/%zu", ctx, i);
            TRY(putu(r, "start", ranges[i].start), "region start");
            TRY(putu(r, "end", ranges[i].end), "region end");
        }
    }
    /* A stat scheme matching everything: its tried regions are the snapshot. */
    snprintf(dir, sizeof dir, "%s/schemes", ctx);
    TRY(put(dir, "nr_schemes", "1"), "nr_schemes");
    snprintf(dir, sizeof dir, "%s/schemes/0", ctx);
    TRY(put(dir, "action", "stat"), "scheme action");
    /* The kernel creates the access pattern as 0..0 for size, accesses and
     * age, which matches no region: the tried regions stayed empty. */
    snprintf(dir, sizeof dir, "%s/schemes/0/access_pattern", ctx);
    TRY(put(dir, "sz/max", "18446744073709551615"), "access_pattern/sz/max");
    TRY(put(dir, "nr_accesses/max", "4294967295"), "access_pattern/nr_accesses/max");
    TRY(put(dir, "age/max", "4294967295"), "access_pattern/age/max");
    snprintf(k->scheme, sizeof k->scheme, "%s/schemes/0", ctx);
    TRY(put(k->dir, "state", "on"), "state on");
    return 0;
fail:
    snprintf(why, len, "writing %s under %s: %s", w, kd, strerror(-e));
    vmlab_kdamon_stop(k);
    return e;
}

/* The regions the stat scheme saw in its last pass, sorted. */
int vmlab_kdamon_read(struct vmlab_kdamon *k, struct vmlab_regions *out)
{
    char dir[800];
    long long nr = 0;
    int e;

    memset(out, 0, sizeof *out);
    if ((e = put(k->dir, "state", "update_schemes_tried_regions")) < 0)
        return e;
    snprintf(dir, sizeof dir, "%s/tried_regions", k->scheme);
    for (;; nr++) {
        char r[900];
        long long s, en, acc, age;
        snprintf(r, sizeof r, "%s/%lld", dir, nr);
        s = getll(r, "start");
        en = getll(r, "end");
        if (s < 0 || en < 0)
            break;
        acc = getll(r, "nr_accesses");
        age = getll(r, "age");
        if ((e = vmlab_regions_push(out, (uint64_t)s, (uint64_t)en)) < 0)
            return e;
        out->v[out->n - 1].nr_accesses = acc > 0 ? (uint32_t)acc : 0;
        out->v[out->n - 1].age = age > 0 ? (uint32_t)age : 0;
    }
    return 0;
}

/* ---- the kernel backend's ops ------------------------------------------- */

/* The kdamond samples and aggregates; vmlab's sampling thread (poll) asks
 * it for its regions once per aggregation (writing
 * update_schemes_tried_regions returns after the kdamond's next pass) and
 * delivers them to the reporter and hooks, as the other backends' own
 * aggregations: so record= and on_aggregate see every kernel aggregation.
 * vmlab's DAMOS schemes are refused (damos.c: the kernel's are
 * vmlab.damon.kdamond's). */
#include "vmlab/units.h"

#include <pthread.h>
#include <time.h>

struct kernel_backend {
    struct vmlab_kdamon kd;
    struct vmlab_range *ranges;   /* the targets' ranges: the kdamond's regions */
    size_t n;
    struct vmlab_regions buf;     /* the last read, outside the monitor's lock */
    double last_ask;              /* when poll last asked the kernel */
    pthread_mutex_t mu;           /* delivered, for snapshots waiting on cv */
    pthread_cond_t cv;
    uint64_t delivered;
    int failed;                   /* poll's errno once it gave up */
};

static int kernel_start(struct vmlab_damon *d, char *why, size_t len)
{
    struct kernel_backend *kb = d->backend;
    char reason[512];
    int e = vmlab_kdamon_start(&kb->kd, &d->attrs, (int)getpid(), kb->ranges, kb->n, reason,
                               sizeof reason);
    if (e < 0) {
        snprintf(why, len, "kernel backend: %s", reason);
        return e;
    }
    kb->last_ask = 0;
    kb->failed = 0;
    if ((e = vmlab_damon_thread_start(d)) < 0) {
        snprintf(why, len, "kernel backend: starting its reader thread: %s", strerror(-e));
        vmlab_kdamon_stop(&kb->kd);
    }
    return e;
}

static void kernel_stop(struct vmlab_damon *d)
{
    vmlab_damon_thread_stop(d);
    vmlab_kdamon_stop(&((struct kernel_backend *)d->backend)->kd);
}

/* The kernel's regions into the targets they fall in (clipped): one
 * kdamond target holds every segment's ranges. */
static int distribute(struct vmlab_damon *d, const struct vmlab_regions *k)
{
    int e;

    for (size_t t = 0; t < d->nr_targets; t++)
        d->targets[t].regions.n = 0;
    for (size_t i = 0; i < k->n; i++) {
        const struct vmlab_region *r = &k->v[i];
        for (size_t t = 0; t < d->nr_targets; t++) {
            struct vmlab_damon_target *tg = &d->targets[t];
            uint64_t s = r->start, en = r->end;
            struct vmlab_regions *out = &tg->regions;
            if (tg->nr_ranges) {
                s = s > tg->ranges[0].start ? s : tg->ranges[0].start;
                en = en < tg->ranges[0].end ? en : tg->ranges[0].end;
                if (s >= en)
                    continue;
            }
            if ((e = vmlab_regions_push(out, s, en)) < 0)
                return e;
            out->v[out->n - 1].nr_accesses = r->nr_accesses;
            out->v[out->n - 1].age = r->age;
            if (!tg->nr_ranges)
                break;
        }
    }
    return 0;
}

/* The sampling thread's loop body: one kernel aggregation, delivered. */
static int kernel_poll(struct vmlab_damon *d)
{
    struct kernel_backend *kb = d->backend;
    double pace = (double)d->attrs.aggr_us * 0.9e-6, now = vmlab_now(), wait;
    char msg[1024];
    int e;

    /* The real kernel blocks the ask until its next pass; a model sysfs
     * (the tests') does not: never ask more than about once per interval. */
    if (kb->last_ask && (wait = kb->last_ask + pace - now) > 0) {
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
    }
    kb->last_ask = vmlab_now();
    vmlab_regions_free(&kb->buf);
    if ((e = vmlab_kdamon_read(&kb->kd, &kb->buf)) < 0) {
        snprintf(msg, sizeof msg, "kernel backend: %s: %s", e == -ENOMEM ? "reading the tried regions"
                 : "writing update_schemes_tried_regions to the kdamond's state", strerror(-e));
        vmlab_damon_lock(d);
        vmlab_damon_hook_error(d, msg);
        vmlab_damon_unlock(d);
        pthread_mutex_lock(&kb->mu);
        kb->failed = e;
        pthread_cond_broadcast(&kb->cv);
        pthread_mutex_unlock(&kb->mu);
        return e;
    }
    if (!kb->buf.n)
        return 0;                 /* no pass yet */
    vmlab_damon_lock(d);
    if ((e = distribute(d, &kb->buf)) == 0)
        vmlab_damon_deliver(d, (uint64_t)(vmlab_now() * 1e6));
    vmlab_damon_unlock(d);
    if (e < 0)
        return e;
    pthread_mutex_lock(&kb->mu);
    kb->delivered++;
    pthread_cond_broadcast(&kb->cv);
    pthread_mutex_unlock(&kb->mu);
    return 0;
}

/* The kernel's next aggregation (waiting for it), as every target's regions. */
static int kernel_snapshot(struct vmlab_damon *d, struct vmlab_damon_snapshot *out)
{
    struct kernel_backend *kb = d->backend;
    struct timespec dl;
    uint64_t seen;
    double limit = (double)d->attrs.aggr_us * 3e-6 + 2;
    int e = 0;

    if (!kb->kd.started || !d->runner)
        return -ESRCH;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += (time_t)limit;
    dl.tv_nsec += (long)((limit - (double)(time_t)limit) * 1e9);
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&kb->mu);
    seen = kb->delivered;
    while (kb->delivered == seen && !kb->failed && e == 0)
        e = pthread_cond_timedwait(&kb->cv, &kb->mu, &dl);
    if (kb->failed)
        e = -kb->failed;          /* the reader gave up: its errno */
    pthread_mutex_unlock(&kb->mu);
    if (e)
        return e == ETIMEDOUT ? -ETIMEDOUT : -e;
    vmlab_damon_lock(d);
    e = vmlab_damon_snapshot_copy(d, d->now_us, out);
    vmlab_damon_unlock(d);
    return e;
}

static void kernel_cleanup(struct vmlab_damon *d)
{
    struct kernel_backend *kb = d->backend;
    if (!kb)
        return;
    vmlab_kdamon_stop(&kb->kd);
    vmlab_regions_free(&kb->buf);
    pthread_mutex_destroy(&kb->mu);
    pthread_cond_destroy(&kb->cv);
    free(kb->ranges);
    free(kb);
    d->backend = NULL;
}

/* The kernel samples and aggregates in its own thread; its aggregations
 * reach the hooks (poll), but vmlab does not act on its regions. */
const struct vmlab_damon_ops vmlab_damon_kernel_ops = {
    .name = "kernel",
    .caps = VMLAB_DAMON_CAP_EXTERNAL | VMLAB_DAMON_CAP_HOOKS,
    .start = kernel_start,
    .stop = kernel_stop,
    .snapshot = kernel_snapshot,
    .poll = kernel_poll,
    .cleanup = kernel_cleanup,
};

int vmlab_damon_kernel_attach(struct vmlab_damon *d)
{
    struct kernel_backend *kb = calloc(1, sizeof *kb);

    if (!kb)
        return -ENOMEM;
    for (size_t t = 0; t < d->nr_targets; t++)
        kb->n += d->targets[t].nr_ranges;
    kb->ranges = calloc(kb->n + 1, sizeof *kb->ranges);
    if (!kb->ranges) {
        free(kb);
        return -ENOMEM;
    }
    kb->n = 0;
    for (size_t t = 0; t < d->nr_targets; t++)
        for (size_t i = 0; i < d->targets[t].nr_ranges; i++)
            kb->ranges[kb->n++] = d->targets[t].ranges[i];
    pthread_mutex_init(&kb->mu, NULL);
    pthread_cond_init(&kb->cv, NULL);
    d->backend = kb;
    d->ops = &vmlab_damon_kernel_ops;
    return 0;
}
