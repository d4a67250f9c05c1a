/* require "vmlab": sizes, times, the clock and the process basics. */
#include "vmlab/host.h"
#include "vmlab/interrupt.h"
#include "vmlab/pause.h"
#include "vmlab/proc.h"
#include "vmlab/units.h"
#include "vmlab/version.h"

#include <errno.h>
#include <unistd.h>

/* vmlab.size(x) -> bytes */
static int l_size(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)vmlab_checksize(L, 1));
    return 1;
}

/* vmlab.time(x) -> seconds */
static int l_time(lua_State *L)
{
    lua_pushnumber(L, vmlab_checktime(L, 1));
    return 1;
}

static int l_fmtsize(lua_State *L)
{
    char buf[64];
    lua_pushstring(L, vmlab_fmtsize(vmlab_checksize(L, 1), buf, sizeof buf));
    return 1;
}

static int l_pagesize(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)vmlab_pagesize());
    return 1;
}

static int l_pid(lua_State *L)
{
    lua_pushinteger(L, getpid());
    return 1;
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, vmlab_now());
    return 1;
}

/* vmlab.snooze(t): sleep; Ctrl-C ends it with an "interrupted!" error.
 * Idle work (snapshots for on_aggregate callbacks) runs every 10 ms. */
static int l_snooze(lua_State *L)
{
    double t = vmlab_checktime(L, 1), end = vmlab_now() + t;
    /* a long wait (a monitor run of known length) draws a progress line
     * on a terminal; to-be-closed, so an error clears it too */
    struct vmlab_progress *pr =
        vmlab_pushprogress(L, "snooze", (uint64_t)(t * 1e6), VMLAB_PROGRESS_SECONDS, 1000000);

    lua_toclose(L, -1);
    for (;;) {
        double left = end - vmlab_now();
        vmlab_progress_update(pr, left > 0 ? (uint64_t)((t - left) * 1e6) : pr->total);
        vmlab_run_idle(L);
        if (left <= 0)
            return 0;
        if (vmlab_snooze(left < 0.01 ? left : 0.01) < 0)
            vmlab_checkinterrupt(L);
    }
}

/* vmlab.pause([armed]) -> "SIGUSR1": wait for a signal, as memtoy's pause;
 * the signal that woke it is returned, not fatal (runtime/pause.c).
 * armed() runs once the wait is armed (its errors are ignored). */
static void pause_armed(void *ctx)
{
    lua_State *L = ctx;
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK)
        lua_pop(L, 1);
}

static int l_pause(lua_State *L)
{
    int sig, armed = !lua_isnoneornil(L, 1);
    const char *name;

    if (armed)
        luaL_checktype(L, 1, LUA_TFUNCTION);
    sig = vmlab_pause(armed ? pause_armed : NULL, L);
    name = vmlab_signal_name(sig);
    if (name)
        lua_pushstring(L, name);
    else
        lua_pushinteger(L, sig);
    return 1;
}

/* vmlab.checkopts(opts, fname, {valid keys...}): the stdlib modules'
 * option check, the same rule and message as the C bindings'. */
static int l_checkopts(lua_State *L)
{
    const char *fname = luaL_checkstring(L, 2);
    const char **valid;
    lua_Integer n;

    luaL_checktype(L, 3, LUA_TTABLE);
    n = luaL_len(L, 3);
    valid = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *valid, 0); /* scratch */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 3, i);                    /* scratch key */
        valid[i - 1] = luaL_checkstring(L, -1);  /* held by the table at 3 */
        lua_pop(L, 1);
    }
    valid[n] = NULL;
    vmlab_checkopts(L, 1, fname, valid);
    lua_settop(L, 1);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"checkopts", l_checkopts},
    {"size", l_size},       {"time", l_time},   {"fmtsize", l_fmtsize},
    {"pagesize", l_pagesize}, {"pid", l_pid},   {"now", l_now},
    {"snooze", l_snooze},   {"pause", l_pause}, {NULL, NULL}};

int luaopen_vmlab(lua_State *L)
{
    luaL_newlib(L, funcs);                       /* vmlab */
    lua_pushliteral(L, VMLAB_VERSION);
    lua_setfield(L, -2, "version");
    lua_getfield(L, LUA_REGISTRYINDEX, VMLAB_VERBOSE_KEY);
    lua_setfield(L, -2, "verbose");
    /* Tests need to know: AddressSanitizer turns mlock() into a no-op. */
#ifdef __SANITIZE_ADDRESS__
    lua_pushboolean(L, 1);
#else
    lua_pushboolean(L, 0);
#endif
    lua_setfield(L, -2, "sanitized");
    return 1;
}
