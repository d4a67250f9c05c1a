/* Node (and cpu) lists as bindings take and give them: "0-2,5", "*",
 * "0x3", an integer or an array of numbers; arrays back out. */
#include "vmlab/host.h"
#include "vmlab/numa.h"

#include <string.h>

/* One number of a list: an integer 0 .. VMLAB_MAX_NODES-1. */
static int checkone(lua_State *L, int idx, int v, const char *what)
{
    if (!lua_isinteger(L, v) || lua_tointeger(L, v) < 0 || lua_tointeger(L, v) >= VMLAB_MAX_NODES) {
        const char *got = lua_type(L, v) == LUA_TNUMBER ? lua_pushfstring(L, "%s", lua_tostring(L, v))
                                                        : luaL_typename(L, v);
        luaL_argerror(L, idx, lua_pushfstring(L, "%s number %s out of range (0 to %d)", what, got,
                                              VMLAB_MAX_NODES - 1));
    }
    return (int)lua_tointeger(L, v);
}

static void checkmask(lua_State *L, int idx, struct vmlab_nodemask *m, const char *what,
                      int (*parse)(const char *, struct vmlab_nodemask *, char *, size_t))
{
    char err[200];

    memset(m, 0, sizeof *m);
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TNUMBER) {
        vmlab_nodes_set(m, checkone(L, idx, idx, what));
    } else if (lua_type(L, idx) == LUA_TSTRING) {
        const char *s = vmlab_checkcstring(L, idx, NULL);
        if (parse(s, m, err, sizeof err) < 0)
            luaL_argerror(L, idx, err);
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, idx);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            vmlab_nodes_set(m, checkone(L, idx, lua_gettop(L), what));
            lua_pop(L, 1);
        }
    } else if (!lua_isnoneornil(L, idx)) {
        luaL_typeerror(L, idx, lua_pushfstring(L, "%s list (string, integer or array)", what));
    }
}

void vmlab_checknodes(lua_State *L, int idx, struct vmlab_nodemask *m)
{
    checkmask(L, idx, m, "node", vmlab_parse_nodes);
}

void vmlab_checkcpus(lua_State *L, int idx, struct vmlab_nodemask *m)
{
    checkmask(L, idx, m, "cpu", vmlab_parse_cpus);
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
