/* require "vmlab.progress": the progress line of long work, for Lua loops.
 *
 *   local p <close> = progress.start("render heatmap", #snaps, { unit = "count" })
 *   for i, s in ipairs(snaps) do ...; p:update(i) end
 *
 * Drawn on stderr only when it is a terminal, past a threshold (min) and
 * after the work has run a while (runtime/progress.c); VMLAB_PROGRESS=0
 * turns it off, =1 drops the threshold.  The class lives in the host
 * (runtime/host/luaprogress.c) so C bindings push the same object. */
#include "vmlab/host.h"
#include "vmlab/progress.h"

#include <string.h>

static const char *const units[] = {"bytes", "count", "seconds", NULL};

/* An amount in the unit: a size, a count or a time. */
static uint64_t amount(lua_State *L, int idx, enum vmlab_progress_unit unit)
{
    if (unit == VMLAB_PROGRESS_BYTES)
        return vmlab_checksize(L, idx);
    if (unit == VMLAB_PROGRESS_SECONDS)
        return (uint64_t)(vmlab_checktime(L, idx) * 1e6);
    return (uint64_t)vmlab_checkrange(L, idx, 0, LUA_MAXINTEGER);
}

/* progress.start(what, total[, {unit="bytes"|"count"|"seconds", min=}]) -> p */
static int l_start(lua_State *L)
{
    static const char *const keys[] = {"unit", "min", NULL};
    const char *what = vmlab_checkcstring(L, 1, NULL);
    enum vmlab_progress_unit unit = VMLAB_PROGRESS_COUNT;
    uint64_t total, min = 0;

    vmlab_checkopts(L, 3, "progress.start", keys);
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "unit");                           /* what total opts unit */
        if (!lua_isnil(L, -1)) {
            const char *u = lua_tostring(L, -1);
            int i = 0;
            while (units[i] && !(u && lua_type(L, -1) == LUA_TSTRING && !strcmp(units[i], u)))
                i++;
            if (!units[i])
                return luaL_error(L, "progress.start: unit is 'bytes', 'count' or 'seconds', not '%s'",
                                  luaL_tolstring(L, -1, NULL));
            unit = (enum vmlab_progress_unit)i;
        }
        lua_getfield(L, 3, "min");                            /* what total opts unit min */
        if (!lua_isnil(L, -1))
            min = amount(L, lua_gettop(L), unit);
        lua_pop(L, 2);
    }
    total = amount(L, 2, unit);
    vmlab_pushprogress(L, what, total, unit, min);            /* ... p */
    return 1;
}

static const luaL_Reg funcs[] = {{"start", l_start}, {NULL, NULL}};

int luaopen_vmlab_progress(lua_State *L)
{
    vmlab_pushprogress(L, "", 0, VMLAB_PROGRESS_COUNT, 0);    /* p: the class is registered */
    lua_pop(L, 1);
    luaL_newlib(L, funcs);                                    /* progress */
    return 1;
}
