/* The Lua state: standard libraries, vmlab's C modules and embedded stdlib
 * in package.preload, the traceback handler and the interrupt hook. */
#include "vmlab/host.h"
#include "vmlab/interrupt.h"

#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <stdint.h>

static const luaL_Reg cmodules[] = {
#define VMLAB_MODULE(name, fn) {name, fn},
#include "vmlab_modules.h"
#undef VMLAB_MODULE
    {NULL, NULL}};

/* The state whose code runs now, for the SIGINT handler (as lua.c). */
static lua_State *running;

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    vmlab_interrupt_clear();
    luaL_error(L, "interrupted!");
}

/* SIGINT while Lua runs: set the flag for C loops and a hook that raises
 * at the next Lua instruction.  A second ^C before either acts kills. */
static void on_sigint(int sig)
{
    int mask = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;

    if (vmlab_interrupted()) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    vmlab_interrupt_raise();
    if (running)
        lua_sethook(running, stop_hook, mask, 1);
}

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);               /* msg traceback */
    return 1;
}

int vmlab_docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg, status;
    struct sigaction sa, old;
    lua_State *prev = running;

    lua_pushcfunction(L, msghandler);           /* f args handler */
    lua_insert(L, base);                        /* handler f args */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    running = L;
    status = lua_pcall(L, narg, nres, base);
    running = prev;
    sigaction(SIGINT, &old, NULL);
    lua_sethook(L, NULL, 0, 0);
    vmlab_interrupt_clear();
    lua_remove(L, base);                        /* results or msg */
    return status;
}

/* package.preload loader of an embedded module; upvalue 1 is its index.
 * VMLAB_STDLIB_DIR, when set, loads the same path from disk instead. */
static int load_embedded(lua_State *L)
{
    const struct vmlab_embedded *e = &vmlab_stdlib[lua_tointeger(L, lua_upvalueindex(1))];
    const char *dir = getenv("VMLAB_STDLIB_DIR");
    int status;

    if (dir && *dir) {
        const char *rel = e->path + strlen("stdlib/");
        const char *path = lua_pushfstring(L, "%s/%s", dir, rel);
        status = luaL_loadfilex(L, path, "t");
    } else {
        const char *chunk = lua_pushfstring(L, "@%s", e->path);
        status = luaL_loadbufferx(L, e->src, e->len, chunk, "t");
    }
    if (status != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, e->name);                 /* ... chunk name */
    lua_call(L, 1, 1);                          /* ... module */
    return 1;
}

static void install_preloads(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE); /* preload */
    for (const luaL_Reg *m = cmodules; m->name; m++) {
        lua_pushcfunction(L, m->func);
        lua_setfield(L, -2, m->name);
    }
    for (int i = 0; vmlab_stdlib[i].name; i++) {
        lua_pushinteger(L, i);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, vmlab_stdlib[i].name);
    }
    lua_pop(L, 1);                              /* */
}

/* Lua's allocator, plus one thing for a VM lab: a large block (a table of
 * every page of a segment) is asked to use transparent huge pages, so that
 * filling it costs a few faults instead of one per 4 KiB. */
#define HUGE_BLOCK (4UL << 20)
static void *lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    void *p;

    (void)ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    p = realloc(ptr, nsize);
    if (p && nsize >= HUGE_BLOCK && (!ptr || nsize > osize)) {
        uintptr_t a = ((uintptr_t)p + (2UL << 20) - 1) & ~((2UL << 20) - 1);
        uintptr_t e = ((uintptr_t)p + nsize) & ~((2UL << 20) - 1);
        if (e > a)
            madvise((void *)a, e - a, MADV_HUGEPAGE);
    }
    return p;
}

static int panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "vmlab: unprotected error in a Lua call: %s\n", msg ? msg : "?");
    return 0;                                   /* then Lua aborts */
}

lua_State *vmlab_newstate(void)
{
    lua_State *L = lua_newstate(lua_alloc, NULL);

    if (!L)
        return NULL;
    lua_atpanic(L, panic);
    luaL_openlibs(L);
    install_preloads(L);
    return L;
}

/* The global a module gets in the REPL: its last name component, or
 * `vmlab` itself; nested helper modules (vmlab.damon.core) get none. */
static const char *global_name(const char *mod)
{
    const char *dot = strchr(mod, '.');
    if (!dot)
        return mod;
    return strchr(dot + 1, '.') ? NULL : dot + 1;
}

static void preload_one(lua_State *L, const char *name)
{
    const char *g = global_name(name);

    if (!g)
        return;
    lua_getglobal(L, "require");
    lua_pushstring(L, name);
    if (vmlab_docall(L, 1, 1) == LUA_OK) {
        lua_setglobal(L, g);
    } else {
        fprintf(stderr, "vmlab: could not load %s: %s\n", name, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
}

void vmlab_preload_globals(lua_State *L)
{
    for (const luaL_Reg *m = cmodules; m->name; m++)
        preload_one(L, m->name);
    for (int i = 0; vmlab_stdlib[i].name; i++)
        preload_one(L, vmlab_stdlib[i].name);
}
