/* Segment controls that change state: mlock, SHM_LOCK, mprotect, madvise. */
#include "seg_priv.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

static int range_of(struct vmlab_seg *s, uint64_t off, uint64_t *len, char **addr)
{
    int r;
    if ((r = vmlab_seg_range(s, off, len)) < 0)
        return r;
    *addr = (char *)s->addr + off;
    return 0;
}

int vmlab_seg_lock(struct vmlab_seg *s, uint64_t off, uint64_t len, int onfault)
{
    char *a;
    int r = range_of(s, off, &len, &a);
    if (r < 0)
        return r;
    if (onfault)
        r = (int)syscall(SYS_mlock2, a, (size_t)len, MLOCK_ONFAULT);
    else
        r = mlock(a, len);
    return r < 0 ? -errno : 0;
}

int vmlab_seg_unlock(struct vmlab_seg *s, uint64_t off, uint64_t len)
{
    char *a;
    int r = range_of(s, off, &len, &a);
    if (r < 0)
        return r;
    return munlock(a, len) < 0 ? -errno : 0;
}

int vmlab_seg_slock(struct vmlab_seg *s, int lock)
{
    if (s->kind != VMLAB_SEG_SHMEM)
        return -EINVAL;
    return shmctl(s->shmid, lock ? SHM_LOCK : SHM_UNLOCK, NULL) < 0 ? -errno : 0;
}

int vmlab_seg_protect(struct vmlab_seg *s, uint64_t off, uint64_t len, int prot)
{
    char *a;
    int r = range_of(s, off, &len, &a);
    if (r < 0)
        return r;
    /* listeners (a prot monitor) learn the new protection under their
     * lock, so none restores a stale one */
    if ((r = vmlab_seg_notify_before(s, VMLAB_SEG_PROTECT, (uintptr_t)a, (uintptr_t)a + len, prot)) < 0)
        return r;
    r = mprotect(a, len, prot) < 0 ? -errno : 0;
    if (!r && off == 0 && len == s->size)
        s->prot = prot;
    vmlab_seg_notify_after(s, VMLAB_SEG_PROTECT, (uintptr_t)a, (uintptr_t)a + len, prot, r);
    return r;
}

/* Every advice of today's kernels, by the name after MADV_.  Values are
 * the kernel's (uapi/asm-generic/mman-common.h), so advice newer than the
 * C library's headers still works; the kernel says EINVAL if it lacks one. */
static const struct { const char *name; int value; } advices[] = {
    {"normal", 0},        {"random", 1},          {"sequential", 2},
    {"willneed", 3},      {"dontneed", 4},        {"free", 8},
    {"remove", 9},        {"dontfork", 10},       {"dofork", 11},
    {"mergeable", 12},    {"unmergeable", 13},    {"hugepage", 14},
    {"nohugepage", 15},   {"dontdump", 16},       {"dodump", 17},
    {"wipeonfork", 18},   {"keeponfork", 19},     {"cold", 20},
    {"pageout", 21},      {"populate_read", 22},  {"populate_write", 23},
    {"dontneed_locked", 24}, {"collapse", 25},    {"guard_install", 102},
    {"guard_remove", 103}, {"hwpoison", 100},     {"soft_offline", 101},
    {NULL, 0}};

int vmlab_madvise_value(const char *name)
{
    for (int i = 0; advices[i].name; i++)
        if (!strcmp(advices[i].name, name))
            return advices[i].value;
    return -ENOENT;
}

const char *const *vmlab_madvise_names(void)
{
    static const char *names[sizeof advices / sizeof advices[0]];
    if (!names[0])
        for (int i = 0; advices[i].name; i++)
            names[i] = advices[i].name;
    return names;
}

int vmlab_seg_advise(struct vmlab_seg *s, uint64_t off, uint64_t len, int advice)
{
    char *a;
    int r = range_of(s, off, &len, &a);
    if (r < 0)
        return r;
    return madvise(a, len, advice) < 0 ? -errno : 0;
}
