/* The interactive prompt on GNU readline: multi-line statements, values
 * printed through vmlab.pretty, persistent history, Ctrl-C that clears the
 * line at the prompt and interrupts running code, Ctrl-D, quit or exit to
 * leave; memtoy's commands where a line is not Lua; and memtoy's own
 * prompt (vmlab --memtoy on a terminal). */
#include "vmlab/host.h"
#include "vmlab/interrupt.h"
#include "vmlab/version.h"

#include <errno.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/select.h>
#include <fcntl.h>
#include <unistd.h>

#define HISTORY_MAX 1000
#define EOFMARK "<eof>"

static volatile sig_atomic_t prompt_sigint;

/* ---- history ------------------------------------------------------------ */

/* $XDG_STATE_HOME/vmlab/<file>, else ~/.local/state/vmlab/<file>.
 * Directories are created; any failure just means no history. */
static char *history_path(const char *file)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[PATH_MAX], *path;

    if (state && *state)
        snprintf(dir, sizeof dir, "%s/vmlab", state);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/state/vmlab", home);
    else
        return NULL;
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return NULL;
    path = malloc(strlen(dir) + strlen(file) + 2);
    if (path) {
        FILE *f;
        sprintf(path, "%s/%s", dir, file);
        /* append_history() needs the file to exist. */
        f = fopen(path, "a");
        if (f)
            fclose(f);
    }
    return path;
}

static void remember(const char *hist, const char *entry)
{
    HIST_ENTRY *last = history_length ? history_get(history_base + history_length - 1) : NULL;

    if (!*entry || (last && !strcmp(last->line, entry)))
        return;
    add_history(entry);
    if (hist) {
        /* Append now, so that a crash or a second session keeps it. */
        append_history(1, hist);
        history_truncate_file(hist, HISTORY_MAX);
    }
}

/* ---- reading a line, and Ctrl-C at the prompt ---------------------------
 * readline's callback interface with select() on stdin and a self-pipe:
 * a SIGINT at any moment (typing, redisplay, completion) wakes the loop,
 * which drops the line.  The blocking readline() only notices a signal
 * that interrupts its read(), so a ^C could wait for the next key. */

static int sigpipe_fd[2] = {-1, -1};
static char *cb_line;
static int cb_done;

static void on_prompt_sigint(int sig)
{
    int saved = errno;
    char c = 1;
    (void)sig;
    prompt_sigint = 1;
    if (write(sigpipe_fd[1], &c, 1) < 0) {
        /* the pipe is full: a ^C is pending already */
    }
    errno = saved;
}

static void on_line(char *line)
{
    cb_line = line;
    cb_done = 1;
    rl_callback_handler_remove();
}

/* One line (malloc'd), NULL at end of input; *interrupted on ^C. */
static char *read_line(const char *prompt, int *interrupted)
{
    char drain[64];

    *interrupted = 0;
    cb_done = 0;
    cb_line = NULL;
    prompt_sigint = 0;
    while (read(sigpipe_fd[0], drain, sizeof drain) > 0) {
    }
    rl_callback_handler_install(prompt, on_line);
    while (!cb_done) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(0, &fds);
        FD_SET(sigpipe_fd[0], &fds);
        if (select(sigpipe_fd[0] + 1, &fds, NULL, NULL, NULL) < 0) {
            if (errno == EINTR)
                continue;
            rl_callback_handler_remove();
            return NULL;
        }
        if (FD_ISSET(sigpipe_fd[0], &fds)) {
            while (read(sigpipe_fd[0], drain, sizeof drain) > 0) {
            }
            rl_free_line_state();
            rl_callback_sigcleanup();
            rl_callback_handler_remove();
            fputc('\n', stdout);
            fflush(stdout);
            *interrupted = 1;
            return NULL;
        }
        if (FD_ISSET(0, &fds))
            rl_callback_read_char();
    }
    return cb_line;
}

/* ---- evaluation --------------------------------------------------------- */

static int incomplete(lua_State *L, int status)
{
    size_t lmsg;
    const char *msg;

    if (status != LUA_ERRSYNTAX)
        return 0;
    msg = lua_tolstring(L, -1, &lmsg);
    return lmsg >= sizeof(EOFMARK) - 1 &&
           !strcmp(msg + lmsg - (sizeof(EOFMARK) - 1), EOFMARK);
}

/* Compile `src` as an expression (`=expr` or a bare one) or a statement.
 * Leaves the function or the error message; returns the status. */
static int compile(lua_State *L, const char *src)
{
    const char *expr = src[0] == '=' ? src + 1 : src;
    const char *ret = lua_pushfstring(L, "return %s;", expr);  /* ret */
    int status = luaL_loadbuffer(L, ret, strlen(ret), "=stdin");
    lua_remove(L, -2);                                         /* f|msg */
    if (status == LUA_OK || src[0] == '=')
        return status;
    lua_pop(L, 1);
    return luaL_loadbuffer(L, src, strlen(src), "=stdin");     /* f|msg */
}

/* The first word of a line when it is a Lua name ("pi" in "pi = 3"), in
 * buf; "" otherwise. */
static const char *first_name(const char *line, char *buf, size_t size)
{
    size_t n = 0;

    while (*line == ' ' || *line == '\t')
        line++;
    if (!(*line == '_' || (*line >= 'a' && *line <= 'z') || (*line >= 'A' && *line <= 'Z')))
        return "";
    while (n + 1 < size && (line[n] == '_' || (line[n] >= 'a' && line[n] <= 'z') ||
                            (line[n] >= 'A' && line[n] <= 'Z') || (line[n] >= '0' && line[n] <= '9')))
        n++;
    memcpy(buf, line, n);
    buf[n] = '\0';
    return buf;
}

static int is_global(lua_State *L, const char *name)
{
    int t;
    lua_pushglobaltable(L);
    t = lua_getfield(L, -1, name);                              /* G v */
    lua_pop(L, 2);
    return t != LUA_TNIL;
}

/* A line that is not Lua: it is not a statement, and its first word is
 * not a defined name (`pi` after `pi = 3.14` is Lua; `show` is not). */
static int not_lua(lua_State *L, const char *line, const char *word)
{
    int statement;

    if (line[0] == '=' || (*word && is_global(L, word)))
        return 0;
    statement = luaL_loadbuffer(L, line, strlen(line), "=stdin") == LUA_OK;
    lua_pop(L, 1);
    return !statement;
}

/* The REPL's own words, when they are not Lua: `quit` and `exit` leave
 * (returns -1), `help [name]` calls the help module (returns 1). */
static int repl_word(lua_State *L, const char *line)
{
    char buf[64], rest[256];
    const char *w = first_name(line, buf, sizeof buf);
    const char *after;

    if (!*w || line[0] == '=')
        return 0;
    after = strstr(line, w) + strlen(w);
    while (*after == ' ' || *after == '\t')
        after++;
    if ((!strcmp(w, "quit") || !strcmp(w, "exit")) && !*after && !is_global(L, w))
        return -1;
    if (strcmp(w, "help"))
        return 0;
    /* `help(seg)` and `help "seg.anon"` are Lua calls; `help` and
     * `help touch` are not. */
    if (luaL_loadbuffer(L, line, strlen(line), "=stdin") == LUA_OK) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pop(L, 1);
    snprintf(rest, sizeof rest, "%s", after);
    for (size_t n = strlen(rest); n > 0 && (rest[n - 1] == ' ' || rest[n - 1] == '\t'); n--)
        rest[n - 1] = '\0';
    lua_getglobal(L, "require");
    lua_pushliteral(L, "vmlab.help");
    if (vmlab_docall(L, 1, 1) != LUA_OK) {                     /* help|msg */
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 1;
    }
    lua_getfield(L, -1, "help");                               /* M help */
    if (*rest)
        lua_pushstring(L, rest);
    if (vmlab_docall(L, *rest ? 1 : 0, 0) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 1;
}

/* A memtoy line runs only when it is not Lua (see not_lua) and its first
 * word is a command's whole name (never a prefix: `tou` is not touch) or
 * a '/child' route.  Returns 1 when it ran the line. */
static int try_memtoy(lua_State *L, const char *line)
{
    int top = lua_gettop(L), handled = 0;
    char buf[64];
    const char *w = first_name(line, buf, sizeof buf);

    if (!not_lua(L, line, w))
        return 0;
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);     /* preload */
    if (lua_getfield(L, -1, "vmlab.memtoy") == LUA_TNIL) {     /* preload f */
        lua_settop(L, top);
        return 0;
    }
    lua_getglobal(L, "require");
    lua_pushliteral(L, "vmlab.memtoy");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
        lua_settop(L, top);
        return 0;
    }
    lua_getfield(L, -1, "is_command");                         /* .. mt is */
    lua_pushstring(L, line);
    lua_createtable(L, 0, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "exact");                              /* .. mt is line {exact} */
    if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_getfield(L, -1, "run");                            /* .. mt run */
        lua_pushstring(L, line);
        lua_createtable(L, 0, 1);
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "exact");
        if (vmlab_docall(L, 2, 2) != LUA_OK)                   /* .. mt ok msg */
            fprintf(stderr, "memtoy: %s\n", lua_tostring(L, -1));
        else if (!lua_toboolean(L, -2))
            fprintf(stderr, "memtoy: %s\n", lua_tostring(L, -1));
        handled = 1;
    }
    lua_settop(L, top);
    return handled;
}

static void print_results(lua_State *L, int n)
{
    if (n <= 0)
        return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "require");
    lua_pushliteral(L, "vmlab.pretty");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {                     /* res.. msg */
        lua_pop(L, 1);
        lua_getglobal(L, "print");
    } else {
        lua_getfield(L, -1, "print");                          /* res.. M print */
        lua_remove(L, -2);
    }
    lua_insert(L, -(n + 1));                                   /* print res.. */
    if (lua_pcall(L, n, 0, 0) != LUA_OK) {
        fprintf(stderr, "vmlab: error printing the result: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
}

/* Read one statement, asking for more lines while it is incomplete.
 * Returns 1 with the source and the function (or the syntax error) on the
 * stack, or 0 at end of input.  ^C drops what was typed and starts over. */
static int read_statement(lua_State *L, int *status)
{
    int lines = 0, top = lua_gettop(L);

    for (;;) {
        int interrupted;
        char *line = read_line(lines ? ">> " : "> ", &interrupted);
        if (interrupted) {
            lua_settop(L, top);
            lines = 0;
            continue;
        }
        if (!line) {
            if (lines)
                fprintf(stderr, "stdin: unfinished statement at end of input\n");
            lua_settop(L, top);
            return 0;
        }
        if (lines) {
            lua_pushliteral(L, "\n");                         /* src nl */
            lua_pushstring(L, line);                          /* src nl line */
            lua_concat(L, 3);                                 /* src */
        } else {
            lua_pushstring(L, line);                          /* src */
        }
        free(line);
        lines++;
        *status = compile(L, lua_tostring(L, -1));            /* src f|msg */
        if (!incomplete(L, *status))
            return 1;
        lua_pop(L, 1);                                        /* src */
    }
}

void vmlab_repl(lua_State *L)
{
    char *hist = history_path("history");
    struct sigaction sa, old;

    vmlab_complete_init(L, 0);
    using_history();
    stifle_history(HISTORY_MAX);
    if (hist)
        read_history(hist);
    rl_catch_signals = 0;                      /* ^C is ours, see read_line */
    if (sigpipe_fd[0] < 0 && pipe2(sigpipe_fd, O_CLOEXEC | O_NONBLOCK) < 0) {
        fprintf(stderr, "vmlab: cannot start the prompt: pipe: %s\n", strerror(errno));
        free(hist);
        return;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prompt_sigint;          /* no SA_RESTART: read() sees EINTR */
    sigemptyset(&sa.sa_mask);

    printf("vmlab %s (%s); quit or Ctrl-D exits, Tab completes, help [name]\n", VMLAB_VERSION, LUA_RELEASE);
    fflush(stdout);
    for (;;) {
        int status = LUA_OK, top = lua_gettop(L), r;

        sigaction(SIGINT, &sa, &old);
        r = read_statement(L, &status);
        sigaction(SIGINT, &old, NULL);
        if (r == 0)
            break;
        remember(hist, lua_tostring(L, top + 1));
        r = repl_word(L, lua_tostring(L, top + 1));
        if (r < 0)
            break;
        if (r > 0 || try_memtoy(L, lua_tostring(L, top + 1))) {
            lua_settop(L, top);
            continue;
        }
        lua_remove(L, top + 1);                                /* f|msg */
        if (status == LUA_OK)
            status = vmlab_docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK) {
            print_results(L, lua_gettop(L) - top);
        } else {
            fprintf(stderr, "%s\n", lua_tostring(L, -1));
            fflush(stderr);
        }
        lua_settop(L, top);
    }
    putchar('\n');
    fflush(stdout);
    free(hist);
}

/* ---- memtoy's prompt ------------------------------------------------------ */

/* One memtoy line through memtoy.run under vmlab_docall (^C interrupts
 * the command, as memtoy's SIGINT broke its loops); returns 1 when the
 * session should end (quit, exit). */
static int memtoy_line(lua_State *L, int mt, const char *line)
{
    int quitting;

    lua_getfield(L, mt, "run");                                /* run */
    lua_pushstring(L, line);
    if (vmlab_docall(L, 1, 2) != LUA_OK) {                     /* msg */
        const char *msg = lua_tostring(L, -1);
        const char *nl = msg ? strchr(msg, '\n') : NULL;       /* no traceback */
        fprintf(stderr, "memtoy: %.*s\n", nl ? (int)(nl - msg) : (int)strlen(msg ? msg : ""),
                msg ? msg : "");
        lua_pop(L, 1);
    } else {                                                   /* ok msg */
        if (!lua_toboolean(L, -2))
            fprintf(stderr, "memtoy: %s\n", lua_tostring(L, -1));
        lua_pop(L, 2);
    }
    fflush(stdout);
    fflush(stderr);
    lua_getfield(L, mt, "quitting");
    quitting = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return quitting;
}

void vmlab_memtoy_repl(lua_State *L)
{
    char *hist = history_path("memtoy_history");
    struct sigaction sa, old;
    int top = lua_gettop(L), mt;

    lua_getglobal(L, "require");
    lua_pushliteral(L, "vmlab.memtoy");
    if (vmlab_docall(L, 1, 1) != LUA_OK) {                     /* mt|msg */
        fprintf(stderr, "vmlab: %s\n", lua_tostring(L, -1));
        lua_settop(L, top);
        free(hist);
        return;
    }
    mt = lua_gettop(L);
    vmlab_complete_init(L, 1);
    using_history();
    stifle_history(HISTORY_MAX);
    if (hist)
        read_history(hist);
    rl_catch_signals = 0;
    if (sigpipe_fd[0] < 0 && pipe2(sigpipe_fd, O_CLOEXEC | O_NONBLOCK) < 0) {
        fprintf(stderr, "vmlab: cannot start the prompt: pipe: %s\n", strerror(errno));
        lua_settop(L, top);
        free(hist);
        return;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prompt_sigint;
    sigemptyset(&sa.sa_mask);
    for (;;) {
        int interrupted;
        char *line;

        sigaction(SIGINT, &sa, &old);
        line = read_line("memtoy> ", &interrupted);
        sigaction(SIGINT, &old, NULL);
        if (interrupted)
            continue;
        if (!line)
            break;
        remember(hist, line);
        interrupted = memtoy_line(L, mt, line);
        free(line);
        if (interrupted)
            break;
    }
    putchar('\n');
    fflush(stdout);
    lua_settop(L, top);
    free(hist);
}
