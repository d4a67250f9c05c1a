/* The agent's CPU: where the program runs (see agent.h). */
#include "agent.h"

/* Run on the CPU where the program's main thread last ran.  A move
 * flushes the TLB of every CPU running the program: from another CPU that
 * is an interrupt of the target (a VM exit under a hypervisor) and a wait
 * for it (about 45 us a move instead of 5 here); from the target's own
 * CPU the flush is local and the target is preempted for the agent's
 * work instead of interrupted.  One pread of /proc a batch; the affinity
 * changes only when the target moved. */
void agent_follow_target(struct agent *a)
{
    char buf[512];
    long n, pid;
    int cpu = 0, field = 2;
    uint64_t stime = 0;
    unsigned long mask[16] = {0};

    if (a->stat_state == 0) {
        char path[48] = "/proc/self/task/";
        size_t k = 16, d = 0;
        char num[20];
        a->stat_state = -1;
        pid = rsys(SYS_getpid, 0, 0, 0, 0, 0, 0);
        do
            num[d++] = (char)('0' + pid % 10);
        while ((pid /= 10) > 0);
        while (d > 0)
            path[k++] = num[--d];
        for (const char *t = "/stat"; *t; t++)
            path[k++] = *t;
        path[k] = '\0';
        n = rsys(SYS_openat, AT_FDCWD, (long)(uintptr_t)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
        if (n < 0)
            return;
        a->statfd = (int)n;
        a->stat_state = 1;
        a->cpu = -1;
    }
    if (a->stat_state < 0)
        return;
    n = rsys(SYS_pread64, a->statfd, (long)(uintptr_t)buf, (long)sizeof buf - 1, 0, 0, 0);
    if (n <= 0)
        return;
    buf[n] = '\0';
    /* fields 15 (stime) and 39 (processor), counted after the command's
     * ')' (field 2) */
    for (long i = n - 1; i > 0; i--) {
        if (buf[i] != ')')
            continue;
        for (long j = i + 1; j < n && field < 39; j++) {
            if (buf[j] != ' ')
                continue;
            if (++field == 15)
                for (long k = j + 1; k < n && buf[k] >= '0' && buf[k] <= '9'; k++)
                    stime = stime * 10 + (uint64_t)(buf[k] - '0');
            if (field == 39)
                for (j++; j < n && buf[j] >= '0' && buf[j] <= '9'; j++)
                    cpu = cpu * 10 + (buf[j] - '0');
        }
        break;
    }
    if (field >= 15) {
        /* the main thread's time in the kernel while we sample: its
         * faults' entry, wake-up and return are CPU the program loses,
         * which its blocked time does not show.  Its own system calls
         * count too: the budget errs on the safe side. */
        if (a->stime && stime > a->stime)
            a->sys_ns += (stime - a->stime) * a->tick_ns;
        a->stime = stime;
    }
    if (field != 39 || cpu == a->cpu || cpu >= (int)(sizeof mask * 8))
        return;
    mask[cpu / 64] = 1UL << (cpu % 64);
    if (rsys(SYS_sched_setaffinity, 0, (long)sizeof mask, (long)(uintptr_t)mask, 0, 0, 0) == 0)
        a->cpu = cpu;
    else {
        /* not allowed there (a cpuset): free again, and stop following */
        for (size_t i = 0; i < sizeof mask / sizeof mask[0]; i++)
            mask[i] = ~0UL;
        rsys(SYS_sched_setaffinity, 0, (long)sizeof mask, (long)(uintptr_t)mask, 0, 0, 0);
        a->stat_state = -1;
    }
}
