/* libFuzzer target for the Lua-facing argument helpers every binding
 * shares (runtime/host/luaaux.c, luanodes.c): sizes, times, addresses,
 * ranges, node and cpu lists, C strings and option tables, fed strings,
 * numbers and tables built from the input.  Any input must give a value or
 * a Lua error, never a crash, undefined behaviour, a leak or an error
 * message that is not a string.
 *   make fuzz   (builds build/fuzz/luaargs_fuzz; run it with a time limit)
 *
 * Input: byte 0 picks the helper, byte 1 how the argument is built
 * (string, number from 8 bytes, integer from 8 bytes, or an options table
 * of "key=value" lines), the rest is the argument. */
#include "vmlab/host.h"
#include "vmlab/numa.h"

#include <lualib.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

static const char *const valid[] = {"sample", "aggr", "offset", "length", "count", "name", "on", NULL};
static const char *const valid_arr[] = {"sample", VMLAB_OPTS_ARRAY, NULL};

/* The helper under test, on the argument at 1 (upvalue: which). */
static int run(lua_State *L)
{
    struct vmlab_nodemask m;
    size_t n;

    switch (lua_tointeger(L, lua_upvalueindex(1)) % 16) {
    case 0: vmlab_checksize(L, 1); break;
    case 1: vmlab_checktime(L, 1); break;
    case 2: vmlab_checkaddr(L, 1); break;
    case 3: vmlab_checkrange(L, 1, -5, 1000); break;
    case 4: vmlab_checknumber_range(L, 1, 0, 1); break;
    case 5: vmlab_checknodes(L, 1, &m); vmlab_pushnodes(L, &m); break;
    case 6: vmlab_checkcpus(L, 1, &m); break;
    case 7: vmlab_checkcstring(L, 1, &n); break;
    case 8: vmlab_checkopts(L, 1, "fuzz.f", valid); break;
    case 9: vmlab_checkopts(L, 1, "fuzz.g", valid_arr); break;
    case 10: vmlab_optfield_size(L, 1, "offset", 0); vmlab_optfield_size(L, 1, "length", 7); break;
    case 11: vmlab_optfield_time(L, 1, "sample", 0.005); vmlab_optfield_time(L, 1, "aggr", 0); break;
    case 12: vmlab_optfield_range(L, 1, "count", 1, 1, 1 << 20); vmlab_optfield_int(L, 1, "offset", 0); break;
    case 13: vmlab_optfield_number(L, 1, "sample", 0.5, 0, 1); vmlab_optfield_bool(L, 1, "on", 0); break;
    case 14: vmlab_optfield_string(L, 1, "name", "x"); break;
    default: vmlab_optsize(L, 1, 3); vmlab_opttime(L, 1, 1); break;
    }
    return 0;
}

/* key=value lines into a table: values that look like numbers become
 * numbers, "t"/"f" booleans, "{}" a table; a key that is a number an
 * array index. */
static void push_table(lua_State *L, const char *s, size_t len)
{
    const char *end = s + len;

    lua_newtable(L);
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s)), *eq;
        size_t ll = nl ? (size_t)(nl - s) : (size_t)(end - s);
        eq = memchr(s, '=', ll);
        if (eq) {
            size_t kl = (size_t)(eq - s), vl = ll - kl - 1;
            if (lua_stringtonumber(L, lua_pushlstring(L, s, kl)) == 0)   /* k */
                ;                                                     /* keep the string key */
            else
                lua_remove(L, -2);                                    /* the number key */
            lua_pushlstring(L, eq + 1, vl);                           /* k vstr */
            if (vl == 1 && (eq[1] == 't' || eq[1] == 'f')) {
                lua_pushboolean(L, eq[1] == 't');
                lua_remove(L, -2);
            } else if (vl == 2 && eq[1] == '{' && eq[2] == '}') {
                lua_newtable(L);
                lua_remove(L, -2);
            } else if (lua_stringtonumber(L, lua_tostring(L, -1))) {
                lua_remove(L, -2);                                    /* k vnum */
            }
            if (!lua_isnil(L, -2) && !(lua_type(L, -2) == LUA_TNUMBER && lua_tonumber(L, -2) != lua_tonumber(L, -2)))
                lua_rawset(L, -3);
            else
                lua_pop(L, 2);
        }
        s += ll + (nl ? 1 : 0);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    static lua_State *L;
    int which, how;

    if (len < 2)
        return 0;
    if (!L) {
        L = luaL_newstate();
        luaL_openlibs(L);
    }
    which = data[0];
    how = data[1] % 4;
    data += 2;
    len -= 2;
    lua_settop(L, 0);
    lua_pushinteger(L, which);
    lua_pushcclosure(L, run, 1);                              /* f */
    switch (how) {
    case 0:
        lua_pushlstring(L, (const char *)data, len);          /* embedded NULs too */
        break;
    case 1: {
        double d = 0;
        memcpy(&d, data, len < sizeof d ? len : sizeof d);    /* NaN, inf, denormals */
        lua_pushnumber(L, d);
        break;
    }
    case 2: {
        lua_Integer i = 0;
        memcpy(&i, data, len < sizeof i ? len : sizeof i);
        lua_pushinteger(L, i);
        break;
    }
    default:
        push_table(L, (const char *)data, len);
        break;
    }
    if (lua_pcall(L, 1, 0, 0) != LUA_OK && lua_type(L, -1) != LUA_TSTRING)
        abort();                                              /* an error is a message */
    lua_settop(L, 0);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
