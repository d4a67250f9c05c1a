/* What the plots need from a trace: the time-address raster with its
 * bands, and Denning's working-set size over time. */
#include "vmlab/plot.h"
#include "vmlab/sim.h"
#include "vmlab/trace.h"
#include "vmlab/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void vmlab_trace_addrplot_free(struct vmlab_addrplot *p)
{
    free((void *)p->cells), free((void *)p->bands);
    p->cells = NULL, p->bands = NULL;
}

int vmlab_trace_addrplot(const char *path, int fmt, size_t rows, size_t cols, uint64_t gap_pages,
                         struct vmlab_addrplot *p, char *err, size_t errlen)
{
    uint64_t *pages = NULL, *uniq = NULL;
    size_t n = 0;
    int rc;

    memset(p, 0, sizeof *p);
    /* pass 1: the distinct pages and the time range */
    if ((rc = vmlab_trace_load_pages(path, fmt, &pages, &n, err, errlen)))
        return rc;
    uint32_t *ids = malloc((n + 1) * sizeof *ids);
    uint64_t *orig = NULL;
    int64_t m = ids ? vmlab_sim_dense(pages, n, ids, &orig) : -ENOMEM;
    free(ids), free(pages);
    if (m <= 0) {
        free(orig);
        snprintf(err, errlen, m == 0 ? "%s: an empty trace" : "%s: out of memory", path);
        return m == 0 ? -EINVAL : -ENOMEM;
    }
    uniq = orig;
    qsort(uniq, (size_t)m, sizeof *uniq, cmp_u64);
    if (!gap_pages) { /* a new band after 16 MiB without references */
        struct vmlab_trace_reader *hr = vmlab_trace_open(path, fmt, NULL, 0);
        uint32_t hp = hr ? vmlab_trace_reader_header(hr)->page_size : 0;
        vmlab_trace_close(hr);
        gap_pages = (16u << 20) / (hp ? hp : vmlab_pagesize());
    }
    /* bands: split at gaps; rows shared by distinct pages, at least 3 each */
    size_t nb = 1;
    for (int64_t i = 1; i < m; i++)
        nb += uniq[i] - uniq[i - 1] > gap_pages;
    struct vmlab_plot_band *bands = calloc(nb, sizeof *bands);
    size_t *bstart = calloc(nb + 1, sizeof *bstart);
    uint8_t *cells = calloc(rows * cols, 1);
    if (!bands || !bstart || !cells) {
        free(bands), free(bstart), free(cells), free(uniq);
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    size_t b = 0;
    for (int64_t i = 1; i < m; i++)
        if (uniq[i] - uniq[i - 1] > gap_pages)
            bstart[++b] = (size_t)i;
    bstart[nb] = (size_t)m;
    struct vmlab_trace_reader *r = vmlab_trace_open(path, fmt, err, errlen);
    if (!r) {
        free(bands), free(bstart), free(cells), free(uniq);
        return -EINVAL;
    }
    const struct vmlab_trace_header *h = vmlab_trace_reader_header(r);
    uint64_t psz = h->page_size ? h->page_size : vmlab_pagesize();
    size_t minrows = rows / nb < 3 ? rows / nb : 3, free_rows = rows - minrows * nb, row = 0;
    for (b = 0; b < nb; b++) {
        size_t cnt = bstart[b + 1] - bstart[b];
        size_t share = minrows + (size_t)((double)free_rows * (double)cnt / (double)m);
        bands[b].row0 = row;
        bands[b].row1 = b + 1 == nb ? rows : row + share;
        row = bands[b].row1;
        bands[b].a0 = uniq[bstart[b]] * psz;
        bands[b].a1 = (uniq[bstart[b + 1] - 1] + 1) * psz;
        for (uint32_t t = 0; t < h->ntargets; t++) {
            uint64_t s = h->targets[t].start, e = s + h->targets[t].length;
            if (bands[b].a0 >= s && bands[b].a0 < e)
                snprintf(bands[b].name, sizeof bands[b].name, "%s", h->targets[t].name);
        }
    }
    /* pass 2: the time range, then the cells (a second reader) */
    struct vmlab_trace_event ev;
    uint64_t t0 = UINT64_MAX, t1 = 0;
    while ((rc = vmlab_trace_next(r, &ev)) == 1)
        t0 = ev.time < t0 ? ev.time : t0, t1 = ev.time > t1 ? ev.time : t1;
    vmlab_trace_close(r);
    r = vmlab_trace_open(path, fmt, err, errlen);
    double span = (double)(t1 - t0) + 1;
    while (r && (rc = vmlab_trace_next(r, &ev)) == 1) {
        size_t lo = 0, hi = (size_t)m;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (uniq[mid] < ev.page) lo = mid + 1; else hi = mid;
        }
        size_t bb = 0, l2 = 0, h2 = nb;
        while (l2 < h2) { /* the band: the last start <= lo */
            size_t mid = (l2 + h2) / 2;
            if (bstart[mid] <= lo) bb = mid, l2 = mid + 1; else h2 = mid;
        }
        size_t cnt = bstart[bb + 1] - bstart[bb], brows = bands[bb].row1 - bands[bb].row0;
        size_t rr = bands[bb].row0 + (size_t)((double)(lo - bstart[bb]) * (double)brows / (double)cnt);
        size_t cc = (size_t)((double)(ev.time - t0) * (double)cols / span);
        if (rr < rows && cc < cols)
            cells[rr * cols + cc] |= (uint8_t)(1 << (ev.kind & 1));
    }
    vmlab_trace_close(r);
    free(bstart), free(uniq);
    p->cells = cells, p->rows = rows, p->cols = cols;
    p->bands = bands, p->nbands = nb;
    p->t0 = (double)t0, p->t1 = (double)t1;
    return 0;
}

int vmlab_trace_wss(const char *path, int fmt, double tau, size_t points, double **tout, double **wout,
                    size_t *nout, char *err, size_t errlen)
{
    struct vmlab_trace_reader *r = vmlab_trace_open(path, fmt, err, errlen);
    struct vmlab_trace_event ev;
    uint64_t *times = NULL, *pages = NULL;
    size_t n = 0, cap = 0;
    int rc;

    if (!r)
        return -EINVAL;
    while ((rc = vmlab_trace_next(r, &ev)) == 1) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            uint64_t *a = realloc(times, cap * sizeof *a), *b = a ? realloc(pages, cap * sizeof *b) : NULL;
            if (a) times = a;
            if (b) pages = b;
            if (!a || !b) {
                rc = -ENOMEM;
                break;
            }
        }
        times[n] = ev.time, pages[n++] = ev.page;
    }
    if (rc < 0) {
        if (rc == -1)
            snprintf(err, errlen, "%s: %s", path, vmlab_trace_reader_error(r));
        vmlab_trace_close(r);
        free(times), free(pages);
        return -EINVAL;
    }
    vmlab_trace_close(r);
    uint32_t *ids = malloc((n + 1) * sizeof *ids);
    int64_t m = ids ? vmlab_sim_dense(pages, n, ids, NULL) : -ENOMEM;
    free(pages);
    double *last = m > 0 ? malloc((size_t)m * sizeof *last) : NULL;
    double *to = malloc((points + 1) * sizeof *to), *wo = malloc((points + 1) * sizeof *wo);
    if (m <= 0 || !last || !to || !wo) {
        free(ids), free(times), free(last), free(to), free(wo);
        snprintf(err, errlen, m == 0 ? "%s: an empty trace" : "%s: out of memory", path);
        return m == 0 ? -EINVAL : -ENOMEM;
    }
    double t0 = (double)times[0], t1 = (double)times[n - 1];
    if (tau <= 0)
        tau = (t1 - t0) / 100 > 1 ? (t1 - t0) / 100 : 1;
    for (int64_t j = 0; j < m; j++)
        last[j] = -1e300;
    /* W(t, tau): a page counts while its last reference is within tau;
     * the tail pointer expires references that fell out of the window */
    size_t tail = 0, k = 0, cur = 0;
    for (size_t i = 0; i < n; i++) {
        double t = (double)times[i];
        if (last[ids[i]] <= t - tau)
            cur++;
        last[ids[i]] = t;
        while (tail <= i && (double)times[tail] <= t - tau) {
            if (last[ids[tail]] == (double)times[tail])
                cur--, last[ids[tail]] = -1e300;
            tail++;
        }
        double next = t0 + (t1 - t0) * (double)(k + 1) / (double)points;
        while (k < points && (t >= next || i + 1 == n)) {
            to[k] = t, wo[k] = (double)cur;
            k++;
            next = t0 + (t1 - t0) * (double)(k + 1) / (double)points;
        }
    }
    free(ids), free(times), free(last);
    *tout = to, *wout = wo, *nout = k;
    return 0;
}
