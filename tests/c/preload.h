/* For C tests that run themselves under LD_PRELOAD=libvmmalloc.so. */
#ifndef VMLAB_TEST_PRELOAD_H
#define VMLAB_TEST_PRELOAD_H
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"

/* The first time through: set up a pool of `size` bytes in /tmp (and
 * VMMALLOC_FORK when fork_mode is not NULL) and exec this program again
 * under the preload; skips without the library or under ASan (which owns
 * malloc).  Returns only in the re-executed program. */
static inline void preload_reexec(char **argv, const char *size, const char *fork_mode)
{
    char lib[4096];
    const char *b = getenv("VMLAB_BUILD");

#ifdef __SANITIZE_ADDRESS__
    tap_skip_all("ASan owns malloc in this build");
#endif
    if (getenv("VMMALLOC_POOL_DIR"))
        return;
    snprintf(lib, sizeof lib, "%s/libvmmalloc.so", b ? b : "build");
    if (access(lib, R_OK) != 0)
        tap_skip_all("no libvmmalloc.so");
    setenv("VMMALLOC_POOL_DIR", "/tmp", 1);
    setenv("VMMALLOC_POOL_SIZE", size, 1);
    if (fork_mode)
        setenv("VMMALLOC_FORK", fork_mode, 1);
    setenv("LD_PRELOAD", lib, 1);
    execv("/proc/self/exe", argv);
    perror("execv");
    exit(1);
}
#endif
