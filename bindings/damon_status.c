/* require "vmlab.damon.status": a read-only view of the kernel's kdamonds.
 *
 *   local st, err, errno = status.kernel_status{ root = dir }
 *   for _, kd in ipairs(st.kdamonds) do print(kd.state, kd.pid) end
 *
 * Reads the DAMON sysfs tree (runtime/damon_kstatus.c) and never writes:
 * kdamonds vmlab did not start are safe to look at.  Values the kernel
 * lacks are nil; a maximum beyond Lua's integers (ULONG_MAX) is math.huge. */
#include "damon_glue.h"
#include "vmlab/damon.h"
#include "vmlab/host.h"
#include "vmlab/kstatus.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <stdint.h>

#define SCRATCH_MT "vmlab.damon.status.scratch"

static void setint(lua_State *L, const char *k, uint64_t v)
{
    if (v > (uint64_t)LUA_MAXINTEGER)
        lua_pushnumber(L, HUGE_VAL);
    else
        lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

/* -1 means the kernel has no such file: leave the field nil. */
static void setopt(lua_State *L, const char *k, int64_t v)
{
    if (v < 0)
        return;
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void setstr(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void setrange(lua_State *L, const char *k, const struct vmlab_kstatus_range *r)
{
    lua_createtable(L, 0, 2);                                /* t range */
    setint(L, "min", r->min);
    setint(L, "max", r->max);
    lua_setfield(L, -2, k);                                  /* t */
}

/* Push one scheme as a table; shared with vmlab.damon.kdamond. */
void vmlab_push_kscheme(lua_State *L, const struct vmlab_kstatus_scheme *s);
void vmlab_push_kscheme(lua_State *L, const struct vmlab_kstatus_scheme *s)
{
    lua_createtable(L, 0, 12);                               /* s */
    setstr(L, "action", s->action);
    setopt(L, "apply_interval_us", s->apply_interval_us);
    if (s->target_nid >= 0)
        setopt(L, "target_nid", s->target_nid);
    lua_createtable(L, 0, 3);                                /* s ap */
    setrange(L, "sz", &s->sz);
    setrange(L, "nr_accesses", &s->nr_accesses);
    setrange(L, "age", &s->age);
    lua_setfield(L, -2, "access_pattern");                   /* s */
    lua_createtable(L, 0, 6);                                /* s q */
    setint(L, "ms", s->quota.ms);
    setint(L, "bytes", s->quota.bytes);
    setint(L, "reset_interval_ms", s->quota.reset_interval_ms);
    setopt(L, "effective_bytes", s->quota.effective_bytes);
    lua_createtable(L, 0, 3);                                /* s q w */
    setint(L, "sz_permil", s->quota.w_sz);
    setint(L, "nr_accesses_permil", s->quota.w_nr_accesses);
    setint(L, "age_permil", s->quota.w_age);
    lua_setfield(L, -2, "weights");                          /* s q */
    lua_createtable(L, (int)s->quota.nr_goals, 0);           /* s q goals */
    for (size_t i = 0; i < s->quota.nr_goals; i++) {
        const struct vmlab_kstatus_goal *g = &s->quota.goals[i];
        lua_createtable(L, 0, 4);                            /* s q goals g */
        setstr(L, "metric", g->metric);
        setint(L, "target_value", g->target_value);
        setint(L, "current_value", g->current_value);
        setopt(L, "nid", g->nid);
        lua_rawseti(L, -2, (lua_Integer)i + 1);              /* s q goals */
    }
    lua_setfield(L, -2, "goals");                            /* s q */
    lua_setfield(L, -2, "quotas");                           /* s */
    lua_createtable(L, 0, 5);                                /* s wm */
    setstr(L, "metric", s->wmarks.metric);
    setint(L, "interval_us", s->wmarks.interval_us);
    setint(L, "high", s->wmarks.high);
    setint(L, "mid", s->wmarks.mid);
    setint(L, "low", s->wmarks.low);
    lua_setfield(L, -2, "watermarks");                       /* s */
    lua_createtable(L, (int)s->nr_filters, 0);               /* s fs */
    for (size_t i = 0; i < s->nr_filters; i++) {
        const struct vmlab_kstatus_filter *f = &s->filters[i];
        lua_createtable(L, 0, 8);                            /* s fs f */
        setstr(L, "kind", f->kind);
        setstr(L, "type", f->type);
        lua_pushboolean(L, f->matching);
        lua_setfield(L, -2, "matching");
        if (f->allow >= 0) {
            lua_pushboolean(L, f->allow);
            lua_setfield(L, -2, "allow");
        }
        if (f->memcg_path[0])
            setstr(L, "memcg_path", f->memcg_path);
        setint(L, "addr_start", f->addr_start);
        setint(L, "addr_end", f->addr_end);
        setopt(L, "target_idx", f->target_idx);
        lua_rawseti(L, -2, (lua_Integer)i + 1);              /* s fs */
    }
    lua_setfield(L, -2, "filters");                          /* s */
    lua_createtable(L, 0, 6);                                /* s st */
    setint(L, "nr_tried", s->stats.nr_tried);
    setint(L, "sz_tried", s->stats.sz_tried);
    setint(L, "nr_applied", s->stats.nr_applied);
    setint(L, "sz_applied", s->stats.sz_applied);
    setint(L, "qt_exceeds", s->stats.qt_exceeds);
    setopt(L, "sz_ops_filter_passed", s->stats.sz_ops_filter_passed);
    lua_setfield(L, -2, "stats");                            /* s */
    if (s->has_tried) {
        vmlab_pushregions(L, s->tried.v, s->tried.n);        /* s tr */
        setopt(L, "total_bytes", s->tried_total_bytes);
        lua_setfield(L, -2, "tried_regions");                /* s */
    }
}

static void push_ctx(lua_State *L, const struct vmlab_kstatus_ctx *c)
{
    lua_createtable(L, 0, 8);                                /* c */
    setstr(L, "operations", c->operations);
    lua_newtable(L);                                         /* c avail */
    {
        const char *p = c->avail_operations;
        int n = 0;
        while (*p) {
            size_t len = strcspn(p, " \t");
            if (len) {
                lua_pushlstring(L, p, len);                  /* c avail op */
                lua_rawseti(L, -2, ++n);                     /* c avail */
            }
            p += len;
            p += strspn(p, " \t");
        }
    }
    lua_setfield(L, -2, "avail_operations");                 /* c */
    lua_createtable(L, 0, 5);                                /* c attrs */
    setint(L, "sample_us", c->sample_us);
    setint(L, "aggr_us", c->aggr_us);
    setint(L, "update_us", c->update_us);
    setint(L, "min_nr_regions", c->min_nr_regions);
    setint(L, "max_nr_regions", c->max_nr_regions);
    lua_setfield(L, -2, "attrs");                            /* c */
    lua_createtable(L, (int)c->nr_targets, 0);               /* c ts */
    for (size_t i = 0; i < c->nr_targets; i++) {
        lua_createtable(L, 0, 2);                            /* c ts t */
        if (strcmp(c->operations, "paddr"))                  /* paddr's pid_target reads 0 */
            setopt(L, "pid", c->targets[i].pid);
        vmlab_pushregions(L, c->targets[i].regions.v, c->targets[i].regions.n);
        lua_setfield(L, -2, "regions");                      /* c ts t */
        lua_rawseti(L, -2, (lua_Integer)i + 1);              /* c ts */
    }
    lua_setfield(L, -2, "targets");                          /* c */
    lua_createtable(L, (int)c->nr_schemes, 0);               /* c ss */
    for (size_t i = 0; i < c->nr_schemes; i++) {
        vmlab_push_kscheme(L, &c->schemes[i]);               /* c ss s */
        lua_rawseti(L, -2, (lua_Integer)i + 1);              /* c ss */
    }
    lua_setfield(L, -2, "schemes");                          /* c */
}

static int scratch_gc(lua_State *L)
{
    vmlab_kstatus_free(luaL_checkudata(L, 1, SCRATCH_MT));
    return 0;
}

static void scratch_mt(lua_State *L)
{
    if (luaL_newmetatable(L, SCRATCH_MT)) {                  /* mt */
        lua_pushcfunction(L, scratch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
}

/* kernel_status([{root = dir}]) -> { root, kdamonds = {...} } | nil, msg, errno
 * (also vmlab.damon's kernel_status: damon_glue.h) */
int vmlab_damon_lua_kernel_status(lua_State *L)
{
    static const char *const valid[] = {"root", NULL};
    struct vmlab_kstatus *st;
    const char *root = NULL;
    char why[1200];
    int e;

    if (!lua_isnoneornil(L, 1)) {
        vmlab_checkopts(L, 1, "damon.kernel_status", valid);
        root = vmlab_optfield_string(L, 1, "root", NULL);
    }
    scratch_mt(L);
    /* The C tree lives in a userdata until the tables are built: a memory
     * error while building them must not leak it. */
    st = lua_newuserdatauv(L, sizeof *st, 0);                /* ud */
    memset(st, 0, sizeof *st);
    luaL_setmetatable(L, SCRATCH_MT);
    if ((e = vmlab_kstatus_read(root, st, why, sizeof why)) < 0)
        return vmlab_pushfail(L, -e, "damon.kernel_status: %s", why);
    lua_createtable(L, 0, 3);                                /* ud r */
    setstr(L, "root", st->root);
    lua_createtable(L, (int)st->nr_kdamonds, 0);             /* ud r kds */
    for (size_t i = 0; i < st->nr_kdamonds; i++) {
        const struct vmlab_kstatus_kdamond *k = &st->kdamonds[i];
        lua_createtable(L, 0, 5);                            /* ud r kds kd */
        lua_pushinteger(L, (lua_Integer)i);
        lua_setfield(L, -2, "index");
        setstr(L, "state", k->state);
        if (k->pid > 0)
            setopt(L, "pid", k->pid);
        setopt(L, "refresh_ms", k->refresh_ms);
        lua_createtable(L, (int)k->nr_ctxs, 0);              /* ud r kds kd cs */
        for (size_t j = 0; j < k->nr_ctxs; j++) {
            push_ctx(L, &k->ctxs[j]);                        /* ud r kds kd cs c */
            lua_rawseti(L, -2, (lua_Integer)j + 1);          /* ud r kds kd cs */
        }
        lua_setfield(L, -2, "contexts");                     /* ud r kds kd */
        lua_rawseti(L, -2, (lua_Integer)i + 1);              /* ud r kds */
    }
    lua_setfield(L, -2, "kdamonds");                         /* ud r */
    vmlab_kstatus_free(st);
    return 1;
}

/* vmlab.damon's kernel_available() -> true, or false and why not */
int vmlab_damon_lua_kernel_available(lua_State *L)
{
    char why[256];
    int r = vmlab_damon_kernel_probe(why, sizeof why);
    lua_pushboolean(L, r == 0);
    lua_pushstring(L, why);
    return 2;
}

static const luaL_Reg funcs[] = {{"kernel_status", vmlab_damon_lua_kernel_status}, {NULL, NULL}};

int luaopen_vmlab_damon_status(lua_State *L)
{
    scratch_mt(L);
    luaL_newlib(L, funcs);                                   /* M */
    return 1;
}
