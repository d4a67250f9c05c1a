/* What the agent's two files share (runtime/agent/): its state, and the
 * raw system calls its thread makes.  Nothing here is exported (the library
 * is built with -fvisibility=hidden). */
#ifndef VMLAB_AGENT_INTERNAL_H
#define VMLAB_AGENT_INTERNAL_H
#include "vmlab/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HUGE VMLAB_AGENT_HUGE
#define MAXB VMLAB_AGENT_MAX_BATCH
#define STACK_SZ (256UL << 10)
#define MAXCHUNKS ((size_t)((8ULL << 30) / HUGE))   /* 8 GiB of the program registered for good */

enum { U_OUT = 1, U_HOLE, U_DONE };

struct unit {
    uint64_t addr, len;   /* where it lives in the program (follows mremap) */
    uint32_t state;
    uint32_t flags;       /* VMLAB_AGENT_R_* */
    uint32_t kept;        /* registered by its chunk (agent.c), not alone */
};

struct agent {
    int uffd, sock, pagemap;
    uint64_t page;
    uint64_t hold, hold_len;          /* MAXB slots of 2 MiB, for huge units */
    uint64_t small, small_len;        /* MAXB slots of a page: a page table
                                         under a 2 MiB slot would make the
                                         kernel split the huge page moved in */
    uint64_t self_lo, self_hi;        /* this block */
    uint64_t stack_lo, stack_hi;
    struct unit units[MAXB];
    uint32_t map[MAXB];               /* armed address -> unit */
    size_t nunits, naddr;
    int sorted;                       /* units in address order */
    size_t pending;                   /* touched units not yet back */
    uint64_t lost;                    /* units that could not go back */
    int debug;
    /* fork: a forking thread asks (ctl, an eventfd) for every page to be
     * home and sampling paused, waits for fork_ack (a futex word) */
    int ctl;
    int paused;
    uint32_t fork_ack;
    uint64_t last_cpu_ns;
    struct { struct vmlab_agent_msg h; uint64_t v[MAXB * 2]; } in, out;
    struct uffd_msg ev[64];
    /* 2 MiB pieces of the program registered for good (agent.c, chunks):
     * sorted starts */
    size_t nchunks;
    uint64_t chunks[MAXCHUNKS];
    /* the program's time blocked on our faults, as the agent sees it:
     * from when it last looked at the uffd to the move back */
    uint64_t look_ns, lost_ns;
    /* the main thread's system time (its CPU in the kernel: our faults'
     * entry and return among it), read with its CPU (follow.c): what
     * grew since the last RESULT, for the budget */
    uint64_t stime, sys_ns, tick_ns;
    /* the main thread's /proc stat (0: not opened yet, -1: cannot), and
     * the CPU the agent was last moved to (agent.c, follow_target) */
    int statfd, stat_state, cpu;
};

/* The thread makes system calls itself: the C library's wrappers read its
 * own data (__libc_single_threaded, errno...), which may be a page that is
 * out at that moment, and only this thread could bring it back. */
static inline long rsys(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
#if defined(__x86_64__)
    register long r10 __asm__("r10") = a4, r8 __asm__("r8") = a5, r9 __asm__("r9") = a6;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n, x0 __asm__("x0") = a1, x1 __asm__("x1") = a2,
                  x2 __asm__("x2") = a3, x3 __asm__("x3") = a4, x4 __asm__("x4") = a5,
                  x5 __asm__("x5") = a6;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
#else
#error "the agent's raw system calls know x86_64 and aarch64"
#endif
}
#define R_IOCTL(fd, req, arg) rsys(SYS_ioctl, (fd), (long)(req), (long)(uintptr_t)(arg), 0, 0, 0)
#define R_CLOSE(fd) rsys(SYS_close, (fd), 0, 0, 0, 0, 0)

/* VMLAB_UFFD_DEBUG=1: what went wrong, on stderr, without the C library. */
void agent_dbg(const struct agent *a, const char *what, long v);
int agent_send(struct agent *a, uint32_t type, uint32_t seq, int64_t arg, size_t n);
int agent_reg(struct agent *a, uint64_t start, uint64_t len, uint64_t mode);
/* The thread (agent.c): serve vmlab until it goes; finish puts every
 * page home and closes everything. */
void *agent_serve(void *arg);
/* Set the agent up on socket sock (setup.c): HELLO and the thread, or
 * REFUSE with the reason (sock closed).  0 or < 0. */
int agent_setup(int sock);
void agent_finish(struct agent *a);

static inline void agent_unreg(struct agent *a, uint64_t start, uint64_t len)
{
    struct uffdio_range r = {start, len};
    R_IOCTL(a->uffd, UFFDIO_UNREGISTER, &r);   /* also wakes waiting faults */
}

/* Chunks (chunks.c): 2 MiB pieces wholly present kept registered across
 * samples.  take: 1 when page's piece is registered (now or before);
 * release: forget the pieces meeting [lo, hi), unregistered (around
 * [lo, hi) only when it was unmapped; a unit armed there keeps its own
 * page's registration); remap: follow an mremap. */
int agent_in_chunk(const struct agent *a, uint64_t addr);
int agent_chunk_take(struct agent *a, uint64_t page);
void agent_chunks_release(struct agent *a, uint64_t lo, uint64_t hi, int unmapped);
void agent_chunks_remap(struct agent *a, uint64_t from, uint64_t to, uint64_t len);

/* Move the agent's thread to the CPU the program's main thread last ran
 * on (follow.c), so that a move's TLB flush stays on that CPU. */
void agent_follow_target(struct agent *a);

/* The agent's own memory (state, stack, holding areas): never sampled. */
static inline int agent_in_self(const struct agent *a, uint64_t lo, uint64_t hi)
{
    return (lo < a->self_hi && hi > a->self_lo) || (lo < a->stack_hi && hi > a->stack_lo) ||
           (lo < a->hold + a->hold_len && hi > a->hold) || (lo < a->small + a->small_len && hi > a->small);
}

/* Read by the fork handlers; the thread writes them only once every page
 * is home (finish). */
extern int g_uffd, g_sock;
extern struct agent *g_agent;

/* Children (kids.c).  agent_kids_fd: the children's socket named by
 * VMLAB_AGENT_KIDS when it is still vmlab's (-1: children not followed).
 * agent_kid_connect: a new socket pair, one end sent to vmlab as CHILD;
 * returns the other, or -1. */
int agent_kids_fd(void);
int agent_kid_connect(int kids);
/* UFFD_EVENT_FORK: a fork the handlers did not see (a raw clone(2)) gave
 * the child our registrations and ufd, its uffd: the pages held now are
 * copied into the child (UFFDIO_COPY), then ufd is closed, which leaves
 * the child's memory unregistered and whole. */
void agent_fork_event(struct agent *a, int ufd);
/* The fork handlers (setup.c), also run around a raw clone made through
 * syscall() (clone.c). */
void before_fork(void);
void parent_after_fork(void);
void child_after_fork(void);
/* The child's part; follow: start an agent of its own when vmlab follows
 * children (not after a raw clone: the C library's locks are as the
 * parent's threads left them, and starting one allocates). */
void agent_child_after(int follow);
/* exec (exec.c): every page home and sampling paused first (exec kills
 * the thread, then reads the old image's robust futex list); 1 when
 * paused, undone by agent_exec_failed.  g_agent_pid (setup.c): the
 * process the agent serves (a vfork child shares its memory, not its pid). */
extern pid_t g_agent_pid;
int agent_exec_pause(void);
void agent_exec_failed(int paused);

#endif
