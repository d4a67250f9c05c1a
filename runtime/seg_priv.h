/* Between the seg engine's own files (not a public API). */
#ifndef VMLAB_SEG_PRIV_H
#define VMLAB_SEG_PRIV_H
#include "vmlab/seg.h"

/* Tell the listeners a change of [start, end) is coming: 0, or the first
 * veto (-errno; the listeners that agreed have had their after()). */
int vmlab_seg_notify_before(const struct vmlab_seg *s, enum vmlab_seg_event ev, uintptr_t start,
                            uintptr_t end, int prot);
/* ... and how it went (result 0 or -errno). */
void vmlab_seg_notify_after(const struct vmlab_seg *s, enum vmlab_seg_event ev, uintptr_t start,
                            uintptr_t end, int prot, int result);
#endif
