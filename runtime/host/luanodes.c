/* Node (and cpu) lists as bindings take and give them: "0-2,5", "*",
 * "0x3", an integer or an array of numbers; arrays back out. */
#include "vmlab/host.h"
#include "vmlab/numa.h"

#include <string.h>

void vmlab_checknodes(lua_State *L, int idx, struct vmlab_nodemask *m)
{
    char err[160];

    memset(m, 0, sizeof *m);
    if (lua_isinteger(L, idx)) {
        lua_Integer n = lua_tointeger(L, idx);
        if (n < 0 || n >= VMLAB_MAX_NODES)
            luaL_argerror(L, idx, "node number out of range");
        vmlab_nodes_set(m, (int)n);
    } else if (lua_type(L, idx) == LUA_TSTRING) {
        if (vmlab_parse_nodes(lua_tostring(L, idx), m, err, sizeof err) < 0)
            luaL_argerror(L, idx, err);
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        for (lua_Integer i = 1; i <= luaL_len(L, idx); i++) {
            lua_rawgeti(L, idx, i);
            if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 ||
                lua_tointeger(L, -1) >= VMLAB_MAX_NODES)
                luaL_argerror(L, idx, "a list holds numbers from 0");
            vmlab_nodes_set(m, (int)lua_tointeger(L, -1));
            lua_pop(L, 1);
        }
    } else if (!lua_isnoneornil(L, idx)) {
        luaL_typeerror(L, idx, "node list (string, integer or array)");
    }
}

void vmlab_pushnodes(lua_State *L, const struct vmlab_nodemask *m)
{
    int k = 0;

    lua_newtable(L);
    for (int i = 0; i < VMLAB_MAX_NODES; i++)
        if (vmlab_nodes_isset(m, i)) {
            lua_pushinteger(L, i);
            lua_rawseti(L, -2, ++k);
        }
}
