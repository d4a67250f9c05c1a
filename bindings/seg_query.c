/* require "vmlab.seg", part two: what a segment's pages are (resident,
 * pagemap, node) and NUMA placement (mbind, policy, move), and the
 * /proc/self/maps entries that answer the same queries.  Split from
 * bindings/seg.c to keep each file under 800 lines; the shared helpers
 * are in seg_glue.h. */
#include "seg_glue.h"
#include "vmlab/host.h"
#include "vmlab/maps.h"
#include "vmlab/numa.h"
#include "vmlab/seg.h"
#include "vmlab/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const resident_keys[] = {VMLAB_SEG_RANGE_KEYS, "pages", NULL};
static const char *const flags_keys[] = {VMLAB_SEG_RANGE_KEYS, "flags", NULL};

/* ---- methods: queries --------------------------------------------------- */

/* s:resident([{offset=, length=, pages=true}]) -> resident pages, total[, per-page booleans] */
static int resident_of(lua_State *L, struct vmlab_seg *s, int opts)
{
    uint64_t off, len, n;
    unsigned char *vec;
    int64_t r;
    int want_pages;

    vmlab_checkopts(L, opts, "s:resident", resident_keys);
    segl_requiremapped(L, s, "resident");
    segl_range_opts(L, opts, s, &off, &len);
    want_pages = vmlab_optfield_bool(L, opts, "pages", 0);
    n = (len + vmlab_pagesize() - 1) / vmlab_pagesize();
    vec = lua_newuserdatauv(L, n + 1, 0);                /* scratch: Lua's */
    r = vmlab_seg_resident(s, off, len, vec);
    if (r < 0)
        return vmlab_pushfail(L, (int)-r, "mincore(%s)", segl_describe(L, s, off, len));
    lua_pushinteger(L, r);
    lua_pushinteger(L, (lua_Integer)n);
    if (want_pages) {
        lua_createtable(L, (int)n, 0);
        for (uint64_t i = 0; i < n; i++) {
            lua_pushboolean(L, vec[i] & 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return 3;
    }
    return 2;
}
static int seg_resident(lua_State *L) { return resident_of(L, segl_check(L, 1), 2); }

/* s:pages([{offset=, length=}]) -> { {present=, swapped=, thp=, pfn=, ...}, ... } */
static int pages_of(lua_State *L, struct vmlab_seg *s, int opts)
{
    uint64_t off, len, n;
    struct vmlab_page_info *pi;
    int r;

    vmlab_checkopts(L, opts, "s:pages", vmlab_seg_range_keys);
    segl_requiremapped(L, s, "pages");
    segl_range_opts(L, opts, s, &off, &len);
    n = (len + vmlab_pagesize() - 1) / vmlab_pagesize();
    pi = lua_newuserdatauv(L, (n + 1) * sizeof *pi, 0);   /* scratch: Lua's */
    memset(pi, 0, (n + 1) * sizeof *pi);
    if ((r = vmlab_seg_pages(s, off, len, pi)) < 0)
        return vmlab_pushfail(L, -r, "pagemap(%s)", segl_describe(L, s, off, len));
    lua_createtable(L, (int)n, 0);
    for (uint64_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 6);
        lua_pushboolean(L, pi[i].present); lua_setfield(L, -2, "present");
        lua_pushboolean(L, pi[i].swapped); lua_setfield(L, -2, "swapped");
        lua_pushboolean(L, pi[i].thp); lua_setfield(L, -2, "thp");
        lua_pushboolean(L, pi[i].exclusive); lua_setfield(L, -2, "exclusive");
        lua_pushboolean(L, pi[i].file); lua_setfield(L, -2, "file");
        if (pi[i].pfn) {
            lua_pushinteger(L, (lua_Integer)pi[i].pfn);
            lua_setfield(L, -2, "pfn");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}
static int seg_pages(lua_State *L) { return pages_of(L, segl_check(L, 1), 2); }

/* Chunks of where() answers go straight into the Lua table (if any) and
 * the per-node counts. */
struct where_acc {
    lua_State *L;
    int table;                         /* stack index of the result, or 0 */
    uint64_t absent;
    uint64_t per_node[VMLAB_MAX_NODES];
};

static void where_chunk(void *ctx, uint64_t first, const int *nodes, uint64_t n)
{
    struct where_acc *w = ctx;
    for (uint64_t i = 0; i < n; i++) {
        int node = nodes[i];
        if (node < 0 || node >= VMLAB_MAX_NODES)
            w->absent++;
        else
            w->per_node[node]++;
        if (w->table) {
            if (node >= 0)
                lua_pushinteger(w->L, node);
            else
                lua_pushboolean(w->L, 0);
            lua_rawseti(w->L, w->table, (lua_Integer)(first + i + 1));
        }
    }
}

/* s:where([{offset=, length=}]) -> { node or false (not present), ... }, counts */
static int where_of(lua_State *L, struct vmlab_seg *s, int opts, int counts_only)
{
    struct where_acc *w;
    uint64_t off, len, n;
    int r;

    vmlab_checkopts(L, opts, counts_only ? "s:numa_counts" : "s:where", vmlab_seg_range_keys);
    segl_requiremapped(L, s, counts_only ? "numa_counts" : "where");
    segl_range_opts(L, opts, s, &off, &len);
    n = (len + vmlab_pagesize() - 1) / vmlab_pagesize();
    w = lua_newuserdatauv(L, sizeof *w, 0);                       /* acc */
    memset(w, 0, sizeof *w);
    w->L = L;
    if (!counts_only) {
        lua_createtable(L, n > INT32_MAX ? INT32_MAX : (int)n, 0); /* acc where */
        w->table = lua_gettop(L);
    }
    if ((r = vmlab_seg_where_each(s, off, len, where_chunk, w)) < 0)
        return vmlab_pushfail(L, -r, "move_pages(%s, query)", segl_describe(L, s, off, len));
    lua_newtable(L);                                              /* acc [where] counts */
    for (int i = 0; i < VMLAB_MAX_NODES; i++)
        if (w->per_node[i]) {
            lua_pushinteger(L, (lua_Integer)w->per_node[i]);
            lua_rawseti(L, -2, i);
        }
    lua_pushinteger(L, (lua_Integer)w->absent);
    lua_setfield(L, -2, "absent");
    return counts_only ? 1 : 2;
}
static int seg_where(lua_State *L) { return where_of(L, segl_check(L, 1), 2, 0); }
static int seg_numa_counts(lua_State *L) { return where_of(L, segl_check(L, 1), 2, 1); }

/* Flags "move+all" or {"move", "all"} (and "static"/"relative" mode flags). */
static void check_flags(lua_State *L, const char *text, struct vmlab_policy_spec *p)
{
    char err[160];
    if (vmlab_parse_policy_flags(text, p, err, sizeof err) < 0)
        luaL_error(L, "%s", err);
}

/* s:mbind(policy, nodes[, {flags=, offset=, length=}]); policy may carry
 * flags as memtoy writes them: "bind+move+all". */
static int seg_mbind(lua_State *L)
{
    struct vmlab_seg *s = segl_check(L, 1);
    const char *spec = vmlab_checkcstring(L, 2, NULL);
    struct vmlab_policy_spec p = {-1, 0, 0};
    char err[160], nodestr[256];
    struct vmlab_nodemask nodes;
    uint64_t off, len;
    int r;

    if (vmlab_parse_policy(spec, &p, err, sizeof err) < 0)
        return luaL_argerror(L, 2, err);
    vmlab_checknodes(L, 3, &nodes);
    vmlab_checkopts(L, 4, "s:mbind", flags_keys);
    if (lua_type(L, 4) == LUA_TTABLE) {
        lua_getfield(L, 4, "flags");
        if (lua_type(L, -1) == LUA_TSTRING) {
            check_flags(L, lua_tostring(L, -1), &p);
        } else if (lua_type(L, -1) == LUA_TTABLE) {
            for (lua_Integer i = 1; i <= luaL_len(L, -1); i++) {
                lua_rawgeti(L, -1, i);
                if (lua_type(L, -1) != LUA_TSTRING)
                    luaL_error(L, "bad option 'flags' (names expected, got %s)", luaL_typename(L, -1));
                check_flags(L, lua_tostring(L, -1), &p);
                lua_pop(L, 1);
            }
        }
        else if (!lua_isnil(L, -1))
            luaL_error(L, "bad option 'flags' (a string or an array of names)");
        lua_pop(L, 1);
    }
    segl_requiremapped(L, s, "mbind");
    segl_range_opts(L, 4, s, &off, &len);
    r = vmlab_seg_mbind(s, off, len, p.mode | p.mode_flags, lua_isnoneornil(L, 3) ? NULL : &nodes, p.mbind_flags);
    vmlab_format_nodes(&nodes, nodestr, sizeof nodestr);
    return segl_ok_or_fail(L, r, "mbind(%s, %s)", segl_describe(L, s, off, len),
                      lua_pushfstring(L, "%s {%s}", spec, nodestr));
}

/* s:policy([offset]) -> policy name, nodes */
static int seg_policy(lua_State *L)
{
    struct vmlab_seg *s = segl_check(L, 1);
    uint64_t off = vmlab_optsize(L, 2, 0);
    struct vmlab_nodemask nodes;
    int mode, r;

    segl_requiremapped(L, s, "policy");
    if (off >= s->size)
        return luaL_argerror(L, 2, "offset outside the segment");
    if ((r = vmlab_seg_policy(s, off - off % vmlab_pagesize(), &mode, &nodes)) < 0)
        return vmlab_pushfail(L, -r, "get_mempolicy(%s)", segl_describe(L, s, off, 0));
    lua_pushstring(L, vmlab_mpol_name(mode & 0xff));
    vmlab_pushnodes(L, &nodes);
    return 2;
}

/* s:move(node[, {offset=, length=, flags="all"}]) -> pages not moved, status */
static int seg_move(lua_State *L)
{
    struct vmlab_seg *s = segl_check(L, 1);
    lua_Integer node = vmlab_checkrange(L, 2, 0, VMLAB_MAX_NODES - 1);
    uint64_t off, len, n;
    struct vmlab_policy_spec p = {-1, 0, 0};
    unsigned mf;
    int *status;
    long r;

    vmlab_checkopts(L, 3, "s:move", flags_keys);
    segl_requiremapped(L, s, "move");
    segl_range_opts(L, 3, s, &off, &len);
    check_flags(L, vmlab_optfield_string(L, 3, "flags", ""), &p);
    /* move_pages knows MOVE (this process's pages) and MOVE_ALL (shared too). */
    mf = (p.mbind_flags & (unsigned)vmlab_mbind_flag("all")) ? (unsigned)vmlab_mbind_flag("all")
                                                 : (unsigned)vmlab_mbind_flag("move");
    n = (len + vmlab_pagesize() - 1) / vmlab_pagesize();
    status = lua_newuserdatauv(L, (n + 1) * sizeof *status, 0);  /* scratch: Lua's */
    r = vmlab_seg_move(s, off, len, (int)node, mf, status);
    if (r < 0)
        return vmlab_pushfail(L, (int)-r, "move_pages(%s, to node %d)", segl_describe(L, s, off, len), (int)node);
    lua_pushinteger(L, r);
    lua_createtable(L, (int)n, 0);
    for (uint64_t i = 0; i < n; i++) {
        lua_pushinteger(L, status[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 2;
}

/* ---- /proc/self/maps ---------------------------------------------------- */

/* A maps entry as a stack segment, for read-only queries. */
static struct vmlab_seg *mapping_seg(lua_State *L, int idx, struct vmlab_seg *tmp)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    memset(tmp, 0, sizeof *tmp);
    lua_getfield(L, idx, "start");
    lua_getfield(L, idx, "end");
    tmp->addr = (void *)(uintptr_t)luaL_checkinteger(L, -2);
    tmp->size = (size_t)(luaL_checkinteger(L, -1) - luaL_checkinteger(L, -2));
    lua_pop(L, 2);
    lua_getfield(L, idx, "path");
    snprintf(tmp->name, sizeof tmp->name, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "[anon]");
    lua_pop(L, 1);
    tmp->kind = VMLAB_SEG_WRAP;
    tmp->mapped = 1;
    tmp->fd = tmp->shmid = -1;
    tmp->pagesize = vmlab_pagesize();
    return tmp;
}
static int map_resident(lua_State *L) { struct vmlab_seg t; return resident_of(L, mapping_seg(L, 1, &t), 2); }
static int map_where(lua_State *L) { struct vmlab_seg t; return where_of(L, mapping_seg(L, 1, &t), 2, 0); }
static int map_pages(lua_State *L) { struct vmlab_seg t; return pages_of(L, mapping_seg(L, 1, &t), 2); }
static int map_counts(lua_State *L) { struct vmlab_seg t; return where_of(L, mapping_seg(L, 1, &t), 2, 1); }

const luaL_Reg vmlab_seg_map_methods[] = {
    {"resident", map_resident}, {"where", map_where}, {"pages", map_pages},
    {"numa_counts", map_counts}, {NULL, NULL}};

static void free_maps(void *p, size_t n) { vmlab_maps_free(p, n); }

/* seg.maps() -> { {start=, ["end"]=, size=, perms=, offset=, path=}, ... } */
int vmlab_seg_l_maps(lua_State *L)
{
    struct vmlab_box *box = vmlab_newbox(L, free_maps);   /* box: pushing may raise */
    struct vmlab_mapping *v;
    size_t n;
    int r = vmlab_maps_read(&v, &n);    /* read whole */

    if (r < 0)
        return vmlab_pushfail(L, -r, "seg.maps(): reading /proc/self/maps");
    box->p = v;
    box->n = n;
    lua_createtable(L, (int)n, 0);                              /* list */
    for (size_t i = 0; i < n; i++) {
        const struct vmlab_mapping *m = &v[i];
        lua_createtable(L, 0, 6);                               /* list e */
        lua_pushinteger(L, (lua_Integer)m->start); lua_setfield(L, -2, "start");
        lua_pushinteger(L, (lua_Integer)m->end); lua_setfield(L, -2, "end");
        lua_pushinteger(L, (lua_Integer)(m->end - m->start)); lua_setfield(L, -2, "size");
        lua_pushstring(L, m->perms); lua_setfield(L, -2, "perms");
        lua_pushinteger(L, (lua_Integer)m->offset); lua_setfield(L, -2, "offset");
        if (*m->path) {
            lua_pushstring(L, m->path);
            lua_setfield(L, -2, "path");
        }
        luaL_setmetatable(L, MAPS_MT);
        lua_rawseti(L, -2, (lua_Integer)i + 1);                 /* list */
    }
    vmlab_box_release(box);
    return 1;
}

const luaL_Reg vmlab_seg_query_methods[] = {
    {"resident", seg_resident}, {"pages", seg_pages}, {"where", seg_where},
    {"mbind", seg_mbind},       {"policy", seg_policy}, {"move", seg_move},
    {"numa_counts", seg_numa_counts}, {NULL, NULL}};
