/* Segment listeners: how a monitor learns that a watched segment's pages
 * changed protection or went away (see seg.h).  The list is short (one
 * entry per prot monitor) and changes rarely; a mutex keeps a monitor
 * closing on one thread from racing a protect on another. */
#include "seg_priv.h"

#include <pthread.h>
#include <stddef.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct vmlab_seg_listener *listeners;

void vmlab_seg_listen(struct vmlab_seg_listener *l)
{
    pthread_mutex_lock(&lock);
    l->next = listeners;
    listeners = l;
    pthread_mutex_unlock(&lock);
}

void vmlab_seg_unlisten(struct vmlab_seg_listener *l)
{
    pthread_mutex_lock(&lock);
    for (struct vmlab_seg_listener **p = &listeners; *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            break;
        }
    pthread_mutex_unlock(&lock);
}

/* The list stays locked from before() to after(): a listener cannot leave
 * between the two halves of one change. */
int vmlab_seg_notify_before(const struct vmlab_seg *s, enum vmlab_seg_event ev, uintptr_t start,
                            uintptr_t end, int prot)
{
    pthread_mutex_lock(&lock);
    for (struct vmlab_seg_listener *l = listeners; l; l = l->next) {
        int r = l->before ? l->before(l->ctx, s, ev, start, end, prot) : 0;
        if (r) {
            /* undo the ones that agreed: they see a failed change */
            for (struct vmlab_seg_listener *u = listeners; u != l; u = u->next)
                if (u->after)
                    u->after(u->ctx, s, ev, start, end, prot, r);
            pthread_mutex_unlock(&lock);
            return r;
        }
    }
    return 0;
}

void vmlab_seg_notify_after(const struct vmlab_seg *s, enum vmlab_seg_event ev, uintptr_t start,
                            uintptr_t end, int prot, int result)
{
    for (struct vmlab_seg_listener *l = listeners; l; l = l->next)
        if (l->after)
            l->after(l->ctx, s, ev, start, end, prot, result);
    ((struct vmlab_seg *)s)->gen++;
    pthread_mutex_unlock(&lock);
}
