/* What vmlab.damon (bindings/damon.c) takes from bindings/damon_status.c:
 * its kernel_status and kernel_available, there beside the status view so
 * that damon.c stays one job (the monitor). */
#ifndef VMLAB_BINDINGS_DAMON_GLUE_H
#define VMLAB_BINDINGS_DAMON_GLUE_H
#include <lua.h>

int vmlab_damon_lua_kernel_status(lua_State *L);
int vmlab_damon_lua_kernel_available(lua_State *L);
#endif
