/* A kdamond configured through sysfs in full (include/vmlab/ksysfs.h).
 * Writes go in the order the kernel needs: counts first (writing nr_X
 * creates the X/N directories), then their files, state "on" last. */
#include "vmlab/ksysfs.h"
#include "vmlab/sysfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATHLEN 1024

struct wr {
    char *why;
    size_t len;
};

static int put(struct wr *w, const char *dir, const char *file, const char *val)
{
    char path[PATHLEN];
    FILE *f;
    int r = 0;

    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        r = -ENAMETOOLONG;
    else if (!(f = fopen(path, "we")))
        r = -errno;
    else {
        /* sysfs answers a bad value at the write (flushed by fclose) */
        if (fputs(val, f) < 0)
            r = -EIO;
        if (fclose(f) != 0 && r == 0)
            r = -errno;
    }
    if (r < 0)
        snprintf(w->why, w->len, "writing '%s' to %s", val, path);
    return r;
}

static int putu(struct wr *w, const char *dir, const char *file, uint64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return put(w, dir, file, b);
}

static int puti(struct wr *w, const char *dir, const char *file, int64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)v);
    return put(w, dir, file, b);
}

static const char *sub(char *out, const char *dir, const char *fmt, size_t i)
{
    char name[64];
    snprintf(name, sizeof name, fmt, i);
    if (snprintf(out, PATHLEN, "%s/%s", dir, name) >= PATHLEN)
        out[0] = '\0';
    return out;
}

#define CHK(expr) do { if ((e = (expr)) < 0) return e; } while (0)

void vmlab_ksysfs_scheme_init(struct vmlab_ksysfs_scheme *s, const char *action)
{
    memset(s, 0, sizeof *s);
    snprintf(s->action, sizeof s->action, "%s", action);
    s->sz.max = UINT64_MAX;                 /* ULONG_MAX */
    s->nr_accesses.max = s->age.max = UINT32_MAX;
    s->apply_interval_us = s->target_nid = -1;
    snprintf(s->wmark_metric, sizeof s->wmark_metric, "none");
}

static int write_scheme(struct wr *w, const char *dir, const struct vmlab_ksysfs_scheme *s)
{
    char d[PATHLEN], f[PATHLEN];
    int e;

    CHK(put(w, dir, "action", s->action));
    if (s->apply_interval_us >= 0)
        CHK(putu(w, dir, "apply_interval_us", (uint64_t)s->apply_interval_us));
    if (s->target_nid >= 0)
        CHK(puti(w, dir, "target_nid", s->target_nid));
    sub(d, dir, "access_pattern", 0);
    /* max before min: the kernel refuses a min above the max it has */
    CHK(putu(w, d, "sz/max", s->sz.max));
    CHK(putu(w, d, "sz/min", s->sz.min));
    CHK(putu(w, d, "nr_accesses/max", s->nr_accesses.max));
    CHK(putu(w, d, "nr_accesses/min", s->nr_accesses.min));
    CHK(putu(w, d, "age/max", s->age.max));
    CHK(putu(w, d, "age/min", s->age.min));
    sub(d, dir, "quotas", 0);
    CHK(putu(w, d, "ms", s->quota_ms));
    CHK(putu(w, d, "bytes", s->quota_bytes));
    CHK(putu(w, d, "reset_interval_ms", s->quota_reset_ms));
    CHK(putu(w, d, "weights/sz_permil", s->w_sz));
    CHK(putu(w, d, "weights/nr_accesses_permil", s->w_nr_accesses));
    CHK(putu(w, d, "weights/age_permil", s->w_age));
    sub(d, dir, "watermarks", 0);
    CHK(put(w, d, "metric", s->wmark_metric[0] ? s->wmark_metric : "none"));
    if (s->wmark_metric[0] && strcmp(s->wmark_metric, "none")) {
        CHK(putu(w, d, "interval_us", s->wmark_interval_us));
        CHK(putu(w, d, "high", s->wmark_high));
        CHK(putu(w, d, "mid", s->wmark_mid));
        CHK(putu(w, d, "low", s->wmark_low));
    }
    sub(d, dir, "filters", 0);
    CHK(putu(w, d, "nr_filters", s->nr_filters));
    for (size_t i = 0; i < s->nr_filters; i++) {
        const struct vmlab_ksysfs_filter *fl = &s->filters[i];
        sub(f, d, "%zu", i);
        CHK(put(w, f, "type", fl->type));
        CHK(put(w, f, "matching", fl->matching ? "Y" : "N"));
        if (fl->allow >= 0)
            CHK(put(w, f, "allow", fl->allow ? "Y" : "N"));
        if (!strcmp(fl->type, "memcg"))
            CHK(put(w, f, "memcg_path", fl->memcg_path));
        if (!strcmp(fl->type, "addr")) {
            CHK(putu(w, f, "addr_end", fl->addr_end));
            CHK(putu(w, f, "addr_start", fl->addr_start));
        }
        if (!strcmp(fl->type, "target"))
            CHK(puti(w, f, "target_idx", fl->target_idx));
    }
    return 0;
}

static int configure(struct vmlab_ksysfs *k, struct wr *w, const struct vmlab_ksysfs_spec *sp)
{
    char d[PATHLEN], t[PATHLEN], r[PATHLEN];
    int e;

    CHK(putu(w, k->dir, "contexts/nr_contexts", 1));
    CHK(put(w, k->ctx, "operations", sp->ops));
    sub(d, k->ctx, "monitoring_attrs/intervals", 0);
    CHK(putu(w, d, "sample_us", sp->attrs.sample_us));
    CHK(putu(w, d, "aggr_us", sp->attrs.aggr_us));
    CHK(putu(w, d, "update_us", sp->attrs.update_us));
    sub(d, k->ctx, "monitoring_attrs/nr_regions", 0);
    CHK(putu(w, d, "max", sp->attrs.max_nr_regions));
    CHK(putu(w, d, "min", sp->attrs.min_nr_regions));
    sub(d, k->ctx, "targets", 0);
    CHK(putu(w, d, "nr_targets", sp->nr_targets));
    for (size_t i = 0; i < sp->nr_targets; i++) {
        const struct vmlab_ksysfs_target *tg = &sp->targets[i];
        sub(t, d, "%zu", i);
        if (tg->pid >= 0)
            CHK(puti(w, t, "pid_target", tg->pid));
        if (tg->nr_ranges) {
            CHK(putu(w, t, "regions/nr_regions", tg->nr_ranges));
            for (size_t j = 0; j < tg->nr_ranges; j++) {
                char rr[PATHLEN];
                sub(r, t, "regions", 0);
                sub(rr, r, "%zu", j);
                CHK(putu(w, rr, "end", tg->ranges[j].end));
                CHK(putu(w, rr, "start", tg->ranges[j].start));
            }
        }
    }
    sub(d, k->ctx, "schemes", 0);
    CHK(putu(w, d, "nr_schemes", sp->nr_schemes));
    for (size_t i = 0; i < sp->nr_schemes; i++) {
        sub(t, d, "%zu", i);
        CHK(write_scheme(w, t, &sp->schemes[i]));
    }
    k->nr_schemes = sp->nr_schemes;
    return put(w, k->dir, "state", "on");
}

int vmlab_ksysfs_start(struct vmlab_ksysfs *k, const struct vmlab_ksysfs_spec *sp, char *why, size_t len)
{
    struct wr w = {why, len};
    char kd[PATHLEN];
    int e;

    memset(k, 0, sizeof *k);
    sub(kd, vmlab_kstatus_root(), "kdamonds", 0);
    {
        /* the probe says "no DAMON" for any failure: name EACCES first */
        char path[PATHLEN], b[32];
        sub(path, kd, "nr_kdamonds", 0);
        if ((e = vmlab_read_line(path, b, sizeof b)) == -EACCES || e == -EPERM) {
            snprintf(why, len, "reading %s (DAMON's sysfs interface is root's)", path);
            return e;
        }
    }
    if ((e = vmlab_damon_kernel_probe(why, len)) < 0)
        return e;
    if (snprintf(k->dir, sizeof k->dir, "%s/0", kd) >= (int)sizeof k->dir ||
        snprintf(k->ctx, sizeof k->ctx, "%s/contexts/0", k->dir) >= (int)sizeof k->ctx) {
        snprintf(why, len, "the DAMON sysfs root is too long: %s", kd);
        return -ENAMETOOLONG;
    }
    if ((e = put(&w, kd, "nr_kdamonds", "1")) < 0)
        return e;
    k->started = 1;
    if ((e = configure(k, &w, sp)) < 0) {
        char keep[512];
        snprintf(keep, sizeof keep, "%s", why);
        vmlab_ksysfs_stop(k);
        snprintf(why, len, "%s", keep);
    }
    return e;
}

int vmlab_ksysfs_command(struct vmlab_ksysfs *k, const char *cmd, char *why, size_t len)
{
    struct wr w = {why, len};
    if (!k->started) {
        snprintf(why, len, "the kdamond is stopped");
        return -ESRCH;
    }
    return put(&w, k->dir, "state", cmd);
}

long vmlab_ksysfs_pid(const struct vmlab_ksysfs *k)
{
    char path[PATHLEN], b[32];
    int e;

    snprintf(path, sizeof path, "%s/pid", k->dir);
    if ((e = vmlab_read_line(path, b, sizeof b)) < 0)
        return e;
    return strtol(b, NULL, 10);
}

int vmlab_ksysfs_scheme(const struct vmlab_ksysfs *k, size_t i, struct vmlab_kstatus_scheme *out,
                        char *why, size_t len)
{
    char d[PATHLEN], s[PATHLEN];
    if (i >= k->nr_schemes) {
        snprintf(why, len, "scheme %zu of %zu", i, k->nr_schemes);
        return -ERANGE;
    }
    sub(d, k->ctx, "schemes", 0);
    sub(s, d, "%zu", i);
    return vmlab_kstatus_read_scheme(s, out, why, len);
}

/* The largest "System RAM" range of /proc/iomem: what the kernel's own
 * DAMON_RECLAIM and damo monitor when paddr is given no regions (the sysfs
 * interface monitors nothing then). */
int vmlab_ksysfs_system_ram(struct vmlab_range *out)
{
    FILE *f = fopen("/proc/iomem", "re");
    char line[256];
    int found = 0;

    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f)) {
        unsigned long long a, b;
        char name[64];
        /* top level only: nested entries are indented */
        if (sscanf(line, "%llx-%llx : %63[^\n]", &a, &b, name) == 3 && !strcmp(name, "System RAM") &&
            b > a && (!found || b + 1 - a > out->end - out->start)) {
            out->start = a;
            out->end = b + 1;
            found = 1;
        }
    }
    fclose(f);
    /* unprivileged readers see zeros */
    return found && out->start < out->end && out->end > 1 ? 0 : -EACCES;
}

/* Undo a start: only while ours is the only kdamond. */
void vmlab_ksysfs_stop(struct vmlab_ksysfs *k)
{
    char kd[PATHLEN], b[32];
    struct wr w = {b, sizeof b};

    if (!k->started)
        return;
    sub(kd, vmlab_kstatus_root(), "kdamonds", 0);
    put(&w, k->dir, "state", "off");
    snprintf(b, sizeof b, "?");
    {
        char path[PATHLEN];
        sub(path, kd, "nr_kdamonds", 0);
        if (vmlab_read_line(path, b, sizeof b) == 0 && !strcmp(b, "1"))
            put(&w, kd, "nr_kdamonds", "0");
    }
    k->started = 0;
}
