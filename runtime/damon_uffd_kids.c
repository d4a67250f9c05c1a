/* Following children with the uffd backend (damo record
 * --include_child_tasks): the command is target 1 and every descendant
 * whose agent connects (runtime/agent/kids.c) becomes the next target.
 *
 * Each target is sampled by the one-process uffd backend (damon_uffd.c)
 * unchanged: these ops show it a view of the monitor holding target t
 * alone and its own state, for the length of one call, the monitor held.
 * Children are taken in at the end of check(), where the engine walks no
 * target list (vmlab_damon_add_target moves d->targets).
 *
 * A target keeps its index for the record's sake: one that ends keeps no
 * regions; a descendant that execs connects again with its pid and takes
 * its target back (a fresh agent, a new mm). */
#include "vmlab/uffd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Targets beyond this are refused (a fork storm must not drown vmlab). */
#define MAX_TARGETS 256
/* Children taken in per sample, at most (a HELLO wait each). */
#define TAKE_PER_CHECK 8

struct kid_tgt {
    struct vmlab_agent_proc *p;   /* the command's, or a child's (owned) */
    void *state;                  /* its uffd backend's state; NULL once ended */
};

struct kids_state {
    struct vmlab_agent_proc own;  /* a command the monitor started */
    int owns;
    struct vmlab_agent_proc *root;
    enum vmlab_uffd_mode mode;
    struct kid_tgt *t;
    size_t n;
    uint64_t refused;
    int root_gone;                 /* the command's agent stopped answering */
    struct vmlab_uffd_stats gone;  /* counters of targets ended */
};

struct view {
    struct vmlab_damon_target *targets;
    size_t nr;
    void *backend;
    const struct vmlab_damon_ops *ops;
    const char *mode;
};

/* Show d as the one-process monitor of target t (state: its backend's). */
static void enter(struct vmlab_damon *d, size_t t, void *state, struct view *v)
{
    *v = (struct view){d->targets, d->nr_targets, d->backend, d->ops, d->mode};
    d->targets = &v->targets[t < v->nr ? t : 0];
    d->nr_targets = 1;
    d->backend = state;
    d->ops = &vmlab_damon_uffd_ops;
}

/* Back to the whole monitor; returns the target's state as it is now. */
static void *leave(struct vmlab_damon *d, const struct view *v)
{
    void *state = d->backend;
    d->targets = v->targets;
    d->nr_targets = v->nr;
    d->backend = v->backend;
    d->ops = v->ops;
    d->mode = v->mode;
    return state;
}

/* A one-process uffd state for p (attach through a view). */
static int attach(struct vmlab_damon *d, struct kids_state *ks, struct vmlab_agent_proc *p, void **state)
{
    struct view v;
    int e;
    enter(d, 0, NULL, &v);
    e = vmlab_damon_uffd_attach(d, p, ks->mode);
    *state = leave(d, &v);
    if (e < 0)
        *state = NULL;
    return e;
}

static void add_stats(struct vmlab_uffd_stats *a, const struct vmlab_uffd_stats *b)
{
    a->armed += b->armed;
    a->accessed += b->accessed;
    a->unmonitorable += b->unmonitorable;
    a->gone += b->gone;
    a->huge += b->huge;
    a->moves += b->moves;
    a->unmon_bytes += b->unmon_bytes;
    a->agent_cpu += b->agent_cpu;
    a->target_lost += b->target_lost;
    a->target_sys += b->target_sys;
}

/* Tear down target t's backend state (its counters are kept). */
static void detach(struct vmlab_damon *d, struct kids_state *ks, size_t t)
{
    struct view v;
    struct vmlab_uffd_stats st;
    if (!ks->t[t].state)
        return;
    enter(d, t, ks->t[t].state, &v);
    vmlab_damon_uffd_stats(d, &st);
    vmlab_damon_uffd_ops.cleanup(d);   /* BYE: the agent puts every page back */
    leave(d, &v);
    st.unmon_bytes = 0;
    add_stats(&ks->gone, &st);
    ks->t[t].state = NULL;
}

static void free_kid(struct vmlab_agent_proc *p)
{
    vmlab_agent_close(p);
    if (p->pidfd >= 0)
        close(p->pidfd);
    free(p);
}

/* ---- taking children in ------------------------------------------------------ */

/* The target whose process has pid, or SIZE_MAX. */
static size_t target_of(const struct kids_state *ks, pid_t pid)
{
    for (size_t t = 0; t < ks->n; t++)   /* (an ended child's pid may be reused) */
        if (ks->t[t].p->pid == pid && !(ks->t[t].p->foreign && ks->t[t].p->reaped))
            return t;
    return SIZE_MAX;
}

/* Room in ks->t for one more target: 0, or -1 (too many, or no memory). */
static int room(struct kids_state *ks)
{
    struct kid_tgt *nt;
    if (ks->n >= MAX_TARGETS || !(nt = realloc(ks->t, (ks->n + 1) * sizeof *nt)))
        return -1;
    ks->t = nt;
    return 0;
}

/* kid as the next target (state: its backend's, NULL when it ended; room()
 * made space), or refused when the engine has no memory for it. */
static void append(struct vmlab_damon *d, struct kids_state *ks, struct vmlab_agent_proc *kid, void *state)
{
    int idx;

    ks->t[ks->n++] = (struct kid_tgt){kid, state};
    idx = vmlab_damon_add_target(d);
    if (idx >= 0 && (size_t)idx == ks->n - 1)
        return;
    ks->n--;
    detach(d, ks, ks->n);
    free_kid(kid);
    ks->refused++;
}

/* kid said hello: a new target, or the one of its pid back (it exec'ed). */
static void take_in(struct vmlab_damon *d, struct kids_state *ks, struct vmlab_agent_proc *kid)
{
    size_t t = target_of(ks, kid->pid);
    void *state;

    if (t != SIZE_MAX) {
        struct vmlab_agent_proc *p = ks->t[t].p;
        detach(d, ks, t);
        vmlab_agent_close(p);          /* the old image's socket */
        p->sock = kid->sock;
        memcpy(p->skip, kid->skip, sizeof p->skip);
        p->nskip = kid->nskip;
        p->features = kid->features;
        p->reaped = 0;
        if (kid->pidfd >= 0 && p->foreign) {
            if (p->pidfd >= 0)
                close(p->pidfd);
            p->pidfd = kid->pidfd;
        } else if (kid->pidfd >= 0) {
            close(kid->pidfd);
        }
        free(kid);
        if (attach(d, ks, p, &ks->t[t].state) < 0)
            ks->refused++;
        return;
    }
    if (room(ks) < 0) {
        ks->refused++;
        free_kid(kid);   /* its agent sees the hang-up and stops, memory whole */
        return;
    }
    if (attach(d, ks, kid, &state) < 0) {
        ks->refused++;
        free_kid(kid);
        return;
    }
    append(d, ks, kid, state);
}

/* kid ended before we read its CHILD (no socket, no pidfd): a target
 * that ended, unless its pid has one already (its image before an exec
 * asked too; a pid reused this fast cannot be told apart). */
static void take_ended(struct vmlab_damon *d, struct kids_state *ks, struct vmlab_agent_proc *kid)
{
    for (size_t t = 0; t < ks->n; t++)
        if (ks->t[t].p->pid == kid->pid) {
            free_kid(kid);
            return;
        }
    if (room(ks) < 0) {
        ks->refused++;
        free_kid(kid);
        return;
    }
    append(d, ks, kid, NULL);
}

static void take_children(struct vmlab_damon *d, struct kids_state *ks)
{
    for (int i = 0; i < TAKE_PER_CHECK; i++) {
        struct vmlab_agent_proc *kid = malloc(sizeof *kid);
        char why[256];
        int e;
        if (!kid)
            return;
        if ((e = vmlab_agent_take_child(ks->root, kid)) <= 0) {
            free(kid);
            return;
        }
        if (kid->reaped) {
            take_ended(d, ks, kid);
            continue;
        }
        /* its agent sends HELLO as soon as it is set up (or REFUSE) */
        if (vmlab_agent_hello(kid, 2.0, why, sizeof why) < 0) {
            ks->refused++;
            free_kid(kid);
            continue;
        }
        take_in(d, ks, kid);
    }
    /* children that ended: their state goes (sockets, pagemap) */
    for (size_t t = 1; t < ks->n; t++)
        if (ks->t[t].state && vmlab_agent_reap(ks->t[t].p, 0))
            detach(d, ks, t);
}

/* ---- the ops: each target through the one-process backend ------------------- */

static int kids_init(struct vmlab_damon *d)
{
    struct kids_state *ks = d->backend;
    struct view v;
    int e = 0;
    for (size_t t = 0; t < ks->n && !e; t++) {
        if (!ks->t[t].state || !vmlab_damon_uffd_ops.init)
            continue;
        enter(d, t, ks->t[t].state, &v);
        e = vmlab_damon_uffd_ops.init(d);
        ks->t[t].state = leave(d, &v);
    }
    return e;
}

static void kids_prepare(struct vmlab_damon *d)
{
    struct kids_state *ks = d->backend;
    struct view v;
    for (size_t t = 0; t < ks->n && t < d->nr_targets; t++) {
        if (!ks->t[t].state)
            continue;
        enter(d, t, ks->t[t].state, &v);
        vmlab_damon_uffd_ops.prepare(d);
        ks->t[t].state = leave(d, &v);
    }
}

static void kids_check(struct vmlab_damon *d)
{
    struct kids_state *ks = d->backend;
    struct vmlab_uffd_stats st;
    struct view v;
    for (size_t t = 0; t < ks->n && t < d->nr_targets; t++) {
        if (!ks->t[t].state)
            continue;
        enter(d, t, ks->t[t].state, &v);
        vmlab_damon_uffd_ops.check(d);
        vmlab_damon_uffd_stats(d, &st);
        ks->t[t].state = leave(d, &v);
        /* its agent went (an exec into a program that ignores
         * LD_PRELOAD): unwatched from now on, so no regions, not cold
         * ones; an agent of its pid connecting again takes it back */
        if (st.agent_gone) {
            ks->root_gone |= t == 0;
            detach(d, ks, t);
        }
    }
    take_children(d, ks);
}

static int kids_ranges(struct vmlab_damon *d, size_t t, struct vmlab_range **out, size_t *n)
{
    struct kids_state *ks = d->backend;
    struct view v;
    int e;
    if (t >= ks->n || !ks->t[t].state) {   /* ended: no regions */
        *out = NULL;
        *n = 0;
        return 0;
    }
    enter(d, t, ks->t[t].state, &v);
    e = vmlab_damon_uffd_ops.ranges(d, 0, out, n);
    ks->t[t].state = leave(d, &v);
    return e;
}

static int kids_apply(struct vmlab_damon *d, size_t t, int action, uint64_t start, uint64_t end)
{
    struct kids_state *ks = d->backend;
    struct view v;
    int e;
    if (t >= ks->n || !ks->t[t].state) {
        if (end > start)
            return -ESRCH;
        t = 0;   /* asked whether the action is one it applies */
    }
    enter(d, t, ks->t[t].state, &v);
    e = vmlab_damon_uffd_ops.apply(d, 0, action, start, end);
    ks->t[t].state = leave(d, &v);
    return e;
}

static void kids_cleanup(struct vmlab_damon *d)
{
    struct kids_state *ks = d->backend;
    if (!ks)
        return;
    for (size_t t = 0; t < ks->n; t++) {
        detach(d, ks, t);
        if (t > 0)
            free_kid(ks->t[t].p);
    }
    if (ks->owns)
        vmlab_agent_end(&ks->own);   /* children of it run on, unmonitored */
    free(ks->t);
    free(ks);
    d->backend = NULL;
}

const struct vmlab_damon_ops vmlab_damon_uffd_kids_ops = {
    .name = "uffd",
    .caps = VMLAB_DAMON_CAP_THREAD | VMLAB_DAMON_CAP_HOOKS | VMLAB_DAMON_CAP_REMOTE,
    .apply = kids_apply,
    .init = kids_init,
    .prepare = kids_prepare,
    .check = kids_check,
    .ranges = kids_ranges,
    .cleanup = kids_cleanup,
};

int vmlab_damon_uffd_kids_open(struct vmlab_damon *d, const struct vmlab_damon_opts *o, char *why,
                               size_t len)
{
    struct vmlab_damon_opts one = *o;
    struct kids_state *ks;
    struct view v;
    int e;

    if (o->proc && !o->proc->follow_kids) {
        snprintf(why, len, "following children needs a command started with "
                 "vmlab_agent_spawn_children (the children's socket)");
        return -EINVAL;
    }
    if (!(ks = calloc(1, sizeof *ks)) || !(ks->t = calloc(1, sizeof *ks->t))) {
        free(ks);
        snprintf(why, len, "not enough memory");
        return -ENOMEM;
    }
    ks->mode = o->uffd_mode == VMLAB_UFFD_WRITE ? VMLAB_UFFD_WRITE : VMLAB_UFFD_RW;
    /* a command to start: here, with the children's socket; then target 1
     * is the one-process backend's on it (which checks the rest) */
    if (o->argv && o->argv[0] && !o->proc && !o->nr_targets) {
        if ((e = vmlab_agent_spawn_children(&ks->own, o->argv, why, len)) < 0)
            goto fail;
        ks->owns = 1;
        if ((e = vmlab_agent_hello_for(&ks->own, o->argv[0], 10.0, why, len)) < 0)
            goto fail;
        one.argv = NULL;
        one.proc = &ks->own;
    }
    enter(d, 0, NULL, &v);
    e = vmlab_damon_uffd_open(d, &one, why, len);
    ks->t[0].state = leave(d, &v);
    if (e < 0)
        goto fail;
    ks->root = ks->t[0].p = one.proc;
    ks->n = 1;
    d->backend = ks;
    d->ops = &vmlab_damon_uffd_kids_ops;
    d->mode = ks->mode == VMLAB_UFFD_WRITE ? "write" : "rw";
    return 0;
fail:
    if (ks->owns)
        vmlab_agent_end(&ks->own);
    free(ks->t);
    free(ks);
    return e;
}

int vmlab_damon_is_uffd(const struct vmlab_damon *d)
{
    return d->ops == &vmlab_damon_uffd_ops || d->ops == &vmlab_damon_uffd_kids_ops;
}

int vmlab_damon_uffd_kids_stats(const struct vmlab_damon *d, struct vmlab_uffd_kids_stats *out)
{
    const struct kids_state *ks = d->backend;
    memset(out, 0, sizeof *out);
    if (!ks || d->ops != &vmlab_damon_uffd_kids_ops)
        return -EINVAL;
    out->targets = ks->n;
    for (size_t t = 0; t < ks->n; t++)
        if (!vmlab_agent_reap(ks->t[t].p, 0))
            out->running++;
    out->refused = ks->refused;
    out->pending = vmlab_agent_kids_pending(ks->root);
    return 0;
}

void vmlab_damon_uffd_kids_sum(const struct vmlab_damon *d, struct vmlab_uffd_stats *out)
{
    const struct kids_state *ks = d->backend;
    struct vmlab_damon view = *d;   /* a copy: stats read only */
    memset(out, 0, sizeof *out);
    if (!ks || d->ops != &vmlab_damon_uffd_kids_ops)
        return;
    *out = ks->gone;
    out->mode = ks->mode;
    out->agent_gone = ks->root_gone;
    view.ops = &vmlab_damon_uffd_ops;
    for (size_t t = 0; t < ks->n; t++) {
        struct vmlab_uffd_stats st;
        if (!ks->t[t].state)
            continue;
        view.backend = ks->t[t].state;
        vmlab_damon_uffd_stats(&view, &st);
        add_stats(out, &st);
        if (t == 0)
            out->agent_gone |= st.agent_gone;
    }
}

int vmlab_damon_uffd_kids_command(struct vmlab_damon *d, pid_t *pid, int *status)
{
    struct kids_state *ks = d->backend;
    if (!ks || d->ops != &vmlab_damon_uffd_kids_ops)
        return -EINVAL;
    *pid = ks->root->pid;
    vmlab_agent_reap(ks->root, 0);
    *status = ks->root->reaped ? ks->root->status : -1;
    return ks->root->reaped;
}
