/* The four charts of a trace: time against address (the vmtrace mail's
 * plots), working set over time, reuse distances, miss-ratio curves. */
#include "vmlab/plot.h"
#include "vmlab/sim.h"
#include "vmlab/trace.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static const char *unit_name(const char *path, int fmt)
{
    struct vmlab_trace_reader *r = vmlab_trace_open(path, fmt, NULL, 0);
    const char *u = "time (references)";
    if (r) {
        uint32_t ns = vmlab_trace_reader_header(r)->time_unit_ns;
        u = ns == 1000 ? "time (us)" : ns == 1 ? "time (ns)" : ns == 1000000 ? "time (ms)" :
            ns == 0 ? "virtual time (references)" : "time";
        vmlab_trace_close(r);
    }
    return u;
}

/* A trace's pages as dense ids 0..m-1 (*ids malloc'd): 0, or -errno with
 * err (an empty trace is -EINVAL). */
static int load_dense(const char *path, int fmt, uint32_t **ids, size_t *n, int64_t *m,
                      char *err, size_t errlen)
{
    uint64_t *pages;
    int rc = vmlab_trace_load_pages(path, fmt, &pages, n, err, errlen);
    if (rc)
        return rc;
    *ids = malloc((*n + 1) * sizeof **ids);
    *m = *ids ? vmlab_sim_dense(pages, *n, *ids, NULL) : -ENOMEM;
    free(pages);
    if (*m > 0)
        return 0;
    free(*ids);
    snprintf(err, errlen, *m == 0 ? "%s: an empty trace" : "%s: out of memory", path);
    return *m == 0 ? -EINVAL : -ENOMEM;
}

static int reuse(const char *path, int fmt, const struct vmlab_trace_plot_opts *o, int w, int h,
                 const char *title, char *err, size_t errlen)
{
    uint32_t *ids;
    size_t n;
    int64_t m;
    int rc = load_dense(path, fmt, &ids, &n, &m, err, errlen);
    if (rc)
        return rc;
    struct vmlab_mrc c = {0};
    rc = vmlab_mrc_lru(ids, n, (uint32_t)m, &c);
    free(ids);
    if (rc) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    /* log2 bins: bin k holds distances [2^k, 2^(k+1)); the last bar is
     * the first references (infinite distance) */
    double x[66], y[66];
    size_t nb = 0;
    for (size_t d = 1; d <= c.maxd; d++) {
        size_t k = 63 - (size_t)__builtin_clzll(d);
        while (nb <= k)
            x[nb] = (double)nb, y[nb] = 0, nb++;
        y[k] += c.hist[d] / c.refs;
    }
    x[nb] = (double)nb, y[nb] = c.cold / c.refs, nb++;
    struct vmlab_plot_series s = {"last bar: first uses", x, y, nb};
    struct vmlab_lineplot p = {title, "log2 of the LRU reuse distance (pages)", "fraction of references", &s, 1, 1, 0, 0, 0};
    rc = vmlab_plot_lines(&p, o->output, w, h, err, errlen) ? -EIO : 0;
    vmlab_mrc_free(&c);
    return rc;
}

static int mrc(const char *path, int fmt, const struct vmlab_trace_plot_opts *o, int w, int h,
               const char *title, char *err, size_t errlen)
{
    static const int defaults[] = {VMLAB_SIM_LRU, VMLAB_SIM_FIFO, VMLAB_SIM_CLOCK, VMLAB_SIM_ARC,
                                   VMLAB_SIM_LINUX, VMLAB_SIM_OPT};
    const int *pol = o->policies ? o->policies : defaults;
    size_t np = o->policies ? o->npolicies : 6, pts = o->points ? o->points : 24;
    uint32_t *ids;
    size_t n;
    int64_t m;
    int rc = load_dense(path, fmt, &ids, &n, &m, err, errlen);
    if (rc)
        return rc;
    double *xs = calloc(pts * np + 1, sizeof *xs), *ys = calloc(pts * np + 1, sizeof *ys);
    struct vmlab_plot_series *se = calloc(np + 1, sizeof *se);
    size_t *sizes = calloc(pts + 1, sizeof *sizes);
    if (!xs || !ys || !se || !sizes) {
        free(ids), free(xs), free(ys), free(se), free(sizes);
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    size_t k = 0; /* log-spaced sizes from 1 to the distinct pages */
    for (size_t i = 0; i < pts; i++) {
        size_t s = (size_t)llround(pow((double)m, (double)i / (double)(pts > 1 ? pts - 1 : 1)));
        if (s < 1)
            s = 1;
        if (!k || s > sizes[k - 1])
            sizes[k++] = s;
    }
    rc = 0;
    for (size_t j = 0; j < np && !rc; j++) {
        double *x = xs + j * pts, *y = ys + j * pts;
        if (pol[j] == VMLAB_SIM_LRU) { /* one pass for every size */
            struct vmlab_mrc c;
            if (vmlab_mrc_lru(ids, n, (uint32_t)m, &c)) {
                rc = -ENOMEM;
                break;
            }
            vmlab_mrc_ratios(&c, sizes, k, y);
            vmlab_mrc_free(&c);
        } else
            for (size_t i = 0; i < k; i++) {
                int64_t f = vmlab_sim_run(pol[j], ids, n, (uint32_t)m, sizes[i]);
                if (f < 0) {
                    rc = (int)f;
                    break;
                }
                y[i] = (double)f / (double)n;
            }
        for (size_t i = 0; i < k; i++)
            x[i] = (double)sizes[i];
        se[j] = (struct vmlab_plot_series){vmlab_sim_policy_name(pol[j]), x, y, k};
    }
    if (!rc) {
        struct vmlab_lineplot p = {title, "memory (pages)", "miss ratio", se, np, 0, 1, 0, 1};
        rc = vmlab_plot_lines(&p, o->output, w, h, err, errlen) ? -EIO : 0;
    } else
        snprintf(err, errlen, "%s: simulation failed: %s", path, strerror(-rc));
    free(ids), free(xs), free(ys), free(se), free(sizes);
    return rc;
}

int vmlab_trace_plot(const char *path, int fmt, const struct vmlab_trace_plot_opts *o, char *err,
                     size_t errlen)
{
    int w = o->width ? o->width : 1000, h = o->height ? o->height : 600, rc;
    char title[256];
    static const char *const kinds[] = {"time and address", "working set W(t, tau)",
                                        "reuse distances (LRU)", "miss-ratio curves"};
    if (o->kind < 0 || o->kind > VMLAB_CHART_MRC || w < 300 || h < 200 || w > 20000 || h > 20000) {
        snprintf(err, errlen, "plot: a kind of chart and a size of at least 300 x 200");
        return -EINVAL;
    }
    snprintf(title, sizeof title, "%s: %s", o->title ? o->title : base(path), kinds[o->kind]);
    switch (o->kind) {
    case VMLAB_CHART_ADDRESS: {
        struct vmlab_addrplot p;
        size_t rows = (size_t)(h - 86), cols = (size_t)(w - 170);
        if ((rc = vmlab_trace_addrplot(path, fmt, rows, cols, o->gap_pages, &p, err, errlen)))
            return rc;
        p.title = title, p.xlabel = unit_name(path, fmt);
        rc = vmlab_plot_address(&p, o->output, w, h, err, errlen) ? -EIO : 0;
        vmlab_trace_addrplot_free(&p);
        return rc;
    }
    case VMLAB_CHART_WSS: {
        double *t, *ws;
        size_t n;
        if ((rc = vmlab_trace_wss(path, fmt, o->tau, o->points ? o->points : 200, &t, &ws, &n, err, errlen)))
            return rc;
        struct vmlab_plot_series s = {"W(t, tau)", t, ws, n};
        struct vmlab_lineplot p = {title, unit_name(path, fmt), "working set (pages)", &s, 1, 0, 0, 0, 0};
        rc = vmlab_plot_lines(&p, o->output, w, h, err, errlen) ? -EIO : 0;
        free(t), free(ws);
        return rc;
    }
    case VMLAB_CHART_REUSE:
        return reuse(path, fmt, o, w, h, title, err, errlen);
    default:
        return mrc(path, fmt, o, w, h, title, err, errlen);
    }
}
