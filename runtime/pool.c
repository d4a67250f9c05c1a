/* Pools: one file mapping per pool, carved by a jemalloc arena whose extent
 * hooks hand out pieces of the mapping with a bump pointer.  jemalloc keeps
 * what it frees (dalloc declines, so the extent is retained and reused), so
 * the pool never grows past its file.  Live blocks are kept in a hash set so
 * that a double free or a foreign pointer is refused instead of corrupting
 * the arena. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The build renames the static jemalloc's API with a vmje_ prefix, so
 * that it serves pools without taking over the process's malloc. */
#define mallocx vmje_mallocx
#define rallocx vmje_rallocx
#define sallocx vmje_sallocx
#define dallocx vmje_dallocx
#define mallctl vmje_mallctl
#include <jemalloc/jemalloc.h>

#include "libvmmalloc.h"
#include "vmlab/pool.h"

struct vmlab_pool {
    extent_hooks_t hooks;        /* first: the hooks find the pool from it */
    pthread_mutex_t lock;        /* bump pointer and live set */
    char *base;
    size_t size, bump;
    unsigned arena;
    int flags;                   /* MALLOCX_ARENA | MALLOCX_TCACHE_NONE */
    int id;
    char path[4096];
    /* live blocks: open addressing, 0 = empty, 1 = deleted */
    uintptr_t *set;
    size_t cap, used, tomb;
    size_t allocated;
    uint64_t allocs, frees, fails;
};

static atomic_int pool_ids;

/* ---- extent hooks --------------------------------------------------------- */

static void *hook_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t alignment,
                        bool *zero, bool *commit, unsigned arena_ind)
{
    struct vmlab_pool *p = (struct vmlab_pool *)h;
    uintptr_t start, at;
    void *r = NULL;

    if (alignment == 0)
        alignment = 4096;
    pthread_mutex_lock(&p->lock);
    start = (uintptr_t)p->base + p->bump;
    at = (start + alignment - 1) & ~(uintptr_t)(alignment - 1);
    /* new_addr: jemalloc asks to grow in place; only the bump can. */
    if (new_addr && (uintptr_t)new_addr != at)
        goto out;
    if (at + size > (uintptr_t)p->base + p->size || at + size < at)
        goto out;
    p->bump = at + size - (uintptr_t)p->base;
    r = (void *)at;
    /* fresh file pages read as zero */
    *zero = true;
    *commit = true;
out:
    pthread_mutex_unlock(&p->lock);
    return r;
}

/* Decline: jemalloc retains the extent and reuses it from the pool. */
static bool hook_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed,
                        unsigned arena_ind)
{
    return true;
}

static void hook_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed,
                         unsigned arena_ind)
{
}

static bool hook_split(extent_hooks_t *h, void *addr, size_t size, size_t size_a,
                       size_t size_b, bool committed, unsigned arena_ind)
{
    return false;
}

static bool hook_merge(extent_hooks_t *h, void *addr_a, size_t size_a, void *addr_b,
                       size_t size_b, bool committed, unsigned arena_ind)
{
    return false;
}

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

/* jemalloc coalesces freed (dirty) extents lazily; when the pool looks full,
 * purge them into coalesced retained extents and let the caller retry. */
static void purge(struct vmlab_pool *p)
{
    char name[64];
    snprintf(name, sizeof name, "arena.%u.purge", p->arena);
    mallctl(name, NULL, NULL, NULL, 0);
}

/* ---- pools ------------------------------------------------------------------- */

static int open_file(const struct vmlab_pool_opts *o, char *path, size_t len)
{
    int fd;
    path[0] = 0;
    if (o->path) {
        if (strlen(o->path) >= len)
            return -ENAMETOOLONG;
        fd = open(o->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            return -errno;
        strcpy(path, o->path);
        return fd;
    }
    fd = open(o->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
        return -errno;
    /* no O_TMPFILE here: create and unlink at once */
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/vmlab.pool.XXXXXX", o->dir) >= sizeof tmp)
        return -ENAMETOOLONG;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unlink(tmp);
    return fd;
}

int vmlab_pool_create(const struct vmlab_pool_opts *o, struct vmlab_pool **out)
{
    struct vmlab_pool *p;
    extent_hooks_t *hp;
    size_t sz = sizeof(unsigned);
    int fd, r;

    if ((!o->dir) == (!o->path))
        return -EINVAL;
    if (o->size < VMMALLOC_MIN_POOL)
        return -EINVAL;
    p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->size = o->size & ~(size_t)4095;
    fd = open_file(o, p->path, sizeof p->path);
    if (fd < 0) {
        free(p);
        return fd;
    }
    /* ftruncate, not fallocate: a large pool costs nothing until used */
    if (ftruncate(fd, (off_t)p->size) < 0) {
        r = -errno;
        goto fail_fd;
    }
    p->base = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p->base == MAP_FAILED) {
        r = -errno;
        goto fail_fd;
    }
    close(fd);
    pthread_mutex_init(&p->lock, NULL);
    p->hooks.alloc = hook_alloc;
    p->hooks.dalloc = hook_dalloc;
    p->hooks.destroy = hook_destroy;
    p->hooks.split = hook_split;
    p->hooks.merge = hook_merge;
    hp = &p->hooks;
    if (mallctl("arenas.create", &p->arena, &sz, &hp, sizeof hp) != 0) {
        r = -ENOMEM;
        munmap(p->base, p->size);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return r;
    }
    p->flags = MALLOCX_ARENA(p->arena) | MALLOCX_TCACHE_NONE;
    p->id = atomic_fetch_add(&pool_ids, 1) + 1;
    *out = p;
    return 0;
fail_fd:
    close(fd);
    free(p);
    return r;
}

void vmlab_pool_close(struct vmlab_pool *p)
{
    char name[64];
    if (!p)
        return;
    snprintf(name, sizeof name, "arena.%u.destroy", p->arena);
    /* the mapping goes only if jemalloc let go of it */
    if (mallctl(name, NULL, NULL, NULL, 0) == 0) {
        munmap(p->base, p->size);
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
        purge(p);
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
        purge(p);
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
    char name[64];
    uint64_t epoch = 1;
    size_t pactive = 0, sz = sizeof pactive;

    memset(st, 0, sizeof *st);
    mallctl("epoch", &epoch, &(size_t){sizeof epoch}, &epoch, sizeof epoch);
    snprintf(name, sizeof name, "stats.arenas.%u.pactive", p->arena);
    if (mallctl(name, &pactive, &sz, NULL, 0) != 0)
        pactive = 0;
    pthread_mutex_lock(&p->lock);
    st->size = p->size;
    st->allocated = p->allocated;
    st->active = pactive * (size_t)sysconf(_SC_PAGESIZE);
    st->mapped = p->bump;
    st->live = p->used;
    st->allocs = p->allocs;
    st->frees = p->frees;
    st->fails = p->fails;
    pthread_mutex_unlock(&p->lock);
}

void *vmlab_pool_base(const struct vmlab_pool *p) { return p->base; }
size_t vmlab_pool_size(const struct vmlab_pool *p) { return p->size; }
const char *vmlab_pool_path(const struct vmlab_pool *p) { return p->path; }
int vmlab_pool_id(const struct vmlab_pool *p) { return p->id; }
