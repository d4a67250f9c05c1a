/* What bindings/seg.c and bindings/seg_query.c (the two halves of
 * vmlab.seg's glue) share; no other binding includes this. */
#ifndef VMLAB_BINDINGS_SEG_GLUE_H
#define VMLAB_BINDINGS_SEG_GLUE_H
#include <stdint.h>
#include <lua.h>
#include <lauxlib.h>

#include "vmlab/seg.h"

#define SEG_MT "vmlab.seg"
#define MAPS_MT "vmlab.seg.mapping"

struct lseg {
    struct vmlab_seg *s;   /* NULL once closed */
};

#define VMLAB_SEG_RANGE_KEYS "offset", "length"
#define RANGE_KEYS VMLAB_SEG_RANGE_KEYS
extern const char *const vmlab_seg_range_keys[];

struct vmlab_seg *segl_check(lua_State *L, int idx);
/* "seg 'buf' +0x1000 4 MiB" for messages (pushed). */
const char *segl_describe(lua_State *L, const struct vmlab_seg *s, uint64_t off, uint64_t len);
/* offset= and length= of an options table, checked against the segment. */
void segl_range_opts(lua_State *L, int idx, struct vmlab_seg *s, uint64_t *off, uint64_t *len);
void segl_requiremapped(lua_State *L, struct vmlab_seg *s, const char *what);
int segl_ok_or_fail(lua_State *L, int r, const char *fmt, const char *a, const char *b);

extern const luaL_Reg vmlab_seg_query_methods[];
extern const luaL_Reg vmlab_seg_map_methods[];
int vmlab_seg_l_maps(lua_State *L);
#endif
