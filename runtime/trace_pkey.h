/* Protection keys for the exact-mode tracer (runtime/trace_pkey.c): the
 * PKRU register of the thread that faulted, as saved in its signal frame
 * (the kernel restores PKRU from there on sigreturn, so editing it there
 * opens or closes a key for that thread with no system call).  Private to
 * runtime/trace_seg.c. */
#ifndef VMLAB_TRACE_PKEY_H
#define VMLAB_TRACE_PKEY_H
#include <stdint.h>

/* PKRU bits of key k: access disabled, write disabled. */
#define PKRU_AD(k) (1u << (2 * (k)))
#define PKRU_WD(k) (2u << (2 * (k)))

/* 1 when this CPU and kernel give protection keys (CPUID OSPKE), the xsave
 * layout has a PKRU component where we expect it, and sigreturn was seen
 * to restore a PKRU edited in the frame (probed once, on a page of our
 * own); 0 otherwise, or when VMLAB_TRACE_PKEYS=0 is in the environment. */
int vmlab_pkey_usable(void);

/* In a fault hook (uc from vmlab_fault_ucontext()): where the frame keeps
 * the interrupted thread's PKRU (XSTATE_BV's PKRU bit set, so the value
 * written there is the one restored), or NULL when the frame has none. */
uint32_t *vmlab_pkey_frame(void *uc);

/* 1 if the fault was a write, 0 a read, -1 unknown (not x86-64). */
int vmlab_pkey_fault_write(void *uc);

/* The calling thread's PKRU (normal context). */
uint32_t vmlab_pkey_read(void);
void vmlab_pkey_write(uint32_t v);
#endif
