/* Segments: define, map, unmap and remove named mappings, and the registry
 * that lets scenarios (and memtoy commands) find them by name. */
#include "seg_priv.h"
#include "vmlab/maps.h"
#include "vmlab/units.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

static struct vmlab_seg *segs;

static const struct vmlab_seg_opts no_opts;

struct vmlab_seg *vmlab_seg_find(const char *name)
{
    for (struct vmlab_seg *s = segs; s; s = s->next)
        if (!strcmp(s->name, name))
            return s;
    return NULL;
}

struct vmlab_seg *vmlab_seg_first(void) { return segs; }

const char *vmlab_seg_kind_name(enum vmlab_seg_kind k)
{
    static const char *const names[] = {"anon", "file", "shmem", "memfd", "wrap"};
    return names[k];
}

/* The default huge page size, from /proc/meminfo (2 MiB if unknown). */
static size_t huge_pagesize(void)
{
    static size_t hps;
    if (!hps) {
        char line[256];
        FILE *f = fopen("/proc/meminfo", "r");
        hps = 2UL << 20;
        while (f && fgets(line, sizeof line, f)) {
            unsigned long kb;
            if (sscanf(line, "Hugepagesize: %lu kB", &kb) == 1)
                hps = kb << 10;
        }
        if (f)
            fclose(f);
    }
    return hps;
}

static int new_seg(const char *name, enum vmlab_seg_kind kind, size_t size,
                   const struct vmlab_seg_opts *o, struct vmlab_seg **out)
{
    struct vmlab_seg *s;

    if (!name || !*name || strlen(name) >= VMLAB_SEG_NAME_MAX)
        return -EINVAL;
    if (vmlab_seg_find(name))
        return -EEXIST;
    s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    strcpy(s->name, name);
    s->kind = kind;
    s->size = size;
    s->shared = o->shared;
    s->huge = o->huge;
    s->addr = o->hint;
    s->align = o->align;
    s->offset = o->offset;
    s->prot = PROT_READ | PROT_WRITE;
    s->pagesize = vmlab_pagesize();
    s->fd = -1;
    s->shmid = -1;
    *out = s;
    return 0;
}

static void link_seg(struct vmlab_seg *s)
{
    struct vmlab_seg **p = &segs;
    while (*p)
        p = &(*p)->next;
    *p = s;
}

/* Map it now if asked; on failure the segment is not kept. */
static int finish(struct vmlab_seg *s, const struct vmlab_seg_opts *o, struct vmlab_seg **out)
{
    int r = 0;

    link_seg(s);
    if (o->map)
        r = vmlab_seg_map(s);
    if (r < 0) {
        vmlab_seg_remove(s);
        return r;
    }
    *out = s;
    return 0;
}

int vmlab_seg_anon(const char *name, size_t size, const struct vmlab_seg_opts *o,
                   struct vmlab_seg **out)
{
    struct vmlab_seg *s;
    int r;

    o = o ? o : &no_opts;
    if (size == 0 || (o->align & (o->align - 1)) || (o->align && o->hint))
        return -EINVAL;
    if ((r = new_seg(name, VMLAB_SEG_ANON, size, o, &s)) < 0)
        return r;
    return finish(s, o, out);
}

int vmlab_seg_file(const char *name, const char *path, const struct vmlab_seg_opts *o,
                   struct vmlab_seg **out)
{
    struct vmlab_seg *s;
    struct stat st;
    int fd, r, flags;

    o = o ? o : &no_opts;
    if (!path || strlen(path) >= sizeof s->path)
        return -ENAMETOOLONG;
    if (o->offset % (off_t)vmlab_pagesize())
        return -EINVAL;
    flags = o->readonly ? O_RDONLY : O_RDWR;
    if (o->create)
        flags |= O_CREAT;
    fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 ||
        (o->create && (uint64_t)st.st_size < o->create && ftruncate(fd, (off_t)o->create) < 0) ||
        fstat(fd, &st) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    if (o->offset >= st.st_size && !o->length) {
        close(fd);
        return -ENXIO;                 /* nothing to map past the end */
    }
    {
        uint64_t len = o->length ? o->length : (uint64_t)(st.st_size - o->offset);
        if ((r = new_seg(name, VMLAB_SEG_FILE, len, o, &s)) < 0) {
            close(fd);
            return r;
        }
    }
    if (o->readonly)
        s->prot = PROT_READ;
    s->fd = fd;
    strcpy(s->path, path);
    return finish(s, o, out);
}

int vmlab_seg_shmem(const char *name, size_t size, const struct vmlab_seg_opts *o,
                    struct vmlab_seg **out)
{
    struct vmlab_seg *s;
    int r, id;

    o = o ? o : &no_opts;
    if (size == 0)
        return -EINVAL;
    id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600 | (o->huge ? SHM_HUGETLB : 0));
    if (id < 0)
        return -errno;
    if ((r = new_seg(name, VMLAB_SEG_SHMEM, size, o, &s)) < 0) {
        shmctl(id, IPC_RMID, NULL);
        return r;
    }
    s->shmid = id;
    s->shared = 1;
    if (o->huge)
        s->pagesize = huge_pagesize();
    return finish(s, o, out);
}

int vmlab_seg_memfd(const char *name, size_t size, const struct vmlab_seg_opts *o,
                    struct vmlab_seg **out)
{
    struct vmlab_seg *s;
    int r, fd;

    o = o ? o : &no_opts;
    if (size == 0)
        return -EINVAL;
    fd = memfd_create(name, MFD_CLOEXEC | (o->huge ? MFD_HUGETLB : 0));
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)size) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    if ((r = new_seg(name, VMLAB_SEG_MEMFD, size, o, &s)) < 0) {
        close(fd);
        return r;
    }
    s->fd = fd;
    if (o->huge)
        s->pagesize = huge_pagesize();
    return finish(s, o, out);
}

int vmlab_seg_wrap(const char *name, void *addr, size_t size, int prot,
                   struct vmlab_seg **out)
{
    struct vmlab_seg *s;
    int r, mprot, shared;

    if (!addr || !size || (uintptr_t)addr + size < (uintptr_t)addr)
        return -EINVAL;                /* empty, or wraps past the top */
    if (!vmlab_maps_covered((uintptr_t)addr, (uintptr_t)addr + size))
        return -EFAULT;                /* not all of it is mapped */
    if ((r = new_seg(name, VMLAB_SEG_WRAP, size, &no_opts, &s)) < 0)
        return r;
    s->addr = addr;
    s->prot = prot;
    s->mapped = 1;
    /* shared as the kernel says: a pool's file mapping is, an arena not */
    if (vmlab_mapping_at(addr, &mprot, &shared) < 0)
        shared = 0;
    s->shared = shared;
    link_seg(s);
    *out = s;
    return 0;
}

/* An address aligned to align with size bytes free after it: reserve
 * size + align, keep the aligned part reserved (the caller maps over it
 * with MAP_FIXED), give the rest back.  NULL with errno on failure. */
static void *aligned_spot(size_t size, uint64_t align)
{
    size_t span = size + align;
    char *r, *a;

    if (span < size)
        return errno = ENOMEM, NULL;
    r = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return NULL;
    a = (char *)(((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1));
    if (a > r)
        munmap(r, (size_t)(a - r));
    if (r + span > a + size)
        munmap(a + size, (size_t)(r + span - (a + size)));
    return a;
}

int vmlab_seg_map(struct vmlab_seg *s)
{
    void *p;
    int flags;

    if (s->mapped)
        return -EBUSY;
    if (s->kind == VMLAB_SEG_WRAP)
        return -EINVAL;
    if (s->kind == VMLAB_SEG_SHMEM) {
        p = shmat(s->shmid, s->addr, 0);
        if (p == (void *)-1)
            return -errno;
    } else {
        flags = s->shared ? MAP_SHARED : MAP_PRIVATE;
        if (s->kind == VMLAB_SEG_ANON)
            flags |= MAP_ANONYMOUS;
        if (s->kind == VMLAB_SEG_ANON && s->align > vmlab_pagesize()) {
            void *at = aligned_spot(s->size, s->align);
            if (!at)
                return -errno;
            s->addr = at;
            flags |= MAP_FIXED;
        }
        p = mmap(s->addr, s->size, s->prot, flags, s->fd, s->kind == VMLAB_SEG_FILE ? s->offset : 0);
        if (p == MAP_FAILED)
            return -errno;
        if (s->huge && s->kind == VMLAB_SEG_ANON)
            madvise(p, s->size, MADV_HUGEPAGE);   /* best effort, as memtoy */
    }
    s->addr = p;
    s->mapped = 1;
    s->gen++;
    return 0;
}

int vmlab_seg_unmap(struct vmlab_seg *s)
{
    uintptr_t a = (uintptr_t)s->addr;
    int r = 0;

    if (!s->mapped)
        return -EINVAL;
    /* listeners let go of the pages first (a monitor restores what it armed) */
    if ((r = vmlab_seg_notify_before(s, VMLAB_SEG_UNMAP, a, a + s->size, PROT_NONE)) < 0)
        return r;
    if (s->kind != VMLAB_SEG_WRAP &&
        (s->kind == VMLAB_SEG_SHMEM ? shmdt(s->addr) : munmap(s->addr, s->size)))
        r = -errno;
    if (!r)
        s->mapped = 0;
    vmlab_seg_notify_after(s, VMLAB_SEG_UNMAP, a, a + s->size, PROT_NONE, r);
    return r;
}

void vmlab_seg_remove(struct vmlab_seg *s)
{
    struct vmlab_seg **p = &segs;

    if (s->mapped)
        vmlab_seg_unmap(s);
    if (s->fd >= 0)
        close(s->fd);
    if (s->shmid >= 0)
        shmctl(s->shmid, IPC_RMID, NULL);
    while (*p && *p != s)
        p = &(*p)->next;
    if (*p)
        *p = s->next;
    free(s);
}

int vmlab_seg_range(const struct vmlab_seg *s, uint64_t off, uint64_t *len)
{
    if (!s->mapped || off % vmlab_pagesize())
        return -EINVAL;
    if (off > s->size || (*len && *len > s->size - off))
        return -ERANGE;
    if (*len == 0)
        *len = s->size - off;
    return 0;
}
