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

/* A count field, range-checked before it is narrowed. */
static uint32_t field_u32(lua_State *L, int idx, const char *k, uint32_t def)
{
    uint64_t v = field_u64(L, idx, k, 0, def);
    if (v > UINT32_MAX)
        luaL_error(L, "region field '%s' must be at most %I", k, (lua_Integer)UINT32_MAX);
    return (uint32_t)v;
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
    r->nr_accesses = field_u32(L, idx, "nr_accesses", 0);
    r->age = field_u32(L, idx, "age", 0);
    r->last_nr_accesses = field_u32(L, idx, "last_nr_accesses", r->nr_accesses);
    r->sampling_addr = r->start;
}

/* A Lua array of regions -> a sorted, non-overlapping region list.  It is
 * checked into a Lua-owned array first (left on the stack), so that a bad
 * entry raises with nothing malloc'ed; only then is it copied into rs,
 * which the engine may grow, and nothing raises until it is freed. */
static struct vmlab_region *check_array(lua_State *L, int idx, size_t *np)
{
    lua_Integer n;
    struct vmlab_region *v;

    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    n = luaL_len(L, idx);
    if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof *v - 1)
        luaL_argerror(L, idx, "too many regions");
    v = lua_newuserdatauv(L, ((size_t)n + 1) * sizeof *v, 0);  /* .. array */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        check_region(L, -1, &v[i - 1]);
        lua_pop(L, 1);
        if (i > 1 && v[i - 1].start < v[i - 2].end)
            luaL_error(L, "regions must be sorted and must not overlap (region %d)", (int)i);
    }
    *np = (size_t)n;
    return v;
}

/* Copy a checked array into rs (malloc'ed: the engine grows it). */
static int to_list(const struct vmlab_region *v, size_t n, struct vmlab_regions *rs)
{
    memset(rs, 0, sizeof *rs);
    for (size_t i = 0; i < n; i++) {
        if (vmlab_regions_push(rs, v[i].start, v[i].end)) {
            vmlab_regions_free(rs);
            return -ENOMEM;
        }
        rs->v[i] = v[i];
    }
    return 0;
}

static void check_list(lua_State *L, int idx, struct vmlab_regions *rs)
{
    size_t n;
    struct vmlab_region *v = check_array(L, idx, &n);
    if (to_list(v, n, rs) < 0)
        luaL_error(L, "not enough memory");
    lua_pop(L, 1);
}

/* Push the list and free it. */
static int push_list(lua_State *L, struct vmlab_regions *rs)
{
    vmlab_pushregions(L, rs->v, rs->n);
    vmlab_regions_free(rs);
    return 1;
}

static uint64_t check_u64(lua_State *L, int idx, lua_Integer def)
{
    lua_Integer v = def < 0 ? luaL_checkinteger(L, idx) : luaL_optinteger(L, idx, def);
    if (v < 0)
        luaL_argerror(L, idx, "must be >= 0");
    return (uint64_t)v;
}

/* three_regions(vmas) -> 3 regions, or nil, err */
static int l_three_regions(lua_State *L)
{
    struct vmlab_range *v, out[3];
    size_t n;
    const struct vmlab_region *vmas = check_array(L, 1, &n);
    int r;

    v = lua_newuserdatauv(L, (n + 1) * sizeof *v, 0);
    for (size_t i = 0; i < n; i++)
        v[i] = (struct vmlab_range){vmas[i].start, vmas[i].end};
    r = vmlab_damon_three_regions(v, n, out);
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
    uint64_t start = check_u64(L, 1, -1), end = check_u64(L, 2, -1);
    lua_Integer n = luaL_checkinteger(L, 3);
    uint64_t min_sz = check_u64(L, 4, 1);
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
    uint64_t sz = check_u64(L, 2, -1);

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
    uint64_t thres = check_u64(L, 2, -1), limit = check_u64(L, 3, -1);
    luaL_argcheck(L, thres <= UINT32_MAX, 2, "a count of accesses (at most 2^32 - 1)");
    check_list(L, 1, &rs);
    vmlab_damon_merge_regions_of(&rs, (unsigned)thres, limit);
    return push_list(L, &rs);
}

/* split_regions(list, nr_pieces, min_sz, seed) -> list */
static int l_split_regions(lua_State *L)
{
    struct vmlab_regions rs;
    lua_Integer pieces = luaL_checkinteger(L, 2);
    uint64_t min_sz = check_u64(L, 3, 1);
    struct vmlab_rng rng = {(uint64_t)luaL_optinteger(L, 4, 1)};

    if (pieces < 1 || pieces > 1000)
        return luaL_argerror(L, 2, "1 to 1000 pieces");
    check_list(L, 1, &rs);
    vmlab_damon_split_regions_of(&rs, (int)pieces, min_sz ? min_sz : 1, &rng);
    return push_list(L, &rs);
}

/* set_regions(list, ranges[, min_sz]) -> list */
static int l_set_regions(lua_State *L)
{
    struct vmlab_regions rs;
    struct vmlab_range *ranges;
    uint64_t min_sz = check_u64(L, 3, 1);
    size_t nr, nl;
    const struct vmlab_region *rg = check_array(L, 2, &nr);
    const struct vmlab_region *list = check_array(L, 1, &nl);

    ranges = lua_newuserdatauv(L, (nr + 1) * sizeof *ranges, 0);
    for (size_t i = 0; i < nr; i++)
        ranges[i] = (struct vmlab_range){rg[i].start, rg[i].end};
    if (to_list(list, nl, &rs) < 0 ||
        vmlab_damon_set_regions(&rs, ranges, nr, min_sz ? min_sz : 1) < 0) {
        vmlab_regions_free(&rs);
        return luaL_error(L, "set_regions: not enough memory");
    }
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
