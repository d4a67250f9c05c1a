/* Pools: a file mapping carved by a jemalloc arena of its own (extent
 * hooks hand out pieces of the mapping; the pool never grows).  Plain C;
 * errors are negative errno values. */
#ifndef VMLAB_POOL_H
#define VMLAB_POOL_H
#include <stddef.h>
#include <stdint.h>

struct vmlab_pool;

struct vmlab_pool_opts {
    const char *dir;     /* an unnamed file in this directory (O_TMPFILE or unlinked) */
    const char *path;    /* or this file, created (truncated) and kept */
    size_t size;         /* bytes, at least VMMALLOC_MIN_POOL */
};

int vmlab_pool_create(const struct vmlab_pool_opts *o, struct vmlab_pool **out);
/* Destroy the arena and unmap; every block is gone. */
void vmlab_pool_close(struct vmlab_pool *p);

/* NULL with errno ENOMEM when the pool is full (align 0: natural). */
void *vmlab_pool_alloc(struct vmlab_pool *p, size_t n, size_t align);
/* -EINVAL for a pointer the pool did not hand out or already freed. */
int vmlab_pool_free(struct vmlab_pool *p, void *a);
/* -EINVAL as free; -ENOMEM leaves the block as it was. */
int vmlab_pool_realloc(struct vmlab_pool *p, void *a, size_t n, void **out);
/* -EINVAL for a foreign pointer; otherwise the usable size. */
int vmlab_pool_usable(struct vmlab_pool *p, void *a, size_t *out);
int vmlab_pool_owns(struct vmlab_pool *p, const void *a);

struct vmlab_pool_stats {
    size_t size;         /* the file and mapping */
    size_t allocated;    /* usable bytes of live blocks */
    size_t active;       /* pages jemalloc uses for them */
    size_t mapped;       /* bytes of the mapping handed to jemalloc */
    uint64_t live, allocs, frees, fails;
};
void vmlab_pool_stats(struct vmlab_pool *p, struct vmlab_pool_stats *st);

void *vmlab_pool_base(const struct vmlab_pool *p);
size_t vmlab_pool_size(const struct vmlab_pool *p);
const char *vmlab_pool_path(const struct vmlab_pool *p);   /* "" when unnamed */
int vmlab_pool_id(const struct vmlab_pool *p);             /* 1, 2, ... per process */

#endif
