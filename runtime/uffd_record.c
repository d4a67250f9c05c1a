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

struct rec {
    struct vmlab_records r;
    struct vmlab_rec_target *t;
    uint64_t last_us;
    int err;
};

static void keep(struct vmlab_damon *d, uint64_t time_us, void *ctx)
{
    struct rec *c = ctx;
    const struct vmlab_regions *rs = &d->targets[0].regions;

    if (c->t && vmlab_records_add(c->t, c->last_us * 1000, time_us * 1000, rs->v, rs->n) < 0)
        c->err = -ENOMEM;
    c->last_us = time_us;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int exit_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

int vmlab_uffd_record(const struct vmlab_uffd_record_opts *o, char *const argv[], char *why,
                      size_t whylen, struct vmlab_uffd_record_result *res)
{
    struct vmlab_agent_proc p;
    struct vmlab_damon d;
    struct rec c;
    struct sigaction ign = {.sa_handler = SIG_IGN}, oint, oquit;
    double t0, deadline;
    int e, progress = o->verbose && isatty(2), started = 0;
    enum vmlab_uffd_mode mode = o->mode;

    memset(&d, 0, sizeof d);
    memset(&c, 0, sizeof c);
    if (res)
        memset(res, 0, sizeof *res);
    if ((e = vmlab_agent_spawn(&p, argv, why, whylen)) < 0)
        return -1;
    /* ^C goes to the command; vmlab writes what it saw once it ends */
    sigaction(SIGINT, &ign, &oint);
    sigaction(SIGQUIT, &ign, &oquit);
    if ((e = vmlab_agent_hello(&p, 10.0, why, whylen)) < 0) {
        char reason[256];
        snprintf(reason, sizeof reason, "%s", why);
        snprintf(why, whylen, "cannot monitor %s: %s%s", argv[0], reason,
                 e == -EPERM ? " (a seccomp filter, or vm.unprivileged_userfaultfd=0 for a user "
                               "without CAP_SYS_PTRACE, forbids userfaultfd)" : "");
        vmlab_agent_close(&p);
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
    d.attrs = o->attrs;
    d.budget = o->budget;
    d.rng.s = o->seed ? o->seed : 42;
    d.targets = calloc(1, sizeof *d.targets);
    d.nr_targets = d.targets ? 1 : 0;
    c.t = vmlab_records_target(&c.r, 0);
    d.on_aggr = keep;
    d.on_aggr_ctx = &c;
    t0 = mono();
    if (!d.targets || !c.t || (e = vmlab_damon_uffd_attach(&d, &p, mode)) < 0 ||
        (e = vmlab_damon_init(&d)) < 0 || (e = vmlab_damon_thread_start(&d)) < 0) {
        if (o->verbose && !vmlab_agent_reap(&p, 0))
            fprintf(stderr, "vmlab record: monitoring %s failed: %s\n", argv[0], strerror(-e));
    } else {
        started = 1;
    }
    deadline = o->timeout > 0 ? t0 + o->timeout : 0;
    while (!vmlab_agent_reap(&p, 0) && (!deadline || mono() < deadline)) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (progress && started) {
            vmlab_damon_lock(&d);
            fprintf(stderr, "\rvmlab record: %.1f s, %llu aggregations, %u regions ",
                    mono() - t0, (unsigned long long)d.stats.aggregations, vmlab_damon_nr_regions(&d));
            vmlab_damon_unlock(&d);
        }
    }
    if (progress)
        fprintf(stderr, "\n");
    if (started)
        vmlab_damon_thread_stop(&d);
    {
        struct vmlab_uffd_stats st;
        double el = mono() - t0;
        vmlab_damon_uffd_stats(&d, &st);
        c.r.sample_us = d.stats.samples ? (uint64_t)(el * 1e6 / (double)d.stats.samples) : d.attrs.sample_us;
        c.r.aggr_us = d.attrs.aggr_us;
        c.r.update_us = d.attrs.update_us;
        if (res) {
            res->st = st;
            res->samples = d.stats.samples;
            res->aggregations = d.stats.aggregations;
            res->sample_us = c.r.sample_us;
            res->seconds = el;
            res->vmlab_cpu = d.stats.cpu_seconds - st.agent_cpu;
        }
        if (o->verbose)
            fprintf(stderr, "vmlab record: %s mode, %llu samples (every %.1f ms), %llu aggregations, "
                    "%llu pages armed, %llu touched, %llu unwatchable, %.3f s vmlab + %.3f s agent CPU\n",
                    st.mode == VMLAB_UFFD_WRITE ? "write" : "rw", (unsigned long long)d.stats.samples,
                    (double)c.r.sample_us / 1e3, (unsigned long long)d.stats.aggregations,
                    (unsigned long long)st.armed, (unsigned long long)st.accessed,
                    (unsigned long long)st.unmonitorable, d.stats.cpu_seconds - st.agent_cpu, st.agent_cpu);
    }
    vmlab_damon_destroy(&d);   /* BYE: the agent puts every page back */
    vmlab_agent_close(&p);
    vmlab_agent_reap(&p, 1);
    sigaction(SIGINT, &oint, NULL);
    sigaction(SIGQUIT, &oquit, NULL);
    e = 0;
    if (o->out) {
        int f = vmlab_rec_format(o->format ? o->format : "json_compressed");
        char err[256];
        if (c.err < 0) {
            snprintf(why, whylen, "recording: %s", strerror(-c.err));
            e = -1;
        } else if (vmlab_records_write(o->out, &c.r, f < 0 ? VMLAB_REC_JSON_COMPRESSED : f, err,
                                       sizeof err) < 0) {
            snprintf(why, whylen, "%s", err);
            e = -1;
        }
    }
    vmlab_records_free(&c.r);
    return e < 0 ? -1 : exit_code(p.status);
}
