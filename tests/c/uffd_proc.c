/* The uffd backend's parts through their public header: process regions
 * from /proc/PID/maps, and one monitor driven step by step on a command
 * that runs with the agent (tests/uffd/victim). */
#include "tap.h"
#include "vmlab/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int uffd_usable(char *why, size_t len)
{
    struct uffdio_api api = {.api = UFFD_API};
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, len, "userfaultfd: %s", strerror(errno));
        return 0;
    }
    if (ioctl(fd, UFFDIO_API, &api) < 0 || !(api.features & UFFD_FEATURE_MOVE)) {
        snprintf(why, len, "userfaultfd has no UFFD_FEATURE_MOVE");
        close(fd);
        return 0;
    }
    close(fd);
    return 1;
}

int main(void)
{
    struct vmlab_range *r = NULL, *v = NULL, skip;
    size_t n = 0, nv = 0;
    uint64_t unmon = 0, in_regions = 0;
    size_t big = 64 << 20;
    char *m = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char why[256];
    int e, sorted = 1, clear = 1, covered = 1;

    /* ---- regions of this process ---- */
    skip = (struct vmlab_range){(uint64_t)(uintptr_t)m + (8 << 20), (uint64_t)(uintptr_t)m + (16 << 20)};
    e = vmlab_proc_ranges(getpid(), &skip, 1, &r, &n, &unmon, &v, &nv);
    ok(e == 0 && n >= 3, "vmlab_proc_ranges: %zu ranges (%d)", n, e);
    for (size_t i = 0; i < n; i++) {
        if (i && r[i].start < r[i - 1].end)
            sorted = 0;
        if (r[i].start < skip.end && r[i].end > skip.start)
            clear = 0;
        in_regions += r[i].end - r[i].start;
    }
    ok(sorted, "sorted, not overlapping");
    ok(clear, "the skipped range is cut out of the regions");
    for (size_t k = 0; k < nv; k++) {
        int in = 0;
        for (size_t i = 0; i < n; i++)
            in |= v[k].start >= r[i].start && v[k].end <= r[i].end;
        covered &= in;
    }
    ok(nv > 0 && covered, "every watchable mapping (%zu) lies in a region", nv);
    ok(unmon > 0 && unmon < in_regions, "the mapped but unwatchable bytes are counted (%llu)",
       (unsigned long long)unmon);
    free(r);
    free(v);
    e = vmlab_proc_ranges(999999999, NULL, 0, &r, &n, NULL, NULL, NULL);
    ok(e == -ENOENT, "a process that does not exist: -ENOENT (%d)", e);

    /* ---- a command, its agent, a few samples ---- */
    if (!uffd_usable(why, sizeof why)) {
        printf("ok 7 # skip %s\n", why);
        for (int i = 8; i <= 15; i++)
            printf("ok %d # skip\n", i);
        tap_n += 9;
    } else {
        struct vmlab_agent_proc p;
        struct vmlab_damon *d;
        struct vmlab_damon_opts o;
        struct vmlab_uffd_stats st;
        char victim[512];
        const char *b = getenv("VMLAB_BUILD");
        pid_t pid;
        int status;
        snprintf(victim, sizeof victim, "%s/tests/uffd/victim", b ? b : "build");
        char *argv[] = {victim, (char *)"long", (char *)"2", NULL};
        e = vmlab_agent_spawn(&p, argv, why, sizeof why);
        ok(e == 0 && vmlab_agent_hello(&p, 10, why, sizeof why) == 0 && p.nskip == 4,
           "the agent says hello with its 4 own ranges (%s)", e ? why : "ok");
        /* a process started with the agent, through the engine's constructor */
        memset(&o, 0, sizeof o);
        o.backend = VMLAB_DAMON_UFFD;
        vmlab_damon_default_attrs(&o.attrs);
        o.seed = 1;
        o.proc = &p;
        o.uffd_mode = VMLAB_UFFD_RW;
        d = vmlab_damon_new(&o, &e, why, sizeof why);
        ok(d && vmlab_damon_nr_regions(d) >= 3 && (d->ops->caps & VMLAB_DAMON_CAP_THREAD) &&
           (d->ops->caps & VMLAB_DAMON_CAP_HOOKS) && (d->ops->caps & VMLAB_DAMON_CAP_REMOTE) &&
           !(d->ops->caps & VMLAB_DAMON_CAP_APPLY) && d->mode && !strcmp(d->mode, "rw"),
           "vmlab_damon_new(VMLAB_DAMON_UFFD, proc): %u regions, caps thread|hooks|remote, mode rw (%s)",
           d ? vmlab_damon_nr_regions(d) : 0, d ? "ok" : why);
        for (int i = 0; i < 50 && d; i++) {
            usleep(5000);
            vmlab_damon_sample(d);
        }
        vmlab_damon_uffd_stats(d, &st);
        ok(d && st.armed > 100 && st.accessed > 0 && !st.agent_gone,
           "50 samples: %llu pages armed, %llu found touched", (unsigned long long)st.armed,
           (unsigned long long)st.accessed);
        vmlab_damon_free(d);
        vmlab_agent_close(&p);
        vmlab_agent_reap(&p, 1);
        ok(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0, "the command found its memory intact");

        /* a command the monitor starts and owns: write mode, on its thread */
        char *argv2[] = {victim, (char *)"long", (char *)"30", NULL};
        o.proc = NULL;
        o.argv = argv2;
        o.uffd_mode = VMLAB_UFFD_WRITE;
        d = vmlab_damon_new(&o, &e, why, sizeof why);
        ok(d && vmlab_damon_start(d, why, sizeof why) == 0, "vmlab_damon_new(argv), started (%s)",
           d ? "ok" : why);
        usleep(300 * 1000);
        vmlab_damon_stop(d);
        vmlab_damon_uffd_stats(d, &st);
        ok(d && st.mode == VMLAB_UFFD_WRITE && st.armed > 0 && !strcmp(d->mode, "write"),
           "write mode sampled on the thread: %llu armed", (unsigned long long)st.armed);
        pid = 0;
        e = d ? vmlab_damon_uffd_command(d, &pid, &status) : -1;
        ok(e == 0 && pid > 0, "its command runs (pid %d)", (int)pid);
        vmlab_damon_free(d);
        ok(pid > 0 && kill(pid, 0) < 0 && errno == ESRCH, "freeing the monitor ended and reaped it");
        o.argv = NULL;
        ok(vmlab_damon_new(&o, &e, why, sizeof why) == NULL && e == -EINVAL, "no process: -EINVAL (%s)", why);
    }
    tap_plan(tap_n);
    return tap_failed != 0;
}
