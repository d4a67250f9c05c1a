/* damon.monitor's target and oracle-pattern options, parsed for the glue
 * in bindings/damon.c (kept apart to keep that file small). */
#ifndef VMLAB_DAMON_TARGETS_H
#define VMLAB_DAMON_TARGETS_H
#include "vmlab/damon.h"
#include "vmlab/host.h"

/* targets: "self" (nil: returns 0), or an array of segments and
 * {start=, ["end"]=} ranges, into Lua-owned arrays (pushed: ranges, prot). */
size_t vmlab_damon_lua_targets(lua_State *L, int opts, struct vmlab_range **ranges, int **prot);
/* oracle = {{start=, ["end"]=, p=, from=, to=}, ...} at idx: pushes the
 * Lua-owned array. */
struct vmlab_damon_pattern *vmlab_damon_lua_pattern(lua_State *L, int idx, size_t *np);
#endif
