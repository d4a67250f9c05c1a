/* The prot backend's checks (runtime/damon_prot.c): what it may sample,
 * and why it refused.  Attaching is vmlab_damon_prot_attach (damon.h). */
#ifndef VMLAB_DAMON_PROT_H
#define VMLAB_DAMON_PROT_H
#include <stddef.h>
#include <stdint.h>

struct vmlab_damon;

/* Whether the prot backend may sample [start, end): every page mapped, and
 * all of it memory vmlab maps for the user (segments, and shared mappings
 * wrapped with seg.wrap such as pools), none of it the runtime's own
 * (heap, stacks, vdso, the binary and libraries, malloc arenas): making
 * those PROT_NONE faults inside the sampler or the handler.  0, or -errno
 * (-EFAULT not mapped, -EPERM the runtime's) with the reason in why. */
int vmlab_damon_prot_check_range(uint64_t start, uint64_t end, char *why, size_t len);

/* Every target of d, as above ("target 2: ..."). */
int vmlab_damon_prot_check_targets(const struct vmlab_damon *d, char *why, size_t len);

/* Why the last vmlab_damon_prot_attach() on this thread failed: a refused
 * target, the fault-hook limit (VMLAB_FAULT_MAX_HOOKS monitors at once),
 * or memory.  "" after a success. */
const char *vmlab_damon_prot_why(void);
#endif
