/* require "vmlab.damon.kdamond": a kdamond vmlab configures through sysfs
 * in full (runtime/damon_ksysfs.c): vaddr on any pid, fvaddr, paddr,
 * DAMOS schemes with quotas, watermarks and filters; their stats and tried
 * regions read back.
 *
 *   local kd = assert(kdamond.start{ pid = child.pid, regions = { seg },
 *     sample = "5ms", aggr = "100ms", schemes = { { action = "stat" },
 *     { action = "pageout", nr_accesses = { max = 0 }, age = { min = 5 } } } })
 *   vmlab.snooze(2); local s = kd:scheme(2)   -- stats, tried_regions
 *   kd:close()
 *
 * Refused (nil, why, EBUSY) where a kdamond vmlab did not start runs. */
#include "vmlab/host.h"
#include "vmlab/ksysfs.h"
#include "vmlab/sysfile.h"

#include <errno.h>
#include <string.h>

#define KD_MT "vmlab.damon.kdamond"
#define SCRATCH_MT "vmlab.damon.kdamond.scratch"

void vmlab_push_kscheme(lua_State *L, const struct vmlab_kstatus_scheme *s);   /* damon_status.c */

struct lkd {
    struct vmlab_ksysfs k;
    int open;
};

static struct lkd *checkkd(lua_State *L, int idx)
{
    struct lkd *l = luaL_checkudata(L, idx, KD_MT);
    if (!l->open)
        luaL_error(L, "attempt to use a closed kdamond");
    return l;
}

/* Memory for the spec, owned by Lua (a raise while reading options frees it). */
static void *scratch(lua_State *L, size_t n)
{
    void *p = lua_newuserdatauv(L, n ? n : 1, 0);
    memset(p, 0, n ? n : 1);
    return p;
}

/* A range {start=, ["end"]=} or a segment {addr=, size=} at idx. */
static void read_range(lua_State *L, int idx, struct vmlab_range *r, const char *what)
{
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx) && !lua_isuserdata(L, idx))
        luaL_error(L, "bad %s (a segment or {start=, [\"end\"]=})", what);
    if (lua_getfield(L, idx, "start") == LUA_TNUMBER) {     /* start */
        lua_getfield(L, idx, "end");                         /* start end */
        r->start = (uint64_t)luaL_checkinteger(L, -2);
        r->end = (uint64_t)luaL_checkinteger(L, -1);
        lua_pop(L, 2);
    } else {
        lua_pop(L, 1);
        lua_getfield(L, idx, "addr");                        /* addr */
        lua_getfield(L, idx, "size");                        /* addr size */
        if (!lua_isinteger(L, -2) || !lua_isinteger(L, -1))
            luaL_error(L, "bad %s (a segment or {start=, [\"end\"]=})", what);
        r->start = (uint64_t)lua_tointeger(L, -2);
        r->end = r->start + (uint64_t)lua_tointeger(L, -1);
        lua_pop(L, 2);
    }
    if (r->end <= r->start)
        luaL_error(L, "bad %s (empty: end <= start)", what);
}

/* {min=, max=} at field k of the table at idx. */
static void read_minmax(lua_State *L, int idx, const char *k, struct vmlab_kstatus_range *r, int sizes)
{
    static const char *const valid[] = {"min", "max", NULL};
    if (lua_getfield(L, idx, k) == LUA_TTABLE) {             /* mm */
        char fn[48];
        snprintf(fn, sizeof fn, "kdamond scheme.%s", k);
        vmlab_checkopts(L, -1, fn, valid);
        if (sizes) {
            r->min = vmlab_optfield_size(L, -1, "min", r->min);
            r->max = vmlab_optfield_size(L, -1, "max", r->max);
        } else {
            r->min = (uint64_t)vmlab_optfield_int(L, -1, "min", (lua_Integer)r->min);
            r->max = (uint64_t)vmlab_optfield_int(L, -1, "max", (lua_Integer)r->max);
        }
        if (r->min > r->max)
            luaL_error(L, "bad option '%s' (min > max)", k);
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "bad option '%s' ({min=, max=})", k);
    }
    lua_pop(L, 1);
}

static void read_filter(lua_State *L, int idx, struct vmlab_ksysfs_filter *f)
{
    static const char *const valid[] = {"type", "matching", "allow", "memcg_path", "start", "end",
                                        "target", NULL};
    vmlab_checkopts(L, idx, "kdamond filter", valid);
    const char *type = vmlab_optfield_string(L, idx, "type", NULL);
    if (!type)
        luaL_error(L, "bad filter (needs a type: anon, memcg, young, addr, target...)");
    snprintf(f->type, sizeof f->type, "%s", type);
    f->matching = vmlab_optfield_bool(L, idx, "matching", 1);
    lua_getfield(L, idx, "allow");
    f->allow = lua_isnil(L, -1) ? -1 : lua_toboolean(L, -1);
    lua_pop(L, 1);
    snprintf(f->memcg_path, sizeof f->memcg_path, "%s", vmlab_optfield_string(L, idx, "memcg_path", ""));
    f->addr_start = vmlab_optfield_size(L, idx, "start", 0);
    f->addr_end = vmlab_optfield_size(L, idx, "end", 0);
    f->target_idx = vmlab_optfield_int(L, idx, "target", 0);
}

static void read_scheme(lua_State *L, int idx, struct vmlab_ksysfs_scheme *s)
{
    static const char *const valid[] = {"action", "sz", "nr_accesses", "age", "apply_interval", "target_nid",
                                        "quota", "watermarks", "filters", NULL};
    static const char *const qvalid[] = {"ms", "bytes", "reset_interval", "weights", NULL};
    static const char *const wvalid[] = {"sz", "nr_accesses", "age", NULL};
    static const char *const mvalid[] = {"metric", "interval", "high", "mid", "low", NULL};

    idx = lua_absindex(L, idx);
    vmlab_checkopts(L, idx, "kdamond scheme", valid);
    vmlab_ksysfs_scheme_init(s, vmlab_optfield_string(L, idx, "action", "stat"));
    read_minmax(L, idx, "sz", &s->sz, 1);
    read_minmax(L, idx, "nr_accesses", &s->nr_accesses, 0);
    read_minmax(L, idx, "age", &s->age, 0);
    if (vmlab_optfield_time(L, idx, "apply_interval", -1) >= 0)
        s->apply_interval_us = (int64_t)(vmlab_optfield_time(L, idx, "apply_interval", 0) * 1e6 + 0.5);
    s->target_nid = vmlab_optfield_int(L, idx, "target_nid", -1);
    if (lua_getfield(L, idx, "quota") == LUA_TTABLE) {       /* q */
        vmlab_checkopts(L, -1, "kdamond scheme.quota", qvalid);
        s->quota_ms = (uint64_t)vmlab_optfield_int(L, -1, "ms", 0);
        s->quota_bytes = vmlab_optfield_size(L, -1, "bytes", 0);
        s->quota_reset_ms = (uint64_t)(vmlab_optfield_time(L, -1, "reset_interval", 0) * 1e3 + 0.5);
        if (lua_getfield(L, -1, "weights") == LUA_TTABLE) {  /* q w */
            vmlab_checkopts(L, -1, "kdamond scheme.quota.weights", wvalid);
            s->w_sz = (uint64_t)vmlab_optfield_int(L, -1, "sz", 0);
            s->w_nr_accesses = (uint64_t)vmlab_optfield_int(L, -1, "nr_accesses", 0);
            s->w_age = (uint64_t)vmlab_optfield_int(L, -1, "age", 0);
        }
        lua_pop(L, 1);                                       /* q */
    }
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "watermarks") == LUA_TTABLE) {  /* wm */
        vmlab_checkopts(L, -1, "kdamond scheme.watermarks", mvalid);
        snprintf(s->wmark_metric, sizeof s->wmark_metric, "%s",
                 vmlab_optfield_string(L, -1, "metric", "free_mem_rate"));
        s->wmark_interval_us = (uint64_t)(vmlab_optfield_time(L, -1, "interval", 5) * 1e6 + 0.5);
        s->wmark_high = (uint64_t)vmlab_optfield_int(L, -1, "high", 0);
        s->wmark_mid = (uint64_t)vmlab_optfield_int(L, -1, "mid", 0);
        s->wmark_low = (uint64_t)vmlab_optfield_int(L, -1, "low", 0);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "filters") == LUA_TTABLE) {     /* fs */
        size_t n = lua_rawlen(L, -1);
        struct vmlab_ksysfs_filter *f = scratch(L, n * sizeof *f);   /* fs ud */
        lua_insert(L, -2);                                   /* ud fs */
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i + 1);          /* ud fs f */
            if (!lua_istable(L, -1))
                luaL_error(L, "bad filter %d (a table)", (int)i + 1);
            read_filter(L, -1, &f[i]);
            lua_pop(L, 1);                                   /* ud fs */
        }
        lua_pop(L, 1);                                       /* ud: kept below, on the stack */
        s->filters = f;
        s->nr_filters = n;
        return;                                              /* leaves ud on the stack */
    }
    if (!lua_isnil(L, -1))
        luaL_error(L, "bad option 'filters' (a list of tables)");
    lua_pop(L, 1);
    lua_pushnil(L);                                          /* keep one slot either way */
}

/* The targets' ranges at field k of the table at idx (a list). */
static void read_ranges(lua_State *L, int idx, struct vmlab_ksysfs_target *t)
{
    if (lua_getfield(L, idx, "regions") == LUA_TTABLE) {     /* rs */
        size_t n = lua_rawlen(L, -1);
        struct vmlab_range *r = scratch(L, n * sizeof *r);   /* rs ud */
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, -2, (lua_Integer)i + 1);          /* rs ud r */
            read_range(L, -1, &r[i], "region");
            lua_pop(L, 1);
        }
        lua_remove(L, -2);                                   /* ud */
        t->ranges = r;
        t->nr_ranges = n;
        return;
    }
    if (!lua_isnil(L, -1))
        luaL_error(L, "bad option 'regions' (a list of segments or {start=, [\"end\"]=} ranges)");
    lua_pop(L, 1);
    lua_pushnil(L);
}

static int l_start(lua_State *L)
{
    static const char *const valid[] = {"ops", "pid", "regions", "targets", "sample", "aggr", "update",
                                        "min_regions", "max_regions", "schemes", NULL};
    struct vmlab_ksysfs_spec sp;
    struct vmlab_ksysfs_target *tg;
    struct vmlab_ksysfs_scheme *sc;
    const char *ops;
    char why[1200];
    int e;

    luaL_checktype(L, 1, LUA_TTABLE);
    vmlab_checkopts(L, 1, "kdamond.start", valid);
    lua_settop(L, 1);
    memset(&sp, 0, sizeof sp);
    vmlab_damon_default_attrs(&sp.attrs);
    sp.attrs.sample_us = (uint64_t)(vmlab_optfield_time(L, 1, "sample", sp.attrs.sample_us / 1e6) * 1e6 + 0.5);
    sp.attrs.aggr_us = (uint64_t)(vmlab_optfield_time(L, 1, "aggr", sp.attrs.aggr_us / 1e6) * 1e6 + 0.5);
    sp.attrs.update_us = (uint64_t)(vmlab_optfield_time(L, 1, "update", sp.attrs.update_us / 1e6) * 1e6 + 0.5);
    sp.attrs.min_nr_regions = (unsigned)vmlab_optfield_int(L, 1, "min_regions", sp.attrs.min_nr_regions);
    sp.attrs.max_nr_regions = (unsigned)vmlab_optfield_int(L, 1, "max_regions", sp.attrs.max_nr_regions);
    {
        const char *bad = vmlab_damon_check_attrs(&sp.attrs);
        if (bad)
            return luaL_error(L, "kdamond.start: %s", bad);
    }
    /* targets: {pid=, regions=} or targets = { {pid=, regions=}, ... } */
    if (lua_getfield(L, 1, "targets") == LUA_TTABLE) {       /* o ts */
        static const char *const tvalid[] = {"pid", "regions", NULL};
        if (!lua_isnil(L, -1) && (lua_getfield(L, 1, "pid"), !lua_isnil(L, -1)))
            return luaL_error(L, "kdamond.start: give 'pid' or 'targets', not both");
        lua_pop(L, 1);
        sp.nr_targets = lua_rawlen(L, 2);
        if (sp.nr_targets == 0)
            return luaL_error(L, "kdamond.start: bad option 'targets' (empty)");
        luaL_checkstack(L, (int)sp.nr_targets + 8, "kdamond.start: too many targets");
        tg = scratch(L, sp.nr_targets * sizeof *tg);         /* o ts ud */
        for (size_t i = 0; i < sp.nr_targets; i++) {
            lua_rawgeti(L, 2, (lua_Integer)i + 1);           /* ... t */
            if (!lua_istable(L, -1))
                return luaL_error(L, "kdamond.start: bad target %d (a table)", (int)i + 1);
            vmlab_checkopts(L, -1, "kdamond target", tvalid);
            tg[i].pid = vmlab_optfield_int(L, -1, "pid", -1);
            read_ranges(L, lua_gettop(L), &tg[i]);           /* ... t ud|nil */
            lua_remove(L, -2);                               /* ... ud|nil (kept) */
        }
    } else {
        sp.nr_targets = 1;
        tg = scratch(L, sizeof *tg);                         /* o nil ud */
        tg->pid = vmlab_optfield_int(L, 1, "pid", -1);
        read_ranges(L, 1, tg);                               /* o nil ud ud|nil */
    }
    sp.targets = tg;
    /* a pid with regions: fvaddr keeps them (vaddr would swap them for the
     * process's three regions at the first update interval) */
    ops = vmlab_optfield_string(L, 1, "ops", tg[0].pid < 0 ? "paddr" : tg[0].nr_ranges ? "fvaddr" : "vaddr");
    if (strlen(ops) >= sizeof sp.ops)
        return luaL_error(L, "kdamond.start: bad ops '%s'", ops);
    snprintf(sp.ops, sizeof sp.ops, "%s", ops);
    for (size_t i = 0; i < sp.nr_targets; i++)
        if (strcmp(sp.ops, "paddr") && tg[i].pid < 0)
            return luaL_error(L, "kdamond.start: %s target %d needs a pid", sp.ops, (int)i + 1);
    if (!strcmp(sp.ops, "paddr")) {
        struct vmlab_range *ram = scratch(L, sizeof *ram);   /* ... ud */
        for (size_t i = 0; i < sp.nr_targets; i++) {
            if (tg[i].nr_ranges)
                continue;
            if ((e = vmlab_ksysfs_system_ram(ram)) < 0)
                return vmlab_pushfail(L, -e, "kdamond.start: paddr without regions: the largest System "
                                      "RAM range of /proc/iomem");
            tg[i].ranges = ram;
            tg[i].nr_ranges = 1;
        }
    }
    if (lua_getfield(L, 1, "schemes") == LUA_TTABLE) {       /* ... ss */
        int ss = lua_gettop(L);
        sp.nr_schemes = lua_rawlen(L, ss);
        luaL_checkstack(L, (int)sp.nr_schemes + 8, "kdamond.start: too many schemes");
        sc = scratch(L, sp.nr_schemes * sizeof *sc);         /* ... ss ud */
        for (size_t i = 0; i < sp.nr_schemes; i++) {
            lua_rawgeti(L, ss, (lua_Integer)i + 1);          /* ... s */
            if (!lua_istable(L, -1))
                return luaL_error(L, "kdamond.start: bad scheme %d (a table)", (int)i + 1);
            read_scheme(L, -1, &sc[i]);                      /* ... s ud|nil */
            lua_remove(L, -2);
        }
        sp.schemes = sc;
    } else if (!lua_isnil(L, -1)) {
        return luaL_error(L, "kdamond.start: bad option 'schemes' (a list of tables)");
    }
    struct lkd *l = lua_newuserdatauv(L, sizeof *l, 0);      /* ... kd */
    memset(l, 0, sizeof *l);
    luaL_setmetatable(L, KD_MT);
    if ((e = vmlab_ksysfs_start(&l->k, &sp, why, sizeof why)) < 0)
        return vmlab_pushfail(L, -e, "kdamond.start: %s", why);
    l->open = 1;
    return 1;
}

static const char *const commands[] = {"stats", "tried_regions", "tried_bytes", "clear_tried", "commit", NULL};
static const char *const command_files[] = {"update_schemes_stats", "update_schemes_tried_regions",
                                            "update_schemes_tried_bytes", "clear_schemes_tried_regions",
                                            "commit"};

/* kd:update(what): ask the kernel to refresh stats or tried regions. */
static int kd_update(lua_State *L)
{
    struct lkd *l = checkkd(L, 1);
    int c = luaL_checkoption(L, 2, NULL, commands);
    char why[1200];
    int e = vmlab_ksysfs_command(&l->k, command_files[c], why, sizeof why);
    if (e < 0)
        return vmlab_pushfail(L, -e, "kdamond:update: %s", why);
    lua_pushboolean(L, 1);
    return 1;
}

static int scheme_gc(lua_State *L)
{
    vmlab_kstatus_scheme_free(luaL_checkudata(L, 1, SCRATCH_MT));
    return 0;
}

/* Push scheme i (0-based) read back; nil, msg, errno on failure. */
static int push_scheme(lua_State *L, struct lkd *l, size_t i)
{
    struct vmlab_kstatus_scheme *s = lua_newuserdatauv(L, sizeof *s, 0);   /* ud */
    char why[1200];
    int e;

    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, SCRATCH_MT);
    if ((e = vmlab_ksysfs_scheme(&l->k, i, s, why, sizeof why)) < 0)
        return vmlab_pushfail(L, -e, "kdamond:scheme: %s", why);
    vmlab_push_kscheme(L, s);                                /* ud t */
    vmlab_kstatus_scheme_free(s);
    return 1;
}

/* Refresh stats and tried regions (unless {update=false}). */
static int refresh(lua_State *L, struct lkd *l, int opts)
{
    static const char *const valid[] = {"update", NULL};
    char why[1200];
    int e;
    if (!lua_isnoneornil(L, opts)) {
        vmlab_checkopts(L, opts, "kdamond:scheme", valid);
        if (!vmlab_optfield_bool(L, opts, "update", 1))
            return 0;
    }
    if ((e = vmlab_ksysfs_command(&l->k, "update_schemes_stats", why, sizeof why)) < 0 ||
        (e = vmlab_ksysfs_command(&l->k, "update_schemes_tried_regions", why, sizeof why)) < 0)
        return vmlab_pushfail(L, -e, "kdamond: refreshing the schemes: %s", why);
    return 0;
}

/* kd:scheme(i [, {update=false}]) -> the scheme's settings, stats, tried regions */
static int kd_scheme(lua_State *L)
{
    struct lkd *l = checkkd(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    int n;
    if (i < 1 || (size_t)i > l->k.nr_schemes)
        return luaL_argerror(L, 2, "no such scheme");
    if ((n = refresh(L, l, 3)))
        return n;
    return push_scheme(L, l, (size_t)i - 1);
}

/* kd:schemes([{update=false}]) -> list of every scheme */
static int kd_schemes(lua_State *L)
{
    struct lkd *l = checkkd(L, 1);
    int n;
    if ((n = refresh(L, l, 2)))
        return n;
    lua_createtable(L, (int)l->k.nr_schemes, 0);              /* list */
    for (size_t i = 0; i < l->k.nr_schemes; i++) {
        if (push_scheme(L, l, i) != 1 || lua_isnil(L, -1))
            return 3;                                        /* nil msg errno from push_scheme */
        lua_remove(L, -2);                                   /* list t */
        lua_rawseti(L, -2, (lua_Integer)i + 1);              /* list */
    }
    return 1;
}

/* kd:state() -> "on" | "off" (the kdamond ends when its targets exit) */
static int kd_state(lua_State *L)
{
    struct lkd *l = checkkd(L, 1);
    char path[700], b[32];
    int e;
    snprintf(path, sizeof path, "%s/state", l->k.dir);
    if ((e = vmlab_read_line(path, b, sizeof b)) < 0)
        return vmlab_pushfail(L, -e, "kdamond:state: reading %s", path);
    lua_pushstring(L, b);
    return 1;
}

/* kd:pid() -> the kdamond thread's pid (nil when off) */
static int kd_pid(lua_State *L)
{
    struct lkd *l = checkkd(L, 1);
    long p = vmlab_ksysfs_pid(&l->k);
    if (p <= 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, p);
    return 1;
}

static int kd_close(lua_State *L)
{
    struct lkd *l = luaL_checkudata(L, 1, KD_MT);
    if (l->open) {
        vmlab_ksysfs_stop(&l->k);
        l->open = 0;
    }
    return 0;
}

static int kd_tostring(lua_State *L)
{
    struct lkd *l = luaL_checkudata(L, 1, KD_MT);
    if (l->open)
        lua_pushfstring(L, "kdamond (%s)", l->k.dir);
    else
        lua_pushliteral(L, "kdamond (closed)");
    return 1;
}

static const luaL_Reg methods[] = {
    {"update", kd_update}, {"scheme", kd_scheme}, {"schemes", kd_schemes}, {"state", kd_state},
    {"pid", kd_pid}, {"stop", kd_close}, {"close", kd_close}, {NULL, NULL}};
static const luaL_Reg meta[] = {
    {"__tostring", kd_tostring}, {"__close", kd_close}, {"__gc", kd_close}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"start", l_start}, {NULL, NULL}};

int luaopen_vmlab_damon_kdamond(lua_State *L)
{
    luaL_newmetatable(L, KD_MT);                             /* mt */
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);                                 /* mt methods */
    lua_setfield(L, -2, "__index");                          /* mt */
    lua_pop(L, 1);
    if (luaL_newmetatable(L, SCRATCH_MT)) {                  /* mt */
        lua_pushcfunction(L, scheme_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, funcs);                                   /* M */
    return 1;
}
