/* Heatmap images with cairo: one rectangle per cell, axes with ticks, and
 * a colour bar, on any of cairo's vector or raster surfaces. */
#include "vmlab/heatmap.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* cairo is loaded when the first image is drawn: linking it would load
 * two dozen libraries (X11 and friends) into every vmlab start-up, which
 * then took twice as long as a bare Lua's. */
#define CAIRO_FNS(X) \
    X(cairo_image_surface_create) X(cairo_svg_surface_create) X(cairo_pdf_surface_create) \
    X(cairo_create) X(cairo_destroy) X(cairo_surface_write_to_png) X(cairo_surface_finish) \
    X(cairo_surface_status) X(cairo_surface_destroy) X(cairo_status_to_string) \
    X(cairo_set_source_rgb) X(cairo_paint) X(cairo_rectangle) X(cairo_fill) \
    X(cairo_set_line_width) X(cairo_stroke) X(cairo_select_font_face) X(cairo_set_font_size) \
    X(cairo_move_to) X(cairo_line_to) X(cairo_save) X(cairo_restore) X(cairo_rotate) \
    X(cairo_show_text) X(cairo_text_extents)

static struct {
#define X(f) __typeof__(f) *f;
    CAIRO_FNS(X)
#undef X
} cx;

static const char *load_cairo(void)
{
    static int loaded;
    void *h;

    if (loaded)
        return NULL;
    h = dlopen("libcairo.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return dlerror();
#define X(f) if (!(*(void **)&cx.f = dlsym(h, #f))) return "libcairo.so.2 lacks " #f;
    CAIRO_FNS(X)
#undef X
    loaded = 1;
    return NULL;
}

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

static void draw(cairo_t *cr, const struct vmlab_heatmap *h, int w, int ht)
{
    const double ml = 130, mr = 90, mt = 36, mb = 46;
    double pw = w - ml - mr, ph = ht - mt - mb, max = 0;
    char buf[64];

    for (size_t i = 0; i < h->rows * h->cols; i++)
        if (h->heat[i] > max)
            max = h->heat[i];
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    for (size_t y = 0; y < h->rows; y++) {
        for (size_t x = 0; x < h->cols; x++) {
            double r, g, b;
            colour(max > 0 ? h->heat[y * h->cols + x] / max : 0, &r, &g, &b);
            cairo_set_source_rgb(cr, r, g, b);
            /* rows grow upwards: higher addresses at the top */
            cairo_rectangle(cr, ml + pw * (double)x / (double)h->cols,
                            mt + ph - ph * (double)(y + 1) / (double)h->rows,
                            pw / (double)h->cols + 0.5, ph / (double)h->rows + 0.5);
            cairo_fill(cr);
        }
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, ml, mt, pw, ph);
    cairo_stroke(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 11);
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
    text(cr, ml + pw / 2, ht - 8, "time", 0.5);
    cairo_save(cr);
    cairo_move_to(cr, 14, mt + ph / 2 + 20);
    cairo_rotate(cr, -1.5707963);
    cairo_show_text(cr, "address");
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
    text(cr, w - mr + 40, mt + ph, "0", 0);
    text(cr, w - mr + 14, mt - 6, "accesses", 0);
}

int vmlab_heatmap_write(const struct vmlab_heatmap *h, const char *path, int width, int height,
                        char *err, size_t errlen)
{
    const char *ext = suffix(path);
    cairo_surface_t *s;
    cairo_t *cr;
    cairo_status_t st;
    const char *why;

    if ((why = load_cairo())) {
        snprintf(err, errlen, "cannot draw images without cairo: %s", why);
        return -1;
    }
    if (!h->rows || !h->cols) {
        snprintf(err, errlen, "an empty heatmap (no snapshots or no address range)");
        return -1;
    }
    if (!strcmp(ext, "png"))
        s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    else if (!strcmp(ext, "svg"))
        s = cairo_svg_surface_create(path, width, height);
    else if (!strcmp(ext, "pdf"))
        s = cairo_pdf_surface_create(path, width, height);
    else {
        snprintf(err, errlen, "unknown image type '.%s' (use .png, .svg or .pdf)", ext);
        return -1;
    }
    cr = cairo_create(s);
    draw(cr, h, width, height);
    cairo_destroy(cr);
    if (!strcmp(ext, "png"))
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
