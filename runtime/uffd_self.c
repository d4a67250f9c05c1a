/* The mover thread of the uffd backend on vmlab's own segments
 * (include/vmlab/uffd_self.h).
 *
 * One thread per monitor owns a userfaultfd with every target range
 * registered MISSING whole (registration of a whole VMA cuts nothing; the
 * agent's per-page registration would cut one VMA into three per sample).
 * It serves the sampling thread's requests (arm these pages, check them,
 * put everything home) and the kernel's messages: a fault on a page it
 * holds moves the page back, which resolves it; a fault on a page never
 * populated is filled as the kernel would (zero page / zeroed page);
 * munmap, MADV_DONTNEED and mremap of a range come as events, so that
 * nothing old is ever moved back onto a zapped address.
 *
 * The thread never touches target memory, and takes no lock but its own
 * request mutex, which no thread holds while touching target memory: so a
 * Lua or workload thread faulting on a page that is out always gets it
 * back.  fork() puts every page home first (the child would see zeros). */
#include "uffd_self_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HUGE VMLAB_AGENT_HUGE

enum { U_DONE, U_OUT, U_HOLE };

static int move(struct vmlab_mover *m, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode)
{
    struct uffdio_move mv = {.dst = dst, .src = src, .len = len, .mode = mode};
    if (ioctl(m->uffd, UFFDIO_MOVE, &mv) == 0)
        return 0;
    return mv.move > 0 && (uint64_t)mv.move == len ? 0 : -errno;
}

static uint64_t slot_of(const struct vmlab_mover *m, const struct vmlab_mover_unit *u)
{
    uint64_t i = (uint64_t)(u - m->units);
    return u->len == HUGE ? m->hold + i * HUGE : m->small + i * m->page;
}

static int reg(struct vmlab_mover *m, uint64_t start, uint64_t len)
{
    struct uffdio_register r = {.range = {start, len}, .mode = UFFDIO_REGISTER_MODE_MISSING};
    return ioctl(m->uffd, UFFDIO_REGISTER, &r) < 0 ? -errno : 0;
}

static void unreg(struct vmlab_mover *m, uint64_t start, uint64_t len)
{
    struct uffdio_range r = {start, len};
    ioctl(m->uffd, UFFDIO_UNREGISTER, &r);
}

/* Empty a unit's slot: unregistered first, as MADV_DONTNEED of a range
 * registered with our uffd would wait for this very thread to read its
 * REMOVE event; a 2 MiB slot is mapped afresh (no page table under it). */
static void drop_slot(struct vmlab_mover *m, struct vmlab_mover_unit *u)
{
    uint64_t slot = slot_of(m, u);
    unreg(m, slot, u->len);
    if (u->len == HUGE) {
        mmap((void *)(uintptr_t)slot, HUGE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        madvise((void *)(uintptr_t)slot, HUGE, MADV_HUGEPAGE);
        madvise((void *)(uintptr_t)slot, HUGE, MADV_DONTFORK);
    } else {
        madvise((void *)(uintptr_t)slot, u->len, MADV_DONTNEED);
    }
    reg(m, slot, u->len);
}

/* Whether [lo, hi) lies inside one registered range (ranges follow munmap
 * and mremap: an address that left them is never armed). */
static int registered(const struct vmlab_mover *m, uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; i < m->nreg; i++)
        if (lo >= m->reg[i].start && hi <= m->reg[i].end)
            return 1;
    return 0;
}

static void events(struct vmlab_mover *m);

/* The move home was refused (the target's VMA changed under the held page:
 * mlock'ed, mprotect'ed): copy the data home instead, which resolves a
 * waiting fault too.  The slot is unregistered first: the kernel reading a
 * hole of a registered slot would fault to this very thread. */
static int copy_home(struct vmlab_mover *m, struct vmlab_mover_unit *u)
{
    uint64_t slot = slot_of(m, u);
    struct uffdio_copy c = {.dst = u->addr, .src = slot, .len = u->len};
    int e;
    unreg(m, slot, u->len);
    e = ioctl(m->uffd, UFFDIO_COPY, &c) < 0 ? -errno : 0;
    if (e == -EEXIST && c.copy >= 0 && (uint64_t)c.copy < u->len) {
        /* part of a huge unit was there already: page by page */
        e = 0;
        for (uint64_t off = 0; off < u->len; off += m->page) {
            struct uffdio_copy p1 = {.dst = u->addr + off, .src = slot + off, .len = m->page};
            if (ioctl(m->uffd, UFFDIO_COPY, &p1) < 0 && errno != EEXIST)
                e = -errno;
        }
    }
    drop_slot(m, u);   /* re-registers it */
    return e;
}

/* Move unit u back (its page, or whatever of its huge page is left);
 * -EAGAIN while the mm changes: read the events (which may zap the unit)
 * and try again: a page left in a slot would be lost. */
static void move_home(struct vmlab_mover *m, struct vmlab_mover_unit *u)
{
    for (int tries = 0; u->state == U_OUT; tries++) {
        int e = move(m, u->addr, slot_of(m, u), u->len, UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES);
        if (e == 0 || e == -EEXIST) {
            /* EEXIST: filled meanwhile (cannot happen while registered
             * MISSING and held); the held copy is dropped */
            if (e)
                drop_slot(m, u);
            u->state = U_DONE;
            return;
        }
        events(m);   /* an unmap or remap of it, pending: it zaps or moves u */
        if (u->state != U_OUT)
            return;
        /* refused for good (not -EAGAIN: the mm changing): copy instead */
        if (e != -EAGAIN) {
            int c = copy_home(m, u);
            if (c == 0 || c == -EEXIST) {   /* EEXIST: it was home already */
                u->state = U_DONE;
                return;
            }
        }
        if (tries >= (e == -EAGAIN ? 20000 : 100)) {
            /* lost: a waiting fault must not hang, so the range is
             * filled with zeros (counted; it should never happen) */
            struct uffdio_zeropage z = {.range = {u->addr, u->len}};
            struct uffdio_range w = {u->addr, u->len};
            m->lost++;
            drop_slot(m, u);
            ioctl(m->uffd, UFFDIO_ZEROPAGE, &z);
            ioctl(m->uffd, UFFDIO_WAKE, &w);
            u->state = U_DONE;
            return;
        }
        if (tries > 100)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        else if (tries > 2)
            sched_yield();
    }
}

static struct vmlab_mover_unit *find_unit(struct vmlab_mover *m, uint64_t addr)
{
    for (size_t i = 0; i < m->nunits; i++) {
        struct vmlab_mover_unit *u = &m->units[i];
        if (u->state != U_DONE && addr >= u->addr && addr < u->addr + u->len)
            return u;
    }
    return NULL;
}

/* A fault on a page we do not hold: never populated (or a hole unit).
 * Fill it as the kernel would; EEXIST: someone filled it, wake the fault. */
static void fill(struct vmlab_mover *m, uint64_t addr, int write)
{
    uint64_t page = addr & ~(m->page - 1);
    int e;
    if (write) {
        struct uffdio_copy c = {.dst = page, .src = m->zero, .len = m->page};
        e = ioctl(m->uffd, UFFDIO_COPY, &c) < 0 ? errno : 0;
    } else {
        struct uffdio_zeropage z = {.range = {page, m->page}};
        e = ioctl(m->uffd, UFFDIO_ZEROPAGE, &z) < 0 ? errno : 0;
    }
    if (e) {
        /* EEXIST, EAGAIN (mm changing) or gone: the fault retries */
        struct uffdio_range w = {page, m->page};
        ioctl(m->uffd, UFFDIO_WAKE, &w);
        if (e == EAGAIN)
            m->pending_fill = 1;
    }
}

static void fault(struct vmlab_mover *m, uint64_t addr, uint64_t fl)
{
    struct vmlab_mover_unit *u = find_unit(m, addr);
    int write = !!(fl & UFFD_PAGEFAULT_FLAG_WRITE);
    if (u) {
        u->flags |= VMLAB_AGENT_R_ACCESSED | (write ? VMLAB_AGENT_R_WRITE : 0);
        if (u->state == U_OUT) {
            move_home(m, u);
            return;   /* the move woke the fault */
        }
        u->state = U_DONE;   /* a hole: filled below */
    }
    fill(m, addr, write);
}

/* [start, end) was unmapped (or zeroed: MADV_DONTNEED): drop the held
 * copies there, bring back the rest of a huge unit cut by it. */
static void zap(struct vmlab_mover *m, uint64_t start, uint64_t end, int unmapped)
{
    for (size_t i = 0; i < m->nunits; i++) {
        struct vmlab_mover_unit *u = &m->units[i];
        uint64_t lo, hi, uend = u->addr + u->len, slot = slot_of(m, u);
        if (u->state == U_DONE || end <= u->addr || start >= uend)
            continue;
        lo = start > u->addr ? start : u->addr;
        hi = end < uend ? end : uend;
        if (u->state == U_OUT) {
            if (lo > u->addr)
                move(m, u->addr, slot, lo - u->addr, UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES);
            if (hi < uend)
                move(m, hi, slot + (hi - u->addr), uend - hi, UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES);
            drop_slot(m, u);
        }
        u->flags |= VMLAB_AGENT_R_GONE;
        u->state = U_DONE;
    }
    if (!unmapped)
        return;
    /* the registered ranges lose [start, end) */
    for (size_t i = 0; i < m->nreg; i++) {
        struct vmlab_range *r = &m->reg[i];
        if (end <= r->start || start >= r->end)
            continue;
        if (start > r->start && end < r->end && m->nreg < m->capreg) {
            memmove(r + 2, r + 1, (m->nreg - i - 1) * sizeof *r);
            r[1] = (struct vmlab_range){end, r->end};
            r->end = start;
            m->nreg++;
            i++;
        } else if (start <= r->start) {
            r->start = end < r->end ? end : r->end;
        } else {
            r->end = start;
        }
    }
}

static void remap(struct vmlab_mover *m, uint64_t from, uint64_t to, uint64_t len)
{
    for (size_t k = 0; k < m->nunits; k++) {
        struct vmlab_mover_unit *u = &m->units[k];
        if (u->state != U_DONE && u->addr >= from && u->addr < from + len)
            u->addr = u->addr - from + to;
    }
    /* the range moved: it stays registered where it went, but it is no
     * target any more (the monitor's targets are fixed): not armed */
    zap(m, from, from + len, 1);
}

/* Handle whatever the kernel queued (faults and events); never blocks. */
static void events(struct vmlab_mover *m)
{
    struct uffd_msg ev[32];
    for (;;) {
        ssize_t r = read(m->uffd, ev, sizeof ev);
        if (r <= 0)
            break;
        for (size_t i = 0; i < (size_t)r / sizeof ev[0]; i++) {
            switch (ev[i].event) {
            case UFFD_EVENT_PAGEFAULT:
                fault(m, ev[i].arg.pagefault.address, ev[i].arg.pagefault.flags);
                break;
            case UFFD_EVENT_UNMAP:
                zap(m, ev[i].arg.remove.start, ev[i].arg.remove.end, 1);
                break;
            case UFFD_EVENT_REMOVE:
                zap(m, ev[i].arg.remove.start, ev[i].arg.remove.end, 0);
                break;
            case UFFD_EVENT_REMAP:
                remap(m, ev[i].arg.remap.from, ev[i].arg.remap.to, ev[i].arg.remap.len);
                break;
            }
        }
    }
    m->pending_fill = 0;
}

/* Page categories of addr (PAGE_IS_*), -errno on failure. */
static int64_t categories(struct vmlab_mover *m, uint64_t addr)
{
    struct page_region pr;
    struct pm_scan_arg s = {.size = sizeof s, .start = addr, .end = addr + m->page,
                            .vec = (uint64_t)(uintptr_t)&pr, .vec_len = 1,
                            .return_mask = PAGE_IS_PRESENT | PAGE_IS_HUGE | PAGE_IS_SWAPPED};
    long n = ioctl(m->pagemap, PAGEMAP_SCAN, &s);
    if (n < 0)
        return -errno;
    return n ? (int64_t)pr.categories : 0;
}

/* Whether anything of [slot, slot + len) is there (a move that failed
 * half way leaves part of a huge page in its slot). */
static int slot_has_pages(struct vmlab_mover *m, uint64_t slot, uint64_t len)
{
    struct page_region pr;
    struct pm_scan_arg s = {.size = sizeof s, .start = slot, .end = slot + len,
                            .vec = (uint64_t)(uintptr_t)&pr, .vec_len = 1,
                            .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                            .return_mask = PAGE_IS_PRESENT};
    return ioctl(m->pagemap, PAGEMAP_SCAN, &s) != 0;   /* an error: assume so */
}

/* Take one page (its whole huge page inside a THP) out. */
static void arm_one(struct vmlab_mover *m, uint64_t addr, size_t i)
{
    uint64_t page = addr & ~(m->page - 1), len = m->page;
    struct vmlab_mover_unit *u;
    int64_t cat;
    int e;

    if (m->nunits) {   /* two samples in one unit: they come in address order */
        u = &m->units[m->nunits - 1];
        if (page >= u->addr && page < u->addr + u->len) {
            m->map[i] = (uint32_t)(m->nunits - 1);
            return;
        }
    }
    u = &m->units[m->nunits];
    m->map[i] = (uint32_t)m->nunits++;
    *u = (struct vmlab_mover_unit){.addr = page, .len = len, .state = U_DONE};
    if (m->paused || !registered(m, page, page + len)) {
        u->flags = m->paused ? VMLAB_AGENT_R_UNMON : VMLAB_AGENT_R_GONE | VMLAB_AGENT_R_UNMON;
        return;
    }
    cat = categories(m, page);
    if (cat < 0 || (cat & PAGE_IS_SWAPPED)) {
        u->flags = VMLAB_AGENT_R_UNMON;
        return;
    }
    if (!(cat & PAGE_IS_PRESENT)) {
        /* never populated: its first touch comes to us anyway */
        u->state = U_HOLE;
        u->flags = VMLAB_AGENT_R_HOLE;
        return;
    }
    if (cat & PAGE_IS_HUGE) {
        uint64_t h = page & ~(HUGE - 1);
        if (registered(m, h, h + HUGE)) {
            u->addr = h;
            u->len = HUGE;
            u->flags |= VMLAB_AGENT_R_HUGE;
        }
    }
    for (int tries = 0; (e = move(m, slot_of(m, u), u->addr, u->len, 0)) == -EAGAIN && tries < 100; tries++) {
        events(m);   /* an event is pending: read it first */
        sched_yield();
    }
    if (e == 0) {
        u->state = U_OUT;
        return;
    }
    /* a huge page split meanwhile moves part of it: bring that back */
    if (slot_has_pages(m, slot_of(m, u), u->len)) {
        u->state = U_OUT;
        move_home(m, u);
    }
    if (u->len == HUGE)
        drop_slot(m, u);
    u->state = U_DONE;
    u->flags = e == -ENOENT ? VMLAB_AGENT_R_HOLE : VMLAB_AGENT_R_UNMON;   /* pinned, shared... */
}

static void put_all_home(struct vmlab_mover *m)
{
    events(m);
    for (size_t i = 0; i < m->nunits; i++)
        if (m->units[i].state == U_OUT)
            move_home(m, &m->units[i]);
}

static void do_arm(struct vmlab_mover *m)
{
    put_all_home(m);   /* an unchecked batch */
    m->nunits = 0;
    for (size_t i = 0; i < m->req_n; i++) {
        arm_one(m, m->req_addr[i], i);
        events(m);   /* answer faults as we go */
    }
    m->naddr = m->req_n;
}

static void do_check(struct vmlab_mover *m)
{
    put_all_home(m);
    for (size_t i = 0; i < m->naddr; i++)
        m->res[i] = m->units[m->map[i]].flags;
    m->nres = m->naddr;
    m->nunits = m->naddr = 0;
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *mover_main(void *arg)
{
    struct vmlab_mover *m = arg;
    int bye = 0;

    while (!bye) {
        struct pollfd p[2] = {{m->uffd, POLLIN, 0}, {m->ctl, POLLIN, 0}};
        uint64_t v, t0;
        int req;
        if (poll(p, 2, m->pending_fill ? 1 : -1) < 0 && errno != EINTR)
            break;
        t0 = cpu_ns();
        events(m);
        if (p[1].revents & POLLIN) {
            if (read(m->ctl, &v, sizeof v) < 0) {
            }
            pthread_mutex_lock(&m->mu);
            req = m->req;
            pthread_mutex_unlock(&m->mu);
            switch (req) {
            case MOVER_ARM: do_arm(m); break;
            case MOVER_CHECK: do_check(m); break;
            case MOVER_PAUSE: put_all_home(m); m->nunits = m->naddr = 0; m->paused = 1; break;
            case MOVER_RESUME: m->paused = 0; break;
            case MOVER_BYE: put_all_home(m); m->nunits = m->naddr = 0; bye = 1; break;
            }
            pthread_mutex_lock(&m->mu);
            m->req = 0;
            m->done++;
            pthread_cond_broadcast(&m->cv);
            pthread_mutex_unlock(&m->mu);
        }
        __atomic_add_fetch(&m->cpu_ns, cpu_ns() - t0, __ATOMIC_RELAXED);
    }
    return NULL;
}

int vmlab_mover_request(struct vmlab_mover *m, int req)
{
    uint64_t one = 1;
    unsigned long done;
    int e = 0;

    pthread_mutex_lock(&m->mu);
    while (m->req)   /* a fork's request and the sampler's: one at a time */
        pthread_cond_wait(&m->cv, &m->mu);
    m->req = req;
    done = m->done;
    if (write(m->ctl, &one, sizeof one) != sizeof one)
        e = -errno;
    while (!e && m->done == done)
        pthread_cond_wait(&m->cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
    return e;
}

/* ---- fork: every page home first --------------------------------------------- */

static pthread_mutex_t movers_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vmlab_mover *movers;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
    pthread_mutex_lock(&movers_mu);
    for (struct vmlab_mover *m = movers; m; m = m->next)
        vmlab_mover_request(m, MOVER_PAUSE);
}

static void parent_after_fork(void)
{
    for (struct vmlab_mover *m = movers; m; m = m->next)
        vmlab_mover_request(m, MOVER_RESUME);
    pthread_mutex_unlock(&movers_mu);
}

static void child_after_fork(void)
{
    /* the child has neither the threads nor the registrations (no
     * UFFD_FEATURE_EVENT_FORK): its copies of the movers are inert */
    movers = NULL;
    pthread_mutex_unlock(&movers_mu);
}

static void install_atfork(void)
{
    pthread_atfork(before_fork, parent_after_fork, child_after_fork);
}

/* ---- set-up and teardown ------------------------------------------------------- */

static int map_slots(struct vmlab_mover *m)
{
    uint64_t raw;
    m->hold_len = (uint64_t)m->cap * HUGE;
    raw = (uint64_t)(uintptr_t)mmap(NULL, m->hold_len + HUGE, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if ((void *)(uintptr_t)raw == MAP_FAILED)
        return -errno;
    m->hold = (raw + HUGE - 1) & ~(HUGE - 1);
    if (m->hold > raw)
        munmap((void *)(uintptr_t)raw, m->hold - raw);
    munmap((void *)(uintptr_t)(m->hold + m->hold_len), raw + HUGE - m->hold);
    madvise((void *)(uintptr_t)m->hold, m->hold_len, MADV_HUGEPAGE);
    m->small_len = (uint64_t)m->cap * m->page;
    m->small = (uint64_t)(uintptr_t)mmap(NULL, m->small_len + m->page, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if ((void *)(uintptr_t)m->small == MAP_FAILED) {
        m->small = 0;
        return -errno;
    }
    /* the last page of the small area is the zero source for UFFDIO_COPY */
    m->zero = m->small + m->small_len;
    madvise((void *)(uintptr_t)m->hold, m->hold_len, MADV_DONTFORK);
    madvise((void *)(uintptr_t)m->small, m->small_len + m->page, MADV_DONTFORK);
    if (reg(m, m->hold, m->hold_len) < 0 || reg(m, m->small, m->small_len) < 0)
        return -errno;
    return 0;
}

int vmlab_mover_new(struct vmlab_mover **out, const struct vmlab_range *r, size_t n, size_t cap,
                    char *why, size_t len)
{
    struct uffdio_api api = {.api = UFFD_API,
                             .features = UFFD_FEATURE_MOVE | UFFD_FEATURE_EVENT_UNMAP |
                                         UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_REMAP};
    struct vmlab_mover *m = calloc(1, sizeof *m);
    int e;

    *out = NULL;
    if (!m) {
        snprintf(why, len, "not enough memory");
        return -ENOMEM;
    }
    m->uffd = m->ctl = m->pagemap = -1;
    m->page = (uint64_t)sysconf(_SC_PAGESIZE);
    m->cap = cap;
    m->capreg = n + 64;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    m->reg = calloc(m->capreg, sizeof *m->reg);
    m->units = calloc(cap, sizeof *m->units);
    m->map = calloc(cap, sizeof *m->map);
    m->res = calloc(cap, sizeof *m->res);
    m->req_addr = calloc(cap, sizeof *m->req_addr);
    if (!m->reg || !m->units || !m->map || !m->res || !m->req_addr) {
        vmlab_mover_free(m);
        snprintf(why, len, "not enough memory");
        return -ENOMEM;
    }
    m->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (m->uffd < 0 || ioctl(m->uffd, UFFDIO_API, &api) < 0) {
        e = -errno;
        snprintf(why, len, "userfaultfd(MOVE, UNMAP/REMOVE/REMAP events): %s%s", strerror(-e),
                 e == -EPERM ? " (vm.unprivileged_userfaultfd is 0 and no CAP_SYS_PTRACE, or a seccomp "
                 "filter; mode = \"write\" needs neither)"
                 : e == -EINVAL ? " (Linux 6.8 or later is needed)" : "");
        vmlab_mover_free(m);
        return e;
    }
    m->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    m->ctl = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (m->pagemap < 0 || m->ctl < 0 || (e = map_slots(m)) < 0) {
        e = -errno;
        snprintf(why, len, "setting up the mover (pagemap, eventfd, holding area): %s", strerror(-e));
        vmlab_mover_free(m);
        return e;
    }
    for (size_t i = 0; i < n; i++) {
        if (reg(m, r[i].start, r[i].end - r[i].start) < 0) {
            e = -errno;
            snprintf(why, len, "target %zu: UFFDIO_REGISTER [0x%llx, 0x%llx): %s%s", i + 1,
                     (unsigned long long)r[i].start, (unsigned long long)r[i].end, strerror(-e),
                     e == -EBUSY ? " (another uffd watches it: one uffd monitor per segment)" : "");
            vmlab_mover_free(m);
            return e == -EBUSY ? -EINVAL : e;
        }
        m->reg[m->nreg++] = r[i];
    }
    pthread_once(&atfork_once, install_atfork);
    {   /* the thread takes no signal: SIGINT is the Lua thread's */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        e = pthread_create(&m->th, NULL, mover_main, m);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (e != 0) {
        snprintf(why, len, "pthread_create(mover): %s", strerror(e));
        vmlab_mover_free(m);
        return -e;
    }
    m->running = 1;
    pthread_mutex_lock(&movers_mu);
    m->next = movers;
    movers = m;
    pthread_mutex_unlock(&movers_mu);
    *out = m;
    return 0;
}

void vmlab_mover_free(struct vmlab_mover *m)
{
    if (!m)
        return;
    if (m->running) {
        pthread_mutex_lock(&movers_mu);
        for (struct vmlab_mover **p = &movers; *p; p = &(*p)->next)
            if (*p == m) {
                *p = m->next;
                break;
            }
        pthread_mutex_unlock(&movers_mu);
        vmlab_mover_request(m, MOVER_BYE);   /* every page home */
        pthread_join(m->th, NULL);
    }
    if (m->uffd >= 0)
        close(m->uffd);   /* unregisters everything */
    if (m->hold)
        munmap((void *)(uintptr_t)m->hold, m->hold_len);
    if (m->small)
        munmap((void *)(uintptr_t)m->small, m->small_len + m->page);
    if (m->pagemap >= 0)
        close(m->pagemap);
    if (m->ctl >= 0)
        close(m->ctl);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m->reg);
    free(m->units);
    free(m->map);
    free(m->res);
    free(m->req_addr);
    free(m);
}
