/* require "vmlab.workload": background access patterns with ground truth.
 *
 *   local w = workload.start{ target = seg, pattern = "hotspot",
 *                             hot = { offset = 0, length = "16m" }, hot_share = 0.9 }
 *   vmlab.snooze(1); local truth = w:truth{ from = 0.5 }; w:close() */
#include "vmlab/host.h"
#include "vmlab/seg.h"
#include "vmlab/units.h"
#include "vmlab/workload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WL_MT "vmlab.workload"

#define PHASE_KEYS "pattern", "op", "stride", "rate", "hot_share", "zipf", "duration", "hot"
static const char *const phase_keys[] = {PHASE_KEYS, NULL};
static const char *const new_keys[] = {"target", "phases", "threads", "interval", "keep", "seed",
                                       PHASE_KEYS, NULL};
static const char *const hot_keys[] = {"offset", "length", NULL};
static const char *const truth_keys[] = {"from", "to", "pages", NULL};

struct lwl {
    struct vmlab_workload *w;
    uint64_t start, len;
    double interval;
};

static struct lwl *checkwl(lua_State *L, int idx)
{
    struct lwl *l = luaL_checkudata(L, idx, WL_MT);
    if (!l->w)
        luaL_error(L, "attempt to use a closed workload");
    return l;
}

static void read_phase(lua_State *L, int idx, struct vmlab_wl_phase *p, uint64_t len)
{
    static const char *const patterns[] = {"sequential", "random", "stride", "hotspot", "zipf", NULL};
    static const char *const ops[] = {"read", "write", "rmw", NULL};

    idx = lua_absindex(L, idx);
    memset(p, 0, sizeof *p);
    lua_getfield(L, idx, "pattern");
    p->pattern = (enum vmlab_wl_pattern)luaL_checkoption(L, -1, "random", patterns);
    lua_getfield(L, idx, "op");
    p->op = (enum vmlab_wl_op)luaL_checkoption(L, -1, "write", ops);
    lua_pop(L, 2);
    p->stride = (uint64_t)vmlab_optfield_range(L, idx, "stride", 1, 1, LUA_MAXINTEGER);
    /* accesses per second (0: as fast as it goes), a fraction, an exponent */
    p->rate = vmlab_optfield_number(L, idx, "rate", 0, 0, 1e12);
    p->hot_share = vmlab_optfield_number(L, idx, "hot_share", 0.9, 0, 1);
    p->zipf_s = vmlab_optfield_number(L, idx, "zipf", 1.0, 0, 100);
    p->seconds = vmlab_optfield_time(L, idx, "duration", 0);
    if (lua_getfield(L, idx, "hot") == LUA_TTABLE) {
        vmlab_checkopts(L, -1, "workload hot", hot_keys);
        p->hot_off = vmlab_optfield_size(L, -1, "offset", 0);
        p->hot_len = vmlab_optfield_size(L, -1, "length", len / 10);
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "bad option 'hot' ({offset=, length=} expected, got %s)", luaL_typename(L, -1));
    } else {
        p->hot_len = len / 10;
    }
    lua_pop(L, 1);
    if (p->pattern == VMLAB_WL_HOTSPOT && (p->hot_len == 0 || p->hot_off > len || p->hot_len > len - p->hot_off))
        luaL_error(L, "bad option 'hot' (the hot range must lie inside the target)");
}

/* The memory: a segment ({addr=, size=}) or {start=, ["end"]=}. */
static void read_target(lua_State *L, int opts, uint64_t *start, uint64_t *len)
{
    char why[256];

    if (lua_getfield(L, opts, "target") != LUA_TTABLE && !lua_isuserdata(L, -1))
        luaL_error(L, "bad option 'target' (a segment or {start=, [\"end\"]=} range)");
    if (lua_getfield(L, -1, "start") == LUA_TNUMBER) {
        lua_getfield(L, -2, "end");
        *start = (uint64_t)luaL_checkinteger(L, -2);
        *len = (uint64_t)luaL_checkinteger(L, -1) - *start;
        lua_pop(L, 2);
    } else {
        lua_pop(L, 1);
        lua_getfield(L, -1, "addr");
        lua_getfield(L, -2, "size");
        if (!lua_isinteger(L, -2) || !lua_isinteger(L, -1))
            luaL_error(L, "bad option 'target' (a segment or {start=, [\"end\"]=} range)");
        *start = (uint64_t)lua_tointeger(L, -2);
        *len = (uint64_t)lua_tointeger(L, -1);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    /* the workload writes there from its threads: only the user's memory */
    if (*len == 0 || *start + *len < *start ||
        vmlab_seg_check_user_range(*start, *start + *len, why, sizeof why) < 0)
        luaL_error(L, "bad option 'target' (%s)", *len && *start + *len >= *start ? why : "empty or wrapping");
}

/* workload.new(opts) -> a stopped workload */
static int l_new(lua_State *L)
{
    struct vmlab_wl_phase *phases;
    struct lwl *l;
    uint64_t start, len;
    size_t n = 1;
    int threads;

    luaL_checktype(L, 1, LUA_TTABLE);
    vmlab_checkopts(L, 1, "workload.new", new_keys);
    read_target(L, 1, &start, &len);
    if (lua_getfield(L, 1, "phases") == LUA_TTABLE)
        n = lua_rawlen(L, -1);
    lua_pop(L, 1);
    if (n == 0)
        return luaL_error(L, "bad option 'phases' (empty)");
    phases = lua_newuserdatauv(L, n * sizeof *phases, 0);          /* opts phases */
    if (lua_getfield(L, 1, "phases") == LUA_TTABLE) {
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i + 1);
            if (!lua_istable(L, -1))
                return luaL_error(L, "bad phase %d (a table of options)", (int)i + 1);
            vmlab_checkopts(L, -1, "workload phase", phase_keys);
            read_phase(L, -1, &phases[i], len);
            lua_pop(L, 1);
        }
    } else {
        read_phase(L, 1, &phases[0], len);
    }
    lua_pop(L, 1);
    threads = (int)vmlab_optfield_range(L, 1, "threads", 1, 1, 256);
    l = lua_newuserdatauv(L, sizeof *l, 1);                         /* opts phases l */
    memset(l, 0, sizeof *l);
    luaL_setmetatable(L, WL_MT);
    l->start = start;
    l->len = len;
    l->interval = vmlab_optfield_time(L, 1, "interval", 0.1);
    if (l->interval <= 0)
        return luaL_error(L, "bad option 'interval' (above zero)");
    l->w = vmlab_workload_new(start, len, phases, n, threads, l->interval,
                              (size_t)vmlab_optfield_range(L, 1, "keep", 100, 1, 1 << 24),
                              (uint64_t)vmlab_optfield_int(L, 1, "seed", 1));
    if (!l->w)
        return vmlab_pushfail(L, ENOMEM, "workload.new()");
    lua_getfield(L, 1, "target");                                   /* keep it alive */
    lua_setiuservalue(L, -2, 1);
    return 1;
}

static int wl_start(lua_State *L)
{
    struct lwl *l = checkwl(L, 1);
    int e = vmlab_workload_start(l->w);
    if (e == -EBUSY)
        return luaL_error(L, "the workload is running already");
    if (e < 0)
        return vmlab_pushfail(L, -e, "workload start");
    lua_settop(L, 1);
    return 1;
}

/* workload.start(opts) = workload.new(opts):start() */
static int l_start(lua_State *L)
{
    int n = l_new(L);
    if (n != 1)
        return n;
    lua_replace(L, 1);
    lua_settop(L, 1);
    return wl_start(L);
}

static int wl_stop(lua_State *L)
{
    struct lwl *l = checkwl(L, 1);
    vmlab_workload_stop(l->w);
    lua_pushboolean(L, 1);
    return 1;
}

/* w:truth{from=, to=, pages=true} -> {pages=, bytes=, [map=]} */
static int wl_truth(lua_State *L)
{
    struct lwl *l = checkwl(L, 1);
    double from, to;
    int want;
    uint64_t np = vmlab_workload_pages(l->w), n;
    unsigned char *map;

    vmlab_checkopts(L, 2, "w:truth", truth_keys);
    from = vmlab_optfield_time(L, 2, "from", 0);
    to = vmlab_optfield_time(L, 2, "to", 0);
    want = vmlab_optfield_bool(L, 2, "pages", 0);
    map = want ? lua_newuserdatauv(L, np + 1, 0) : NULL;   /* scratch: Lua's */
    n = vmlab_workload_truth(l->w, from, to, map);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)n); lua_setfield(L, -2, "pages");
    lua_pushinteger(L, (lua_Integer)(n * vmlab_pagesize())); lua_setfield(L, -2, "bytes");
    if (map) {
        lua_createtable(L, (int)np, 0);
        for (uint64_t i = 0; i < np; i++) {
            lua_pushboolean(L, map[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "map");
    }
    return 1;
}

static int wl_stats(lua_State *L)
{
    struct lwl *l = checkwl(L, 1);
    struct vmlab_wl_stats s;
    vmlab_workload_stats(l->w, &s);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, (lua_Integer)s.accesses); lua_setfield(L, -2, "accesses");
    lua_pushnumber(L, s.seconds); lua_setfield(L, -2, "seconds");
    lua_pushinteger(L, s.phase + 1); lua_setfield(L, -2, "phase");
    lua_pushnumber(L, s.seconds > 0 ? (double)s.accesses / s.seconds : 0); lua_setfield(L, -2, "rate");
    if (s.faulted) {
        lua_pushinteger(L, (lua_Integer)s.fault_addr);
        lua_setfield(L, -2, "fault_addr");
    }
    return 1;
}

static int wl_close(lua_State *L)
{
    struct lwl *l = luaL_checkudata(L, 1, WL_MT);
    if (l->w) {
        vmlab_workload_free(l->w);
        l->w = NULL;
    }
    return 0;
}

static int wl_tostring(lua_State *L)
{
    struct lwl *l = luaL_checkudata(L, 1, WL_MT);
    if (!l->w)
        lua_pushliteral(L, "workload (closed)");
    else
        lua_pushfstring(L, "workload (%d pages at %p)", (int)(l->len / vmlab_pagesize()), (void *)(uintptr_t)l->start);
    return 1;
}

static const luaL_Reg methods[] = {
    {"start", wl_start}, {"stop", wl_stop}, {"truth", wl_truth},
    {"stats", wl_stats}, {"close", wl_close}, {NULL, NULL}};
static const luaL_Reg meta[] = {
    {"__tostring", wl_tostring}, {"__close", wl_close}, {"__gc", wl_close}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"new", l_new}, {"start", l_start}, {NULL, NULL}};

int luaopen_vmlab_workload(lua_State *L)
{
    vmlab_newclass(L, WL_MT, methods, meta);
    luaL_newlib(L, funcs);
    return 1;
}
