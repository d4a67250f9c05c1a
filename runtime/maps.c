/* /proc/self/maps, parsed in one place for the segments (seg.maps(), the
 * sharing of a wrapped mapping) and the schemes' anon/file filters. */
#include "vmlab/maps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vmlab_maps_each(int (*fn)(void *ctx, const struct vmlab_mapping *m), void *ctx)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char *line = NULL;
    size_t cap = 0;
    int r = 0;

    if (!f)
        return -errno;
    while (!r && getline(&line, &cap, f) > 0) {
        struct vmlab_mapping m;
        int name = 0;
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %*s %" SCNu64 " %n", &m.start, &m.end,
                   m.perms, &m.offset, &m.inode, &name) < 5)
            continue;
        m.path = name ? line + name : "";
        for (char *e = line + name; name && *e; e++)
            if (*e == '\n')
                *e = '\0';
        r = fn(ctx, &m);
    }
    free(line);
    fclose(f);
    return r;
}

struct maps_copy {
    struct vmlab_mapping *v;
    size_t n, cap;
};

static int copy_mapping(void *ctx, const struct vmlab_mapping *m)
{
    struct maps_copy *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 128;
        void *v = realloc(c->v, cap * sizeof *c->v);
        if (!v)
            return -ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n] = *m;
    if (!(c->v[c->n].path = strdup(m->path)))
        return -ENOMEM;
    c->n++;
    return 0;
}

int vmlab_maps_read(struct vmlab_mapping **out, size_t *n)
{
    struct maps_copy c = {0};
    int r = vmlab_maps_each(copy_mapping, &c);

    if (r < 0) {
        vmlab_maps_free(c.v, c.n);
        return r;
    }
    *out = c.v;
    *n = c.n;
    return 0;
}

void vmlab_maps_free(struct vmlab_mapping *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)v[i].path);
    free(v);
}

struct cover {
    uint64_t next, end;   /* the first byte not yet seen mapped */
};

static int covering(void *ctx, const struct vmlab_mapping *m)
{
    struct cover *c = ctx;
    if (m->end <= c->next)
        return 0;
    if (m->start > c->next)
        return 1;                    /* a hole */
    c->next = m->end;
    return c->next >= c->end;
}

int vmlab_maps_covered(uint64_t start, uint64_t end)
{
    struct cover c = {start, end};
    if (end <= start)
        return 0;
    vmlab_maps_each(covering, &c);
    return c.next >= end;
}
