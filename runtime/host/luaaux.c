/* Argument and error helpers shared by every binding (DESIGN.md's
 * conventions in one place: sizes, times, options, nil+message+errno). */
#include "vmlab/host.h"
#include "vmlab/interrupt.h"
#include "vmlab/units.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

uint64_t vmlab_checksize(lua_State *L, int idx)
{
    char err[160];
    uint64_t v;

    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        if (!lua_isinteger(L, idx)) {
            lua_Number n = lua_tonumber(L, idx);
            if (n != (lua_Number)(lua_Integer)n)
                luaL_argerror(L, idx, "size must be a whole number of bytes");
        }
        if (lua_tointeger(L, idx) < 0)
            luaL_argerror(L, idx, "size must not be negative");
        return (uint64_t)lua_tointeger(L, idx);
    case LUA_TSTRING:
        if (vmlab_parse_size(lua_tostring(L, idx), 0, &v, err, sizeof err))
            luaL_argerror(L, idx, err);
        return v;
    default:
        luaL_typeerror(L, idx, "size (integer or string like '4m')");
    }
    return 0;
}

uint64_t vmlab_optsize(lua_State *L, int idx, uint64_t def)
{
    return lua_isnoneornil(L, idx) ? def : vmlab_checksize(L, idx);
}

double vmlab_checktime(lua_State *L, int idx)
{
    char err[160];
    double v;

    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        v = lua_tonumber(L, idx);
        if (v < 0 || v != v)
            luaL_argerror(L, idx, "time must not be negative");
        return v;
    case LUA_TSTRING:
        if (vmlab_parse_time(lua_tostring(L, idx), &v, err, sizeof err))
            luaL_argerror(L, idx, err);
        return v;
    default:
        luaL_typeerror(L, idx, "time (seconds or string like '5ms')");
    }
    return 0;
}

double vmlab_opttime(lua_State *L, int idx, double def)
{
    return lua_isnoneornil(L, idx) ? def : vmlab_checktime(L, idx);
}

/* Push opts[k] (or nil when opts is absent); return its absolute index. */
static int getfield(lua_State *L, int idx, const char *k)
{
    if (lua_type(L, idx) != LUA_TTABLE) {
        if (!lua_isnoneornil(L, idx))
            luaL_typeerror(L, idx, "table of options");
        lua_pushnil(L);
    } else {
        lua_getfield(L, idx, k);                 /* opts[k] */
    }
    return lua_gettop(L);
}

/* Re-raise a field error with the field's name instead of a stack slot. */
static void fielderror(lua_State *L, const char *k, const char *msg)
{
    luaL_error(L, "bad option '%s' (%s)", k, msg);
}

uint64_t vmlab_optfield_size(lua_State *L, int idx, const char *k, uint64_t def)
{
    char err[160];
    uint64_t v = def;
    int f;

    idx = lua_absindex(L, idx);
    f = getfield(L, idx, k);
    if (lua_isinteger(L, f) && lua_tointeger(L, f) >= 0) {
        v = (uint64_t)lua_tointeger(L, f);
    } else if (lua_type(L, f) == LUA_TSTRING) {
        if (vmlab_parse_size(lua_tostring(L, f), 0, &v, err, sizeof err))
            fielderror(L, k, err);
    } else if (!lua_isnil(L, f)) {
        fielderror(L, k, "a size is an integer >= 0 or a string like '4m'");
    }
    lua_pop(L, 1);
    return v;
}

double vmlab_optfield_time(lua_State *L, int idx, const char *k, double def)
{
    char err[160];
    double v = def;
    int f;

    idx = lua_absindex(L, idx);
    f = getfield(L, idx, k);
    if (lua_type(L, f) == LUA_TNUMBER) {
        v = lua_tonumber(L, f);
        if (v < 0 || v != v)
            fielderror(L, k, "time must not be negative");
    } else if (lua_type(L, f) == LUA_TSTRING) {
        if (vmlab_parse_time(lua_tostring(L, f), &v, err, sizeof err))
            fielderror(L, k, err);
    } else if (!lua_isnil(L, f)) {
        fielderror(L, k, "a time is seconds or a string like '5ms'");
    }
    lua_pop(L, 1);
    return v;
}

lua_Integer vmlab_optfield_int(lua_State *L, int idx, const char *k, lua_Integer def)
{
    lua_Integer v = def;
    int f;

    idx = lua_absindex(L, idx);
    f = getfield(L, idx, k);
    if (lua_isinteger(L, f))
        v = lua_tointeger(L, f);
    else if (!lua_isnil(L, f))
        fielderror(L, k, "integer expected");
    lua_pop(L, 1);
    return v;
}

int vmlab_optfield_bool(lua_State *L, int idx, const char *k, int def)
{
    int v = def, f;

    idx = lua_absindex(L, idx);
    f = getfield(L, idx, k);
    if (lua_isboolean(L, f))
        v = lua_toboolean(L, f);
    else if (!lua_isnil(L, f))
        fielderror(L, k, "boolean expected");
    lua_pop(L, 1);
    return v;
}

/* The string stays valid while the options table holds it. */
const char *vmlab_optfield_string(lua_State *L, int idx, const char *k, const char *def)
{
    const char *v = def;
    int f;

    idx = lua_absindex(L, idx);
    f = getfield(L, idx, k);
    if (lua_type(L, f) == LUA_TSTRING)
        v = lua_tostring(L, f);
    else if (!lua_isnil(L, f))
        fielderror(L, k, "string expected");
    lua_pop(L, 1);
    return v;
}

/* A valid-key list may hold VMLAB_OPTS_ARRAY: the table may also have an
 * array part (positional entries beside the named options). */
static int allows_array(const char *const valid[])
{
    for (size_t i = 0; valid[i]; i++)
        if (strcmp(valid[i], VMLAB_OPTS_ARRAY) == 0)
            return 1;
    return 0;
}

/* Edit distance between two short keys (for "did you mean"). */
static size_t keydistance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64], i, j;

    if (la >= 64 || lb >= 64)
        return (size_t)-1;
    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The unknown key's message: the closest valid key when one is close,
 * else the list of valid keys.  Raises; never returns. */
static void unknownopt(lua_State *L, const char *fname, const char *key,
                       const char *const valid[])
{
    const char *best = NULL;
    size_t bestd = (size_t)-1, limit = strlen(key) / 3 + 1;
    luaL_Buffer b;

    for (size_t i = 0; valid[i]; i++) {
        size_t d = keydistance(key, valid[i]);
        if (strcmp(valid[i], VMLAB_OPTS_ARRAY) == 0)
            continue;
        if (d < bestd) {
            bestd = d;
            best = valid[i];
        }
    }
    if (best && bestd <= (limit > 2 ? 2 : limit))
        luaL_error(L, "%s: unknown option '%s' (did you mean '%s'?)", fname, key, best);
    luaL_buffinit(L, &b);
    for (size_t i = 0, n = 0; valid[i]; i++) {
        if (strcmp(valid[i], VMLAB_OPTS_ARRAY) == 0)
            continue;
        luaL_addstring(&b, n++ ? ", " : "");
        luaL_addstring(&b, valid[i]);
    }
    luaL_pushresult(&b);                         /* list */
    luaL_error(L, "%s: unknown option '%s' (valid: %s)", fname, key,
               lua_tostring(L, -1));
}

void vmlab_checkopts(lua_State *L, int idx, const char *fname, const char *const valid[])
{
    if (lua_isnoneornil(L, idx))
        return;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_typeerror(L, idx, "table of options");
    lua_pushnil(L);
    while (lua_next(L, idx)) {                   /* key value */
        size_t i = 0;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            while (valid[i] && strcmp(valid[i], k) != 0)
                i++;
            if (!valid[i])
                unknownopt(L, fname, k, valid);
        } else if (lua_type(L, -2) != LUA_TNUMBER || !allows_array(valid)) {
            luaL_error(L, "%s: option keys are names, not %s", fname,
                       luaL_typename(L, -2));
        }
        lua_pop(L, 1);                           /* key */
    }
}

static int pushfailv(lua_State *L, int err, const char *fmt, va_list ap)
{
    luaL_Buffer b;
    char what[512];

    vsnprintf(what, sizeof what, fmt, ap);
    lua_pushnil(L);
    luaL_buffinit(L, &b);
    luaL_addstring(&b, what);
    luaL_addstring(&b, ": ");
    luaL_addstring(&b, strerror(err));
    luaL_pushresult(&b);                         /* nil msg */
    lua_pushinteger(L, err);                     /* nil msg errno */
    return 3;
}

int vmlab_pushfail(lua_State *L, int err, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = pushfailv(L, err, fmt, ap);
    va_end(ap);
    return n;
}

int vmlab_pusherrno(lua_State *L, const char *fmt, ...)
{
    int err = errno;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = pushfailv(L, err, fmt, ap);
    va_end(ap);
    return n;
}

void vmlab_checkinterrupt(lua_State *L)
{
    if (vmlab_interrupted()) {
        vmlab_interrupt_clear();
        luaL_error(L, "interrupted!");
    }
}

void vmlab_newclass(lua_State *L, const char *tname, const luaL_Reg *methods,
                    const luaL_Reg *meta)
{
    luaL_newmetatable(L, tname);                 /* mt */
    if (meta)
        luaL_setfuncs(L, meta, 0);
    if (methods) {
        lua_newtable(L);                         /* mt methods */
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");          /* mt */
    }
    lua_pop(L, 1);                               /* */
}

static void idle_table(lua_State *L)
{
    if (luaL_getsubtable(L, LUA_REGISTRYINDEX, VMLAB_IDLE_KEY) == 0) {
        lua_createtable(L, 0, 1);                /* idle mt */
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");           /* owners are weak */
        lua_setmetatable(L, -2);                 /* idle */
    }
}

void vmlab_set_idle(lua_State *L, int owner, int fn)
{
    owner = lua_absindex(L, owner);
    fn = fn ? lua_absindex(L, fn) : 0;
    idle_table(L);                               /* idle */
    lua_pushvalue(L, owner);
    if (fn)
        lua_pushvalue(L, fn);
    else
        lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

void vmlab_run_idle(lua_State *L)
{
    idle_table(L);                               /* idle */
    lua_pushnil(L);
    while (lua_next(L, -2)) {                    /* idle owner fn */
        lua_pushvalue(L, -2);
        lua_call(L, 1, 0);                       /* errors reach the waiter */
    }
    lua_pop(L, 1);
}
