/* damon.monitor's targets and oracle patterns (see damon_targets.h):
 * option parsing only, for the glue in bindings/damon.c. */
#include "damon_targets.h"
#include "vmlab/seg.h"

#include <string.h>
#include <sys/mman.h>

/* Targets: "self" (nil), or an array of segments ({addr=, size=, prot=})
 * and {start=, ["end"]=} ranges, into Lua-owned arrays. */
size_t vmlab_damon_lua_targets(lua_State *L, int opts, struct vmlab_range **ranges, int **prot)
{
    size_t n;

    if (lua_getfield(L, opts, "mode") != LUA_TNIL)
        luaL_error(L, "damon.monitor: option 'mode' is the uffd backend's (\"rw\" or \"write\")");
    lua_pop(L, 1);
    lua_getfield(L, opts, "targets");                          /* targets */
    if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "self"))) {
        lua_pop(L, 1);
        *ranges = NULL;
        *prot = NULL;
        return 0;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "damon.monitor: bad option 'targets' (\"self\" or an array of segments and ranges)");
    n = lua_rawlen(L, -1);
    if (n == 0)
        luaL_error(L, "damon.monitor: bad option 'targets' (empty)");
    *ranges = lua_newuserdatauv(L, n * sizeof **ranges, 0);   /* targets ranges */
    *prot = lua_newuserdatauv(L, n * sizeof **prot, 0);       /* targets ranges prot */
    lua_rotate(L, -3, 2);                                      /* ranges prot targets */
    for (size_t t = 0; t < n; t++) {
        uint64_t start, end;
        const char *p;
        lua_rawgeti(L, -1, (lua_Integer)t + 1);                /* .. targets tg */
        if (!lua_istable(L, -1) && !lua_isuserdata(L, -1))
            luaL_error(L, "bad target %d: a segment or {start=, [\"end\"]=} expected", (int)t + 1);
        if (lua_getfield(L, -1, "start") == LUA_TNUMBER) {
            lua_getfield(L, -2, "end");
            if (!lua_isinteger(L, -2) || !lua_isinteger(L, -1))
                luaL_error(L, "bad target %d: start and end must be integers", (int)t + 1);
            start = (uint64_t)lua_tointeger(L, -2);
            end = (uint64_t)lua_tointeger(L, -1);
            lua_pop(L, 2);
            (*prot)[t] = PROT_READ | PROT_WRITE;
        } else {
            lua_pop(L, 1);
            lua_getfield(L, -1, "addr");
            lua_getfield(L, -2, "size");
            if (!lua_isinteger(L, -2) || !lua_isinteger(L, -1))
                luaL_error(L, "bad target %d: a segment or {start=, [\"end\"]=} expected", (int)t + 1);
            start = (uint64_t)lua_tointeger(L, -2);
            end = start + (uint64_t)lua_tointeger(L, -1);
            lua_pop(L, 2);
            lua_getfield(L, -1, "prot");
            p = lua_tostring(L, -1);
            if (!p || vmlab_parse_prot(p, &(*prot)[t]) < 0)
                (*prot)[t] = PROT_READ | PROT_WRITE;
            lua_pop(L, 1);
        }
        (*ranges)[t] = (struct vmlab_range){start, end};
        lua_pop(L, 1);                                         /* .. targets */
    }
    lua_pop(L, 1);                                             /* ranges prot */
    return n;
}

/* oracle = {{start=, ["end"]=, p=1, from=, to=}, ...}: a synthetic
 * pattern answered in C (fast enough for long replays).  Pushes the
 * Lua-owned array. */
struct vmlab_damon_pattern *vmlab_damon_lua_pattern(lua_State *L, int idx, size_t *np)
{
    static const char *const keys[] = {"start", "end", "p", "from", "to", NULL};
    size_t n = lua_rawlen(L, idx);
    struct vmlab_damon_pattern *v = lua_newuserdatauv(L, (n + 1) * sizeof *v, 0);

    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        int r = lua_gettop(L);
        if (!lua_istable(L, r))
            luaL_error(L, "bad oracle pattern entry %d: a table {start=, [\"end\"]=, p=} expected", (int)i + 1);
        vmlab_checkopts(L, r, "damon.monitor (oracle pattern)", keys);
        lua_getfield(L, r, "start");
        lua_getfield(L, r, "end");
        if (!lua_isinteger(L, -2) || !lua_isinteger(L, -1) || lua_tointeger(L, -1) <= lua_tointeger(L, -2))
            luaL_error(L, "bad oracle pattern entry %d: start and end must be integers, end above start", (int)i + 1);
        v[i].start = (uint64_t)lua_tointeger(L, -2);
        v[i].end = (uint64_t)lua_tointeger(L, -1);
        lua_pop(L, 2);
        v[i].p = vmlab_optfield_number(L, r, "p", 1.0, 0, 1);   /* a probability; NaN named */
        double from = vmlab_optfield_time(L, r, "from", 0), to = vmlab_optfield_time(L, r, "to", 0);
        if (!(from <= 1e9 && to <= 1e9))    /* microseconds must fit: about 30 years */
            luaL_error(L, "bad oracle pattern entry %d: from and to are at most 1e9 s", (int)i + 1);
        v[i].from_us = (uint64_t)(from * 1e6);
        v[i].until_us = (uint64_t)(to * 1e6);
        lua_pop(L, 1);
    }
    *np = n;
    return v;
}
