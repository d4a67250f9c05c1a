/* libvmlab-agent.so: vmlab's hands inside a monitored command.
 *
 * Loaded with LD_PRELOAD, its constructor opens a userfaultfd, maps a
 * 2 MiB-aligned holding area and starts one thread that serves vmlab's
 * requests (include/vmlab/uffd.h): ARM moves each sampled page (or its
 * whole 2 MiB huge page, never a piece of one) into the holding area and
 * registers its range MISSING; the program's next touch faults to the
 * thread, which moves the page back (that resolves the fault) and notes a
 * read or a write; CHECK moves back what nobody touched and answers.
 *
 * The thread is the only one that resolves faults, so it must never touch
 * a page that may be out: everything it uses (its stack, its state, the
 * holding area) is mmap'ed apart and named to vmlab as not to be sampled;
 * it binds symbols at load (-z now) and blocks every signal.
 *
 * What the program does to a page while it is out comes as uffd events:
 * munmap (UNMAP) and MADV_DONTNEED (REMOVE) drop the held copy, so nothing
 * old lands on a zapped address; mremap (REMAP) moves the unit's address;
 * fork (FORK) copies held pages into the child through the child's uffd.
 * When vmlab goes away (hang-up, BYE), every page goes back, the ranges are
 * unregistered and the program runs on as it was. */
#include "agent.h"

static uint64_t cpu_ns(void)
{
    struct timespec ts = {0, 0};
    rsys(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, (long)(uintptr_t)&ts, 0, 0, 0, 0);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
    struct timespec ts = {0, 0};
    rsys(SYS_clock_gettime, CLOCK_MONOTONIC, (long)(uintptr_t)&ts, 0, 0, 0, 0);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void agent_dbg(const struct agent *a, const char *what, long v)
{
    char buf[128];
    size_t n = 0;
    unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
    char num[24];
    int k = 0;
    if (!a->debug)
        return;
    for (const char *p = "vmlab-agent: "; *p; p++)
        buf[n++] = *p;
    for (; *what && n < 90; what++)
        buf[n++] = *what;
    buf[n++] = ' ';
    if (v < 0)
        buf[n++] = '-';
    do
        num[k++] = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    while (k > 0)
        buf[n++] = num[--k];
    buf[n++] = '\n';
    rsys(SYS_write, 2, (long)(uintptr_t)buf, (long)n, 0, 0, 0);
}

int agent_send(struct agent *a, uint32_t type, uint32_t seq, int64_t arg, size_t n)
{
    a->out.h.type = type;
    a->out.h.n = (uint32_t)n;
    a->out.h.seq = seq;
    a->out.h.arg = arg;
    long r = rsys(SYS_sendto, a->sock, (long)(uintptr_t)&a->out, (long)(sizeof a->out.h + n * 8),
                  MSG_NOSIGNAL, 0, 0);
    return r < 0 ? (int)r : 0;
}

int agent_reg(struct agent *a, uint64_t start, uint64_t len, uint64_t mode)
{
    struct uffdio_register r = {.range = {start, len}, .mode = mode};
    long e = R_IOCTL(a->uffd, UFFDIO_REGISTER, &r);
    return e < 0 ? (int)e : 0;
}

static void unreg(struct agent *a, uint64_t start, uint64_t len)
{
    agent_unreg(a, start, len);
}

static int move(struct agent *a, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode)
{
    struct uffdio_move m = {.dst = dst, .src = src, .len = len, .mode = mode};
    long e = R_IOCTL(a->uffd, UFFDIO_MOVE, &m);
    if (e == 0)
        return 0;
    return m.move > 0 && (uint64_t)m.move == len ? 0 : (int)e;
}

static uint64_t slot_of(struct agent *a, const struct unit *u)
{
    uint64_t i = (uint64_t)(u - a->units);
    return u->len == HUGE ? a->hold + i * HUGE : a->small + i * a->page;
}

/* Empty unit u's slot.  Its range is registered with our uffd, and
 * MADV_DONTNEED there would wait for this very thread to read the event;
 * a 2 MiB slot is mapped afresh so that no page table is left under it. */
static void drop_slot(struct agent *a, struct unit *u)
{
    uint64_t slot = slot_of(a, u);
    unreg(a, slot, u->len);
    if (u->len == HUGE) {
        rsys(SYS_mmap, (long)slot, (long)HUGE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        rsys(SYS_madvise, (long)slot, (long)HUGE, MADV_HUGEPAGE, 0, 0, 0);
        rsys(SYS_madvise, (long)slot, (long)HUGE, MADV_DONTFORK, 0, 0, 0);
    } else {
        rsys(SYS_madvise, (long)slot, (long)u->len, MADV_DONTNEED, 0, 0, 0);
    }
    agent_reg(a, slot, u->len, UFFDIO_REGISTER_MODE_MISSING);
}

static void events(struct agent *a);

/* Move unit u back where it lives now.  The move fails while the program
 * changes its mappings (-EAGAIN) or after it did (the event not read yet):
 * read the events (which may zap or move the unit) and try again, since a
 * page left in the holding area would be lost to the program. */
static int move_home(struct agent *a, struct unit *u)
{
    for (int tries = 0; u->state == U_OUT; tries++) {
        int e = move(a, u->addr, slot_of(a, u), u->len, UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES);
        if (e == 0)
            return 0;
        /* Its home lost our registration behind our back (-EINVAL: a
         * chunk registered over a page the program unmapped and mapped
         * again meanwhile; UFFDIO_REGISTER skips holes silently): take it
         * again, the move needs it.  The program has a page there of its
         * own (-EEXIST: it touched the home unregistered): ours is stale,
         * and no retry can land it. */
        if (e == -EINVAL && tries < 3) {
            events(a);
            if (u->state == U_OUT)
                agent_reg(a, u->addr, u->len, UFFDIO_REGISTER_MODE_MISSING);
            continue;
        }
        if (e == -EEXIST) {
            events(a);
            if (u->state != U_OUT)
                break;
            agent_dbg(a, "a unit's home holds a page of the program's: dropped", (long)u->addr);
            a->lost++;
            drop_slot(a, u);   /* the caller forgets the unit */
            return -EIO;
        }
        /* -EAGAIN lasts until the thread that changed the mappings has
         * run again after we read its event: on a busy machine that takes
         * a while, so back off to sleeps (a minute before giving up) */
        if (tries >= 60100) {
            agent_dbg(a, "a unit could not go home: error", e);
            agent_dbg(a, "  unit at", (long)u->addr);
            a->lost++;
            return -EIO;
        }
        events(a);
        if (tries > 100) {
            struct timespec ts = {0, 1000000};
            rsys(SYS_nanosleep, (long)(uintptr_t)&ts, 0, 0, 0, 0, 0);
        } else if (tries > 2) {
            rsys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
        }
    }
    return 0;   /* zapped meanwhile: nothing to bring back */
}

/* Put unit u back (whatever of it is still the program's) and forget it. */
static void put_back(struct agent *a, struct unit *u)
{
    if (u->state == U_OUT)
        move_home(a, u);
    if ((u->state == U_OUT || u->state == U_HOLE) && !u->kept)
        unreg(a, u->addr, u->len);
    u->state = U_DONE;
}

static struct unit *find_unit(struct agent *a, uint64_t addr)
{
    if (a->sorted) {   /* units are armed in address order: bisect */
        size_t lo = 0, hi = a->nunits;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            struct unit *u = &a->units[mid];
            if (addr < u->addr)
                hi = mid;
            else if (addr >= u->addr + u->len)
                lo = mid + 1;
            else
                return u->state != U_DONE ? u : NULL;
        }
        return NULL;
    }
    for (size_t i = 0; i < a->nunits; i++) {
        struct unit *u = &a->units[i];
        if (u->state != U_DONE && addr >= u->addr && addr < u->addr + u->len)
            return u;
    }
    return NULL;
}

/* [start, end) of the program's memory goes away (unmapped) or is zeroed
 * (MADV_DONTNEED): held copies of it are dropped, what is left of a unit
 * outside it goes back. */
static void zap(struct agent *a, uint64_t start, uint64_t end, int unmapped)
{
    for (size_t i = 0; i < a->nunits; i++) {
        struct unit *u = &a->units[i];
        uint64_t lo, hi, uend = u->addr + u->len, slot = slot_of(a, u);
        int was_out = u->state == U_OUT;
        if (u->state == U_DONE || end <= u->addr || start >= uend)
            continue;
        lo = start > u->addr ? start : u->addr;
        hi = end < uend ? end : uend;
        if (u->state == U_OUT) {
            if (lo > u->addr)
                move(a, u->addr, slot, lo - u->addr, UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES);
            if (hi < uend)
                move(a, hi, slot + (hi - u->addr), uend - hi, UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES);
        }
        if (lo > u->addr && !u->kept)
            unreg(a, u->addr, lo - u->addr);
        if (hi < uend && !u->kept)
            unreg(a, hi, uend - hi);
        if (!unmapped && !u->kept)
            unreg(a, lo, hi - lo);
        if (was_out)
            drop_slot(a, u);   /* the zapped part: never back */
        u->flags |= VMLAB_AGENT_R_GONE;
        u->state = U_DONE;
    }
    agent_chunks_release(a, start, end, unmapped);
}

/* Move a touched unit back (that resolves the fault); -EAGAIN while the
 * mm is changing: an event is queued, to be read first. */
static int bring_back(struct agent *a, struct unit *u)
{
    if (u->state == U_OUT) {
        int e = move(a, u->addr, slot_of(a, u), u->len, UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES);
        if (e < 0)
            return e;   /* retried once the queued events are read */
    }
    if (!u->kept)
        unreg(a, u->addr, u->len);
    u->state = U_DONE;
    return 0;
}

static int64_t categories(struct agent *a, uint64_t addr);

static void fault(struct agent *a, uint64_t addr, uint64_t fl)
{
    struct unit *u = find_unit(a, addr);
    if (!u) {
        /* Nothing held there: a fault the move back already woke, a
         * chunk's page gone missing behind our back, or a registration
         * left by an mremap.  Drop the registration, then wake it: the
         * kernel's UNREGISTER wakes the range's faults before it clears
         * the VMA, so a fault entering under the per-VMA lock between the
         * two sleeps on in a VMA no longer registered (a chunk released
         * on MADV_DONTNEED's REMOVE while the program already reads the
         * page), and a second UNREGISTER finds nothing to wake: the
         * program hung in handle_userfault. */
        uint64_t page = addr & ~(a->page - 1);
        struct uffdio_range w = {page, a->page};
        if (agent_in_chunk(a, page)) {
            int64_t cat = categories(a, page);
            if (cat < 0 || !(cat & PAGE_IS_PRESENT))
                agent_chunks_release(a, page, page + a->page, 0);
            /* else home already (put back as it faulted): only wake it */
        } else {
            unreg(a, page, a->page);
        }
        R_IOCTL(a->uffd, UFFDIO_WAKE, &w);
        return;
    }
    u->flags |= VMLAB_AGENT_R_ACCESSED | (fl & UFFD_PAGEFAULT_FLAG_WRITE ? VMLAB_AGENT_R_WRITE : 0);
    if (bring_back(a, u) < 0)
        a->pending++;
}

/* Handle whatever the kernel queued (faults and events); never blocks. */
static void events(struct agent *a)
{
    for (;;) {
        long r = rsys(SYS_read, a->uffd, (long)(uintptr_t)a->ev, (long)sizeof a->ev, 0, 0, 0);
        size_t nf = 0;
        if (r <= 0)
            return;
        for (size_t i = 0; i < (size_t)r / sizeof a->ev[0]; i++) {
            struct uffd_msg *m = &a->ev[i];
            if (m->event != UFFD_EVENT_PAGEFAULT && a->debug > 1) {
                agent_dbg(a, "event", m->event);
                agent_dbg(a, "  a", (long)m->arg.remap.from);
                agent_dbg(a, "  b", (long)m->arg.remap.to);
            }
            switch (m->event) {
            case UFFD_EVENT_PAGEFAULT:
                fault(a, m->arg.pagefault.address, m->arg.pagefault.flags);
                nf++;
                break;
            case UFFD_EVENT_UNMAP:
                zap(a, m->arg.remove.start, m->arg.remove.end, 1);
                break;
            case UFFD_EVENT_REMOVE:
                zap(a, m->arg.remove.start, m->arg.remove.end, 0);
                break;
            case UFFD_EVENT_FORK:   /* a raw clone: the child gets the held pages */
                agent_fork_event(a, (int)m->arg.fork.ufd);
                break;
            case UFFD_EVENT_REMAP:
                a->sorted = 0;
                agent_chunks_remap(a, m->arg.remap.from, m->arg.remap.to, m->arg.remap.len);
                for (size_t k = 0; k < a->nunits; k++) {
                    struct unit *u = &a->units[k];
                    if (u->state != U_DONE && u->addr >= m->arg.remap.from &&
                        u->addr < m->arg.remap.from + m->arg.remap.len)
                        u->addr = u->addr - m->arg.remap.from + m->arg.remap.to;
                }
                break;
            }
        }
        /* faults that met a changing mm: their events are read now */
        for (size_t k = 0; a->pending && k < a->nunits; k++) {
            struct unit *u = &a->units[k];
            if (u->state == U_OUT && (u->flags & VMLAB_AGENT_R_ACCESSED) && bring_back(a, u) == 0)
                a->pending--;
        }
        /* The program's lost time: each fault waited from about when we
         * last looked (poll's return, or the start of the arming that
         * caused it) until now; the agent's wake-up is not seen. */
        if (nf) {
            uint64_t now = mono_ns();
            if (a->look_ns && now > a->look_ns)
                a->lost_ns += nf * (now - a->look_ns);
            a->look_ns = now;
        }
    }
}

/* Page categories of addr in this process (PAGE_IS_*), -errno on failure. */
static int64_t categories(struct agent *a, uint64_t addr)
{
    struct page_region pr[1];
    struct pm_scan_arg s = {
        .size = sizeof s, .start = addr, .end = addr + a->page, .vec = (uint64_t)(uintptr_t)pr,
        .vec_len = 1, .return_mask = PAGE_IS_PRESENT | PAGE_IS_HUGE | PAGE_IS_FILE | PAGE_IS_SWAPPED |
                                     PAGE_IS_PFNZERO};
    long n = R_IOCTL(a->pagemap, PAGEMAP_SCAN, &s);
    if (n < 0)
        return n;
    return n ? (int64_t)pr[0].categories : 0;
}

/* How many pages in [lo, hi) are present or swapped (0: none), or -errno. */
static long present_in(struct agent *a, uint64_t lo, uint64_t hi)
{
    struct page_region pr[1];
    struct pm_scan_arg s = {
        .size = sizeof s, .start = lo, .end = hi, .vec = (uint64_t)(uintptr_t)pr, .vec_len = 1,
        .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED, .return_mask = PAGE_IS_PRESENT};
    return R_IOCTL(a->pagemap, PAGEMAP_SCAN, &s);
}

static int in_self(const struct agent *a, uint64_t lo, uint64_t hi)
{
    return agent_in_self(a, lo, hi);
}

/* The first n units of the batch meeting [lo, hi), or NULL.  Units of a
 * batch never overlap: find_unit's bisection needs it, and a unit whose
 * range covers another's would unregister it, out, when it is done. */
static struct unit *unit_meeting(struct agent *a, uint64_t lo, uint64_t hi, size_t n)
{
    for (size_t k = n; k-- > 0;) {
        struct unit *u = &a->units[k];
        if (lo < u->addr + u->len && hi > u->addr)
            return u;
        if (a->sorted && u->addr + u->len <= lo)
            break;   /* in address order: every earlier unit ends before */
    }
    return NULL;
}

/* Take one page (or its huge page) out; returns its R_* flags or the unit. */
static void arm_one(struct agent *a, uint64_t addr, size_t i)
{
    uint64_t page = addr & ~(a->page - 1), len = a->page;
    int64_t cat;
    struct unit *u;
    int e;

    if (a->nunits) {
        u = unit_meeting(a, page, page + len, a->nunits);
        if (u) {
            a->map[i] = (uint32_t)(u - a->units);   /* two samples in one unit */
            return;
        }
        if (page < a->units[a->nunits - 1].addr)
            a->sorted = 0;
    }
    u = &a->units[a->nunits];
    a->map[i] = (uint32_t)a->nunits++;
    u->flags = 0;
    u->kept = 0;
    u->state = U_DONE;
    u->addr = page;
    u->len = len;
    cat = in_self(a, page, page + len) ? -EPERM : categories(a, page);
    if (cat < 0 || (cat & (PAGE_IS_FILE | PAGE_IS_SWAPPED))) {
        u->flags = VMLAB_AGENT_R_UNMON;
        return;
    }
    if (cat & PAGE_IS_HUGE) {
        page &= ~(HUGE - 1);
        len = HUGE;
        if (u > a->units && page < u[-1].addr + u[-1].len)
            a->sorted = 0;
        u->flags |= VMLAB_AGENT_R_HUGE;
        /* a page of it armed alone (collapsed since): leave it be */
        if (in_self(a, page, page + len) || unit_meeting(a, page, page + len, a->nunits - 1)) {
            u->flags = VMLAB_AGENT_R_UNMON;
            return;
        }
    }
    if (!(cat & PAGE_IS_PRESENT) && agent_in_chunk(a, page))
        agent_chunks_release(a, page, page + a->page, 0);   /* a hole we were not told of */
    if (!(cat & PAGE_IS_PRESENT)) {
        /* Never touched: arm the whole empty 2 MiB around it when there is
         * one, so that its VMA is not cut where a huge page could come.
         * Pages of this batch's units are out, so not present: a 2 MiB
         * holding one is not empty (done, this unit would unregister the
         * range under it, and the program's touch there would get a
         * zero page while its data waits in a slot). */
        uint64_t h = page & ~(HUGE - 1);
        if (!in_self(a, h, h + HUGE) && !unit_meeting(a, h, h + HUGE, a->nunits - 1) &&
            present_in(a, h, h + HUGE) == 0 &&
            agent_reg(a, h, HUGE, UFFDIO_REGISTER_MODE_MISSING) == 0) {
            u->addr = h;
            u->len = HUGE;
            if (u > a->units && h < u[-1].addr + u[-1].len)
                a->sorted = 0;
            u->state = U_HOLE;
            u->flags |= VMLAB_AGENT_R_HOLE;
            return;
        }
    }
    u->addr = page;
    u->len = len;
    u->kept = (cat & PAGE_IS_PRESENT) && agent_chunk_take(a, page);
    if (!u->kept && agent_reg(a, page, len, UFFDIO_REGISTER_MODE_MISSING) < 0) {
        u->flags = VMLAB_AGENT_R_UNMON;   /* not anonymous, or someone else's uffd */
        return;
    }
    /* Registered, nothing held yet: the events below (munmap, mremap of
     * it meanwhile) must see the unit. */
    u->state = U_HOLE;
    if (!(cat & PAGE_IS_PRESENT)) {
        u->flags |= VMLAB_AGENT_R_HOLE;   /* its first touch faults anyway */
        return;
    }
    for (int tries = 0; (e = move(a, slot_of(a, u), u->addr, u->len, 0)) == -EAGAIN && tries < 100; tries++) {
        events(a);                        /* an event is pending: take it first */
        if (u->state != U_HOLE)
            return;                       /* zapped meanwhile */
        rsys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
    }
    if (e == 0) {
        u->state = U_OUT;
        return;
    }
    if (u->state != U_HOLE)
        return;                           /* zapped meanwhile */
    /* Whatever did move goes back (a huge page split meanwhile moves page
     * by page); the slot is emptied for the next unit. */
    u->state = U_OUT;
    if (present_in(a, slot_of(a, u), slot_of(a, u) + u->len) != 0)
        move_home(a, u);
    if (!u->kept)
        unreg(a, u->addr, u->len);
    u->state = U_DONE;
    if (u->len == HUGE)
        drop_slot(a, u);
    u->flags = e == -ENOENT ? VMLAB_AGENT_R_HOLE : VMLAB_AGENT_R_UNMON;   /* shared with a child, pinned... */
}

static void check(struct agent *a, uint32_t seq)
{
    uint64_t now;

    agent_follow_target(a);
    events(a);
    for (size_t i = 0; i < a->nunits; i++)
        put_back(a, &a->units[i]);
    for (size_t i = 0; i < a->naddr; i++)
        a->out.v[i] = a->units[a->map[i]].flags;
    a->out.v[a->naddr] = a->lost_ns;   /* after the flags: the program's lost time */
    a->out.v[a->naddr + 1] = a->sys_ns;   /* and its time in the kernel */
    a->lost_ns = a->sys_ns = 0;
    now = cpu_ns();
    agent_send(a, VMLAB_AGENT_RESULT, seq, (int64_t)(now - a->last_cpu_ns), a->naddr + 2);
    a->last_cpu_ns = now;
    a->nunits = a->naddr = a->pending = 0;
}

/* follow: 0 right after a CHECK, which just did */
static void arm(struct agent *a, size_t n, int follow)
{
    if (follow)
        agent_follow_target(a);
    events(a);
    for (size_t i = 0; i < a->nunits; i++)   /* an unchecked batch */
        put_back(a, &a->units[i]);
    a->nunits = a->naddr = a->pending = 0;
    a->sorted = 1;
    a->look_ns = mono_ns();   /* a fault from these moves waits from here at most */
    for (size_t i = 0; i < n && i < MAXB; i++) {
        if (__atomic_load_n(&a->paused, __ATOMIC_SEQ_CST)) {   /* a fork is under way */
            a->map[i] = (uint32_t)a->nunits;
            a->units[a->nunits].state = U_DONE;
            a->units[a->nunits].addr = a->units[a->nunits].len = 0;
            a->units[a->nunits++].flags = VMLAB_AGENT_R_UNMON;
            a->sorted = 0;   /* address 0 among the others: no bisection */
            a->naddr = i + 1;
            continue;
        }
        arm_one(a, a->in.v[i], i);
        a->naddr = i + 1;
        /* answer faults as we go, every few pages: a read of the uffd
         * and a clock each page were a third of the agent's system
         * calls, and the program mostly waits for us on its CPU anyway */
        if (i % 16 == 15) {
            events(a);
            a->look_ns = mono_ns();
        }
    }
    events(a);
}

static void wp_register(struct agent *a, size_t n)
{
    int64_t err = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        int e = agent_reg(a, a->in.v[i], a->in.v[i + 1] - a->in.v[i], UFFDIO_REGISTER_MODE_WP);
        if (e < 0 && e != -EBUSY && !err)
            err = e;
    }
    agent_send(a, VMLAB_AGENT_ACK, 0, err, 0);
}

void agent_finish(struct agent *a)
{
    events(a);
    for (size_t i = 0; i < a->nunits; i++)
        put_back(a, &a->units[i]);
    a->nunits = 0;
    unreg(a, a->hold, a->hold_len);
    unreg(a, a->small, a->small_len);
    R_CLOSE(a->uffd);   /* also drops any WP registration */
    rsys(SYS_munmap, (long)a->hold, (long)a->hold_len, 0, 0, 0, 0);
    rsys(SYS_munmap, (long)a->small, (long)a->small_len, 0, 0, 0, 0);
    R_CLOSE(a->sock);
    R_CLOSE(a->pagemap);
    if (a->stat_state > 0)
        R_CLOSE(a->statfd);
    /* wake a forking thread waiting on us; the handlers see g_agent gone */
    __atomic_store_n(&a->fork_ack, 1, __ATOMIC_SEQ_CST);
    rsys(SYS_futex, (long)(uintptr_t)&a->fork_ack, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
    /* every page is back: the C library is safe again */
    g_uffd = g_sock = -1;
    g_agent = NULL;
    R_CLOSE(a->ctl);
}

void *agent_serve(void *arg)
{
    struct agent *a = arg;

    a->last_cpu_ns = cpu_ns();
    for (;;) {
        struct pollfd p[3] = {{a->sock, POLLIN, 0}, {a->uffd, POLLIN, 0}, {a->ctl, POLLIN, 0}};
        long r = rsys(SYS_poll, (long)(uintptr_t)p, 3, -1, 0, 0, 0);
        if (r < 0) {
            if (r == -EINTR)
                continue;
            break;
        }
        a->look_ns = mono_ns();   /* a fault found from now on waited since here at most */
        if (p[1].revents & POLLIN)
            events(a);
        if (p[2].revents & POLLIN) {
            uint64_t v;
            rsys(SYS_read, a->ctl, (long)(uintptr_t)&v, 8, 0, 0, 0);
            events(a);
            for (size_t i = 0; i < a->nunits; i++)
                put_back(a, &a->units[i]);
            __atomic_store_n(&a->paused, 1, __ATOMIC_SEQ_CST);
            agent_dbg(a, "fork: every page home, units", (long)a->nunits);
            __atomic_store_n(&a->fork_ack, 1, __ATOMIC_SEQ_CST);
            rsys(SYS_futex, (long)(uintptr_t)&a->fork_ack, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        r = rsys(SYS_recvfrom, a->sock, (long)(uintptr_t)&a->in, (long)sizeof a->in, MSG_DONTWAIT, 0, 0);
        if (r == -EAGAIN || r == -EINTR)
            continue;
        if (r < (ssize_t)sizeof a->in.h)
            break;   /* vmlab went away */
        if (a->in.h.n > ((size_t)r - sizeof a->in.h) / 8)
            a->in.h.n = (uint32_t)(((size_t)r - sizeof a->in.h) / 8);
        if (a->in.h.type == VMLAB_AGENT_ARM)
            arm(a, a->in.h.n, 1);
        else if (a->in.h.type == VMLAB_AGENT_CHECK) {
            check(a, a->in.h.seq);
            if (a->in.h.n)   /* the next batch came with it */
                arm(a, a->in.h.n, 0);
        }
        else if (a->in.h.type == VMLAB_AGENT_WP)
            wp_register(a, a->in.h.n);
        else if (a->in.h.type == VMLAB_AGENT_BYE)
            break;
    }
    agent_finish(a);
    return NULL;
}
