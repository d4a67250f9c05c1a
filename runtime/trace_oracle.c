/* A trace as an oracle: each page's access times, sorted, answer "was it
 * accessed in this interval" by binary search (the replay backend asks
 * once per region per sample). */
#include "vmlab/trace.h"
#include "vmlab/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* accesses a page list starts with; it doubles as it fills */
#define FIRST_CAP 1024

struct acc {
    uint64_t page, t;
};

struct vmlab_trace_index {
    uint64_t *pages;     /* distinct pages, sorted */
    size_t *first;       /* times of pages[i]: t[first[i] .. first[i+1]) */
    uint64_t *t;
    size_t npages, n, psz;
    uint64_t end_us;
};

static int cmp_acc(const void *a, const void *b)
{
    const struct acc *x = a, *y = b;
    if (x->page != y->page)
        return x->page < y->page ? -1 : 1;
    return x->t < y->t ? -1 : x->t > y->t;
}

int vmlab_trace_index_build(const char *path, int fmt, double us_per_ref,
                            struct vmlab_trace_index **out, char *err, size_t errlen)
{
    struct vmlab_trace_reader *r = vmlab_trace_open(path, fmt, err, errlen);
    struct vmlab_trace_index *ix = NULL;
    struct vmlab_trace_event ev;
    struct acc *v = NULL;
    size_t n = 0, cap = 0;
    int rc;

    if (!r)
        return -EINVAL;
    const struct vmlab_trace_header *h = vmlab_trace_reader_header(r);
    double scale = h->time_unit_ns ? (double)h->time_unit_ns / 1000.0 : us_per_ref;
    size_t psz = h->page_size ? h->page_size : vmlab_pagesize();
    while ((rc = vmlab_trace_next(r, &ev)) == 1) {
        if (n == cap) {
            struct acc *nv = realloc(v, (cap = cap ? cap * 2 : FIRST_CAP) * sizeof *v);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        v[n].page = ev.page, v[n].t = (uint64_t)((double)ev.time * scale);
        n++;
    }
    if (rc < 0) {
        if (rc == -1)
            snprintf(err, errlen, "%s: %s", path, vmlab_trace_reader_error(r));
        else
            snprintf(err, errlen, "%s: out of memory", path);
        vmlab_trace_close(r);
        free(v);
        return rc == -1 ? -EINVAL : rc;
    }
    vmlab_trace_close(r);
    if (n)
        qsort(v, n, sizeof *v, cmp_acc);
    ix = calloc(1, sizeof *ix);
    if (!ix)
        goto nomem;
    ix->psz = psz, ix->n = n;
    ix->t = malloc((n + 1) * sizeof *ix->t);
    ix->pages = malloc((n + 1) * sizeof *ix->pages);
    ix->first = malloc((n + 2) * sizeof *ix->first);
    if (!ix->t || !ix->pages || !ix->first)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || v[i].page != v[i - 1].page) {
            ix->pages[ix->npages] = v[i].page;
            ix->first[ix->npages++] = i;
        }
        ix->t[i] = v[i].t;
        if (v[i].t > ix->end_us)
            ix->end_us = v[i].t;
    }
    ix->first[ix->npages] = n;
    free(v);
    *out = ix;
    return 0;
nomem:
    free(v);
    vmlab_trace_index_free(ix);
    snprintf(err, errlen, "%s: out of memory", path);
    return -ENOMEM;
}

int vmlab_trace_index_accessed(const struct vmlab_trace_index *ix, uint64_t addr, uint64_t t_us,
                               uint64_t window_us)
{
    uint64_t page = addr / ix->psz, from = t_us >= window_us ? t_us - window_us : 0;
    size_t lo = 0, hi = ix->npages;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ix->pages[mid] < page) lo = mid + 1; else hi = mid;
    }
    if (lo == ix->npages || ix->pages[lo] != page)
        return 0;
    size_t a = ix->first[lo], b = ix->first[lo + 1], end = b;
    int from_start = t_us < window_us; /* the first interval includes time 0 */
    while (a < b) { /* the first access after `from` */
        size_t mid = (a + b) / 2;
        if (!from_start && ix->t[mid] <= from)
            a = mid + 1;
        else
            b = mid;
    }
    return a < end && ix->t[a] <= t_us;
}

void vmlab_trace_index_span(const struct vmlab_trace_index *ix, uint64_t *lo, uint64_t *hi,
                            uint64_t *end_us)
{
    *lo = ix->npages ? ix->pages[0] * ix->psz : 0;
    *hi = ix->npages ? (ix->pages[ix->npages - 1] + 1) * ix->psz : 0;
    *end_us = ix->end_us;
}

void vmlab_trace_index_free(struct vmlab_trace_index *ix)
{
    if (!ix)
        return;
    free(ix->pages), free(ix->first), free(ix->t), free(ix);
}
