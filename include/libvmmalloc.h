/* libvmmalloc: a program's heap on a memory-mapped file (libvmmalloc(3)). */
#ifndef LIBVMMALLOC_H
#define LIBVMMALLOC_H

/* The smallest pool VMMALLOC_POOL_SIZE (and vmlab.pool) accepts: 14 MiB,
 * as the original libvmmalloc's. */
#define VMMALLOC_MIN_POOL ((size_t)(14u * 1024 * 1024))

#endif
