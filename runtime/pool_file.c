/* Pool files: where a pool's memory lives.  Shared by vmlab.pool and
 * libvmmalloc.so (the latter builds this file into itself). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmlab/pool.h"

/* Descriptors a pool keeps open sit at or above this number, out of the way
 * of programs (and shells) that dup2 onto small numbers they expect free. */
#define HIGH_FD 700

int vmlab_pool_fd_high(int fd)
{
    int h = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
    if (h < 0)                  /* RLIMIT_NOFILE below HIGH_FD: keep it */
        return fd;
    close(fd);
    return h;
}

static int open_named(const char *path, int replace, char *name, size_t len)
{
    struct stat st;
    int fd, e;

    if (strlen(path) >= len)
        return -ENAMETOOLONG;
    /* O_EXCL unless told to replace: a typo must not wipe someone's file */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (replace ? 0 : O_EXCL), 0600);
    if (fd < 0)
        return -errno;
    e = fstat(fd, &st) < 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;   /* a device, a FIFO */
    if (e) {
        close(fd);
        return -e;
    }
    if (replace && ftruncate(fd, 0) < 0) {
        e = errno;
        close(fd);
        return -e;
    }
    strcpy(name, path);
    return fd;
}

int vmlab_pool_file_open(const char *dir, const char *path, int replace, char *name, size_t len)
{
    char tmp[PATH_MAX];
    int fd;

    if (len)
        name[0] = 0;
    if (path)
        return open_named(path, replace, name, len);
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
        return -errno;
    /* no O_TMPFILE here: create and unlink at once */
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/vmlab.pool.XXXXXX", dir) >= sizeof tmp)
        return -ENAMETOOLONG;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unlink(tmp);
    return fd;
}
