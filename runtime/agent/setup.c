/* The agent's set-up, shared by libvmlab-agent.so's constructor (start.c)
 * and a vmlab child asked by its parent to start one (vmlab.proc targets,
 * runtime/uffd_inject.c): the userfaultfd, the holding areas, the fork
 * handlers, HELLO (or REFUSE with the reason), then the thread (agent.c). */
#include "agent.h"

/* Read by the fork handlers; the thread writes them only once every page
 * is home (agent_finish). */
int g_uffd = -1, g_sock = -1;
struct agent *g_agent;
static pthread_mutex_t g_fork_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void refuse(int sock, int err, const char *what)
{
    struct { struct vmlab_agent_msg h; char text[256]; } m;
    size_t len;
    memset(&m, 0, sizeof m);
    snprintf(m.text, sizeof m.text, "%s: %s", what, strerror(err));
    len = (strlen(m.text) + 8) / 8;
    m.h.type = VMLAB_AGENT_REFUSE;
    m.h.arg = err;
    m.h.n = (uint32_t)len;
    send(sock, &m, sizeof m.h + len * 8, MSG_NOSIGNAL);
    close(sock);
}


/* The process the agent serves (a vfork child shares its memory, not its
 * pid): exec.c pauses only there. */
pid_t g_agent_pid;

/* Before fork: the child would get the held pages' addresses empty, so
 * every page goes home first, and no new one leaves until fork returns.
 * (A raw clone(2) without CLONE_VM runs no handler: clone.c's syscall()
 * runs them for one made through it; UFFD_EVENT_FORK, where the kernel
 * allows it, copies the held pages into the child of any, kids.c.) */
void before_fork(void)
{
    struct agent *a;
    uint64_t one = 1;
    pthread_mutex_lock(&g_fork_mu);
    if (!(a = g_agent))
        return;
    __atomic_store_n(&a->fork_ack, 0, __ATOMIC_SEQ_CST);
    if (write(a->ctl, &one, sizeof one) != sizeof one)
        return;
    while (!__atomic_load_n(&a->fork_ack, __ATOMIC_SEQ_CST) && g_agent)
        syscall(SYS_futex, &a->fork_ack, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
}

void parent_after_fork(void)
{
    if (g_agent)
        __atomic_store_n(&g_agent->paused, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&g_fork_mu);
}

void child_after_fork(void)
{
    agent_child_after(1);
}

void agent_child_after(int follow)
{
    int kids, sock;
    g_agent = NULL;   /* its block was not copied (MADV_DONTFORK) */
    pthread_mutex_unlock(&g_fork_mu);
    /* The thread did not come along: this process is not monitored... */
    if (g_uffd >= 0)
        close(g_uffd);
    if (g_sock >= 0)
        close(g_sock);
    g_uffd = g_sock = -1;
    /* ... unless vmlab follows children: then it gets its own agent */
    if (follow && (kids = agent_kids_fd()) >= 0 && (sock = agent_kid_connect(kids)) >= 0)
        agent_setup(sock);
}

static int want_features(int *err)
{
    struct uffdio_api api = {.api = UFFD_API};
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    uint64_t need = UFFD_FEATURE_MOVE | UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMOVE |
                    UFFD_FEATURE_EVENT_REMAP;
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (ioctl(fd, UFFDIO_API, &api) < 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    close(fd);
    if ((api.features & need) != need) {
        *err = ENOTSUP;
        return -1;
    }
    *err = 0;
    need |= api.features & (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED);
    /* FORK events (a raw clone's child gets the held pages) need
     * CAP_SYS_PTRACE: asked for only where the kernel grants them */
    if ((api.features & UFFD_FEATURE_EVENT_FORK) && !getenv("VMLAB_UFFD_NO_FORK_EVENTS")) {
        struct uffdio_api f = {.api = UFFD_API, .features = UFFD_FEATURE_EVENT_FORK};
        if ((fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC)) >= 0) {
            if (ioctl(fd, UFFDIO_API, &f) == 0)
                need |= UFFD_FEATURE_EVENT_FORK;
            close(fd);
        }
    }
    return (int)need;
}

/* Handlers registered once per process: in a vmlab child the agent may be
 * started again after an earlier one stopped, and a second before_fork
 * would take g_fork_mu twice. */
static void install_atfork(void)
{
    pthread_atfork(before_fork, parent_after_fork, child_after_fork);
}

int agent_setup(int sock)
{
    struct agent *a;
    struct uffdio_api api = {.api = UFFD_API};
    pthread_attr_t attr;
    pthread_t th;
    sigset_t all, old;
    uint64_t raw;
    void *stack;
    int feats, err;

    if (g_agent) {
        refuse(sock, EBUSY, "an agent runs in this process already");
        return -EBUSY;
    }
    if ((feats = want_features(&err)) < 0) {
        refuse(sock, err, err == ENOTSUP ? "userfaultfd lacks UFFD_FEATURE_MOVE or the events "
                                           "(Linux 6.8 or later is needed)"
                                         : "userfaultfd()");
        return -1;
    }
    a = mmap(NULL, sizeof *a, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack = mmap(NULL, STACK_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (a == MAP_FAILED || stack == MAP_FAILED) {
        refuse(sock, errno, "mmap(agent state)");
        return -1;
    }
    a->page = (uint64_t)sysconf(_SC_PAGESIZE);
    a->tick_ns = 1000000000ULL / (uint64_t)(sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100);
    a->debug = getenv("VMLAB_UFFD_DEBUG") ? atoi(getenv("VMLAB_UFFD_DEBUG")) : 0;
    a->sock = sock;
    a->self_lo = (uint64_t)(uintptr_t)a;
    a->self_hi = a->self_lo + ((sizeof *a + a->page - 1) & ~(a->page - 1));
    a->stack_lo = (uint64_t)(uintptr_t)stack;
    a->stack_hi = a->stack_lo + STACK_SZ;
    a->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    api.features = (uint64_t)feats;
    if (a->uffd < 0 || ioctl(a->uffd, UFFDIO_API, &api) < 0) {
        refuse(sock, errno, "userfaultfd(UFFDIO_API)");
        return -1;
    }
    a->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (a->pagemap < 0) {
        refuse(sock, errno, "open(/proc/self/pagemap)");
        return -1;
    }
    /* The holding area: 2 MiB-aligned slots, one per armed unit. */
    a->hold_len = (uint64_t)MAXB * HUGE;
    raw = (uint64_t)(uintptr_t)mmap(NULL, a->hold_len + HUGE, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if ((void *)(uintptr_t)raw == MAP_FAILED) {
        refuse(sock, errno, "mmap(holding area)");
        return -1;
    }
    a->hold = (raw + HUGE - 1) & ~(HUGE - 1);
    if (a->hold > raw)
        munmap((void *)(uintptr_t)raw, a->hold - raw);
    munmap((void *)(uintptr_t)(a->hold + a->hold_len), raw + HUGE - a->hold);
    madvise((void *)(uintptr_t)a->hold, a->hold_len, MADV_HUGEPAGE);
    a->small_len = (uint64_t)MAXB * a->page;
    a->small = (uint64_t)(uintptr_t)mmap(NULL, a->small_len, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if ((void *)(uintptr_t)a->small == MAP_FAILED) {
        refuse(sock, errno, "mmap(holding area)");
        return -1;
    }
    /* A child must not share the held pages: a page mapped twice (copy on
     * write) can no longer be moved home.  Nor does it need our state. */
    madvise((void *)(uintptr_t)a->hold, a->hold_len, MADV_DONTFORK);
    madvise((void *)(uintptr_t)a->small, a->small_len, MADV_DONTFORK);
    madvise(a, a->self_hi - a->self_lo, MADV_DONTFORK);
    /* (not the thread's stack: glibc's fork walks every thread's
     * descriptor, at the top of it, in the child) */
    if (agent_reg(a, a->hold, a->hold_len, UFFDIO_REGISTER_MODE_MISSING) < 0 ||
        agent_reg(a, a->small, a->small_len, UFFDIO_REGISTER_MODE_MISSING) < 0) {
        refuse(sock, errno, "UFFDIO_REGISTER(holding area)");
        return -1;
    }
    g_uffd = a->uffd;
    g_sock = sock;
    a->ctl = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (a->ctl < 0) {
        refuse(sock, errno, "eventfd");
        return -1;
    }
    pthread_once(&g_atfork_once, install_atfork);
    a->out.v[0] = a->self_lo;  a->out.v[1] = a->self_hi;
    a->out.v[2] = a->stack_lo; a->out.v[3] = a->stack_hi;
    a->out.v[4] = a->hold;     a->out.v[5] = a->hold + a->hold_len;
    a->out.v[6] = a->small;    a->out.v[7] = a->small + a->small_len;
    a->out.v[8] = (uint64_t)feats;
    if (agent_send(a, VMLAB_AGENT_HELLO, 0, VMLAB_AGENT_PROTO, 9) < 0)
        return -1;
    /* The thread sees no signal: a handler run there could touch a page it
     * alone can bring back. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, stack, STACK_SZ);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    g_agent = a;
    g_agent_pid = getpid();
    err = pthread_create(&th, &attr, agent_serve, a);
    if (err) {
        g_agent = NULL;
        agent_finish(a);
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err ? -err : 0;
}
