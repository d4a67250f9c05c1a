/* require "vmlab.record": write monitor snapshots as damo's record files
 * and read any of them back. */
#include "vmlab/host.h"
#include "vmlab/record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define REC_MT "vmlab.record.writer"

static uint64_t field_u64(lua_State *L, int idx, const char *k, uint64_t def)
{
    uint64_t v = def;
    if (lua_getfield(L, idx, k) != LUA_TNIL) {
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
            luaL_error(L, "snapshot field '%s' must be an integer >= 0", k);
        v = (uint64_t)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

static uint32_t field_u32(lua_State *L, int idx, const char *k)
{
    uint64_t v = field_u64(L, idx, k, 0);
    if (v > UINT32_MAX)
        luaL_error(L, "snapshot field '%s' must be at most %I", k, (lua_Integer)UINT32_MAX);
    return (uint32_t)v;
}

/* A target id is unsigned 64-bit: record.read gives ids past INT64_MAX
 * (damo's kernel pointers) as negative integers (their bits), and a literal
 * like 18446623438842320000 is a float in Lua; both are taken whole. */
static uint64_t field_id(lua_State *L, int idx, uint64_t def)
{
    uint64_t v = def;
    int isnum;
    if (lua_getfield(L, idx, "id") != LUA_TNIL) {
        lua_Integer i = lua_tointegerx(L, -1, &isnum);
        if (isnum) {
            v = (uint64_t)i;
        } else {
            lua_Number n = lua_tonumberx(L, -1, &isnum);
            if (!isnum || n < 0 || n >= 18446744073709551616.0 || n != (lua_Number)(uint64_t)n)
                luaL_error(L, "snapshot field 'id' must be a whole number from 0 to 2^64-1");
            v = (uint64_t)n;
        }
    }
    lua_pop(L, 1);
    return v;
}

/* Add one monitor snapshot {time_us=, targets={{id=, regions={...}}}}. */
static void add_snapshot(lua_State *L, int idx, struct vmlab_records *r)
{
    uint64_t end_us, start_us;
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    end_us = field_u64(L, idx, "time_us", 0);
    if (!end_us && lua_getfield(L, idx, "time") == LUA_TNUMBER)
        end_us = (uint64_t)(lua_tonumber(L, -1) * 1e6 + 0.5);
    lua_settop(L, idx);
    /* without start_us, damo's rule: a snapshot starts where its target's
     * previous one ended (the first: one aggregation interval earlier) */
    start_us = field_u64(L, idx, "start_us", UINT64_MAX);
    if (lua_getfield(L, idx, "targets") != LUA_TTABLE)
        luaL_error(L, "a snapshot needs targets={{id=, regions={...}}}");
    for (lua_Integer t = 1; t <= (lua_Integer)lua_rawlen(L, -1); t++) {
        struct vmlab_rec_target *tg;
        struct vmlab_region *v;
        size_t n;
        int tt;
        lua_rawgeti(L, -1, t);
        tt = lua_gettop(L);
        tg = vmlab_records_target(r, field_id(L, tt, (uint64_t)t));
        if (lua_getfield(L, tt, "regions") != LUA_TTABLE)
            luaL_error(L, "target %d of a snapshot has no regions", (int)t);
        n = lua_rawlen(L, -1);
        v = lua_newuserdatauv(L, (n + 1) * sizeof *v, 0);
        memset(v, 0, (n + 1) * sizeof *v);
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, tt + 1, (lua_Integer)i + 1);
            v[i].start = field_u64(L, -1, "start", 0);
            v[i].end = field_u64(L, -1, "end", 0);
            v[i].nr_accesses = field_u32(L, -1, "nr_accesses");
            v[i].age = field_u32(L, -1, "age");
            if (v[i].end < v[i].start)
                luaL_error(L, "region %d of target %d ends before it starts", (int)i + 1, (int)t);
            lua_pop(L, 1);
        }
        uint64_t st = start_us;
        if (st == UINT64_MAX && tg)
            st = tg->n ? tg->snapshots[tg->n - 1].end_ns / 1000 : end_us > r->aggr_us ? end_us - r->aggr_us : 0;
        if (!tg || vmlab_records_add(tg, st * 1000, end_us * 1000, v, n))
            luaL_error(L, "not enough memory");
        lua_settop(L, tt - 1);
    }
    lua_settop(L, idx);
}

static const char *const writer_opts[] = {"format", "intervals", NULL};

static void read_intervals(lua_State *L, int opts, struct vmlab_records *r)
{
    static const char *const interval_keys[] = {"sample", "aggr", "update", NULL};

    r->sample_us = 5000;
    r->aggr_us = 100000;
    r->update_us = 1000000;
    if (lua_type(L, opts) == LUA_TTABLE && lua_getfield(L, opts, "intervals") == LUA_TTABLE) {
        int iv = lua_gettop(L);
        vmlab_checkopts(L, iv, "record (intervals)", interval_keys);
        r->sample_us = (uint64_t)(vmlab_optfield_time(L, iv, "sample", 0.005) * 1e6 + 0.5);
        r->aggr_us = (uint64_t)(vmlab_optfield_time(L, iv, "aggr", 0.1) * 1e6 + 0.5);
        r->update_us = (uint64_t)(vmlab_optfield_time(L, iv, "update", 1) * 1e6 + 0.5);
    }
    if (lua_type(L, opts) == LUA_TTABLE)
        lua_pop(L, 1);
}

static int check_format(lua_State *L, int opts)
{
    const char *f = vmlab_optfield_string(L, opts, "format", "json_compressed");
    int fmt = vmlab_rec_format(f);
    if (fmt < 0)
        luaL_error(L, "bad option 'format' ('%s': json_compressed, json or record)", f);
    return fmt;
}

/* A writer: snapshots gathered in memory, written on close (damo's JSON
 * is one document, so it cannot be streamed).  Userdata, so that an error
 * while adding frees what was gathered. */
struct writer {
    struct vmlab_records r;
    int fmt, open;
};

static struct writer *checkwriter(lua_State *L, int idx)
{
    struct writer *w = luaL_checkudata(L, idx, REC_MT);
    if (!w->open)
        luaL_error(L, "attempt to use a closed record writer");
    return w;
}

/* record.open(path[, {format=, intervals=}]) -> writer */
static int l_open(lua_State *L)
{
    struct writer *w;
    luaL_checkstring(L, 1);
    vmlab_checkopts(L, 2, "record.open", writer_opts);
    w = lua_newuserdatauv(L, sizeof *w, 1);            /* path opts w */
    memset(w, 0, sizeof *w);
    luaL_setmetatable(L, REC_MT);
    w->fmt = check_format(L, 2);
    read_intervals(L, 2, &w->r);
    w->open = 1;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);                       /* the path */
    return 1;
}

static int w_add(lua_State *L)
{
    struct writer *w = checkwriter(L, 1);
    add_snapshot(L, 2, &w->r);
    lua_settop(L, 1);
    return 1;
}

static size_t nsnapshots(const struct vmlab_records *r)
{
    size_t n = 0;
    for (size_t t = 0; t < r->n; t++)
        if (r->targets[t].n > n)
            n = r->targets[t].n;
    return n;
}

static int w_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)nsnapshots(&checkwriter(L, 1)->r));
    return 1;
}

/* w:close() writes the file: true, or nil and the message. */
static int w_close(lua_State *L)
{
    struct writer *w = luaL_checkudata(L, 1, REC_MT);
    char err[512];
    int rc;

    if (!w->open) {
        lua_pushboolean(L, 1);
        return 1;
    }
    w->open = 0;
    lua_getiuservalue(L, 1, 1);
    rc = vmlab_records_write(lua_tostring(L, -1), &w->r, (enum vmlab_rec_format)w->fmt, err, sizeof err);
    vmlab_records_free(&w->r);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* Collected unclosed: free without writing. */
static int w_gc(lua_State *L)
{
    struct writer *w = luaL_checkudata(L, 1, REC_MT);
    if (w->open) {
        w->open = 0;
        vmlab_records_free(&w->r);
    }
    return 0;
}

static int w_tostring(lua_State *L)
{
    struct writer *w = luaL_checkudata(L, 1, REC_MT);
    lua_getiuservalue(L, 1, 1);
    if (w->open)
        lua_pushfstring(L, "record writer %s (%d snapshots)", lua_tostring(L, -1), (int)nsnapshots(&w->r));
    else
        lua_pushfstring(L, "record writer %s (closed)", lua_tostring(L, -1));
    return 1;
}

/* record.write(path, snapshots[, {format=, intervals=}]) -> true | nil, msg */
static int l_write(lua_State *L)
{
    luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    vmlab_checkopts(L, 3, "record.write", writer_opts);
    lua_settop(L, 3);
    lua_pushcfunction(L, l_open);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    lua_call(L, 2, 1);                                 /* path snaps opts w */
    for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, 2); i++) {
        lua_rawgeti(L, 2, i);
        add_snapshot(L, -1, &((struct writer *)lua_touserdata(L, 4))->r);
        lua_pop(L, 1);
    }
    lua_replace(L, 1);
    lua_settop(L, 1);
    return w_close(L);
}

/* record.read(path) -> snapshots, info | nil, msg
 * Snapshots have the monitor's shape: {time=, time_us=, start_us=, start_ns=,
 * end_ns=, targets={{id=, start_ns=, end_ns=, regions={...}}}}; target ids
 * are unsigned 64-bit (kernel pointers in damo's records: negative as Lua
 * integers, string.format("%u") prints them); an age the record lacks is
 * 4294967295.  info has the intervals (seconds, and sample_us/aggr_us/
 * update_us) when the record has them, and nr_targets. */
static int l_read(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct writer *w = lua_newuserdatauv(L, sizeof *w, 1);   /* path w (frees on error) */
    struct vmlab_progress *pr;
    char err[512];
    size_t n;

    memset(w, 0, sizeof *w);
    luaL_setmetatable(L, REC_MT);
    if (vmlab_records_read(path, &w->r, err, sizeof err) < 0) {
        lua_pushnil(L);
        if (!strncmp(err, path, strlen(path)) || !strncmp(err, "open(", 5))
            lua_pushstring(L, err);                           /* it names the path */
        else
            lua_pushfstring(L, "%s: %s", path, err);
        return 2;
    }
    w->open = 1;
    n = nsnapshots(&w->r);
    /* tables for a large record take seconds: a line on a terminal */
    pr = vmlab_pushprogress(L, "load record", n, VMLAB_PROGRESS_COUNT, 0);   /* path w p */
    lua_toclose(L, -1);
    lua_createtable(L, (int)n, 0);                            /* path w p list */
    for (size_t k = 0; k < n; k++) {
        uint64_t end = 0, start = 0;
        int ti = 0;
        lua_createtable(L, 0, 4);                             /* .. snap */
        lua_newtable(L);                                      /* .. snap targets */
        for (size_t t = 0; t < w->r.n; t++) {
            const struct vmlab_rec_target *tg = &w->r.targets[t];
            const struct vmlab_rec_snapshot *s;
            if (k >= tg->n)
                continue;
            s = &tg->snapshots[k];
            end = s->end_ns;
            start = s->start_ns;
            lua_createtable(L, 0, 4);
            lua_pushinteger(L, (lua_Integer)tg->target_id);  /* unsigned: print with %u */
            lua_setfield(L, -2, "id");
            vmlab_pushregions(L, s->regions, s->n);
            lua_setfield(L, -2, "regions");
            lua_pushinteger(L, (lua_Integer)s->start_ns); lua_setfield(L, -2, "start_ns");
            lua_pushinteger(L, (lua_Integer)s->end_ns); lua_setfield(L, -2, "end_ns");
            lua_rawseti(L, -2, ++ti);
        }
        lua_setfield(L, -2, "targets");
        lua_pushinteger(L, (lua_Integer)(end / 1000)); lua_setfield(L, -2, "time_us");
        lua_pushnumber(L, (double)end / 1e9); lua_setfield(L, -2, "time");
        lua_pushinteger(L, (lua_Integer)(start / 1000)); lua_setfield(L, -2, "start_us");
        lua_pushinteger(L, (lua_Integer)start); lua_setfield(L, -2, "start_ns");
        lua_pushinteger(L, (lua_Integer)end); lua_setfield(L, -2, "end_ns");
        lua_rawseti(L, -2, (lua_Integer)k + 1);
        vmlab_progress_update(pr, k + 1);
    }
    lua_createtable(L, 0, 3);                                 /* .. list info */
    if (w->r.aggr_us) {
        lua_createtable(L, 0, 3);
        lua_pushnumber(L, (double)w->r.sample_us / 1e6); lua_setfield(L, -2, "sample");
        lua_pushnumber(L, (double)w->r.aggr_us / 1e6); lua_setfield(L, -2, "aggr");
        lua_pushnumber(L, (double)w->r.update_us / 1e6); lua_setfield(L, -2, "update");
        lua_setfield(L, -2, "intervals");
        lua_pushinteger(L, (lua_Integer)w->r.sample_us); lua_setfield(L, -2, "sample_us");
        lua_pushinteger(L, (lua_Integer)w->r.aggr_us); lua_setfield(L, -2, "aggr_us");
        lua_pushinteger(L, (lua_Integer)w->r.update_us); lua_setfield(L, -2, "update_us");
    }
    lua_pushinteger(L, (lua_Integer)w->r.n); lua_setfield(L, -2, "nr_targets");
    w->open = 0;
    vmlab_records_free(&w->r);
    return 2;
}

static const luaL_Reg methods[] = {
    {"add", w_add}, {"count", w_count}, {"close", w_close}, {NULL, NULL}};
static const luaL_Reg meta[] = {
    {"__tostring", w_tostring}, {"__close", w_close}, {"__gc", w_gc}, {NULL, NULL}};
static const luaL_Reg funcs[] = {
    {"open", l_open}, {"write", l_write}, {"read", l_read}, {NULL, NULL}};

int luaopen_vmlab_record(lua_State *L)
{
    vmlab_newclass(L, REC_MT, methods, meta);
    luaL_newlib(L, funcs);
    return 1;
}
