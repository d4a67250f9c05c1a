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

#include "internal.h"

static int mode;
static const char *dir;
static int is_private;           /* mode 1 happened: fork is plain COW now */
static int copy_fd = -1;         /* mode 2: the child's file, during fork */

/* The pool's descriptor, or -1 when the program closed it (or reused the
 * number): then /proc/self/map_files may still open the file. */
static int pool_file(void)
{
    struct stat st;
    char path[64];
    if (fstat(pool_fd, &st) == 0 && st.st_dev == pool_dev && st.st_ino == pool_ino)
        return pool_fd;
    snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", (unsigned long)pool_base,
             (unsigned long)(pool_base + pool_size));
    pool_fd = open(path, O_RDWR | O_CLOEXEC);
    return pool_fd;
}

/* The part in use into a new file; its descriptor or -1. */
static int copy_pool(void)
{
    size_t used = (pool_bump + 4095) & ~(size_t)4095;
    loff_t in = 0, out = 0;
    int src = pool_file(), fd = vm_tmpfile(dir);

    if (fd < 0)
        return -1;
    if (src >= 0 && ioctl(fd, FICLONE, src) == 0)
        return fd;
    if (ftruncate(fd, (off_t)pool_size) < 0)
        goto fail;
    /* the file holds what the shared mapping wrote: the page cache is it */
    while (src >= 0 && in < (loff_t)used) {
        ssize_t n = copy_file_range(src, &in, fd, &out, used - (size_t)in, 0);
        if (n <= 0)
            break;
    }
    /* no copy_file_range here (or no descriptor): write from memory */
    while (in < (loff_t)used) {
        ssize_t n = pwrite(fd, pool_base + in, used - (size_t)in, in);
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
    int fd = pool_file();
    /* MAP_NORESERVE: a private mapping of a large pool is not charged */
    if (fd < 0 || mmap(pool_base, pool_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
                       fd, 0) == MAP_FAILED)
        return -1;
    is_private = 1;
    vm_log(2, "fork: the pool is copy-on-write from now on");
    return 0;
}

static void prepare(void)
{
    while (atomic_flag_test_and_set_explicit(&bump_lock, memory_order_acquire))
        ;
    if (!mode || is_private)
        return;
    if (mode >= 2 && (copy_fd = copy_pool()) >= 0) {
        vm_log(2, "fork: the child gets a copy of the pool's %zu bytes in use", pool_bump);
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
    atomic_flag_clear_explicit(&bump_lock, memory_order_release);
}

static void child(void)
{
    if (copy_fd >= 0) {
        struct stat st;
        int old = pool_file();
        if (mmap(pool_base, pool_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, copy_fd, 0) == MAP_FAILED ||
            fstat(copy_fd, &st) < 0)
            vm_die("fork: cannot map the child's pool: ", strerror(errno));
        if (old >= 0)
            close(old);
        pool_fd = copy_fd;
        pool_dev = st.st_dev;
        pool_ino = st.st_ino;
        copy_fd = -1;
    }
    atomic_flag_clear_explicit(&bump_lock, memory_order_release);
}

void vm_fork_init(int m, const char *d)
{
    mode = m;
    dir = d;
    if (pthread_atfork(prepare, parent, child) != 0)
        vm_die("cannot register the fork handlers", NULL);
}
