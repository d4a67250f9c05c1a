/* Whose memory is this: the user's (what a scenario may protect, sample
 * or scribble on) or the runtime's.  Making a runtime page PROT_NONE, or
 * writing a pattern over it, faults inside the sampler, malloc or Lua and
 * kills the process.  The user's memory is what vmlab maps for scenarios:
 * segments (seg.anon, seg.file ...) and shared mappings wrapped with
 * seg.wrap (a pool).  The heap, stacks, the binary, libraries and private
 * anonymous memory (malloc arenas, Lua's) are the runtime's. */
#include "vmlab/maps.h"
#include "vmlab/seg.h"
#include "vmlab/units.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct walk {
    uint64_t next, end;      /* the first byte not yet checked */
    int err;
    char *why;
    size_t len;
};

/* The segment holding addr, preferring one vmlab maps itself to a wrap. */
static const struct vmlab_seg *seg_at(uint64_t addr, uint64_t *seg_end)
{
    const struct vmlab_seg *best = NULL;
    for (const struct vmlab_seg *s = vmlab_seg_first(); s; s = s->next) {
        uint64_t a = (uint64_t)(uintptr_t)s->addr;
        if (!s->mapped || addr < a || addr - a >= s->size)
            continue;
        if (!best || (best->kind == VMLAB_SEG_WRAP && s->kind != VMLAB_SEG_WRAP))
            best = s;
    }
    if (best)
        *seg_end = (uint64_t)(uintptr_t)best->addr + best->size;
    return best;
}

static int refuse(struct walk *w, int err, const char *fmt, uint64_t a, uint64_t b, const char *what)
{
    if (w->why && w->len)
        snprintf(w->why, w->len, fmt, a, b, what);
    w->err = err;
    return 1;
}

static int check_mapping(void *ctx, const struct vmlab_mapping *m)
{
    struct walk *w = ctx;
    const char *name = *m->path ? m->path : "anonymous";

    if (m->end <= w->next)
        return 0;
    if (m->start > w->next)
        return refuse(w, EFAULT, "0x%" PRIx64 "-0x%" PRIx64 " is not mapped%s", w->next,
                      m->start < w->end ? m->start : w->end, "");
    if (m->path[0] == '[')           /* [heap] [stack] [vdso] [vvar] [anon:...] */
        return refuse(w, EPERM, "0x%" PRIx64 "-0x%" PRIx64 " is the runtime's own memory (%s)",
                      m->start, m->end, name);
    while (w->next < m->end && w->next < w->end) {
        uint64_t seg_end;
        const struct vmlab_seg *s = seg_at(w->next, &seg_end);
        if (!s)
            return refuse(w, EPERM,
                          "0x%" PRIx64 "-0x%" PRIx64 " is the runtime's own memory (%s, in no "
                          "segment): sample segments (seg.anon, seg.file ...)",
                          w->next, m->end < w->end ? m->end : w->end, name);
        if (s->kind == VMLAB_SEG_WRAP && m->perms[3] != 's')
            return refuse(w, EPERM,
                          "0x%" PRIx64 "-0x%" PRIx64 " is the runtime's own memory (%s, a private "
                          "mapping only wrapped by seg.wrap)",
                          m->start, m->end, name);
        w->next = seg_end < m->end ? seg_end : m->end;
    }
    return w->next >= w->end;
}

int vmlab_seg_check_user_range(uint64_t start, uint64_t end, char *why, size_t len)
{
    struct walk w = {start, end, 0, why, len};
    int r;

    if (why && len)
        why[0] = '\0';
    if (end <= start || start % vmlab_pagesize()) {
        if (why && len)
            snprintf(why, len, "[0x%" PRIx64 ", 0x%" PRIx64 ") is empty or not page aligned", start, end);
        return -EINVAL;
    }
    if ((r = vmlab_maps_each(check_mapping, &w)) < 0) {
        if (why && len)
            snprintf(why, len, "cannot read /proc/self/maps: %s", strerror(-r));
        return r;
    }
    if (!w.err && w.next < end)      /* ran off the last mapping */
        refuse(&w, EFAULT, "0x%" PRIx64 "-0x%" PRIx64 " is not mapped%s", w.next, end, "");
    return -w.err;
}

