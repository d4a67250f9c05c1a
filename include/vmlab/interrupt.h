/* The interrupt flag: SIGINT (or a timeout) sets it, long C loops poll it
 * and stop early with EINTR, and the host turns that into a Lua error. */
#ifndef VMLAB_INTERRUPT_H
#define VMLAB_INTERRUPT_H
#include <signal.h>

extern volatile sig_atomic_t vmlab_interrupt_flag;

static inline int vmlab_interrupted(void) { return vmlab_interrupt_flag != 0; }
void vmlab_interrupt_raise(void);
void vmlab_interrupt_clear(void);
#endif
