/* libvmlab-agent.so's start: the constructor that sets the agent up
 * (setup.c) in a monitored command, only the one whose pid is
 * VMLAB_AGENT_PID (not its descendants). */
#include "agent.h"

__attribute__((constructor)) static void agent_start(void)
{
    const char *fds = getenv(VMLAB_AGENT_FD_ENV), *pids = getenv(VMLAB_AGENT_PID_ENV);

    if (!fds || !pids || atol(pids) != (long)getpid())
        return;   /* a descendant of the command: not monitored */
    agent_setup(atoi(fds));
}
