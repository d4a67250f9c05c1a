/* vmlab.damos: DAMOS schemes on a vmlab.damon monitor, and the seed's
 * rule text.  attach(monitor, spec) registers an aggregation hook; the
 * scheme object (liolib style) detaches it on close. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "vmlab/damos.h"
#include "vmlab/host.h"

#define SCHEME_MT "vmlab.damos.scheme"

struct lscheme {
    struct vmlab_damos s;
    struct vmlab_damon *d;
    int open;
    lua_State *L;           /* scripted actions: the state that attached */
    pthread_t owner;        /* and its thread: only there may Lua run */
};

/* A scripted action: function(region, target) -> true when it acted.
 * Runs only on the thread that attached (the replay backend's m:step);
 * on a sampling thread it is refused and counted as failed. */
static int call_script(void *ctx, const struct vmlab_region *r, unsigned target)
{
    struct lscheme *ls = ctx;
    lua_State *L = ls->L;
    if (!pthread_equal(pthread_self(), ls->owner))
        return -EPERM;
    lua_pushlightuserdata(L, ls);
    lua_rawget(L, LUA_REGISTRYINDEX);                        /* fn */
    vmlab_pushregion(L, r, 0);                               /* fn region */
    lua_pushinteger(L, (lua_Integer)target + 1);             /* fn region target */
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {                   /* result|err */
        lua_pop(L, 1);
        return -EINVAL;
    }
    int acted = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return acted ? 0 : -EAGAIN;
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

static void read_spec(lua_State *L, int sp, struct vmlab_damos *s, const struct vmlab_damon *d)
{
    const char *act = vmlab_optfield_string(L, sp, "action", "stat");
    s->action = vmlab_damos_action_parse(act);
    if (s->action < 0)
        luaL_error(L, "damos: unknown action '%s'", act);
    s->node = (int)vmlab_optfield_int(L, sp, "node", -1);
    if ((s->action == VMLAB_DAMOS_MIGRATE_HOT || s->action == VMLAB_DAMOS_MIGRATE_COLD) && s->node < 0)
        luaL_error(L, "damos: %s needs a target node (node=)", act);
    if (get_pair(L, sp, "size")) {
        s->sz_min = size_or_open(L, -2, 0);
        s->sz_max = size_or_open(L, -1, UINT64_MAX);
        lua_pop(L, 2);
    }
    if (get_pair(L, sp, "nr_accesses")) {
        s->nr_min = (uint32_t)num_or(L, -2, 0);
        double hi = num_or(L, -1, HUGE_VAL);
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
        int q = lua_gettop(L);
        s->quota.sz = vmlab_optfield_size(L, q, "sz", 0);
        /* ms: a number of milliseconds, or a time string ("10ms", "1s") */
        lua_getfield(L, q, "ms");
        if (lua_type(L, -1) == LUA_TSTRING)
            s->quota.ms = (uint64_t)llround(vmlab_checktime(L, -1) * 1e3);
        else if (!lua_isnil(L, -1)) {
            lua_Number ms = luaL_checknumber(L, -1);
            luaL_argcheck(L, ms >= 0, 2, "quota.ms must not be negative");
            s->quota.ms = (uint64_t)llround(ms);
        }
        lua_pop(L, 1);
        s->quota.reset_us = (uint64_t)(vmlab_optfield_time(L, q, "reset_interval", 1.0) * 1e6);
        if (lua_getfield(L, q, "weights") == LUA_TTABLE) {
            int w = lua_gettop(L);
            s->quota.w_sz = (unsigned)vmlab_optfield_int(L, w, "sz", 0);
            s->quota.w_nr = (unsigned)vmlab_optfield_int(L, w, "nr_accesses", 1);
            s->quota.w_age = (unsigned)vmlab_optfield_int(L, w, "age", 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, sp, "wmarks") == LUA_TTABLE) {
        int w = lua_gettop(L);
        const char *metric = vmlab_optfield_string(L, w, "metric", "free_mem_rate");
        if (strcmp(metric, "free_mem_rate"))
            luaL_error(L, "damos: unknown watermark metric '%s' (free_mem_rate)", metric);
        s->wmark.interval_us = (uint64_t)(vmlab_optfield_time(L, w, "interval", 1.0) * 1e6);
        if (!s->wmark.interval_us)
            s->wmark.interval_us = 1;
        s->wmark.high = (unsigned)vmlab_optfield_int(L, w, "high", 1000);
        s->wmark.mid = (unsigned)vmlab_optfield_int(L, w, "mid", 1000);
        s->wmark.low = (unsigned)vmlab_optfield_int(L, w, "low", 0);
        if (!(s->wmark.high >= s->wmark.mid && s->wmark.mid >= s->wmark.low))
            luaL_error(L, "damos: watermarks need high >= mid >= low");
        s->wmark.active = 0;  /* the kernel starts deactivated until the first check */
    }
    lua_pop(L, 1);
    if (lua_getfield(L, sp, "filters") == LUA_TTABLE) {
        int fl = lua_gettop(L);
        for (lua_Integer i = 1; lua_rawgeti(L, fl, i) == LUA_TTABLE; i++) {
            int f = lua_gettop(L);
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
            fp->target = (unsigned)(vmlab_optfield_int(L, f, "target", 1) - 1);
            fp->start = vmlab_optfield_size(L, f, "start", 0);
            fp->end = vmlab_optfield_size(L, f, "end", UINT64_MAX);
            fp->matching = vmlab_optfield_bool(L, f, "matching", 1);
            fp->allow = vmlab_optfield_bool(L, f, "allow", 0);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    s->apply_us = (uint64_t)(vmlab_optfield_time(L, sp, "apply_interval", 0) * 1e6);
    int replay = d->ops && d->ops->name && !strcmp(d->ops->name, "replay");
    s->apply = vmlab_optfield_bool(L, sp, "apply", !replay);
}

static int l_attach(lua_State *L)
{
    struct vmlab_damon *d = luaL_checkudata(L, 1, VMLAB_DAMON_MONITOR_MT);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!d->targets)
        return luaL_error(L, "damos.attach: the monitor is closed");
    int scripted = lua_getfield(L, 2, "action") == LUA_TFUNCTION;
    lua_pop(L, 1);
    struct lscheme *ls = lua_newuserdatauv(L, sizeof *ls, 1);  /* scheme */
    ls->open = 0;
    luaL_setmetatable(L, SCHEME_MT);
    vmlab_damos_init(&ls->s);
    ls->d = d;
    ls->L = NULL;
    if (scripted) {
        lua_pushnil(L);
        lua_copy(L, 2, -1);
        lua_newtable(L);                                     /* scheme spec' copy */
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
        lua_pushliteral(L, "stat");
        lua_setfield(L, -2, "action");
        read_spec(L, lua_gettop(L), &ls->s, d);
        lua_pop(L, 2);                                       /* scheme */
        lua_pushlightuserdata(L, ls);
        lua_getfield(L, 2, "action");
        lua_rawset(L, LUA_REGISTRYINDEX);
        ls->L = L;
        ls->owner = pthread_self();
        ls->s.fn = call_script;
        ls->s.fn_ctx = ls;
    } else {
        read_spec(L, 2, &ls->s, d);
    }
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);  /* the monitor lives as long as the scheme */
    vmlab_damon_lock(d);
    int rc = vmlab_damon_add_aggr_hook(d, vmlab_damos_hook, &ls->s);
    vmlab_damon_unlock(d);
    if (rc < 0)
        return vmlab_pushfail(L, -rc, "damos.attach(%s)", vmlab_damos_action_names[ls->s.action]);
    ls->open = 1;
    return 1;
}

/* ---- scheme methods ---------------------------------------------------------- */

static struct lscheme *checkscheme(lua_State *L)
{
    struct lscheme *ls = luaL_checkudata(L, 1, SCHEME_MT);
    if (!ls->open)
        luaL_error(L, "attempt to use a closed scheme");
    if (!ls->d->targets)
        luaL_error(L, "attempt to use a scheme whose monitor is closed");
    return ls;
}

static int sc_close(lua_State *L)
{
    struct lscheme *ls = luaL_checkudata(L, 1, SCHEME_MT);
    if (ls->open) {
        ls->open = 0;
        if (ls->d->targets) {
            vmlab_damon_lock(ls->d);
            vmlab_damon_del_aggr_hook(ls->d, vmlab_damos_hook, &ls->s);
            vmlab_damon_unlock(ls->d);
        }
        vmlab_damos_free(&ls->s);
        if (ls->L) {
            lua_pushlightuserdata(L, ls);
            lua_pushnil(L);
            lua_rawset(L, LUA_REGISTRYINDEX);
        }
    }
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
    if (err) {
        lua_pushstring(L, strerror(err));
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
    luaL_newlib(L, funcs);
    lua_createtable(L, 0, 0);
    for (int i = 0; vmlab_damos_action_names[i]; i++) {
        lua_pushstring(L, vmlab_damos_action_names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "actions");
    return 1;
}
