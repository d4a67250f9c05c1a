/* libvmlab-agent.so's start: the constructor that sets the agent up
 * (setup.c) in a monitored command, the process whose pid is
 * VMLAB_AGENT_PID; or, when vmlab follows children (kids.c), in any
 * descendant that loads it (after an exec). */
#include "agent.h"

__attribute__((constructor)) static void agent_start(void)
{
    const char *fds = getenv(VMLAB_AGENT_FD_ENV), *pids = getenv(VMLAB_AGENT_PID_ENV);
    int kids, sock;

    if (fds && pids && atol(pids) == (long)getpid())
        agent_setup(atoi(fds));   /* the command (or what it exec'ed) */
    else if ((kids = agent_kids_fd()) >= 0 && (sock = agent_kid_connect(kids)) >= 0)
        agent_setup(sock);        /* a descendant, when vmlab follows children */
    /* else a descendant of the command: not monitored */
}
