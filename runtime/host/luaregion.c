/* Regions as every binding gives them to Lua: {start=, ["end"]=,
 * nr_accesses=, age=} (DESIGN.md's damon.core tables). */
#include "vmlab/host.h"
#include "vmlab/region.h"

void vmlab_pushregion(lua_State *L, const struct vmlab_region *r, int extra)
{
    lua_createtable(L, 0, 4 + extra);                        /* region */
    lua_pushinteger(L, (lua_Integer)r->start);
    lua_setfield(L, -2, "start");
    lua_pushinteger(L, (lua_Integer)r->end);
    lua_setfield(L, -2, "end");
    lua_pushinteger(L, r->nr_accesses);
    lua_setfield(L, -2, "nr_accesses");
    lua_pushinteger(L, r->age);
    lua_setfield(L, -2, "age");
}

void vmlab_pushregions(lua_State *L, const struct vmlab_region *v, size_t n)
{
    lua_createtable(L, (int)n, 0);                           /* list */
    for (size_t i = 0; i < n; i++) {
        vmlab_pushregion(L, &v[i], 0);                       /* list region */
        lua_rawseti(L, -2, (lua_Integer)i + 1);              /* list */
    }
}
