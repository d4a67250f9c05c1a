/* require "vmlab.pool": heaps on memory-mapped files (runtime/pool.c). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "libvmmalloc.h"
#include "vmlab/host.h"
#include "vmlab/pool.h"

#define POOL_MT "vmlab.pool.pool"

struct lpool {
    struct vmlab_pool *p;   /* NULL once closed */
};

static struct vmlab_pool *checkpool(lua_State *L, int idx)
{
    struct lpool *lp = luaL_checkudata(L, idx, POOL_MT);
    if (!lp->p)
        luaL_error(L, "attempt to use a closed pool");
    return lp->p;
}

static void *checkaddr(lua_State *L, int idx)
{
    lua_Integer a = luaL_checkinteger(L, idx);
    return (void *)(uintptr_t)a;
}

/* pool.create{dir= | path= [, replace=true], size=}: an existing path is
 * refused (nil, msg, EEXIST) unless replace=true. */
static int l_create(lua_State *L)
{
    static const char *const valid[] = {"dir", "path", "replace", "size", NULL};
    struct vmlab_pool_opts o = {0};
    struct lpool *lp;
    const char *where;
    uint64_t size;
    int r;

    luaL_checktype(L, 1, LUA_TTABLE);
    vmlab_checkopts(L, 1, "pool.create", valid);
    o.replace = vmlab_optfield_bool(L, 1, "replace", 0);
    o.dir = vmlab_optfield_string(L, 1, "dir", NULL);
    o.path = vmlab_optfield_string(L, 1, "path", NULL);
    if (!o.dir == !o.path)
        return luaL_argerror(L, 1, "give exactly one of dir= and path=");
    size = vmlab_optfield_size(L, 1, "size", 0);
    if (size < VMMALLOC_MIN_POOL)
        return luaL_argerror(L, 1, lua_pushfstring(L, "size= must be at least %d bytes (14 MiB, VMMALLOC_MIN_POOL)",
                                                   (int)VMMALLOC_MIN_POOL));
    o.size = (size_t)size;
    where = o.dir ? o.dir : o.path;
    lp = lua_newuserdatauv(L, sizeof *lp, 1);                 /* ud */
    lp->p = NULL;
    luaL_setmetatable(L, POOL_MT);
    r = vmlab_pool_create(&o, &lp->p);
    if (r == -EEXIST)
        return vmlab_pushfail(L, EEXIST, "pool.create(path='%s', size=%llu) would overwrite the file "
                              "(pass replace=true to do so)", where, (unsigned long long)size);
    if (r == -EINVAL && o.path)
        return vmlab_pushfail(L, EINVAL, "pool.create(path='%s', size=%llu): not a regular file", where,
                              (unsigned long long)size);
    if (r < 0)
        return vmlab_pushfail(L, -r, "pool.create(%s='%s', size=%llu)", o.dir ? "dir" : "path", where,
                              (unsigned long long)size);
    return 1;
}

static const char *pname(lua_State *L, struct vmlab_pool *p)
{
    return lua_pushfstring(L, "pool:%d", vmlab_pool_id(p));
}

/* p:alloc(n[, align]) -> address | nil, msg, ENOMEM; alloc(0) gives a
 * minimal block, as malloc(0) does. */
static int p_alloc(lua_State *L)
{
    struct vmlab_pool *p = checkpool(L, 1);
    uint64_t n = vmlab_checksize(L, 2), align = vmlab_optsize(L, 3, 0);
    void *a;

    if (align & (align - 1))
        return luaL_argerror(L, 3, "the alignment must be a power of two");
    if (!(a = vmlab_pool_alloc(p, (size_t)n, (size_t)align)))
        return vmlab_pushfail(L, errno, "alloc(%s, %llu, align %llu)", pname(L, p), (unsigned long long)n,
                              (unsigned long long)align);
    lua_pushinteger(L, (lua_Integer)(uintptr_t)a);
    return 1;
}

static int notlive(lua_State *L, const char *call, struct vmlab_pool *p, void *a)
{
    return luaL_error(L, "%s(%s, %p): not a live block of this pool (double free or foreign pointer)", call,
                      pname(L, p), a);
}

/* p:free(a): raises for a double free or a foreign pointer. */
static int p_free(lua_State *L)
{
    struct vmlab_pool *p = checkpool(L, 1);
    void *a = checkaddr(L, 2);
    if (vmlab_pool_free(p, a) < 0)
        return notlive(L, "free", p, a);
    return 0;
}

/* p:realloc(a, n) -> address | nil, msg, ENOMEM (a stays valid) */
static int p_realloc(lua_State *L)
{
    struct vmlab_pool *p = checkpool(L, 1);
    void *a = checkaddr(L, 2), *b = NULL;
    uint64_t n = vmlab_checksize(L, 3);
    int r = vmlab_pool_realloc(p, a, (size_t)n, &b);
    if (r == -EINVAL)
        return notlive(L, "realloc", p, a);
    if (r < 0)
        return vmlab_pushfail(L, -r, "realloc(%s, %p, %llu)", pname(L, p), a, (unsigned long long)n);
    lua_pushinteger(L, (lua_Integer)(uintptr_t)b);
    return 1;
}

static int p_usable(lua_State *L)
{
    struct vmlab_pool *p = checkpool(L, 1);
    void *a = checkaddr(L, 2);
    size_t u;
    if (vmlab_pool_usable(p, a, &u) < 0)
        return notlive(L, "usable", p, a);
    lua_pushinteger(L, (lua_Integer)u);
    return 1;
}

/* The block at a, checked live, with [off, off+len) inside its usable size. */
static char *checkspan(lua_State *L, struct vmlab_pool *p, const char *call, void *a, uint64_t off, uint64_t len)
{
    size_t u;
    if (vmlab_pool_usable(p, a, &u) < 0)
        notlive(L, call, p, a);
    if (off > u || len > u - off)
        luaL_error(L, "%s(%s, %p): bytes %I..%I are outside the block's %I usable bytes", call, pname(L, p),
                   a, (lua_Integer)off, (lua_Integer)(off + len), (lua_Integer)u);
    return (char *)a + off;
}

/* p:write(a, s[, off]): copy a string into a live block. */
static int p_write(lua_State *L)
{
    struct vmlab_pool *p = checkpool(L, 1);
    void *a = checkaddr(L, 2);
    size_t n;
    const char *s = luaL_checklstring(L, 3, &n);
    memcpy(checkspan(L, p, "write", a, vmlab_optsize(L, 4, 0), n), s, n);
    return 0;
}

/* p:read(a, n[, off]) -> the bytes of a live block as a string. */
static int p_read(lua_State *L)
{
    struct vmlab_pool *p = checkpool(L, 1);
    void *a = checkaddr(L, 2);
    uint64_t n = vmlab_checksize(L, 3);
    lua_pushlstring(L, checkspan(L, p, "read", a, vmlab_optsize(L, 4, 0), n), (size_t)n);
    return 1;
}

static int p_stats(lua_State *L)
{
    struct vmlab_pool_stats st;
    vmlab_pool_stats(checkpool(L, 1), &st);
    lua_createtable(L, 0, 9);
    lua_pushinteger(L, (lua_Integer)st.size); lua_setfield(L, -2, "size");
    lua_pushinteger(L, (lua_Integer)st.reserved); lua_setfield(L, -2, "reserved");
    lua_pushinteger(L, (lua_Integer)st.allocated); lua_setfield(L, -2, "allocated");
    lua_pushinteger(L, (lua_Integer)st.active); lua_setfield(L, -2, "active");
    lua_pushinteger(L, (lua_Integer)st.mapped); lua_setfield(L, -2, "mapped");
    lua_pushinteger(L, (lua_Integer)st.live); lua_setfield(L, -2, "live");
    lua_pushinteger(L, (lua_Integer)st.allocs); lua_setfield(L, -2, "allocs");
    lua_pushinteger(L, (lua_Integer)st.frees); lua_setfield(L, -2, "frees");
    lua_pushinteger(L, (lua_Integer)st.fails); lua_setfield(L, -2, "fails");
    return 1;
}

/* p:segment() -> the mapping as a vmlab segment "pool:<n>" (made once). */
static int p_segment(lua_State *L)
{
    struct vmlab_pool *p = checkpool(L, 1);
    if (lua_getiuservalue(L, 1, 1) != LUA_TNIL)               /* seg */
        return 1;
    lua_pop(L, 1);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "vmlab.seg");
    lua_call(L, 1, 1);                                        /* segmod */
    lua_getfield(L, -1, "wrap");                              /* segmod wrap */
    pname(L, p);
    lua_pushinteger(L, (lua_Integer)(uintptr_t)vmlab_pool_base(p));
    lua_pushinteger(L, (lua_Integer)vmlab_pool_size(p));
    lua_call(L, 3, 3);                                        /* segmod seg|nil msg errno */
    if (lua_isnil(L, -3))
        return 3;
    lua_pop(L, 2);                                            /* segmod seg */
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 1);
    return 1;
}

static int p_path(lua_State *L)
{
    const char *path = vmlab_pool_path(checkpool(L, 1));
    if (*path)
        lua_pushstring(L, path);
    else
        lua_pushnil(L);
    return 1;
}

static int p_base(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)(uintptr_t)vmlab_pool_base(checkpool(L, 1)));
    return 1;
}

/* Idempotent: forget the segment view, destroy the arena, unmap. */
static int p_close(lua_State *L)
{
    struct lpool *lp = luaL_checkudata(L, 1, POOL_MT);
    if (!lp->p)
        return 0;
    if (lua_getiuservalue(L, 1, 1) != LUA_TNIL) {              /* seg */
        if (lua_getfield(L, -1, "close") == LUA_TFUNCTION) {   /* seg close */
            lua_pushvalue(L, -2);
            lua_pcall(L, 1, 0, 0);
        } else {
            lua_pop(L, 1);
        }
        lua_pushnil(L);
        lua_setiuservalue(L, 1, 1);
    }
    lua_pop(L, 1);
    vmlab_pool_close(lp->p);
    lp->p = NULL;
    return 0;
}

static int p_tostring(lua_State *L)
{
    struct lpool *lp = luaL_checkudata(L, 1, POOL_MT);
    struct vmlab_pool_stats st;
    if (!lp->p) {
        lua_pushliteral(L, "pool (closed)");
        return 1;
    }
    vmlab_pool_stats(lp->p, &st);
    lua_pushfstring(L, "pool:%d (%I bytes at %p, %I live blocks)", vmlab_pool_id(lp->p), (lua_Integer)st.size,
                    vmlab_pool_base(lp->p), (lua_Integer)st.live);
    return 1;
}

static const luaL_Reg methods[] = {
    {"alloc", p_alloc}, {"free", p_free}, {"realloc", p_realloc}, {"usable", p_usable},
    {"stats", p_stats}, {"segment", p_segment}, {"read", p_read}, {"write", p_write}, {"path", p_path}, {"base", p_base},
    {"close", p_close}, {NULL, NULL}};
static const luaL_Reg meta[] = {
    {"__tostring", p_tostring}, {"__close", p_close}, {"__gc", p_close}, {NULL, NULL}};
static const luaL_Reg funcs[] = {{"create", l_create}, {NULL, NULL}};

int luaopen_vmlab_pool(lua_State *L)
{
    vmlab_newclass(L, POOL_MT, methods, meta);
    luaL_newlib(L, funcs);
    lua_pushinteger(L, (lua_Integer)VMMALLOC_MIN_POOL);
    lua_setfield(L, -2, "MIN_POOL");
    return 1;
}
