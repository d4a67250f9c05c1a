/* require "vmlab.numa": nodes, the task's memory policy, migration, and
 * the cpus and memories the task may use. */
#include "vmlab/host.h"
#include "vmlab/numa.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *fmtmask(lua_State *L, const struct vmlab_nodemask *m)
{
    char buf[512];
    return lua_pushstring(L, vmlab_format_nodes(m, buf, sizeof buf));
}

/* numa.available() -> true if the kernel has NUMA (a mempolicy) */
static int l_available(lua_State *L)
{
    int mode;
    struct vmlab_nodemask m;
    lua_pushboolean(L, vmlab_numa_get_policy(&mode, &m) == 0);
    return 1;
}

/* numa.nodes() -> { {id=, total=, free=, cpus=, distances={[node]=d}}, ... } */
static int l_nodes(lua_State *L)
{
    /* scratch owned by Lua: the pushes below may raise */
    struct vmlab_node_info *info = lua_newuserdatauv(L, VMLAB_MAX_NODES * sizeof *info, 0);
    int n;

    memset(info, 0, VMLAB_MAX_NODES * sizeof *info);
    n = vmlab_numa_nodes(info, VMLAB_MAX_NODES);
    if (n < 0)
        return vmlab_pushfail(L, -n, "numa.nodes()");
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 5);
        lua_pushinteger(L, info[i].id); lua_setfield(L, -2, "id");
        lua_pushinteger(L, (lua_Integer)info[i].total); lua_setfield(L, -2, "total");
        lua_pushinteger(L, (lua_Integer)info[i].free); lua_setfield(L, -2, "free");
        lua_pushstring(L, info[i].cpus); lua_setfield(L, -2, "cpus");
        lua_newtable(L);
        for (int j = 0; j < n; j++) {
            int d = vmlab_numa_distance(info[i].id, info[j].id);
            if (d >= 0) {
                lua_pushinteger(L, d);
                lua_rawseti(L, -2, info[j].id);
            }
        }
        lua_setfield(L, -2, "distances");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* numa.policy() -> name, nodes, flags */
static int l_policy(lua_State *L)
{
    struct vmlab_nodemask m;
    int mode, r = vmlab_numa_get_policy(&mode, &m);
    if (r < 0)
        return vmlab_pushfail(L, -r, "get_mempolicy()");
    lua_pushstring(L, vmlab_mpol_name(mode & 0xff));
    vmlab_pushnodes(L, &m);
    lua_newtable(L);
    if (mode & vmlab_mpol_mode_flag("static")) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "static");
    }
    if (mode & vmlab_mpol_mode_flag("relative")) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "relative");
    }
    return 3;
}

/* numa.set_policy(policy[, nodes[, flags]]); policy may read "interleave+static". */
static int l_set_policy(lua_State *L)
{
    const char *spec = vmlab_checkcstring(L, 1, NULL);
    const char *flags = vmlab_optcstring(L, 3, NULL, NULL);
    struct vmlab_policy_spec p = {-1, 0, 0};
    struct vmlab_nodemask m;
    char err[160];
    int r;

    if (vmlab_parse_policy(spec, &p, err, sizeof err) < 0 ||
        (flags && vmlab_parse_policy_flags(flags, &p, err, sizeof err) < 0))
        return luaL_error(L, "set_policy: %s", err);
    if (p.mbind_flags)   /* strict, move, all: mbind's, not the task's */
        return luaL_error(L, "set_policy: mbind flags (strict, move, all) do not apply to the task; "
                          "use static or relative");
    if (!lua_isnoneornil(L, 2))
        vmlab_checknodes(L, 2, &m);
    r = vmlab_numa_set_policy(p.mode | p.mode_flags, lua_isnoneornil(L, 2) ? NULL : &m);
    if (r < 0)
        return vmlab_pushfail(L, -r, "set_mempolicy(%s, {%s})", spec,
                              lua_isnoneornil(L, 2) ? "" : fmtmask(L, &m));
    lua_pushboolean(L, 1);
    return 1;
}

/* numa.migrate(to, from[, pid]) -> pages that could not be moved */
static int l_migrate(lua_State *L)
{
    struct vmlab_nodemask to, from;
    /* 0: this process; checked before it narrows to a pid_t */
    lua_Integer pid = lua_isnoneornil(L, 3) ? 0 : vmlab_checkrange(L, 3, 0, INT_MAX);
    long r;

    vmlab_checknodes(L, 1, &to);
    vmlab_checknodes(L, 2, &from);
    r = vmlab_numa_migrate((int)pid, &from, &to);
    if (r < 0)
        return vmlab_pushfail(L, (int)-r, "migrate_pages(pid %d, from {%s} to {%s})", (int)pid,
                              fmtmask(L, &from), fmtmask(L, &to));
    lua_pushinteger(L, r);
    return 1;
}

/* numa.cpus([list]) -> the cpus this task may run on; with a list, set them. */
static int l_cpus(lua_State *L)
{
    cpu_set_t set;
    int k = 0;

    if (!lua_isnoneornil(L, 1)) {
        struct vmlab_nodemask m;
        vmlab_checkcpus(L, 1, &m);
        CPU_ZERO(&set);
        for (int i = 0; i < VMLAB_MAX_NODES && i < CPU_SETSIZE; i++)
            if (vmlab_nodes_isset(&m, i))
                CPU_SET(i, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0)
            return vmlab_pusherrno(L, "sched_setaffinity({%s})", fmtmask(L, &m));
    }
    if (sched_getaffinity(0, sizeof set, &set) < 0)
        return vmlab_pusherrno(L, "sched_getaffinity()");
    lua_newtable(L);
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set)) {
            lua_pushinteger(L, i);
            lua_rawseti(L, -2, ++k);
        }
    return 1;
}

/* numa.mems([list]) -> the nodes this task may allocate on; with a list,
 * restrict allocations to them (a bind policy: cpusets are the admin's). */
static int l_mems(lua_State *L)
{
    struct vmlab_nodemask m;
    int r;

    if (!lua_isnoneornil(L, 1)) {
        vmlab_checknodes(L, 1, &m);
        if ((r = vmlab_numa_set_policy(vmlab_mpol_mode("bind"), &m)) < 0)
            return vmlab_pushfail(L, -r, "set_mempolicy(bind, {%s})", fmtmask(L, &m));
    }
    if ((r = vmlab_numa_allowed(&m)) < 0)
        return vmlab_pushfail(L, -r, "Mems_allowed");
    vmlab_pushnodes(L, &m);
    return 1;
}

/* numa.parse_nodes(s) -> array of node numbers; raises on a bad list. */
static int l_parse_nodes(lua_State *L)
{
    struct vmlab_nodemask m;
    vmlab_checknodes(L, 1, &m);
    vmlab_pushnodes(L, &m);
    return 1;
}

static int l_online(lua_State *L)
{
    struct vmlab_nodemask m;
    vmlab_numa_online(&m);
    vmlab_pushnodes(L, &m);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"available", l_available}, {"nodes", l_nodes},       {"policy", l_policy},
    {"set_policy", l_set_policy}, {"migrate", l_migrate}, {"cpus", l_cpus},
    {"mems", l_mems},           {"parse_nodes", l_parse_nodes}, {"online", l_online},
    {NULL, NULL}};

int luaopen_vmlab_numa(lua_State *L)
{
    luaL_newlib(L, funcs);
    return 1;
}
