/* require "vmlab.damon": region-based access monitors (DAMON in user space).
 *
 *   local m = damon.monitor{ targets = {seg}, backend = "prot" }
 *   m:start(); ... ; for snap in m:snapshots{ count = 5 } do ... end
 *
 * Glue: options are checked here and handed to the engine (vmlab_damon_new),
 * which owns the backends, recording and hooks.  Lua's side stays here: the
 * oracle and on_aggregate callbacks, snapshots as tables, and the callback
 * rule of docs/DESIGN.md (close waits for the callback; re-entry is busy). */
#include "damon_glue.h"
#include "vmlab/damon.h"
#include "vmlab/damos.h"
#include "vmlab/seg.h"
#include "vmlab/host.h"
#include "vmlab/interrupt.h"
#include "vmlab/record.h"
#include "vmlab/uffd.h"
#include "vmlab/units.h"
#include "damon_targets.h"
#include "uffd_lua.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MON_MT "vmlab.damon.monitor"

struct lmon {
    struct vmlab_damon *d;
    struct vmlab_damon_snapq *q;
    int open;               /* 0 once closed, or closing */
    int depth;              /* callbacks running: a close waits for them */
    int close_pending;
    lua_State *L;           /* the state running step(), for the oracle */
    int oracle_slot;        /* its stack slots: the oracle, then its error */
    /* The last aggregation, kept in C while nobody needs every snapshot
     * (tables for each of 10,000 steps would cost more than monitoring). */
    struct vmlab_damon_snapshot latest;
    int latest_fresh;
};

/* Uservalues: oracle, on_aggregate callbacks, latest snapshot, options
 * (record path), targets (kept alive), schemes (spec and object). */
enum { UV_ORACLE = 1, UV_CALLBACKS, UV_LATEST, UV_OPTS, UV_TARGETS, UV_SCHEMES, NUV = UV_SCHEMES };

/* nil, msg, errno: a failure whose message already says why */
static int fail(lua_State *L, int err, const char *fmt, const char *a, const char *b)
{
    lua_pushnil(L);
    lua_pushfstring(L, fmt, a, b);
    lua_pushinteger(L, err);
    return 3;
}

static struct lmon *checkmon(lua_State *L, int idx)
{
    struct lmon *m = luaL_checkudata(L, idx, MON_MT);
    if (!m->open)
        luaL_error(L, "attempt to use a closed monitor");
    return m;
}

static void notbusy(lua_State *L, struct lmon *m, const char *what)
{
    if (m->depth)
        luaL_error(L, "%s: the monitor is busy (called from its own callback)", what);
}

/* ---- closing: now, or when the callbacks return --------------------------- */

static void real_close(lua_State *L, struct lmon *m, int mon)
{
    vmlab_set_idle(L, mon, 0);
    vmlab_damon_free(m->d);             /* stops, finishes the record, releases schemes */
    m->d = NULL;
    vmlab_damon_snapq_free(m->q);
    m->q = NULL;
    vmlab_damon_snapshot_free(&m->latest);
}

static int mon_close(lua_State *L)
{
    struct lmon *m = luaL_checkudata(L, 1, MON_MT);
    if (!m->open)
        return 0;
    m->open = 0;
    if (m->depth) {
        m->close_pending = 1;
        if (m->d)
            m->d->halted = m->d->stepping;   /* no more samples in this step */
        return 0;
    }
    real_close(L, m, 1);
    return 0;
}

/* 1 when the monitor was closed meanwhile (and is closed now). */
static int leave(lua_State *L, struct lmon *m, int mon)
{
    if (--m->depth == 0 && m->close_pending) {
        m->close_pending = 0;
        real_close(L, m, mon);
        return 1;
    }
    return !m->open;
}

/* ---- snapshots as Lua tables ------------------------------------------- */

static void push_intervals(lua_State *L, const struct vmlab_damon_intervals *iv)
{
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, (double)iv->sample_us / 1e6); lua_setfield(L, -2, "sample");
    lua_pushnumber(L, (double)iv->aggr_us / 1e6); lua_setfield(L, -2, "aggr");
    lua_pushnumber(L, (double)iv->update_us / 1e6); lua_setfield(L, -2, "update");
}

static void push_snapshot(lua_State *L, const struct vmlab_damon_snapshot *s)
{
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, (double)s->time_us / 1e6); lua_setfield(L, -2, "time");
    lua_pushinteger(L, (lua_Integer)s->time_us); lua_setfield(L, -2, "time_us");
    push_intervals(L, &s->intervals);
    lua_setfield(L, -2, "intervals");
    lua_createtable(L, (int)s->nr_targets, 0);
    for (size_t t = 0; t < s->nr_targets; t++) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, (lua_Integer)t + 1); lua_setfield(L, -2, "id");
        vmlab_pushregions(L, s->targets[t].v, s->targets[t].n);
        lua_setfield(L, -2, "regions");
        lua_rawseti(L, -2, (lua_Integer)t + 1);
    }
    lua_setfield(L, -2, "targets");
    if (s->mode) {
        lua_pushstring(L, s->mode); lua_setfield(L, -2, "mode");
    }
}

/* Say once that the budget stretched the intervals: through vmlab.tap's
 * diag when a test loaded it (TAP stays clean), else on stderr. */
static void show_note(lua_State *L, struct lmon *m)
{
    char note[256];
    int top = lua_gettop(L);
    if (!m->d || !vmlab_damon_take_note(m->d, note, sizeof note))
        return;
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "vmlab.tap") == LUA_TTABLE && lua_getfield(L, -1, "diag") == LUA_TFUNCTION) {
        lua_pushstring(L, note);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK)
            lua_pop(L, 1);
        lua_pop(L, 2);
        return;
    }
    lua_settop(L, top);   /* vmlab.tap not loaded: 2 values pushed, else 3 */
    fprintf(stderr, "vmlab: %s\n", note);
}

/* Raise what a scheme's action left for this thread (on_error = "raise"). */
static void raise_hook_error(lua_State *L, struct lmon *m)
{
    char msg[256];
    if (m->d && vmlab_damon_take_hook_error(m->d, msg, sizeof msg))
        luaL_error(L, "%s", msg);
}

/* Hand queued snapshots to the on_aggregate callbacks (on this thread),
 * up to one when one_only; pushes the last one taken when push is set.
 * Returns how many were taken.  A raising callback raises from here,
 * after the monitor is whole again. */
static int drain(lua_State *L, struct lmon *m, int mon, double timeout, int one_only)
{
    struct vmlab_damon_snapshot s;
    int n = 0, failed = 0, top = lua_gettop(L);

    if (m->depth || !m->q)
        return 0;                       /* a callback's own drain: the outer one goes on */
    m->depth++;                         /* callbacks run from here */
    lua_pushnil(L);                                            /* .. last */
    while (!failed && m->open && vmlab_damon_snapq_pop(m->q, &s, n ? 0 : timeout) == 1) {
        n++;
        push_snapshot(L, &s);                                  /* .. last snap */
        vmlab_damon_snapshot_free(&s);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, mon, UV_LATEST);
        m->latest_fresh = 0;
        lua_getiuservalue(L, mon, UV_CALLBACKS);               /* .. last snap cbs */
        for (lua_Integer i = 1; m->open && i <= (lua_Integer)lua_rawlen(L, -1); i++) {
            lua_rawgeti(L, -1, i);                             /* .. last snap cbs fn */
            lua_pushvalue(L, -3);
            lua_pushvalue(L, mon);
            if (lua_pcall(L, 2, 0, 0) != LUA_OK) {             /* .. last snap cbs err */
                lua_replace(L, top + 1);
                failed = 1;
                break;
            }
        }
        lua_pop(L, 1);                                         /* .. last snap */
        if (failed) {
            lua_pop(L, 1);
            break;
        }
        lua_replace(L, top + 1);                               /* .. snap */
        if (one_only)
            break;
    }
    leave(L, m, mon);
    if (failed)
        lua_error(L);                   /* the callback's error, as it raised it */
    if (m->open) {
        show_note(L, m);
        raise_hook_error(L, m);
    }
    if (!n)
        lua_settop(L, top);
    return n;
}

/* ---- the replay oracle: a Lua function -------------------------------------- */

static int lua_oracle(void *ctx, uint64_t addr, uint64_t time_us)
{
    struct lmon *m = ctx;
    lua_State *L = m->L;
    int accessed;

    if (!L || !m->open)
        return -1;
    lua_pushvalue(L, m->oracle_slot);
    lua_pushinteger(L, (lua_Integer)addr);
    lua_pushinteger(L, (lua_Integer)time_us);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {                     /* .. err */
        lua_replace(L, m->oracle_slot + 1);                    /* keep the message */
        return -1;
    }
    accessed = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return accessed;
}

static void keep_latest(struct vmlab_damon *d, uint64_t time_us, void *ctx)
{
    struct lmon *m = ctx;
    if (vmlab_damon_snapshot_copy(d, time_us, &m->latest) == 0)
        m->latest_fresh = 1;
}

/* Run the monitor for nr samples (or until its next aggregation) on this
 * thread: the oracle and scheme actions run here, on L.  Returns the
 * aggregations done; raises for misuse and for a failed oracle. */
static lua_Integer run_step(lua_State *L, struct lmon *m, int mon, uint64_t nr, int until_aggr,
                            int queue, const char *what)
{
    struct vmlab_damon *d = m->d;
    struct vmlab_progress pr;
    char label[64];
    int top = lua_gettop(L), oracle_failed = 0;
    lua_Integer total = 0;
    long r = 0;

    notbusy(L, m, what);
    if (!(d->ops->caps & VMLAB_DAMON_CAP_STEP))
        luaL_error(L, "the kernel samples on its own: use m:start() and m:snapshots()");
    if (d->started)
        luaL_error(L, "m:step() drives a stopped monitor; this one runs on its thread");
    lua_getiuservalue(L, mon, UV_ORACLE);                      /* .. oracle */
    lua_pushnil(L);                                            /* .. oracle err */
    if (!queue) {
        d->on_aggr = keep_latest;
        d->on_aggr_ctx = m;
    }
    m->L = L;
    m->oracle_slot = top + 1;
    d->caller = L;
    m->depth++;                         /* callbacks run from here */
    /* a run of known length draws a progress line on a terminal (nothing
     * raises inside the loop: the oracle and hooks run under pcall) */
    snprintf(label, sizeof label, "%s samples", what);
    vmlab_progress_begin(&pr, label, until_aggr ? 0 : nr, VMLAB_PROGRESS_COUNT, 0);
    for (uint64_t done = 0; done < nr;) {
        uint64_t step = pr.on ? 128 : 1024, chunk = nr - done < step ? nr - done : step;
        r = vmlab_damon_step(d, chunk, until_aggr);
        if (r < 0)
            break;
        total += r;
        done += chunk;
        vmlab_progress_update(&pr, done);
        if ((until_aggr && r > 0) || vmlab_interrupted() || m->close_pending)
            break;
    }
    vmlab_progress_end(&pr);
    oracle_failed = r == -ECANCELED && !m->close_pending;
    d->caller = NULL;
    m->L = NULL;
    d->on_aggr = vmlab_damon_snapq_push;
    d->on_aggr_ctx = m->q;
    if (leave(L, m, mon))
        return total;
    if (oracle_failed)
        luaL_error(L, "the oracle failed: %s", luaL_tolstring(L, top + 2, NULL));
    lua_settop(L, top);
    vmlab_checkinterrupt(L);
    show_note(L, m);
    raise_hook_error(L, m);
    return total;
}

/* ---- construction ------------------------------------------------------------ */

/* An interval option in microseconds: at most a day. */
static uint64_t us_opt(lua_State *L, int opts, const char *k, uint64_t def)
{
    double s = vmlab_optfield_time(L, opts, k, (double)def / 1e6);
    if (!(s <= 86400))
        luaL_error(L, "damon.monitor: bad option '%s' (at most a day)", k);
    return (uint64_t)(s * 1e6 + 0.5);
}

/* A count option, range-checked before it is narrowed. */
static unsigned count_opt(lua_State *L, int opts, const char *k, unsigned def)
{
    lua_Integer v = vmlab_optfield_int(L, opts, k, def);
    if (v < 0 || (uint64_t)v > UINT32_MAX)
        luaL_error(L, "damon.monitor: bad option '%s' (%I is out of range: 0 to %I)", k, v,
                   (lua_Integer)UINT32_MAX);
    return (unsigned)v;
}

static const char *const monitor_opts[] = {
    "targets", "backend", "sample", "aggr", "update", "min_regions", "max_regions", "record",
    "format", "seed", "budget", "oracle", "mode", NULL};

/* damon.monitor(opts) -> monitor, or nil, message, errno */
static int l_monitor(lua_State *L)
{
    static const char *const backends[] = {"prot", "replay", "kernel", "uffd", NULL};
    struct vmlab_damon_opts o;
    struct lmon *m;
    char why[512];
    int e;

    luaL_checktype(L, 1, LUA_TTABLE);
    vmlab_checkopts(L, 1, "damon.monitor", monitor_opts);
    lua_settop(L, 1);
    memset(&o, 0, sizeof o);
    /* default: replay when an oracle is given, else prot */
    lua_getfield(L, 1, "oracle");
    lua_getfield(L, 1, "backend");
    o.backend = lua_isnil(L, -1) ? (lua_isnil(L, -2) ? VMLAB_DAMON_PROT : VMLAB_DAMON_REPLAY)
                                 : luaL_checkoption(L, -1, NULL, backends);
    lua_settop(L, 1);
    vmlab_damon_default_attrs(&o.attrs);
    o.attrs.sample_us = us_opt(L, 1, "sample", o.attrs.sample_us);
    o.attrs.aggr_us = us_opt(L, 1, "aggr", o.attrs.aggr_us);
    o.attrs.update_us = us_opt(L, 1, "update", o.attrs.update_us);
    o.attrs.min_nr_regions = count_opt(L, 1, "min_regions", o.attrs.min_nr_regions);
    o.attrs.max_nr_regions = count_opt(L, 1, "max_regions", o.attrs.max_nr_regions);
    if ((lua_getfield(L, 1, "seed"), !lua_isnil(L, -1)) && !lua_isinteger(L, -1))
        luaL_error(L, "damon.monitor: bad option 'seed' (an integer expected)");
    o.seed = lua_isnil(L, -1) ? 42 : (uint64_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    o.budget = vmlab_optfield_number(L, 1, "budget", o.backend == VMLAB_DAMON_UFFD ? VMLAB_UFFD_BUDGET : 0.05,
                                     0, 1);   /* a fraction of one CPU */
    if (lua_getfield(L, 1, "record") != LUA_TNIL && lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "damon.monitor: bad option 'record' (a file path string expected, got %s)",
                          luaL_typename(L, -1));
    o.record = lua_tostring(L, -1);                             /* opts record */
    lua_getfield(L, 1, "format");
    if (!lua_isnil(L, -1)) {
        const char *f = lua_tostring(L, -1);
        if (!f || (o.record_format = vmlab_rec_format(f)) < 0)
            return luaL_error(L, "damon.monitor: bad option 'format' (json_compressed, json or record)");
    }
    lua_pop(L, 1);
    if (o.backend == VMLAB_DAMON_UFFD && (e = vmlab_uffd_lua_target(L, 1, &o)) > 0)
        return e;   /* a child's agent did not start: nil, message, errno */
    else if (o.backend != VMLAB_DAMON_UFFD)
        o.nr_targets = vmlab_damon_lua_targets(L, 1, (struct vmlab_range **)&o.ranges, (int **)&o.prot);
    if (o.backend == VMLAB_DAMON_REPLAY) {
        lua_getfield(L, 1, "oracle");
        if (lua_istable(L, -1))
            o.pattern = vmlab_damon_lua_pattern(L, lua_gettop(L), &o.nr_pattern);
        else if (!lua_isfunction(L, -1) && !lua_isnil(L, -1))
            return luaL_error(L, "damon.monitor: bad option 'oracle' (a function or a pattern table)");
    }
    m = lua_newuserdatauv(L, sizeof *m, NUV);                   /* .. m */
    memset(m, 0, sizeof *m);
    luaL_setmetatable(L, MON_MT);
    if (o.backend == VMLAB_DAMON_REPLAY && !o.pattern) {
        lua_getfield(L, 1, "oracle");
        if (lua_isfunction(L, -1)) {
            o.oracle = lua_oracle;
            o.oracle_ctx = m;
        }
        lua_setiuservalue(L, -2, UV_ORACLE);
    }
    m->d = vmlab_damon_new(&o, &e, why, sizeof why);
    if (!m->d) {
        /* bad options, and prot targets that are not the user's memory
         * (-EFAULT unmapped, -EPERM the runtime's own): misuse, raised */
        if (e == -EINVAL || (o.backend == VMLAB_DAMON_PROT && (e == -EFAULT || e == -EPERM)))
            return luaL_error(L, "damon.monitor: %s", why);
        return fail(L, -e, "damon.monitor%s: %s", o.backend == VMLAB_DAMON_KERNEL && !o.record
                    ? "(kernel backend)" : "", why);
    }
    m->open = 1;
    m->q = vmlab_damon_snapq_new(VMLAB_DAMON_SNAPQ_DEPTH);
    if (!m->q) {
        real_close(L, m, lua_gettop(L));
        m->open = 0;
        return vmlab_pushfail(L, ENOMEM, "damon.monitor");
    }
    m->d->on_aggr = vmlab_damon_snapq_push;
    m->d->on_aggr_ctx = m->q;
    lua_getfield(L, 1, "targets");
    lua_setiuservalue(L, -2, UV_TARGETS);
    lua_newtable(L);
    lua_setiuservalue(L, -2, UV_CALLBACKS);
    lua_newtable(L);
    lua_setiuservalue(L, -2, UV_SCHEMES);
    lua_createtable(L, 0, 1);
    lua_getfield(L, 1, "record");
    lua_setfield(L, -2, "record");
    lua_setiuservalue(L, -2, UV_OPTS);
    return 1;
}

/* ---- methods ---------------------------------------------------------------- */

/* Idle work while Lua snoozes: hand queued snapshots to the callbacks. */
static int idle_drain(lua_State *L)
{
    struct lmon *m = luaL_checkudata(L, 1, MON_MT);
    if (m->open)
        drain(L, m, 1, 0, 0);
    lua_settop(L, 0);
    return 0;
}

static int mon_start(lua_State *L)
{
    struct lmon *m = checkmon(L, 1);
    char why[512];
    int e;

    notbusy(L, m, "m:start");
    if (!(m->d->ops->caps & (VMLAB_DAMON_CAP_THREAD | VMLAB_DAMON_CAP_EXTERNAL)))
        return luaL_error(L, "a %s monitor runs in virtual time: drive it with m:step(n)", m->d->ops->name);
    if (m->d->started)
        return luaL_error(L, "the monitor is running already");
    if ((e = vmlab_damon_start(m->d, why, sizeof why)) < 0)
        return fail(L, -e, "damon start: %s%s", why[0] ? why : strerror(-e), "");
    if (m->d->ops->caps & VMLAB_DAMON_CAP_HOOKS) {
        lua_pushcfunction(L, idle_drain);
        vmlab_set_idle(L, 1, -1);
        lua_pop(L, 1);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* m:stop(): stops sampling, delivers what is queued and finishes the
 * record (the file is complete when it returns). */
static int mon_stop(lua_State *L)
{
    struct lmon *m = checkmon(L, 1);
    char why[256];
    int e;

    notbusy(L, m, "m:stop");
    vmlab_damon_stop(m->d);
    vmlab_set_idle(L, 1, 0);
    /* the record first: a raising callback below must not leave it open */
    e = vmlab_damon_record_finish(m->d, why, sizeof why);
    drain(L, m, 1, 0, 0);
    lua_settop(L, 1);
    if (e < 0) {
        lua_getiuservalue(L, 1, UV_OPTS);
        lua_getfield(L, -1, "record");
        return fail(L, -e, "damon stop: record '%s': %s", lua_tostring(L, -1), why);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* m:step([n]) runs n sample intervals now; returns the aggregations done. */
static int mon_step(lua_State *L)
{
    struct lmon *m = checkmon(L, 1);
    lua_Integer n = luaL_optinteger(L, 2, 1), done;
    int queue;
    if (n < 0)
        return luaL_argerror(L, 2, "must be >= 0");
    lua_settop(L, 1);
    lua_getiuservalue(L, 1, UV_CALLBACKS);                    /* m cbs */
    queue = lua_rawlen(L, 2) > 0;                             /* callbacks want every one */
    done = run_step(L, m, 1, (uint64_t)n, 0, queue, "m:step");
    if (m->open)
        drain(L, m, 1, 0, 0);
    lua_settop(L, 1);
    lua_pushinteger(L, done);
    return 1;
}

/* The regions now, as a snapshot (pushed), or nil, msg. */
static int read_now(lua_State *L, struct lmon *m, const char *what)
{
    struct vmlab_damon_snapshot s;
    int e;

    if ((m->d->ops->caps & VMLAB_DAMON_CAP_EXTERNAL) && !m->d->started)
        return luaL_error(L, "start the kernel monitor before asking for snapshots");
    if ((e = vmlab_damon_read(m->d, &s)) < 0) {
        vmlab_damon_snapshot_free(&s);
        return vmlab_pushfail(L, -e, "%s", what);
    }
    push_snapshot(L, &s);
    vmlab_damon_snapshot_free(&s);
    return 1;
}

/* m:snapshot() -> the latest aggregation's snapshot (or the regions now). */
static int mon_snapshot(lua_State *L)
{
    struct lmon *m = checkmon(L, 1);

    lua_settop(L, 1);
    if (m->d->ops->caps & VMLAB_DAMON_CAP_EXTERNAL)
        return read_now(L, m, "damon snapshot (kernel tried regions)");
    drain(L, m, 1, 0, 0);
    lua_settop(L, 1);
    if (!m->open)
        return luaL_error(L, "attempt to use a closed monitor");
    if (m->latest_fresh) {
        push_snapshot(L, &m->latest);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, UV_LATEST);
        m->latest_fresh = 0;
        return 1;
    }
    if (lua_getiuservalue(L, 1, UV_LATEST) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    return read_now(L, m, "damon snapshot");
}

static int snapshots_iter(lua_State *L)
{
    struct lmon *m = luaL_checkudata(L, lua_upvalueindex(1), MON_MT);
    lua_Integer left = lua_tointeger(L, lua_upvalueindex(2));
    double timeout = lua_tonumber(L, lua_upvalueindex(3));
    struct vmlab_progress *pr;

    if (left == 0 || !m->open)
        return 0;
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));                     /* mon */
    if (m->d->ops->caps & VMLAB_DAMON_CAP_EXTERNAL) {
        /* the kernel aggregates on its own: on_aggregate's due first,
         * then its next aggregation (read_now waits for it) */
        drain(L, m, 1, 0, 0);
        lua_settop(L, 1);
        if (!m->open)
            return 0;
        vmlab_checkinterrupt(L);
        if (read_now(L, m, "damon snapshot (kernel tried regions)") != 1)
            return 0;
    } else {
        if (!(m->d->ops->caps & VMLAB_DAMON_CAP_THREAD)) {
            /* virtual time: step until the next aggregation */
            run_step(L, m, 1, UINT64_MAX, 1, 1, "m:snapshots");
            if (!m->open)
                return 0;
        }
        if (!drain(L, m, 1, timeout, 1))
            return 0;
    }
    lua_pushinteger(L, left - 1);
    lua_replace(L, lua_upvalueindex(2));
    pr = vmlab_checkprogress(L, lua_upvalueindex(4));
    vmlab_progress_update(pr, pr->total - (uint64_t)(left - 1));
    if (left == 1)
        vmlab_progress_end(pr);
    return 1;
}

/* for snap in m:snapshots{count=, timeout=} do ... end; a count draws a
 * progress line on a terminal, ended by the for's closing value. */
static int mon_snapshots(lua_State *L)
{
    static const char *const keys[] = {"count", "timeout", NULL};
    lua_Integer count;

    checkmon(L, 1);
    vmlab_checkopts(L, 2, "m:snapshots", keys);
    count = vmlab_optfield_int(L, 2, "count", -1);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, count);
    lua_pushnumber(L, vmlab_optfield_time(L, 2, "timeout", 10));
    vmlab_pushprogress(L, "m:snapshots", count > 0 ? (uint64_t)count : 0, VMLAB_PROGRESS_COUNT, 0);
    lua_pushvalue(L, -1);                                      /* m mon n t p p */
    lua_insert(L, -5);                                         /* m p mon n t p */
    lua_pushcclosure(L, snapshots_iter, 4);                    /* m p iter */
    lua_insert(L, -2);                                         /* m iter p */
    lua_pushnil(L);
    lua_pushnil(L);
    lua_rotate(L, -3, 2);                                      /* m iter nil nil p */
    return 4;
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

/* m:scheme(spec) -> a DAMOS scheme on this monitor.  vmlab.damos
 * publishes its attach function in the registry (VMLAB_DAMOS_ATTACH_KEY);
 * it gets the engine (a light userdata), the monitor to keep alive, and
 * the spec, and hooks the scheme in through the engine's hook API. */
static int mon_scheme(lua_State *L)
{
    struct lmon *m = checkmon(L, 1);
    int n;

    luaL_checkany(L, 2);
    lua_settop(L, 2);
    if (lua_getfield(L, LUA_REGISTRYINDEX, VMLAB_DAMOS_ATTACH_KEY) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        lua_getglobal(L, "require");
        lua_pushliteral(L, "vmlab.damos");
        if (lua_pcall(L, 1, 0, 0) != LUA_OK)
            lua_pop(L, 1);
        if (lua_getfield(L, LUA_REGISTRYINDEX, VMLAB_DAMOS_ATTACH_KEY) != LUA_TFUNCTION)
            return luaL_error(L, "m:scheme(): DAMOS schemes need vmlab.damos, which this build lacks");
    }
    lua_pushlightuserdata(L, m->d);                            /* mon spec attach d */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 3, LUA_MULTRET);                               /* mon spec res... */
    n = lua_gettop(L) - 2;
    lua_getiuservalue(L, 1, UV_SCHEMES);                       /* mon spec res... list */
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, "spec");
    if (n > 0) {
        lua_pushvalue(L, 3);
        lua_setfield(L, -2, "scheme");
    }
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
    return n;
}

static int mon_stats(lua_State *L)
{
    struct lmon *m = checkmon(L, 1);
    struct vmlab_damon *d = m->d;
    struct vmlab_damon_stats s;
    struct vmlab_damon_intervals last, overall, asked = {d->attrs.sample_us, d->attrs.aggr_us,
                                                         d->attrs.update_us};
    unsigned nr;
    long rec;

    vmlab_damon_lock(d);
    s = d->stats;
    nr = vmlab_damon_nr_regions(d);
    last = d->last;
    overall = d->overall;
    rec = vmlab_damon_record_count(d);
    vmlab_damon_unlock(d);
    lua_createtable(L, 0, 16);
    lua_pushinteger(L, (lua_Integer)s.samples); lua_setfield(L, -2, "samples");
    lua_pushinteger(L, (lua_Integer)s.aggregations); lua_setfield(L, -2, "aggregations");
    lua_pushinteger(L, (lua_Integer)s.updates); lua_setfield(L, -2, "updates");
    lua_pushinteger(L, (lua_Integer)s.faults); lua_setfield(L, -2, "faults");
    lua_pushnumber(L, s.cpu_seconds); lua_setfield(L, -2, "cpu_seconds");
    lua_pushinteger(L, nr); lua_setfield(L, -2, "nr_regions");
    /* sample: the interval the sampler runs at now (the budget stretches it) */
    lua_pushnumber(L, (double)(s.effective_sample_us ? s.effective_sample_us : asked.sample_us) / 1e6); lua_setfield(L, -2, "sample");
    lua_pushnumber(L, (double)asked.aggr_us / 1e6); lua_setfield(L, -2, "aggr");
    lua_pushnumber(L, (double)asked.update_us / 1e6); lua_setfield(L, -2, "update");
    /* the intervals as they ran: the last aggregation's and the run's */
    push_intervals(L, &last);
    lua_setfield(L, -2, "intervals");
    push_intervals(L, &overall);
    lua_setfield(L, -2, "overall");
    push_intervals(L, &asked);
    lua_setfield(L, -2, "requested");
    lua_pushinteger(L, (lua_Integer)vmlab_damon_snapq_dropped(m->q)); lua_setfield(L, -2, "dropped");
    if (rec >= 0) {
        lua_pushinteger(L, rec); lua_setfield(L, -2, "recorded");
    }
    lua_pushstring(L, d->ops->name); lua_setfield(L, -2, "backend");
    vmlab_uffd_lua_stats(L, d);   /* uffd: mode, pages, the agent, the command */
    return 1;
}

static int mon_tostring(lua_State *L)
{
    struct lmon *m = luaL_checkudata(L, 1, MON_MT);
    if (!m->open || !m->d)
        lua_pushliteral(L, "damon monitor (closed)");
    else
        lua_pushfstring(L, "damon monitor (%s, %d target(s), %d regions, %s)", m->d->ops->name,
                        (int)m->d->nr_targets, (int)vmlab_damon_nr_regions(m->d),
                        m->d->started ? "running" : "stopped");
    return 1;
}

static const luaL_Reg methods[] = {
    {"start", mon_start},       {"stop", mon_stop},           {"step", mon_step},
    {"snapshot", mon_snapshot}, {"snapshots", mon_snapshots}, {"on_aggregate", mon_on_aggregate},
    {"scheme", mon_scheme},     {"stats", mon_stats},         {"close", mon_close},
    {NULL, NULL}};
static const luaL_Reg meta[] = {
    {"__tostring", mon_tostring}, {"__close", mon_close}, {"__gc", mon_close}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
    {"monitor", l_monitor}, {"kernel_available", vmlab_damon_lua_kernel_available},
    {"kernel_status", vmlab_damon_lua_kernel_status}, {NULL, NULL}};

int luaopen_vmlab_damon(lua_State *L)
{
    vmlab_newclass(L, MON_MT, methods, meta);
    luaL_newlib(L, funcs);
    return 1;
}
