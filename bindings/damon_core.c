/* require "vmlab.damon.core": DAMON's region algorithms on plain Lua
 * arrays, for experiments and unit tests.  A region is {start=, ["end"]=,
 * nr_accesses=, age=} (end exclusive); functions return new tables. */
#include "vmlab/damon.h"
#include "vmlab/host.h"

#include <errno.h>
#include <string.h>

static uint64_t field_u64(lua_State *L, int idx, const char *k, int required, uint64_t def)
{
    lua_Integer v = 0;
    int t = lua_getfield(L, idx, k);
    if (t == LUA_TNIL && !required) {
        lua_pop(L, 1);
        return def;
    }
    if (!lua_isinteger(L, -1) || (v = lua_tointeger(L, -1)) < 0)
        luaL_error(L, "region field '%s' must be an integer >= 0", k);
    lua_pop(L, 1);
    return (uint64_t)v;
}

static void check_region(lua_State *L, int idx, struct vmlab_region *r)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    memset(r, 0, sizeof *r);
    r->start = field_u64(L, idx, "start", 1, 0);
    r->end = field_u64(L, idx, "end", 1, 0);
    if (r->end <= r->start)
        luaL_error(L, "region [%I, %I) is empty or reversed", (lua_Integer)r->start, (lua_Integer)r->end);
    r->nr_accesses = (uint32_t)field_u64(L, idx, "nr_accesses", 0, 0);
    r->age = (uint32_t)field_u64(L, idx, "age", 0, 0);
    r->last_nr_accesses = (uint32_t)field_u64(L, idx, "last_nr_accesses", 0, r->nr_accesses);
    r->sampling_addr = r->start;
}

/* A Lua array of regions -> a sorted, non-overlapping region list. */
static void check_list(lua_State *L, int idx, struct vmlab_regions *rs)
{
    lua_Integer n;
    luaL_checktype(L, idx, LUA_TTABLE);
    n = luaL_len(L, idx);
    memset(rs, 0, sizeof *rs);
    for (lua_Integer i = 1; i <= n; i++) {
        struct vmlab_region r;
        lua_rawgeti(L, idx, i);
        check_region(L, -1, &r);
        lua_pop(L, 1);
        if (rs->n && r.start < rs->v[rs->n - 1].end) {
            vmlab_regions_free(rs);
            luaL_error(L, "regions must be sorted and must not overlap (region %d)", (int)i);
        }
        if (vmlab_regions_push(rs, r.start, r.end)) {
            vmlab_regions_free(rs);
            luaL_error(L, "not enough memory");
        }
        rs->v[rs->n - 1] = r;
    }
}

/* Push the list and free it. */
static int push_list(lua_State *L, struct vmlab_regions *rs)
{
    vmlab_pushregions(L, rs->v, rs->n);
    vmlab_regions_free(rs);
    return 1;
}

static uint64_t check_u64(lua_State *L, int idx)
{
    lua_Integer v = luaL_checkinteger(L, idx);
    if (v < 0)
        luaL_argerror(L, idx, "must be >= 0");
    return (uint64_t)v;
}

/* three_regions(vmas) -> 3 regions, or nil, err */
static int l_three_regions(lua_State *L)
{
    struct vmlab_regions vmas;
    struct vmlab_range *v, out[3];
    int r;

    check_list(L, 1, &vmas);
    v = lua_newuserdatauv(L, (vmas.n + 1) * sizeof *v, 0);
    for (size_t i = 0; i < vmas.n; i++)
        v[i] = (struct vmlab_range){vmas.v[i].start, vmas.v[i].end};
    r = vmlab_damon_three_regions(v, vmas.n, out);
    vmlab_regions_free(&vmas);
    if (r < 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "three_regions: the areas need two gaps between them");
        return 2;
    }
    lua_createtable(L, 3, 0);
    for (int i = 0; i < 3; i++) {
        struct vmlab_region reg = {.start = out[i].start, .end = out[i].end};
        vmlab_pushregion(L, &reg, 0);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* split_evenly(start, end_, n[, min_sz]) -> list, or nil, err */
static int l_split_evenly(lua_State *L)
{
    uint64_t start = check_u64(L, 1), end = check_u64(L, 2);
    lua_Integer n = luaL_checkinteger(L, 3);
    uint64_t min_sz = (uint64_t)luaL_optinteger(L, 4, 1);
    struct vmlab_regions rs = {0};

    if (end <= start)
        return luaL_argerror(L, 2, "end must be above start");
    if (n <= 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "split_evenly: the number of pieces must be at least 1");
        return 2;
    }
    vmlab_regions_push(&rs, start, end);
    if (vmlab_damon_split_evenly(&rs, 0, (size_t)n, min_sz) < 0) {
        vmlab_regions_free(&rs);
        lua_pushnil(L);
        lua_pushfstring(L, "split_evenly: [%I, %I) cannot make %I pieces of at least %I",
                        (lua_Integer)start, (lua_Integer)end, n, (lua_Integer)min_sz);
        return 2;
    }
    return push_list(L, &rs);
}

/* split_at(r, sz) -> left, right */
static int l_split_at(lua_State *L)
{
    struct vmlab_regions rs = {0};
    struct vmlab_region r;
    uint64_t sz = check_u64(L, 2);

    check_region(L, 1, &r);
    if (sz == 0 || sz >= vmlab_region_size(&r))
        return luaL_argerror(L, 2, "the split point must fall inside the region");
    vmlab_regions_push(&rs, r.start, r.end);
    rs.v[0] = r;
    vmlab_damon_split_at(&rs, 0, sz);
    vmlab_pushregion(L, &rs.v[0], 0);
    vmlab_pushregion(L, &rs.v[1], 0);
    vmlab_regions_free(&rs);
    return 2;
}

/* merge_two(l, r) -> region */
static int l_merge_two(lua_State *L)
{
    struct vmlab_regions rs = {0};
    struct vmlab_region a, b;

    check_region(L, 1, &a);
    check_region(L, 2, &b);
    if (a.end != b.start)
        return luaL_error(L, "merge_two: the regions are not adjacent ([%I, %I) and [%I, %I))",
                          (lua_Integer)a.start, (lua_Integer)a.end, (lua_Integer)b.start, (lua_Integer)b.end);
    vmlab_regions_push(&rs, a.start, a.end);
    vmlab_regions_push(&rs, b.start, b.end);
    rs.v[0] = a;
    rs.v[1] = b;
    vmlab_damon_merge_two(&rs, 0);
    vmlab_pushregion(L, &rs.v[0], 0);
    vmlab_regions_free(&rs);
    return 1;
}

/* merge_regions(list, thres, sz_limit) -> list */
static int l_merge_regions(lua_State *L)
{
    struct vmlab_regions rs;
    uint64_t thres = check_u64(L, 2), limit = check_u64(L, 3);
    check_list(L, 1, &rs);
    vmlab_damon_merge_regions_of(&rs, (unsigned)thres, limit);
    return push_list(L, &rs);
}

/* split_regions(list, nr_pieces, min_sz, seed) -> list */
static int l_split_regions(lua_State *L)
{
    struct vmlab_regions rs;
    lua_Integer pieces = luaL_checkinteger(L, 2);
    uint64_t min_sz = (uint64_t)luaL_optinteger(L, 3, 1);
    struct vmlab_rng rng = {(uint64_t)luaL_optinteger(L, 4, 1)};

    if (pieces < 1)
        return luaL_argerror(L, 2, "at least 1 piece");
    check_list(L, 1, &rs);
    vmlab_damon_split_regions_of(&rs, (int)pieces, min_sz ? min_sz : 1, &rng);
    return push_list(L, &rs);
}

/* set_regions(list, ranges[, min_sz]) -> list */
static int l_set_regions(lua_State *L)
{
    struct vmlab_regions rs, rg;
    struct vmlab_range *ranges;
    uint64_t min_sz = (uint64_t)luaL_optinteger(L, 3, 1);

    check_list(L, 2, &rg);
    ranges = lua_newuserdatauv(L, (rg.n + 1) * sizeof *ranges, 0);
    for (size_t i = 0; i < rg.n; i++)
        ranges[i] = (struct vmlab_range){rg.v[i].start, rg.v[i].end};
    check_list(L, 1, &rs);
    if (vmlab_damon_set_regions(&rs, ranges, rg.n, min_sz ? min_sz : 1) < 0) {
        vmlab_regions_free(&rs);
        vmlab_regions_free(&rg);
        return luaL_error(L, "set_regions: not enough memory");
    }
    vmlab_regions_free(&rg);
    return push_list(L, &rs);
}

static const luaL_Reg funcs[] = {
    {"three_regions", l_three_regions}, {"split_evenly", l_split_evenly},
    {"split_at", l_split_at},           {"merge_two", l_merge_two},
    {"merge_regions", l_merge_regions}, {"split_regions", l_split_regions},
    {"set_regions", l_set_regions},     {NULL, NULL}};

int luaopen_vmlab_damon_core(lua_State *L)
{
    luaL_newlib(L, funcs);
    return 1;
}
