/* The DAMON sysfs tree read, never written (include/vmlab/kstatus.h).
 * The layout is the kernel's mm/damon/sysfs.c and sysfs-schemes.c:
 *   kdamonds/nr_kdamonds, kdamonds/N/{state,pid,refresh_ms}
 *   .../contexts/N/{operations,avail_operations}
 *   .../monitoring_attrs/{intervals/{sample,aggr,update}_us,nr_regions/{min,max}}
 *   .../targets/N/{pid_target,regions/N/{start,end}}
 *   .../schemes/N/{action,apply_interval_us,target_nid,access_pattern,quotas,
 *                  watermarks,filters,stats,tried_regions}
 * A file that a kernel version lacks reads as absent; any other failure
 * (EACCES) ends the read, naming the file. */
#include "vmlab/kstatus.h"
#include "vmlab/sysfile.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATHLEN 1024

const char *vmlab_kstatus_root(void)
{
    const char *r = getenv("VMLAB_DAMON_SYSFS");
    return r && *r ? r : "/sys/kernel/mm/damon/admin";
}

struct rd {
    char *why;
    size_t len;
};

static int fail(struct rd *rd, const char *path, int e)
{
    snprintf(rd->why, rd->len, "reading %s", path);
    return e;
}

/* The first line of dir/file; 1 when absent, 0 when read, -errno else. */
static int str(struct rd *rd, const char *dir, const char *file, char *buf, size_t len)
{
    char path[PATHLEN];
    int e;

    buf[0] = '\0';
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return fail(rd, path, -ENAMETOOLONG);
    if ((e = vmlab_read_line(path, buf, len)) == -ENOENT)
        return 1;
    return e < 0 ? fail(rd, path, e) : 0;
}

/* A number: *v untouched when the file is absent. */
static int u64(struct rd *rd, const char *dir, const char *file, uint64_t *v)
{
    char buf[64];
    int e = str(rd, dir, file, buf, sizeof buf);
    if (e == 0)
        *v = strtoull(buf, NULL, 10);
    return e;
}

static int i64(struct rd *rd, const char *dir, const char *file, int64_t *v)
{
    char buf[64];
    int e = str(rd, dir, file, buf, sizeof buf);
    if (e == 0)
        *v = strtoll(buf, NULL, 10);
    return e;
}

#define CHK(expr) do { if ((e = (expr)) < 0) return e; } while (0)

/* Paths under a root: one longer than PATHLEN becomes "" (reads as absent). */
static void sub(char *out, const char *dir, const char *name)
{
    if (snprintf(out, PATHLEN, "%s/%s", dir, name) >= PATHLEN)
        out[0] = '\0';
}

static void subn(char *out, const char *dir, const char *name, size_t i)
{
    if (snprintf(out, PATHLEN, "%s/%s/%zu", dir, name, i) >= PATHLEN)
        out[0] = '\0';
}

/* dir/name/nr_FILE as a count; 0 when absent. */
static int count(struct rd *rd, const char *dir, const char *name, const char *nrfile, size_t *n)
{
    char d[PATHLEN];
    uint64_t v = 0;
    int e;

    sub(d, dir, name);
    CHK(u64(rd, d, nrfile, &v));
    if (v > 1u << 20)
        v = 1u << 20;       /* a corrupt model tree must not make us allocate forever */
    *n = (size_t)v;
    return 0;
}

static int range(struct rd *rd, const char *dir, const char *name, struct vmlab_kstatus_range *r)
{
    char d[PATHLEN];
    int e;
    sub(d, dir, name);
    CHK(u64(rd, d, "min", &r->min));
    CHK(u64(rd, d, "max", &r->max));
    return 0;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* The names of dir's entries that are numbers, sorted. */
static int numbered_entries(struct rd *rd, const char *dir, size_t **out, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    if (!d)
        return errno == ENOENT ? 0 : fail(rd, dir, -errno);
    while ((de = readdir(d))) {
        char *end;
        unsigned long v;
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        v = strtoul(de->d_name, &end, 10);
        if (*end)
            continue;
        if (*n == cap) {
            size_t *p = realloc(*out, (cap = cap ? 2 * cap : 64) * sizeof *p);
            if (!p) {
                closedir(d);
                free(*out);
                *out = NULL;
                return -ENOMEM;
            }
            *out = p;
        }
        (*out)[(*n)++] = v;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_size);
    return 0;
}

static int filters(struct rd *rd, const char *dir, const char *kind, struct vmlab_kstatus_scheme *s)
{
    size_t n;
    int e;

    CHK(count(rd, dir, kind, "nr_filters", &n));
    if (!n)
        return 0;
    struct vmlab_kstatus_filter *v = realloc(s->filters, (s->nr_filters + n) * sizeof *v);
    if (!v)
        return -ENOMEM;
    s->filters = v;
    for (size_t i = 0; i < n; i++) {
        struct vmlab_kstatus_filter *f = &s->filters[s->nr_filters++];
        char d[PATHLEN], b[16];
        int64_t allow = -1;
        memset(f, 0, sizeof *f);
        f->target_idx = -1;
        snprintf(f->kind, sizeof f->kind, "%s", kind);
        subn(d, dir, kind, i);
        CHK(str(rd, d, "type", f->type, sizeof f->type));
        CHK(str(rd, d, "matching", b, sizeof b));
        f->matching = b[0] == 'Y' || b[0] == 'y' || b[0] == '1';
        if ((e = str(rd, d, "allow", b, sizeof b)) < 0)
            return e;
        if (e == 0)
            allow = b[0] == 'Y' || b[0] == 'y' || b[0] == '1';
        f->allow = (int)allow;
        CHK(str(rd, d, "memcg_path", f->memcg_path, sizeof f->memcg_path));
        CHK(u64(rd, d, "addr_start", &f->addr_start));
        CHK(u64(rd, d, "addr_end", &f->addr_end));
        CHK(i64(rd, d, "target_idx", &f->target_idx));
    }
    return 0;
}

static int read_scheme(struct rd *rd, const char *dir, struct vmlab_kstatus_scheme *s)
{
    char d[PATHLEN];
    size_t n;
    int e;

    memset(s, 0, sizeof *s);
    s->apply_interval_us = s->target_nid = s->quota.effective_bytes = -1;
    s->stats.sz_ops_filter_passed = s->tried_total_bytes = -1;
    CHK(str(rd, dir, "action", s->action, sizeof s->action));
    CHK(i64(rd, dir, "apply_interval_us", &s->apply_interval_us));
    CHK(i64(rd, dir, "target_nid", &s->target_nid));
    sub(d, dir, "access_pattern");
    CHK(range(rd, d, "sz", &s->sz));
    CHK(range(rd, d, "nr_accesses", &s->nr_accesses));
    CHK(range(rd, d, "age", &s->age));
    sub(d, dir, "quotas");
    CHK(u64(rd, d, "ms", &s->quota.ms));
    CHK(u64(rd, d, "bytes", &s->quota.bytes));
    CHK(u64(rd, d, "reset_interval_ms", &s->quota.reset_interval_ms));
    CHK(i64(rd, d, "effective_bytes", &s->quota.effective_bytes));
    {
        char w[PATHLEN];
        sub(w, d, "weights");
        CHK(u64(rd, w, "sz_permil", &s->quota.w_sz));
        CHK(u64(rd, w, "nr_accesses_permil", &s->quota.w_nr_accesses));
        CHK(u64(rd, w, "age_permil", &s->quota.w_age));
    }
    CHK(count(rd, d, "goals", "nr_goals", &n));
    if (n && !(s->quota.goals = calloc(n, sizeof *s->quota.goals)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct vmlab_kstatus_goal *g = &s->quota.goals[s->quota.nr_goals++];
        char gd[PATHLEN];
        g->nid = -1;
        subn(gd, d, "goals", i);
        CHK(str(rd, gd, "target_metric", g->metric, sizeof g->metric));
        CHK(u64(rd, gd, "target_value", &g->target_value));
        CHK(u64(rd, gd, "current_value", &g->current_value));
        CHK(i64(rd, gd, "nid", &g->nid));
    }
    sub(d, dir, "watermarks");
    CHK(str(rd, d, "metric", s->wmarks.metric, sizeof s->wmarks.metric));
    CHK(u64(rd, d, "interval_us", &s->wmarks.interval_us));
    CHK(u64(rd, d, "high", &s->wmarks.high));
    CHK(u64(rd, d, "mid", &s->wmarks.mid));
    CHK(u64(rd, d, "low", &s->wmarks.low));
    CHK(filters(rd, dir, "filters", s));
    CHK(filters(rd, dir, "core_filters", s));
    CHK(filters(rd, dir, "ops_filters", s));
    sub(d, dir, "stats");
    CHK(u64(rd, d, "nr_tried", &s->stats.nr_tried));
    CHK(u64(rd, d, "sz_tried", &s->stats.sz_tried));
    CHK(u64(rd, d, "nr_applied", &s->stats.nr_applied));
    CHK(u64(rd, d, "sz_applied", &s->stats.sz_applied));
    CHK(u64(rd, d, "qt_exceeds", &s->stats.qt_exceeds));
    CHK(i64(rd, d, "sz_ops_filter_passed", &s->stats.sz_ops_filter_passed));
    sub(d, dir, "tried_regions");
    if ((e = i64(rd, d, "total_bytes", &s->tried_total_bytes)) < 0)
        return e;
    s->has_tried = e == 0;
    /* tried_regions has no nr_ file, and its entries are not 0..n-1: 6.12
     * numbers the regions of all schemes from one counter (scheme 0 gets
     * 0 2 4 7..., scheme 1 gets 1 3 5...), so list the directory. */
    if (s->has_tried) {
        size_t *idx = NULL, nr = 0;
        if ((e = numbered_entries(rd, d, &idx, &nr)) < 0)
            return e;
        for (size_t i = 0; i < nr; i++) {
            char r[PATHLEN];
            uint64_t st = 0, en = 0, acc = 0, age = 0;
            if (snprintf(r, sizeof r, "%s/%zu", d, idx[i]) >= (int)sizeof r)
                r[0] = '\0';
            if ((e = u64(rd, r, "start", &st)) < 0 || (e = u64(rd, r, "end", &en)) < 0 ||
                (e = u64(rd, r, "nr_accesses", &acc)) < 0 || (e = u64(rd, r, "age", &age)) < 0 ||
                (e = vmlab_regions_push(&s->tried, st, en)) < 0) {
                free(idx);
                return e;
            }
            s->tried.v[s->tried.n - 1].nr_accesses = (uint32_t)acc;
            s->tried.v[s->tried.n - 1].age = (uint32_t)age;
        }
        free(idx);
    }
    return 0;
}

static int read_ctx(struct rd *rd, const char *dir, struct vmlab_kstatus_ctx *c)
{
    char d[PATHLEN];
    size_t n;
    int e;

    CHK(str(rd, dir, "operations", c->operations, sizeof c->operations));
    CHK(str(rd, dir, "avail_operations", c->avail_operations, sizeof c->avail_operations));
    sub(d, dir, "monitoring_attrs/intervals");
    CHK(u64(rd, d, "sample_us", &c->sample_us));
    CHK(u64(rd, d, "aggr_us", &c->aggr_us));
    CHK(u64(rd, d, "update_us", &c->update_us));
    sub(d, dir, "monitoring_attrs/nr_regions");
    CHK(u64(rd, d, "min", &c->min_nr_regions));
    CHK(u64(rd, d, "max", &c->max_nr_regions));
    CHK(count(rd, dir, "targets", "nr_targets", &n));
    if (n && !(c->targets = calloc(n, sizeof *c->targets)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct vmlab_kstatus_target *t = &c->targets[c->nr_targets++];
        size_t nr;
        t->pid = -1;
        subn(d, dir, "targets", i);
        CHK(i64(rd, d, "pid_target", &t->pid));
        CHK(count(rd, d, "regions", "nr_regions", &nr));
        for (size_t j = 0; j < nr; j++) {
            char r[PATHLEN];
            uint64_t st = 0, en = 0;
            subn(r, d, "regions", j);
            CHK(u64(rd, r, "start", &st));
            CHK(u64(rd, r, "end", &en));
            CHK(vmlab_regions_push(&t->regions, st, en));
        }
    }
    CHK(count(rd, dir, "schemes", "nr_schemes", &n));
    if (n && !(c->schemes = calloc(n, sizeof *c->schemes)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        subn(d, dir, "schemes", i);
        e = read_scheme(rd, d, &c->schemes[c->nr_schemes++]);
        if (e < 0)
            return e;
    }
    return 0;
}

int vmlab_kstatus_read(const char *root, struct vmlab_kstatus *st, char *why, size_t len)
{
    struct rd rd = {why, len};
    char kd[PATHLEN];
    size_t n;
    int e;

    memset(st, 0, sizeof *st);
    snprintf(why, len, "ok");
    if (!root)
        root = vmlab_kstatus_root();
    snprintf(st->root, sizeof st->root, "%s", root);
    sub(kd, root, "kdamonds");
    if ((e = count(&rd, root, "kdamonds", "nr_kdamonds", &n)) < 0)
        goto out;
    {
        char probe[64];
        if (str(&rd, kd, "nr_kdamonds", probe, sizeof probe) == 1) {
            snprintf(why, len, "the kernel has no DAMON sysfs interface (no %s/nr_kdamonds)", kd);
            e = -ENOENT;
            goto out;
        }
    }
    if (n && !(st->kdamonds = calloc(n, sizeof *st->kdamonds))) {
        e = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct vmlab_kstatus_kdamond *k = &st->kdamonds[st->nr_kdamonds++];
        char d[PATHLEN];
        size_t nc;
        k->pid = k->refresh_ms = -1;
        subn(d, root, "kdamonds", i);
        if ((e = str(&rd, d, "state", k->state, sizeof k->state)) < 0 ||
            (e = i64(&rd, d, "pid", &k->pid)) < 0 || (e = i64(&rd, d, "refresh_ms", &k->refresh_ms)) < 0 ||
            (e = count(&rd, d, "contexts", "nr_contexts", &nc)) < 0)
            goto out;
        if (nc && !(k->ctxs = calloc(nc, sizeof *k->ctxs))) {
            e = -ENOMEM;
            goto out;
        }
        for (size_t j = 0; j < nc; j++) {
            char c[PATHLEN];
            subn(c, d, "contexts", j);
            if ((e = read_ctx(&rd, c, &k->ctxs[k->nr_ctxs++])) < 0)
                goto out;
        }
    }
    return 0;
out:
    if (e == -ENOMEM)
        snprintf(why, len, "out of memory reading %s", root);
    vmlab_kstatus_free(st);
    return e;
}

int vmlab_kstatus_read_scheme(const char *dir, struct vmlab_kstatus_scheme *s, char *why, size_t len)
{
    struct rd rd = {why, len};
    int e = read_scheme(&rd, dir, s);
    if (e < 0) {
        if (e == -ENOMEM)
            snprintf(why, len, "out of memory reading %s", dir);
        vmlab_kstatus_scheme_free(s);
    }
    return e;
}

void vmlab_kstatus_scheme_free(struct vmlab_kstatus_scheme *s)
{
    free(s->quota.goals);
    free(s->filters);
    vmlab_regions_free(&s->tried);
    memset(s, 0, sizeof *s);
}

void vmlab_kstatus_free(struct vmlab_kstatus *st)
{
    for (size_t i = 0; i < st->nr_kdamonds; i++) {
        struct vmlab_kstatus_kdamond *k = &st->kdamonds[i];
        for (size_t j = 0; j < k->nr_ctxs; j++) {
            struct vmlab_kstatus_ctx *c = &k->ctxs[j];
            for (size_t t = 0; t < c->nr_targets; t++)
                vmlab_regions_free(&c->targets[t].regions);
            for (size_t s = 0; s < c->nr_schemes; s++)
                vmlab_kstatus_scheme_free(&c->schemes[s]);
            free(c->targets);
            free(c->schemes);
        }
        free(k->ctxs);
    }
    free(st->kdamonds);
    st->kdamonds = NULL;
    st->nr_kdamonds = 0;
}
