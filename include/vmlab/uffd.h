/* Monitoring another process with userfaultfd: the agent's protocol, the
 * uffd backend of the region sampler, process targets and `vmlab record`.
 *
 * The agent (runtime/agent/, built as libvmlab-agent.so) is loaded into a
 * command with LD_PRELOAD.  UFFDIO_MOVE only moves pages inside one mm, so
 * the moves run on the agent's thread inside the target; vmlab keeps the
 * DAMON algorithm and sends it the sampled addresses in batches over a
 * SOCK_SEQPACKET socket whose fd number is in VMLAB_AGENT_FD (the agent
 * starts only in the process whose pid is VMLAB_AGENT_PID).
 *
 * One sample interval is two messages from vmlab: ARM (take these pages
 * out: each is moved to the agent's holding area, its range registered
 * MISSING, so that the next touch faults to the agent, which moves the page
 * back) and CHECK (put back what was not touched, and answer RESULT: one
 * word per armed address, in order). */
#ifndef VMLAB_UFFD_H
#define VMLAB_UFFD_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmlab/damon.h"

/* ---- the kernel's interface, where the C library's headers predate it ---- */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
struct uffdio_move {
    uint64_t dst, src, len;
#define UFFDIO_MOVE_MODE_DONTWAKE ((uint64_t)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((uint64_t)1 << 1)
    uint64_t mode;
    int64_t move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
#endif
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
struct page_region {
    uint64_t start, end, categories;
};
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
struct pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

/* ---- the protocol ---------------------------------------------------------- */

#define VMLAB_AGENT_FD_ENV "VMLAB_AGENT_FD"
#define VMLAB_AGENT_PID_ENV "VMLAB_AGENT_PID"
/* Following children (damo's --include_child_tasks): "FD:PID", a
 * SOCK_SEQPACKET socket every descendant inherits, whose peer is vmlab
 * (PID, checked with SO_PEERCRED).  A child whose agent starts (its fork
 * handler, or its constructor after an exec) sends CHILD on it with one
 * end of a new socket pair (SCM_RIGHTS), then talks on the other end as a
 * command does on VMLAB_AGENT_FD. */
#define VMLAB_AGENT_KIDS_ENV "VMLAB_AGENT_KIDS"
#define VMLAB_AGENT_PROTO 1
#define VMLAB_AGENT_MAX_BATCH 4096   /* addresses per ARM */
#define VMLAB_AGENT_HUGE (2ULL << 20) /* a PMD: the unit inside a huge page */

enum vmlab_agent_type {
    /* agent -> vmlab */
    VMLAB_AGENT_HELLO = 1,   /* arg: proto; items: the agent's own ranges
                                (start, end pairs) that must not be sampled */
    VMLAB_AGENT_REFUSE,      /* arg: errno; items: a message (text) */
    VMLAB_AGENT_RESULT,      /* arg: agent CPU ns since the last RESULT;
                                items: one VMLAB_AGENT_R_* word per address,
                                then the ns the program was blocked on
                                faults since the last RESULT, then the ns
                                its main thread spent in the kernel */
    VMLAB_AGENT_ACK,         /* arg: 0 or -errno (WP registration) */
    VMLAB_AGENT_CHILD,       /* on the children's socket: arg: the child's
                                pid; the new socket in SCM_RIGHTS */
    /* vmlab -> agent */
    VMLAB_AGENT_ARM = 16,    /* items: page addresses */
    VMLAB_AGENT_CHECK,       /* items: none, or the next batch's addresses,
                                armed (as by ARM) once RESULT is sent */
    VMLAB_AGENT_WP,          /* items: ranges (start, end) to register WP_ASYNC */
    VMLAB_AGENT_BYE,         /* put everything back and stop */
};

struct vmlab_agent_msg {
    uint32_t type;
    uint32_t n;              /* 8-byte items that follow */
    uint32_t seq;            /* CHECK's, echoed by its RESULT */
    uint32_t pad;
    int64_t arg;
};

/* A RESULT word: flags for one armed address. */
#define VMLAB_AGENT_R_ACCESSED 1u  /* touched while out */
#define VMLAB_AGENT_R_WRITE 2u     /* ... and the first touch wrote */
#define VMLAB_AGENT_R_HUGE 4u      /* moved as its whole 2 MiB huge page */
#define VMLAB_AGENT_R_UNMON 8u     /* could not be taken out (file, shared,
                                      locked, unmapped...): no answer */
#define VMLAB_AGENT_R_GONE 16u     /* unmapped or discarded while out */
#define VMLAB_AGENT_R_HOLE 32u     /* not populated: armed without a move */

/* ---- process targets ------------------------------------------------------- */

/* The memory of process pid the uffd backend can watch (private anonymous
 * writable mappings, minus `skip`), as DAMON vaddr's three regions around
 * the two largest gaps, or the mappings themselves when there are fewer
 * than three.  *out is malloc'd.  unmon (may be NULL) gets the bytes of
 * mapped memory inside the regions that no method can watch; vmas (may be
 * NULL) the watchable mappings themselves (malloc'd, sorted). */
int vmlab_proc_ranges(pid_t pid, const struct vmlab_range *skip, size_t nskip,
                      struct vmlab_range **out, size_t *n, uint64_t *unmon,
                      struct vmlab_range **vmas, size_t *nvmas);

/* ---- the uffd backend ------------------------------------------------------ */

enum vmlab_uffd_mode { VMLAB_UFFD_RW, VMLAB_UFFD_WRITE };

/* A command started with the agent preloaded. */
struct vmlab_agent_proc {
    pid_t pid;
    int sock;                /* vmlab's end; -1 once the agent is gone */
    int status;              /* wait status once reaped */
    int reaped;
    struct vmlab_range skip[8];   /* the agent's own ranges (HELLO) */
    size_t nskip;
    uint64_t features;       /* the agent's uffd features */
    int borrowed;            /* a vmlab.proc child (runtime/uffd_inject.c): the
                                monitor takes its socket over, and detaches
                                (BYE) without ending or reaping it */
    /* Following children (vmlab_agent_spawn_children): vmlab's end of
     * the children's socket, valid when follow_kids. */
    int follow_kids, kids;
    /* A child of the command (not vmlab's to wait for): whether it ended
     * is read from its pidfd, valid when foreign. */
    int foreign, pidfd;
};

/* One message each way (a SOCK_SEQPACKET datagram): 0 or -errno; recv
 * waits up to timeout seconds (-ETIMEDOUT), -EPIPE when the peer left. */
int vmlab_agent_send(int sock, uint32_t type, uint32_t seq, int64_t arg, const uint64_t *v, size_t n);
int vmlab_agent_recv(int sock, struct vmlab_agent_msg *h, uint64_t *v, size_t cap, double timeout);

/* Where libvmlab-agent.so is: $VMLAB_AGENT, $VMLAB_BUILD/, or next to the
 * running executable.  0, or -ENOENT with the places tried in why. */
int vmlab_agent_path(char *buf, size_t len, char *why, size_t whylen);
/* Start argv with the agent preloaded.  0, or -errno with why filled. */
int vmlab_agent_spawn(struct vmlab_agent_proc *p, char *const argv[], char *why, size_t whylen);
/* The same, and every descendant of the command whose agent starts (at
 * fork, or at exec) asks for a connection of its own on p->kids. */
int vmlab_agent_spawn_children(struct vmlab_agent_proc *p, char *const argv[], char *why,
                               size_t whylen);
/* A descendant that asked (p spawned with children): 1 with kid set up
 * (its socket, pid and pidfd; then vmlab_agent_hello), or 1 with
 * kid->reaped set and no socket when it ended before it was read; 0 when
 * none asks now, -errno.  Never blocks. */
int vmlab_agent_take_child(struct vmlab_agent_proc *p, struct vmlab_agent_proc *kid);
/* 1 when a descendant's CHILD waits on p's children's socket. */
int vmlab_agent_kids_pending(const struct vmlab_agent_proc *p);
/* End a command vmlab started: BYE (every page goes home), then SIGTERM
 * and SIGKILL after 1 s if it still runs; reaped. */
void vmlab_agent_end(struct vmlab_agent_proc *p);
/* Wait for the agent's HELLO (up to timeout seconds, or until the command
 * ends).  0; -EPERM/-ENOSYS... when it refused (why says why); -ETIMEDOUT
 * when no agent answered (a static or setuid program ignores LD_PRELOAD). */
int vmlab_agent_hello(struct vmlab_agent_proc *p, double timeout, char *why, size_t whylen);
/* vmlab_agent_hello for command cmd, why saying "cannot monitor cmd:
 * reason", with what forbids userfaultfd when it was refused (-EPERM). */
int vmlab_agent_hello_for(struct vmlab_agent_proc *p, const char *cmd, double timeout, char *why,
                          size_t whylen);
/* Reap the command if it ended (block: wait for it).  1 when reaped.  A
 * foreign one (a child of the command) is seen ending through its pidfd
 * (block: wait for it); its status is 0. */
int vmlab_agent_reap(struct vmlab_agent_proc *p, int block);
void vmlab_agent_close(struct vmlab_agent_proc *p);

/* Attach the uffd backend to d, whose one target is process p (its ranges
 * NULL: they follow the mappings).  WRITE mode samples writes only, with
 * no moves (WP_ASYNC + PAGEMAP_SCAN on /proc/PID/pagemap). */
int vmlab_damon_uffd_attach(struct vmlab_damon *d, struct vmlab_agent_proc *p,
                            enum vmlab_uffd_mode mode);
extern const struct vmlab_damon_ops vmlab_damon_uffd_ops;
/* What vmlab_damon_new calls for VMLAB_DAMON_UFFD: start o->argv with the
 * agent (then the monitor owns it: freeing the monitor puts every page
 * back, then ends the command, SIGTERM and after 1 s SIGKILL) or take
 * o->proc; attach in o->uffd_mode.  0 or -errno with why filled. */
int vmlab_damon_uffd_open(struct vmlab_damon *d, const struct vmlab_damon_opts *o, char *why,
                          size_t len);
/* The target process: its pid, and whether it ended (1, *status its wait
 * status) or runs (0, *status -1).  Reaps it if it ended. */
int vmlab_damon_uffd_command(struct vmlab_damon *d, pid_t *pid, int *status);

/* ---- following children (runtime/damon_uffd_kids.c) ---------------------- */

/* vmlab_damon_new with uffd_children: the command (o->argv, started
 * with the children's socket; or o->proc, spawned with
 * vmlab_agent_spawn_children) is target 1, each descendant whose agent
 * connects becomes the next target (damo's target ids, in order), sampled
 * by the uffd backend as target 1 is.  A descendant that execs keeps its
 * target (same pid); one that ends keeps its index with no regions. */
int vmlab_damon_uffd_kids_open(struct vmlab_damon *d, const struct vmlab_damon_opts *o, char *why,
                               size_t len);
extern const struct vmlab_damon_ops vmlab_damon_uffd_kids_ops;
/* Whether d is a uffd monitor (with or without children). */
int vmlab_damon_is_uffd(const struct vmlab_damon *d);
struct vmlab_uffd_kids_stats {
    size_t targets;          /* targets now (the command and the children) */
    size_t running;          /* of which still running */
    uint64_t refused;        /* children whose agent refused or never said hello */
    int pending;             /* a descendant's CHILD is waiting to be taken in */
};
/* 0, or -EINVAL when d does not follow children. */
int vmlab_damon_uffd_kids_stats(const struct vmlab_damon *d, struct vmlab_uffd_kids_stats *out);
/* The command's (target 1) pid and end, as vmlab_damon_uffd_command. */
int vmlab_damon_uffd_kids_command(struct vmlab_damon *d, pid_t *pid, int *status);
/* The summed counters of every target (d->ops is the children's). */
struct vmlab_uffd_stats;
void vmlab_damon_uffd_kids_sum(const struct vmlab_damon *d, struct vmlab_uffd_stats *out);

/* The uffd backend's default budget (a fraction of one CPU; the others'
 * is 5%).  Its cost lands on the program's own CPU: the agent follows it
 * there, and after each wake-up and fault the program refills its caches
 * and TLB, a loss nothing counts (about half the agent's CPU in
 * tests/bench/uffd).  At 5% the program kept 88.8-95.0% of its speed at
 * load 1; at 3%, 96.7-97.8%, its accuracy rows unchanged. */
#define VMLAB_UFFD_BUDGET 0.03

struct vmlab_uffd_stats {
    enum vmlab_uffd_mode mode;
    uint64_t armed, accessed, unmonitorable, gone, huge, moves;
    uint64_t unmon_bytes;    /* mapped but unwatchable, in the regions */
    double agent_cpu;        /* seconds the agent spent */
    double target_lost;      /* seconds the target was blocked on faults */
    double target_sys;       /* seconds of the target's main thread in the
                                kernel while sampled (faults' entry, wake-up,
                                return; its own system calls too) */
    int agent_gone;          /* the agent stopped answering */
};
/* The backend's counters (d->backend must be the uffd backend's). */
void vmlab_damon_uffd_stats(const struct vmlab_damon *d, struct vmlab_uffd_stats *out);

/* runtime/uffd_pagemap.c, for both uffd backends.  scan: PAGEMAP_SCAN of
 * [start, end) for one page_region (the ioctl's return); wp_range:
 * write-protect [start, end) in one walk; tally: count a RESULT word's
 * flags into st, 1 when the page was accessed. */
long vmlab_pagemap_scan(int pagemap, uint64_t start, uint64_t end, uint64_t flags, uint64_t cat,
                        uint64_t ret, struct page_region *pr);
void vmlab_pagemap_wp_range(int pagemap, uint64_t start, uint64_t end);
int vmlab_uffd_tally(struct vmlab_uffd_stats *st, uint64_t flags);

/* ---- vmlab record -- cmd ------------------------------------------------------ */

struct vmlab_uffd_record_opts {
    struct vmlab_damon_attrs attrs;
    double budget;           /* fraction of one CPU */
    double timeout;          /* seconds; 0: until the command ends */
    enum vmlab_uffd_mode mode;
    const char *out;         /* record file */
    const char *format;      /* "json_compressed", "json", "record" */
    uint64_t seed;
    int verbose;             /* progress and a summary on stderr */
    int children;            /* follow children (--include_child_tasks): every
                                descendant becomes a target; recording goes on
                                until all of them ended (or the timeout) */
};
/* What a recording measured, and how. */
struct vmlab_uffd_record_result {
    struct vmlab_uffd_stats st;   /* mode, pages armed / touched ... */
    uint64_t samples, aggregations;
    uint64_t sample_us;           /* the sample interval really used (mean) */
    double seconds, vmlab_cpu;    /* monitored time; vmlab's own CPU */
    size_t targets;               /* targets recorded (1 + children followed) */
};
/* Run argv, monitor it until it ends, write the record.  Returns the
 * command's exit status (128+signal when killed), or -1 with why filled
 * when nothing could run or be monitored.  res may be NULL. */
int vmlab_uffd_record(const struct vmlab_uffd_record_opts *o, char *const argv[], char *why,
                      size_t whylen, struct vmlab_uffd_record_result *res);
#endif
