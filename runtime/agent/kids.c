/* libvmlab-agent.so and the command's children.
 *
 * Following children (vmlab record --include_child_tasks): every process
 * descending from the command inherits the children's socket named by
 * VMLAB_AGENT_KIDS.  A child's agent starts in the fork handler (or in
 * the constructor after an exec) and asks vmlab for a connection of its
 * own: a new socket pair, one end sent as CHILD over that socket.
 *
 * A raw clone(2) without CLONE_VM runs no fork handler: the held pages
 * would read as zeros in the child.  UFFD_EVENT_FORK (where the kernel
 * grants it: CAP_SYS_PTRACE) gives us the child's uffd, through which the
 * held copies are put in place; clone.c's syscall() runs the handlers
 * around a raw fork made through it. */
#include "agent.h"

#include <sys/un.h>

/* The children's socket, when it is still vmlab's: a program may have
 * closed that descriptor and opened something else under its number. */
int agent_kids_fd(void)
{
    const char *env = getenv(VMLAB_AGENT_KIDS_ENV), *colon;
    struct ucred cr;
    socklen_t len = sizeof cr;
    int fd, type = 0;
    long pid;

    if (!env || !(colon = strchr(env, ':')))
        return -1;
    fd = atoi(env);
    pid = atol(colon + 1);
    if (fd < 0 || pid <= 0)
        return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || (long)cr.pid != pid)
        return -1;
    len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
        return -1;
    return fd;
}

int agent_kid_connect(int kids)
{
    struct vmlab_agent_msg h = {.type = VMLAB_AGENT_CHILD, .arg = (int64_t)getpid()};
    union { struct cmsghdr c; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
    struct iovec iov = {&h, sizeof h};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                       .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c;
    int sv[2];

    /* ours is close-on-exec: after an exec, the new image asks again */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    memset(&ctl, 0, sizeof ctl);
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
    if (sendmsg(kids, &m, MSG_NOSIGNAL) < 0) {   /* vmlab went away */
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    close(sv[1]);
    return sv[0];
}

/* Where unit i is held (agent.c's slot_of). */
static uint64_t held_at(const struct agent *a, size_t i)
{
    return a->units[i].len == HUGE ? a->hold + i * HUGE : a->small + i * a->page;
}

void agent_fork_event(struct agent *a, int ufd)
{
    size_t copied = 0;

    for (size_t i = 0; i < a->nunits; i++) {
        struct unit *u = &a->units[i];
        struct uffdio_copy c = {.dst = u->addr, .src = held_at(a, i), .len = u->len};
        long e;
        if (u->state != U_OUT)
            continue;
        /* -EEXIST: the child has the page already (it moved out after the
         * child's page tables were copied); a huge unit lands as small
         * pages in the child, its parent's stays whole */
        e = R_IOCTL(ufd, UFFDIO_COPY, &c);
        if (e == 0 || e == -EEXIST)
            copied++;
        else if (c.copy > 0 && (uint64_t)c.copy < u->len) {
            c.dst += (uint64_t)c.copy;
            c.src += (uint64_t)c.copy;
            c.len -= (uint64_t)c.copy;
            if (R_IOCTL(ufd, UFFDIO_COPY, &c) == 0)
                copied++;
        } else {
            agent_dbg(a, "fork: a held page could not be given to the child: error", e);
            a->lost++;
        }
    }
    agent_dbg(a, "fork event: held pages copied into the child", (long)copied);
    /* The last reference to the child's uffd: the kernel unregisters its
     * ranges and wakes any fault of the child's waiting on them. */
    R_CLOSE(ufd);
}
