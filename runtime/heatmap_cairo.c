/* Heatmap images with cairo: one rectangle per cell, axes with ticks, and
 * a colour bar, on any of cairo's vector or raster surfaces. */
#include "vmlab/heatmap.h"

#include "vmlab/cairo_dl.h"

#include <stdio.h>
#include <string.h>

#define cx vmlab_cx

/* From here on, cairo's names go through the table. */
#define X(f) ,f
#define cairo_image_surface_create cx.cairo_image_surface_create
#define cairo_svg_surface_create cx.cairo_svg_surface_create
#define cairo_pdf_surface_create cx.cairo_pdf_surface_create
#define cairo_create cx.cairo_create
#define cairo_destroy cx.cairo_destroy
#define cairo_surface_write_to_png cx.cairo_surface_write_to_png
#define cairo_surface_finish cx.cairo_surface_finish
#define cairo_surface_status cx.cairo_surface_status
#define cairo_surface_destroy cx.cairo_surface_destroy
#define cairo_status_to_string cx.cairo_status_to_string
#define cairo_set_source_rgb cx.cairo_set_source_rgb
#define cairo_paint cx.cairo_paint
#define cairo_rectangle cx.cairo_rectangle
#define cairo_fill cx.cairo_fill
#define cairo_set_line_width cx.cairo_set_line_width
#define cairo_stroke cx.cairo_stroke
#define cairo_select_font_face cx.cairo_select_font_face
#define cairo_set_font_size cx.cairo_set_font_size
#define cairo_move_to cx.cairo_move_to
#define cairo_line_to cx.cairo_line_to
#define cairo_save cx.cairo_save
#define cairo_restore cx.cairo_restore
#define cairo_rotate cx.cairo_rotate
#define cairo_show_text cx.cairo_show_text
#define cairo_text_extents cx.cairo_text_extents
#define cairo_image_surface_get_data cx.cairo_image_surface_get_data
#define cairo_image_surface_get_stride cx.cairo_image_surface_get_stride
#define cairo_surface_flush cx.cairo_surface_flush
#define cairo_surface_mark_dirty cx.cairo_surface_mark_dirty
#define cairo_set_source_surface cx.cairo_set_source_surface
#define cairo_get_source cx.cairo_get_source
#define cairo_pattern_set_filter cx.cairo_pattern_set_filter
#define cairo_scale cx.cairo_scale
#define cairo_arc cx.cairo_arc
#define cairo_new_path cx.cairo_new_path
#define cairo_clip cx.cairo_clip
#define cairo_translate cx.cairo_translate
#undef X

/* A perceptual-ish ramp: dark blue, purple, orange, pale yellow. */
static void colour(double v, double *r, double *g, double *b)
{
    static const double stops[][3] = {
        {0.05, 0.03, 0.20}, {0.35, 0.07, 0.50}, {0.75, 0.20, 0.35}, {0.98, 0.55, 0.10}, {0.99, 0.95, 0.60}};
    double x;
    int i;

    if (v < 0)
        v = 0;
    if (v > 1)
        v = 1;
    x = v * 4;
    i = (int)x;
    if (i >= 4) {
        *r = stops[4][0]; *g = stops[4][1]; *b = stops[4][2];
        return;
    }
    x -= i;
    *r = stops[i][0] + (stops[i + 1][0] - stops[i][0]) * x;
    *g = stops[i][1] + (stops[i + 1][1] - stops[i][1]) * x;
    *b = stops[i][2] + (stops[i + 1][2] - stops[i][2]) * x;
}

static const char *suffix(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : "";
}

static void text(cairo_t *cr, double x, double y, const char *s, double align)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - e.width * align, y);
    cairo_show_text(cr, s);
}

/* The cells as one raster, one pixel per cell, scaled up without
 * smoothing: vector outputs embed it as a single image instead of a path
 * per cell (500x500 cells were 12 MB of SVG). */
/* The plot area's black frame, and the labels' font. */
static void frame(cairo_t *cr, double ml, double mt, double pw, double ph)
{
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, ml, mt, pw, ph);
    cairo_stroke(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 11);
}

static int raster_cells(cairo_t *cr, const struct vmlab_heatmap *h, double min, double max, double x,
                        double y, double w, double ht)
{
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)h->cols, (int)h->rows);
    unsigned char *data;
    int stride;

    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return -1;
    }
    cairo_surface_flush(img);
    data = cairo_image_surface_get_data(img);
    stride = cairo_image_surface_get_stride(img);
    for (size_t r = 0; r < h->rows; r++) {
        /* row 0 is the lowest address: the image's bottom line */
        uint32_t *line = (uint32_t *)(void *)(data + (size_t)stride * (h->rows - 1 - r));
        for (size_t c = 0; c < h->cols; c++) {
            double v = h->heat[r * h->cols + c], cr_, cg, cb;
            if (v != v) {
                line[c] = 0xffffff;
                continue;
            }
            colour(max > min ? (v - min) / (max - min) : (max > 0 ? 1 : 0), &cr_, &cg, &cb);
            line[c] = (uint32_t)(cr_ * 255 + 0.5) << 16 | (uint32_t)(cg * 255 + 0.5) << 8 |
                      (uint32_t)(cb * 255 + 0.5);
        }
    }
    cairo_surface_mark_dirty(img);
    cairo_save(cr);
    cairo_rectangle(cr, x, y, w, ht);
    cairo_clip(cr);
    cairo_translate(cr, x, y);
    cairo_scale(cr, w / (double)h->cols, ht / (double)h->rows);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_paint(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);
    return 0;
}

static int draw(cairo_t *cr, const struct vmlab_heatmap *h, int w, int ht)
{
    const double ml = 130, mr = 110, mt = 36, mb = 46;
    double pw = w - ml - mr, ph = ht - mt - mb, max = 0, min = 0;
    char buf[64];

    int have = 0;

    /* the scale runs from the coolest to the hottest cell with a heat; a
     * cell without one (NaN: no region touched it) stays white, as damo's */
    for (size_t i = 0; i < h->rows * h->cols; i++) {
        double v = h->heat[i];
        if (v != v)
            continue;
        if (!have || v > max)
            max = v;
        if (!have || v < min)
            min = v;
        have = 1;
    }
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    if (raster_cells(cr, h, min, max, ml, mt, pw, ph) < 0)
        return -1;
    frame(cr, ml, mt, pw, ph);
    for (int i = 0; i <= 4; i++) {
        double fx = i / 4.0;
        snprintf(buf, sizeof buf, "%.2f s", h->t0 + (h->t1 - h->t0) * fx);
        text(cr, ml + pw * fx, mt + ph + 16, buf, 0.5);
        snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)(h->a0 + (uint64_t)((double)(h->a1 - h->a0) * fx)));
        text(cr, ml - 6, mt + ph - ph * fx + 4, buf, 1.0);
        cairo_move_to(cr, ml + pw * fx, mt + ph);
        cairo_line_to(cr, ml + pw * fx, mt + ph + 4);
        cairo_move_to(cr, ml, mt + ph - ph * fx);
        cairo_line_to(cr, ml - 4, mt + ph - ph * fx);
        cairo_stroke(cr);
    }
    text(cr, ml + pw / 2, ht - 8, "time (s)", 0.5);
    cairo_save(cr);
    cairo_move_to(cr, 14, mt + ph / 2 + 20);
    cairo_rotate(cr, -1.5707963);
    cairo_show_text(cr, "address (bytes)");
    cairo_restore(cr);
    cairo_set_font_size(cr, 13);
    text(cr, ml + pw / 2, 22, h->title ? h->title : "access frequency", 0.5);
    /* the colour bar */
    for (int i = 0; i < 100; i++) {
        double r, g, b;
        colour(i / 99.0, &r, &g, &b);
        cairo_set_source_rgb(cr, r, g, b);
        cairo_rectangle(cr, w - mr + 20, mt + ph - ph * (i + 1) / 100.0, 16, ph / 100.0 + 0.5);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, w - mr + 20, mt, 16, ph);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 10);
    snprintf(buf, sizeof buf, "%.3g", max);
    text(cr, w - mr + 40, mt + 8, buf, 0);
    snprintf(buf, sizeof buf, "%.3g", min);
    text(cr, w - mr + 40, mt + ph, buf, 0);
    cairo_save(cr);
    cairo_move_to(cr, w - 8, mt + ph / 2 + 60);
    cairo_rotate(cr, -1.5707963);
    cairo_show_text(cr, h->unit ? h->unit : "access frequency");
    cairo_restore(cr);
    return 0;
}

/* A surface for path's type (PNG is drawn in memory and written at the
 * end; SVG and PDF stream to the file). */
static cairo_surface_t *surface_for(const char *path, int width, int height, char *err, size_t errlen)
{
    const char *ext = suffix(path), *why;

    if ((why = vmlab_cairo_load())) {
        snprintf(err, errlen, "cannot draw images without cairo: %s", why);
        return NULL;
    }
    if (!strcmp(ext, "png"))
        return cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    if (!strcmp(ext, "svg"))
        return cairo_svg_surface_create(path, width, height);
    if (!strcmp(ext, "pdf"))
        return cairo_pdf_surface_create(path, width, height);
    snprintf(err, errlen, "unknown image type '.%s' (use .png, .svg or .pdf)", ext);
    return NULL;
}

static int finish(cairo_surface_t *s, const char *path, char *err, size_t errlen)
{
    cairo_status_t st;

    if (!strcmp(suffix(path), "png"))
        st = cairo_surface_write_to_png(s, path);
    else {
        cairo_surface_finish(s);
        st = cairo_surface_status(s);
    }
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS) {
        snprintf(err, errlen, "%s: %s", path, cairo_status_to_string(st));
        return -1;
    }
    return 0;
}

int vmlab_heatmap_write(const struct vmlab_heatmap *h, const char *path, int width, int height,
                        char *err, size_t errlen)
{
    cairo_surface_t *s;
    cairo_t *cr;

    if (!h->rows || !h->cols) {
        snprintf(err, errlen, "an empty heatmap (no snapshots or no address range)");
        return -1;
    }
    if (!(s = surface_for(path, width, height, err, errlen)))
        return -1;
    cr = cairo_create(s);
    if (draw(cr, h, width, height) < 0) {
        cairo_destroy(cr);
        cairo_surface_destroy(s);
        snprintf(err, errlen, "%s: cannot make a %zux%zu raster", path, h->cols, h->rows);
        return -1;
    }
    cairo_destroy(cr);
    return finish(s, path, err, errlen);
}

/* A line plot with points (damo's gnuplot "with linespoints"). */
int vmlab_plot_write(const struct vmlab_plot *p, const char *path, int width, int height, char *err,
                     size_t errlen)
{
    const double ml = 110, mr = 30, mt = 30, mb = 50;
    double pw = width - ml - mr, ph = height - mt - mb, x0 = 0, x1 = 0, y0 = 0, y1 = 0;
    cairo_surface_t *s;
    cairo_t *cr;
    char buf[64];

    if (p->n == 0) {
        snprintf(err, errlen, "nothing to plot: no points");
        return -1;
    }
    for (size_t i = 0; i < p->n; i++) {
        if (i == 0 || p->x[i] < x0) x0 = p->x[i];
        if (i == 0 || p->x[i] > x1) x1 = p->x[i];
        if (i == 0 || p->y[i] < y0) y0 = p->y[i];
        if (i == 0 || p->y[i] > y1) y1 = p->y[i];
    }
    if (y0 > 0)
        y0 = 0;                     /* sizes and counts: from zero up */
    if (x1 <= x0)
        x1 = x0 + 1;
    if (y1 <= y0)
        y1 = y0 + 1;
    if (!(s = surface_for(path, width, height, err, errlen)))
        return -1;
    cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    frame(cr, ml, mt, pw, ph);
    for (int i = 0; i <= 4; i++) {
        double f = i / 4.0;
        snprintf(buf, sizeof buf, "%.4g", x0 + (x1 - x0) * f);
        text(cr, ml + pw * f, mt + ph + 16, buf, 0.5);
        snprintf(buf, sizeof buf, "%.4g", y0 + (y1 - y0) * f);
        text(cr, ml - 6, mt + ph - ph * f + 4, buf, 1.0);
    }
    text(cr, ml + pw / 2, height - 10, p->xlabel ? p->xlabel : "", 0.5);
    cairo_save(cr);
    cairo_move_to(cr, 16, mt + ph / 2 + 60);
    cairo_rotate(cr, -1.5707963);
    cairo_show_text(cr, p->ylabel ? p->ylabel : "");
    cairo_restore(cr);
    cairo_set_source_rgb(cr, 0.58, 0, 0.83);
    cairo_set_line_width(cr, 1.5);
    for (size_t i = 0; i < p->n; i++) {
        double x = ml + pw * (p->x[i] - x0) / (x1 - x0), y = mt + ph - ph * (p->y[i] - y0) / (y1 - y0);
        if (i == 0)
            cairo_move_to(cr, x, y);
        else
            cairo_line_to(cr, x, y);
    }
    cairo_stroke(cr);
    for (size_t i = 0; i < p->n; i++) {
        double x = ml + pw * (p->x[i] - x0) / (x1 - x0), y = mt + ph - ph * (p->y[i] - y0) / (y1 - y0);
        cairo_new_path(cr);
        cairo_arc(cr, x, y, 2.5, 0, 6.2831853);
        cairo_stroke(cr);
    }
    cairo_destroy(cr);
    return finish(s, path, err, errlen);
}
