/* The mover thread (runtime/uffd_self.c), for the self backend
 * (runtime/damon_uffd_self.c) only. */
#ifndef VMLAB_UFFD_SELF_PRIV_H
#define VMLAB_UFFD_SELF_PRIV_H
#include "vmlab/uffd_self.h"

#include <pthread.h>
#include <stdio.h>

enum { MOVER_ARM = 1, MOVER_CHECK, MOVER_PAUSE, MOVER_RESUME, MOVER_BYE };

struct vmlab_mover_unit {
    uint64_t addr, len;
    uint32_t state, flags;   /* flags: VMLAB_AGENT_R_* */
};

struct vmlab_mover {
    int uffd, ctl, pagemap;
    uint64_t page;
    uint64_t hold, hold_len, small, small_len, zero;   /* slots; a zero page */
    struct vmlab_range *reg;  /* registered ranges (follow munmap, mremap) */
    size_t nreg, capreg;
    struct vmlab_mover_unit *units;
    uint32_t *map;            /* armed address -> unit */
    size_t nunits, naddr, cap;
    int paused, pending_fill;
    uint64_t lost;
    /* the request: the sampling thread (or a forking one) fills req_addr
     * and req_n, sets req, and waits until done moves; res/nres answer */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int req;
    unsigned long done;
    uint64_t *req_addr, *res;
    size_t req_n, nres;
    uint64_t cpu_ns;          /* the thread's CPU (atomic) */
    pthread_t th;
    int running;
    struct vmlab_mover *next;   /* the process's movers (fork pauses them) */
};

/* A mover over ranges r (each registered whole; -EINVAL when another uffd
 * has one), with cap slots; started.  0 or -errno with why. */
int vmlab_mover_new(struct vmlab_mover **out, const struct vmlab_range *r, size_t n, size_t cap,
                    char *why, size_t len);
/* Ask and wait (MOVER_*); 0 or -errno. */
int vmlab_mover_request(struct vmlab_mover *m, int req);
/* Every page home, the thread stopped, the ranges unregistered. */
void vmlab_mover_free(struct vmlab_mover *m);
#endif
