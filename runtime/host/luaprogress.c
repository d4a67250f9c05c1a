/* A progress line as a Lua value (class "vmlab.progress", host.h): the
 * struct of include/vmlab/progress.h in a userdata, so a binding's loop
 * that can raise, or a Lua loop, ends the line by closing it (to-be-closed
 * variable, a generic for's closing value, or the collector). */
#include "vmlab/host.h"
#include "vmlab/progress.h"

#include <math.h>

struct lprogress {
    struct vmlab_progress p;
    int open;
};

static struct lprogress *check(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, VMLAB_PROGRESS_MT);
}

struct vmlab_progress *vmlab_checkprogress(lua_State *L, int idx)
{
    struct lprogress *lp = check(L, idx);
    if (!lp->open)
        luaL_error(L, "attempt to use a finished progress");
    return &lp->p;
}

/* done: bytes and counts as integers, seconds as a number (kept in us). */
static int p_update(lua_State *L)
{
    struct vmlab_progress *p = vmlab_checkprogress(L, 1);
    double total = p->unit == VMLAB_PROGRESS_SECONDS ? (double)p->total / 1e6 : (double)p->total;
    double done = vmlab_checknumber_range(L, 2, 0, HUGE_VAL);

    if (done > total)
        done = total;                   /* an estimate past the end is not an error */
    vmlab_progress_update(p, (uint64_t)(p->unit == VMLAB_PROGRESS_SECONDS ? done * 1e6 : done));
    return 0;
}

/* Whether the line is drawn at all (stderr a terminal, work big enough):
 * a loop can skip counting when it is not. */
static int p_active(lua_State *L)
{
    lua_pushboolean(L, vmlab_checkprogress(L, 1)->on);
    return 1;
}

/* done, close, __close, __gc: clear the line; idempotent. */
static int p_done(lua_State *L)
{
    struct lprogress *lp = check(L, 1);
    if (lp->open) {
        lp->open = 0;
        vmlab_progress_end(&lp->p);
    }
    return 0;
}

static int p_tostring(lua_State *L)
{
    struct lprogress *lp = check(L, 1);
    char line[256];

    if (!lp->open) {
        lua_pushliteral(L, "progress (done)");
        return 1;
    }
    vmlab_progress_format(&lp->p, lp->p.on ? vmlab_now() : lp->p.start, line, sizeof line);
    lua_pushfstring(L, "progress (%s)", line);
    return 1;
}

static const luaL_Reg methods[] = {
    {"update", p_update}, {"done", p_done}, {"close", p_done}, {"active", p_active}, {NULL, NULL}};
static const luaL_Reg meta[] = {
    {"__close", p_done}, {"__gc", p_done}, {"__tostring", p_tostring}, {NULL, NULL}};

struct vmlab_progress *vmlab_pushprogress(lua_State *L, const char *what, uint64_t total,
                                          enum vmlab_progress_unit unit, uint64_t min)
{
    struct lprogress *lp = lua_newuserdatauv(L, sizeof *lp, 0);   /* p */

    lp->open = 0;                       /* closed until begun: __gc is safe */
    if (luaL_getmetatable(L, VMLAB_PROGRESS_MT) == LUA_TNIL) {   /* p nil */
        lua_pop(L, 1);
        vmlab_newclass(L, VMLAB_PROGRESS_MT, methods, meta);
        luaL_getmetatable(L, VMLAB_PROGRESS_MT);                 /* p mt */
    }
    lua_setmetatable(L, -2);                                     /* p */
    vmlab_progress_begin(&lp->p, what, total, unit, min);
    lp->open = 1;
    return &lp->p;
}
