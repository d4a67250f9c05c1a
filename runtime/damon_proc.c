/* Process targets: the regions follow /proc/PID/maps as DAMON vaddr's do
 * (three regions around the two largest gaps), over the memory the uffd
 * backend can watch: private anonymous writable mappings. */
#include "vmlab/uffd.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether a maps line names memory UFFDIO_MOVE and WP_ASYNC work on. */
static int watchable(const char *perms, const char *path)
{
    if (strncmp(perms, "rw", 2) || perms[3] != 'p')
        return 0;
    return !*path || !strcmp(path, "[heap]") || !strcmp(path, "[stack]") || !strncmp(path, "[anon:", 6);
}

static int push(struct vmlab_range **v, size_t *n, size_t *cap, uint64_t s, uint64_t e)
{
    if (*n && (*v)[*n - 1].end == s) {   /* adjacent: one range */
        (*v)[*n - 1].end = e;
        return 0;
    }
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        struct vmlab_range *nv = realloc(*v, c * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = (struct vmlab_range){s, e};
    return 0;
}

/* Add [s, e) minus the skipped ranges. */
static int push_minus(struct vmlab_range **v, size_t *n, size_t *cap, uint64_t s, uint64_t e,
                      const struct vmlab_range *skip, size_t nskip)
{
    for (size_t k = 0; k < nskip && s < e; k++) {
        if (skip[k].end <= s || skip[k].start >= e)
            continue;
        if (skip[k].start > s) {
            int r = push_minus(v, n, cap, s, skip[k].start, skip, nskip);
            if (r < 0)
                return r;
        }
        s = skip[k].end;
        k = (size_t)-1;   /* the rest again, against every skip */
    }
    return s < e ? push(v, n, cap, s, e) : 0;
}

int vmlab_proc_ranges(pid_t pid, const struct vmlab_range *skip, size_t nskip,
                      struct vmlab_range **out, size_t *n, uint64_t *unmon,
                      struct vmlab_range **vmas, size_t *nvmas)
{
    uint64_t watched = 0;
    char path[64], line[PATH_MAX + 256];
    struct vmlab_range *v = NULL, *all = NULL, three[3];
    size_t nv = 0, cv = 0, na = 0, ca = 0;
    FILE *f;
    int e = 0;

    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    if (!(f = fopen(path, "re")))
        return -errno;
    while (fgets(line, sizeof line, f)) {
        uint64_t s, en;
        char perms[5] = "", name[PATH_MAX + 256] = "";
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %*s %*s %*s %4351[^\n]", &s, &en, perms, name) < 3)
            continue;
        {
            char *p = name;   /* the name column starts after spaces */
            while (*p == ' ')
                p++;
            memmove(name, p, strlen(p) + 1);
        }
        if (!strcmp(name, "[vsyscall]"))
            continue;
        if ((e = push(&all, &na, &ca, s, en)) < 0)
            break;
        if (watchable(perms, name) && (e = push_minus(&v, &nv, &cv, s, en, skip, nskip)) < 0)
            break;
    }
    fclose(f);
    if (e < 0 || nv == 0) {
        free(v);
        free(all);
        return e < 0 ? e : -ENOENT;
    }
    for (size_t i = 0; i < nv; i++)
        watched += v[i].end - v[i].start;
    if (vmlab_damon_three_regions(v, nv, three) == 0) {
        if (vmas) {
            *vmas = v;
            *nvmas = nv;
        } else {
            free(v);
        }
        if (!(v = malloc(3 * sizeof *v))) {
            free(all);
            return -ENOMEM;
        }
        memcpy(v, three, sizeof three);
        nv = 3;
        /* the agent's own memory (its 8 GiB holding area) is no region */
        {
            struct vmlab_range *cut = NULL;
            size_t nc = 0, cc = 0;
            for (size_t i = 0; i < nv && e == 0; i++)
                e = push_minus(&cut, &nc, &cc, v[i].start, v[i].end, skip, nskip);
            free(v);
            v = cut;
            nv = nc;
            if (e < 0) {
                free(v);
                free(all);
                return e;
            }
        }
    } else if (vmas) {
        if (!(*vmas = malloc(nv * sizeof **vmas))) {
            free(v);
            free(all);
            return -ENOMEM;
        }
        memcpy(*vmas, v, nv * sizeof *v);
        *nvmas = nv;
    }
    if (unmon) {
        /* mapped bytes inside the regions that are not watchable */
        uint64_t mapped = 0;
        for (size_t i = 0; i < nv; i++)
            for (size_t k = 0; k < na; k++) {
                uint64_t lo = all[k].start > v[i].start ? all[k].start : v[i].start;
                uint64_t hi = all[k].end < v[i].end ? all[k].end : v[i].end;
                if (hi > lo)
                    mapped += hi - lo;
            }
        *unmon = mapped > watched ? mapped - watched : 0;
    }
    free(all);
    *out = v;
    *n = nv;
    return 0;
}
