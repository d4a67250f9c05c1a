/* vmlab.damos: DAMOS schemes on a vmlab.damon monitor, and the seed's
 * rule text.  attach(monitor, spec) registers an aggregation hook; the
 * scheme object (liolib style) detaches it on close. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "vmlab/damos.h"
#include "vmlab/host.h"

#define SCHEME_MT "vmlab.damos.scheme"

enum { ON_ERROR_RAISE, ON_ERROR_IGNORE, ON_ERROR_CALL };

struct lscheme {
    struct vmlab_damos s;   /* first: the engine's release hook gets it */
    struct vmlab_damon *d;  /* NULL once the monitor is gone */
    int open;
    int in_action;          /* a Lua action runs: close keeps the memory */
    int on_error;
    char last_error[256];   /* the last action error, as Lua said it */
};

/* The registry holds each scripted scheme's functions: [ls] = {action, on_error}. */
static void push_funcs(lua_State *L, struct lscheme *ls)
{
    lua_pushlightuserdata(L, ls);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

/* An action failed with msg: kept for stats().last_error, and made visible
 * as on_error says: raised on the Lua thread at the monitor's next step or
 * wait (the default), ignored, or handed to a function. */
static void action_error(lua_State *L, struct lscheme *ls, const char *msg)
{
    char full[300];

    snprintf(ls->last_error, sizeof ls->last_error, "%s", msg);
    snprintf(full, sizeof full, "damos scheme (%s action): %s",
             ls->s.fn ? "Lua" : vmlab_damos_action_names[ls->s.action], msg);
    if (ls->on_error == ON_ERROR_IGNORE || !ls->d)
        return;
    if (ls->on_error == ON_ERROR_CALL && L) {
        int top = lua_gettop(L);
        push_funcs(L, ls);
        lua_getfield(L, -1, "on_error");                     /* funcs fn */
        lua_pushstring(L, msg);
        if (lua_pcall(L, 1, 0, 0) == LUA_OK) {
            lua_settop(L, top);
            return;
        }
        snprintf(full, sizeof full, "damos scheme on_error: %s", lua_tostring(L, -1));
        lua_settop(L, top);
    }
    vmlab_damon_hook_error(ls->d, full);
}

/* A scripted action: function(region, target) -> true when it acted.
 * It runs on the Lua state that is stepping the monitor (d->caller); on
 * the sampling thread there is none, and the action fails with why. */
static int call_script(void *ctx, const struct vmlab_region *r, unsigned target)
{
    struct lscheme *ls = ctx;
    lua_State *L = ls->d ? ls->d->caller : NULL;
    int top, acted;

    if (!ls->open || !ls->d || ls->d->halted)
        return -EAGAIN;                 /* closed meanwhile: no more actions */
    if (!L) {
        action_error(NULL, ls, "a Lua action runs only while the monitor is stepped (m:step) on the "
                     "Lua thread, not on the sampling thread");
        return -EPERM;
    }
    if (!lua_checkstack(L, 6)) {
        action_error(L, ls, "Lua stack overflow");
        return -ENOMEM;
    }
    top = lua_gettop(L);
    push_funcs(L, ls);
    lua_getfield(L, -1, "action");                           /* funcs fn */
    vmlab_pushregion(L, r, 0);                               /* funcs fn region */
    lua_pushinteger(L, (lua_Integer)target + 1);             /* funcs fn region target */
    ls->in_action++;
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {                   /* funcs err */
        ls->in_action--;
        const char *msg = lua_tostring(L, -1);
        action_error(L, ls, msg ? msg : "(an error object that is not a string)");
        lua_settop(L, top);
        return -ECANCELED;
    }
    ls->in_action--;
    acted = lua_toboolean(L, -1);
    lua_settop(L, top);
    return acted ? 0 : -EAGAIN;
}

/* The monitor is freed with the scheme attached: forget it. */
static void release(void *ctx)
{
    ((struct lscheme *)ctx)->d = NULL;
}

/* ---- damos.parse ------------------------------------------------------------ */

static void push_bound_pair(lua_State *L, double lo, double hi)
{
    lua_createtable(L, 2, 0);
    lua_pushnumber(L, isinf(lo) ? HUGE_VAL : lo);
    if (lo == floor(lo) && lo < 9e15) {
        lua_pop(L, 1);
        lua_pushinteger(L, (lua_Integer)lo);
    }
    lua_rawseti(L, -2, 1);
    if (isinf(hi))
        lua_pushnumber(L, HUGE_VAL);
    else if (hi == floor(hi) && hi < 9e15)
        lua_pushinteger(L, (lua_Integer)hi);
    else
        lua_pushnumber(L, hi);
    lua_rawseti(L, -2, 2);
}

static void push_age(lua_State *L, const struct vmlab_damos_rule *r, int i)
{
    if (isinf(r->age[i]))
        lua_pushnumber(L, HUGE_VAL);
    else if (r->age_time[i])
        lua_pushfstring(L, "%dus", (int)llround(r->age[i] * 1e6));
    else
        lua_pushinteger(L, (lua_Integer)r->age[i]);
}

/* damos.parse(text) -> { spec... } | nil, "line N: why" */
static int l_parse(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    int lineno = 0, n = 0;
    lua_newtable(L);                                         /* specs */
    for (const char *p = text; p < text + len;) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        char line[512], err[160];
        struct vmlab_damos_rule r;
        lineno++;
        if (ll >= sizeof line) {
            lua_pushnil(L);
            lua_pushfstring(L, "line %d: too long", lineno);
            return 2;
        }
        memcpy(line, p, ll);
        line[ll] = 0;
        p += ll + 1;
        int rc = vmlab_damos_parse_line(line, &r, err, sizeof err);
        if (rc < 0) {
            lua_pushnil(L);
            lua_pushfstring(L, "line %d: %s", lineno, err);
            return 2;
        }
        if (rc == 0)
            continue;
        lua_createtable(L, 0, 5);                            /* specs spec */
        push_bound_pair(L, r.sz[0] == UINT64_MAX ? INFINITY : (double)r.sz[0],
                        r.sz[1] == UINT64_MAX ? INFINITY : (double)r.sz[1]);
        lua_setfield(L, -2, "size");
        push_bound_pair(L, r.freq[0], r.freq[1]);
        lua_setfield(L, -2, "freq");
        lua_createtable(L, 2, 0);                            /* specs spec age */
        push_age(L, &r, 0);
        lua_rawseti(L, -2, 1);
        push_age(L, &r, 1);
        lua_rawseti(L, -2, 2);
        lua_setfield(L, -2, "age");
        lua_pushstring(L, vmlab_damos_action_names[r.action]);
        lua_setfield(L, -2, "action");
        lua_pushstring(L, line);
        lua_setfield(L, -2, "text");
        lua_rawseti(L, -2, ++n);                             /* specs */
    }
    return 1;
}

/* ---- attach ------------------------------------------------------------------- */

static uint64_t size_or_open(lua_State *L, int idx, uint64_t open)
{
    if (lua_isnoneornil(L, idx))
        return open;
    if (lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx) && isinf(lua_tonumber(L, idx)))
        return lua_tonumber(L, idx) > 0 ? UINT64_MAX : 0;
    return vmlab_checksize(L, idx);
}

/* A {min, max} pair field at table idx: pushes both (nil when absent). */
static int get_pair(lua_State *L, int idx, const char *k)
{
    if (lua_getfield(L, idx, k) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    luaL_argexpected(L, lua_istable(L, -1), idx, "{min, max} tables");
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    lua_remove(L, -3);
    return 1;
}

static double num_or(lua_State *L, int idx, double def)
{
    return lua_isnoneornil(L, idx) ? def : luaL_checknumber(L, idx);
}

/* An age bound in microseconds: a number counts aggregations. */
static double age_us(lua_State *L, int idx, double def, uint64_t aggr_us)
{
    if (lua_isnoneornil(L, idx))
        return def;
    if (lua_type(L, idx) == LUA_TNUMBER)
        return lua_tonumber(L, idx) * (double)aggr_us;
    return vmlab_checktime(L, idx) * 1e6;
}

/* An integer option range-checked before it is narrowed. */
static lua_Integer int_in(lua_State *L, int idx, const char *k, lua_Integer def, lua_Integer lo,
                          lua_Integer hi)
{
    lua_Integer v = vmlab_optfield_int(L, idx, k, def);
    if (v < lo || v > hi)
        luaL_error(L, "m:scheme: bad option '%s' (%I is out of range: %I to %I)", k, v, lo, hi);
    return v;
}

/* A time option in microseconds, bounded so that it fits. */
static uint64_t us_in(lua_State *L, int idx, const char *k, double def)
{
    double v = vmlab_optfield_time(L, idx, k, def);
    if (!(v <= 1e9))
        luaL_error(L, "m:scheme: bad option '%s' (at most 1e9 s)", k);
    return (uint64_t)(v * 1e6);
}

static void read_spec(lua_State *L, int sp, struct vmlab_damos *s, const struct vmlab_damon *d)
{
    const char *act = vmlab_optfield_string(L, sp, "action", "stat");
    s->action = vmlab_damos_action_parse(act);
    if (s->action < 0)
        luaL_error(L, "damos: unknown action '%s'", act);
    s->node = (int)int_in(L, sp, "node", -1, -1, INT32_MAX);
    if ((s->action == VMLAB_DAMOS_MIGRATE_HOT || s->action == VMLAB_DAMOS_MIGRATE_COLD) && s->node < 0)
        luaL_error(L, "damos: %s needs a target node (node=)", act);
    if (get_pair(L, sp, "size")) {
        s->sz_min = size_or_open(L, -2, 0);
        s->sz_max = size_or_open(L, -1, UINT64_MAX);
        lua_pop(L, 2);
    }
    if (get_pair(L, sp, "nr_accesses")) {
        double lo = num_or(L, -2, 0), hi = num_or(L, -1, HUGE_VAL);
        if (!(lo >= 0 && lo <= UINT32_MAX) || !(hi >= 0))
            luaL_error(L, "m:scheme: bad option 'nr_accesses' ({min, max}: counts from 0)");
        s->nr_min = (uint32_t)lo;
        s->nr_max = hi >= UINT32_MAX ? UINT32_MAX : (uint32_t)hi;
        lua_pop(L, 2);
    }
    if (get_pair(L, sp, "freq")) {
        s->use_freq = 1;
        s->freq_min = num_or(L, -2, 0);
        s->freq_max = num_or(L, -1, 100);
        lua_pop(L, 2);
    }
    if (get_pair(L, sp, "age")) {
        if (lua_type(L, -2) == LUA_TSTRING || lua_type(L, -1) == LUA_TSTRING) {
            s->age_time = 1;
            s->age_min = age_us(L, -2, 0, d->attrs.aggr_us);
            s->age_max = age_us(L, -1, INFINITY, d->attrs.aggr_us);
        } else {
            s->age_min = num_or(L, -2, 0);
            s->age_max = num_or(L, -1, HUGE_VAL);
        }
        lua_pop(L, 2);
    }
    if (lua_getfield(L, sp, "quota") == LUA_TTABLE) {
        static const char *const quota_keys[] = {"sz", "ms", "reset_interval", "weights", NULL};
        int q = lua_gettop(L);
        vmlab_checkopts(L, q, "m:scheme (quota)", quota_keys);
        s->quota.sz = vmlab_optfield_size(L, q, "sz", 0);
        /* ms: a number of milliseconds, or a time string ("10ms", "1s") */
        lua_getfield(L, q, "ms");
        if (lua_type(L, -1) == LUA_TSTRING) {
            double t = vmlab_checktime(L, -1);
            if (!(t <= 1e9))
                luaL_error(L, "m:scheme: bad option 'quota.ms' (at most 1e9 s)");
            s->quota.ms = (uint64_t)llround(t * 1e3);
        } else if (!lua_isnil(L, -1)) {
            lua_Number ms = luaL_checknumber(L, -1);
            if (!(ms >= 0 && ms <= 1e12))
                luaL_error(L, "m:scheme: bad option 'quota.ms' (%s)",
                           ms < 0 ? "must not be negative" : "at most 1e12 ms");
            s->quota.ms = (uint64_t)llround(ms);
        }
        lua_pop(L, 1);
        s->quota.reset_us = us_in(L, q, "reset_interval", 1.0);
        if (lua_getfield(L, q, "weights") == LUA_TTABLE) {
            static const char *const weight_keys[] = {"sz", "nr_accesses", "age", NULL};
            int w = lua_gettop(L);
            vmlab_checkopts(L, w, "m:scheme (quota.weights)", weight_keys);
            s->quota.w_sz = (unsigned)int_in(L, w, "sz", 0, 0, UINT16_MAX);
            s->quota.w_nr = (unsigned)int_in(L, w, "nr_accesses", 1, 0, UINT16_MAX);
            s->quota.w_age = (unsigned)int_in(L, w, "age", 1, 0, UINT16_MAX);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, sp, "wmarks") == LUA_TNIL) {
        lua_pop(L, 1);
        lua_getfield(L, sp, "watermarks");
    }
    if (lua_istable(L, -1)) {
        static const char *const wmark_keys[] = {"metric", "interval", "high", "mid", "low", NULL};
        int w = lua_gettop(L);
        vmlab_checkopts(L, w, "m:scheme (wmarks)", wmark_keys);
        const char *metric = vmlab_optfield_string(L, w, "metric", "free_mem_rate");
        if (strcmp(metric, "free_mem_rate"))
            luaL_error(L, "damos: unknown watermark metric '%s' (free_mem_rate)", metric);
        s->wmark.interval_us = us_in(L, w, "interval", 1.0);
        if (!s->wmark.interval_us)
            s->wmark.interval_us = 1;
        s->wmark.high = (unsigned)int_in(L, w, "high", 1000, 0, 1000);
        s->wmark.mid = (unsigned)int_in(L, w, "mid", 1000, 0, 1000);
        s->wmark.low = (unsigned)int_in(L, w, "low", 0, 0, 1000);
        if (!(s->wmark.high >= s->wmark.mid && s->wmark.mid >= s->wmark.low))
            luaL_error(L, "damos: watermarks need high >= mid >= low");
    }
    lua_pop(L, 1);
    if (lua_getfield(L, sp, "filters") == LUA_TTABLE) {
        int fl = lua_gettop(L);
        for (lua_Integer i = 1; lua_rawgeti(L, fl, i) == LUA_TTABLE; i++) {
            static const char *const filter_keys[] = {"type", "target", "start", "end", "matching",
                                                      "allow", NULL};
            int f = lua_gettop(L);
            vmlab_checkopts(L, f, "m:scheme (filter)", filter_keys);
            static const char *const types[] = {"addr", "target", "anon", "file", NULL};
            const char *type = vmlab_optfield_string(L, f, "type", "addr");
            int ti = 0;
            while (types[ti] && strcmp(types[ti], type))
                ti++;
            if (!types[ti])
                luaL_error(L, "damos: filter %d: type '%s' is not supported (addr, target, anon, file)",
                           (int)i, type);
            if (s->nr_filters == VMLAB_DAMOS_MAX_FILTERS)
                luaL_error(L, "damos: at most %d filters", VMLAB_DAMOS_MAX_FILTERS);
            struct vmlab_damos_filter *fp = &s->filters[s->nr_filters++];
            fp->type = ti;
            fp->target = (unsigned)(int_in(L, f, "target", 1, 1, UINT32_MAX) - 1);
            fp->start = vmlab_optfield_size(L, f, "start", 0);
            fp->end = vmlab_optfield_size(L, f, "end", UINT64_MAX);
            fp->matching = vmlab_optfield_bool(L, f, "matching", 1);
            fp->allow = vmlab_optfield_bool(L, f, "allow", 0);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    s->apply_us = us_in(L, sp, "apply_interval", 0);
}

static const char *const spec_keys[] = {
    "size", "nr_accesses", "freq", "age", "action", "node", "apply", "quota", "wmarks", "watermarks",
    "filters", "apply_interval", "on_error", "text", NULL};

/* The registered attach (VMLAB_DAMOS_ATTACH_KEY): (engine, monitor, spec)
 * -> scheme.  vmlab.damon's m:scheme calls it; the monitor is kept alive
 * by the scheme, and the engine tells the scheme when it goes. */
static int attach_engine(lua_State *L)
{
    struct vmlab_damon *d = lua_touserdata(L, 1);
    int scripted, apply, rc;
    struct lscheme *ls;
    char why[160];

    luaL_checktype(L, 1, LUA_TLIGHTUSERDATA);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    vmlab_checkopts(L, 3, "m:scheme", spec_keys);
    scripted = lua_getfield(L, 3, "action") == LUA_TFUNCTION;  /* d mon spec action */
    ls = lua_newuserdatauv(L, sizeof *ls, 1);                   /* d mon spec action scheme */
    memset(ls, 0, sizeof *ls);
    luaL_setmetatable(L, SCHEME_MT);
    vmlab_damos_init(&ls->s);
    lua_getfield(L, 3, "on_error");                             /* .. scheme on_error */
    if (lua_isfunction(L, -1))
        ls->on_error = ON_ERROR_CALL;
    else if (!lua_isnil(L, -1)) {
        static const char *const modes[] = {"raise", "ignore", NULL};
        ls->on_error = luaL_checkoption(L, -1, NULL, modes);
    }
    if (scripted) {
        lua_newtable(L);                                        /* .. scheme on_error spec' */
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
        lua_pushliteral(L, "stat");
        lua_setfield(L, -2, "action");
        read_spec(L, lua_gettop(L), &ls->s, d);
        lua_pop(L, 1);                                          /* .. scheme on_error */
        ls->s.fn = call_script;
        ls->s.fn_ctx = ls;
    } else {
        read_spec(L, 3, &ls->s, d);
    }
    apply = -1;                                                 /* the backend decides */
    if (lua_getfield(L, 3, "apply") != LUA_TNIL)
        apply = vmlab_optfield_bool(L, 3, "apply", 0);
    lua_pop(L, 1);
    lua_createtable(L, 0, 2);                                   /* .. scheme on_error funcs */
    lua_pushvalue(L, 4);
    lua_setfield(L, -2, "action");
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "on_error");
    lua_pushlightuserdata(L, ls);
    lua_insert(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);                           /* .. scheme on_error */
    lua_pop(L, 1);                                              /* .. scheme */
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, 1);  /* the monitor lives as long as the scheme */
    ls->open = 1;                 /* from here __gc detaches and forgets */
    ls->d = d;                    /* before the hook can run (a sampling thread) */
    if ((rc = vmlab_damos_attach(&ls->s, d, apply, release, why, sizeof why)) < 0) {
        ls->open = 0;
        ls->d = NULL;
        lua_pushlightuserdata(L, ls);
        lua_pushnil(L);
        lua_rawset(L, LUA_REGISTRYINDEX);                       /* its functions go */
        if (rc == -ENOSPC || rc == -ENOMEM)
            return vmlab_pushfail(L, -rc, "m:scheme(%s): %s", vmlab_damos_action_names[ls->s.action], why);
        return luaL_error(L, "m:scheme: %s", why);
    }
    return 1;
}

/* damos.attach(monitor, spec): the same as monitor:scheme(spec) (through
 * the monitor's own method: this module never looks inside a monitor). */
static int l_attach(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 2);
    if (luaL_getmetafield(L, 1, "__index") == LUA_TNIL)
        return luaL_argerror(L, 1, "a vmlab.damon monitor expected");
    lua_getfield(L, -1, "scheme");
    if (!lua_isfunction(L, -1))
        return luaL_argerror(L, 1, "a vmlab.damon monitor expected");
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, LUA_MULTRET);
    return lua_gettop(L) - 3;
}

/* ---- scheme methods ---------------------------------------------------------- */

static struct lscheme *checkscheme(lua_State *L)
{
    struct lscheme *ls = luaL_checkudata(L, 1, SCHEME_MT);
    if (!ls->open)
        luaL_error(L, "attempt to use a closed scheme");
    if (!ls->d)
        luaL_error(L, "attempt to use a scheme whose monitor is closed");
    return ls;
}

/* Closing from inside its own action: detached at once (the engine skips
 * it from then on), its memory kept until the action returns. */
static int sc_close(lua_State *L)
{
    struct lscheme *ls = luaL_checkudata(L, 1, SCHEME_MT);
    if (ls->open) {
        ls->open = 0;
        if (ls->d)
            vmlab_damos_detach(&ls->s, ls->d);
        lua_pushlightuserdata(L, ls);
        lua_pushnil(L);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    if (!ls->in_action)
        vmlab_damos_free(&ls->s);
    return 0;
}

static int sc_stats(lua_State *L)
{
    struct lscheme *ls = checkscheme(L);
    vmlab_damon_lock(ls->d);
    struct vmlab_damos_stats st = ls->s.stats;
    int active = ls->s.wmark.active;
    long metric = ls->s.wmark.last_metric;
    int err = ls->s.last_err;
    char msg[sizeof ls->last_error];
    memcpy(msg, ls->last_error, sizeof msg);
    uint64_t passes = ls->s.passes;
    uint64_t esz = ls->s.quota.esz, charged = ls->s.quota.charged_sz;
    vmlab_damon_unlock(ls->d);
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, (lua_Integer)st.nr_tried);
    lua_setfield(L, -2, "nr_tried");
    lua_pushinteger(L, (lua_Integer)st.sz_tried);
    lua_setfield(L, -2, "sz_tried");
    lua_pushinteger(L, (lua_Integer)st.nr_applied);
    lua_setfield(L, -2, "nr_applied");
    lua_pushinteger(L, (lua_Integer)st.sz_applied);
    lua_setfield(L, -2, "sz_applied");
    lua_pushinteger(L, (lua_Integer)st.qt_exceeds);
    lua_setfield(L, -2, "qt_exceeds");
    lua_pushinteger(L, (lua_Integer)passes);
    lua_setfield(L, -2, "passes");
    if (esz) {  /* a quota: this window's effective size and what it charged */
        lua_pushinteger(L, (lua_Integer)esz);
        lua_setfield(L, -2, "quota_esz");
        lua_pushinteger(L, (lua_Integer)charged);
        lua_setfield(L, -2, "quota_charged");
    }
    lua_pushboolean(L, active);
    lua_setfield(L, -2, "active");
    if (metric >= 0) {
        lua_pushinteger(L, metric);
        lua_setfield(L, -2, "wmark_metric");
    }
    if (msg[0] || err) {
        lua_pushstring(L, msg[0] ? msg : strerror(err));
        lua_setfield(L, -2, "last_error");
    }
    return 1;
}

static int sc_tried_regions(lua_State *L)
{
    struct lscheme *ls = checkscheme(L);
    vmlab_damon_lock(ls->d);
    size_t n = ls->s.nr_tried;
    struct vmlab_damos_tried *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (copy)
        memcpy(copy, ls->s.tried, n * sizeof *copy);
    else
        n = 0;
    vmlab_damon_unlock(ls->d);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const struct vmlab_region *r = &copy[i].r;
        vmlab_pushregion(L, r, 1);
        lua_pushinteger(L, (lua_Integer)copy[i].target + 1);
        lua_setfield(L, -2, "target");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    free(copy);
    return 1;
}

/* s:set_metric(per_thousand | nil): inject the watermark metric (tests). */
static int sc_set_metric(lua_State *L)
{
    struct lscheme *ls = checkscheme(L);
    long v = lua_isnoneornil(L, 2) ? -1 : (long)luaL_checkinteger(L, 2);
    luaL_argcheck(L, v <= 1000, 2, "a rate per thousand");
    vmlab_damon_lock(ls->d);
    ls->s.wmark.injected = v;
    vmlab_damon_unlock(ls->d);
    return 0;
}

static int sc_tostring(lua_State *L)
{
    struct lscheme *ls = luaL_checkudata(L, 1, SCHEME_MT);
    if (!ls->open)
        lua_pushliteral(L, "damos scheme (closed)");
    else
        lua_pushfstring(L, "damos scheme (%s, %s)", ls->s.fn ? "function" : vmlab_damos_action_names[ls->s.action],
                        ls->s.apply ? "applied" : "recorded");
    return 1;
}

/* free_mem_rate() -> per thousand of memory free, as watermarks see it */
static int l_free_mem_rate(lua_State *L)
{
    long v = vmlab_damos_free_mem_rate();
    if (v < 0)
        return vmlab_pushfail(L, EIO, "free_mem_rate(/proc/meminfo)");
    lua_pushinteger(L, v);
    return 1;
}

static const luaL_Reg methods[] = {
    {"stats", sc_stats}, {"tried_regions", sc_tried_regions}, {"set_metric", sc_set_metric},
    {"close", sc_close}, {NULL, NULL}};
static const luaL_Reg meta[] = {
    {"__close", sc_close}, {"__gc", sc_close}, {"__tostring", sc_tostring}, {NULL, NULL}};
static const luaL_Reg funcs[] = {
    {"parse", l_parse}, {"attach", l_attach}, {"free_mem_rate", l_free_mem_rate}, {NULL, NULL}};

int luaopen_vmlab_damos(lua_State *L)
{
    vmlab_newclass(L, SCHEME_MT, methods, meta);
    lua_pushcfunction(L, attach_engine);
    lua_setfield(L, LUA_REGISTRYINDEX, VMLAB_DAMOS_ATTACH_KEY);
    luaL_newlib(L, funcs);
    lua_createtable(L, 0, 0);
    for (int i = 0; vmlab_damos_action_names[i]; i++) {
        lua_pushstring(L, vmlab_damos_action_names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "actions");
    return 1;
}
