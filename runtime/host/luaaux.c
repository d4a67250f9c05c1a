/* Argument and error helpers shared by every binding (DESIGN.md's
 * conventions in one place: sizes, times, options, nil+message+errno). */
#include "vmlab/host.h"
#include "vmlab/interrupt.h"
#include "vmlab/units.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strings reach C as C strings: an embedded NUL would cut them silently.
 * The message shows the input with the NUL escaped. */
static const char *shown(lua_State *L, const char *s, size_t len)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len && i < 64; i++) {
        if (s[i] == '\0')
            luaL_addstring(&b, "\\0");
        else
            luaL_addchar(&b, s[i]);
    }
    if (len > 64)
        luaL_addstring(&b, "...");
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

/* The string at idx, which must not hold a NUL; NULL (and a message on
 * the stack) when it does. */
static const char *cstring(lua_State *L, int idx, const char *what, size_t *lenp)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (strlen(s) != len) {
        lua_pushfstring(L, "%s \"%s\" contains a NUL byte", what, shown(L, s, len));
        return NULL;
    }
    if (lenp)
        *lenp = len;
    return s;
}

const char *vmlab_checkcstring(lua_State *L, int idx, size_t *len)
{
    const char *s = luaL_checklstring(L, idx, NULL);
    if (!(s = cstring(L, idx, "string", len)))
        luaL_argerror(L, idx, lua_tostring(L, -1));
    return s;
}

const char *vmlab_optcstring(lua_State *L, int idx, const char *def, size_t *len)
{
    if (lua_isnoneornil(L, idx)) {
        if (len)
            *len = def ? strlen(def) : 0;
        return def;
    }
    return vmlab_checkcstring(L, idx, len);
}

/* A size from the value at idx: 0, or -1 with the reason pushed. */
static int tosize(lua_State *L, int idx, uint64_t *out)
{
    char err[200];
    lua_Integer i;
    const char *s;

    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            i = lua_tointeger(L, idx);
        } else {
            lua_Number n = lua_tonumber(L, idx);
            if (n != n) {
                lua_pushliteral(L, "size is NaN (not a number)");
                return -1;
            }
            if (n == HUGE_VAL || n == -HUGE_VAL) {
                lua_pushfstring(L, "size is %sinfinite", n < 0 ? "minus " : "");
                return -1;
            }
            if (n != floor(n)) {
                lua_pushfstring(L, "size %f is not a whole number of bytes", n);
                return -1;
            }
            if (!lua_numbertointeger(n, &i)) {
                lua_pushfstring(L, "size %f overflows (at most 2^63-1 bytes)", n);
                return -1;
            }
        }
        if (i < 0) {
            lua_pushfstring(L, "size must not be negative (got %I)", (LUAI_UACINT)i);
            return -1;
        }
        *out = (uint64_t)i;
        return 0;
    case LUA_TSTRING:
        if (!(s = cstring(L, idx, "size", NULL)))
            return -1;
        if (vmlab_parse_size(s, 0, out, err, sizeof err)) {
            lua_pushstring(L, err);
            return -1;
        }
        return 0;
    default:
        lua_pushfstring(L, "size (integer or string like '4m') expected, got %s", luaL_typename(L, idx));
        return -1;
    }
}

/* A time in seconds from the value at idx: 0, or -1 with the reason pushed. */
static int totime(lua_State *L, int idx, double *out)
{
    char err[200];
    const char *s;
    double v;

    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        v = lua_tonumber(L, idx);
        if (v != v) {
            lua_pushliteral(L, "time is NaN (not a number)");
            return -1;
        }
        if (v == HUGE_VAL || v == -HUGE_VAL) {
            lua_pushfstring(L, "time is %sinfinite", v < 0 ? "minus " : "");
            return -1;
        }
        if (v < 0) {
            lua_pushfstring(L, "time must not be negative (got %f)", v);
            return -1;
        }
        if (v > VMLAB_TIME_MAX) {
            lua_pushfstring(L, "time %f s is too long (at most %f s)", v, (double)VMLAB_TIME_MAX);
            return -1;
        }
        *out = v;
        return 0;
    case LUA_TSTRING:
        if (!(s = cstring(L, idx, "time", NULL)))
            return -1;
        if (vmlab_parse_time(s, out, err, sizeof err)) {
            lua_pushstring(L, err);
            return -1;
        }
        return 0;
    default:
        lua_pushfstring(L, "time (seconds or string like '5ms') expected, got %s", luaL_typename(L, idx));
        return -1;
    }
}

uint64_t vmlab_checkaddr(lua_State *L, int idx)
{
    const char *s;
    char *end;
    unsigned long long v;

    if (lua_isinteger(L, idx))
        return (uint64_t)lua_tointeger(L, idx);      /* -1 is 0xffffffffffffffff */
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_typeerror(L, idx, "address (integer or string like '0x7f0000000000')");
    if (!(s = cstring(L, idx, "address", NULL)))
        luaL_argerror(L, idx, lua_tostring(L, -1));
    errno = 0;
    v = strtoull(s, &end, 0);
    if (!*s || *end || errno || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        luaL_argerror(L, idx, lua_pushfstring(L, "bad address '%s' (a 64-bit number, e.g. 0x7f0000000000)", s));
    return (uint64_t)v;
}

uint64_t vmlab_checksize(lua_State *L, int idx)
{
    uint64_t v = 0;
    if (tosize(L, idx, &v) < 0)
        luaL_argerror(L, idx, lua_tostring(L, -1));
    return v;
}

uint64_t vmlab_optsize(lua_State *L, int idx, uint64_t def)
{
    return lua_isnoneornil(L, idx) ? def : vmlab_checksize(L, idx);
}

double vmlab_checktime(lua_State *L, int idx)
{
    double v = 0;
    if (totime(L, idx, &v) < 0)
        luaL_argerror(L, idx, lua_tostring(L, -1));
    return v;
}

double vmlab_opttime(lua_State *L, int idx, double def)
{
    return lua_isnoneornil(L, idx) ? def : vmlab_checktime(L, idx);
}

/* An integer in [min, max] from the value at idx (integral floats too):
 * 0, or -1 with the reason pushed.  Checked before any narrowing. */
static int toint(lua_State *L, int idx, lua_Integer min, lua_Integer max, lua_Integer *out)
{
    lua_Integer i;
    if (lua_type(L, idx) != LUA_TNUMBER) {
        lua_pushfstring(L, "integer expected, got %s", luaL_typename(L, idx));
        return -1;
    }
    if (!lua_isinteger(L, idx)) {
        lua_Number n = lua_tonumber(L, idx);
        if (n != n) {
            lua_pushliteral(L, "NaN (not a number) where an integer is expected");
            return -1;
        }
        if (n == HUGE_VAL || n == -HUGE_VAL) {
            lua_pushfstring(L, "%sinfinity where an integer is expected", n < 0 ? "minus " : "");
            return -1;
        }
        if (n != floor(n) || !lua_numbertointeger(n, &i)) {
            lua_pushfstring(L, "%f is not an integer in range %I to %I", n, (LUAI_UACINT)min,
                            (LUAI_UACINT)max);
            return -1;
        }
    } else {
        i = lua_tointeger(L, idx);
    }
    if (i < min || i > max) {
        lua_pushfstring(L, "%I is out of range (%I to %I)", (LUAI_UACINT)i, (LUAI_UACINT)min,
                        (LUAI_UACINT)max);
        return -1;
    }
    *out = i;
    return 0;
}

lua_Integer vmlab_checkrange(lua_State *L, int idx, lua_Integer min, lua_Integer max)
{
    lua_Integer v = 0;
    if (toint(L, idx, min, max, &v) < 0)
        luaL_argerror(L, idx, lua_tostring(L, -1));
    return v;
}

/* A finite number in [min, max]: 0, or -1 with the reason pushed. */
static int tonum(lua_State *L, int idx, double min, double max, double *out)
{
    double v;
    if (lua_type(L, idx) != LUA_TNUMBER) {
        lua_pushfstring(L, "number expected, got %s", luaL_typename(L, idx));
        return -1;
    }
    v = lua_tonumber(L, idx);
    if (v != v) {
        lua_pushliteral(L, "NaN (not a number)");
        return -1;
    }
    if (v == HUGE_VAL || v == -HUGE_VAL) {
        lua_pushfstring(L, "%sinfinity is not a finite number", v < 0 ? "minus " : "");
        return -1;
    }
    if (v < min || v > max) {
        lua_pushfstring(L, "%f is out of range (%f to %f)", v, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

double vmlab_checknumber_range(lua_State *L, int idx, double min, double max)
{
    double v = 0;
    if (tonum(L, idx, min, max, &v) < 0)
        luaL_argerror(L, idx, lua_tostring(L, -1));
    return v;
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

/* Raise a field error with the field's name instead of a stack slot. */
static void fielderror(lua_State *L, const char *k, const char *msg)
{
    luaL_error(L, "bad option '%s' (%s)", k, msg);
}

uint64_t vmlab_optfield_size(lua_State *L, int idx, const char *k, uint64_t def)
{
    uint64_t v = def;
    int f;

    idx = lua_absindex(L, idx);
    f = getfield(L, idx, k);
    if (!lua_isnil(L, f) && tosize(L, f, &v) < 0)
        fielderror(L, k, lua_tostring(L, -1));
    lua_settop(L, f - 1);
    return v;
}

double vmlab_optfield_time(lua_State *L, int idx, const char *k, double def)
{
    double v = def;
    int f;

    idx = lua_absindex(L, idx);
    f = getfield(L, idx, k);
    if (!lua_isnil(L, f) && totime(L, f, &v) < 0)
        fielderror(L, k, lua_tostring(L, -1));
    lua_settop(L, f - 1);
    return v;
}

lua_Integer vmlab_optfield_range(lua_State *L, int idx, const char *k, lua_Integer def,
                                 lua_Integer min, lua_Integer max)
{
    lua_Integer v = def;
    int f;

    idx = lua_absindex(L, idx);
    f = getfield(L, idx, k);
    if (!lua_isnil(L, f) && toint(L, f, min, max, &v) < 0)
        fielderror(L, k, lua_tostring(L, -1));
    lua_settop(L, f - 1);
    return v;
}

lua_Integer vmlab_optfield_int(lua_State *L, int idx, const char *k, lua_Integer def)
{
    return vmlab_optfield_range(L, idx, k, def, LUA_MININTEGER, LUA_MAXINTEGER);
}

double vmlab_optfield_number(lua_State *L, int idx, const char *k, double def, double min, double max)
{
    double v = def;
    int f;

    idx = lua_absindex(L, idx);
    f = getfield(L, idx, k);
    if (!lua_isnil(L, f) && tonum(L, f, min, max, &v) < 0)
        fielderror(L, k, lua_tostring(L, -1));
    lua_settop(L, f - 1);
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
        fielderror(L, k, lua_pushfstring(L, "boolean expected, got %s", luaL_typename(L, f)));
    lua_settop(L, f - 1);
    return v;
}

/* The string stays valid while the options table holds it.  C gets it, so
 * an embedded NUL is an error. */
const char *vmlab_optfield_string(lua_State *L, int idx, const char *k, const char *def)
{
    const char *v = def;
    int f;

    idx = lua_absindex(L, idx);
    f = getfield(L, idx, k);
    if (lua_type(L, f) == LUA_TSTRING) {
        if (!(v = cstring(L, f, "string", NULL)))
            fielderror(L, k, lua_tostring(L, -1));
    } else if (!lua_isnil(L, f)) {
        fielderror(L, k, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, f)));
    }
    lua_settop(L, f - 1);
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

static int box_gc(lua_State *L)
{
    vmlab_box_release(lua_touserdata(L, 1));
    return 0;
}

struct vmlab_box *vmlab_newbox(lua_State *L, void (*release)(void *p, size_t n))
{
    struct vmlab_box *b = lua_newuserdatauv(L, sizeof *b, 0);   /* box */
    b->p = NULL;
    b->n = 0;
    b->release = release;
    if (luaL_newmetatable(L, "vmlab.box")) {                   /* box mt */
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);                                    /* box */
    return b;
}

void vmlab_box_release(struct vmlab_box *b)
{
    if (b && b->p) {
        void *p = b->p;
        b->p = NULL;
        b->release(p, b->n);
    }
}

void vmlab_box_free(void *p, size_t n)
{
    (void)n;
    free(p);
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
