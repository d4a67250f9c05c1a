/* require "vmlab.report.image": draw a heat matrix with cairo (the
 * reports themselves are Lua: stdlib/vmlab/report.lua). */
#include "vmlab/heatmap.h"
#include "vmlab/host.h"

#include <stdlib.h>

/* image.heatmap(path, heat, {t0=, t1=, a0=, a1=, width=, height=, title=, unit=})
 * heat is rows (addresses, lowest first) of columns (time); NaN cells are
 * cells no region covered. */
static int l_heatmap(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct vmlab_heatmap h = {0};
    double *cells;
    char err[256];
    int w, ht;

    luaL_checktype(L, 2, LUA_TTABLE);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    if (lua_isnil(L, 3)) {
        lua_newtable(L);
        lua_replace(L, 3);
    }
    {
        static const char *const valid[] = {"t0", "t1", "a0", "a1", "width", "height", "title", "unit", NULL};
        vmlab_checkopts(L, 3, "image.heatmap", valid);
    }
    h.rows = lua_rawlen(L, 2);
    lua_rawgeti(L, 2, 1);
    h.cols = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
    lua_pop(L, 1);
    if (h.rows == 0 || h.cols == 0 || h.rows > 100000 || h.cols > 100000)
        return luaL_argerror(L, 2, "a non-empty matrix of heats expected");
    cells = lua_newuserdatauv(L, h.rows * h.cols * sizeof *cells, 0);
    for (size_t y = 0; y < h.rows; y++) {
        lua_rawgeti(L, 2, (lua_Integer)y + 1);
        if (!lua_istable(L, -1) || lua_rawlen(L, -1) != h.cols)
            return luaL_error(L, "heatmap row %d: %d numbers expected", (int)y + 1, (int)h.cols);
        for (size_t x = 0; x < h.cols; x++) {
            lua_rawgeti(L, -1, (lua_Integer)x + 1);
            cells[y * h.cols + x] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    h.heat = cells;
    lua_getfield(L, 3, "t0"); h.t0 = luaL_optnumber(L, -1, 0);
    lua_getfield(L, 3, "t1"); h.t1 = luaL_optnumber(L, -1, 1);
    lua_getfield(L, 3, "a0"); h.a0 = (uint64_t)luaL_optinteger(L, -1, 0);
    lua_getfield(L, 3, "a1"); h.a1 = (uint64_t)luaL_optinteger(L, -1, 0);
    lua_getfield(L, 3, "title"); h.title = luaL_optstring(L, -1, NULL);
    lua_getfield(L, 3, "unit"); h.unit = luaL_optstring(L, -1, NULL);
    w = (int)vmlab_optfield_int(L, 3, "width", 900);
    ht = (int)vmlab_optfield_int(L, 3, "height", 540);
    if (w < 200 || ht < 150 || w > 10000 || ht > 10000)
        return luaL_error(L, "heatmap size %dx%d out of range (200x150 to 10000x10000)", w, ht);
    if (vmlab_heatmap_write(&h, path, w, ht, err, sizeof err) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* image.plot(path, xs, ys, {xlabel=, ylabel=, width=, height=}) -> true | nil, err */
static int l_plot(lua_State *L)
{
    static const char *const valid[] = {"xlabel", "ylabel", "width", "height", NULL};
    const char *path = luaL_checkstring(L, 1);
    struct vmlab_plot p = {0};
    double *xy;
    char err[256];
    int w, ht;

    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 4);
    if (lua_isnil(L, 4)) {
        lua_newtable(L);
        lua_replace(L, 4);
    }
    vmlab_checkopts(L, 4, "image.plot", valid);
    p.n = lua_rawlen(L, 2);
    if (p.n != lua_rawlen(L, 3))
        return luaL_argerror(L, 3, "as many y values as x values expected");
    if (p.n > 1000000)
        return luaL_argerror(L, 2, "at most 1000000 points");
    xy = lua_newuserdatauv(L, 2 * p.n * sizeof *xy + 1, 0);    /* freed by Lua on error */
    for (size_t i = 0; i < p.n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        lua_rawgeti(L, 3, (lua_Integer)i + 1);                    /* .. x y */
        if (!lua_isnumber(L, -2) || !lua_isnumber(L, -1))
            return luaL_error(L, "image.plot: point %d is not two numbers", (int)i + 1);
        xy[i] = lua_tonumber(L, -2);
        xy[p.n + i] = lua_tonumber(L, -1);
        lua_pop(L, 2);
    }
    p.x = xy;
    p.y = xy + p.n;
    lua_getfield(L, 4, "xlabel"); p.xlabel = luaL_optstring(L, -1, NULL);
    lua_getfield(L, 4, "ylabel"); p.ylabel = luaL_optstring(L, -1, NULL);
    w = (int)vmlab_optfield_int(L, 4, "width", 640);
    ht = (int)vmlab_optfield_int(L, 4, "height", 480);
    if (w < 200 || ht < 150 || w > 10000 || ht > 10000)
        return luaL_error(L, "plot size %dx%d out of range (200x150 to 10000x10000)", w, ht);
    if (vmlab_plot_write(&p, path, w, ht, err, sizeof err) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg funcs[] = {{"heatmap", l_heatmap}, {"plot", l_plot}, {NULL, NULL}};

int luaopen_vmlab_report_image(lua_State *L)
{
    luaL_newlib(L, funcs);
    return 1;
}
