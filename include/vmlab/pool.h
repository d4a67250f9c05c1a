/* Pools: a file mapping carved by jemalloc arenas of its own (extent hooks
 * hand out pieces of the mapping; the pool never grows).  Plain C; errors
 * are negative errno values.  Two layers:
 *   the pool space (runtime/pool_space.c, pool_file.c, pool_extents.c):
 *     the file, the mapping, the hooks, free ranges, file space reserved as
 *     it is used, arenas on it; shared by vmlab.pool and libvmmalloc.so
 *   pools (runtime/pool.c): vmlab.pool's checked heap on one space */
#ifndef VMLAB_POOL_H
#define VMLAB_POOL_H
#include <stddef.h>
#include <stdint.h>

/* ---- pool files and spaces ---- */

/* A new pool file: unnamed in dir (O_TMPFILE, else created and unlinked at
 * once), or path, which must not exist unless replace (then truncated).
 * name (len bytes, PATH_MAX will do) gets path, or "".  A descriptor
 * (close-on-exec), or -errno: -EEXIST for an existing path, -EINVAL for a
 * path that is not a regular file. */
int vmlab_pool_file_open(const char *dir, const char *path, int replace, char *name, size_t len);
/* fd moved to a high number, close-on-exec (fd itself when it cannot be) */
int vmlab_pool_fd_high(int fd);

struct vmlab_pool_space;
/* File space is reserved (fallocate) in steps of this many bytes as
 * jemalloc commits pieces of the pool. */
#define VMLAB_POOL_RESERVE_STEP ((size_t)1 << 16)
/* Size the file (sparse) to size (rounded down to pages), map it shared,
 * and keep fd (moved high).  fd stays the caller's on failure. */
int vmlab_pool_space_create(int fd, size_t size, struct vmlab_pool_space **out);
/* Unmap and close; the arenas on it must be destroyed first. */
void vmlab_pool_space_delete(struct vmlab_pool_space *sp);
/* Told when the file's space can no longer be reserved ahead. */
void vmlab_pool_space_on_warning(struct vmlab_pool_space *sp, void (*warn)(const char *msg));
char *vmlab_pool_space_base(const struct vmlab_pool_space *sp);
size_t vmlab_pool_space_size(const struct vmlab_pool_space *sp);
size_t vmlab_pool_space_used(struct vmlab_pool_space *sp);      /* held by jemalloc now */
size_t vmlab_pool_space_top(struct vmlab_pool_space *sp);       /* highest offset ever handed out */
size_t vmlab_pool_space_reserved(struct vmlab_pool_space *sp);  /* file space held */
/* The pool file's descriptor, checked (reopened if the program closed it),
 * or -1. */
int vmlab_pool_space_fd(struct vmlab_pool_space *sp);
/* Fork: held across it; the mapping replaced in place by fd (shared, or
 * private copy-on-write), fd then the pool's when it is another file. */
void vmlab_pool_space_lock(struct vmlab_pool_space *sp);
void vmlab_pool_space_unlock(struct vmlab_pool_space *sp);
int vmlab_pool_space_remap(struct vmlab_pool_space *sp, int fd, int private);

/* A new jemalloc arena serving the space (its metadata kept outside). */
int vmlab_pool_space_arena(struct vmlab_pool_space *sp, unsigned *arena);
int vmlab_pool_arena_destroy(unsigned arena);
/* Freed extents coalesced, for a retry after a failed allocation. */
void vmlab_pool_arena_purge(unsigned arena);
/* jemalloc's stats.arenas.<arena><suffix> (".small.allocated"), as of the
 * last refresh. */
void vmlab_pool_stats_refresh(void);
size_t vmlab_pool_arena_stat(unsigned arena, const char *suffix);

/* ---- free ranges (runtime/pool_extents.c) ----
 * What jemalloc gave back, address-ordered and coalesced, below a bump
 * pointer that hands out the rest of the space.  Not thread-safe: the
 * space's lock guards it. */
struct vmlab_pool_range {
    size_t off, len;
};

struct vmlab_pool_extents {
    struct vmlab_pool_range *r;  /* mmap'ed: libvmmalloc has no heap yet */
    size_t n, cap;
    size_t size;                 /* the space */
    size_t bump;                 /* [bump, size) was never handed out or came back */
    size_t top;                  /* highest bump so far: above it pages are fresh (zero) */
    size_t free_bytes;           /* in r */
};

void vmlab_pool_extents_init(struct vmlab_pool_extents *x, size_t size);
void vmlab_pool_extents_fini(struct vmlab_pool_extents *x);
/* An offset for len bytes aligned to align (a power of two) from the free
 * ranges (first fit, lowest address) or the bump; at want when want is not
 * (size_t)-1 (growing a block in place).  (size_t)-1 when nothing fits. */
size_t vmlab_pool_extents_take(struct vmlab_pool_extents *x, size_t len, size_t align, size_t want);
/* Give [off, off+len) back: -1 (and nothing changed) when the table cannot
 * grow. */
int vmlab_pool_extents_give(struct vmlab_pool_extents *x, size_t off, size_t len);


/* ---- vmlab.pool's pools ---- */

struct vmlab_pool;

struct vmlab_pool_opts {
    const char *dir;     /* an unnamed file in this directory (O_TMPFILE or unlinked) */
    const char *path;    /* or this file, created and kept */
    int replace;         /* path may exist: truncate it (else -EEXIST) */
    size_t size;         /* bytes, at least VMMALLOC_MIN_POOL */
};

int vmlab_pool_create(const struct vmlab_pool_opts *o, struct vmlab_pool **out);
/* Destroy the arena and unmap; every block is gone. */
void vmlab_pool_close(struct vmlab_pool *p);

/* NULL with errno ENOMEM when the pool is full (align 0: natural).  n == 0
 * gives a minimal block, as malloc(0) does. */
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
    size_t reserved;     /* file space reserved for the used part */
    uint64_t live, allocs, frees, fails;
};
void vmlab_pool_stats(struct vmlab_pool *p, struct vmlab_pool_stats *st);

void *vmlab_pool_base(const struct vmlab_pool *p);
size_t vmlab_pool_size(const struct vmlab_pool *p);
const char *vmlab_pool_path(const struct vmlab_pool *p);   /* "" when unnamed */
int vmlab_pool_id(const struct vmlab_pool *p);             /* 1, 2, ... per process */

#endif
