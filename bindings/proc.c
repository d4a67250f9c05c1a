/* require "vmlab.proc": child runtimes with a command loop (memtoy's
 * children), forked functions, and signals. */
#include "vmlab/host.h"
#include "vmlab/proc.h"
#include "vmlab/units.h"
#include "uffd_lua.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_MT "vmlab.proc.child"
#define CHILDREN "vmlab.proc.children"   /* registry: name -> handle */
#define PIDS "vmlab.proc.pids"           /* registry: pid -> handle (weak), children and forks */
#define MAX_DEPTH 32

struct lchild {
    struct vmlab_child c;
    char name[64];
    int closed;
    int inherited;   /* a sibling's handle copied by fork: not ours to stop */
    int is_fork;     /* proc.fork(): no command loop */
};

/* ---- values across the channel ------------------------------------------ */

/* The reply is built in a growing C buffer owned by a Lua box (a
 * luaL_Buffer would move on the stack under the values lua_next pushes
 * above it: the crash and corruption of replies over ~1 KiB). */
struct encbuf {
    size_t n, cap;
    char data[];
};

static void put(lua_State *L, struct vmlab_box *box, const void *p, size_t len)
{
    struct encbuf *b = box->p;
    if (!b || b->cap - b->n < len) {
        size_t need = (b ? b->n : 0) + len, cap = b ? b->cap : 256;
        struct encbuf *nb;
        while (cap < need)
            cap *= 2;
        if (!(nb = realloc(b, sizeof *nb + cap)))
            luaL_error(L, "not enough memory for a %I-byte reply", (lua_Integer)need);
        if (!b)
            nb->n = 0;
        nb->cap = cap;
        box->p = b = nb;
    }
    memcpy(b->data + b->n, p, len);
    b->n += len;
}

static void putc1(lua_State *L, struct vmlab_box *box, char c) { put(L, box, &c, 1); }

/* Encode the value at idx.  seen (a table at `seen`) holds the tables on
 * the path from the top value: meeting one again is a cycle.  Raises on
 * what cannot be sent (run under lua_pcall). */
static void encode(lua_State *L, int idx, struct vmlab_box *box, int seen, int depth)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL: putc1(L, box, 'n'); return;
    case LUA_TBOOLEAN: putc1(L, box, lua_toboolean(L, idx) ? 't' : 'f'); return;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            lua_Integer v = lua_tointeger(L, idx);
            putc1(L, box, 'i');
            put(L, box, &v, sizeof v);
        } else {
            lua_Number v = lua_tonumber(L, idx);
            putc1(L, box, 'd');
            put(L, box, &v, sizeof v);
        }
        return;
    case LUA_TTABLE:
        if (depth >= MAX_DEPTH)
            luaL_error(L, "a table nested deeper than %d levels", MAX_DEPTH);
        lua_pushvalue(L, idx);
        if (lua_rawget(L, seen) != LUA_TNIL)                   /* seen? */
            luaL_error(L, "a table that contains itself (a cycle)");
        lua_pop(L, 1);
        lua_pushvalue(L, idx);
        lua_pushboolean(L, 1);
        lua_rawset(L, seen);                                   /* on the path */
        luaL_checkstack(L, 4, "encoding a reply");
        putc1(L, box, '{');
        lua_pushnil(L);
        while (lua_next(L, idx)) {                             /* k v */
            encode(L, -2, box, seen, depth + 1);
            encode(L, -1, box, seen, depth + 1);
            lua_pop(L, 1);                                     /* k */
        }
        putc1(L, box, '}');
        lua_pushvalue(L, idx);
        lua_pushnil(L);
        lua_rawset(L, seen);                                   /* off the path */
        return;
    default: {
        /* strings, and anything else as it prints (a segment, a function) */
        size_t len;
        const char *str = luaL_tolstring(L, idx, &len);        /* str */
        uint32_t n = (uint32_t)len;
        if (len > UINT32_MAX)
            luaL_error(L, "a string of %I bytes (at most 4 GiB)", (lua_Integer)len);
        putc1(L, box, 's');
        put(L, box, &n, sizeof n);
        put(L, box, str, len);
        lua_pop(L, 1);
        return;
    }
    }
}

/* encode_all(box, seen, v1, ..., vn) */
static int encode_all(lua_State *L)
{
    struct vmlab_box *box = lua_touserdata(L, 1);
    for (int i = 3, n = lua_gettop(L); i <= n; i++)
        encode(L, i, box, 2, 0);
    return 0;
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

static void send_error(lua_State *L, int out)
{
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    vmlab_msg_send(out, 'X', msg ? msg : "error", msg ? len : 5);
}

/* The results above base (n of them), encoded in a protected call: what
 * cannot be sent (a cycle, a __tostring that raises) becomes an error
 * reply, never a dead child. */
static void send_reply(lua_State *L, int out, int base, int ok)
{
    struct vmlab_box *box;
    struct encbuf *b;
    int n = lua_gettop(L) - base;

    if (!ok) {
        send_error(L, out);
        return;
    }
    box = vmlab_newbox(L, vmlab_box_free);                 /* results box */
    lua_pushcfunction(L, encode_all);
    lua_pushvalue(L, -2);
    lua_newtable(L);                                       /* results box f box seen */
    for (int i = 1; i <= n; i++)
        lua_pushvalue(L, base + i);
    if (lua_pcall(L, n + 2, 0, 0) != LUA_OK) {             /* results box err */
        lua_pushfstring(L, "cannot send a result: %s", lua_tostring(L, -1));
        send_error(L, out);
    } else {
        b = box->p;
        vmlab_msg_send(out, 'R', b ? b->data : "", b ? b->n : 0);
    }
    vmlab_box_release(box);
}

/* The pids proc.kick may signal: this session's own children. */
static void new_pids(lua_State *L)
{
    lua_newtable(L);                                       /* pids */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, PIDS);
}

/* Remember (h at idx) or forget (idx 0) the handle of pid. */
static void set_pid(lua_State *L, pid_t pid, int idx)
{
    idx = idx ? lua_absindex(L, idx) : 0;
    lua_getfield(L, LUA_REGISTRYINDEX, PIDS);              /* pids */
    if (idx)
        lua_pushvalue(L, idx);
    else
        lua_pushnil(L);
    lua_rawseti(L, -2, pid);
    lua_pop(L, 1);
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
    new_pids(L);
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
    const char *name = vmlab_checkcstring(L, 1, &nlen);
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
    set_pid(L, h->c.pid, -1);
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
        reply_fd = -1;
        forget_siblings(L);
        signal(SIGINT, SIG_DFL);
        vmlab_uffd_lua_child(L);                     /* a uffd monitor may ask for its agent */
        lua_pop(L, 1);                               /* fn args */
        if (vmlab_docall(L, nargs, 1) != LUA_OK) {
            /* the parent's f:wait() returns it; stderr only if it cannot */
            size_t len;
            const char *msg = lua_tolstring(L, -1, &len);
            if (vmlab_msg_send(out, 'X', msg ? msg : "error", msg ? len : 5) < 0)
                fprintf(stderr, "vmlab: forked function: %s\n", msg ? msg : "error");
            code = 1;
        } else if (lua_isinteger(L, -1)) {
            code = (int)lua_tointeger(L, -1);
        } else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
            code = 1;
        }
        close(out);
        fflush(NULL);
        _exit(code);
    }
    h->closed = 0;
    h->is_fork = 1;
    set_pid(L, h->c.pid, -1);
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
    char type, *buf = NULL;
    struct vmlab_box *box;
    int r, top;

    if (h->is_fork)
        return luaL_error(L, "a forked function (pid %d) takes no commands", (int)h->c.pid);
    box = vmlab_newbox(L, vmlab_box_free);   /* the reply: decoding may raise */
    r = vmlab_msg_send(h->c.to_child, 'E', code, len);
    if (r == 0)
        r = vmlab_msg_recv(h->c.from_child, &type, &buf, &rlen, timeout);
    box->p = buf;
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
        return 2;
    }
    top = lua_gettop(L);
    {
        const char *p = buf, *end = buf + rlen;
        while (p < end) {
            if (decode(L, &p, end, 0) < 0) {
                lua_settop(L, top);
                return luaL_error(L, "eval(child '%s'): a corrupt reply", h->name);
            }
        }
    }
    vmlab_box_release(box);
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
    sig = vmlab_signal_number(vmlab_optcstring(L, idx, "SIGTERM", NULL));
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

/* A fork that raised sent its error (with its traceback) before exiting:
 * pushes it and returns 1, else 0. */
static int fork_error(lua_State *L, struct lchild *h)
{
    struct vmlab_box *box;
    char type, *buf;
    size_t len;

    if (!h->is_fork || h->c.from_child < 0)
        return 0;
    box = vmlab_newbox(L, vmlab_box_free);           /* box */
    /* reaped: the message or EOF is there (1 s bounds a grandchild holding the pipe) */
    if (vmlab_msg_recv(h->c.from_child, &type, &buf, &len, 1.0) < 0 || type != 'X') {
        free(buf);
        lua_pop(L, 1);
        return 0;
    }
    box->p = buf;
    lua_pushlstring(L, buf, len);                    /* box msg */
    vmlab_box_release(box);
    lua_remove(L, -2);                               /* msg */
    return 1;
}

/* c:wait([timeout]) -> "exited", code[, the fork's error] | "killed", signal; nil, msg on timeout */
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
    return push_status(L, h->c.status) + fork_error(L, h);
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
        if (!h->inherited) {
            vmlab_child_stop(&h->c, 1.0);
            set_pid(L, h->c.pid, 0);
        }
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
    lua_getfield(L, -1, vmlab_checkcstring(L, 1, NULL));
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

/* proc.kick(pid, sig): only a child of this session (proc.child or
 * proc.fork) still running; kill()'s own meanings of 0, -1 and negative
 * pids (groups, every process) and a pid past 32 bits never reach it. */
static int l_kick(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);
    int sig = checksig(L, 2);
    struct lchild *h;

    if (pid <= 0 || pid > INT_MAX)
        return luaL_argerror(L, 1, lua_pushfstring(L, "pid %I is not a process id (a positive pid of this "
                                                      "session's children)", (LUAI_UACINT)pid));
    lua_getfield(L, LUA_REGISTRYINDEX, PIDS);
    lua_rawgeti(L, -1, pid);
    h = luaL_testudata(L, -1, CHILD_MT);
    lua_pop(L, 2);
    if (!h || h->closed)
        return luaL_argerror(L, 1, lua_pushfstring(L, "pid %I is not a child of this session "
                                                      "(proc.child, proc.fork)", (LUAI_UACINT)pid));
    if (h->c.reaped || vmlab_child_reap(&h->c, 0) == 1)
        return vmlab_pushfail(L, ESRCH, "kill(pid %d, %s): the child has ended", (int)pid,
                              vmlab_signal_name(sig) ? vmlab_signal_name(sig) : "0");
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
    new_pids(L);
    luaL_newlib(L, funcs);
    return 1;
}
