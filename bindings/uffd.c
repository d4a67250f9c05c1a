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
#include "damon_targets.h"
#include "vmlab/uffd_self.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
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

/* ---- a vmlab.proc child as the target: its agent started inside it ---------- */

/* In a forked child: the state whose Lua code runs (proc.fork's), and the
 * token of the socket its parent listens on. */
static lua_State *child_L;
static volatile uint32_t child_token;

static void agent_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    /* failures reach the parent: REFUSE on the socket, or a timeout */
    vmlab_agent_connect_and_start(getppid(), child_token);
}

/* The parent's signal: start the agent at the next Lua instruction (a
 * hook is the one thing a handler may set safely, as lua.c's SIGINT). */
static void on_agent_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    child_token = (uint32_t)si->si_value.sival_int;
    if (child_L)
        lua_sethook(child_L, agent_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

void vmlab_uffd_lua_child(lua_State *L)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_agent_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    child_L = L;
    sigaction(vmlab_agent_signal(), &sa, NULL);
}

/* uffd.agent_here(token): in a vmlab.proc child, start the agent for the
 * parent's monitor (damon.monitor sends it through c:eval). */
static int l_agent_here(lua_State *L)
{
    lua_Integer tok = luaL_checkinteger(L, 1);
    int e = vmlab_agent_connect_and_start(getppid(), (uint32_t)tok);
    if (e < 0)
        return vmlab_pushfail(L, -e, "uffd.agent_here: connecting to the parent (pid %d)", (int)getppid());
    lua_pushboolean(L, 1);
    return 1;
}

/* Whether pid catches sig (SigCgt in /proc/PID/status): a child that has
 * not installed the handler yet would die of the signal. */
static int catches(pid_t pid, int sig)
{
    char path[64], line[256];
    unsigned long long mask = 0;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (!(f = fopen(path, "re")))
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "SigCgt: %llx", &mask) == 1)
            break;
    fclose(f);
    return (int)((mask >> (sig - 1)) & 1);
}

/* Whether child pid has ended (looked at, not reaped: its handle reaps). */
static int has_ended(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

static int agent_gc(lua_State *L)
{
    struct vmlab_agent_proc *p = lua_touserdata(L, 1);
    vmlab_agent_close(p);   /* not taken over by a monitor: the agent stops */
    return 0;
}

#define AGENT_WAIT 10.0   /* seconds for a child to start its agent */

/* targets = { child } or { {pid = N} }: start the agent in a vmlab.proc
 * child of this process (pushed: its link, owned by Lua until the monitor
 * takes the socket).  0, or nil, message, errno pushed (3). */
static int lua_proc_target(lua_State *L, int tg, struct vmlab_damon_opts *o)
{
    static const char *const keys[] = {"pid", NULL};
    struct vmlab_agent_proc *p;
    char why[512], name[64];
    lua_Integer pid;
    uint32_t token;
    int h, lsock, e, is_fork, sig = vmlab_agent_signal();

    if (lua_istable(L, tg)) {
        vmlab_checkopts(L, tg, "damon.monitor (uffd target)", keys);
        lua_getfield(L, tg, "pid");
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) <= 0)
            luaL_error(L, "damon.monitor: uffd target: pid must be a positive integer");
        pid = lua_tointeger(L, -1);
        lua_getfield(L, LUA_REGISTRYINDEX, "vmlab.proc.pids");     /* .. pid pids */
        if (!lua_istable(L, -1) || lua_rawgeti(L, -1, pid) != LUA_TUSERDATA) {
            if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
                luaL_error(L, "damon.monitor: uffd target: no process %d", (int)pid);
            luaL_error(L, "damon.monitor: uffd target: pid %d is not a vmlab.proc child of this vmlab: the uffd "
                       "backend needs its agent inside the process, which vmlab can start only in a command it "
                       "runs (targets = {{command = {...}}}, `vmlab record -- cmd`) or in its own children; "
                       "for any process, use backend = \"kernel\" (kernel DAMON)", (int)pid);
        }
        lua_replace(L, tg);                                          /* the handle in tg's place */
        lua_settop(L, tg);
    }
    h = tg;
    lua_getfield(L, h, "closed");
    if (lua_toboolean(L, -1))
        luaL_error(L, "damon.monitor: uffd target: the child is closed");
    lua_getfield(L, h, "pid");
    pid = lua_tointeger(L, -1);
    lua_getfield(L, h, "name");
    snprintf(name, sizeof name, "fork %d", (int)pid);
    is_fork = !strcmp(lua_tostring(L, -1), name);
    lua_settop(L, h);
    if (kill((pid_t)pid, 0) < 0 || has_ended((pid_t)pid))
        return vmlab_pushfail(L, ESRCH, "damon.monitor: the child (pid %d) has ended", (int)pid);
    {
        FILE *r = fopen("/dev/urandom", "re");
        if (!r || fread(&token, sizeof token, 1, r) != 1)
            token = (uint32_t)getpid() * 2654435761u ^ (uint32_t)time(NULL);
        if (r)
            fclose(r);
    }
    if ((lsock = vmlab_agent_listen((pid_t)pid, token)) < 0)
        return vmlab_pushfail(L, -lsock, "damon.monitor: listening for the child's agent");
    if (is_fork) {
        union sigval v;
        double end = vmlab_now() + AGENT_WAIT;
        while (!catches((pid_t)pid, sig) && vmlab_now() < end)
            if (vmlab_snooze(0.002) < 0) {   /* just forked: the handler comes at once */
                close(lsock);
                vmlab_checkinterrupt(L);
            }
        v.sival_int = (int)token;
        if (!catches((pid_t)pid, sig) || sigqueue((pid_t)pid, sig, v) < 0) {
            close(lsock);
            return vmlab_pushfail(L, ESRCH, "damon.monitor: the child (pid %d) cannot be asked to start its agent",
                                  (int)pid);
        }
    } else {   /* a command loop: ask it */
        lua_getfield(L, h, "eval");                                 /* .. eval */
        lua_pushvalue(L, h);
        lua_pushfstring(L, "return require('vmlab.uffd').agent_here(%I)", (lua_Integer)token);
        lua_pushnumber(L, AGENT_WAIT);
        if (lua_pcall(L, 3, 2, 0) != LUA_OK || !lua_toboolean(L, -2)) {
            const char *msg = lua_tostring(L, -1);
            close(lsock);
            return vmlab_pushfail(L, EPROTO, "damon.monitor: the child (pid %d) did not start its agent: %s",
                                  (int)pid, msg ? msg : "no reason");
        }
        lua_settop(L, h);
    }
    p = lua_newuserdatauv(L, sizeof *p, 0);                          /* .. link */
    memset(p, 0, sizeof *p);
    p->sock = -1;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, agent_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    e = vmlab_agent_accept(lsock, (pid_t)pid, AGENT_WAIT, p, why, sizeof why);
    close(lsock);
    if (e == -EINTR)
        vmlab_checkinterrupt(L);   /* Ctrl-C: "interrupted!" */
    if (e < 0)
        return vmlab_pushfail(L, -e, "damon.monitor: the agent in child pid %d: %s%s", (int)pid, why,
                              e == -EPERM ? " (vm.unprivileged_userfaultfd is 0 and no CAP_SYS_PTRACE, or a "
                              "seccomp filter)" : "");
    o->proc = p;
    return 0;
}

/* What a uffd target is: 'c' a command, 'p' a process (a vmlab.proc
 * child or {pid = N}), 's' a segment or range. */
static int target_kind(lua_State *L, int tg)
{
    int k;
    if (luaL_testudata(L, tg, "vmlab.proc.child"))
        return 'p';
    if (!lua_istable(L, tg))
        return 's';
    if (lua_getfield(L, tg, "command") != LUA_TNIL)
        k = 'c';
    else if (lua_getfield(L, tg, "pid") != LUA_TNIL)
        k = 'p';
    else if (lua_getfield(L, tg, "addr") != LUA_TNIL || lua_getfield(L, tg, "start") != LUA_TNIL)
        k = 's';
    else
        k = 'c';   /* a table of nothing known: checked (and refused) as a command */
    lua_settop(L, tg);
    return k;
}

int vmlab_uffd_lua_target(lua_State *L, int opts, struct vmlab_damon_opts *o)
{
    static const char *const modes[] = {"rw", "write", NULL};
    static const char *const keys[] = {"command", "include_child_tasks", NULL};
    int t, kind;

    lua_getfield(L, opts, "mode");                             /* mode */
    o->uffd_mode = luaL_checkoption(L, -1, "rw", modes) == 1 ? VMLAB_UFFD_WRITE : VMLAB_UFFD_RW;
    lua_pop(L, 1);
    if (lua_getfield(L, opts, "targets") != LUA_TTABLE || lua_rawlen(L, -1) < 1)
        luaL_error(L, "damon.monitor: the uffd backend takes one target, a process (targets = {{command = "
                   "{\"cmd\", \"arg\", ...}}}, a vmlab.proc child or {pid = N}), or segments");
    lua_rawgeti(L, -1, 1);                                     /* targets tg */
    t = lua_gettop(L);
    kind = target_kind(L, t);
    if (kind == 's') {
        /* vmlab's own segments: parsed as the prot backend's (without
         * our mode option, which that parser refuses) */
        for (lua_Integer i = 2; i <= (lua_Integer)lua_rawlen(L, t - 1); i++) {
            lua_rawgeti(L, t - 1, i);
            if (target_kind(L, lua_gettop(L)) != 's')
                luaL_error(L, "damon.monitor: uffd target %d: segments and processes do not mix", (int)i);
            lua_pop(L, 1);
        }
        lua_settop(L, t - 1);                                  /* targets */
        lua_createtable(L, 0, 1);                              /* targets opts' */
        lua_insert(L, -2);                                     /* opts' targets */
        lua_setfield(L, -2, "targets");                        /* opts' */
        o->nr_targets = vmlab_damon_lua_targets(L, lua_gettop(L), (struct vmlab_range **)&o->ranges,
                                                (int **)&o->prot);   /* opts' ranges prot */
        return 0;
    }
    if (lua_rawlen(L, t - 1) != 1)
        luaL_error(L, "damon.monitor: the uffd backend takes one target when it is a process");
    if (kind == 'p')
        return lua_proc_target(L, t, o);                       /* targets tg link */
    if (!lua_istable(L, t))
        luaL_error(L, "damon.monitor: bad uffd target (a table {command = {...}} expected)");
    vmlab_checkopts(L, t, "damon.monitor (uffd target)", keys);
    o->uffd_children = vmlab_optfield_bool(L, t, "include_child_tasks", 0);
    lua_getfield(L, t, "command");                             /* targets tg cmd */
    o->argv = check_argv(L, lua_gettop(L), "damon.monitor (uffd target)");  /* .. cmd argv */
    lua_rotate(L, t - 1, 1);                                   /* argv targets tg cmd */
    lua_settop(L, t - 1);                                      /* argv: the strings live in opts */
    return 0;
}

void vmlab_uffd_lua_stats(lua_State *L, struct vmlab_damon *d)
{
    struct vmlab_uffd_stats st;
    struct vmlab_uffd_kids_stats ks;
    pid_t pid = 0;
    int status = -1, ended = 0, kids = 0, self = d->ops == &vmlab_damon_uffd_self_ops;

    if (!vmlab_damon_is_uffd(d) && !self)
        return;
    vmlab_damon_lock(d);
    if (self) {
        vmlab_damon_uffd_self_stats(d, &st);
    } else {
        vmlab_damon_uffd_stats(d, &st);
        ended = vmlab_damon_uffd_command(d, &pid, &status);
        kids = vmlab_damon_uffd_kids_stats(d, &ks) == 0;
    }
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
    lua_pushinteger(L, (lua_Integer)st.gone); lua_setfield(L, -2, "gone");
    lua_pushnumber(L, st.agent_cpu); lua_setfield(L, -2, "agent_cpu");
    lua_pushnumber(L, st.target_lost); lua_setfield(L, -2, "target_lost");
    lua_pushnumber(L, st.target_sys); lua_setfield(L, -2, "target_sys");
    lua_pushboolean(L, st.agent_gone); lua_setfield(L, -2, "agent_gone");
    if (self)
        return;   /* this process: no pid, always running */
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
    o.budget = lua_isnil(L, -1) ? VMLAB_UFFD_BUDGET : luaL_checknumber(L, -1);
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
    lua_pushnumber(L, res.st.target_lost); lua_setfield(L, -2, "target_lost");
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

static const luaL_Reg funcs[] = {{"record", l_record}, {"available", l_available},
                                 {"agent_here", l_agent_here}, {NULL, NULL}};

int luaopen_vmlab_uffd(lua_State *L)
{
    luaL_newlib(L, funcs);
    return 1;
}
