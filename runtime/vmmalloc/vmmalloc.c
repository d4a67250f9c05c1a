/* libvmmalloc.so: a program's malloc family served from one pool on a
 * memory-mapped file (libvmmalloc(3)), carved by jemalloc arenas of its
 * own (the build's private, hidden jemalloc).  Every thread is bound to one
 * of them on its first call, so jemalloc's thread caches keep working and
 * only ever hold pool memory.  Pointers the pool did not hand out
 * (allocated before it existed, or by glibc for a library loaded with
 * RTLD_DEEPBIND) go to glibc.  The pool is never unmapped: exit handlers
 * and destructors may allocate to the end.  fork.c: VMMALLOC_FORK;
 * deepbind.c: RTLD_DEEPBIND libraries. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* the build's private jemalloc (see the Makefile): its API is vmje_ */
#include "../pool_je.h"
/* jemalloc's plain entry points: their fast paths are about twice as quick
 * as mallocx's; the thread is bound to the pool's arena, so they serve it. */
void *vmje_malloc(size_t);
void *vmje_calloc(size_t, size_t);
void *vmje_realloc(void *, size_t);
void vmje_free(void *);

#include "libvmmalloc.h"
#include "vmlab/pool.h"
#include "internal.h"

#define EXPORT __attribute__((visibility("default")))

/* glibc's own entry points, for foreign pointers and for calls made while
 * the pool is being set up. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);
/* not declared by glibc's headers any more */
void cfree(void *p);
void *pvalloc(size_t n);


/* the pool (runtime/pool_space.c); base and size copied for in_pool */
struct vmlab_pool_space *pool;
static char *pool_base;
static size_t pool_size;
/* Several arenas on the one pool, as jemalloc has several by default:
 * threads are bound round-robin, so two threads rarely share an arena's
 * locks (one arena made two threads 1.5x slower than plain jemalloc). */
#define MAX_ARENAS 16
static unsigned pool_arena[MAX_ARENAS], n_arenas;
static atomic_int arena_made[MAX_ARENAS];     /* 0 no, 1 being made, 2 yes */
/* Beside each, an arena for blocks that realloc grows by small steps
 * (pool_resize), made at the first such block of a thread bound there. */
static unsigned grow_arena[MAX_ARENAS];
static atomic_int grow_made[MAX_ARENAS];
static atomic_uint next_arena;
static atomic_int state;            /* 0 none, 1 initializing, 2 ready */
/* initial-exec: the library is loaded at start-up, and the general model
 * cost a __tls_get_addr call in every malloc */
#define TLS __thread __attribute__((tls_model("initial-exec")))
static TLS int initializing;
static TLS int bound;
static TLS unsigned slot;        /* this thread's index in pool_arena */
/* The fast paths test one thing each: `fast` (this thread is bound and
 * nothing is traced) for allocations, the pool's range for free (span 0
 * until the pool is ready, and while tracing, so that those calls take the
 * slow path).  A wrapper that did more cost 10% of a malloc/free loop. */
static TLS int fast;
static uintptr_t pool_lo;
static size_t pool_span;
static void log_stats(void);

/* realloc's memory of the blocks it last saw: the usable size of a pool
 * block, which jemalloc finds through its radix tree (sallocx, most of a
 * realloc that does not move the block), is kept in a word beside the
 * block's address, in a small table hashed by address.  Every free of a
 * pool block and every realloc that moves or resizes one forgets its entry
 * first, so an entry always describes a live block: a block freed by one
 * thread and handed out again, whatever its size, is not in the table.
 * One word so that no thread reads half of another's entry; addresses
 * below 2^47 (the pool's, checked at set-up) and sizes below 1 MiB only.
 * The small-step realloc row: 18.4 -> 17.2 ms (8 alternating runs). */
#define SEEN_SLOTS 256
#define SEEN_ADDR_BITS 47
#define SEEN_MAX ((size_t)1 << 20)
static _Atomic uint64_t seen[SEEN_SLOTS];
static int seen_on;

static inline _Atomic uint64_t *seen_slot(const void *p) { return &seen[((uintptr_t)p >> 4) % SEEN_SLOTS]; }
static inline int seen_is(uint64_t w, const void *p) { return (w & (((uint64_t)1 << SEEN_ADDR_BITS) - 1)) == (uintptr_t)p; }

static inline void seen_forget(const void *p)
{
    _Atomic uint64_t *s = seen_slot(p);
    if (__builtin_expect(seen_is(atomic_load_explicit(s, memory_order_relaxed), p), 0))
        atomic_store_explicit(s, 0, memory_order_relaxed);
}

/* p, live and this thread's, has have usable bytes (a multiple of 8) */
static inline void seen_note(const void *p, size_t have)
{
    if (seen_on && have < SEEN_MAX)
        atomic_store_explicit(seen_slot(p), (uintptr_t)p | (uint64_t)(have >> 3) << SEEN_ADDR_BITS, memory_order_relaxed);
}

void vm_die(const char *a, const char *b)
{
    char msg[512];
    size_t n = 0;
    const char *parts[] = {"Error (libvmmalloc): ", a, b ? b : "", "\n"};
    for (unsigned i = 0; i < 4; i++) {
        size_t l = strlen(parts[i]);
        if (n + l >= sizeof msg)
            l = sizeof msg - 1 - n;
        memcpy(msg + n, parts[i], l);
        n += l;
    }
    if (write(2, msg, n) < 0) {
        /* nothing else to tell */
    }
    _exit(1);
}

/* ---- VMMALLOC_LOG_LEVEL 0-4 and VMMALLOC_LOG_FILE (a trailing '-' adds
 * the pid): 1 failures, 2 the pool's creation and forks, 3 the calls that
 * are not allocations (heap queries, trim, mallopt) and statistics at
 * exit, 4 every allocation and free. ---- */

static int log_level, log_fd = 2;
static int tracing;              /* level 4: one branch on the fast path */
#define TRACE(...) do { if (__builtin_expect(tracing, 0)) vm_log(4, __VA_ARGS__); } while (0)
/* VMMALLOC_LOG_FILE as opened, to notice a program that closed our
 * descriptor or dup2'ed its own file over it (a shell's `exec 3>f`) */
static char log_path[PATH_MAX];
static dev_t log_dev;
static ino_t log_ino;

static int log_open(void)
{
    struct stat st;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    /* high and close-on-exec: out of the program's way, as the pool's */
    fd = vmlab_pool_fd_high(fd);
    if (fstat(fd, &st) == 0) {
        log_dev = st.st_dev;
        log_ino = st.st_ino;
    }
    return fd;
}

/* The log's descriptor, reopened when it is no longer the log file. */
static int log_target(void)
{
    struct stat st;
    if (!log_path[0])
        return log_fd;
    if (fstat(log_fd, &st) < 0 || st.st_dev != log_dev || st.st_ino != log_ino)
        log_fd = log_open();
    return log_fd;
}

void vm_log(int level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n, fd;
    if (level > log_level)
        return;
    n = snprintf(buf, sizeof buf, "<libvmmalloc>: <%d> ", level);
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if ((fd = log_target()) >= 0 && write(fd, buf, (size_t)n) < 0) {
        /* nowhere to report it */
    }
}

static void warn(const char *msg) { vm_log(1, "%s", msg); }

static void setup_log(void)
{
    const char *lv = getenv("VMMALLOC_LOG_LEVEL"), *file = getenv("VMMALLOC_LOG_FILE");
    size_t n;
    if (lv) {
        if (lv[0] < '0' || lv[0] > '4' || lv[1])
            vm_die("VMMALLOC_LOG_LEVEL must be 0 to 4: ", lv);
        log_level = lv[0] - '0';
        tracing = log_level >= 4;
    }
    if (!file || !*file || !log_level)
        return;
    n = strlen(file);
    if (n + 12 > sizeof log_path)
        vm_die("VMMALLOC_LOG_FILE is too long: ", file);
    memcpy(log_path, file, n + 1);
    /* a trailing '-' is kept and the pid appended: "log-" gives "log-1234" */
    if (log_path[n - 1] == '-')
        snprintf(log_path + n, sizeof log_path - n, "%d", (int)getpid());
    if ((log_fd = log_open()) < 0)
        vm_die("cannot open VMMALLOC_LOG_FILE: ", log_path);
}

/* ---- set-up ---- */

static size_t parse_size(const char *s)
{
    unsigned long long v = 0;
    if (!s || !*s)
        vm_die("VMMALLOC_POOL_SIZE is not set", NULL);
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            vm_die("VMMALLOC_POOL_SIZE is not a number of bytes: ", s);
        if (v > (~0ull - 9) / 10)
            vm_die("VMMALLOC_POOL_SIZE is too large: ", s);
        v = v * 10 + (unsigned)(*c - '0');
    }
    if (v < VMMALLOC_MIN_POOL)
        vm_die("VMMALLOC_POOL_SIZE is below the minimum of 14680064 bytes (VMMALLOC_MIN_POOL): ", s);
    return (size_t)v;
}

static const char *check_dir(const char *dir)
{
    struct stat st;
    if (!dir || !*dir)
        vm_die("VMMALLOC_POOL_DIR is not set", NULL);
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        vm_die("VMMALLOC_POOL_DIR is not a directory: ", dir);
    if (access(dir, W_OK | X_OK) < 0)
        vm_die("VMMALLOC_POOL_DIR is not writable: ", dir);
    if (strlen(dir) + 24 > PATH_MAX)
        vm_die("VMMALLOC_POOL_DIR is too long: ", dir);
    return dir;
}

/* Every variable is checked before anything is made, so that a bad setting
 * ends the process with its message whatever the program does. */
static void setup(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const char *dir, *fk;
    size_t size;
    int fd, r;

    setup_log();
    size = parse_size(getenv("VMMALLOC_POOL_SIZE"));
    dir = check_dir(getenv("VMMALLOC_POOL_DIR"));
    fk = getenv("VMMALLOC_FORK");
    if (fk && (fk[0] < '0' || fk[0] > '3' || fk[1]))
        vm_die("VMMALLOC_FORK must be 0, 1, 2 or 3: ", fk);
    fd = vmlab_pool_file_open(dir, NULL, 0, NULL, 0);
    if (fd < 0)
        vm_die("cannot create the pool file in ", dir);
    if ((r = vmlab_pool_space_create(fd, size, &pool)) < 0)
        vm_die("cannot size and map the pool file: ", strerror(-r));
    vmlab_pool_space_on_warning(pool, warn);
    pool_base = vmlab_pool_space_base(pool);
    pool_size = vmlab_pool_space_size(pool);
    /* VMMALLOC_FORK, before jemalloc starts (at the first mallctl) */
    vm_fork_init(fk ? fk[0] - '0' : 1, dir);
    /* up to 4 per CPU, as jemalloc has; freed space stays with its arena,
     * so one per 32 MiB of pool, and they are made when a thread first
     * needs one (a single-threaded program has one) */
    n_arenas = ncpu < 1 ? 1 : ncpu > MAX_ARENAS / 4 ? MAX_ARENAS : 4 * (unsigned)ncpu;
    if (n_arenas > pool_size / (32 << 20))
        n_arenas = pool_size / (32 << 20) ? (unsigned)(pool_size / (32 << 20)) : 1;
    if (vmlab_pool_space_arena(pool, &pool_arena[0]) < 0)
        vm_die("cannot create the jemalloc arena for the pool", NULL);
    arena_made[0] = 2;
    vm_log(2, "pool of %zu bytes at %p in %s, %u jemalloc arenas", pool_size, (void *)pool_base, dir, n_arenas);
    if (log_level >= 3)
        atexit(log_stats);
}

/* 1: the pool serves this call; 0: glibc does (during set-up).  The
 * first call of the process and of each thread take the slow path. */
static __attribute__((noinline)) int ready_slow(void)
{
    int s = atomic_load_explicit(&state, memory_order_acquire);
    if (s == 2)
        goto bind;
    if (initializing)
        return 0;
    s = 0;
    if (atomic_compare_exchange_strong(&state, &s, 1)) {
        initializing = 1;
        setup();
        initializing = 0;
        if (!tracing) {
            pool_lo = (uintptr_t)pool_base;
            pool_span = pool_size;
        }
        seen_on = (uintptr_t)pool_base + pool_size <= (uintptr_t)1 << SEEN_ADDR_BITS;
        atomic_store_explicit(&state, 2, memory_order_release);
    } else {
        while (atomic_load_explicit(&state, memory_order_acquire) != 2)
            ;
    }
bind:
    if (__builtin_expect(!bound, 0)) {
        unsigned i = atomic_fetch_add(&next_arena, 1) % n_arenas, a;
        int st = 0;
        if (atomic_compare_exchange_strong(&arena_made[i], &st, 1)) {
            if (vmlab_pool_space_arena(pool, &a) == 0) {
                pool_arena[i] = a;
                atomic_store(&arena_made[i], 2);
            }
        }
        /* not made (yet, or it failed): share the first */
        a = atomic_load(&arena_made[i]) == 2 ? pool_arena[i] : pool_arena[0];
        slot = i;
        bound = 1;
        fast = !tracing;
        mallctl("thread.arena", NULL, NULL, &a, sizeof a);
    }
    return 1;
}

static inline int ready(void)
{
    if (__builtin_expect(bound, 1))
        return 1;
    return ready_slow();
}

static int in_pool(const void *p)
{
    return (const char *)p >= pool_base && (const char *)p < pool_base + pool_size;
}

__attribute__((constructor)) static void vmmalloc_init(void) { ready(); }

static void purge(void)
{
    for (unsigned i = 0; i < n_arenas; i++) {
        if (atomic_load(&arena_made[i]) == 2)
            vmlab_pool_arena_purge(pool_arena[i]);
        if (atomic_load(&grow_made[i]) == 2)
            vmlab_pool_arena_purge(grow_arena[i]);
    }
}

/* A full pool: give freed memory back to it, then try once more. */
static void *pool_retry(size_t n, int flags)
{
    void *p;
    /* blocks this thread's cache holds pin their slabs: let them go, then
     * every arena's free extents back to the pool, coalesced */
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    purge();
    p = mallocx(n ? n : 1, flags);
    /* freed extents stay with their arena: try the others' */
    for (unsigned i = 0; !p && i < n_arenas; i++)
        if (atomic_load(&arena_made[i]) == 2)
            p = mallocx(n ? n : 1, flags | MALLOCX_ARENA(pool_arena[i]) | MALLOCX_TCACHE_NONE);
    if (!p) {
        vm_log(1, "cannot allocate %zu bytes: the pool is full", n);
        errno = ENOMEM;
    }
    return p;
}

static void *pool_alloc(size_t n, int flags)
{
    void *p = mallocx(n ? n : 1, flags);
    return p ? p : pool_retry(n, flags);
}

static __attribute__((noinline)) void *malloc_slow(size_t n)
{
    void *p;
    if (!ready())
        return __libc_malloc(n);
    p = vmje_malloc(n);
    if (__builtin_expect(!p, 0))
        p = pool_retry(n, 0);
    TRACE("malloc(%zu) = %p", n, p);
    return p;
}

EXPORT void *malloc(size_t n)
{
    if (__builtin_expect(fast, 1)) {
        void *p = vmje_malloc(n);
        if (__builtin_expect(p != NULL, 1))
            return p;
    }
    return malloc_slow(n);
}

static __attribute__((noinline)) void free_slow(void *p)
{
    int ours = state == 2 && in_pool(p);
    TRACE("free(%p)%s", p, ours ? "" : " (glibc's)");
    if (ours) {
        seen_forget(p);
        vmje_free(p);
    } else {
        __libc_free(p);
    }
}

EXPORT void free(void *p)
{
    if (__builtin_expect((uintptr_t)p - pool_lo < pool_span, 1)) {
        seen_forget(p);
        vmje_free(p);
    }
    else if (p)
        free_slow(p);
}

EXPORT void cfree(void *p) { free(p); }

static __attribute__((noinline)) void *calloc_slow(size_t n, size_t m)
{
    size_t t;
    void *p;
    if (__builtin_mul_overflow(n, m, &t)) {
        errno = ENOMEM;
        return NULL;
    }
    if (!ready())
        return __libc_calloc(n, m);
    p = vmje_calloc(1, t);
    if (__builtin_expect(!p, 0))
        p = pool_retry(t, MALLOCX_ZERO);
    TRACE("calloc(%zu, %zu) = %p", n, m, p);
    return p;
}

EXPORT void *calloc(size_t n, size_t m)
{
    if (__builtin_expect(fast, 1)) {
        void *p = vmje_calloc(n, m);   /* checks the overflow itself */
        if (__builtin_expect(p != NULL, 1))
            return p;
    }
    return calloc_slow(n, m);
}

EXPORT size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    if (state == 2 && in_pool(p))
        return sallocx(p, 0);
    /* a glibc chunk: its size word less the header (and, when mmapped, the
     * trailer the next chunk would otherwise lend) */
    size_t w = ((size_t *)p)[-1];
    return (w & ~(size_t)7) - ((w & 2) ? 2 : 1) * sizeof(size_t);
}

/* A pool block of `have` usable bytes to n: glibc often grows a block in
 * place, where jemalloc moves it at every size class, so a block that
 * grows gets room to double (twice what was asked when the growth itself
 * doubles it) and any run of growths costs a bounded number of copies.
 * A block under 16 KiB that grows geometrically (to twice its size or
 * more: a vector or string doubling its capacity) gets room for two
 * doublings (4n), and a block under 64 KiB is kept until less than a
 * quarter of it is asked for, so that it is not moved back down between
 * growths: half the copies (the doubling row: 360000 -> 240000 moves,
 * 1.3 GB -> 0.56 GB copied, 0.7x -> 1.0x glibc's speed), for at most
 * 48 KiB of slack per such block.  A small-step growth keeps room to
 * double only: 4x there moved blocks out of the places where they could
 * grow in place, and the small-step row lost a fifth of its speed.
 * A block of 32 KiB or more first tries to grow in place (xallocx: the
 * extent after it, when free), which spares a large copy; below, a failed
 * try (arena locks, extent searches) cost more than the copy it might
 * spare.  A move is malloc, copy and free, whose thread-cache fast paths
 * cost a fraction of jemalloc's realloc machinery (the doubling row went
 * from 0.28x to 0.64x glibc's speed). */
#define GEOMETRIC_ROOM_MAX ((size_t)16 << 10)
#define KEEP_QUARTER_MAX ((size_t)64 << 10)
/* n fits the block, which is not worth moving to a smaller one */
#define STAYS(n, have) ((n) <= (have) && (n) >= (have) >> (1 + ((have) < KEEP_QUARTER_MAX)))
#define GROW_IN_PLACE_MIN ((size_t)32 << 10)
/* This thread's growth arena (-1: none could be made).  It holds only
 * blocks that grow by small steps, and gives every freed extent straight
 * back to the pool (dirty_decay_ms 0), whose free ranges coalesce at once:
 * so the space after a growing block is free, and xallocx finds it.  In a
 * shared arena jemalloc kept freed extents as pieces it merges lazily, and
 * a third of the in-place growths failed and copied instead (small-step
 * row 23.7 -> 19.1 ms, glibc 19.6). */
static int growth_arena(void)
{
    unsigned i = slot, a;
    int st = 0;
    if (atomic_load_explicit(&grow_made[i], memory_order_acquire) == 2)
        return (int)grow_arena[i];
    if (atomic_compare_exchange_strong(&grow_made[i], &st, 1)) {
        char name[64];
        ssize_t at_once = 0;
        if (vmlab_pool_space_arena(pool, &a) == 0) {
            snprintf(name, sizeof name, "arena.%u.dirty_decay_ms", a);
            mallctl(name, NULL, NULL, &at_once, sizeof at_once);
            grow_arena[i] = a;
            atomic_store_explicit(&grow_made[i], 2, memory_order_release);
            return (int)a;
        }
        atomic_store(&grow_made[i], 3);
    }
    return -1;
}

static __attribute__((noinline)) void *pool_resize(void *p, size_t n, size_t have)
{
    void *q = NULL;
    /* it moves or changes size: its entry goes first */
    seen_forget(p);
    if (n > have && n < ((size_t)64 << 20)) {
        size_t want = n < 2 * have ? 2 * have : have < GEOMETRIC_ROOM_MAX ? 4 * n : 2 * n;
        size_t got;
        if (have >= GROW_IN_PLACE_MIN && (got = xallocx(p, n, want - n, 0)) >= n) {
            seen_note(p, got);
            return p;
        }
        /* a block that moves at 32 KiB or more skips the thread cache
         * both ways, and one grown by small steps to 32 KiB or more moves
         * to the thread's growth arena, where it can grow in place again;
         * the old block goes back to its arena instead of sitting cached
         * where a neighbour might want to grow */
        int big = have >= GROW_IN_PLACE_MIN, g;
        if (n < 2 * have && want >= GROW_IN_PLACE_MIN && (g = growth_arena()) >= 0)
            q = mallocx(want, MALLOCX_ARENA((unsigned)g) | MALLOCX_TCACHE_NONE);
        else
            q = big ? mallocx(want, MALLOCX_TCACHE_NONE) : vmje_malloc(want);
        if (q) {
            memcpy(q, p, have);
            if (big)
                dallocx(p, MALLOCX_TCACHE_NONE);
            else
                vmje_free(p);
            /* the next realloc of q finds its size here, not in
             * jemalloc's radix tree: its size class is want's */
            seen_note(q, nallocx(want, 0));
            return q;
        }
    }
    if (!q)
        q = vmje_realloc(p, n ? n : 1);
    if (!q) {
        /* purge and retry through the slow path */
        if (!(q = pool_alloc(n, 0)))
            return NULL;
        memcpy(q, p, have < n ? have : n);
        vmje_free(p);
    }
    return q;
}

static __attribute__((noinline)) void *realloc_slow(void *p, size_t n)
{
    void *q;
    if (!p)
        return malloc(n);
    if (!ready()) {
        q = __libc_realloc(p, n);
    } else if (!in_pool(p)) {
        /* from before the pool: move it in */
        size_t old = malloc_usable_size(p);
        if ((q = pool_alloc(n, 0))) {
            memcpy(q, p, old < n ? old : n);
            __libc_free(p);
        }
    } else {
        size_t have = sallocx(p, 0);
        q = STAYS(n, have) ? p : pool_resize(p, n, have);
    }
    TRACE("realloc(%p, %zu) = %p", p, n, q);
    return q;
}

EXPORT void *realloc(void *p, size_t n)
{
    if (__builtin_expect(fast && (uintptr_t)p - pool_lo < pool_span, 1)) {
        _Atomic uint64_t *s = seen_slot(p);
        uint64_t w = atomic_load_explicit(s, memory_order_relaxed);
        size_t have;
        if (seen_is(w, p))
            have = (size_t)(w >> SEEN_ADDR_BITS) << 3;
        else if ((have = sallocx(p, 0)), STAYS(n, have))
            seen_note(p, have);
        if (STAYS(n, have))
            return p;
        return pool_resize(p, n, have);
    }
    return realloc_slow(p, n);
}

EXPORT void *reallocarray(void *p, size_t n, size_t m)
{
    size_t t;
    if (__builtin_mul_overflow(n, m, &t)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, t);
}

static void *aligned(size_t align, size_t n)
{
    void *p;
    if (!ready())
        return __libc_memalign(align, n);
    p = pool_alloc(n, MALLOCX_ALIGN(align));
    TRACE("memalign(%zu, %zu) = %p", align, n, p);
    return p;
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    void *p;
    if (!align || (align & (align - 1)) || align % sizeof(void *))
        return EINVAL;
    if (!(p = aligned(align, n)))
        return ENOMEM;
    *out = p;
    return 0;
}

EXPORT void *memalign(size_t align, size_t n)
{
    if (!align || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(align, n);
}

EXPORT void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }

EXPORT void *valloc(size_t n) { return aligned((size_t)sysconf(_SC_PAGESIZE), n); }

EXPORT void *pvalloc(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return aligned(pg, (n + pg - 1) & ~(pg - 1));
}

/* ---- the pool's answers to glibc's heap queries ---- */

/* The sum over the pool's arenas, as of the last vmlab_pool_stats_refresh. */
static size_t arena_stat(const char *suffix)
{
    size_t sum = 0;
    for (unsigned i = 0; i < n_arenas; i++) {
        if (atomic_load(&arena_made[i]) == 2)
            sum += vmlab_pool_arena_stat(pool_arena[i], suffix);
        if (atomic_load(&grow_made[i]) == 2)
            sum += vmlab_pool_arena_stat(grow_arena[i], suffix);
    }
    return sum;
}

static size_t allocated(void)
{
    vmlab_pool_stats_refresh();
    return arena_stat(".small.allocated") + arena_stat(".large.allocated");
}

static void log_stats(void)
{
    size_t in_use = allocated();
    vm_log(3, "pool %zu bytes, %zu handed to jemalloc, %zu of file space reserved, %zu allocated; %zu mallocs, %zu frees as the arena saw them (thread caches batch them)",
           pool_size, vmlab_pool_space_used(pool), vmlab_pool_space_reserved(pool), in_use,
           arena_stat(".small.nmalloc") + arena_stat(".large.nmalloc"),
           arena_stat(".small.ndalloc") + arena_stat(".large.ndalloc"));
}

/* glibc's fields, of the pool: arena the part handed to jemalloc, uordblks
 * the bytes of live blocks, fordblks what is left of the pool, keepcost the
 * part never handed out, hblkhd jemalloc's metadata (kept outside it). */
EXPORT struct mallinfo2 mallinfo2(void)
{
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof mi);
    if (!ready())
        return mi;
    mi.uordblks = allocated();
    mi.arena = vmlab_pool_space_used(pool);
    mi.fordblks = pool_size - mi.uordblks;
    mi.keepcost = pool_size - mi.arena;
    mi.hblkhd = arena_stat(".base");
    vm_log(3, "mallinfo: %zu in use, %zu free in the pool", mi.uordblks, mi.fordblks);
    return mi;
}

static int clamp(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

EXPORT struct mallinfo mallinfo(void)
{
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo mi;
    memset(&mi, 0, sizeof mi);
    mi.arena = clamp(m2.arena);
    mi.uordblks = clamp(m2.uordblks);
    mi.fordblks = clamp(m2.fordblks);
    mi.keepcost = clamp(m2.keepcost);
    mi.hblkhd = clamp(m2.hblkhd);
    return mi;
}

/* glibc's report on stderr, in its layout, with the pool's figures. */
EXPORT void malloc_stats(void)
{
    struct mallinfo2 mi = mallinfo2();
    vm_log(3, "malloc_stats");
    fprintf(stderr, "Arena 0 (libvmmalloc pool of %zu bytes):\n", pool_size);
    fprintf(stderr, "system bytes     = %10zu\n", mi.arena);
    fprintf(stderr, "in use bytes     = %10zu\n", mi.uordblks);
    fprintf(stderr, "Total (incl. mmap):\n");
    fprintf(stderr, "system bytes     = %10zu\n", mi.arena);
    fprintf(stderr, "in use bytes     = %10zu\n", mi.uordblks);
    fprintf(stderr, "max mmap regions = %10d\n", 0);
    fprintf(stderr, "max mmap bytes   = %10lu\n", 0ul);
}

/* Give freed pages back to jemalloc's retained extents of the pool. */
EXPORT int malloc_trim(size_t pad)
{
    if (ready()) {
        vm_log(3, "malloc_trim(%zu): the pool's free pages purged", pad);
        purge();
    }
    return 1;
}

/* glibc's tunables do not apply to the pool; accepted and ignored. */
EXPORT int mallopt(int param, int value)
{
    vm_log(3, "mallopt(%d, %d): ignored, the pool has no such tunables", param, value);
    return 1;
}
