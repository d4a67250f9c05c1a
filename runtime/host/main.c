/* vmlab's command line, shaped after lua.c: scripts with `arg`, -e, -l,
 * -i, `-` for stdin, plus memtoy's -v/-x/-h and the `report` subcommand. */
#include "vmlab/host.h"
#include "vmlab/version.h"

#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *progname = "vmlab";

static void usage(FILE *f)
{
    fprintf(f,
        "usage: %s [options] [script [args]]\n"
        "       %s report <kind> -i <record> [options]\n"
        "       %s record [options] -- command [args]   (record -h for more)\n"
        "       %s trace [simulate|mrc|convert|print|plot|policies] ...  (trace -h)\n"
        "       %s damon status [--root DIR]\n"
        "Run a Lua 5.4 scenario with the vmlab modules; with no script, read\n"
        "statements at a prompt (a terminal) or a script from stdin (a pipe).\n"
        "  -e code    run the Lua statement 'code'\n"
        "  -l mod     require 'mod' into the global 'mod'\n"
        "  -i         open the prompt after running the script\n"
        "  -v         verbose: echo memtoy commands and report more\n"
        "  -V         print the version and exit\n"
        "  --memtoy   read memtoy commands (from script, or stdin; a prompt on a terminal)\n"
        "  -h, -x     print this help and exit\n"
        "  --         stop handling options\n"
        "  -          run stdin as a script and stop handling options\n",
        progname, progname, progname, progname, progname);
}

/* Subcommands: `vmlab NAME args...` runs MODULE.main(args...).  A file of
 * that name in the current directory wins (it is a script to run). */
static const struct {
    const char *name, *module;
} subcommands[] = {
    {"report", "vmlab.report"},
    {"record", "vmlab.record_cli"},
    {"trace", "vmlab.trace"},
    {"damon", "vmlab.damon_cmd"},
    {NULL, NULL}};

static const char *subcommand(const char *word)
{
    for (size_t i = 0; subcommands[i].name; i++)
        if (!strcmp(word, subcommands[i].name) && access(word, F_OK) != 0)
            return subcommands[i].module;
    return NULL;
}

static void report_error(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(error object is not a string)");
    fflush(stderr);
    lua_pop(L, 1);
}

/* If the script loaded vmlab.tap, let it finish the TAP stream (plan
 * checks, the exit status Test::Builder would give). */
static int tap_finish(lua_State *L, int status, const char *errmsg)
{
    int code = status;

    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);  /* loaded */
    lua_getfield(L, -1, "vmlab.tap");                     /* loaded tap */
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "_finish");                   /* loaded tap fin */
        if (lua_isfunction(L, -1)) {
            if (errmsg)
                lua_pushstring(L, errmsg);
            else
                lua_pushnil(L);
            if (vmlab_docall(L, 1, 1) == LUA_OK) {
                if (lua_isinteger(L, -1))
                    code = (int)lua_tointeger(L, -1);
            } else {
                report_error(L);
                lua_pushnil(L);
                code = 255;
            }
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    return code;
}

static int dochunk(lua_State *L, int status)
{
    if (status == LUA_OK)
        status = vmlab_docall(L, 0, 0);
    if (status != LUA_OK)
        report_error(L);
    return status;
}

static int dostring(lua_State *L, const char *code)
{
    return dochunk(L, luaL_loadbuffer(L, code, strlen(code), "=(command line)"));
}

static int dolibrary(lua_State *L, const char *name)
{
    int status;

    lua_getglobal(L, "require");
    lua_pushstring(L, name);
    status = vmlab_docall(L, 1, 1);             /* mod */
    if (status == LUA_OK) {
        const char *g = strrchr(name, '.');
        lua_setglobal(L, g ? g + 1 : name);
    } else {
        report_error(L);
    }
    return status;
}

/* arg[0] is the script, arg[1..] its arguments, negative indices the
 * interpreter and its options (as lua.c). */
static void create_argtable(lua_State *L, char **argv, int argc, int script)
{
    int narg = argc - (script + 1);

    lua_createtable(L, narg, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int doscript(lua_State *L, const char *fname, char **args, int nargs,
                    const char **errmsg)
{
    int status;

    if (fname && !strcmp(fname, "-"))
        fname = NULL;                            /* stdin */
    status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        luaL_checkstack(L, nargs, "too many script arguments");
        for (int i = 0; i < nargs; i++)
            lua_pushstring(L, args[i]);
        status = vmlab_docall(L, nargs, 0);
    }
    if (status != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        lua_pushstring(L, m ? m : "error");
        lua_setfield(L, LUA_REGISTRYINDEX, "vmlab.lasterror");
        lua_getfield(L, LUA_REGISTRYINDEX, "vmlab.lasterror");
        *errmsg = lua_tostring(L, -1);
        lua_pop(L, 1);
        report_error(L);
    }
    return status;
}

int vmlab_run_module_main(lua_State *L, const char *mod, int argc, char **argv)
{
    int code = 0;

    lua_getglobal(L, "require");
    lua_pushstring(L, mod);
    if (vmlab_docall(L, 1, 1) != LUA_OK) {
        report_error(L);
        return 1;
    }
    lua_getfield(L, -1, "main");                 /* mod main */
    if (!lua_isfunction(L, -1)) {
        fprintf(stderr, "%s: %s has no main()\n", progname, mod);
        lua_pop(L, 2);
        return 1;
    }
    luaL_checkstack(L, argc, "too many arguments");
    for (int i = 0; i < argc; i++)
        lua_pushstring(L, argv[i]);
    if (vmlab_docall(L, argc, 1) != LUA_OK) {
        report_error(L);
        code = 1;
    } else {
        if (lua_isinteger(L, -1))
            code = (int)lua_tointeger(L, -1);
        else if (lua_isboolean(L, -1))
            code = lua_toboolean(L, -1) ? 0 : 1;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return code;
}

enum { HAS_I = 1, HAS_V = 2, HAS_E = 4, HAS_MEMTOY = 8, HAS_STDIN = 16 };

/* Check the options; returns the index of the script (argc if none) or
 * -1 after printing what was wrong. */
static int collect_args(int argc, char **argv, int *flags)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            return i;
        if (!strcmp(a, "--"))
            return i + 1;
        if (!strcmp(a, "-")) {
            *flags |= HAS_STDIN;
            return i;
        }
        if (!strcmp(a, "--memtoy")) {
            *flags |= HAS_MEMTOY;
            continue;
        }
        if (!strcmp(a, "--help"))
            a = "-h";
        if (!strcmp(a, "--version"))
            a = "-V";
        if (a[2] != '\0' && a[1] != 'e' && a[1] != 'l') {
            fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
            return -1;
        }
        switch (a[1]) {
        case 'i': *flags |= HAS_I; break;
        case 'v': *flags |= HAS_V; break;
        case 'V': printf("vmlab %s (%s)\n", VMLAB_VERSION, LUA_RELEASE); exit(0);
        case 'h': case 'x': usage(stdout); exit(0);
        case 'e': case 'l':
            if (a[1] == 'e')
                *flags |= HAS_E;
            if (a[2] == '\0' && (++i >= argc || argv[i][0] == '-')) {
                fprintf(stderr, "%s: '%s' needs an argument\n", progname, a);
                return -1;
            }
            break;
        default:
            fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
            return -1;
        }
    }
    return i;
}

/* Run -e and -l in the order given. */
static int run_args(lua_State *L, char **argv, int script)
{
    for (int i = 1; i < script; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l') || a[2] == '-')
            continue;
        const char *v = a[2] ? a + 2 : argv[++i];
        if ((a[1] == 'e' ? dostring(L, v) : dolibrary(L, v)) != LUA_OK)
            return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    int flags = 0, script, status = 0, code = 0;
    const char *errmsg = NULL, *sub;
    lua_State *L;

    if (argv[0] && argv[0][0])
        progname = "vmlab";
    script = collect_args(argc, argv, &flags);
    if (script < 0) {
        usage(stderr);
        return 1;
    }
    L = vmlab_newstate();
    if (!L) {
        fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
        return 1;
    }
    lua_pushboolean(L, flags & HAS_V);
    lua_setfield(L, LUA_REGISTRYINDEX, VMLAB_VERBOSE_KEY);
    create_argtable(L, argv, argc, script < argc ? script : 0);

    if (script < argc && !(flags & HAS_STDIN) && (sub = subcommand(argv[script]))) {
        code = vmlab_run_module_main(L, sub, argc - script - 1, argv + script + 1);
        lua_close(L);
        return code;
    }
    if ((flags & HAS_MEMTOY) && script == argc && isatty(0)) {
        /* memtoy's interactive session: readline, history, completion */
        lua_getglobal(L, "require");
        lua_pushliteral(L, "vmlab.memtoy");
        if (vmlab_docall(L, 1, 1) == LUA_OK) {
            lua_getfield(L, -1, "set_verbose");
            lua_pushboolean(L, flags & HAS_V);
            if (vmlab_docall(L, 1, 0) != LUA_OK)
                report_error(L);
        } else {
            report_error(L);
            lua_pushnil(L);
        }
        lua_pop(L, 1);
        vmlab_memtoy_repl(L);
        lua_close(L);
        return 0;
    }
    if (flags & HAS_MEMTOY) {
        char *margs[3] = {script < argc ? argv[script] : (char *)"-",
                          (char *)((flags & HAS_V) ? "-v" : "")};
        code = vmlab_run_module_main(L, "vmlab.memtoy", (flags & HAS_V) ? 2 : 1, margs);
        lua_close(L);
        return code;
    }
    if (!run_args(L, argv, script)) {
        lua_close(L);
        return 1;
    }
    if (script < argc) {
        status = doscript(L, argv[script], argv + script + 1, argc - script - 1, &errmsg);
        code = status == LUA_OK ? 0 : 1;
        code = tap_finish(L, code, errmsg);
    }
    if (flags & HAS_I) {
        vmlab_preload_globals(L);
        vmlab_repl(L);
    } else if (script == argc && !(flags & HAS_E)) {
        if (isatty(0)) {
            vmlab_preload_globals(L);
            vmlab_repl(L);
        } else {
            status = doscript(L, NULL, NULL, 0, &errmsg);
            code = tap_finish(L, status == LUA_OK ? 0 : 1, errmsg);
        }
    }
    fflush(stdout);
    lua_close(L);
    return code;
}
