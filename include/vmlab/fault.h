/* One SIGSEGV/SIGBUS handler for the whole runtime.  A fault is offered,
 * in order, to
 *   1. hooks: the `prot` sampler registers one that claims faults on the
 *      pages it protected (records the access, restores the protection,
 *      and the access is retried);
 *   2. the innermost guard of the faulting thread: a C operation on user
 *      memory (touch, fill, verify) that turns a fault into an error;
 *   3. the handler that was installed before vmlab's (chained), and
 *      failing that the default action (the process dies as it would).
 *
 * Use of a guard (sigsetjmp must stand alone in the if, per C's rules):
 *
 *     struct vmlab_fault_guard g;
 *     vmlab_fault_push(&g);
 *     if (sigsetjmp(g.env, 1) == 0) {
 *         ... touch memory ...
 *     } else {
 *         ... g.fault.addr faulted with g.fault.sig / g.fault.code ...
 *     }
 *     vmlab_fault_pop(&g);          // on both paths; idempotent
 */
#ifndef VMLAB_FAULT_H
#define VMLAB_FAULT_H
#include <setjmp.h>
#include <signal.h>

struct vmlab_fault {
    void *addr;  /* si_addr */
    int sig;     /* SIGSEGV or SIGBUS */
    int code;    /* si_code: SEGV_MAPERR, SEGV_ACCERR, BUS_ADRERR ... */
};

struct vmlab_fault_guard {
    sigjmp_buf env;
    struct vmlab_fault fault;
    struct vmlab_fault_guard *prev;
};

/* A hook returns 1 when it handled the fault (the access is retried).
 * It runs in signal context: async-signal-safe work only. */
typedef int (*vmlab_fault_hook_fn)(void *addr, int sig, int code, void *ctx);

/* Install the handler (idempotent).  Returns 0 or -1 with errno. */
int vmlab_fault_init(void);
/* Register/unregister a hook; at most VMLAB_FAULT_MAX_HOOKS at once.
 * Returns 0, or -1 with errno ENOSPC. */
#define VMLAB_FAULT_MAX_HOOKS 8
int vmlab_fault_add_hook(vmlab_fault_hook_fn fn, void *ctx);
void vmlab_fault_remove_hook(vmlab_fault_hook_fn fn, void *ctx);
/* Inside a hook: the ucontext_t of the fault (the saved registers, and
 * the xsave area the kernel restores on return); NULL elsewhere. */
void *vmlab_fault_ucontext(void);

void vmlab_fault_push(struct vmlab_fault_guard *g);
void vmlab_fault_pop(struct vmlab_fault_guard *g);

/* "SEGV_ACCERR (protection)" etc., for messages. */
const char *vmlab_fault_describe(const struct vmlab_fault *f);
#endif
