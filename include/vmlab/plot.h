/* Charts of reference traces through cairo (PNG, SVG or PDF by suffix):
 * line and bar charts (working set over time, reuse distances, miss-ratio
 * curves), and the time-address scatter of the vmtrace mail's gcc.png. */
#ifndef VMLAB_PLOT_H
#define VMLAB_PLOT_H
#include <stddef.h>
#include <stdint.h>

struct vmlab_plot_series {
    const char *label;
    const double *x, *y;
    size_t n;
};

struct vmlab_lineplot {
    const char *title, *xlabel, *ylabel;
    const struct vmlab_plot_series *series;
    size_t nseries;
    int bars;             /* draw the first series as bars */
    int logx;             /* log-scaled x axis (x > 0) */
    double ymin, ymax;    /* equal: from the data */
};
int vmlab_plot_lines(const struct vmlab_lineplot *p, const char *path, int width, int height,
                     char *err, size_t errlen);

/* The time-address scatter: cells[rows x cols], bit 0 read, bit 1 write,
 * row 0 the lowest address; bands are address ranges stacked from the
 * bottom, each its share of rows. */
struct vmlab_plot_band {
    char name[64];
    uint64_t a0, a1;      /* addresses */
    size_t row0, row1;    /* rows [row0, row1) */
};
struct vmlab_addrplot {
    const char *title, *xlabel;
    const uint8_t *cells;
    size_t rows, cols;
    double t0, t1;
    const struct vmlab_plot_band *bands;
    size_t nbands;
};
int vmlab_plot_address(const struct vmlab_addrplot *p, const char *path, int width, int height,
                       char *err, size_t errlen);
#endif
