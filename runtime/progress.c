/* Progress lines on stderr (include/vmlab/progress.h). */
#include "vmlab/progress.h"
#include "vmlab/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIRST_DRAW 0.3      /* s: short work shows nothing */
#define REDRAW 0.25         /* s between redraws */

void vmlab_progress_begin(struct vmlab_progress *p, const char *what, uint64_t total,
                          enum vmlab_progress_unit unit, uint64_t min)
{
    const char *env = getenv("VMLAB_PROGRESS");
    int always = env && !strcmp(env, "1");

    memset(p, 0, sizeof *p);
    snprintf(p->what, sizeof p->what, "%s", what ? what : "");
    p->total = total;
    p->unit = unit;
    if (always)
        min = 0;
    p->on = isatty(2) && total > 0 && total >= min && !(env && !strcmp(env, "0"));
    if (p->on) {
        p->start = vmlab_now();
        /* "1": any work, drawn from its first update (tests need no timing) */
        p->next = always ? p->start : p->start + FIRST_DRAW;
    }
}

static void amount(enum vmlab_progress_unit unit, double v, char *buf, size_t len)
{
    if (unit == VMLAB_PROGRESS_BYTES)
        vmlab_fmtsize((uint64_t)v, buf, len);
    else if (unit == VMLAB_PROGRESS_SECONDS)
        snprintf(buf, len, "%.1f s", v / 1e6);
    else
        snprintf(buf, len, "%.0f", v);
}

int vmlab_progress_format(const struct vmlab_progress *p, double now, char *buf, size_t len)
{
    double el = now - p->start, rate = el > 0 ? (double)p->done / el : 0;
    char done[32], total[32], r[40], left[32];

    amount(p->unit, (double)p->done, done, sizeof done);
    amount(p->unit, (double)p->total, total, sizeof total);
    if (p->unit == VMLAB_PROGRESS_BYTES) {
        amount(p->unit, rate, r, sizeof r - 2);
        strcat(r, "/s");
    } else if (p->unit == VMLAB_PROGRESS_SECONDS) {
        snprintf(r, sizeof r, "%.2fx real time", rate / 1e6);
    } else {
        snprintf(r, sizeof r, "%.0f/s", rate);
    }
    if (rate > 0 && p->total > p->done)
        snprintf(left, sizeof left, "%.1f s left", (double)(p->total - p->done) / rate);
    else if (p->total <= p->done)
        snprintf(left, sizeof left, "0.0 s left");
    else
        snprintf(left, sizeof left, "-- left");
    return snprintf(buf, len, "%s: %s of %s (%.0f%%), %s, %s", p->what, done, total,
                    p->total ? 100.0 * (double)p->done / (double)p->total : 0.0, r, left);
}

void vmlab_progress_update(struct vmlab_progress *p, uint64_t done)
{
    char line[256];
    double now;

    p->done = done;
    if (!p->on)
        return;
    now = vmlab_now();
    if (now < p->next)
        return;
    p->next = now + REDRAW;
    vmlab_progress_format(p, now, line, sizeof line);
    /* \r and erase-to-end: one line, redrawn in place */
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->drawn = 1;
}

void vmlab_progress_end(struct vmlab_progress *p)
{
    if (p->on && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->on = 0;
}
