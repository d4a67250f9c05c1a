/* require "vmlab.damon": region-based access monitors (DAMON in user space).
 *
 *   local m = damon.monitor{ targets = {seg}, backend = "prot" }
 *   m:start(); ... ; for snap in m:snapshots{ count = 5 } do ... end
 *
 * Backends: "prot" (PROT_NONE sampling on a background thread), "replay"
 * (an oracle answers, in virtual time, driven by m:step(n)), "kernel" (the
 * kernel's DAMON; refused, with the reason, where vmlab may not use it). */
#include "vmlab/damon.h"
#include "vmlab/damon_prot.h"
#include "vmlab/seg.h"
#include "vmlab/host.h"
#include "vmlab/units.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MON_MT "vmlab.damon.monitor"

struct lmon {
    struct vmlab_damon d;
    struct vmlab_damon_snapq *q;
    int open, started, replay;
    lua_State *L;           /* for the replay oracle, during step() */
    int oracle_err;         /* the oracle raised: stop stepping */
    /* The last aggregation, kept in C while nobody needs every snapshot:
     * building Lua tables for each of 10,000 steps would cost more than
     * the monitoring. */
    struct vmlab_damon_snapshot latest;
    int latest_fresh;
    /* the kernel backend: a kdamond vmlab started */
    int kernel;
    struct vmlab_kdamon kd;
    struct vmlab_range *kranges;
    size_t nkranges;
};

static const struct vmlab_damon_ops kernel_ops = {.name = "kernel"};

static void keep_latest(struct vmlab_damon *d, uint64_t time_us, void *ctx)
{
    struct lmon *m = ctx;
    struct vmlab_damon_snapshot *s = &m->latest;

    if (s->nr_targets != d->nr_targets) {
        vmlab_damon_snapshot_free(s);
        s->targets = calloc(d->nr_targets + 1, sizeof *s->targets);
        if (!s->targets)
            return;
        s->nr_targets = d->nr_targets;
    }
    for (size_t t = 0; t < d->nr_targets; t++) {
        const struct vmlab_regions *src = &d->targets[t].regions;
        struct vmlab_regions *dst = &s->targets[t];
        if (dst->cap < src->n) {
            struct vmlab_region *v = realloc(dst->v, (src->n + 1) * sizeof *v);
            if (!v)
                return;
            dst->v = v;
            dst->cap = src->n;
        }
        memcpy(dst->v, src->v, src->n * sizeof *src->v);
        dst->n = src->n;
    }
    s->time_us = time_us;
    m->latest_fresh = 1;
}

/* Uservalues: 1 oracle, 2 on_aggregate callbacks, 3 latest snapshot,
 * 4 options (record, format), 5 the target segments (kept alive),
 * 6 the scheme specs and what vmlab.damos made of them. */
enum { UV_ORACLE = 1, UV_CALLBACKS, UV_LATEST, UV_OPTS, UV_TARGETS, UV_SCHEMES, NUV = UV_SCHEMES };

static struct lmon *checkmon(lua_State *L, int idx)
{
    struct lmon *m = luaL_checkudata(L, idx, MON_MT);
    if (!m->open)
        luaL_error(L, "attempt to use a closed monitor");
    return m;
}

/* ---- replay: the oracle answers ------------------------------------------ */

static void replay_check(struct vmlab_damon *d)
{
    struct lmon *m = (struct lmon *)d;                       /* d is first */
    lua_State *L = m->L;
    int top;

    if (!L || m->oracle_err)
        return;
    top = lua_gettop(L);
    lua_getiuservalue(L, 1, UV_ORACLE);                      /* .. oracle */
    for (size_t t = 0; t < d->nr_targets; t++) {
        struct vmlab_regions *rs = &d->targets[t].regions;
        for (size_t i = 0; i < rs->n; i++) {
            int accessed;
            lua_pushvalue(L, top + 1);
            lua_pushinteger(L, (lua_Integer)rs->v[i].sampling_addr);
            lua_pushinteger(L, (lua_Integer)d->now_us);
            if (lua_pcall(L, 2, 1, 0) != LUA_OK) {           /* .. oracle err */
                m->oracle_err = 1;
                lua_replace(L, top + 1);                     /* keep the message */
                return;
            }
            accessed = lua_toboolean(L, -1);
            lua_pop(L, 1);
            if (accessed)
                rs->v[i].nr_accesses++;
        }
    }
    lua_settop(L, top);
}

static const struct vmlab_damon_ops replay_ops = {.name = "replay", .check = replay_check};

/* ---- snapshots as Lua tables ------------------------------------------- */

static void push_snapshot(lua_State *L, uint64_t time_us, const struct vmlab_regions *targets, size_t n)
{
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, (double)time_us / 1e6); lua_setfield(L, -2, "time");
    lua_pushinteger(L, (lua_Integer)time_us); lua_setfield(L, -2, "time_us");
    lua_createtable(L, (int)n, 0);
    for (size_t t = 0; t < n; t++) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, (lua_Integer)t + 1); lua_setfield(L, -2, "id");
        vmlab_pushregions(L, targets[t].v, targets[t].n);
        lua_setfield(L, -2, "regions");
        lua_rawseti(L, -2, (lua_Integer)t + 1);
    }
    lua_setfield(L, -2, "targets");
}

/* Take one queued snapshot (waiting up to timeout); run the on_aggregate
 * callbacks on it and remember it as the latest.  Pushes it, or returns 0. */
static int next_snapshot(lua_State *L, struct lmon *m, int mon, double timeout)
{
    struct vmlab_damon_snapshot s;
    int r = vmlab_damon_snapq_pop(m->q, &s, timeout);

    if (r == -EINTR)
        vmlab_checkinterrupt(L);
    if (r <= 0)
        return 0;
    push_snapshot(L, s.time_us, s.targets, s.nr_targets);     /* snap */
    vmlab_damon_snapshot_free(&s);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, mon, UV_LATEST);
    m->latest_fresh = 0;
    lua_getiuservalue(L, mon, UV_CALLBACKS);                   /* snap cbs */
    for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, -1); i++) {
        lua_rawgeti(L, -1, i);                                 /* snap cbs fn */
        lua_pushvalue(L, -3);
        lua_pushvalue(L, mon);
        lua_call(L, 2, 0);
    }
    lua_pop(L, 1);                                             /* snap */
    return 1;
}

static void drain(lua_State *L, struct lmon *m, int mon)
{
    while (next_snapshot(L, m, mon, 0))
        lua_pop(L, 1);
}

/* ---- construction ------------------------------------------------------------ */

/* Targets: "self", or an array of segments ({addr=, size=}) and
 * {start=, ["end"]=} ranges.  Fills d->targets and prot[] (room for
 * every target; the caller keeps it alive on the stack). */
static void parse_targets(lua_State *L, int opts, struct vmlab_damon *d, int *prot, int *self)
{
    lua_getfield(L, opts, "targets");                          /* targets */
    *self = 0;
    if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "self"))) {
        *self = 1;
        d->targets = calloc(1, sizeof *d->targets);
        d->nr_targets = 1;
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "bad option 'targets' (\"self\" or an array of segments and ranges)");
    d->nr_targets = lua_rawlen(L, -1);
    if (d->nr_targets == 0)
        luaL_error(L, "bad option 'targets' (empty)");
    d->targets = calloc(d->nr_targets, sizeof *d->targets);
    if (!d->targets)
        luaL_error(L, "not enough memory");
    for (size_t t = 0; t < d->nr_targets; t++) {
        uint64_t start, end;
        const char *p;
        lua_rawgeti(L, -1, (lua_Integer)t + 1);                /* targets tg */
        if (lua_getfield(L, -1, "start") == LUA_TNUMBER) {
            lua_getfield(L, -2, "end");
            start = (uint64_t)luaL_checkinteger(L, -2);
            end = (uint64_t)luaL_checkinteger(L, -1);
            lua_pop(L, 2);
            prot[t] = PROT_READ | PROT_WRITE;
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
            if (!p || vmlab_parse_prot(p, &prot[t]) < 0)   /* unused: the seg engine owns protection */
                prot[t] = PROT_READ | PROT_WRITE;
            lua_pop(L, 1);
        }
        if (end <= start || start % 4096)
            luaL_error(L, "bad target %d: [0x%I, 0x%I) is empty or not page aligned", (int)t + 1,
                       (lua_Integer)start, (lua_Integer)end);
        d->targets[t].ranges = malloc(sizeof *d->targets[t].ranges);
        if (!d->targets[t].ranges)
            luaL_error(L, "not enough memory");
        d->targets[t].ranges[0] = (struct vmlab_range){start, (end + 4095) & ~4095ULL};
        d->targets[t].nr_ranges = 1;
        lua_pop(L, 1);                                         /* targets */
    }
    lua_pop(L, 1);
}

/* oracle = {{start=, ["end"]=, p=1, from=, to=}, ...}: a synthetic
 * pattern answered in C (fast enough for long replays). */
static int attach_pattern(lua_State *L, int idx, struct lmon *m)
{
    size_t n = lua_rawlen(L, idx);
    struct vmlab_damon_pattern *v = lua_newuserdatauv(L, (n + 1) * sizeof *v, 0);
    int e;

    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        int r = lua_gettop(L);
        if (!lua_istable(L, r))
            luaL_error(L, "bad oracle pattern entry %d: a table {start=, [\"end\"]=, p=} expected", (int)i + 1);
        lua_getfield(L, r, "start");
        lua_getfield(L, r, "end");
        if (!lua_isinteger(L, -2) || !lua_isinteger(L, -1) || lua_tointeger(L, -1) <= lua_tointeger(L, -2))
            luaL_error(L, "bad oracle pattern entry %d: start and end must be integers, end above start", (int)i + 1);
        v[i].start = (uint64_t)lua_tointeger(L, -2);
        v[i].end = (uint64_t)lua_tointeger(L, -1);
        lua_pop(L, 2);
        lua_getfield(L, r, "p");
        v[i].p = lua_isnil(L, -1) ? 1.0 : luaL_checknumber(L, -1);
        lua_pop(L, 1);
        if (v[i].p < 0 || v[i].p > 1)
            luaL_error(L, "bad oracle pattern entry %d: p is a probability (0 to 1)", (int)i + 1);
        v[i].from_us = (uint64_t)(vmlab_optfield_time(L, r, "from", 0) * 1e6);
        v[i].until_us = (uint64_t)(vmlab_optfield_time(L, r, "to", 0) * 1e6);
        lua_pop(L, 1);
    }
    e = vmlab_damon_pattern_attach(&m->d, v, n, m->d.rng.s);
    lua_pop(L, 1);
    return e;
}

/* record = path: every aggregation goes to a vmlab.record writer, written
 * when the monitor stops or closes.  Stack: .. m o path -> .. m o */
static int record_snapshot(lua_State *L)
{
    lua_getfield(L, lua_upvalueindex(1), "add");               /* snap mon add */
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_call(L, 2, 0);
    return 0;
}

static void open_recorder(lua_State *L, int o, struct lmon *m)
{
    int path = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "vmlab.record");
    lua_call(L, 1, 1);                                          /* .. path R */
    lua_getfield(L, -1, "open");
    lua_pushvalue(L, path);
    lua_createtable(L, 0, 2);                                   /* .. R open path opts */
    lua_getfield(L, 1, "format");
    lua_setfield(L, -2, "format");
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, (double)m->d.attrs.sample_us / 1e6); lua_setfield(L, -2, "sample");
    lua_pushnumber(L, (double)m->d.attrs.aggr_us / 1e6); lua_setfield(L, -2, "aggr");
    lua_pushnumber(L, (double)m->d.attrs.update_us / 1e6); lua_setfield(L, -2, "update");
    lua_setfield(L, -2, "intervals");
    lua_call(L, 2, 1);                                          /* .. path R w */
    lua_pushvalue(L, -1);
    lua_setfield(L, o, "recorder");
    lua_getiuservalue(L, o - 1, UV_CALLBACKS);                  /* .. w cbs */
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, record_snapshot, 1);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_settop(L, path - 1);
}

/* Write the record file, if there is one (on stop and close). */
static int finish_record(lua_State *L, int mon)
{
    int top = lua_gettop(L), ok = 1;
    if (lua_getiuservalue(L, mon, UV_OPTS) == LUA_TTABLE &&
        lua_getfield(L, -1, "recorder") == LUA_TUSERDATA) {
        lua_getfield(L, -1, "close");
        lua_pushvalue(L, -2);
        if (lua_pcall(L, 1, 2, 0) != LUA_OK || lua_isnil(L, -2)) {
            ok = 0;
            lua_pushstring(L, lua_tostring(L, -1));
            lua_setfield(L, LUA_REGISTRYINDEX, "vmlab.damon.record_error");
        }
    }
    lua_settop(L, top);
    return ok;
}

static uint64_t us_opt(lua_State *L, int opts, const char *k, uint64_t def)
{
    double s = vmlab_optfield_time(L, opts, k, (double)def / 1e6);
    return (uint64_t)(s * 1e6 + 0.5);
}

/* damon.monitor(opts) -> monitor, or nil, message */
static int l_monitor(lua_State *L)
{
    static const char *const backends[] = {"prot", "replay", "kernel", NULL};
    struct lmon *m;
    const char *why;
    int *prot, self, backend, e;
    size_t nt;
    char reason[256];

    luaL_checktype(L, 1, LUA_TTABLE);
    /* default: replay when an oracle is given, else prot */
    lua_getfield(L, 1, "oracle");
    lua_getfield(L, 1, "backend");
    backend = lua_isnil(L, -1) ? (lua_isnil(L, -2) ? 0 : 1) : luaL_checkoption(L, -1, NULL, backends);
    lua_settop(L, 1);

    if (backend == 2 && vmlab_damon_kernel_probe(reason, sizeof reason) < 0)
        return vmlab_pushfail(L, ENOTSUP, "damon.monitor(kernel backend): %s", reason);
    lua_getfield(L, 1, "targets");
    nt = lua_istable(L, -1) ? lua_rawlen(L, -1) : 1;
    lua_pop(L, 1);
    prot = lua_newuserdatauv(L, (nt + 1) * sizeof *prot, 0);  /* opts prot */
    m = lua_newuserdatauv(L, sizeof *m, NUV);                  /* opts prot m */
    memset(m, 0, sizeof *m);
    luaL_setmetatable(L, MON_MT);
    m->open = 1;                  /* __gc frees whatever gets set up below */
    vmlab_damon_default_attrs(&m->d.attrs);
    m->d.attrs.sample_us = us_opt(L, 1, "sample", m->d.attrs.sample_us);
    m->d.attrs.aggr_us = us_opt(L, 1, "aggr", m->d.attrs.aggr_us);
    m->d.attrs.update_us = us_opt(L, 1, "update", m->d.attrs.update_us);
    m->d.attrs.min_nr_regions = (unsigned)vmlab_optfield_int(L, 1, "min_regions", m->d.attrs.min_nr_regions);
    m->d.attrs.max_nr_regions = (unsigned)vmlab_optfield_int(L, 1, "max_regions", m->d.attrs.max_nr_regions);
    if ((why = vmlab_damon_check_attrs(&m->d.attrs)))
        return luaL_error(L, "damon.monitor: %s", why);
    m->d.rng.s = (uint64_t)vmlab_optfield_int(L, 1, "seed", 42);
    lua_getfield(L, 1, "budget");
    m->d.budget = lua_isnil(L, -1) ? 0.05 : luaL_checknumber(L, -1);
    lua_pop(L, 1);
    if (m->d.budget < 0 || m->d.budget > 1)
        return luaL_error(L, "bad option 'budget' (a fraction of one CPU, 0 to 1)");

    parse_targets(L, 1, &m->d, prot, &self);
    lua_getfield(L, 1, "targets");
    lua_setiuservalue(L, -2, UV_TARGETS);
    lua_newtable(L);
    lua_setiuservalue(L, -2, UV_CALLBACKS);
    lua_newtable(L);
    lua_setiuservalue(L, -2, UV_SCHEMES);
    lua_createtable(L, 0, 3);                                   /* .. m o */
    lua_getfield(L, 1, "record");
    lua_setfield(L, -2, "record");
    lua_getfield(L, 1, "format");
    lua_setfield(L, -2, "format");
    if (lua_getfield(L, 1, "record") == LUA_TSTRING)            /* .. m o path */
        open_recorder(L, lua_gettop(L) - 1, m);
    else
        lua_pop(L, 1);
    lua_setiuservalue(L, -2, UV_OPTS);

    m->q = vmlab_damon_snapq_new(4096);
    m->d.on_aggr = vmlab_damon_snapq_push;
    m->d.on_aggr_ctx = m->q;
    if (backend == 2) {
        /* The kernel samples on its own; ranges (if any) are its regions. */
        m->kernel = 1;
        m->d.ops = &kernel_ops;
        if (!self) {
            m->nkranges = m->d.nr_targets;
            m->kranges = calloc(m->nkranges, sizeof *m->kranges);
            if (!m->kranges)
                return vmlab_pushfail(L, ENOMEM, "damon.monitor(kernel backend)");
            for (size_t t = 0; t < m->nkranges; t++)
                m->kranges[t] = m->d.targets[t].ranges[0];
        }
        return 1;
    }
    if (backend == 1) {
        if (self)
            return luaL_error(L, "the replay backend needs targets (segments or ranges), not \"self\"");
        lua_getfield(L, 1, "oracle");
        if (lua_istable(L, -1)) {
            if ((e = attach_pattern(L, lua_gettop(L), m)) < 0)
                return vmlab_pushfail(L, -e, "damon.monitor(replay pattern)");
            lua_pop(L, 1);
        } else if (lua_isfunction(L, -1)) {
            lua_setiuservalue(L, -2, UV_ORACLE);
            m->d.ops = &replay_ops;
        } else {
            return luaL_error(L, "the replay backend needs an oracle: function(addr, time_us) -> accessed, "
                              "or a pattern {{start=, [\"end\"]=, p=, from=, to=}, ...}");
        }
        m->replay = 1;
    } else {
        if (self) {
            return luaL_error(L, "the prot backend needs targets (segments or ranges): protecting the "
                              "runtime's own pages would fault inside the sampler");
        }
        if ((e = vmlab_damon_prot_attach(&m->d, prot)) < 0)
            return luaL_error(L, "damon.monitor: %s", vmlab_damon_prot_why());
    }
    m->L = L;
    e = vmlab_damon_init(&m->d);
    m->L = NULL;
    if (e < 0)
        return vmlab_pushfail(L, -e, "damon.monitor: setting up the regions");
    return 1;
}

/* ---- methods ---------------------------------------------------------------- */

/* Idle work while Lua snoozes: hand queued snapshots to the callbacks. */
static int idle_drain(lua_State *L)
{
    struct lmon *m = luaL_checkudata(L, 1, MON_MT);
    if (m->open && m->q)
        drain(L, m, 1);
    return 0;
}

static int mon_start(lua_State *L)
{
    struct lmon *m = checkmon(L, 1);
    int e;
    if (m->replay)
        return luaL_error(L, "a replay monitor runs in virtual time: drive it with m:step(n)");
    if (m->started)
        return luaL_error(L, "the monitor is running already");
    if (m->kernel) {
        char why[512];
        if ((e = vmlab_kdamon_start(&m->kd, &m->d.attrs, (int)getpid(), m->kranges, m->nkranges,
                                    why, sizeof why)) < 0)
            return vmlab_pushfail(L, -e, "damon start (kernel backend: %s)", why);
        m->started = 1;
        lua_pushboolean(L, 1);
        return 1;
    }
    if ((e = vmlab_damon_thread_start(&m->d)) < 0)
        return vmlab_pushfail(L, -e, "damon start");
    m->started = 1;
    lua_pushcfunction(L, idle_drain);
    vmlab_set_idle(L, 1, -1);
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
    return 1;
}

static int mon_stop(lua_State *L)
{
    struct lmon *m = checkmon(L, 1);
    if (m->started && m->kernel) {
        vmlab_kdamon_stop(&m->kd);
        m->started = 0;
    } else if (m->started) {
        vmlab_damon_thread_stop(&m->d);
        m->started = 0;
    }
    vmlab_set_idle(L, 1, 0);
    drain(L, m, 1);
    if (!finish_record(L, 1)) {
        lua_getfield(L, LUA_REGISTRYINDEX, "vmlab.damon.record_error");
        return vmlab_pushfail(L, EIO, "damon stop: writing the record: %s", lua_tostring(L, -1));
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* m:step([n]) runs n sample intervals now; returns the aggregations done. */
static int mon_step(lua_State *L)
{
    struct lmon *m = checkmon(L, 1);
    lua_Integer n = luaL_optinteger(L, 2, 1);
    uint64_t before = m->d.stats.aggregations;

    if (m->kernel)
        return luaL_error(L, "the kernel samples on its own: use m:start() and m:snapshots()");
    if (m->started)
        return luaL_error(L, "m:step() drives a stopped monitor; this one runs on its thread");
    if (n < 0)
        return luaL_argerror(L, 2, "must be >= 0");
    lua_settop(L, 1);
    lua_getiuservalue(L, 1, UV_CALLBACKS);
    if (lua_rawlen(L, -1) == 0) {
        m->d.on_aggr = keep_latest;
        m->d.on_aggr_ctx = m;
    }
    lua_pop(L, 1);
    m->L = L;
    for (lua_Integer i = 0; i < n && !m->oracle_err; i++) {
        vmlab_damon_sample(&m->d);
        if ((i & 1023) == 1023)
            vmlab_checkinterrupt(L);
    }
    m->L = NULL;
    m->d.on_aggr = vmlab_damon_snapq_push;
    m->d.on_aggr_ctx = m->q;
    if (m->oracle_err) {
        m->oracle_err = 0;
        return luaL_error(L, "the oracle failed: %s", lua_tostring(L, 2));
    }
    drain(L, m, 1);
    lua_pushinteger(L, (lua_Integer)(m->d.stats.aggregations - before));
    return 1;
}

/* m:snapshot() -> the latest aggregation's snapshot (or the regions now). */
/* The kernel's regions now, as a snapshot (pushed), or nil, msg. */
static int kernel_snapshot(lua_State *L, struct lmon *m)
{
    struct vmlab_regions rs;
    int e;

    if (!m->started)
        return luaL_error(L, "start the kernel monitor before asking for snapshots");
    if ((e = vmlab_kdamon_read(&m->kd, &rs)) < 0)
        return vmlab_pushfail(L, -e, "damon snapshot (kernel tried regions)");
    m->d.now_us = (uint64_t)(vmlab_now() * 1e6);
    push_snapshot(L, m->d.now_us, &rs, 1);
    vmlab_regions_free(&rs);
    return 1;
}

static int mon_snapshot(lua_State *L)
{
    struct lmon *m = checkmon(L, 1);
    if (m->kernel)
        return kernel_snapshot(L, m);
    drain(L, m, 1);
    if (m->latest_fresh) {
        push_snapshot(L, m->latest.time_us, m->latest.targets, m->latest.nr_targets);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, UV_LATEST);
        m->latest_fresh = 0;
        return 1;
    }
    if (lua_getiuservalue(L, 1, UV_LATEST) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    {
        struct vmlab_regions *rs;
        vmlab_damon_lock(&m->d);
        rs = calloc(m->d.nr_targets, sizeof *rs);
        for (size_t t = 0; rs && t < m->d.nr_targets; t++)
            rs[t] = m->d.targets[t].regions;             /* borrowed while locked */
        if (rs)
            push_snapshot(L, m->d.now_us, rs, m->d.nr_targets);
        vmlab_damon_unlock(&m->d);
        free(rs);
        if (!rs)
            return vmlab_pushfail(L, ENOMEM, "snapshot");
    }
    return 1;
}

static int snapshots_iter(lua_State *L)
{
    struct lmon *m = checkmon(L, lua_upvalueindex(1));
    lua_Integer left = lua_tointeger(L, lua_upvalueindex(2));
    double timeout = lua_tonumber(L, lua_upvalueindex(3));

    if (left == 0)
        return 0;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_replace(L, 1);
    lua_settop(L, 1);
    if (m->kernel) {
        /* the kernel aggregates on its own: look once per interval */
        if (vmlab_snooze((double)m->d.attrs.aggr_us / 1e6) < 0)
            vmlab_checkinterrupt(L);
        if (kernel_snapshot(L, m) != 1)
            return 0;
        lua_pushinteger(L, left - 1);
        lua_replace(L, lua_upvalueindex(2));
        return 1;
    }
    if (m->replay && !m->started) {
        /* virtual time: step until the next aggregation */
        uint64_t target = m->d.stats.aggregations + 1;
        m->L = L;
        while (m->d.stats.aggregations < target && !m->oracle_err)
            vmlab_damon_sample(&m->d);
        m->L = NULL;
        if (m->oracle_err) {
            m->oracle_err = 0;
            return luaL_error(L, "the oracle failed: %s", lua_tostring(L, 2));
        }
    }
    if (!next_snapshot(L, m, 1, timeout))
        return 0;
    lua_pushinteger(L, left - 1);
    lua_replace(L, lua_upvalueindex(2));
    return 1;
}

/* for snap in m:snapshots{count=, timeout=} do ... end */
static int mon_snapshots(lua_State *L)
{
    checkmon(L, 1);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, vmlab_optfield_int(L, 2, "count", -1));
    lua_pushnumber(L, vmlab_optfield_time(L, 2, "timeout", 10));
    lua_pushcclosure(L, snapshots_iter, 3);
    return 1;
}

static int mon_on_aggregate(lua_State *L)
{
    checkmon(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_getiuservalue(L, 1, UV_CALLBACKS);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    return 0;
}

/* m:scheme(spec) -> whatever vmlab.damos's attach(m, spec) returns.
 * The monitor keeps the spec (and the result, so a scheme object lives as
 * long as its monitor); damos hooks into the engine in C through
 * vmlab_damon_add_aggr_hook() on the monitor userdata (vmlab/damon.h). */
static int mon_scheme(lua_State *L)
{
    int n;

    checkmon(L, 1);
    luaL_checkany(L, 2);
    lua_getglobal(L, "require");                                /* require */
    lua_pushliteral(L, "vmlab.damos");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1))
        return luaL_error(L, "m:scheme(): DAMOS schemes need vmlab.damos, which this build lacks");
    if (lua_getfield(L, -1, "attach") != LUA_TFUNCTION)      /* damos attach */
        return luaL_error(L, "m:scheme(): vmlab.damos has no attach(monitor, spec)");
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, LUA_MULTRET);                               /* damos res... */
    n = lua_gettop(L) - 3;
    lua_getiuservalue(L, 1, UV_SCHEMES);                       /* damos res... list */
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, "spec");
    if (n > 0) {
        lua_pushvalue(L, 4);
        lua_setfield(L, -2, "scheme");
    }
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);                                             /* damos res... */
    return n;
}

static int mon_stats(lua_State *L)
{
    struct lmon *m = checkmon(L, 1);
    struct vmlab_damon_stats s;
    unsigned nr;

    vmlab_damon_lock(&m->d);
    s = m->d.stats;
    nr = vmlab_damon_nr_regions(&m->d);
    vmlab_damon_unlock(&m->d);
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, (lua_Integer)s.samples); lua_setfield(L, -2, "samples");
    lua_pushinteger(L, (lua_Integer)s.aggregations); lua_setfield(L, -2, "aggregations");
    lua_pushinteger(L, (lua_Integer)s.updates); lua_setfield(L, -2, "updates");
    lua_pushinteger(L, (lua_Integer)s.faults); lua_setfield(L, -2, "faults");
    lua_pushnumber(L, s.cpu_seconds); lua_setfield(L, -2, "cpu_seconds");
    lua_pushinteger(L, nr); lua_setfield(L, -2, "nr_regions");
    lua_pushnumber(L, (double)s.effective_sample_us / 1e6); lua_setfield(L, -2, "sample");
    lua_pushnumber(L, (double)m->d.attrs.aggr_us / 1e6); lua_setfield(L, -2, "aggr");
    lua_pushnumber(L, (double)m->d.attrs.update_us / 1e6); lua_setfield(L, -2, "update");
    lua_pushinteger(L, (lua_Integer)vmlab_damon_snapq_dropped(m->q)); lua_setfield(L, -2, "dropped");
    lua_pushstring(L, m->d.ops->name); lua_setfield(L, -2, "backend");
    return 1;
}

static int mon_close(lua_State *L)
{
    struct lmon *m = luaL_checkudata(L, 1, MON_MT);
    if (m->open) {
        if (m->started && m->kernel)
            vmlab_kdamon_stop(&m->kd);
        else if (m->started)
            vmlab_damon_thread_stop(&m->d);
        m->started = 0;
        free(m->kranges);
        m->kranges = NULL;
        vmlab_set_idle(L, 1, 0);
        if (m->q)
            drain(L, m, 1);
        finish_record(L, 1);
        m->open = 0;
        vmlab_damon_destroy(&m->d);
        vmlab_damon_snapq_free(m->q);
        m->q = NULL;
        vmlab_damon_snapshot_free(&m->latest);
    }
    return 0;
}

static int mon_tostring(lua_State *L)
{
    struct lmon *m = luaL_checkudata(L, 1, MON_MT);
    if (!m->open || !m->d.ops)
        lua_pushliteral(L, "damon monitor (closed)");
    else
        lua_pushfstring(L, "damon monitor (%s, %d target(s), %d regions, %s)", m->d.ops->name,
                        (int)m->d.nr_targets, (int)vmlab_damon_nr_regions(&m->d),
                        m->started ? "running" : "stopped");
    return 1;
}

static const luaL_Reg methods[] = {
    {"start", mon_start},       {"stop", mon_stop},           {"step", mon_step},
    {"snapshot", mon_snapshot}, {"snapshots", mon_snapshots}, {"on_aggregate", mon_on_aggregate},
    {"scheme", mon_scheme},     {"stats", mon_stats},         {"close", mon_close},
    {NULL, NULL}};
static const luaL_Reg meta[] = {
    {"__tostring", mon_tostring}, {"__close", mon_close}, {"__gc", mon_close}, {NULL, NULL}};

/* damon.kernel_available() -> true, or false and why not */
static int l_kernel_available(lua_State *L)
{
    char why[256];
    int r = vmlab_damon_kernel_probe(why, sizeof why);
    lua_pushboolean(L, r == 0);
    lua_pushstring(L, why);
    return 2;
}

static const luaL_Reg funcs[] = {
    {"monitor", l_monitor}, {"kernel_available", l_kernel_available}, {NULL, NULL}};

int luaopen_vmlab_damon(lua_State *L)
{
    vmlab_newclass(L, MON_MT, methods, meta);
    luaL_newlib(L, funcs);
    return 1;
}
