/* The agent inside a vmlab child (include/vmlab/uffd_self.h): a vmlab.proc
 * child is a vmlab process, so it carries the agent's code (runtime/agent/
 * agent.c and setup.c are linked into vmlab too) and starts it when its
 * parent asks.  The two meet on an abstract-namespace SOCK_SEQPACKET
 * socket named for the child's pid and a random token; the parent checks
 * the connection comes from that pid (SO_PEERCRED), then waits for HELLO.
 * Nothing needs ptrace or passing descriptors. */
#include "vmlab/uffd_self.h"
#include "agent/agent.h"
#include "vmlab/interrupt.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int vmlab_agent_signal(void)
{
    return SIGRTMIN + 5;
}

void vmlab_agent_sockname(char *buf, size_t len, pid_t parent, pid_t child, uint32_t token)
{
    snprintf(buf, len, "vmlab-agent-%d-%d-%08x", (int)parent, (int)child, token);
}

static socklen_t abstract_addr(struct sockaddr_un *a, pid_t parent, pid_t child, uint32_t token)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    vmlab_agent_sockname(a->sun_path + 1, sizeof a->sun_path - 1, parent, child, token);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->sun_path + 1));
}

int vmlab_agent_start_here(int sock)
{
#if defined(__SANITIZE_ADDRESS__)
    /* the agent would sample the sanitizer's shadow memory, which its
     * own (intercepted) memset touches: a deadlock */
    struct vmlab_agent_msg h = {.type = VMLAB_AGENT_REFUSE, .arg = ENOTSUP, .n = 8};
    struct { struct vmlab_agent_msg h; char text[64]; } m = {h, "not inside a sanitized (ASan) vmlab"};
    send(sock, &m, sizeof m, MSG_NOSIGNAL);
    close(sock);
    return -ENOTSUP;
#else
    int e = agent_setup(sock);
    return e < 0 ? -EPERM : 0;
#endif
}

int vmlab_agent_connect_and_start(pid_t parent, uint32_t token)
{
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, parent, getpid(), token);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), e;

    if (s < 0)
        return -errno;
    if (connect(s, (struct sockaddr *)&a, len) < 0) {
        e = -errno;
        close(s);
        return e;
    }
    return vmlab_agent_start_here(s);
}

int vmlab_agent_listen(pid_t child, uint32_t token)
{
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, getpid(), child, token);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), e;

    if (s < 0)
        return -errno;
    if (bind(s, (struct sockaddr *)&a, len) < 0 || listen(s, 4) < 0) {
        e = -errno;
        close(s);
        return e;
    }
    return s;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int vmlab_agent_accept(int lsock, pid_t child, double timeout, struct vmlab_agent_proc *p, char *why,
                       size_t whylen)
{
    double end = mono() + timeout;
    struct ucred cr;
    socklen_t crlen = sizeof cr;
    int s = -1, e;

    memset(p, 0, sizeof *p);
    p->sock = -1;
    for (;;) {
        struct pollfd pf = {lsock, POLLIN, 0};
        double left = end - mono();
        if (vmlab_interrupted()) {
            snprintf(why, whylen, "interrupted");
            return -EINTR;
        }
        if (left <= 0) {
            snprintf(why, whylen, "pid %d did not connect within %g s (a child starts its agent when "
                     "it next runs Lua code: not while it sleeps in C)", (int)child, timeout);
            return -ETIMEDOUT;
        }
        if (poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
            continue;
        if ((s = accept4(lsock, NULL, NULL, SOCK_CLOEXEC)) < 0)
            continue;
        if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0 && cr.pid == child)
            break;
        close(s);   /* not our child: someone guessed the name */
    }
    p->pid = child;
    p->sock = s;
    p->borrowed = 1;
    if ((e = vmlab_agent_hello(p, end - mono() > 1 ? end - mono() : 1, why, whylen)) < 0) {
        close(s);
        p->sock = -1;
        return e;
    }
    return 0;
}
