/* libvmlab-agent.so and exec.
 *
 * exec kills the agent's thread first (de_thread), then reads the calling
 * thread's robust futex list in the old image (exec_mm_release): if that
 * page were out, nobody would ever bring it back and exec would hang.  So
 * the C library's exec functions are wrapped: every page goes home and
 * sampling pauses, as before fork (start.c's handlers); if the exec fails,
 * sampling goes on.  The new image's agent starts afresh (the command's
 * says HELLO again on its socket; a child's connects again).  A vfork
 * child shares the parent's memory and its agent, which runs on: nothing
 * to do there. */
#include "agent.h"

#include <dlfcn.h>
#include <stdarg.h>

#define EXPORT __attribute__((visibility("default")))

/* Pause for an exec in this process: 1 when paused (undo on failure). */
int agent_exec_pause(void)
{
    if (!g_agent || g_agent_pid != getpid())
        return 0;   /* no agent here, or a vfork child of its process */
    before_fork();
    return 1;
}

void agent_exec_failed(int paused)
{
    if (paused)
        parent_after_fork();
}

typedef int execve_fn(const char *, char *const[], char *const[]);
typedef int execv_fn(const char *, char *const[]);
typedef int fexecve_fn(int, char *const[], char *const[]);
typedef int execveat_fn(int, const char *, char *const[], char *const[], int);

/* The C library's function (looked up before the pause), called paused. */
#define PAUSED_CALL(type, name, args)                        \
    do {                                                     \
        type *real = (type *)dlsym(RTLD_NEXT, name);         \
        int r, e, paused;                                    \
        if (!real) {                                         \
            errno = ENOSYS;                                  \
            return -1;                                       \
        }                                                    \
        paused = agent_exec_pause();                         \
        r = real args;                                       \
        e = errno;                                           \
        agent_exec_failed(paused);                           \
        errno = e;                                           \
        return r;                                            \
    } while (0)

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    PAUSED_CALL(execve_fn, "execve", (path, argv, envp));
}

EXPORT int execv(const char *path, char *const argv[])
{
    PAUSED_CALL(execv_fn, "execv", (path, argv));
}

EXPORT int execvp(const char *file, char *const argv[])
{
    PAUSED_CALL(execv_fn, "execvp", (file, argv));
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    PAUSED_CALL(execve_fn, "execvpe", (file, argv, envp));
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    PAUSED_CALL(fexecve_fn, "fexecve", (fd, argv, envp));
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    PAUSED_CALL(execveat_fn, "execveat", (dirfd, path, argv, envp, flags));
}

/* The list forms: the arguments up to the NULL gathered on the stack (as
 * the C library does), then the array forms above. */
static size_t count_args(va_list ap)
{
    va_list cp;
    size_t n = 1;   /* the first, named argument */
    va_copy(cp, ap);
    while (va_arg(cp, char *))
        n++;
    va_end(cp);
    return n;
}

#define GATHER(first, ap, argv)                                 \
    do {                                                        \
        size_t n_ = count_args(ap);                             \
        argv = __builtin_alloca((n_ + 1) * sizeof *argv);       \
        argv[0] = (char *)(first);                              \
        for (size_t i_ = 1; i_ <= n_; i_++)                     \
            argv[i_] = va_arg(ap, char *);   /* the last: NULL */ \
    } while (0)

EXPORT int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    char **argv;
    va_start(ap, arg);
    GATHER(arg, ap, argv);
    va_end(ap);
    return execv(path, argv);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    char **argv;
    va_start(ap, arg);
    GATHER(arg, ap, argv);
    va_end(ap);
    return execvp(file, argv);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    char **argv, **envp;
    va_start(ap, arg);
    GATHER(arg, ap, argv);
    envp = va_arg(ap, char **);
    va_end(ap);
    return execve(path, argv, envp);
}
