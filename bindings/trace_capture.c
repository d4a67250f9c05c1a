/* require "vmlab.trace", the capturing half: trace.start (segments of
 * this process by page protection), trace.lackey (a command under
 * valgrind), trace.oracle (a trace answering the replay sampler).  The
 * module table is made by bindings/trace.c, which calls
 * vmlab_trace_capture_open() to add these. */
#include "vmlab/host.h"
#include "vmlab/seg.h"
#include "vmlab/trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

void vmlab_trace_capture_open(lua_State *L);

static void *scratch(lua_State *L, size_t bytes)
{
    return lua_newuserdatauv(L, bytes ? bytes : 1, 0);
}

/* ---- tracing segments: trace.start{...} -> tracer ---- */
#define TRACER_MT "vmlab.trace.tracer"

struct ltracer {
    struct vmlab_tracer *t;
    char output[512];
};

static int tracer_stop(lua_State *L)
{
    struct ltracer *lt = luaL_checkudata(L, 1, TRACER_MT);
    char err[300] = "";
    uint64_t ev = 0, dropped = 0;
    if (!lt->t) {
        lua_pushboolean(L, 1);
        return 1;
    }
    vmlab_tracer_counts(lt->t, &ev, &dropped);
    int r = vmlab_tracer_stop(lt->t, err, sizeof err);
    lt->t = NULL;
    if (r)
        return vmlab_pushfail(L, -r, "tracer:stop(%s): %s", lt->output, err);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)ev);
    lua_setfield(L, -2, "events");
    lua_pushinteger(L, (lua_Integer)dropped);
    lua_setfield(L, -2, "dropped");
    lua_pushstring(L, lt->output);
    lua_setfield(L, -2, "output");
    return 1;
}

static int tracer_gc(lua_State *L)
{
    tracer_stop(L);
    return 0;
}

static int tracer_counts(lua_State *L)
{
    struct ltracer *lt = luaL_checkudata(L, 1, TRACER_MT);
    uint64_t ev = 0, dropped = 0;
    if (lt->t)
        vmlab_tracer_counts(lt->t, &ev, &dropped);
    lua_pushinteger(L, (lua_Integer)ev);
    lua_pushinteger(L, (lua_Integer)dropped);
    return 2;
}

static int tracer_tostring(lua_State *L)
{
    struct ltracer *lt = luaL_checkudata(L, 1, TRACER_MT);
    lua_pushfstring(L, "vmlab.trace.tracer (%s, %s)", lt->output, lt->t ? "running" : "stopped");
    return 1;
}

/* start{targets={seg,...}, interval="500ms", window=1, output="x.trace", buffer=} */
static int l_start(lua_State *L)
{
    static const char *const valid[] = {"targets", "interval", "window", "output", "buffer", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    vmlab_checkopts(L, 1, "trace.start", valid);
    struct vmlab_tracer_opts o = {0};
    o.interval = vmlab_optfield_time(L, 1, "interval", 0.5);
    if (o.interval != 0 && o.interval < 0.001)
        luaL_error(L, "trace.start: interval must be 0 (exact) or at least 1ms");
    lua_Integer win = vmlab_optfield_int(L, 1, "window", 1);
    if (win < 1 || win > 1 << 20)
        luaL_error(L, "trace.start: window must be between 1 and 1048576 pages");
    o.window = (size_t)win;
    o.buffer = (size_t)vmlab_optfield_int(L, 1, "buffer", 0);
    o.output = vmlab_optfield_string(L, 1, "output", NULL);
    if (!o.output)
        luaL_error(L, "trace.start: option 'output' (the trace file) is required");
    if (lua_getfield(L, 1, "targets") != LUA_TTABLE || lua_rawlen(L, -1) == 0)
        luaL_error(L, "trace.start: targets must be an array of segments");
    o.nsegs = lua_rawlen(L, -1);
    o.segs = scratch(L, o.nsegs * sizeof *o.segs);
    for (size_t i = 0; i < o.nsegs; i++) {
        lua_rawgeti(L, -2, (lua_Integer)i + 1);
        struct vmlab_seg *sg = vmlab_testseg(L, -1);
        if (!sg)
            luaL_error(L, "trace.start: target %d is not an open segment", (int)i + 1);
        o.segs[i] = sg;
        lua_pop(L, 1);
    }
    struct ltracer *lt = lua_newuserdatauv(L, sizeof *lt, 1);
    lt->t = NULL;
    snprintf(lt->output, sizeof lt->output, "%s", o.output);
    luaL_setmetatable(L, TRACER_MT);
    lua_pushvalue(L, -3);               /* keep the segments alive with the tracer */
    lua_setiuservalue(L, -2, 1);
    char err[300] = "";
    int r = vmlab_tracer_start(&o, &lt->t, err, sizeof err);
    if (r == -EINVAL)
        luaL_error(L, "%s", err);
    if (r)
        return vmlab_pushfail(L, -r, "trace.start(%s): %s", o.output, err);
    return 1;
}

/* lackey{command={...}, output=, instructions=true, valgrind=, timeout=,
 * via="auto"|"vmlab"|"lackey"} -> {references=, events=, exit=|signal=,
 * via=, note=} */
static int l_lackey(lua_State *L)
{
    static const char *const valid[] = {"command", "output", "instructions", "valgrind", "timeout", "via", NULL};
    static const char *const vias[] = {"auto", "lackey", "vmlab", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    vmlab_checkopts(L, 1, "trace.lackey", valid);
    struct vmlab_lackey_opts o = {0};
    const char *via = vmlab_optfield_string(L, 1, "via", "auto");
    for (o.via = 0; vias[o.via] && strcmp(vias[o.via], via); o.via++)
        ;
    if (!vias[o.via])
        luaL_error(L, "trace.lackey: via must be \"auto\", \"vmlab\" or \"lackey\", not \"%s\"", via);
    o.output = vmlab_optfield_string(L, 1, "output", NULL);
    o.valgrind = vmlab_optfield_string(L, 1, "valgrind", NULL);
    o.no_instr = !vmlab_optfield_bool(L, 1, "instructions", 1);
    o.timeout = vmlab_optfield_time(L, 1, "timeout", 0);
    if (lua_getfield(L, 1, "command") != LUA_TTABLE || lua_rawlen(L, -1) == 0)
        luaL_error(L, "trace.lackey: command must be an array {program, args...}");
    size_t n = lua_rawlen(L, -1);
    char **argv = scratch(L, (n + 1) * sizeof *argv);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -2, (lua_Integer)i + 1);
        if (!lua_isstring(L, -1))
            luaL_error(L, "trace.lackey: command word %d is not a string", (int)i + 1);
        argv[i] = (char *)lua_tostring(L, -1);
        lua_rawseti(L, -3, (lua_Integer)i + 1); /* keep the string alive in the table */
    }
    argv[n] = NULL;
    o.argv = argv;
    struct vmlab_lackey_result res;
    char err[300] = "";
    int r = vmlab_trace_lackey(&o, &res, err, sizeof err);
    if (r)
        return vmlab_pushfail(L, -r, "trace.lackey(%s): %s", argv[0], err);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)res.references);
    lua_setfield(L, -2, "references");
    lua_pushinteger(L, (lua_Integer)res.events);
    lua_setfield(L, -2, "events");
    lua_pushstring(L, res.via == VMLAB_VIA_VMLAB ? "vmlab" : "lackey");
    lua_setfield(L, -2, "via");
    if (res.note[0]) {
        lua_pushstring(L, res.note);
        lua_setfield(L, -2, "note");
    }
    if (res.timed_out) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "timed_out");
    }
    if (WIFEXITED(res.status)) {
        lua_pushinteger(L, WEXITSTATUS(res.status));
        lua_setfield(L, -2, "exit");
    } else if (WIFSIGNALED(res.status)) {
        lua_pushinteger(L, WTERMSIG(res.status));
        lua_setfield(L, -2, "signal");
    }
    return 1;
}

/* oracle(path, {sample=, scale=, format=}) -> function(addr, time_us) ->
 * accessed (in the sampling interval ending at time_us), and the span
 * {start=, ["end"]=, duration_us=} of the trace */
#define INDEX_MT "vmlab.trace.index"

static int index_gc(lua_State *L)
{
    struct vmlab_trace_index **ix = luaL_checkudata(L, 1, INDEX_MT);
    vmlab_trace_index_free(*ix);
    *ix = NULL;
    return 0;
}

static int index_tostring(lua_State *L)
{
    lua_pushstring(L, "vmlab.trace.index");
    return 1;
}

static int oracle_call(lua_State *L)
{
    struct vmlab_trace_index **ix = lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer window = lua_tointeger(L, lua_upvalueindex(2));
    lua_Integer addr = luaL_checkinteger(L, 1), t = luaL_checkinteger(L, 2);
    if (!*ix)
        return luaL_error(L, "the trace oracle is closed");
    lua_pushboolean(L, vmlab_trace_index_accessed(*ix, (uint64_t)addr, (uint64_t)t, (uint64_t)window));
    return 1;
}

static int l_oracle(lua_State *L)
{
    static const char *const valid[] = {"sample", "scale", "format", NULL};
    const char *path = luaL_checkstring(L, 1);
    vmlab_checkopts(L, 2, "trace.oracle", valid);
    double sample = vmlab_optfield_time(L, 2, "sample", 0.005);
    double scale = lua_istable(L, 2) ? (lua_getfield(L, 2, "scale"), luaL_optnumber(L, -1, 1.0)) : 1.0;
    int fmt = vmlab_trace_format_find(vmlab_optfield_string(L, 2, "format", "auto"));
    if (fmt < 0)
        return luaL_error(L, "trace.oracle: unknown format");
    if (!(sample > 0) || !(scale > 0))
        return luaL_error(L, "trace.oracle: sample and scale must be above 0");
    struct vmlab_trace_index **ix = lua_newuserdatauv(L, sizeof *ix, 0);
    *ix = NULL;
    luaL_setmetatable(L, INDEX_MT);
    char err[300] = "";
    int r = vmlab_trace_index_build(path, fmt, scale, ix, err, sizeof err);
    if (r == -EINVAL)
        return luaL_error(L, "trace.oracle: %s", err);
    if (r)
        return vmlab_pushfail(L, -r, "trace.oracle(%s): %s", path, err);
    uint64_t lo, hi, end;
    vmlab_trace_index_span(*ix, &lo, &hi, &end);
    lua_pushinteger(L, (lua_Integer)(sample * 1e6 + 0.5));
    lua_pushcclosure(L, oracle_call, 2);        /* fn */
    lua_createtable(L, 0, 3);                   /* fn span */
    lua_pushinteger(L, (lua_Integer)lo);
    lua_setfield(L, -2, "start");
    lua_pushinteger(L, (lua_Integer)hi);
    lua_setfield(L, -2, "end");
    lua_pushinteger(L, (lua_Integer)end);
    lua_setfield(L, -2, "duration_us");
    return 2;
}

/* Add the functions and classes to the module table on the top. */
void vmlab_trace_capture_open(lua_State *L)
{
    static const luaL_Reg tmeth[] = {{"stop", tracer_stop}, {"close", tracer_stop},
                                     {"counts", tracer_counts}, {NULL, NULL}};
    static const luaL_Reg tmeta[] = {{"__close", tracer_gc}, {"__gc", tracer_gc},
                                     {"__tostring", tracer_tostring}, {NULL, NULL}};
    static const luaL_Reg imeta[] = {{"__gc", index_gc}, {"__close", index_gc},
                                     {"__tostring", index_tostring}, {NULL, NULL}};
    static const luaL_Reg fns[] = {{"start", l_start}, {"lackey", l_lackey}, {"oracle", l_oracle},
                                   {NULL, NULL}};
    vmlab_newclass(L, TRACER_MT, tmeth, tmeta);
    vmlab_newclass(L, INDEX_MT, NULL, imeta);
    luaL_setfuncs(L, fns, 0);                   /* M */
}
