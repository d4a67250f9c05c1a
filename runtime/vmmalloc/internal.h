/* What libvmmalloc.so's files share (runtime/vmmalloc/); nothing here is
 * exported from the library (it is built with -fvisibility=hidden). */
#ifndef VMMALLOC_INTERNAL_H
#define VMMALLOC_INTERNAL_H
#include <stddef.h>

/* the pool: runtime/pool_space.c, built into the library */
extern struct vmlab_pool_space *pool;

void vm_die(const char *a, const char *b) __attribute__((noreturn));
void vm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* fork handlers for VMMALLOC_FORK's mode (0-3); called before jemalloc
 * starts, so that jemalloc's prepare handler runs before ours */
void vm_fork_init(int mode, const char *dir);

#endif
