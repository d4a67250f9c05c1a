/* A progress line on stderr for long work: what, how far, the rate and
 * the time left, redrawn a few times a second.  Nothing at all unless
 * stderr is a terminal (TAP and logs stay clean) and the work is big
 * enough to be worth it.  Plain C; any engine's loop can use it:
 *
 *     struct vmlab_progress p;
 *     vmlab_progress_begin(&p, "touch buf", len, VMLAB_PROGRESS_BYTES, 1ULL << 30);
 *     for (...) { ...; if (i % 1024 == 0) vmlab_progress_update(&p, done); }
 *     vmlab_progress_end(&p);
 */
#ifndef VMLAB_PROGRESS_H
#define VMLAB_PROGRESS_H
#include <stddef.h>
#include <stdint.h>

/* SECONDS counts microseconds (a run of known length), shown as seconds. */
enum vmlab_progress_unit { VMLAB_PROGRESS_BYTES, VMLAB_PROGRESS_COUNT, VMLAB_PROGRESS_SECONDS };

struct vmlab_progress {
    char what[64];
    uint64_t total, done;
    enum vmlab_progress_unit unit;
    double start, next;    /* when it began; when to redraw next */
    int on, drawn;
};

/* Shows nothing unless stderr is a terminal and total >= min (and
 * VMLAB_PROGRESS is not "0"; "1" lowers min to 0 and draws from the first
 * update, not 0.3 s in). */
void vmlab_progress_begin(struct vmlab_progress *p, const char *what, uint64_t total,
                          enum vmlab_progress_unit unit, uint64_t min);
/* Cheap when nothing is due: one clock read at most. */
void vmlab_progress_update(struct vmlab_progress *p, uint64_t done);
/* Clears the line if one was drawn. */
void vmlab_progress_end(struct vmlab_progress *p);
/* The line as it would be drawn (for tests): "touch buf: 512 MiB of
 * 1 GiB (50%), 1.2 GiB/s, 0.4 s left". */
int vmlab_progress_format(const struct vmlab_progress *p, double now, char *buf, size_t len);
#endif
