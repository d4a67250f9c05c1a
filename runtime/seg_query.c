/* Questions about a segment's pages that change nothing: residency
 * (mincore), the page table entries (pagemap), and the node of each page
 * (a move_pages query, which does not fault pages in). */
#include "vmlab/maps.h"
#include "vmlab/seg.h"
#include "vmlab/units.h"

#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int pages_of(struct vmlab_seg *s, uint64_t off, uint64_t *len, char **addr, uint64_t *n)
{
    size_t ps = vmlab_pagesize();
    int r;

    if ((r = vmlab_seg_range(s, off, len)) < 0)
        return r;
    *addr = (char *)s->addr + off;
    *n = (*len + ps - 1) / ps;
    return 0;
}

int64_t vmlab_seg_resident(struct vmlab_seg *s, uint64_t off, uint64_t len, unsigned char *vec)
{
    unsigned char *v = vec;
    uint64_t n, count = 0;
    char *a;
    int r = pages_of(s, off, &len, &a, &n);

    if (r < 0)
        return r;
    if (!v && !(v = malloc(n ? n : 1)))
        return -ENOMEM;
    if (mincore(a, len, v) < 0) {
        r = -errno;
        if (v != vec)
            free(v);
        return r;
    }
    for (uint64_t i = 0; i < n; i++)
        count += v[i] & 1;
    if (v != vec)
        free(v);
    return (int64_t)count;
}

#define PM_PFN_MASK ((1ULL << 55) - 1)
#define PM_SOFT_DIRTY (1ULL << 55)
#define PM_EXCLUSIVE (1ULL << 56)
#define PM_FILE (1ULL << 61)
#define PM_SWAP (1ULL << 62)
#define PM_PRESENT (1ULL << 63)
#define KPF_THP 22

int vmlab_seg_pages(struct vmlab_seg *s, uint64_t off, uint64_t len, struct vmlab_page_info *out)
{
    uint64_t n, *ent;
    char *a;
    int fd, kfd, r = pages_of(s, off, &len, &a, &n);
    size_t ps = vmlab_pagesize();

    if (r < 0)
        return r;
    if ((fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    ent = malloc(n * sizeof *ent + 1);
    if (!ent) {
        close(fd);
        return -ENOMEM;
    }
    if (pread(fd, ent, n * sizeof *ent, (off_t)((uintptr_t)a / ps * sizeof *ent)) !=
        (ssize_t)(n * sizeof *ent)) {
        r = errno ? -errno : -EIO;
        free(ent);
        close(fd);
        return r;
    }
    close(fd);
    /* kpageflags needs CAP_SYS_ADMIN; without it THP stays unknown (0). */
    kfd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = ent[i], flags = 0;
        struct vmlab_page_info *p = &out[i];
        p->present = !!(e & PM_PRESENT);
        p->swapped = !!(e & PM_SWAP);
        p->exclusive = !!(e & PM_EXCLUSIVE);
        p->soft_dirty = !!(e & PM_SOFT_DIRTY);
        p->file = !!(e & PM_FILE);
        p->pfn = p->present ? (e & PM_PFN_MASK) : 0;
        p->thp = 0;
        if (kfd >= 0 && p->pfn &&
            pread(kfd, &flags, sizeof flags, (off_t)(p->pfn * sizeof flags)) == sizeof flags)
            p->thp = !!(flags & (1ULL << KPF_THP));
    }
    if (kfd >= 0)
        close(kfd);
    free(ent);
    return 0;
}

/* Queried in chunks: small reused arrays instead of two page-table-sized
 * ones, which would cost more in page faults than the query itself. */
#define WHERE_CHUNK 8192

int vmlab_seg_where_each(struct vmlab_seg *s, uint64_t off, uint64_t len,
                         void (*fn)(void *ctx, uint64_t first, const int *nodes, uint64_t n),
                         void *ctx)
{
    size_t ps = vmlab_pagesize();
    uint64_t n;
    void *pages[WHERE_CHUNK];
    int status[WHERE_CHUNK];
    char *a;
    int r = pages_of(s, off, &len, &a, &n);

    if (r < 0)
        return r;
    for (uint64_t done = 0; done < n;) {
        uint64_t k = n - done < WHERE_CHUNK ? n - done : WHERE_CHUNK;
        for (uint64_t i = 0; i < k; i++)
            pages[i] = a + (done + i) * ps;
        /* nodes == NULL: a query; status gets the node or -errno per page. */
        if (move_pages(0, k, pages, NULL, status, 0) < 0)
            return -errno;
        fn(ctx, done, status, k);
        done += k;
    }
    return 0;
}

static void copy_nodes(void *ctx, uint64_t first, const int *nodes, uint64_t n)
{
    memcpy((int *)ctx + first, nodes, n * sizeof *nodes);
}

int vmlab_seg_where(struct vmlab_seg *s, uint64_t off, uint64_t len, int *nodes)
{
    return vmlab_seg_where_each(s, off, len, copy_nodes, nodes);
}

struct at {
    uintptr_t addr;
    int prot, shared;
};

static int holding(void *ctx, const struct vmlab_mapping *m)
{
    struct at *a = ctx;
    if (a->addr < m->start || a->addr >= m->end)
        return 0;
    char rwx[4] = {m->perms[0], m->perms[1], m->perms[2], '\0'};
    if (vmlab_parse_prot(rwx, &a->prot) < 0)
        a->prot = PROT_NONE;
    a->shared = m->perms[3] == 's';
    return 1;
}

int vmlab_mapping_at(const void *addr, int *prot, int *shared)
{
    struct at a = {(uintptr_t)addr, 0, 0};
    if (vmlab_maps_each(holding, &a) != 1)
        return -1;
    *prot = a.prot;
    *shared = a.shared;
    return 0;
}

int vmlab_prot_at(const void *addr)
{
    int prot, shared;
    return vmlab_mapping_at(addr, &prot, &shared) < 0 ? -1 : prot;
}
