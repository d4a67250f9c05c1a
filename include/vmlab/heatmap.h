/* Heatmap images of access frequency: time on the x axis, address on the
 * y axis, a colour bar; PNG, SVG or PDF through cairo.  The cells are one
 * embedded raster, so a 500x500 heatmap's SVG stays small.  A NaN cell (no
 * region over it) is left white. */
#ifndef VMLAB_HEATMAP_H
#define VMLAB_HEATMAP_H
#include <stddef.h>
#include <stdint.h>

struct vmlab_heatmap {
    const double *heat;        /* rows x cols, row 0 = lowest address */
    size_t rows, cols;
    double t0, t1;             /* seconds */
    uint64_t a0, a1;           /* addresses */
    const char *title;
    const char *unit;          /* the colour bar's label, e.g. "Access frequency (hz)" */
};

/* Format from the path's suffix (.png, .svg, .pdf).  Returns 0, or -1 with
 * a reason in err. */
int vmlab_heatmap_write(const struct vmlab_heatmap *h, const char *path, int width, int height,
                        char *err, size_t errlen);
/* A line plot with points, from the lowest x to the highest (wss and
 * nr_regions --plot). */
struct vmlab_plot {
    const double *x, *y;
    size_t n;
    const char *xlabel, *ylabel;
};

int vmlab_plot_write(const struct vmlab_plot *p, const char *path, int width, int height, char *err,
                     size_t errlen);
#endif
