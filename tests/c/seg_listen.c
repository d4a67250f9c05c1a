/* The seg engine's listeners, its one protection parser and its check of
 * whose memory a range is, through include/vmlab/seg.h only. */
#include "tap.h"
#include "vmlab/seg.h"
#include "vmlab/units.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

struct seen {
    int before, after, veto, last_ev, last_prot, last_result;
    uintptr_t start, end;
};

static int before(void *ctx, const struct vmlab_seg *s, enum vmlab_seg_event ev, uintptr_t start,
                  uintptr_t end, int prot)
{
    struct seen *w = ctx;
    (void)s;
    w->before++;
    w->last_ev = (int)ev;
    w->last_prot = prot;
    w->start = start;
    w->end = end;
    return w->veto;
}

static void after(void *ctx, const struct vmlab_seg *s, enum vmlab_seg_event ev, uintptr_t start,
                  uintptr_t end, int prot, int result)
{
    struct seen *w = ctx;
    (void)s; (void)ev; (void)start; (void)end; (void)prot;
    w->after++;
    w->last_result = result;
}

int main(void)
{
    size_t ps = vmlab_pagesize();
    struct vmlab_seg_opts o = {.map = 1};
    struct vmlab_seg *s;
    struct seen w = {0};
    struct vmlab_seg_listener l = {before, after, &w, NULL};
    char why[256];
    int prot;
    unsigned gen;
    void *heap = malloc(64);

    /* one parser */
    ok(vmlab_parse_prot("rw", &prot) == 0 && prot == (PROT_READ | PROT_WRITE), "'rw'");
    ok(vmlab_parse_prot("r-x", &prot) == 0 && prot == (PROT_READ | PROT_EXEC), "'r-x' (maps columns)");
    ok(vmlab_parse_prot("none", &prot) == 0 && prot == PROT_NONE, "'none'");
    ok(vmlab_parse_prot("---", &prot) == 0 && prot == PROT_NONE, "'---'");
    ok(vmlab_parse_prot("rr", &prot) < 0, "'rr' refused");
    ok(vmlab_parse_prot("rwxr", &prot) < 0, "four letters refused");
    ok(vmlab_parse_prot("", &prot) < 0, "empty refused");
    ok(vmlab_parse_prot("q", &prot) < 0, "'q' refused");

    is_int(vmlab_seg_anon("l", 16 * ps, &o, &s), 0, "an anon segment");
    gen = s->gen;
    vmlab_seg_listen(&l);
    is_int(vmlab_seg_protect(s, ps, 2 * ps, PROT_READ), 0, "protect two pages");
    is_int(w.before, 1, "before() ran once");
    is_int(w.after, 1, "after() ran once");
    is_int(w.last_ev, VMLAB_SEG_PROTECT, "a protect event");
    is_int(w.last_prot, PROT_READ, "with the new protection");
    ok(w.start == (uintptr_t)s->addr + ps && w.end == (uintptr_t)s->addr + 3 * ps, "and the range");
    is_int(w.last_result, 0, "that succeeded");
    ok(s->gen != gen, "the generation moved");

    w.veto = -ENOMEM;
    is_int(vmlab_seg_protect(s, 0, 0, PROT_NONE), -ENOMEM, "a listener vetoes a protect");
    is_int(vmlab_prot_at(s->addr), PROT_READ | PROT_WRITE, "and nothing changed");
    is_int(w.after, 1, "the vetoing listener gets no after()");
    w.veto = 0;

    /* whose memory */
    is_int(vmlab_seg_check_user_range((uintptr_t)s->addr, (uintptr_t)s->addr + s->size, why, sizeof why), 0,
           "a segment is the user's memory");
    is_int(vmlab_seg_check_user_range(0, ps, why, sizeof why), -EFAULT, "address 0: not mapped");
    ok(strstr(why, "not mapped") != NULL, "saying so: %s", why);
    is_int(vmlab_seg_check_user_range((uintptr_t)heap & ~(ps - 1), ((uintptr_t)heap & ~(ps - 1)) + ps, why,
                                      sizeof why), -EPERM, "the heap is the runtime's");
    ok(strstr(why, "runtime's own memory") != NULL, "saying so: %s", why);
    is_int(vmlab_seg_check_user_range((uintptr_t)s->addr, (uintptr_t)s->addr + s->size + ps, why, sizeof why) < 0,
           1, "running past the segment is refused: %s", why);

    is_int(vmlab_seg_unmap(s), 0, "unmap");
    is_int(w.last_ev, VMLAB_SEG_UNMAP, "an unmap event");
    is_int(w.before, 3, "before() saw it");
    is_int(vmlab_seg_check_user_range(w.start, w.end, why, sizeof why) < 0, 1,
           "an unmapped segment is nobody's to sample");
    vmlab_seg_unlisten(&l);
    is_int(vmlab_seg_map(s), 0, "map again");
    vmlab_seg_remove(s);
    is_int(w.before, 3, "no events after unlisten");

    /* wrap: wrap-around and holes refused */
    is_int(vmlab_seg_wrap("w", (void *)(uintptr_t)-ps, 2 * ps, PROT_READ, &s), -EINVAL,
           "wrap past the top of the address space refused");
    is_int(vmlab_seg_wrap("w", (void *)ps, ps, PROT_READ, &s), -EFAULT, "wrap of nothing refused");
    free(heap);
    return tap_done();
}
