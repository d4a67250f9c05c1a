/* vmlab.pool's pools: a pool space (runtime/pool_space.c: the file, the
 * mapping, the extent hooks) served by one jemalloc arena without thread
 * caches.  Live blocks are kept in a hash set so that a double free or a
 * foreign pointer is refused instead of corrupting the arena. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool_je.h"
#include "libvmmalloc.h"
#include "vmlab/pool.h"

struct vmlab_pool {
    struct vmlab_pool_space *sp;
    pthread_mutex_t lock;        /* live set and counters */
    unsigned arena;
    int flags;                   /* MALLOCX_ARENA | MALLOCX_TCACHE_NONE */
    int id;
    char path[PATH_MAX];
    /* live blocks: open addressing, 0 = empty, 1 = deleted */
    uintptr_t *set;
    size_t cap, used, tomb;
    size_t allocated;
    uint64_t allocs, frees, fails;
};

static atomic_int pool_ids;

/* ---- live set --------------------------------------------------------------- */

static size_t slot(uintptr_t a, size_t cap)
{
    uint64_t x = a >> 4;
    x *= 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 20) & (cap - 1);
}

static int set_grow(struct vmlab_pool *p)
{
    size_t ncap = p->cap ? p->cap * 2 : 1024, i, j;
    uintptr_t *n;

    if (p->used * 4 < p->cap)   /* mostly tombstones: rehash at the same size */
        ncap = p->cap;
    n = calloc(ncap, sizeof *n);
    if (!n)
        return -ENOMEM;
    for (i = 0; i < p->cap; i++) {
        if (p->set[i] > 1) {
            for (j = slot(p->set[i], ncap); n[j]; j = (j + 1) & (ncap - 1))
                ;
            n[j] = p->set[i];
        }
    }
    free(p->set);
    p->set = n;
    p->cap = ncap;
    p->tomb = 0;
    return 0;
}

static int set_add(struct vmlab_pool *p, uintptr_t a)
{
    size_t j;
    if ((p->used + p->tomb + 1) * 4 > p->cap * 3 && set_grow(p) < 0)
        return -ENOMEM;
    for (j = slot(a, p->cap); p->set[j] > 1; j = (j + 1) & (p->cap - 1))
        ;
    if (p->set[j] == 1)
        p->tomb--;
    p->set[j] = a;
    p->used++;
    return 0;
}

static size_t *set_find(struct vmlab_pool *p, uintptr_t a)
{
    size_t j;
    if (!p->cap)
        return NULL;
    for (j = slot(a, p->cap); p->set[j]; j = (j + 1) & (p->cap - 1))
        if (p->set[j] == a)
            return (size_t *)&p->set[j];
    return NULL;
}

static void set_del(struct vmlab_pool *p, size_t *e)
{
    *e = 1;
    p->used--;
    p->tomb++;
}

/* ---- pools ------------------------------------------------------------------- */

int vmlab_pool_create(const struct vmlab_pool_opts *o, struct vmlab_pool **out)
{
    struct vmlab_pool *p;
    int fd, r;

    if ((!o->dir) == (!o->path))
        return -EINVAL;
    if (o->size < VMMALLOC_MIN_POOL)
        return -EINVAL;
    p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    fd = vmlab_pool_file_open(o->dir, o->path, o->replace, p->path, sizeof p->path);
    if (fd < 0) {
        free(p);
        return fd;
    }
    if ((r = vmlab_pool_space_create(fd, o->size, &p->sp)) < 0) {
        close(fd);
        goto fail;
    }
    if ((r = vmlab_pool_space_arena(p->sp, &p->arena)) < 0) {
        vmlab_pool_space_delete(p->sp);
        goto fail;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->flags = MALLOCX_ARENA(p->arena) | MALLOCX_TCACHE_NONE;
    p->id = atomic_fetch_add(&pool_ids, 1) + 1;
    *out = p;
    return 0;
fail:
    if (p->path[0])
        unlink(p->path);    /* we created (or emptied) it */
    free(p);
    return r;
}

void vmlab_pool_close(struct vmlab_pool *p)
{
    if (!p)
        return;
    /* the mapping goes only if jemalloc let go of it */
    if (vmlab_pool_arena_destroy(p->arena) == 0) {
        vmlab_pool_space_delete(p->sp);
        pthread_mutex_destroy(&p->lock);
        free(p->set);
        free(p);
    }
}

void *vmlab_pool_alloc(struct vmlab_pool *p, size_t n, size_t align)
{
    int flags = p->flags;
    void *a;

    if (align & (align - 1)) {
        errno = EINVAL;
        return NULL;
    }
    if (align)
        flags |= MALLOCX_ALIGN(align);
    a = mallocx(n ? n : 1, flags);
    if (!a) {
        vmlab_pool_arena_purge(p->arena);
        a = mallocx(n ? n : 1, flags);
    }
    pthread_mutex_lock(&p->lock);
    if (!a) {
        p->fails++;
        pthread_mutex_unlock(&p->lock);
        errno = ENOMEM;
        return NULL;
    }
    if (set_add(p, (uintptr_t)a) < 0) {
        pthread_mutex_unlock(&p->lock);
        dallocx(a, p->flags);
        errno = ENOMEM;
        return NULL;
    }
    p->allocated += sallocx(a, p->flags);
    p->allocs++;
    pthread_mutex_unlock(&p->lock);
    return a;
}

int vmlab_pool_owns(struct vmlab_pool *p, const void *a)
{
    int r;
    pthread_mutex_lock(&p->lock);
    r = set_find(p, (uintptr_t)a) != NULL;
    pthread_mutex_unlock(&p->lock);
    return r;
}

int vmlab_pool_free(struct vmlab_pool *p, void *a)
{
    size_t *e;
    pthread_mutex_lock(&p->lock);
    if (!(e = set_find(p, (uintptr_t)a))) {
        pthread_mutex_unlock(&p->lock);
        return -EINVAL;
    }
    set_del(p, e);
    p->allocated -= sallocx(a, p->flags);
    p->frees++;
    pthread_mutex_unlock(&p->lock);
    dallocx(a, p->flags);
    return 0;
}

int vmlab_pool_realloc(struct vmlab_pool *p, void *a, size_t n, void **out)
{
    size_t *e, old;
    void *b;

    if (!vmlab_pool_owns(p, a))
        return -EINVAL;
    old = sallocx(a, p->flags);
    /* outside the lock: growing may call the extent hooks, which take it */
    b = rallocx(a, n ? n : 1, p->flags);
    if (!b) {
        vmlab_pool_arena_purge(p->arena);
        b = rallocx(a, n ? n : 1, p->flags);
    }
    pthread_mutex_lock(&p->lock);
    if (!b) {
        p->fails++;
        pthread_mutex_unlock(&p->lock);
        return -ENOMEM;
    }
    if (b != a) {
        if ((e = set_find(p, (uintptr_t)a)))
            set_del(p, e);
        if (set_add(p, (uintptr_t)b) < 0)   /* a slot was just freed */
            abort();
    }
    p->allocated += sallocx(b, p->flags) - old;
    pthread_mutex_unlock(&p->lock);
    *out = b;
    return 0;
}

int vmlab_pool_usable(struct vmlab_pool *p, void *a, size_t *out)
{
    if (!vmlab_pool_owns(p, a))
        return -EINVAL;
    *out = sallocx(a, p->flags);
    return 0;
}

void vmlab_pool_stats(struct vmlab_pool *p, struct vmlab_pool_stats *st)
{
    memset(st, 0, sizeof *st);
    vmlab_pool_stats_refresh();
    st->active = vmlab_pool_arena_stat(p->arena, ".pactive") * (size_t)sysconf(_SC_PAGESIZE);
    st->size = vmlab_pool_space_size(p->sp);
    st->mapped = vmlab_pool_space_used(p->sp);
    st->reserved = vmlab_pool_space_reserved(p->sp);
    pthread_mutex_lock(&p->lock);
    st->allocated = p->allocated;
    st->live = p->used;
    st->allocs = p->allocs;
    st->frees = p->frees;
    st->fails = p->fails;
    pthread_mutex_unlock(&p->lock);
}

void *vmlab_pool_base(const struct vmlab_pool *p) { return vmlab_pool_space_base(p->sp); }
size_t vmlab_pool_size(const struct vmlab_pool *p) { return vmlab_pool_space_size(p->sp); }
const char *vmlab_pool_path(const struct vmlab_pool *p) { return p->path; }
int vmlab_pool_id(const struct vmlab_pool *p) { return p->id; }
