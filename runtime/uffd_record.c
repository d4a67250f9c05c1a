/* `vmlab record -- cmd`: run a command with the agent, monitor it with the
 * uffd backend until it ends, and write what each aggregation saw as a
 * record file damo reads (runtime/record.c). */
#include "vmlab/record.h"
#include "vmlab/uffd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Following children, recording goes on while any target runs (damo's
 * record ends when all its targets did). */
static int children_run(struct vmlab_damon *d)
{
    struct vmlab_uffd_kids_stats ks;
    int e;
    vmlab_damon_lock(d);
    e = vmlab_damon_uffd_kids_stats(d, &ks);
    vmlab_damon_unlock(d);
    /* and CHILDs not read yet: a child that ended meanwhile is a target too */
    return e == 0 && (ks.running > 0 || ks.pending);
}

static int exit_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

int vmlab_uffd_record(const struct vmlab_uffd_record_opts *o, char *const argv[], char *why,
                      size_t whylen, struct vmlab_uffd_record_result *res)
{
    struct vmlab_agent_proc p;
    struct vmlab_damon *d = NULL;
    struct vmlab_damon_opts dopts;
    struct sigaction ign = {.sa_handler = SIG_IGN}, oint, oquit;
    double t0, deadline;
    char err[512];
    int e, progress = o->verbose && isatty(2), started = 0, fmt, failed = 0;
    enum vmlab_uffd_mode mode = o->mode;

    if (res)
        memset(res, 0, sizeof *res);
    fmt = vmlab_rec_format(o->format ? o->format : "json_compressed");
    if ((e = (o->children ? vmlab_agent_spawn_children : vmlab_agent_spawn)(&p, argv, why, whylen)) < 0)
        return -1;
    /* ^C goes to the command; vmlab writes what it saw once it ends */
    sigaction(SIGINT, &ign, &oint);
    sigaction(SIGQUIT, &ign, &oquit);
    if ((e = vmlab_agent_hello_for(&p, argv[0], 10.0, why, whylen)) < 0) {
        vmlab_agent_close(&p);
        if (p.follow_kids)
            close(p.kids);
        vmlab_agent_reap(&p, 1);
        sigaction(SIGINT, &oint, NULL);
        sigaction(SIGQUIT, &oquit, NULL);
        return -1;
    }
    if (mode == VMLAB_UFFD_WRITE && !(p.features & UFFD_FEATURE_WP_ASYNC)) {
        if (o->verbose)
            fprintf(stderr, "vmlab record: this kernel lacks UFFD_FEATURE_WP_ASYNC: sampling reads and writes\n");
        mode = VMLAB_UFFD_RW;
    }
    /* the engine's uffd backend on the process started here; the record
     * is the engine's hook, written as each aggregation happens */
    memset(&dopts, 0, sizeof dopts);
    dopts.backend = VMLAB_DAMON_UFFD;
    dopts.attrs = o->attrs;
    dopts.budget = o->budget;
    dopts.seed = o->seed ? o->seed : 42;
    dopts.proc = &p;
    dopts.uffd_mode = mode;
    dopts.uffd_children = o->children;
    dopts.record = o->out;
    dopts.record_format = fmt < 0 ? VMLAB_REC_JSON_COMPRESSED : fmt;
    t0 = mono();
    d = vmlab_damon_new(&dopts, &e, err, sizeof err);
    if (!d && o->out && !vmlab_agent_reap(&p, 0)) {
        /* the record cannot be written: say so, leave the command alone */
        snprintf(why, whylen, "%s", err);
        failed = 1;
    }
    if (d && (e = vmlab_damon_start(d, err, sizeof err)) == 0)
        started = 1;
    else if (o->verbose && !vmlab_agent_reap(&p, 0))
        fprintf(stderr, "vmlab record: monitoring %s failed: %s\n", argv[0], err);
    deadline = o->timeout > 0 ? t0 + o->timeout : 0;
    while ((!vmlab_agent_reap(&p, 0) || (started && children_run(d))) && (!deadline || mono() < deadline)) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (progress && started) {
            vmlab_damon_lock(d);
            fprintf(stderr, "\rvmlab record: %.1f s, %llu aggregations, %u regions ",
                    mono() - t0, (unsigned long long)d->stats.aggregations, vmlab_damon_nr_regions(d));
            vmlab_damon_unlock(d);
        }
    }
    if (progress)
        fprintf(stderr, "\n");
    if (d) {
        struct vmlab_uffd_stats st;
        double el = mono() - t0;
        uint64_t sample_us;
        vmlab_damon_stop(d);
        vmlab_damon_uffd_stats(d, &st);
        sample_us = d->stats.samples ? (uint64_t)(el * 1e6 / (double)d->stats.samples) : d->attrs.sample_us;
        if (res) {
            res->st = st;
            res->samples = d->stats.samples;
            res->aggregations = d->stats.aggregations;
            res->sample_us = sample_us;
            res->seconds = el;
            res->vmlab_cpu = d->stats.cpu_seconds - st.agent_cpu - st.target_lost - st.target_sys;
            res->targets = d->nr_targets;
        }
        if (o->verbose && o->children)
            fprintf(stderr, "vmlab record: %zu targets (the command and %zu children)\n",
                    d->nr_targets, d->nr_targets - 1);
        if (o->verbose)
            fprintf(stderr, "vmlab record: %s mode, %llu samples (every %.1f ms), %llu aggregations, "
                    "%llu pages armed, %llu touched, %llu unwatchable, %.3f s vmlab + %.3f s agent CPU, "
                    "%.3f s of the command's blocked on faults\n",
                    st.mode == VMLAB_UFFD_WRITE ? "write" : "rw", (unsigned long long)d->stats.samples,
                    (double)sample_us / 1e3, (unsigned long long)d->stats.aggregations,
                    (unsigned long long)st.armed, (unsigned long long)st.accessed,
                    (unsigned long long)st.unmonitorable, d->stats.cpu_seconds - st.agent_cpu - st.target_lost - st.target_sys,
                    st.agent_cpu, st.target_lost);
        if (o->out && vmlab_damon_record_finish(d, err, sizeof err) < 0) {
            snprintf(why, whylen, "%s", err);
            failed = 1;
        }
        vmlab_damon_free(d);   /* BYE: the agent puts every page back */
    }
    vmlab_agent_close(&p);
    if (p.follow_kids)
        close(p.kids);
    vmlab_agent_reap(&p, 1);
    sigaction(SIGINT, &oint, NULL);
    sigaction(SIGQUIT, &oquit, NULL);
    return failed ? -1 : exit_code(p.status);
}
