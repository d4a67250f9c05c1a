/* What vmlab.damon borrows from vmlab.uffd's glue (bindings/uffd.c) for
 * backend = "uffd": its target and mode options, and its stats. */
#ifndef VMLAB_UFFD_LUA_H
#define VMLAB_UFFD_LUA_H
#include "vmlab/damon.h"
#include "vmlab/host.h"

/* targets = { {command = {"cmd", "arg", ...}} } and mode = "rw"|"write"
 * from the options table at opts into o (argv Lua-owned, pushed). */
void vmlab_uffd_lua_target(lua_State *L, int opts, struct vmlab_damon_opts *o);
/* The uffd fields of m:stats() into the table on top. */
void vmlab_uffd_lua_stats(lua_State *L, struct vmlab_damon *d);
#endif
