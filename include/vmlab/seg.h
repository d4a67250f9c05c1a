/* Segments: named memory mappings (memtoy's segments) and what can be done
 * to them.  Plain C; errors are negative errno values, and the caller (a
 * binding) names the call and its arguments in the message. */
#ifndef VMLAB_SEG_H
#define VMLAB_SEG_H
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmlab/fault.h"

enum vmlab_seg_kind { VMLAB_SEG_ANON, VMLAB_SEG_FILE, VMLAB_SEG_SHMEM, VMLAB_SEG_MEMFD,
                      VMLAB_SEG_WRAP };

#define VMLAB_SEG_NAME_MAX 64

struct vmlab_seg {
    char name[VMLAB_SEG_NAME_MAX];
    enum vmlab_seg_kind kind;
    int shared;           /* MAP_SHARED (file, memfd, anon) or SysV shm */
    int huge;             /* MADV_HUGEPAGE, SHM_HUGETLB or MFD_HUGETLB */
    int prot;             /* current PROT_* of the whole segment */
    int mapped;
    void *addr;           /* where it is mapped (or the hint when not) */
    size_t size;          /* length in bytes */
    off_t offset;         /* file offset */
    size_t pagesize;      /* base page size, or the huge page size */
    uint64_t align;       /* anon: mapped at a multiple of this (0: any) */
    int fd;               /* file/memfd, -1 otherwise */
    int shmid;            /* SysV, -1 otherwise */
    unsigned gen;         /* bumped by every protect, map and unmap */
    char path[PATH_MAX];  /* file path */
    struct vmlab_seg *next;
};

/* Define segments.  map: map it now.  The name must be unique. */
struct vmlab_seg_opts {
    int shared, huge, map;
    void *hint;           /* address hint (anon) */
    uint64_t align;       /* anon: map at a multiple of this (a power of two) */
    off_t offset;         /* file */
    uint64_t length;      /* file: 0 = to the end of the file */
    uint64_t create;      /* file: create or extend to this size */
    int readonly;         /* file: open and map read-only */
};
int vmlab_seg_anon(const char *name, size_t size, const struct vmlab_seg_opts *o,
                   struct vmlab_seg **out);
int vmlab_seg_file(const char *name, const char *path, const struct vmlab_seg_opts *o,
                   struct vmlab_seg **out);
int vmlab_seg_shmem(const char *name, size_t size, const struct vmlab_seg_opts *o,
                    struct vmlab_seg **out);
int vmlab_seg_memfd(const char *name, size_t size, const struct vmlab_seg_opts *o,
                    struct vmlab_seg **out);
/* Register a mapping someone else owns (a pool, a /proc/self/maps entry);
 * unmap and remove leave the memory alone. */
int vmlab_seg_wrap(const char *name, void *addr, size_t size, int prot,
                   struct vmlab_seg **out);

int vmlab_seg_map(struct vmlab_seg *s);
int vmlab_seg_unmap(struct vmlab_seg *s);
/* Unmap, release the fd or the SysV id, forget and free the segment. */
void vmlab_seg_remove(struct vmlab_seg *s);

struct vmlab_seg *vmlab_seg_find(const char *name);
struct vmlab_seg *vmlab_seg_first(void);
const char *vmlab_seg_kind_name(enum vmlab_seg_kind k);

/* Check the segment is mapped and [off, off+len) inside it (len 0 = to the
 * end) with a page-aligned offset; fills *len.  0 or -EINVAL/-ERANGE. */
int vmlab_seg_range(const struct vmlab_seg *s, uint64_t off, uint64_t *len);

/* ---- access (runtime/seg_access.c) ---- */
enum vmlab_touch_op { VMLAB_TOUCH_READ, VMLAB_TOUCH_WRITE, VMLAB_TOUCH_RMW };
enum vmlab_touch_order { VMLAB_ORDER_SEQ, VMLAB_ORDER_STRIDE, VMLAB_ORDER_RANDOM };
struct vmlab_touch {
    enum vmlab_touch_op op;
    enum vmlab_touch_order order;
    uint64_t offset, length;   /* length 0: to the end */
    uint64_t stride;           /* pages, for STRIDE */
    uint64_t seed;             /* for RANDOM */
    int all;                   /* every byte, not one word per page */
    /* results */
    uint64_t pages;
    double seconds;
    struct vmlab_fault fault;  /* set when the result is -EFAULT */
};
/* Returns 0, -EINTR (interrupted), -EFAULT (t->fault says where), -EINVAL. */
int vmlab_seg_touch(struct vmlab_seg *s, struct vmlab_touch *t);
/* A pattern derived from the segment offset and a seed: verify finds lost
 * (zero), stale (old seed) and misplaced (other offset) pages. */
int vmlab_seg_fill(struct vmlab_seg *s, uint64_t off, uint64_t len, uint64_t seed,
                   struct vmlab_fault *f);
int vmlab_seg_verify(struct vmlab_seg *s, uint64_t off, uint64_t len, uint64_t seed,
                     uint64_t *first_bad, uint64_t *nbad_pages, struct vmlab_fault *f);

/* ---- control and queries (runtime/seg_ctl.c, runtime/seg_query.c) ---- */
int vmlab_seg_lock(struct vmlab_seg *s, uint64_t off, uint64_t len, int onfault);
int vmlab_seg_unlock(struct vmlab_seg *s, uint64_t off, uint64_t len);
int vmlab_seg_slock(struct vmlab_seg *s, int lock);
int vmlab_seg_protect(struct vmlab_seg *s, uint64_t off, uint64_t len, int prot);
/* madvise advice by name ("willneed", "pageout" ...): -ENOENT if unknown. */
int vmlab_madvise_value(const char *name);
const char *const *vmlab_madvise_names(void);
int vmlab_seg_advise(struct vmlab_seg *s, uint64_t off, uint64_t len, int advice);
/* mincore: resident page count; vec (optional) gets one byte per page. */
int64_t vmlab_seg_resident(struct vmlab_seg *s, uint64_t off, uint64_t len, unsigned char *vec);

struct vmlab_page_info {
    uint64_t pfn;          /* 0 when not permitted or not present */
    unsigned present : 1, swapped : 1, thp : 1, exclusive : 1, soft_dirty : 1, file : 1;
};
/* /proc/self/pagemap (and kpageflags for THP where readable). */
int vmlab_seg_pages(struct vmlab_seg *s, uint64_t off, uint64_t len, struct vmlab_page_info *out);
/* Node of each page (move_pages query: does not fault pages in); a page
 * not present gets a negative errno (-ENOENT, -EFAULT). */
int vmlab_seg_where(struct vmlab_seg *s, uint64_t off, uint64_t len, int *nodes);
/* The same, handing each chunk of answers to fn (pages first .. first+n-1). */
int vmlab_seg_where_each(struct vmlab_seg *s, uint64_t off, uint64_t len,
                         void (*fn)(void *ctx, uint64_t first, const int *nodes, uint64_t n),
                         void *ctx);
/* Protections as text: "rw-" and back.  The one parser of protections:
 * "none", or the letters r, w, x (each at most once, '-' as a filler, at
 * most three characters: "r", "rw", "r-x", "---", the first three columns
 * of /proc/self/maps).  -1 for anything else. */
const char *vmlab_prot_string(int prot);
int vmlab_parse_prot(const char *text, int *prot);
/* memtoy's table: its header, and one segment's line (snprintf's count). */
const char *vmlab_seg_table_header(void);
int vmlab_seg_table_line(const struct vmlab_seg *s, char *buf, size_t len);

/* The protection and sharing of the mapping holding addr
 * (/proc/self/maps): 0, or -1 when nothing is mapped there. */
int vmlab_mapping_at(const void *addr, int *prot, int *shared);
/* Its protection alone, or -1. */
int vmlab_prot_at(const void *addr);
/* ---- listeners (runtime/seg.c) ----
 * The seg engine owns a segment's protection and mapping.  Whoever else
 * relies on its pages' protection (the prot sampler arms sampled pages
 * PROT_NONE and restores them) listens here instead of keeping a copy.
 * For each protect and unmap of a range [start, end):
 *   before(): nothing has changed yet; a non-zero return (-errno) vetoes
 *             the change (the call fails with that error);
 *   after():  it happened (result 0) or failed (result -errno); called
 *             for every listener whose before() ran.
 * Both run on the thread calling the seg engine; `prot` is the new
 * protection (PROT_NONE for an unmap).  Listeners must not listen or
 * unlisten from inside these. */
enum vmlab_seg_event { VMLAB_SEG_PROTECT, VMLAB_SEG_UNMAP };
struct vmlab_seg_listener {
    int (*before)(void *ctx, const struct vmlab_seg *s, enum vmlab_seg_event ev,
                  uintptr_t start, uintptr_t end, int prot);
    void (*after)(void *ctx, const struct vmlab_seg *s, enum vmlab_seg_event ev,
                  uintptr_t start, uintptr_t end, int prot, int result);
    void *ctx;
    struct vmlab_seg_listener *next;   /* the engine's */
};
void vmlab_seg_listen(struct vmlab_seg_listener *l);
void vmlab_seg_unlisten(struct vmlab_seg_listener *l);

/* Whether [start, end) is the user's memory (runtime/seg_owner.c): every
 * page mapped, all of it inside segments vmlab maps or shared mappings
 * wrapped with seg.wrap (pools); none of it the runtime's own (heap,
 * stacks, vdso, the binary and libraries, private anonymous memory such
 * as malloc arenas), which a PROT_NONE or a written pattern would break.
 * 0, or -EINVAL (empty, unaligned), -EFAULT (a hole), -EPERM (the
 * runtime's) with the reason, naming the addresses, in why. */
int vmlab_seg_check_user_range(uint64_t start, uint64_t end, char *why, size_t len);

#endif
