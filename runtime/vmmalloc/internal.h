/* What libvmmalloc.so's files share (runtime/vmmalloc/); nothing here is
 * exported from the library (it is built with -fvisibility=hidden). */
#ifndef VMMALLOC_INTERNAL_H
#define VMMALLOC_INTERNAL_H
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

extern char *pool_base;          /* the mapping, pool_size bytes */
extern size_t pool_size;
extern size_t pool_bump;         /* bytes handed to jemalloc, from the start */
extern int pool_fd;              /* the pool file, kept for fork */
extern dev_t pool_dev;           /* ... and what it is, to notice a program */
extern ino_t pool_ino;           /* that closed or reused the descriptor */
extern atomic_flag bump_lock;

void vm_die(const char *a, const char *b) __attribute__((noreturn));
void vm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* a new unlinked file in dir (VMMALLOC_POOL_DIR), or -1 */
int vm_tmpfile(const char *dir);
/* fork handlers for VMMALLOC_FORK's mode (0-3); called before jemalloc
 * starts, so that jemalloc's prepare handler runs before ours */
void vm_fork_init(int mode, const char *dir);

#endif
