/* Charts with cairo: lines/bars with axes and a legend, and the
 * time-address scatter (reads and writes in two colours, a band per
 * mapping).  cairo comes through runtime/cairo_dl.c, loaded at the first chart. */
#include "vmlab/plot.h"

#include "vmlab/cairo_dl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define cx vmlab_cx

static const char *suffix(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : "";
}

static void text(cairo_t *cr, double x, double y, const char *s, double align)
{
    cairo_text_extents_t e;
    cx.cairo_text_extents(cr, s, &e);
    cx.cairo_move_to(cr, x - e.width * align, y);
    cx.cairo_show_text(cr, s);
}

static void vtext(cairo_t *cr, double x, double y, const char *s)
{
    cx.cairo_save(cr);
    cx.cairo_move_to(cr, x, y);
    cx.cairo_rotate(cr, -1.5707963);
    cx.cairo_show_text(cr, s);
    cx.cairo_restore(cr);
}

/* Open a surface for path; draw(cr) ; write it.  0 or -1 with err. */
static int render(const char *path, int w, int h, void (*draw)(cairo_t *, const void *, int, int),
                  const void *arg, char *err, size_t errlen)
{
    const char *ext = suffix(path), *why;
    cairo_surface_t *s;
    if ((why = vmlab_cairo_load())) {
        snprintf(err, errlen, "cannot draw images without cairo: %s", why);
        return -1;
    }
    if (!strcmp(ext, "png"))
        s = cx.cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    else if (!strcmp(ext, "svg"))
        s = cx.cairo_svg_surface_create(path, w, h);
    else if (!strcmp(ext, "pdf"))
        s = cx.cairo_pdf_surface_create(path, w, h);
    else {
        snprintf(err, errlen, "%s: the image format comes from the suffix: .png, .svg or .pdf", path);
        return -1;
    }
    cairo_t *cr = cx.cairo_create(s);
    draw(cr, arg, w, h);
    cx.cairo_destroy(cr);
    cairo_status_t st = cx.cairo_surface_status(s);
    if (st == CAIRO_STATUS_SUCCESS && !strcmp(ext, "png"))
        st = cx.cairo_surface_write_to_png(s, path);
    cx.cairo_surface_finish(s);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cx.cairo_surface_status(s);
    cx.cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS) {
        snprintf(err, errlen, "%s: %s", path, cx.cairo_status_to_string(st));
        return -1;
    }
    return 0;
}

static const double palette[][3] = {{0.12, 0.47, 0.71}, {0.85, 0.37, 0.01}, {0.17, 0.63, 0.17},
                                    {0.84, 0.15, 0.16}, {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29},
                                    {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50}, {0.74, 0.74, 0.13},
                                    {0.09, 0.75, 0.81}};

static void fmtnum(char *buf, size_t len, double v)
{
    double a = fabs(v);
    if (a >= 1e9) snprintf(buf, len, "%.3gG", v / 1e9);
    else if (a >= 1e6) snprintf(buf, len, "%.3gM", v / 1e6);
    else if (a >= 1e4) snprintf(buf, len, "%.3gk", v / 1e3);
    else snprintf(buf, len, "%.3g", v);
}

static void draw_lines(cairo_t *cr, const void *arg, int w, int h)
{
    const struct vmlab_lineplot *p = arg;
    const double ml = 80, mr = 170, mt = 36, mb = 50;
    double pw = w - ml - mr, ph = h - mt - mb;
    double x0 = INFINITY, x1 = -INFINITY, y0 = p->ymin, y1 = p->ymax;
    int autoy = p->ymin == p->ymax;
    char buf[64];

    if (autoy)
        y0 = 0, y1 = -INFINITY;
    for (size_t s = 0; s < p->nseries; s++)
        for (size_t i = 0; i < p->series[s].n; i++) {
            double x = p->series[s].x[i];
            if (p->logx && x <= 0)
                continue;
            x0 = fmin(x0, x), x1 = fmax(x1, x);
            if (autoy)
                y1 = fmax(y1, p->series[s].y[i]);
        }
    if (!(x1 >= x0))
        x0 = 0, x1 = 1;
    if (!(y1 > y0))
        y1 = y0 + 1;
    if (p->bars)
        x1 += 1;
    double lx0 = p->logx ? log10(fmax(x0, 1e-9)) : x0, lx1 = p->logx ? log10(x1) : x1;
    if (lx1 <= lx0)
        lx1 = lx0 + 1;
#define PX(x) (ml + pw * ((p->logx ? log10(x) : (x)) - lx0) / (lx1 - lx0))
#define PY(y) (mt + ph - ph * ((y) - y0) / (y1 - y0))
    cx.cairo_set_source_rgb(cr, 1, 1, 1);
    cx.cairo_paint(cr);
    cx.cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cx.cairo_set_font_size(cr, 11);
    cx.cairo_set_line_width(cr, 1);
    for (int i = 0; i <= 5; i++) { /* grid and ticks */
        double fy = i / 5.0, fx = i / 5.0;
        cx.cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cx.cairo_move_to(cr, ml, mt + ph - ph * fy);
        cx.cairo_line_to(cr, ml + pw, mt + ph - ph * fy);
        cx.cairo_stroke(cr);
        cx.cairo_set_source_rgb(cr, 0, 0, 0);
        fmtnum(buf, sizeof buf, y0 + (y1 - y0) * fy);
        text(cr, ml - 6, mt + ph - ph * fy + 4, buf, 1.0);
        double xv = p->logx ? pow(10, lx0 + (lx1 - lx0) * fx) : lx0 + (lx1 - lx0) * fx;
        fmtnum(buf, sizeof buf, xv);
        text(cr, ml + pw * fx, mt + ph + 16, buf, 0.5);
    }
    for (size_t s = 0; s < p->nseries; s++) {
        const struct vmlab_plot_series *se = &p->series[s];
        const double *c = palette[s % 10];
        cx.cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        if (p->bars && s == 0) {
            for (size_t i = 0; i < se->n; i++) {
                double xa = PX(se->x[i]), xb = PX(se->x[i] + 1);
                cx.cairo_rectangle(cr, xa + 1, PY(se->y[i]), fmax(xb - xa - 2, 1), PY(y0) - PY(se->y[i]));
                cx.cairo_fill(cr);
            }
        } else {
            cx.cairo_set_line_width(cr, 2);
            cx.cairo_new_path(cr);
            int started = 0;
            for (size_t i = 0; i < se->n; i++) {
                if (p->logx && se->x[i] <= 0)
                    continue;
                double y = fmin(fmax(se->y[i], y0), y1);
                if (!started)
                    cx.cairo_move_to(cr, PX(se->x[i]), PY(y)), started = 1;
                else
                    cx.cairo_line_to(cr, PX(se->x[i]), PY(y));
            }
            cx.cairo_stroke(cr);
        }
        if (se->label) { /* legend */
            cx.cairo_rectangle(cr, w - mr + 16, mt + 10 + 18 * (double)s, 14, 4);
            cx.cairo_fill(cr);
            cx.cairo_set_source_rgb(cr, 0, 0, 0);
            text(cr, w - mr + 36, mt + 16 + 18 * (double)s, se->label, 0);
        }
    }
    cx.cairo_set_source_rgb(cr, 0, 0, 0);
    cx.cairo_set_line_width(cr, 1);
    cx.cairo_rectangle(cr, ml, mt, pw, ph);
    cx.cairo_stroke(cr);
    text(cr, ml + pw / 2, h - 12, p->xlabel ? p->xlabel : "", 0.5);
    vtext(cr, 16, mt + ph / 2 + 40, p->ylabel ? p->ylabel : "");
    cx.cairo_set_font_size(cr, 13);
    text(cr, ml + pw / 2, 22, p->title ? p->title : "", 0.5);
#undef PX
#undef PY
}

int vmlab_plot_lines(const struct vmlab_lineplot *p, const char *path, int width, int height,
                     char *err, size_t errlen)
{
    return render(path, width, height, draw_lines, p, err, errlen);
}

static void draw_addr(cairo_t *cr, const void *arg, int w, int h)
{
    const struct vmlab_addrplot *p = arg;
    const double ml = 150, mr = 20, mt = 36, mb = 50;
    double pw = w - ml - mr, ph = h - mt - mb;
    double cw = pw / (double)p->cols, rh = ph / (double)p->rows;
    char buf[64];

    cx.cairo_set_source_rgb(cr, 1, 1, 1);
    cx.cairo_paint(cr);
    for (size_t b = 0; b < p->nbands; b++) { /* band backgrounds, alternating */
        const struct vmlab_plot_band *bd = &p->bands[b];
        double g = b % 2 ? 0.96 : 0.99;
        cx.cairo_set_source_rgb(cr, g, g, g);
        cx.cairo_rectangle(cr, ml, mt + ph - rh * (double)bd->row1, pw, rh * (double)(bd->row1 - bd->row0));
        cx.cairo_fill(cr);
    }
    /* reads blue, writes red, both purple; a cell at least a pixel */
    static const double col[4][3] = {{1, 1, 1}, {0.12, 0.35, 0.85}, {0.85, 0.12, 0.12}, {0.55, 0.1, 0.6}};
    for (int k = 1; k <= 3; k++) {
        cx.cairo_set_source_rgb(cr, col[k][0], col[k][1], col[k][2]);
        for (size_t r = 0; r < p->rows; r++)
            for (size_t c = 0; c < p->cols; c++)
                if (p->cells[r * p->cols + c] == k)
                    cx.cairo_rectangle(cr, ml + cw * (double)c, mt + ph - rh * (double)(r + 1), fmax(cw, 1),
                                       fmax(rh, 1));
        cx.cairo_fill(cr);
    }
    cx.cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cx.cairo_set_font_size(cr, 10);
    cx.cairo_set_line_width(cr, 1);
    for (size_t b = 0; b < p->nbands; b++) {
        const struct vmlab_plot_band *bd = &p->bands[b];
        double ytop = mt + ph - rh * (double)bd->row1, ybot = mt + ph - rh * (double)bd->row0;
        cx.cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
        cx.cairo_move_to(cr, ml - 4, ybot);
        cx.cairo_line_to(cr, ml + pw, ybot);
        cx.cairo_stroke(cr);
        cx.cairo_set_source_rgb(cr, 0, 0, 0);
        if (ybot - ytop >= 11) {
            snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)bd->a0);
            text(cr, ml - 6, ybot - 2, buf, 1.0);
        }
        if (ybot - ytop >= 24 && bd->name[0])
            text(cr, ml - 6, ybot - 13, bd->name, 1.0);
    }
    cx.cairo_set_source_rgb(cr, 0, 0, 0);
    cx.cairo_rectangle(cr, ml, mt, pw, ph);
    cx.cairo_stroke(cr);
    cx.cairo_set_font_size(cr, 11);
    for (int i = 0; i <= 4; i++) {
        fmtnum(buf, sizeof buf, p->t0 + (p->t1 - p->t0) * i / 4.0);
        text(cr, ml + pw * i / 4.0, mt + ph + 16, buf, 0.5);
    }
    text(cr, ml + pw / 2, h - 12, p->xlabel ? p->xlabel : "time", 0.5);
    cx.cairo_set_source_rgb(cr, col[3][0], col[3][1], col[3][2]);
    text(cr, w - mr - 120, 22, "both", 0);
    cx.cairo_set_source_rgb(cr, col[1][0], col[1][1], col[1][2]);
    text(cr, w - mr - 80, 22, "read", 0);
    cx.cairo_set_source_rgb(cr, col[2][0], col[2][1], col[2][2]);
    text(cr, w - mr - 40, 22, "write", 0);
    cx.cairo_set_source_rgb(cr, 0, 0, 0);
    cx.cairo_set_font_size(cr, 13);
    text(cr, ml + pw / 2, 22, p->title ? p->title : "", 0.5);
}

int vmlab_plot_address(const struct vmlab_addrplot *p, const char *path, int width, int height,
                       char *err, size_t errlen)
{
    if (!p->rows || !p->cols) {
        snprintf(err, errlen, "an empty trace: nothing to draw");
        return -1;
    }
    return render(path, width, height, draw_addr, p, err, errlen);
}
