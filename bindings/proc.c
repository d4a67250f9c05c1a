/* require "vmlab.proc": child runtimes with a command loop (memtoy's
 * children), forked functions, and signals. */
#include "vmlab/host.h"
#include "vmlab/proc.h"
#include "vmlab/units.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_MT "vmlab.proc.child"
#define CHILDREN "vmlab.proc.children"   /* registry: name -> handle */
#define MAX_DEPTH 32

struct lchild {
    struct vmlab_child c;
    char name[64];
    int closed;
    int inherited;   /* a sibling's handle copied by fork: not ours to stop */
    int is_fork;     /* proc.fork(): no command loop */
};

/* ---- values across the channel ------------------------------------------ */

static int encode(lua_State *L, int idx, luaL_Buffer *b, int depth)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL: luaL_addchar(b, 'n'); return 0;
    case LUA_TBOOLEAN: luaL_addchar(b, lua_toboolean(L, idx) ? 't' : 'f'); return 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            lua_Integer v = lua_tointeger(L, idx);
            luaL_addchar(b, 'i');
            luaL_addlstring(b, (const char *)&v, sizeof v);
        } else {
            lua_Number v = lua_tonumber(L, idx);
            luaL_addchar(b, 'd');
            luaL_addlstring(b, (const char *)&v, sizeof v);
        }
        return 0;
    case LUA_TTABLE:
        if (depth >= MAX_DEPTH)
            return -1;
        luaL_addchar(b, '{');
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            /* the buffer may sit on the stack: encode copies above it */
            if (encode(L, -2, b, depth + 1) < 0 || encode(L, -1, b, depth + 1) < 0) {
                lua_pop(L, 2);
                return -1;
            }
            lua_pop(L, 1);
        }
        luaL_addchar(b, '}');
        return 0;
    default: {
        /* strings, and anything else as it prints (a segment, a function) */
        size_t len;
        const char *s = luaL_tolstring(L, idx, &len);
        uint32_t n = (uint32_t)len;
        lua_pop(L, 1);
        luaL_addchar(b, 's');
        luaL_addlstring(b, (const char *)&n, sizeof n);
        luaL_addlstring(b, s, len);
        return 0;
    }
    }
}

/* Decode one value at *p (< end); pushes it.  Returns 0 or -1 if corrupt. */
static int decode(lua_State *L, const char **p, const char *end, int depth)
{
    char tag;
    if (*p >= end || depth > MAX_DEPTH + 1)
        return -1;
    luaL_checkstack(L, 3, "decoding a reply");
    tag = *(*p)++;
    switch (tag) {
    case 'n': lua_pushnil(L); return 0;
    case 't': lua_pushboolean(L, 1); return 0;
    case 'f': lua_pushboolean(L, 0); return 0;
    case 'i': {
        lua_Integer v;
        if (end - *p < (long)sizeof v) return -1;
        memcpy(&v, *p, sizeof v); *p += sizeof v;
        lua_pushinteger(L, v);
        return 0;
    }
    case 'd': {
        lua_Number v;
        if (end - *p < (long)sizeof v) return -1;
        memcpy(&v, *p, sizeof v); *p += sizeof v;
        lua_pushnumber(L, v);
        return 0;
    }
    case 's': {
        uint32_t n;
        if (end - *p < (long)sizeof n) return -1;
        memcpy(&n, *p, sizeof n); *p += sizeof n;
        if ((size_t)(end - *p) < n) return -1;
        lua_pushlstring(L, *p, n);
        *p += n;
        return 0;
    }
    case '{':
        lua_newtable(L);
        while (*p < end && **p != '}') {
            if (decode(L, p, end, depth + 1) < 0 || decode(L, p, end, depth + 1) < 0)
                return -1;
            if (lua_isnil(L, -2)) { lua_pop(L, 2); continue; }
            lua_rawset(L, -3);
        }
        if (*p >= end) return -1;
        (*p)++;
        return 0;
    default:
        return -1;
    }
}

/* ---- the child's side --------------------------------------------------- */

static void send_reply(lua_State *L, int out, int base, int ok)
{
    luaL_Buffer b;
    int n = lua_gettop(L) - base;

    if (!ok) {
        size_t len;
        const char *msg = lua_tolstring(L, -1, &len);
        vmlab_msg_send(out, 'X', msg ? msg : "error", msg ? len : 5);
        return;
    }
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (encode(L, base + i, &b, 0) < 0) {
            luaL_pushresult(&b);
            vmlab_msg_send(out, 'X', "cannot send a result: a table nested too deep (or with a cycle)", 63);
            return;
        }
    }
    luaL_pushresult(&b);
    {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        vmlab_msg_send(out, 'R', s, len);
    }
}

/* After fork: the handles of siblings are copies; close their channel ends
 * so that each child sees EOF when its own parent lets go. */
static void forget_siblings(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, CHILDREN);          /* children */
    lua_pushnil(L);
    while (lua_next(L, -2)) {                              /* children k h */
        struct lchild *h = luaL_testudata(L, -1, CHILD_MT);
        if (h && !h->closed) {
            if (h->c.to_child >= 0) close(h->c.to_child);
            if (h->c.from_child >= 0) close(h->c.from_child);
            h->c.to_child = h->c.from_child = -1;
            h->inherited = 1;
            h->closed = 1;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, CHILDREN);
}

/* The reply channel of the request being run (-1 outside a child's loop,
 * or once proc.reply answered it). */
static int reply_fd = -1;

/* proc.reply(...): in a child, answer the request now with these values;
 * the loop then sends nothing more for it.  A command that waits (memtoy's
 * pause) lets its parent go on. */
static int l_reply(lua_State *L)
{
    int out = reply_fd;

    if (out < 0)
        return luaL_error(L, "proc.reply: no request to answer (not in a child's command loop, or answered)");
    reply_fd = -1;
    fflush(NULL);
    send_reply(L, out, 0, 1);
    return 0;
}

/* The command loop: read a chunk, run it, send back its results. */
static void command_loop(lua_State *L, const char *name, int in, int out)
{
    char chunkname[96];

    snprintf(chunkname, sizeof chunkname, "=child %s", name);
    lua_pushstring(L, name);
    lua_setfield(L, LUA_REGISTRYINDEX, "vmlab.proc.name");
    for (;;) {
        char type, *buf;
        size_t len;
        int base = lua_gettop(L), ok;

        if (vmlab_msg_recv(in, &type, &buf, &len, -1) < 0 || type == 'Q')
            break;
        reply_fd = out;
        ok = luaL_loadbuffer(L, buf, len, chunkname) == LUA_OK &&
             vmlab_docall(L, 0, LUA_MULTRET) == LUA_OK;
        free(buf);
        fflush(NULL);
        if (reply_fd >= 0)
            send_reply(L, out, base, ok);
        else if (!ok)
            fprintf(stderr, "vmlab: child %s: %s\n", name, lua_tostring(L, -1));
        reply_fd = -1;
        lua_settop(L, base);
    }
    fflush(NULL);
    _exit(0);
}

/* ---- handles ------------------------------------------------------------ */

static struct lchild *checkchild(lua_State *L, int idx)
{
    struct lchild *h = luaL_checkudata(L, idx, CHILD_MT);
    if (h->closed)
        luaL_error(L, "attempt to use a closed child%s%s", h->name[0] ? " " : "", h->name);
    return h;
}

/* How a reaped child ended: "exited", code | "killed", "SIGSEGV". */
static int push_status(lua_State *L, int status)
{
    if (WIFEXITED(status)) {
        lua_pushliteral(L, "exited");
        lua_pushinteger(L, WEXITSTATUS(status));
    } else {
        const char *n = vmlab_signal_name(WTERMSIG(status));
        lua_pushliteral(L, "killed");
        if (n)
            lua_pushstring(L, n);
        else
            lua_pushinteger(L, WTERMSIG(status));
    }
    return 2;
}

static const char *status_text(lua_State *L, int status)
{
    if (WIFEXITED(status))
        return lua_pushfstring(L, "exited with status %d", WEXITSTATUS(status));
    return lua_pushfstring(L, "killed by %s", vmlab_signal_name(WTERMSIG(status)) ?
                                              vmlab_signal_name(WTERMSIG(status)) : "a signal");
}

static struct lchild *newhandle(lua_State *L, const char *name)
{
    struct lchild *h = lua_newuserdatauv(L, sizeof *h, 0);
    memset(h, 0, sizeof *h);
    h->closed = 1;                                 /* created closed */
    h->c.to_child = h->c.from_child = -1;
    snprintf(h->name, sizeof h->name, "%s", name);
    luaL_setmetatable(L, CHILD_MT);
    return h;
}

/* proc.child(name) -> handle, or nil, message, errno */
static int l_child(lua_State *L)
{
    size_t nlen;
    const char *name = luaL_checklstring(L, 1, &nlen);
    struct lchild *h;
    int in, out, r;

    if (nlen == 0 || nlen >= sizeof h->name || strchr(name, '/'))
        return luaL_argerror(L, 1, "a child name has 1 to 63 characters and no '/'");
    lua_getfield(L, LUA_REGISTRYINDEX, CHILDREN);
    if (lua_getfield(L, -1, name) != LUA_TNIL)
        return luaL_error(L, "a child named '%s' exists already", name);
    lua_pop(L, 2);
    h = newhandle(L, name);                          /* h */
    r = vmlab_child_fork(&h->c, &in, &out);
    if (r < 0)
        return vmlab_pushfail(L, -r, "fork(child '%s')", name);
    if (r == 0) {
        reply_fd = -1;                               /* not our parent's request */
        forget_siblings(L);
        signal(SIGINT, SIG_DFL);
        command_loop(L, name, in, out);              /* never returns */
    }
    h->closed = 0;
    lua_getfield(L, LUA_REGISTRYINDEX, CHILDREN);    /* h children */
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);                                   /* h */
    return 1;
}

/* proc.fork(fn, ...) -> handle; the child's exit status is fn's integer
 * result, 0 for true/nil, 1 for false or an error. */
static int l_fork(lua_State *L)
{
    struct lchild *h;
    int in, out, r, nargs = lua_gettop(L) - 1;

    luaL_checktype(L, 1, LUA_TFUNCTION);
    h = newhandle(L, "");                            /* fn args h */
    r = vmlab_child_fork(&h->c, &in, &out);
    if (r < 0)
        return vmlab_pushfail(L, -r, "fork()");
    if (r == 0) {
        int code = 0;
        close(in);
        close(out);
        reply_fd = -1;
        forget_siblings(L);
        signal(SIGINT, SIG_DFL);
        lua_pop(L, 1);                               /* fn args */
        if (vmlab_docall(L, nargs, 1) != LUA_OK) {
            fprintf(stderr, "vmlab: forked function: %s\n", lua_tostring(L, -1));
            code = 1;
        } else if (lua_isinteger(L, -1)) {
            code = (int)lua_tointeger(L, -1);
        } else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
            code = 1;
        }
        fflush(NULL);
        _exit(code);
    }
    h->closed = 0;
    h->is_fork = 1;
    snprintf(h->name, sizeof h->name, "fork %d", (int)h->c.pid);
    return 1;
}

/* c:eval(code[, timeout]) -> the chunk's results, or nil, message */
static int c_eval(lua_State *L)
{
    struct lchild *h = checkchild(L, 1);
    size_t len, rlen;
    const char *code = luaL_checklstring(L, 2, &len);
    double timeout = vmlab_opttime(L, 3, -1);
    char type, *buf;
    int r, top;

    if (h->is_fork)
        return luaL_error(L, "a forked function (pid %d) takes no commands", (int)h->c.pid);
    r = vmlab_msg_send(h->c.to_child, 'E', code, len);
    if (r == 0)
        r = vmlab_msg_recv(h->c.from_child, &type, &buf, &rlen, timeout);
    if (r == -EINTR)
        vmlab_checkinterrupt(L);
    if (r == -ETIMEDOUT) {
        /* A late reply would be taken for the next one: end the child. */
        kill(h->c.pid, SIGKILL);
        vmlab_child_stop(&h->c, 1.0);
        return vmlab_pushfail(L, ETIMEDOUT, "eval(child '%s', timed out after %gs; the child was killed)",
                              h->name, timeout);
    }
    if (r < 0) {
        /* the child is gone: say how it ended */
        vmlab_child_reap(&h->c, 0);
        if (!h->c.reaped) {
            usleep(20000);
            vmlab_child_reap(&h->c, 0);
        }
        if (h->c.reaped)
            return vmlab_pushfail(L, EPIPE, "eval(child '%s' %s)", h->name, status_text(L, h->c.status));
        return vmlab_pushfail(L, -r, "eval(child '%s')", h->name);
    }
    if (type == 'X') {
        lua_pushnil(L);
        lua_pushlstring(L, buf, rlen);
        free(buf);
        return 2;
    }
    top = lua_gettop(L);
    {
        const char *p = buf, *end = buf + rlen;
        while (p < end) {
            if (decode(L, &p, end, 0) < 0) {
                free(buf);
                lua_settop(L, top);
                return luaL_error(L, "eval(child '%s'): a corrupt reply", h->name);
            }
        }
    }
    free(buf);
    return lua_gettop(L) - top;
}

static int checksig(lua_State *L, int idx)
{
    int sig;
    if (lua_isinteger(L, idx)) {
        sig = (int)lua_tointeger(L, idx);
        if (sig < 0 || sig > 64)
            luaL_argerror(L, idx, "no such signal");
        return sig;
    }
    sig = vmlab_signal_number(luaL_optstring(L, idx, "SIGTERM"));
    if (sig < 0)
        luaL_argerror(L, idx, lua_pushfstring(L, "unknown signal '%s'", lua_tostring(L, idx)));
    return sig;
}

/* c:kick([sig]) sends a signal (default SIGTERM). */
static int c_kick(lua_State *L)
{
    struct lchild *h = checkchild(L, 1);
    int sig = checksig(L, 2);
    if (h->c.reaped || kill(h->c.pid, sig) < 0)
        return vmlab_pushfail(L, h->c.reaped ? ESRCH : errno, "kill(child '%s' pid %d, %s)", h->name,
                              (int)h->c.pid, vmlab_signal_name(sig) ? vmlab_signal_name(sig) : "0");
    lua_pushboolean(L, 1);
    return 1;
}

/* c:wait([timeout]) -> "exited", code | "killed", signal; nil, msg on timeout */
static int c_wait(lua_State *L)
{
    struct lchild *h = checkchild(L, 1);
    double timeout = vmlab_opttime(L, 2, -1), end = vmlab_now() + timeout;
    int r;

    for (;;) {
        r = vmlab_child_reap(&h->c, 0);
        if (r == 1)
            break;
        vmlab_checkinterrupt(L);
        if (timeout >= 0 && vmlab_now() >= end)
            return vmlab_pushfail(L, ETIMEDOUT, "wait(child '%s' pid %d)", h->name, (int)h->c.pid);
        usleep(2000);
    }
    return push_status(L, h->c.status);
}

/* c:alive() */
static int c_alive(lua_State *L)
{
    struct lchild *h = luaL_checkudata(L, 1, CHILD_MT);
    lua_pushboolean(L, !h->closed && vmlab_child_reap(&h->c, 0) == 0);
    return 1;
}

static int c_close(lua_State *L)
{
    struct lchild *h = luaL_checkudata(L, 1, CHILD_MT);
    if (!h->closed) {
        h->closed = 1;
        if (!h->inherited)
            vmlab_child_stop(&h->c, 1.0);
        lua_getfield(L, LUA_REGISTRYINDEX, CHILDREN);
        if (lua_getfield(L, -1, h->name) == LUA_TUSERDATA && lua_touserdata(L, -1) == h) {
            lua_pushnil(L);
            lua_setfield(L, -3, h->name);
        }
        lua_pop(L, 2);
    }
    return 0;
}

static int c_index(lua_State *L)
{
    struct lchild *h = luaL_checkudata(L, 1, CHILD_MT);
    const char *k = luaL_checkstring(L, 2);
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    if (lua_getfield(L, -1, k) != LUA_TNIL)
        return 1;
    if (!strcmp(k, "pid"))
        lua_pushinteger(L, h->c.pid);
    else if (!strcmp(k, "name"))
        lua_pushstring(L, h->name);
    else if (!strcmp(k, "closed"))
        lua_pushboolean(L, h->closed);
    else
        lua_pushnil(L);
    return 1;
}

static int c_tostring(lua_State *L)
{
    struct lchild *h = luaL_checkudata(L, 1, CHILD_MT);
    if (h->closed)
        lua_pushfstring(L, "child %s (closed)", h->name);
    else
        lua_pushfstring(L, "child %s (pid %d)", h->name, (int)h->c.pid);
    return 1;
}

/* proc.get(name) -> a handle; proc.list() -> the names of this process's children, sorted */
static int l_get(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, CHILDREN);
    lua_getfield(L, -1, luaL_checkstring(L, 1));
    return 1;
}

static int l_list(lua_State *L)
{
    int n = 0;
    lua_newtable(L);                                 /* list */
    lua_getfield(L, LUA_REGISTRYINDEX, CHILDREN);    /* list children */
    lua_pushnil(L);
    while (lua_next(L, -2)) {                        /* list children k h */
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -4, ++n);
    }
    lua_pop(L, 1);
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    return 1;
}

/* proc.name() -> this child's name, or nil in the top process */
static int l_name(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "vmlab.proc.name");
    return 1;
}

/* proc.kick(pid, sig) */
static int l_kick(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);
    int sig = checksig(L, 2);
    if (kill((pid_t)pid, sig) < 0)
        return vmlab_pusherrno(L, "kill(pid %d, %s)", (int)pid,
                               vmlab_signal_name(sig) ? vmlab_signal_name(sig) : "0");
    lua_pushboolean(L, 1);
    return 1;
}

/* proc.signal(name) -> number, proc.signame(number) -> name */
static int l_signal(lua_State *L)
{
    lua_pushinteger(L, checksig(L, 1));
    return 1;
}

static const luaL_Reg methods[] = {
    {"eval", c_eval}, {"kick", c_kick}, {"wait", c_wait}, {"alive", c_alive},
    {"close", c_close}, {NULL, NULL}};
static const luaL_Reg meta[] = {
    {"__index", c_index}, {"__tostring", c_tostring}, {"__close", c_close},
    {"__gc", c_close}, {NULL, NULL}};
static const luaL_Reg funcs[] = {
    {"child", l_child}, {"fork", l_fork}, {"get", l_get}, {"list", l_list},
    {"name", l_name}, {"kick", l_kick}, {"signal", l_signal}, {"reply", l_reply}, {NULL, NULL}};

int luaopen_vmlab_proc(lua_State *L)
{
    luaL_newmetatable(L, CHILD_MT);                  /* mt */
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "methods");
    lua_pop(L, 1);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, CHILDREN);
    luaL_newlib(L, funcs);
    return 1;
}
