/* cairo, loaded when the first image is drawn (runtime/cairo_dl.c): linking
 * it would load two dozen libraries (X11 and friends) into every vmlab
 * start-up, which then took twice as long as a bare Lua's.  The drawing
 * engines (heatmap_cairo.c, trace_plot.c) call cairo through vmlab_cx. */
#ifndef VMLAB_CAIRO_DL_H
#define VMLAB_CAIRO_DL_H
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#define VMLAB_CAIRO_FNS(X) \
    X(cairo_image_surface_create) X(cairo_svg_surface_create) X(cairo_pdf_surface_create) \
    X(cairo_create) X(cairo_destroy) X(cairo_surface_write_to_png) X(cairo_surface_finish) \
    X(cairo_surface_status) X(cairo_surface_destroy) X(cairo_status_to_string) \
    X(cairo_set_source_rgb) X(cairo_set_source_rgba) X(cairo_paint) X(cairo_rectangle) \
    X(cairo_fill) X(cairo_set_line_width) X(cairo_stroke) X(cairo_select_font_face) \
    X(cairo_set_font_size) X(cairo_move_to) X(cairo_line_to) X(cairo_save) X(cairo_restore) \
    X(cairo_rotate) X(cairo_show_text) X(cairo_text_extents) X(cairo_image_surface_get_data) \
    X(cairo_image_surface_get_stride) X(cairo_surface_flush) X(cairo_surface_mark_dirty) \
    X(cairo_set_source_surface) X(cairo_get_source) X(cairo_pattern_set_filter) X(cairo_scale) \
    X(cairo_arc) X(cairo_new_path) X(cairo_clip) X(cairo_translate)

struct vmlab_cairo {
#define X(f) __typeof__(f) *f;
    VMLAB_CAIRO_FNS(X)
#undef X
};
extern struct vmlab_cairo vmlab_cx;

/* Load libcairo.so.2 once: NULL, or why it cannot be had. */
const char *vmlab_cairo_load(void);
#endif
