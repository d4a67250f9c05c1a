/* The pool's file space on tmpfs (runtime/pool_space.c): reserved ahead
 * only as the filesystem's headroom requires.
 * - On a roomy tmpfs, blocks the program never touches cost no pages: 32
 *   blocks of 1 MiB with one byte written each leave the file with a few
 *   MiB allocated, not 32, while the pool counts them as reserved.
 * - On a tmpfs smaller than the pool, blocks allocated and not touched
 *   until the pool says NULL can all be written afterwards: no SIGBUS, so
 *   what was deferred got its space before the filesystem ran out.
 * Through vmlab.pool's C API (the same space as libvmmalloc.so's).  Needs
 * root to mount the tmpfs: skips without. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "vmlab/pool.h"
#include "vmlab/units.h"

#define MiB ((size_t)1 << 20)

static char mnt[] = "/tmp/vmlab-space-XXXXXX";

static int mount_tmpfs(const char *size)
{
    char opt[64];
    snprintf(opt, sizeof opt, "size=%s", size);
    return mount("vmlab-space-test", mnt, "tmpfs", 0, opt);
}

static long long file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) < 0 ? -1 : (long long)st.st_blocks * 512;
}

/* Write every page of n blocks of len bytes in a child: its wait status. */
static int touch_all(void **blocks, size_t n, size_t len)
{
    size_t pg = vmlab_pagesize();
    int st;
    pid_t pid = fork();
    if (pid == 0) {
        for (size_t i = 0; i < n; i++)
            for (size_t o = 0; o < len; o += pg)
                ((volatile char *)blocks[i])[o] = 1;
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return st;
}

int main(void)
{
    struct vmlab_pool_opts o = {0};
    struct vmlab_pool_stats s;
    struct vmlab_pool *p;
    char path[96];
    void *blocks[512];
    size_t n;
    int r, st;

    if (geteuid() != 0)
        tap_skip_all("mounting a tmpfs needs root");
    if (!mkdtemp(mnt))
        tap_skip_all("no directory for the mount");
    if (mount_tmpfs("256m") < 0) {
        rmdir(mnt);
        tap_skip_all("cannot mount a tmpfs here");
    }

    /* roomy: untouched pages stay unallocated */
    snprintf(path, sizeof path, "%s/roomy", mnt);
    o.path = path;
    o.size = 128 * MiB;
    r = vmlab_pool_create(&o, &p);
    is_int(r, 0, "a 128 MiB pool on a 256 MiB tmpfs");
    if (r == 0) {
        for (n = 0; n < 32 && (blocks[n] = vmlab_pool_alloc(p, MiB, 0)); n++)
            ((char *)blocks[n])[0] = 1;
        vmlab_pool_stats(p, &s);
        ok(n == 32 && s.reserved >= 32 * MiB, "32 blocks of 1 MiB, counted as reserved (%zu bytes)", s.reserved);
        ok(file_bytes(path) >= 0 && file_bytes(path) <= (long long)(8 * MiB),
           "one byte written in each: the file holds %lld bytes, not 32 MiB", file_bytes(path));
        st = touch_all(blocks, n, MiB);
        ok(st == 0 && file_bytes(path) >= (long long)(32 * MiB), "then written whole: %lld bytes",
           file_bytes(path));
        vmlab_pool_close(p);
        unlink(path);
    } else {
        ok(0, "no pool"), ok(0, "no pool"), ok(0, "no pool");
    }
    umount(mnt);

    /* tight: a 256 MiB pool on a 32 MiB tmpfs, nothing touched until full */
    if (mount_tmpfs("32m") < 0) {
        ok(0, "cannot mount the 32 MiB tmpfs: %s", strerror(errno));
        ok(0, "skipped"), ok(0, "skipped");
        rmdir(mnt);
        return tap_done();
    }
    snprintf(path, sizeof path, "%s/tight", mnt);
    o.size = 256 * MiB;
    r = vmlab_pool_create(&o, &p);
    is_int(r, 0, "a 256 MiB pool on a 32 MiB tmpfs");
    if (r == 0) {
        errno = 0;
        for (n = 0; n < 512 && (blocks[n] = vmlab_pool_alloc(p, MiB, 0)); n++)
            ;
        ok(n >= 24 && n < 32 && errno == ENOMEM, "1 MiB blocks until NULL (ENOMEM): %zu of them", n);
        st = touch_all(blocks, n, MiB);
        ok(st == 0, "every page of them written afterwards: no SIGBUS (wait status %d%s)", st,
           WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS ? ", SIGBUS" : "");
        vmlab_pool_close(p);
        unlink(path);
    } else {
        ok(0, "no pool"), ok(0, "no pool");
    }
    umount(mnt);
    rmdir(mnt);
    return tap_done();
}
