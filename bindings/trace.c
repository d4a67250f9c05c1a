/* require "vmlab.trace": reference traces (read, write, convert),
 * page-replacement simulation and miss-ratio curves.  The command line
 * (`vmlab trace ...`) is stdlib/vmlab/trace_cli.lua. */
#include "vmlab/host.h"
#include "vmlab/sim.h"
#include "vmlab/trace.h"
#include "vmlab/units.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* bindings/trace_capture.c: start, lackey, oracle into the module table */
void vmlab_trace_capture_open(lua_State *L);

#define READER_MT "vmlab.trace.reader"
#define WRITER_MT "vmlab.trace.writer"

/* A buffer owned by Lua (a userdata left on the stack), so that raising
 * while it is held leaks nothing. */
static void *scratch(lua_State *L, size_t bytes)
{
    return lua_newuserdatauv(L, bytes ? bytes : 1, 0);
}

struct pagebuf {
    uint64_t *pages;   /* malloc'ed (file) or in a userdata (table) */
    size_t n;
    int owned;
};

static int pages_gc(lua_State *L)
{
    struct pagebuf *b = lua_touserdata(L, 1);
    if (b->owned)
        free(b->pages);
    b->pages = NULL, b->owned = 0;
    return 0;
}

/* refs at idx: an array of page numbers, or a trace path (format from
 * `fmt`, NULL = auto).  Pushes a userdata that owns the pages. */
static struct pagebuf *check_refs(lua_State *L, int idx, const char *fmtname)
{
    struct pagebuf *b = lua_newuserdatauv(L, sizeof *b, 1);
    memset(b, 0, sizeof *b);
    lua_newtable(L);
    lua_pushcfunction(L, pages_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (lua_type(L, idx) == LUA_TSTRING) {
        char err[300] = "";
        int fmt = fmtname ? vmlab_trace_format_find(fmtname) : VMLAB_TRACE_AUTO;
        if (fmt < 0)
            luaL_error(L, "unknown trace format '%s' (binary, text, pages, csv, oracleGeneral)", fmtname);
        if (vmlab_trace_load_pages(lua_tostring(L, idx), fmt, &b->pages, &b->n, err, sizeof err))
            luaL_error(L, "%s", err);
        b->owned = 1;
        return b;
    }
    luaL_argexpected(L, lua_type(L, idx) == LUA_TTABLE, idx, "an array of pages or a trace path");
    b->n = lua_rawlen(L, idx);
    b->pages = scratch(L, b->n * sizeof *b->pages);
    lua_setiuservalue(L, -2, 1);                /* b (owns the array) */
    for (size_t i = 0; i < b->n; i++) {
        int isnum;
        lua_Integer v;
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        v = lua_tointegerx(L, -1, &isnum);
        if (!isnum || v < 0)
            luaL_error(L, "page %d of the reference string is not an integer >= 0", (int)i + 1);
        b->pages[i] = (uint64_t)v;
        lua_pop(L, 1);
    }
    return b;
}

/* An integer or an array of integers at field k: into a Lua-owned array. */
static size_t *int_list(lua_State *L, int opts, const char *k, size_t *n, int required)
{
    size_t *v;
    int t = lua_getfield(L, opts, k);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        if (required)
            luaL_error(L, "option '%s' is required", k);
        *n = 0;
        return NULL;
    }
    if (t == LUA_TNUMBER || t == LUA_TSTRING) {
        v = scratch(L, sizeof *v);
        lua_Integer x = lua_tointeger(L, -2);
        if (!lua_isinteger(L, -2) || x < 1)
            luaL_error(L, "option '%s' must be an integer >= 1 or an array of them", k);
        v[0] = (size_t)x, *n = 1;
        lua_remove(L, -2);
        return v;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "option '%s' must be an integer >= 1 or an array of them", k);
    *n = lua_rawlen(L, -1);
    v = scratch(L, *n * sizeof *v);
    for (size_t i = 0; i < *n; i++) {
        lua_rawgeti(L, -2, (lua_Integer)i + 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
            luaL_error(L, "option '%s': entry %d is not an integer >= 1", k, (int)i + 1);
        v[i] = (size_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    lua_remove(L, -2);
    return v;
}

static int l_policies(lua_State *L)
{
    const char *const *names = vmlab_sim_policy_names();
    lua_newtable(L);
    for (int i = 0; names[i]; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, names[i]);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, vmlab_sim_policy_source(i));
        lua_setfield(L, -2, "source");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* simulate(refs, {policy=, frames=, format=}) -> {{policy, frames,
 * references, faults, miss_ratio}, ...} */
static int l_simulate(lua_State *L)
{
    static const char *const valid[] = {"policy", "frames", "format", NULL};
    vmlab_checkopts(L, 2, "trace.simulate", valid);
    luaL_checktype(L, 2, LUA_TTABLE);
    struct pagebuf *b = check_refs(L, 1, vmlab_optfield_string(L, 2, "format", NULL));
    size_t nf, np = 0;
    size_t *frames = int_list(L, 2, "frames", &nf, 1);
    int pol[VMLAB_SIM_NPOLICIES * 4];

    if (lua_getfield(L, 2, "policy") == LUA_TSTRING) {
        lua_newtable(L);
        lua_pushvalue(L, -2);
        lua_rawseti(L, -2, 1);
        lua_remove(L, -2);
    } else if (!lua_istable(L, -1))
        luaL_error(L, "option 'policy' must be a policy name or an array of them");
    for (size_t i = 1; i <= lua_rawlen(L, -1); i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        const char *name = lua_tostring(L, -1);
        int p = name ? vmlab_sim_policy_find(name) : -1;
        if (p < 0)
            luaL_error(L, "unknown policy '%s' (one of opt lru fifo clock second-chance lfu 2q arc lirs "
                          "clock-pro sieve s3-fifo linux mglru)", name ? name : "?");
        if (np == sizeof pol / sizeof *pol)
            luaL_error(L, "too many policies");
        pol[np++] = p;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    uint32_t *ids = scratch(L, b->n * sizeof *ids);
    int64_t m = vmlab_sim_dense(b->pages, b->n, ids, NULL);
    if (m < 0)
        return vmlab_pushfail(L, (int)-m, "trace.simulate(%zu references)", b->n);
    lua_createtable(L, (int)(np * nf), 0);
    int k = 0;
    for (size_t i = 0; i < np; i++)
        for (size_t j = 0; j < nf; j++) {
            int64_t f = vmlab_sim_run(pol[i], ids, b->n, (uint32_t)m, frames[j]);
            vmlab_checkinterrupt(L);
            if (f < 0)
                return vmlab_pushfail(L, (int)-f, "trace.simulate(%s, %zu frames)",
                                      vmlab_sim_policy_name(pol[i]), frames[j]);
            lua_createtable(L, 0, 5);
            lua_pushstring(L, vmlab_sim_policy_name(pol[i]));
            lua_setfield(L, -2, "policy");
            lua_pushinteger(L, (lua_Integer)frames[j]);
            lua_setfield(L, -2, "frames");
            lua_pushinteger(L, (lua_Integer)b->n);
            lua_setfield(L, -2, "references");
            lua_pushinteger(L, f);
            lua_setfield(L, -2, "faults");
            lua_pushnumber(L, b->n ? (double)f / (double)b->n : 0);
            lua_setfield(L, -2, "miss_ratio");
            lua_rawseti(L, -2, ++k);
        }
    return 1;
}

static void mrc_gc_free(lua_State *L, struct vmlab_mrc *c)
{
    (void)L;
    vmlab_mrc_free(c);
}

static int mrc_gc(lua_State *L)
{
    mrc_gc_free(L, lua_touserdata(L, 1));
    return 0;
}

/* mrc(refs, {method=, sizes=, points=, rate=, hot=, seed=, adjust=,
 * format=}) -> {method=, sizes={...}, miss_ratio={...}, references=,
 * distinct=} */
static int l_mrc(lua_State *L)
{
    static const char *const valid[] = {"method", "sizes", "points", "rate", "hot", "seed",
                                        "adjust", "format", NULL};
    static const char *const methods[] = {"lru", "opt", "shards", NULL};
    vmlab_checkopts(L, 2, "trace.mrc", valid);
    int top = lua_gettop(L) < 2 ? 2 : lua_gettop(L);
    lua_settop(L, top);
    const char *fmt = vmlab_optfield_string(L, 2, "format", NULL);
    lua_getfield(L, 2, "method");
    int method = luaL_checkoption(L, -1, "lru", methods);
    lua_pop(L, 1);
    struct pagebuf *b = check_refs(L, 1, fmt);
    uint32_t *ids = scratch(L, b->n * sizeof *ids);
    int64_t m = vmlab_sim_dense(b->pages, b->n, ids, NULL);
    struct vmlab_mrc *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    lua_newtable(L);
    lua_pushcfunction(L, mrc_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (m < 0)
        return vmlab_pushfail(L, (int)-m, "trace.mrc(%zu references)", b->n);
    int r;
    if (method == 0)
        r = vmlab_mrc_lru(ids, b->n, (uint32_t)m, c);
    else if (method == 1)
        r = vmlab_mrc_opt(ids, b->n, (uint32_t)m, c);
    else {
        struct vmlab_shards_opts o = {
            .rate = lua_istable(L, 2) ? (lua_getfield(L, 2, "rate"), luaL_optnumber(L, -1, 0.01)) : 0.01,
            .hot = (size_t)vmlab_optfield_int(L, 2, "hot", 0),
            .seed = (uint64_t)vmlab_optfield_int(L, 2, "seed", 1),
            .adjust = vmlab_optfield_bool(L, 2, "adjust", 1)};
        if (!(o.rate > 0 && o.rate <= 1))
            luaL_error(L, "trace.mrc: rate must be in (0, 1]");
        r = vmlab_mrc_shards(b->pages, b->n, &o, c);
    }
    if (r)
        return vmlab_pushfail(L, -r, "trace.mrc(%s, %zu references)", methods[method], b->n);
    size_t ns, points = (size_t)vmlab_optfield_int(L, 2, "points", 0);
    size_t *sizes = lua_istable(L, 2) ? int_list(L, 2, "sizes", &ns, 0) : (ns = 0, NULL);
    if (!sizes) { /* every size up to the distinct pages, or `points` spread evenly */
        size_t want = points ? points : (size_t)m < 1000 ? (size_t)m : 1000;
        if (want < 1)
            want = 1;
        sizes = scratch(L, want * sizeof *sizes);
        for (size_t i = 0; i < want; i++)
            sizes[i] = ((size_t)m * (i + 1) + want - 1) / want;
        ns = want;
    }
    double *ratio = scratch(L, ns * sizeof *ratio);
    vmlab_mrc_ratios(c, sizes, ns, ratio);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, methods[method]);
    lua_setfield(L, -2, "method");
    lua_pushinteger(L, (lua_Integer)b->n);
    lua_setfield(L, -2, "references");
    lua_pushinteger(L, m);
    lua_setfield(L, -2, "distinct");
    lua_createtable(L, (int)ns, 0);
    lua_createtable(L, (int)ns, 0);
    for (size_t i = 0; i < ns; i++) {
        lua_pushinteger(L, (lua_Integer)sizes[i]);
        lua_rawseti(L, -3, (lua_Integer)i + 1);
        lua_pushnumber(L, ratio[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -3, "miss_ratio");
    lua_setfield(L, -2, "sizes");
    return 1;
}

/* ---- reading: trace.events(path[, format]) ---- */

static struct vmlab_trace_reader **check_reader(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, READER_MT);
}

static int reader_close(lua_State *L)
{
    struct vmlab_trace_reader **r = check_reader(L, 1);
    vmlab_trace_close(*r);
    *r = NULL;
    return 0;
}

static int reader_tostring(lua_State *L)
{
    struct vmlab_trace_reader **r = check_reader(L, 1);
    lua_pushfstring(L, "vmlab.trace.reader (%s)", *r ? "open" : "closed");
    return 1;
}

static void push_event(lua_State *L, const struct vmlab_trace_event *e)
{
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, (lua_Integer)e->time);
    lua_setfield(L, -2, "time");
    lua_pushinteger(L, e->tid);
    lua_setfield(L, -2, "tid");
    lua_pushinteger(L, e->target);
    lua_setfield(L, -2, "target");
    lua_pushinteger(L, (lua_Integer)e->page);
    lua_setfield(L, -2, "page");
    lua_pushstring(L, e->kind ? "write" : "read");
    lua_setfield(L, -2, "kind");
}

static int events_iter(lua_State *L)
{
    struct vmlab_trace_reader **r = check_reader(L, lua_upvalueindex(1));
    struct vmlab_trace_event e;
    if (!*r)
        return 0;
    int rc = vmlab_trace_next(*r, &e);
    if (rc == 1) {
        push_event(L, &e);
        return 1;
    }
    if (rc < 0) {
        lua_pushstring(L, vmlab_trace_reader_error(*r));
        vmlab_trace_close(*r);
        *r = NULL;
        return lua_error(L);
    }
    vmlab_trace_close(*r);
    *r = NULL;
    return 0;
}

static void push_header(lua_State *L, const struct vmlab_trace_header *h, int fmt)
{
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, h->page_size);
    lua_setfield(L, -2, "page_size");
    lua_pushinteger(L, h->time_unit_ns);
    lua_setfield(L, -2, "time_unit_ns");
    lua_pushstring(L, vmlab_trace_format_name(fmt));
    lua_setfield(L, -2, "format");
    lua_createtable(L, (int)h->ntargets, 0);
    for (uint32_t i = 0; i < h->ntargets; i++) {
        const struct vmlab_trace_target *t = &h->targets[i];
        lua_createtable(L, 0, 5);
        lua_pushstring(L, t->name);
        lua_setfield(L, -2, "name");
        lua_pushinteger(L, (lua_Integer)t->start);
        lua_setfield(L, -2, "start");
        lua_pushinteger(L, (lua_Integer)t->length);
        lua_setfield(L, -2, "length");
        lua_pushinteger(L, (lua_Integer)t->inode);
        lua_setfield(L, -2, "inode");
        lua_pushinteger(L, (lua_Integer)t->offset);
        lua_setfield(L, -2, "offset");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "targets");
}

static struct vmlab_trace_reader **open_reader(lua_State *L, int pidx, int fidx)
{
    const char *path = luaL_checkstring(L, pidx);
    const char *fname = luaL_optstring(L, fidx, "auto");
    int fmt = vmlab_trace_format_find(fname);
    char err[300];
    if (fmt < 0)
        luaL_argerror(L, fidx, "unknown trace format (binary, text, pages, csv, oracleGeneral)");
    struct vmlab_trace_reader **r = lua_newuserdatauv(L, sizeof *r, 0);
    *r = NULL;
    luaL_setmetatable(L, READER_MT);
    *r = vmlab_trace_open(path, fmt, err, sizeof err);
    if (!*r)
        luaL_error(L, "trace.events: %s", err);
    return r;
}

/* for ev in trace.events(path[, format]) do ... end: the reader is the
 * to-be-closed fourth value, so a break or an error closes the file. */
static int l_events(lua_State *L)
{
    open_reader(L, 1, 2);                       /* r */
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, events_iter, 1);        /* r iter */
    lua_insert(L, -2);                          /* iter r */
    lua_pushnil(L);
    lua_pushnil(L);                             /* iter r nil nil */
    lua_rotate(L, -3, -1);                      /* iter nil nil r */
    return 4;
}

static int l_header(lua_State *L)
{
    struct vmlab_trace_reader **r = open_reader(L, 1, 2);
    push_header(L, vmlab_trace_reader_header(*r), vmlab_trace_reader_format(*r));
    vmlab_trace_close(*r);
    *r = NULL;
    return 1;
}

/* ---- writing ---- */

static struct vmlab_trace_writer **check_writer(lua_State *L, int idx)
{
    struct vmlab_trace_writer **w = luaL_checkudata(L, idx, WRITER_MT);
    return w;
}

static int writer_close(lua_State *L)
{
    struct vmlab_trace_writer **w = check_writer(L, 1);
    char err[256] = "";
    if (!*w) {
        lua_pushboolean(L, 1);
        return 1;
    }
    int r = vmlab_trace_finish(*w, err, sizeof err);
    *w = NULL;
    if (r)
        return vmlab_pushfail(L, -r, "trace writer close: %s", err);
    lua_pushboolean(L, 1);
    return 1;
}

static int writer_gc(lua_State *L)
{
    writer_close(L);
    return 0;
}

static int writer_tostring(lua_State *L)
{
    struct vmlab_trace_writer **w = check_writer(L, 1);
    if (*w)
        lua_pushfstring(L, "vmlab.trace.writer (%d events)", (int)vmlab_trace_written(*w));
    else
        lua_pushstring(L, "vmlab.trace.writer (closed)");
    return 1;
}

static uint64_t field_u64(lua_State *L, int idx, const char *k, uint64_t def)
{
    uint64_t v = def;
    if (lua_getfield(L, idx, k) != LUA_TNIL) {
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
            luaL_error(L, "event field '%s' must be an integer >= 0", k);
        v = (uint64_t)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* w:write(event) or w:write(page) */
static int writer_write(lua_State *L)
{
    struct vmlab_trace_writer **w = check_writer(L, 1);
    struct vmlab_trace_event e = {0};
    if (!*w)
        return luaL_error(L, "trace writer is closed");
    if (lua_isinteger(L, 2)) {
        e.page = (uint64_t)lua_tointeger(L, 2);
        e.time = vmlab_trace_written(*w);
    } else {
        static const char *const valid[] = {"time", "tid", "target", "page", "kind", NULL};
        luaL_checktype(L, 2, LUA_TTABLE);
        vmlab_checkopts(L, 2, "writer:write", valid);
        e.time = field_u64(L, 2, "time", vmlab_trace_written(*w));
        e.tid = (uint32_t)field_u64(L, 2, "tid", 0);
        e.target = (uint32_t)field_u64(L, 2, "target", 0);
        lua_getfield(L, 2, "page");
        if (!lua_isinteger(L, -1))
            luaL_error(L, "writer:write: an event needs an integer page");
        lua_pop(L, 1);
        e.page = field_u64(L, 2, "page", 0);
        const char *k = vmlab_optfield_string(L, 2, "kind", "read");
        if (strcmp(k, "read") && strcmp(k, "write"))
            luaL_error(L, "writer:write: kind must be 'read' or 'write', not '%s'", k);
        e.kind = k[0] == 'w';
    }
    int r = vmlab_trace_write(*w, &e);
    if (r)
        return vmlab_pushfail(L, -r, "trace write");
    lua_settop(L, 1);
    return 1;
}

/* trace.writer(path, {format=, page_size=, time_unit_ns=, targets=}) */
static int l_writer(lua_State *L)
{
    static const char *const valid[] = {"format", "page_size", "time_unit_ns", "targets", NULL};
    const char *path = luaL_checkstring(L, 1);
    vmlab_checkopts(L, 2, "trace.writer", valid);
    const char *fname = vmlab_optfield_string(L, 2, "format", "auto");
    int fmt = vmlab_trace_format_find(fname);
    if (fmt < 0)
        return luaL_error(L, "trace.writer: unknown format '%s'", fname);
    struct vmlab_trace_header h = {
        .page_size = (uint32_t)vmlab_optfield_int(L, 2, "page_size", (lua_Integer)vmlab_pagesize()),
        .time_unit_ns = (uint32_t)vmlab_optfield_int(L, 2, "time_unit_ns", 0)};
    if (lua_istable(L, 2) && lua_getfield(L, 2, "targets") == LUA_TTABLE) {
        h.ntargets = (uint32_t)lua_rawlen(L, -1);
        h.targets = scratch(L, h.ntargets * sizeof *h.targets);
        memset(h.targets, 0, h.ntargets * sizeof *h.targets);
        for (uint32_t i = 0; i < h.ntargets; i++) {
            lua_rawgeti(L, -2, (lua_Integer)i + 1);
            int t = lua_gettop(L);
            snprintf(h.targets[i].name, sizeof h.targets[i].name, "%s",
                     vmlab_optfield_string(L, t, "name", ""));
            h.targets[i].start = field_u64(L, t, "start", 0);
            h.targets[i].length = field_u64(L, t, "length", 0);
            h.targets[i].inode = field_u64(L, t, "inode", 0);
            h.targets[i].offset = field_u64(L, t, "offset", 0);
            lua_pop(L, 1);
        }
    }
    struct vmlab_trace_writer **w = lua_newuserdatauv(L, sizeof *w, 0);
    char err[300];
    *w = NULL;
    luaL_setmetatable(L, WRITER_MT);
    *w = vmlab_trace_create(path, fmt, &h, err, sizeof err);
    if (!*w)
        return vmlab_pushfail(L, EIO, "trace.writer(%s): %s", path, err);
    return 1;
}

/* convert(in, out, {from=, to=}) -> events written */
static int l_convert(lua_State *L)
{
    static const char *const valid[] = {"from", "to", NULL};
    const char *in = luaL_checkstring(L, 1), *out = luaL_checkstring(L, 2);
    vmlab_checkopts(L, 3, "trace.convert", valid);
    int from = vmlab_trace_format_find(vmlab_optfield_string(L, 3, "from", "auto"));
    int to = vmlab_trace_format_find(vmlab_optfield_string(L, 3, "to", "auto"));
    if (from < 0 || to < 0)
        return luaL_error(L, "trace.convert: unknown format (binary, text, pages, csv, oracleGeneral)");
    lua_settop(L, 3);
    struct vmlab_trace_reader **r = open_reader(L, 1, 4); /* slot 4 is none: auto */
    vmlab_trace_close(*r);
    char err[300] = "";
    *r = vmlab_trace_open(in, from, err, sizeof err);
    if (!*r)
        return luaL_error(L, "trace.convert: %s", err);
    struct vmlab_trace_writer **w = lua_newuserdatauv(L, sizeof *w, 0);
    luaL_setmetatable(L, WRITER_MT);
    *w = vmlab_trace_create(out, to, vmlab_trace_reader_header(*r), err, sizeof err);
    if (!*w)
        return vmlab_pushfail(L, EIO, "trace.convert(%s): %s", out, err);
    struct vmlab_trace_event e;
    int rc;
    while ((rc = vmlab_trace_next(*r, &e)) == 1)
        if (vmlab_trace_write(*w, &e))
            return vmlab_pushfail(L, EIO, "trace.convert: writing %s", out);
    if (rc < 0)
        return luaL_error(L, "trace.convert: %s: %s", in, vmlab_trace_reader_error(*r));
    lua_Integer n = (lua_Integer)vmlab_trace_written(*w);
    rc = vmlab_trace_finish(*w, err, sizeof err);
    *w = NULL;
    if (rc)
        return vmlab_pushfail(L, -rc, "trace.convert(%s): %s", out, err);
    lua_pushinteger(L, n);
    return 1;
}

/* plot(path, {output=, kind=, width=, height=, title=, tau=, gap=,
 * policies=, points=, format=}) -> true */
static int l_plot(lua_State *L)
{
    static const char *const valid[] = {"output", "kind", "width", "height", "title", "tau", "gap",
                                        "policies", "points", "format", NULL};
    static const char *const kinds[] = {"address", "wss", "reuse", "mrc", NULL};
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    vmlab_checkopts(L, 2, "trace.plot", valid);
    struct vmlab_trace_plot_opts o = {0};
    o.output = vmlab_optfield_string(L, 2, "output", NULL);
    if (!o.output)
        return luaL_error(L, "trace.plot: option 'output' (an image: .png, .svg, .pdf) is required");
    const char *dot = strrchr(o.output, '.');
    if (!dot || (strcmp(dot, ".png") && strcmp(dot, ".svg") && strcmp(dot, ".pdf")))
        return luaL_error(L, "trace.plot: %s: the image format comes from the suffix: .png, .svg or .pdf",
                          o.output);
    lua_getfield(L, 2, "kind");
    o.kind = luaL_checkoption(L, -1, "address", kinds);
    lua_pop(L, 1);
    o.width = (int)vmlab_optfield_int(L, 2, "width", 1000);
    o.height = (int)vmlab_optfield_int(L, 2, "height", 600);
    o.title = vmlab_optfield_string(L, 2, "title", NULL);
    o.gap_pages = (uint64_t)vmlab_optfield_int(L, 2, "gap", 0);
    o.points = (size_t)vmlab_optfield_int(L, 2, "points", 0);
    lua_getfield(L, 2, "tau");
    o.tau = luaL_optnumber(L, -1, 0);
    lua_pop(L, 1);
    int fmt = vmlab_trace_format_find(vmlab_optfield_string(L, 2, "format", "auto"));
    if (fmt < 0)
        return luaL_error(L, "trace.plot: unknown format");
    int *pol = NULL;
    if (lua_getfield(L, 2, "policies") == LUA_TTABLE) {
        o.npolicies = lua_rawlen(L, -1);
        pol = scratch(L, (o.npolicies + 1) * sizeof *pol);
        for (size_t i = 0; i < o.npolicies; i++) {
            lua_rawgeti(L, -2, (lua_Integer)i + 1);
            const char *name = lua_tostring(L, -1);
            if (!name || (pol[i] = vmlab_sim_policy_find(name)) < 0)
                return luaL_error(L, "trace.plot: unknown policy '%s'", name ? name : "?");
            lua_pop(L, 1);
        }
        o.policies = pol;
    } else if (!lua_isnil(L, -1))
        return luaL_error(L, "trace.plot: policies must be an array of policy names");
    char err[300] = "";
    int r = vmlab_trace_plot(path, fmt, &o, err, sizeof err);
    if (r == -EINVAL)
        return luaL_error(L, "trace.plot: %s", err);
    if (r)
        return vmlab_pushfail(L, -r, "trace.plot(%s): %s", path, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_main(lua_State *L)
{
    int n = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushstring(L, "vmlab.trace_cli");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "main");
    lua_insert(L, 1);
    lua_pop(L, 1);
    lua_call(L, n, 1);
    return 1;
}

int luaopen_vmlab_trace(lua_State *L)
{
    static const luaL_Reg rmeth[] = {{"close", reader_close}, {NULL, NULL}};
    static const luaL_Reg rmeta[] = {{"__close", reader_close}, {"__gc", reader_close},
                                     {"__tostring", reader_tostring}, {NULL, NULL}};
    static const luaL_Reg wmeth[] = {{"write", writer_write}, {"close", writer_close}, {NULL, NULL}};
    static const luaL_Reg wmeta[] = {{"__close", writer_gc}, {"__gc", writer_gc},
                                     {"__tostring", writer_tostring}, {NULL, NULL}};
    static const luaL_Reg fns[] = {
        {"policies", l_policies}, {"simulate", l_simulate}, {"mrc", l_mrc},
        {"events", l_events}, {"header", l_header}, {"writer", l_writer},
        {"convert", l_convert}, {"plot", l_plot}, {"main", l_main}, {NULL, NULL}};
    vmlab_newclass(L, READER_MT, rmeth, rmeta);
    vmlab_newclass(L, WRITER_MT, wmeth, wmeta);
    luaL_newlib(L, fns);
    vmlab_trace_capture_open(L);
    return 1;
}
