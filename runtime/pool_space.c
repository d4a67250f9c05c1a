/* The pool space: one file mapping handed to jemalloc arenas by extent
 * hooks.  Shared by vmlab.pool (runtime/pool.c) and libvmmalloc.so (which
 * builds this file into itself), as PMDK's libvmem and libvmmalloc shared
 * their pool code.
 *
 * - A bump pointer hands out the mapping from its start, and what jemalloc
 *   gives back (when it purges: at its decay, or when a full pool makes the
 *   caller purge and retry) goes to a table of free ranges, coalesced with
 *   their neighbours and the top (pool_extents.c).  jemalloc runs with
 *   retain:false so that it gives extents back instead of keeping them:
 *   retained, they stayed split where jemalloc had grown, and a fresh
 *   32 MiB pool could not give a 20 MiB block.  A pool never grows past
 *   its file.
 * - jemalloc's metadata (an arena's "base") does not come from the pool:
 *   carved between data extents and never returned, it split the free
 *   space, and after a burst of small blocks the largest block left was a
 *   sixth of the pool.
 * - File space is reserved (fallocate) chunk by chunk as jemalloc commits
 *   pieces of the pool, so that a full filesystem fails an allocation with
 *   ENOMEM instead of killing the program with SIGBUS at its first touch of
 *   a page, and a large pool costs nothing until used.  On tmpfs a
 *   reserved page is an allocated page, so there the reservation is
 *   deferred while the filesystem has room to spare (see reserve()). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "pool_je.h"
#include "vmlab/pool.h"

/* Pools' jemalloc only (the private copy): no background threads (the
 * library creates none); extents go back to the hooks (see above); one
 * automatic arena, as pools use arenas of their own; thread caches hold
 * blocks up to 64 KiB (jemalloc's default stops at 32 KiB), so that a
 * buffer grown by realloc to 64 KiB and freed, again and again, stays off
 * the arena's locks and extent trees (tests/bench/pool's doubling row
 * 0.45x -> 0.64x glibc's speed; 128 KiB cost the small-step realloc row,
 * whose blocks then came from the cache with no free space after them).
 * The caches' garbage collection runs every MiB allocated instead of every
 * 64 KiB: each pass costs a fence and a walk of the bins, and the
 * malloc/free loop ran 1.1x faster, the doubling row 1.05x. */
const char *malloc_conf = "background_thread:false,narenas:1,retain:false,tcache_max:65536,tcache_gc_incr_bytes:1048576";

/* jemalloc updates a thread's peak of allocated bytes (thread.peak, which
 * pools never read) every 64 KiB allocated and every 64 KiB freed, and each
 * such event ends in a full memory fence: with blocks of a few KiB, one
 * call in 30 paid it, and every large block did (5% of the working-set
 * row).  The build weakens jemalloc's own wait functions (the Makefile's
 * pools section); these space the updates 1 MiB apart, as the caches' GC
 * above.  With a jemalloc that has no such functions they are unused. */
struct tsd_s;
uint64_t je_peak_alloc_new_event_wait(struct tsd_s *tsd);
uint64_t je_peak_dalloc_new_event_wait(struct tsd_s *tsd);
uint64_t je_peak_alloc_new_event_wait(struct tsd_s *tsd) { (void)tsd; return (uint64_t)1 << 20; }
uint64_t je_peak_dalloc_new_event_wait(struct tsd_s *tsd) { (void)tsd; return (uint64_t)1 << 20; }

/* Reservation step: 64 KiB, one fallocate per run of them.  On tmpfs a
 * reserved page is an allocated page: a MiB step cost a program that uses
 * little (ls) 5% of its CPU time in fallocate. */
#define CHUNK VMLAB_POOL_RESERVE_STEP

struct vmlab_pool_space {
    extent_hooks_t hooks;        /* first: a hook finds its space from it */
    pthread_mutex_t bump_lock;   /* ext */
    pthread_mutex_t res_lock;    /* reservation (taken inside bump_lock) */
    char *base;
    size_t size;
    struct vmlab_pool_extents ext;
    int fd;
    dev_t dev;                   /* what fd is, to notice a program that */
    ino_t ino;                   /* closed the descriptor or reused it */
    int reserving;               /* 0: the filesystem cannot (sparse file) */
    int defer;                   /* tmpfs: reserve only as headroom requires */
    size_t covered;              /* bytes of chunks in reserved[] */
    size_t budget;               /* may be deferred before statfs again */
    size_t ndeferred;            /* chunks in deferred[] */
    _Atomic uint64_t *deferred;  /* covered, not fallocated (after reserved[]) */
    void (*warn)(const char *msg);
    size_t self_size;            /* this struct and its bitmaps: one mapping */
    size_t nchunks;
    _Atomic uint64_t reserved[]; /* one bit per CHUNK of the file: covered */
};

static size_t pagesize(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* ---- descriptors and reservation ---------------------------------------- */

/* The pool's descriptor, checked: a program may close it or dup2 over it.
 * Then /proc/self/map_files may still open the file (it needs privilege);
 * -1 when it cannot. */
int vmlab_pool_space_fd(struct vmlab_pool_space *sp)
{
    struct stat st;
    char path[64];
    int fd;

    if (sp->fd >= 0 && fstat(sp->fd, &st) == 0 && st.st_dev == sp->dev && st.st_ino == sp->ino)
        return sp->fd;
    snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", (unsigned long)sp->base,
             (unsigned long)(sp->base + sp->size));
    fd = open(path, O_RDWR | O_CLOEXEC);
    sp->fd = fd < 0 ? -1 : vmlab_pool_fd_high(fd);
    return sp->fd;
}

static int all_reserved(struct vmlab_pool_space *sp, size_t lo, size_t hi)
{
    for (size_t c = lo; c <= hi; c++)
        if (!(atomic_load_explicit(&sp->reserved[c / 64], memory_order_acquire) & (1ull << (c % 64))))
            return 0;
    return 1;
}

#define BIT(map, c) (atomic_load_explicit(&(map)[(c) / 64], memory_order_relaxed) & (1ull << ((c) % 64)))

static size_t chunk_bytes(struct vmlab_pool_space *sp, size_t c)
{
    return sp->size - c * CHUNK < CHUNK ? sp->size - c * CHUNK : CHUNK;
}

/* Chunk c, not covered yet, is now: deferred, or fallocated.  Under res_lock. */
static void cover(struct vmlab_pool_space *sp, size_t c, int deferred)
{
    if (deferred) {
        atomic_fetch_or_explicit(&sp->deferred[c / 64], 1ull << (c % 64), memory_order_relaxed);
        sp->ndeferred++;
    }
    sp->covered += chunk_bytes(sp, c);
    atomic_fetch_or_explicit(&sp->reserved[c / 64], 1ull << (c % 64), memory_order_release);
}

/* fallocate the chunks lo..hi that are not covered (deferred: those that
 * are deferred), one call per run; a chunk done is covered and not
 * deferred.  0, or -errno (ENOSPC).  Under res_lock. */
static int fallocate_runs(struct vmlab_pool_space *sp, size_t lo, size_t hi, int deferred)
{
    for (size_t c = lo; c <= hi && sp->reserving; c++) {
        size_t e = c;
        off_t off;
        size_t n;
        int fd;
#define TODO(c) (deferred ? BIT(sp->deferred, c) != 0 : BIT(sp->reserved, c) == 0)
        if (!TODO(c))
            continue;
        while (e < hi && TODO(e + 1))
            e++;
#undef TODO
        off = (off_t)(c * CHUNK);
        n = (e + 1) * CHUNK > sp->size ? sp->size - (size_t)off : (e + 1 - c) * CHUNK;
        if ((fd = vmlab_pool_space_fd(sp)) < 0) {
            sp->reserving = 0;
            if (sp->warn)
                sp->warn("the pool file's descriptor was closed: its space is no longer reserved ahead");
            break;
        }
        if (fallocate(fd, 0, off, (off_t)n) < 0) {
            if (errno == EOPNOTSUPP || errno == ENOSYS) {
                sp->reserving = 0;   /* this filesystem cannot: sparse, as before */
                break;
            }
            return -errno;
        }
        for (; c <= e; c++) {
            if (BIT(sp->deferred, c)) {
                atomic_fetch_and_explicit(&sp->deferred[c / 64], ~(1ull << (c % 64)), memory_order_relaxed);
                sp->ndeferred--;
            }
            if (!BIT(sp->reserved, c))
                cover(sp, c, 0);
        }
        c = e;
    }
    return 0;
}

/* At most this much is deferred between two looks at the filesystem. */
#define BUDGET_MAX ((size_t)64 << 20)

/* What may be deferred now: half the filesystem's free space, less the
 * deferred pages not touched yet (covered bytes less the file's allocated
 * blocks: every page under a covered chunk is either fallocated, touched,
 * or still owed).  No limit on a tmpfs without a size (it cannot be full). */
static size_t headroom(struct vmlab_pool_space *sp)
{
    struct statfs sf;
    struct stat st;
    size_t free_b, alloc, owed;
    int fd = vmlab_pool_space_fd(sp);

    if (fd < 0 || fstatfs(fd, &sf) < 0 || fstat(fd, &st) < 0)
        return 0;
    if (!sf.f_blocks)
        return BUDGET_MAX;
    free_b = (size_t)sf.f_bavail * (size_t)sf.f_bsize;
    alloc = (size_t)st.st_blocks * 512;
    owed = sp->covered > alloc ? sp->covered - alloc : 0;
    if (free_b / 2 <= owed)
        return 0;
    return free_b / 2 - owed < BUDGET_MAX ? free_b / 2 - owed : BUDGET_MAX;
}

/* Reserve the file's blocks under [a, a+len): 0, or -errno (ENOSPC).
 * On tmpfs fallocate allocates (and charges) every page at once, where a
 * touch allocates only the pages a program uses: blocks of 64 KiB-1 MiB
 * written at their ends (the bench's working set) had two pages in five
 * allocated and never used, and fallocate was a sixth of the row's CPU
 * time.  There the chunks are only marked (deferred) while what the pool
 * owes, touched or not, stays within half the filesystem's free space as
 * statfs last showed it (looked at again every 64 MiB); beyond, every
 * deferred chunk is fallocated first, then this one, so a pool that
 * outgrows its filesystem still gets ENOSPC here, never SIGBUS later.
 * What this gives up: another process filling more than half of the free
 * space between two looks can leave a deferred page without room. */
static int reserve(struct vmlab_pool_space *sp, const char *a, size_t len)
{
    size_t lo = (size_t)(a - sp->base) / CHUNK, hi = (size_t)(a + len - 1 - sp->base) / CHUNK;
    int r = 0;

    if (!len || !sp->reserving || all_reserved(sp, lo, hi))
        return 0;
    pthread_mutex_lock(&sp->res_lock);
    if (sp->defer) {
        size_t need = 0;
        for (size_t c = lo; c <= hi; c++)
            if (!BIT(sp->reserved, c))
                need += chunk_bytes(sp, c);
        if (need > sp->budget)
            sp->budget = headroom(sp);
        if (need <= sp->budget) {
            sp->budget -= need;
            for (size_t c = lo; c <= hi; c++)
                if (!BIT(sp->reserved, c))
                    cover(sp, c, 1);
            goto out;
        }
        /* tight: what was deferred gets its space first */
        if (sp->ndeferred && (r = fallocate_runs(sp, 0, sp->nchunks - 1, 1)) < 0)
            goto out;
    }
    r = fallocate_runs(sp, lo, hi, 0);
out:
    pthread_mutex_unlock(&sp->res_lock);
    return r;
}

/* ---- extent hooks --------------------------------------------------------- */

static void *hook_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t alignment, bool *zero,
                        bool *commit, unsigned arena_ind)
{
    struct vmlab_pool_space *sp = (struct vmlab_pool_space *)h;
    size_t want = new_addr ? (size_t)((char *)new_addr - sp->base) : (size_t)-1, at, top;

    if (alignment < pagesize())
        alignment = pagesize();
    /* new_addr: jemalloc asks to grow a block in place */
    if (new_addr && ((char *)new_addr < sp->base || (char *)new_addr >= sp->base + sp->size))
        return NULL;
    pthread_mutex_lock(&sp->bump_lock);
    top = sp->ext.top;           /* above it, pages were never used: zero */
    at = vmlab_pool_extents_take(&sp->ext, size, alignment, want);
    if (at == (size_t)-1)
        goto fail;
    pthread_mutex_unlock(&sp->bump_lock);
    /* jemalloc asks for committed memory (always, with retain:false):
     * then the file gets the space under it.  Outside the bump lock (the
     * range is this call's): a fallocate of a large extent held up every
     * other arena's hooks, and two threads' working sets cost 1.5x the
     * kernel time of one */
    if (*commit && reserve(sp, sp->base + at, size) < 0) {
        pthread_mutex_lock(&sp->bump_lock);
        vmlab_pool_extents_give(&sp->ext, at, size);
        goto fail;
    }
    /* jemalloc asked for zeroed memory: a range used before is cleared;
     * asked or not, it learns whether the range is zero */
    if (*zero && at < top)
        memset(sp->base + at, 0, size);
    else if (at < top)
        *zero = false;
    else
        *zero = true;
    return sp->base + at;
fail:
    pthread_mutex_unlock(&sp->bump_lock);
    return NULL;
}

/* false: committed */
static bool hook_commit(extent_hooks_t *h, void *addr, size_t size, size_t offset, size_t length,
                        unsigned arena_ind)
{
    return reserve((struct vmlab_pool_space *)h, (char *)addr + offset, length) < 0;
}

/* Taken back into the free ranges (false); true (jemalloc keeps it) only
 * when the table cannot grow. */
static bool hook_dalloc(extent_hooks_t *h, void *a, size_t s, bool c, unsigned i)
{
    struct vmlab_pool_space *sp = (struct vmlab_pool_space *)h;
    int r;
    pthread_mutex_lock(&sp->bump_lock);
    r = vmlab_pool_extents_give(&sp->ext, (size_t)((char *)a - sp->base), s);
    pthread_mutex_unlock(&sp->bump_lock);
    return r < 0;
}
static void hook_destroy(extent_hooks_t *h, void *a, size_t s, bool c, unsigned i) {}
static bool hook_split(extent_hooks_t *h, void *a, size_t s, size_t sa, size_t sb, bool c, unsigned i)
{
    return false;
}
static bool hook_merge(extent_hooks_t *h, void *a, size_t sa, void *b, size_t sb, bool c, unsigned i)
{
    return false;
}

/* ---- spaces --------------------------------------------------------------- */

int vmlab_pool_space_create(int fd, size_t size, struct vmlab_pool_space **out)
{
    struct vmlab_pool_space *sp;
    struct statfs sf;
    struct stat st;
    size_t nchunks, self;
    void *base;
    int r, hugetlb;

    /* hugetlbfs: a file's size is whole huge pages (f_bsize), and a shared
     * mapping reserves them all at mmap, so a pool that does not fit fails
     * here (ENOMEM) and needs no fallocate later */
    hugetlb = fstatfs(fd, &sf) == 0 && sf.f_type == HUGETLBFS_MAGIC;
    size &= ~((hugetlb && (size_t)sf.f_bsize > pagesize() ? (size_t)sf.f_bsize : pagesize()) - 1);
    if (!size)
        return -EINVAL;
    /* ftruncate, not fallocate: a large pool costs nothing until used */
    if (ftruncate(fd, (off_t)size) < 0 || fstat(fd, &st) < 0)
        return -errno;
    base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        return -errno;
    /* not malloc: libvmmalloc builds its pool before it has a heap */
    nchunks = (size + CHUNK - 1) / CHUNK;
    self = sizeof *sp + 2 * ((nchunks + 63) / 64) * sizeof(uint64_t);
    self = (self + pagesize() - 1) & ~(pagesize() - 1);
    sp = mmap(NULL, self, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sp == MAP_FAILED) {
        r = -errno;
        munmap(base, size);
        return r;
    }
    sp->hooks.alloc = hook_alloc;
    sp->hooks.dalloc = hook_dalloc;
    sp->hooks.destroy = hook_destroy;
    sp->hooks.commit = hook_commit;
    sp->hooks.split = hook_split;
    sp->hooks.merge = hook_merge;
    pthread_mutex_init(&sp->bump_lock, NULL);
    pthread_mutex_init(&sp->res_lock, NULL);
    sp->base = base;
    sp->size = size;
    vmlab_pool_extents_init(&sp->ext, size);
    sp->fd = vmlab_pool_fd_high(fd);
    sp->dev = st.st_dev;
    sp->ino = st.st_ino;
    sp->reserving = !hugetlb;
    sp->defer = fstatfs(sp->fd, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
    sp->deferred = sp->reserved + (nchunks + 63) / 64;
    sp->self_size = self;
    sp->nchunks = nchunks;
    *out = sp;
    return 0;
}

void vmlab_pool_space_delete(struct vmlab_pool_space *sp)
{
    if (!sp)
        return;
    munmap(sp->base, sp->size);
    vmlab_pool_extents_fini(&sp->ext);
    if (sp->fd >= 0)
        close(sp->fd);
    pthread_mutex_destroy(&sp->bump_lock);
    pthread_mutex_destroy(&sp->res_lock);
    munmap(sp, sp->self_size);
}

void vmlab_pool_space_on_warning(struct vmlab_pool_space *sp, void (*warn)(const char *msg)) { sp->warn = warn; }

char *vmlab_pool_space_base(const struct vmlab_pool_space *sp) { return sp->base; }
size_t vmlab_pool_space_size(const struct vmlab_pool_space *sp) { return sp->size; }

size_t vmlab_pool_space_used(struct vmlab_pool_space *sp)
{
    size_t u;
    pthread_mutex_lock(&sp->bump_lock);
    u = sp->ext.bump - sp->ext.free_bytes;
    pthread_mutex_unlock(&sp->bump_lock);
    return u;
}

/* No lock: fork's handlers ask while they hold it. */
size_t vmlab_pool_space_top(struct vmlab_pool_space *sp) { return __atomic_load_n(&sp->ext.top, __ATOMIC_ACQUIRE); }

size_t vmlab_pool_space_reserved(struct vmlab_pool_space *sp)
{
    size_t n;
    pthread_mutex_lock(&sp->res_lock);
    n = sp->covered;
    pthread_mutex_unlock(&sp->res_lock);
    return n;
}

/* Fork: hold both locks across it, so that the child finds them free and
 * the bump and bitmap consistent. */
void vmlab_pool_space_lock(struct vmlab_pool_space *sp)
{
    pthread_mutex_lock(&sp->bump_lock);
    pthread_mutex_lock(&sp->res_lock);
}

void vmlab_pool_space_unlock(struct vmlab_pool_space *sp)
{
    pthread_mutex_unlock(&sp->res_lock);
    pthread_mutex_unlock(&sp->bump_lock);
}

/* Map fd over the pool in place (fork: a copy of the file, or the same
 * file copy-on-write) and, for a new file, keep it as the pool's. */
int vmlab_pool_space_remap(struct vmlab_pool_space *sp, int fd, int private)
{
    struct stat st;
    int flags = MAP_FIXED | (private ? MAP_PRIVATE | MAP_NORESERVE : MAP_SHARED);

    if (fstat(fd, &st) < 0)
        return -errno;
    if (mmap(sp->base, sp->size, PROT_READ | PROT_WRITE, flags, fd, 0) == MAP_FAILED)
        return -errno;
    if (fd != sp->fd) {
        if (sp->fd >= 0)
            close(sp->fd);
        sp->fd = fd;
        sp->dev = st.st_dev;
        sp->ino = st.st_ino;
    }
    return 0;
}

/* ---- arenas on a space ------------------------------------------------------ */

/* "<prefix><n><suffix>" for mallctl without stdio: libvmmalloc calls this
 * where it must not allocate. */
static const char *ctl_name(char *buf, size_t len, const char *prefix, unsigned n, const char *suffix)
{
    char num[16];
    int i = 15;
    num[i] = 0;
    do num[--i] = (char)('0' + n % 10); while ((n /= 10));
    if (strlen(prefix) + strlen(num + i) + strlen(suffix) >= len)
        return "";
    strcpy(buf, prefix);
    return strcat(strcat(buf, num + i), suffix);
}

int vmlab_pool_space_arena(struct vmlab_pool_space *sp, unsigned *arena)
{
    struct vmlab_je_arena_config cfg = {&sp->hooks, false};
    extent_hooks_t *hp = &sp->hooks;
    size_t sz = sizeof *arena;
    int r = mallctl("experimental.arenas_create_ext", arena, &sz, &cfg, sizeof cfg);
    if (r == ENOENT)            /* a jemalloc before 5.3: metadata in the pool */
        r = mallctl("arenas.create", arena, &sz, &hp, sizeof hp);
    return -r;
}

int vmlab_pool_arena_destroy(unsigned arena)
{
    char name[64];
    return -mallctl(ctl_name(name, sizeof name, "arena.", arena, ".destroy"), NULL, NULL, NULL, 0);
}

/* jemalloc coalesces freed extents lazily: a purge makes them retained and
 * coalesced, for a caller that found the pool full to retry. */
void vmlab_pool_arena_purge(unsigned arena)
{
    char name[64];
    mallctl(ctl_name(name, sizeof name, "arena.", arena, ".purge"), NULL, NULL, NULL, 0);
}

void vmlab_pool_stats_refresh(void)
{
    uint64_t epoch = 1;
    mallctl("epoch", NULL, NULL, &epoch, sizeof epoch);
}

size_t vmlab_pool_arena_stat(unsigned arena, const char *suffix)
{
    char name[96];
    size_t v = 0, sz = sizeof v;
    if (mallctl(ctl_name(name, sizeof name, "stats.arenas.", arena, suffix), &v, &sz, NULL, 0) != 0)
        return 0;
    return v;
}
