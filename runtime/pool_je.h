/* The pools' jemalloc: the build's private static copy, whose API carries a
 * vmje_ prefix (see the Makefile's pools section) so that it serves pools
 * without taking over the process's malloc.  Included by runtime/pool*.c
 * and runtime/vmmalloc/ only. */
#ifndef VMLAB_POOL_JE_H
#define VMLAB_POOL_JE_H
#include <stdbool.h>

#define mallocx vmje_mallocx
#define rallocx vmje_rallocx
#define xallocx vmje_xallocx
#define sallocx vmje_sallocx
#define dallocx vmje_dallocx
#define sdallocx vmje_sdallocx
#define nallocx vmje_nallocx
#define mallctl vmje_mallctl
#define mallctlnametomib vmje_mallctlnametomib
#define mallctlbymib vmje_mallctlbymib
#define malloc_stats_print vmje_malloc_stats_print
#define malloc_conf vmje_malloc_conf
#include <jemalloc/jemalloc.h>

/* jemalloc 5.3's experimental.arenas_create_ext argument: an arena whose
 * metadata (its "base") does not go through the extent hooks. */
struct vmlab_je_arena_config {
    extent_hooks_t *extent_hooks;
    bool metadata_use_hooks;
};

#endif
