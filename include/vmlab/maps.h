#ifndef VMLAB_MAPS_H
#define VMLAB_MAPS_H
#include <stddef.h>
#include <stdint.h>

/* One line of /proc/self/maps. */
struct vmlab_mapping {
    uint64_t start, end, offset, inode;
    char perms[5];        /* "rw-p" */
    const char *path;     /* the name column, "" when anonymous; valid
                             during the callback only */
};

/* Call fn for each of this process's mappings, in address order, until it
 * returns non-zero, which is then returned; 0 at the end, or -errno when
 * /proc/self/maps cannot be read. */
int vmlab_maps_each(int (*fn)(void *ctx, const struct vmlab_mapping *m), void *ctx);

/* All of them at once, paths copied: 0 or -errno (-ENOMEM included).
 * vmlab_maps_free releases what vmlab_maps_read gave. */
int vmlab_maps_read(struct vmlab_mapping **out, size_t *n);
void vmlab_maps_free(struct vmlab_mapping *v, size_t n);

/* 1 when every byte of [start, end) is mapped (end > start), else 0. */
int vmlab_maps_covered(uint64_t start, uint64_t end);

#endif
