/* vmlab's end of the agent: find libvmlab-agent.so, start a command with it
 * preloaded, the socket between them, and reaping. */
#include "vmlab/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

extern char **environ;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int vmlab_agent_path(char *buf, size_t len, char *why, size_t whylen)
{
    const char *env = getenv("VMLAB_AGENT"), *b = getenv("VMLAB_BUILD");
    char exe[PATH_MAX];
    ssize_t n;

    if (env && *env) {
        snprintf(buf, len, "%s", env);
        if (access(buf, R_OK) == 0)
            return 0;
        snprintf(why, whylen, "VMLAB_AGENT=%s: %s", env, strerror(errno));
        return -ENOENT;
    }
    if (b && *b) {
        snprintf(buf, len, "%s/libvmlab-agent.so", b);
        if (access(buf, R_OK) == 0)
            return 0;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        char *slash;
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')))
            *slash = '\0';
        snprintf(buf, len, "%s/libvmlab-agent.so", exe);
        if (access(buf, R_OK) == 0)
            return 0;
    }
    snprintf(why, whylen, "libvmlab-agent.so not found (set VMLAB_AGENT, or VMLAB_BUILD to the "
                          "build directory, or keep it next to vmlab: %s)", buf);
    return -ENOENT;
}

int vmlab_agent_send(int sock, uint32_t type, uint32_t seq, int64_t arg, const uint64_t *v, size_t n)
{
    struct vmlab_agent_msg h = {.type = type, .n = (uint32_t)n, .seq = seq, .arg = arg};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)(uintptr_t)v, n * 8}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = n ? 2 : 1};
    if (sock < 0)
        return -EPIPE;
    return sendmsg(sock, &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int vmlab_agent_recv(int sock, struct vmlab_agent_msg *h, uint64_t *v, size_t cap, double timeout)
{
    struct iovec iov[2] = {{h, sizeof *h}, {v, cap * 8}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    struct pollfd p = {sock, POLLIN, 0};
    ssize_t r;
    int pr;

    if (sock < 0)
        return -EPIPE;
    do
        pr = poll(&p, 1, timeout < 0 ? -1 : (int)(timeout * 1000));
    while (pr < 0 && errno == EINTR);
    if (pr == 0)
        return -ETIMEDOUT;
    r = recvmsg(sock, &m, MSG_DONTWAIT);
    if (r == 0)
        return -EPIPE;
    if (r < 0)
        return errno == EAGAIN ? -ETIMEDOUT : -errno;
    if ((size_t)r < sizeof *h)
        return -EPROTO;
    if (h->n > ((size_t)r - sizeof *h) / 8)
        h->n = (uint32_t)(((size_t)r - sizeof *h) / 8);
    return 0;
}

static char *env_join(const char *k, const char *a, const char *b)
{
    size_t len = strlen(k) + strlen(a) + (b ? strlen(b) + 1 : 0) + 2;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s=%s%s%s", k, a, b ? ":" : "", b ? b : "");
    return s;
}

static int spawn(struct vmlab_agent_proc *p, char *const argv[], int children, char *why, size_t whylen)
{
    char agent[PATH_MAX], fdenv[48], pidenv[48], kidsenv[80];
    int sv[2], ep[2], kv[2] = {-1, -1}, e, n = 0, err = 0;
    char **envp, *preload;
    size_t ne = 0;
    pid_t pid;

    memset(p, 0, sizeof *p);
    p->sock = p->kids = p->pidfd = -1;
    if (!argv || !argv[0]) {
        snprintf(why, whylen, "no command");
        return -EINVAL;
    }
    if ((e = vmlab_agent_path(agent, sizeof agent, why, whylen)) < 0)
        return e;
    while (environ[ne])
        ne++;
    envp = calloc(ne + 5, sizeof *envp);
    preload = env_join("LD_PRELOAD", agent, getenv("LD_PRELOAD"));
    if (!envp || !preload) {
        free(envp);
        free(preload);
        snprintf(why, whylen, "not enough memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) && strncmp(environ[i], "VMLAB_AGENT_", 12))
            envp[n++] = environ[i];
    envp[n++] = preload;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
        e = -errno;
        snprintf(why, whylen, "socketpair/pipe: %s", strerror(errno));
        free(envp);
        free(preload);
        return e;
    }
    /* the children's socket: every descendant inherits the agent's end */
    if (children && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, kv) < 0) {
        e = -errno;
        snprintf(why, whylen, "socketpair: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        close(ep[0]);
        close(ep[1]);
        free(envp);
        free(preload);
        return e;
    }
    snprintf(fdenv, sizeof fdenv, "%s=%d", VMLAB_AGENT_FD_ENV, sv[1]);
    envp[n++] = fdenv;
    envp[n++] = pidenv;
    if (children) {
        int one = 1;
        /* the kernel says which pid sent each CHILD */
        setsockopt(kv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
        snprintf(kidsenv, sizeof kidsenv, "%s=%d:%d", VMLAB_AGENT_KIDS_ENV, kv[1], (int)getpid());
        envp[n++] = kidsenv;
    }
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        /* only async-signal-safe work from here */
        char num[24];
        int k = 0, d = (int)getpid();
        const char *pfx = VMLAB_AGENT_PID_ENV "=";
        while (*pfx)
            pidenv[k++] = *pfx++;
        n = 0;
        do
            num[n++] = (char)('0' + d % 10);
        while ((d /= 10) > 0);
        while (n > 0)
            pidenv[k++] = num[--n];
        pidenv[k] = '\0';
        fcntl(sv[1], F_SETFD, 0);   /* the agent's end crosses exec */
        close(sv[0]);
        if (kv[1] >= 0)
            fcntl(kv[1], F_SETFD, 0);
        execvpe(argv[0], argv, envp);
        err = errno;
        if (write(ep[1], &err, sizeof err) < 0) {
        }
        _exit(127);
    }
    e = pid < 0 ? -errno : 0;
    close(sv[1]);
    if (kv[1] >= 0)
        close(kv[1]);
    close(ep[1]);
    free(envp);
    free(preload);
    if (e < 0) {
        close(sv[0]);
        close(ep[0]);
        if (kv[0] >= 0)
            close(kv[0]);
        snprintf(why, whylen, "fork: %s", strerror(-e));
        return e;
    }
    p->pid = pid;
    p->sock = sv[0];
    p->kids = kv[0];
    p->follow_kids = kv[0] >= 0;
    if (read(ep[0], &err, sizeof err) == (ssize_t)sizeof err) {
        close(ep[0]);
        vmlab_agent_reap(p, 1);
        close(p->sock);
        p->sock = -1;
        if (p->follow_kids)
            close(p->kids);
        p->follow_kids = 0;
        snprintf(why, whylen, "exec(%s): %s", argv[0], strerror(err));
        return -err;
    }
    close(ep[0]);
    return 0;
}

int vmlab_agent_spawn(struct vmlab_agent_proc *p, char *const argv[], char *why, size_t whylen)
{
    return spawn(p, argv, 0, why, whylen);
}

int vmlab_agent_spawn_children(struct vmlab_agent_proc *p, char *const argv[], char *why, size_t whylen)
{
    return spawn(p, argv, 1, why, whylen);
}

int vmlab_agent_take_child(struct vmlab_agent_proc *p, struct vmlab_agent_proc *kid)
{
    union { struct cmsghdr c; char buf[CMSG_SPACE(sizeof(int) * 4) + CMSG_SPACE(sizeof(struct ucred))]; } ctl;
    struct vmlab_agent_msg h;
    struct iovec iov = {&h, sizeof h};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                       .msg_controllen = sizeof ctl.buf};
    struct ucred cr = {0, 0, 0};
    int fd = -1, have_cr = 0;
    ssize_t r;

    if (!p->follow_kids || p->kids < 0)
        return 0;
    for (;;) {
        r = recvmsg(p->kids, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno == EINTR ? 0 : -errno;
        if (r == 0)
            return 0;   /* every descendant closed it */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int fds[4];
                memcpy(fds, CMSG_DATA(c), (k < 4 ? k : 4) * sizeof(int));
                for (size_t i = 0; i < k && i < 4; i++) {
                    if (fd < 0)
                        fd = fds[i];
                    else
                        close(fds[i]);   /* one socket per message */
                }
            } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                memcpy(&cr, CMSG_DATA(c), sizeof cr);
                have_cr = 1;
            }
        }
        if ((size_t)r >= sizeof h && h.type == VMLAB_AGENT_CHILD && fd >= 0 && have_cr && cr.pid > 0)
            break;
        if (fd >= 0)
            close(fd);   /* not a well-formed CHILD: ignored */
        fd = -1;
        have_cr = 0;
        m.msg_controllen = sizeof ctl.buf;
    }
    memset(kid, 0, sizeof *kid);
    kid->sock = fd;
    kid->kids = -1;
    kid->pid = cr.pid;   /* the kernel's word, not the message's */
    kid->foreign = 1;
    kid->pidfd = (int)syscall(SYS_pidfd_open, cr.pid, 0);
    if (kid->pidfd < 0) {
        int e = -errno;
        close(fd);
        kid->sock = -1;
        if (e != -ESRCH)
            return e;
        /* it ended (and was reaped) before we read its CHILD: still a
         * descendant that was there, which the caller counts */
        kid->reaped = 1;
        return 1;
    }
    fcntl(kid->pidfd, F_SETFD, FD_CLOEXEC);
    return 1;
}

int vmlab_agent_kids_pending(const struct vmlab_agent_proc *p)
{
    char c;
    if (!p->follow_kids || p->kids < 0)
        return 0;
    return recv(p->kids, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

void vmlab_agent_end(struct vmlab_agent_proc *p)
{
    vmlab_agent_close(p);
    if (p->follow_kids && p->kids >= 0)
        close(p->kids);
    p->kids = -1;
    p->follow_kids = 0;
    if (p->foreign || p->borrowed || vmlab_agent_reap(p, 0))   /* a vmlab.proc child runs on */
        return;
    kill(p->pid, SIGTERM);
    for (int i = 0; i < 100 && !vmlab_agent_reap(p, 0); i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    if (!p->reaped) {
        kill(p->pid, SIGKILL);
        vmlab_agent_reap(p, 1);
    }
}

int vmlab_agent_hello(struct vmlab_agent_proc *p, double timeout, char *why, size_t whylen)
{
    double end = mono() + timeout;
    struct vmlab_agent_msg h;
    uint64_t v[64];

    for (;;) {
        int e = vmlab_agent_recv(p->sock, &h, v, 64, 0.05);
        if (e == 0 && h.type == VMLAB_AGENT_HELLO) {
            p->nskip = 0;
            for (size_t i = 0; i + 1 < h.n && i + 1 < 8 && p->nskip < 8; i += 2)
                p->skip[p->nskip++] = (struct vmlab_range){v[i], v[i + 1]};
            p->features = h.n > 8 ? v[8] : 0;
            return 0;
        }
        if (e == 0 && h.type == VMLAB_AGENT_REFUSE) {
            ((char *)v)[h.n * 8 < sizeof v ? h.n * 8 : sizeof v - 1] = '\0';
            snprintf(why, whylen, "%s", (char *)v);
            return h.arg > 0 ? -(int)h.arg : -EPERM;
        }
        if (e == -EPIPE || (e < 0 && e != -ETIMEDOUT) || vmlab_agent_reap(p, 0) == 1 || mono() > end) {
            snprintf(why, whylen, "%s", p->reaped ? "the command ended before its agent answered"
                     : "no agent answered (a static or setuid program ignores LD_PRELOAD)");
            return p->reaped ? -ESRCH : -ETIMEDOUT;
        }
    }
}

int vmlab_agent_hello_for(struct vmlab_agent_proc *p, const char *cmd, double timeout, char *why,
                          size_t whylen)
{
    char reason[256];
    int e = vmlab_agent_hello(p, timeout, why, whylen);

    if (e == 0)
        return 0;
    snprintf(reason, sizeof reason, "%s", why);
    snprintf(why, whylen, "cannot monitor %s: %s%s", cmd, reason,
             e == -EPERM ? " (a seccomp filter, or vm.unprivileged_userfaultfd=0 for a user "
                           "without CAP_SYS_PTRACE, forbids userfaultfd)" : "");
    return e;
}

int vmlab_agent_reap(struct vmlab_agent_proc *p, int block)
{
    int st;
    pid_t r;

    if (p->reaped)
        return 1;
    if (p->pid <= 0)
        return 0;
    if (p->borrowed) {   /* someone else's to reap (a vmlab.proc handle): look only */
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != p->pid)
            return 0;
        p->status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : si.si_status & 0x7f;
        p->reaped = 1;
        return 1;
    }
    if (p->foreign) {   /* not ours to wait for: its pidfd says when it ended */
        struct pollfd pf = {p->pidfd, POLLIN, 0};
        if (p->pidfd < 0 || poll(&pf, 1, block ? -1 : 0) > 0) {
            p->status = 0;
            p->reaped = 1;
        }
        return p->reaped;
    }
    do
        r = waitpid(p->pid, &st, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR && block);
    if (r != p->pid)
        return 0;
    p->status = st;
    p->reaped = 1;
    return 1;
}

void vmlab_agent_close(struct vmlab_agent_proc *p)
{
    if (p->sock >= 0) {
        vmlab_agent_send(p->sock, VMLAB_AGENT_BYE, 0, 0, NULL, 0);
        close(p->sock);
    }
    p->sock = -1;
}
