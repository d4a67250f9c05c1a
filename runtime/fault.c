/* The runtime's SIGSEGV/SIGBUS handler: hooks, then per-thread guards,
 * then whatever handler was there before us (see fault.h). */
#include "vmlab/fault.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

struct hook {
    vmlab_fault_hook_fn fn;
    void *ctx;
};

static struct hook hooks[VMLAB_FAULT_MAX_HOOKS];
static struct sigaction old_segv, old_bus;
static int installed;
static __thread struct vmlab_fault_guard *guard;
static __thread void *cur_uc; /* the ucontext of the fault being handled */

void *vmlab_fault_ucontext(void) { return cur_uc; }

static void chain(int sig, siginfo_t *si, void *uc)
{
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;

    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
        old->sa_sigaction(sig, si, uc);
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
    } else {
        /* Default action: returning re-executes the access, which now
         * faults with the default disposition and dies as it should. */
        signal(sig, SIG_DFL);
    }
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    void *prev_uc = cur_uc;

    cur_uc = uc;
    for (int i = 0; i < VMLAB_FAULT_MAX_HOOKS; i++) {
        vmlab_fault_hook_fn fn = __atomic_load_n(&hooks[i].fn, __ATOMIC_ACQUIRE);
        if (fn && fn(si->si_addr, sig, si->si_code, hooks[i].ctx)) {
            cur_uc = prev_uc;
            errno = saved;
            return;
        }
    }
    cur_uc = prev_uc;
    if (guard) {
        struct vmlab_fault_guard *g = guard;
        g->fault.addr = si->si_addr;
        g->fault.sig = sig;
        g->fault.code = si->si_code;
        guard = g->prev;
        siglongjmp(g->env, 1);
    }
    errno = saved;
    chain(sig, si, uc);
}

int vmlab_fault_init(void)
{
    struct sigaction sa;

    if (__atomic_load_n(&installed, __ATOMIC_ACQUIRE))
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) < 0 || sigaction(SIGBUS, &sa, &old_bus) < 0)
        return -1;
    __atomic_store_n(&installed, 1, __ATOMIC_RELEASE);
    return 0;
}

int vmlab_fault_add_hook(vmlab_fault_hook_fn fn, void *ctx)
{
    if (vmlab_fault_init() < 0)
        return -1;
    for (int i = 0; i < VMLAB_FAULT_MAX_HOOKS; i++) {
        if (hooks[i].fn == NULL) {
            hooks[i].ctx = ctx;
            __atomic_store_n(&hooks[i].fn, fn, __ATOMIC_RELEASE);
            return 0;
        }
    }
    errno = ENOSPC;
    return -1;
}

void vmlab_fault_remove_hook(vmlab_fault_hook_fn fn, void *ctx)
{
    for (int i = 0; i < VMLAB_FAULT_MAX_HOOKS; i++)
        if (hooks[i].fn == fn && hooks[i].ctx == ctx)
            __atomic_store_n(&hooks[i].fn, NULL, __ATOMIC_RELEASE);
}

void vmlab_fault_push(struct vmlab_fault_guard *g)
{
    vmlab_fault_init();
    memset(&g->fault, 0, sizeof g->fault);
    g->prev = guard;
    guard = g;
}

void vmlab_fault_pop(struct vmlab_fault_guard *g)
{
    /* After a fault the handler has popped it already. */
    if (guard == g)
        guard = g->prev;
}

const char *vmlab_fault_describe(const struct vmlab_fault *f)
{
    if (f->sig == SIGBUS) {
        switch (f->code) {
        case BUS_ADRERR: return "SIGBUS: no backing page (beyond end of file?)";
        case BUS_ADRALN: return "SIGBUS: misaligned address";
        case BUS_MCEERR_AR: return "SIGBUS: hardware memory error";
        default: return "SIGBUS";
        }
    }
    switch (f->code) {
    case SEGV_MAPERR: return "SIGSEGV: address not mapped";
    case SEGV_ACCERR: return "SIGSEGV: access not permitted by the protection";
    case 4 /* SEGV_PKUERR */: return "SIGSEGV: access not permitted by the protection key";
    default: return "SIGSEGV";
    }
}
