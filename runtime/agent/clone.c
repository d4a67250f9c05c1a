/* libvmlab-agent.so's syscall(): forks and execs the C library does not
 * see.  Preload only: linked into vmlab it would interpose on vmlab's own
 * syscall() calls (the Makefile leaves it, start.c and exec.c out). */
#include "agent.h"

#include <stdarg.h>
#include <sched.h>

#define MAX_ERRNO 4095   /* the kernel's: returns in [-4095, -1] are -errno */

/* syscall(SYS_execve...): paused first, as exec.c's wrappers.
 * syscall(SYS_clone or SYS_fork, ...) without CLONE_VM and without a new
 * stack: a fork glibc does not know of, so its handlers do not run.  The
 * agent's syscall() runs them around it (every held page home before,
 * the child's own agent after), which needs no UFFD_EVENT_FORK (denied
 * without CAP_SYS_PTRACE); the child is not followed unless it execs.
 * Anything else goes straight to the kernel,
 * with errno set as the C library's syscall() does.  (clone3 is left
 * alone: its child may start on a stack of its own.) */
__attribute__((visibility("default"))) long syscall(long n, ...)
{
    va_list ap;
    long a[6], r;
    int forkish, execish, paused = 0;

    va_start(ap, n);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
#ifdef SYS_fork
    forkish = n == SYS_fork;
#else
    forkish = 0;
#endif
    forkish |= n == SYS_clone && !(a[0] & (CLONE_VM | CLONE_THREAD | CLONE_VFORK)) && a[1] == 0;
    execish = n == SYS_execve || n == SYS_execveat;
    if (forkish)
        before_fork();
    if (execish)
        paused = agent_exec_pause();
    r = rsys(n, a[0], a[1], a[2], a[3], a[4], a[5]);
    agent_exec_failed(paused);
    if (forkish) {
        if (r == 0)
            agent_child_after(0);   /* followed only if it execs */
        else
            parent_after_fork();
    }
    if (r < 0 && r >= -MAX_ERRNO) {
        errno = (int)-r;
        return -1;
    }
    return r;
}
