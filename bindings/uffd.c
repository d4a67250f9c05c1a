/* require "vmlab.uffd": monitoring other processes with userfaultfd.
 *
 *   uffd.record{ command = {"xz", "-T2", "f"}, out = "damon.data", ... }
 *       -> the command's exit status and what was measured (mode,
 *          samples, sample (the interval really used), pages armed and
 *          touched, unmonitorable, cpu), or nil, message
 *   uffd.available() -> true, or false and why not
 *
 * record runs the command with libvmlab-agent.so preloaded, samples it with
 * the uffd backend until it ends (or timeout) and writes a damo record. */
#include "vmlab/host.h"
#include "vmlab/record.h"
#include "vmlab/uffd.h"
#include "uffd_lua.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A command: a non-empty array of strings, as a Lua-owned argv (pushed;
 * the strings stay alive through the array at idx). */
static char **check_argv(lua_State *L, int idx, const char *what)
{
    size_t n = lua_istable(L, idx) ? lua_rawlen(L, idx) : 0;
    char **argv;

    if (n == 0)
        luaL_error(L, "%s: option 'command' must be a non-empty array of strings", what);
    argv = lua_newuserdatauv(L, (n + 1) * sizeof *argv, 0);   /* argv */
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);               /* argv s */
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: command[%d] is not a string", what, (int)i + 1);
        argv[i] = (char *)lua_tostring(L, -1);
        lua_pop(L, 1);                                         /* argv */
    }
    argv[n] = NULL;
    return argv;
}

void vmlab_uffd_lua_target(lua_State *L, int opts, struct vmlab_damon_opts *o)
{
    static const char *const modes[] = {"rw", "write", NULL};
    static const char *const keys[] = {"command", "include_child_tasks", NULL};
    int t;

    lua_getfield(L, opts, "mode");                             /* mode */
    o->uffd_mode = luaL_checkoption(L, -1, "rw", modes) == 1 ? VMLAB_UFFD_WRITE : VMLAB_UFFD_RW;
    lua_pop(L, 1);
    if (lua_getfield(L, opts, "targets") != LUA_TTABLE || lua_rawlen(L, -1) != 1)
        luaL_error(L, "damon.monitor: the uffd backend takes one target: targets = {{command = "
                   "{\"cmd\", \"arg\", ...}}}");
    lua_rawgeti(L, -1, 1);                                     /* targets tg */
    t = lua_gettop(L);
    if (!lua_istable(L, t))
        luaL_error(L, "damon.monitor: bad uffd target (a table {command = {...}} expected)");
    vmlab_checkopts(L, t, "damon.monitor (uffd target)", keys);
    o->uffd_children = vmlab_optfield_bool(L, t, "include_child_tasks", 0);
    lua_getfield(L, t, "command");                             /* targets tg cmd */
    o->argv = check_argv(L, lua_gettop(L), "damon.monitor (uffd target)");  /* .. cmd argv */
    lua_rotate(L, t - 1, 1);                                   /* argv targets tg cmd */
    lua_settop(L, t - 1);                                      /* argv: the strings live in opts */
}

void vmlab_uffd_lua_stats(lua_State *L, struct vmlab_damon *d)
{
    struct vmlab_uffd_stats st;
    struct vmlab_uffd_kids_stats ks;
    pid_t pid;
    int status, ended, kids;

    if (!vmlab_damon_is_uffd(d))
        return;
    vmlab_damon_lock(d);
    vmlab_damon_uffd_stats(d, &st);
    ended = vmlab_damon_uffd_command(d, &pid, &status);
    kids = vmlab_damon_uffd_kids_stats(d, &ks) == 0;
    vmlab_damon_unlock(d);
    if (kids) {   /* following children: how many targets, how many run */
        lua_pushinteger(L, (lua_Integer)ks.targets); lua_setfield(L, -2, "targets");
        lua_pushinteger(L, (lua_Integer)ks.running); lua_setfield(L, -2, "targets_running");
    }
    lua_pushstring(L, st.mode == VMLAB_UFFD_WRITE ? "write" : "rw"); lua_setfield(L, -2, "mode");
    lua_pushinteger(L, (lua_Integer)st.armed); lua_setfield(L, -2, "armed");
    lua_pushinteger(L, (lua_Integer)st.accessed); lua_setfield(L, -2, "touched");
    lua_pushinteger(L, (lua_Integer)st.unmonitorable); lua_setfield(L, -2, "unmonitorable");
    lua_pushinteger(L, (lua_Integer)st.unmon_bytes); lua_setfield(L, -2, "unmonitored_bytes");
    lua_pushinteger(L, (lua_Integer)st.huge); lua_setfield(L, -2, "huge");
    lua_pushnumber(L, st.agent_cpu); lua_setfield(L, -2, "agent_cpu");
    lua_pushboolean(L, st.agent_gone); lua_setfield(L, -2, "agent_gone");
    lua_pushinteger(L, pid); lua_setfield(L, -2, "pid");
    lua_pushboolean(L, ended != 1); lua_setfield(L, -2, "running");
    if (ended == 1) {   /* the shell's convention: 128 + signal when killed */
        lua_pushinteger(L, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        lua_setfield(L, -2, "status");
    }
}

static int l_record(lua_State *L)
{
    static const char *const valid[] = {"command", "out", "format", "sample", "aggr", "update",
                                        "min_regions", "max_regions", "budget", "timeout", "mode",
                                        "seed", "verbose", "include_child_tasks", NULL};
    static const char *const modes[] = {"rw", "write", NULL};
    struct vmlab_uffd_record_opts o;
    struct vmlab_uffd_record_result res;
    const char *why;
    char **argv, err[512];
    int r, mode;

    luaL_checktype(L, 1, LUA_TTABLE);
    vmlab_checkopts(L, 1, "uffd.record", valid);
    memset(&o, 0, sizeof o);
    vmlab_damon_default_attrs(&o.attrs);
    o.attrs.sample_us = (uint64_t)(vmlab_optfield_time(L, 1, "sample", 0.005) * 1e6 + 0.5);
    o.attrs.aggr_us = (uint64_t)(vmlab_optfield_time(L, 1, "aggr", 0.1) * 1e6 + 0.5);
    o.attrs.update_us = (uint64_t)(vmlab_optfield_time(L, 1, "update", 1) * 1e6 + 0.5);
    o.attrs.min_nr_regions = (unsigned)vmlab_optfield_int(L, 1, "min_regions", 10);
    o.attrs.max_nr_regions = (unsigned)vmlab_optfield_int(L, 1, "max_regions", 1000);
    if ((why = vmlab_damon_check_attrs(&o.attrs)))
        return luaL_error(L, "uffd.record: %s", why);
    lua_getfield(L, 1, "budget");                               /* opts budget */
    o.budget = lua_isnil(L, -1) ? 0.05 : luaL_checknumber(L, -1);
    lua_pop(L, 1);
    if (o.budget <= 0 || o.budget > 1)
        return luaL_error(L, "uffd.record: bad option 'budget' (a fraction of one CPU, above 0, at most 1)");
    o.timeout = vmlab_optfield_time(L, 1, "timeout", 0);
    lua_getfield(L, 1, "mode");
    mode = luaL_checkoption(L, -1, "rw", modes);
    lua_pop(L, 1);
    o.mode = mode == 1 ? VMLAB_UFFD_WRITE : VMLAB_UFFD_RW;
    o.out = vmlab_optfield_string(L, 1, "out", NULL);
    o.format = vmlab_optfield_string(L, 1, "format", "json_compressed");
    if (vmlab_rec_format(o.format) < 0)
        return luaL_error(L, "uffd.record: bad option 'format' (json_compressed, json or record)");
    o.seed = (uint64_t)vmlab_optfield_int(L, 1, "seed", 42);
    o.verbose = vmlab_optfield_bool(L, 1, "verbose", 0);
    o.children = vmlab_optfield_bool(L, 1, "include_child_tasks", 0);
    lua_getfield(L, 1, "command");                             /* opts cmd */
    argv = check_argv(L, lua_gettop(L), "uffd.record");                    /* opts cmd argv */
    r = vmlab_uffd_record(&o, argv, err, sizeof err, &res);
    if (r < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "uffd.record: %s", err);
        return 2;
    }
    lua_pushinteger(L, r);                                      /* .. status */
    lua_createtable(L, 0, 12);
    lua_pushstring(L, res.st.mode == VMLAB_UFFD_WRITE ? "write" : "rw"); lua_setfield(L, -2, "mode");
    lua_pushinteger(L, (lua_Integer)res.samples); lua_setfield(L, -2, "samples");
    lua_pushinteger(L, (lua_Integer)res.aggregations); lua_setfield(L, -2, "aggregations");
    lua_pushnumber(L, (double)res.sample_us / 1e6); lua_setfield(L, -2, "sample");
    lua_pushnumber(L, res.seconds); lua_setfield(L, -2, "seconds");
    lua_pushinteger(L, (lua_Integer)res.st.armed); lua_setfield(L, -2, "armed");
    lua_pushinteger(L, (lua_Integer)res.st.accessed); lua_setfield(L, -2, "touched");
    lua_pushinteger(L, (lua_Integer)res.st.unmonitorable); lua_setfield(L, -2, "unmonitorable");
    lua_pushinteger(L, (lua_Integer)res.st.unmon_bytes); lua_setfield(L, -2, "unmonitored_bytes");
    lua_pushinteger(L, (lua_Integer)res.st.huge); lua_setfield(L, -2, "huge");
    lua_pushnumber(L, res.vmlab_cpu); lua_setfield(L, -2, "vmlab_cpu");
    lua_pushnumber(L, res.st.agent_cpu); lua_setfield(L, -2, "agent_cpu");
    lua_pushinteger(L, (lua_Integer)res.targets); lua_setfield(L, -2, "targets");
    return 2;
}

/* userfaultfd with UFFDIO_MOVE here? (the agent needs it in the target) */
static int l_available(lua_State *L)
{
    struct uffdio_api api = {.api = UFFD_API};
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    if (fd < 0) {
        lua_pushboolean(L, 0);
        lua_pushfstring(L, "userfaultfd(): %s%s", strerror(errno),
                        errno == EPERM ? " (vm.unprivileged_userfaultfd is 0, or a seccomp filter)" : "");
        return 2;
    }
    if (ioctl(fd, UFFDIO_API, &api) < 0 || !(api.features & UFFD_FEATURE_MOVE)) {
        close(fd);
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "userfaultfd has no UFFD_FEATURE_MOVE (Linux 6.8 or later is needed)");
        return 2;
    }
    close(fd);
    lua_pushboolean(L, 1);
    lua_pushstring(L, api.features & UFFD_FEATURE_WP_ASYNC ? "rw write" : "rw");
    return 2;
}

static const luaL_Reg funcs[] = {{"record", l_record}, {"available", l_available}, {NULL, NULL}};

int luaopen_vmlab_uffd(lua_State *L)
{
    luaL_newlib(L, funcs);
    return 1;
}
