/* The pool space's free ranges (runtime/pool_extents.c): what jemalloc
 * gave back, address-ordered and coalesced, below a bump pointer that
 * hands out the rest of the mapping.  Not thread-safe: the space's lock
 * guards it.  Private to runtime/pool*.c and libvmmalloc.so. */
#ifndef VMLAB_POOL_EXTENTS_H
#define VMLAB_POOL_EXTENTS_H
#include <stddef.h>

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

#endif
