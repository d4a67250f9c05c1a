/* The uffd agent's batches never hold overlapping units: two pages written
 * at the start of an untouched 2 MiB are armed (out) with a third, never
 * touched page of it in one ARM.  The third must not become a unit of the
 * whole "empty" 2 MiB: touched, that unit unregistered the range under
 * the two pages still out, and the program read zero pages where its data
 * was (tests/uffd/victim overlap checks them).  Driven message by message
 * through the agent's protocol, so the ordering is the same every run. */
#include "tap.h"
#include "vmlab/uffd.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    struct vmlab_agent_proc p;
    struct vmlab_agent_msg h;
    char why[256], victim[512], addrf[64], line[64] = "";
    const char *b = getenv("VMLAB_BUILD");
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), base = 0, v[3];
    FILE *f = NULL;
    int e;

    snprintf(victim, sizeof victim, "%s/tests/uffd/victim", b ? b : "build");
    snprintf(addrf, sizeof addrf, "/tmp/vmlab-overlap.%d", (int)getpid());
    unlink(addrf);
    setenv("VICTIM_ADDR", addrf, 1);
    char *argv[] = {victim, (char *)"overlap", NULL};
    e = vmlab_agent_spawn(&p, argv, why, sizeof why);
    if (e == 0)
        e = vmlab_agent_hello(&p, 10, why, sizeof why);
    if (e == -EPERM || e == -ENOSYS || e == -ENOTSUP || e == -EINVAL || e == -EACCES) {
        /* the agent refused: no userfaultfd, or no UFFDIO_MOVE (why says) */
        vmlab_agent_close(&p);
        vmlab_agent_reap(&p, 1);
        tap_skip_all(why);
    }
    ok(e == 0, "the agent says hello (%s)", e ? why : "ok");
    /* the victim writes its address once its two pages are written */
    for (int i = 0; i < 1000 && !base; i++) {
        if ((f = fopen(addrf, "r")) && fgets(line, sizeof line, f) && strchr(line, '\n'))
            base = strtoull(line, NULL, 16);
        if (f)
            fclose(f);
        if (!base)
            usleep(10000);
    }
    unlink(addrf);
    ok(base && base % VMLAB_AGENT_HUGE == 0, "the victim's 2 MiB at %#llx", (unsigned long long)base);
    /* one batch: the two written pages, then the untouched third; WP with
     * no ranges answers ACK once the ARM before it is done */
    v[0] = base;
    v[1] = base + page;
    v[2] = base + 2 * page;
    e = vmlab_agent_send(p.sock, VMLAB_AGENT_ARM, 1, 0, v, 3);
    if (e == 0)
        e = vmlab_agent_send(p.sock, VMLAB_AGENT_WP, 0, 0, NULL, 0);
    if (e == 0)
        e = vmlab_agent_recv(p.sock, &h, NULL, 0, 10);
    ok(e == 0 && h.type == VMLAB_AGENT_ACK, "ARM of the three pages done (%d)", e);
    /* the victim touches the third page, then reads the two out */
    kill(p.pid, SIGUSR1);
    vmlab_agent_reap(&p, 1);
    ok(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0,
       "the two pages out came back when the program read them (exit %d)",
       WIFEXITED(p.status) ? WEXITSTATUS(p.status) : -1);
    vmlab_agent_close(&p);
    return tap_done();
}
