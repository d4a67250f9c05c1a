/* The pool's file space on tmpfs (runtime/pool_space.c): reserved ahead
 * only as the filesystem's headroom requires.
 * - On a roomy tmpfs, blocks the program never touches cost no pages: 32
 *   blocks of 1 MiB with one byte written each leave the file with a few
 *   MiB allocated, not 32, while the pool counts them as reserved.
 * - On a tmpfs smaller than the pool, blocks allocated and not touched
 *   until the pool says NULL can all be written afterwards: no SIGBUS, so
 *   what was deferred got its space before the filesystem ran out.
 *   The same under LD_PRELOAD=libvmmalloc.so.
 * - Huge pages where the pool's filesystem offers them: on a tmpfs mounted
 *   huge=within_size a written block is mapped by PMDs; on hugetlbfs the
 *   pool is sized to whole huge pages and one larger than the free huge
 *   pages fails at creation (ENOMEM), not at a touch.  Each skips when the
 *   machine has no shmem THP or no free huge pages.
 * Through vmlab.pool's C API (the same space as libvmmalloc.so's).  Needs
 * root to mount the filesystems: skips without. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
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

/* The sum of an smaps field over the mapping at base, in kB (-1: none). */
static long smaps_kb(const void *base, const char *field)
{
    char line[256];
    long sum = -1, v;
    int in = 0;
    size_t fl = strlen(field);
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = (uintptr_t)base >= lo && (uintptr_t)base < hi;
            continue;
        }
        if (in && !strncmp(line, field, fl) && line[fl] == ':' && sscanf(line + fl + 1, "%ld", &v) == 1)
            sum = (sum < 0 ? 0 : sum) + v;
    }
    fclose(f);
    return sum;
}

static long meminfo_kb(const char *field)
{
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':')
            sscanf(line + fl + 1, "%ld", &v);
    fclose(f);
    return v;
}

/* shmem THP usable on a tmpfs mount: built in, and not forced off */
static int shmem_thp(void)
{
    char buf[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
    if (!f)
        return 0;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = 0;
    fclose(f);
    return buf[0] && !strstr(buf, "[deny]");
}

static void huge_tmpfs(void)
{
    struct vmlab_pool_opts o = {0};
    struct vmlab_pool *p;
    char path[96];
    long kb;
    void *b;
    int r;

    if (!shmem_thp() || mount("vmlab-space-test", mnt, "tmpfs", 0, "size=64m,huge=within_size") < 0) {
        printf("ok %d # skip no shmem THP (tmpfs huge=within_size)\n", ++tap_n);
        return;
    }
    snprintf(path, sizeof path, "%s/huge", mnt);
    o.path = path;
    o.size = 32 * MiB;
    if ((r = vmlab_pool_create(&o, &p)) < 0) {
        ok(0, "a pool on a tmpfs mounted huge=within_size: %s", strerror(-r));
    } else {
        b = vmlab_pool_alloc(p, 8 * MiB, 0);
        if (b)
            memset(b, 1, 8 * MiB);
        kb = smaps_kb(vmlab_pool_base(p), "ShmemPmdMapped");
        if (kb < 0)
            kb = smaps_kb(vmlab_pool_base(p), "FilePmdMapped");
        ok(b && kb >= 2048, "on a tmpfs mounted huge=within_size an 8 MiB block written is mapped by huge pages (%ld kB)", kb);
        vmlab_pool_close(p);
        unlink(path);
    }
    umount(mnt);
}

static void hugetlb(void)
{
    struct vmlab_pool_opts o = {0};
    struct vmlab_pool *p;
    char path[96];
    long nfree = meminfo_kb("HugePages_Free"), hp_kb = meminfo_kb("Hugepagesize");
    void *b;
    int r;

    if (nfree < 8 || hp_kb <= 0 || mount("vmlab-space-test", mnt, "hugetlbfs", 0, NULL) < 0) {
        printf("ok %d # skip fewer than 8 free huge pages or no hugetlbfs\n", ++tap_n);
        printf("ok %d # skip fewer than 8 free huge pages or no hugetlbfs\n", ++tap_n);
        return;
    }
    snprintf(path, sizeof path, "%s/pool", mnt);
    o.path = path;
    o.size = (size_t)(nfree * hp_kb) * 1024 + 3 * (size_t)hp_kb * 1024 + 12345;
    r = vmlab_pool_create(&o, &p);
    ok(r == -ENOMEM, "a pool larger than the free huge pages fails at creation: %s", strerror(-r));
    if (r == 0)
        vmlab_pool_close(p);
    unlink(path);
    o.size = (size_t)(nfree < 16 ? nfree : 16) * (size_t)hp_kb * 1024 + 12345;
    if ((r = vmlab_pool_create(&o, &p)) < 0) {
        ok(0, "a pool of the free huge pages: %s", strerror(-r));
    } else {
        b = vmlab_pool_alloc(p, 4 * MiB, 0);
        if (b)
            memset(b, 1, 4 * MiB);
        ok(b && vmlab_pool_size(p) % ((size_t)hp_kb * 1024) == 0 &&
               smaps_kb(vmlab_pool_base(p), "Shared_Hugetlb") + smaps_kb(vmlab_pool_base(p), "Private_Hugetlb") >= 4096,
           "on hugetlbfs: %zu bytes (whole huge pages), a 4 MiB block written is in huge pages", vmlab_pool_size(p));
        vmlab_pool_close(p);
    }
    unlink(path);
    umount(mnt);
}

/* Under LD_PRELOAD=libvmmalloc.so (the parent's env): malloc 1 MiB blocks,
 * untouched, until NULL, then write every page; prints how many. */
static int preload_child(void)
{
    static void *b[1024];
    size_t n = 0, pg = vmlab_pagesize();
    while (n < 1024 && (b[n] = malloc(MiB)))
        n++;
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < MiB; o += pg)
            ((volatile char *)b[i])[o] = 1;
    printf("%zu\n", n);
    return 0;
}

/* The same through libvmmalloc.so: its arenas, its retry on a full pool. */
static void preload_tight(const char *self)
{
    char lib[512], out[64] = "";
    const char *bld = getenv("VMLAB_BUILD");
    int fds[2], st = -1;
    ssize_t got = 0;
    pid_t pid;

#ifdef __SANITIZE_ADDRESS__
    printf("ok %d # skip ASan owns malloc in this build\n", ++tap_n);
    return;
#endif
    snprintf(lib, sizeof lib, "%s/libvmmalloc.so", bld ? bld : "build");
    if (access(lib, R_OK) != 0 || pipe(fds) < 0) {
        printf("ok %d # skip no libvmmalloc.so\n", ++tap_n);
        return;
    }
    if ((pid = fork()) == 0) {
        dup2(fds[1], 1);
        setenv("VMMALLOC_POOL_DIR", mnt, 1);
        setenv("VMMALLOC_POOL_SIZE", "268435456", 1);
        setenv("LD_PRELOAD", lib, 1);
        execl(self, self, "preload-child", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    if (pid > 0) {
        got = read(fds[0], out, sizeof out - 1);
        waitpid(pid, &st, 0);
    }
    close(fds[0]);
    out[got > 0 ? got : 0] = 0;
    ok(st == 0 && atoi(out) >= 24 && atoi(out) < 32,
       "libvmmalloc.so, 256 MiB pool on the 32 MiB tmpfs: %d blocks of 1 MiB untouched until NULL, then written whole (wait status %d%s)",
       atoi(out), st, WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS ? ", SIGBUS" : "");
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

int main(int argc, char **argv)
{
    struct vmlab_pool_opts o = {0};
    struct vmlab_pool_stats s;
    struct vmlab_pool *p;
    char path[96];
    void *blocks[512];
    size_t n;
    int r, st;

    if (argc > 1 && !strcmp(argv[1], "preload-child"))
        return preload_child();
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
        ok(0, "skipped"), ok(0, "skipped"), ok(0, "skipped");
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
    preload_tight("/proc/self/exe");
    umount(mnt);
    huge_tmpfs();
    hugetlb();
    rmdir(mnt);
    return tap_done();
}
