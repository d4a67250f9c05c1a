/* What vmlab.damon borrows from vmlab.uffd's glue (bindings/uffd.c) for
 * backend = "uffd": its target and mode options, and its stats. */
#ifndef VMLAB_UFFD_LUA_H
#define VMLAB_UFFD_LUA_H
#include "vmlab/damon.h"
#include "vmlab/host.h"

/* targets and mode = "rw"|"write" from the options table at opts into o:
 * { {command = {"cmd", "arg", ...}} } (argv Lua-owned, pushed), a
 * vmlab.proc child or { {pid = N} } of one (its agent started inside it;
 * the link pushed), or segments and ranges (o->ranges, pushed).  0, or
 * the count of nil, message, errno pushed when a child's agent failed. */
int vmlab_uffd_lua_target(lua_State *L, int opts, struct vmlab_damon_opts *o);
/* In a proc.fork child: answer the parent's signal by starting the agent
 * at L's next Lua instruction (bindings/proc.c calls it after fork). */
void vmlab_uffd_lua_child(lua_State *L);
/* The uffd fields of m:stats() into the table on top. */
void vmlab_uffd_lua_stats(lua_State *L, struct vmlab_damon *d);
#endif
