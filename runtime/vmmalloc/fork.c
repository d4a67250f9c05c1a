/* libvmmalloc.so at fork (VMMALLOC_FORK): parent and child must not share
 * the heap, and a child that allocates before exec must find the pool's
 * state consistent.  jemalloc's own fork handlers hold and restore its
 * locks; ours are registered before jemalloc starts, so our prepare runs
 * after jemalloc's (the pool's metadata is quiet) and our parent and child
 * handlers run before it lets go.  We hold the bump lock across fork.
 *   0  nothing: parent and child share the pool (only safe with exec)
 *   1  copy-on-write: the pool is remapped MAP_PRIVATE (same file, same
 *      contents, no copy) once, at the first fork; from then on the kernel
 *      copies a page when parent or child first writes it
 *   2  the child gets its own pool file: a reflink (FICLONE) where the
 *      filesystem has one, else copy_file_range of the part in use
 *   3  2, or 1 when the copy cannot be made */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmlab/pool.h"
#include "internal.h"

static int mode;
static const char *dir;
static int is_private;           /* mode 1 happened: fork is plain COW now */
static int copy_fd = -1;         /* mode 2: the child's file, during fork */

/* The part ever used into a new file; its descriptor or -1.  Up to the
 * reservation step past it, so that the child's file holds every page the
 * pool's reservation promised. */
static int copy_pool(void)
{
    char *base = vmlab_pool_space_base(pool);
    size_t size = vmlab_pool_space_size(pool), step = VMLAB_POOL_RESERVE_STEP;
    size_t used = (vmlab_pool_space_top(pool) + step - 1) & ~(step - 1);
    off_t in = 0, out = 0;
    int src = vmlab_pool_space_fd(pool), fd = vmlab_pool_file_open(dir, NULL, 0, NULL, 0);

    if (fd < 0)
        return -1;
    if (used > size)
        used = size;
    if (src >= 0 && ioctl(fd, FICLONE, src) == 0)
        return fd;
    if (ftruncate(fd, (off_t)size) < 0)
        goto fail;
    /* the file holds what the shared mapping wrote: the page cache is it */
    while (src >= 0 && in < (off_t)used) {
        ssize_t n = copy_file_range(src, &in, fd, &out, used - (size_t)in, 0);
        if (n <= 0)
            break;
    }
    /* no copy_file_range here (or no descriptor): write from memory */
    while (in < (off_t)used) {
        ssize_t n = pwrite(fd, base + in, used - (size_t)in, in);
        if (n <= 0)
            goto fail;
        in += n;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

static int remap_private(void)
{
    int fd = vmlab_pool_space_fd(pool), r;
    if (fd < 0)
        return -1;
    if ((r = vmlab_pool_space_remap(pool, fd, 1)) < 0) {
        errno = -r;
        return -1;
    }
    is_private = 1;
    vm_log(2, "fork: the pool is copy-on-write from now on");
    return 0;
}

static void prepare(void)
{
    vmlab_pool_space_lock(pool);
    if (!mode || is_private)
        return;
    if (mode >= 2 && (copy_fd = copy_pool()) >= 0) {
        vm_log(2, "fork: the child gets a copy of the pool's %zu bytes in use", vmlab_pool_space_top(pool));
        return;
    }
    if (mode == 2)
        vm_die("fork: cannot copy the pool file for the child (VMMALLOC_FORK=2): ", strerror(errno));
    if (remap_private() < 0)
        vm_die("fork: cannot remap the pool copy-on-write: ", strerror(errno));
}

static void parent(void)
{
    if (copy_fd >= 0)
        close(copy_fd);
    copy_fd = -1;
    vmlab_pool_space_unlock(pool);
}

static void child(void)
{
    if (copy_fd >= 0) {
        int r = vmlab_pool_space_remap(pool, vmlab_pool_fd_high(copy_fd), 0);
        if (r < 0)
            vm_die("fork: cannot map the child's pool: ", strerror(-r));
        copy_fd = -1;
    }
    vmlab_pool_space_unlock(pool);
}
void vm_fork_init(int m, const char *d)
{
    mode = m;
    dir = d;
    if (pthread_atfork(prepare, parent, child) != 0)
        vm_die("cannot register the fork handlers", NULL);
}
