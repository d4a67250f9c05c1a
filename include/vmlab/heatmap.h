/* Heatmap images of access frequency: time on the x axis, address on the
 * y axis, a colour bar; PNG, SVG or PDF through cairo. */
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
};

/* Format from the path's suffix (.png, .svg, .pdf).  Returns 0, or -1 with
 * a reason in err. */
int vmlab_heatmap_write(const struct vmlab_heatmap *h, const char *path, int width, int height,
                        char *err, size_t errlen);
#endif
