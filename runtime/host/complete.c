/* Tab completion for the REPL: globals, keywords, table fields (`a.b.c<Tab>`)
 * and methods of objects (`obj:me<Tab>`, found through the metatable's
 * __index table, or its `methods` table when __index is a function, as a
 * segment's).  Completion only reads tables (raw gets); it never runs user
 * code, so a Tab cannot have side effects.  At memtoy's prompt it asks
 * memtoy.complete (our code) for commands and segment names. */
#include "vmlab/host.h"

#include <readline/readline.h>
#include <stdlib.h>
#include <string.h>

static lua_State *cL;
static int memtoy_mode;

static const char *const keywords[] = {
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
    "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return",
    "then", "true", "until", "while", NULL};

/* Push the table whose keys complete `path` (e.g. "vmlab.seg" or "obj" with
 * method set), or return 0 when the path does not lead to one. */
static int push_scope(lua_State *L, const char *path, size_t len, int methods)
{
    size_t i = 0;

    lua_pushglobaltable(L);                           /* scope */
    while (i < len) {
        size_t j = i;
        while (j < len && path[j] != '.')
            j++;
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        lua_pushlstring(L, path + i, j - i);          /* scope key */
        lua_rawget(L, -2);                            /* scope value */
        lua_remove(L, -2);                            /* value */
        i = j + 1;
    }
    if (methods || lua_isuserdata(L, -1)) {
        /* Methods live in the metatable's __index (a table). */
        if (!lua_getmetatable(L, -1)) {               /* value mt? */
            if (methods) {
                lua_pop(L, 1);
                return 0;
            }
            return lua_istable(L, -1);
        }
        lua_pushliteral(L, "__index");
        lua_rawget(L, -2);                            /* value mt index */
        if (!lua_istable(L, -1)) {
            /* A function __index (fields computed in C): the methods
             * are in the metatable's `methods` table, if it has one. */
            lua_pop(L, 1);                            /* value mt */
            lua_pushliteral(L, "methods");
            lua_rawget(L, -2);                        /* value mt methods */
        }
        if (lua_istable(L, -1)) {
            lua_replace(L, -3);                       /* index mt */
            lua_pop(L, 1);                            /* index */
            return 1;
        }
        lua_pop(L, 2);                                /* value */
        if (methods) {
            lua_pop(L, 1);
            return 0;
        }
    }
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

/* Collect matches into a NULL-terminated malloc'd array for readline. */
struct matches {
    char **v;
    size_t n, cap;
};

static void add_match(struct matches *m, const char *prefix, size_t plen,
                      const char *name, const char *suffix)
{
    size_t nl = strlen(name), sl = strlen(suffix);
    char *s;

    if (m->n + 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 32;
        char **v = realloc(m->v, cap * sizeof *v);
        if (!v)
            return;
        m->v = v;
        m->cap = cap;
    }
    s = malloc(plen + nl + sl + 1);
    if (!s)
        return;
    memcpy(s, prefix, plen);
    memcpy(s + plen, name, nl);
    memcpy(s + plen + nl, suffix, sl + 1);
    m->v[m->n++] = s;
    m->v[m->n] = NULL;
}

static void scan_table(lua_State *L, struct matches *m, const char *text,
                       size_t plen, const char *word, size_t wlen, int methods)
{
    lua_pushnil(L);
    while (lua_next(L, -2)) {                         /* scope key value */
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            if (!strncmp(k, word, wlen) && (wlen > 0 || k[0] != '_')) {
                const char *suffix = "";
                if (lua_isfunction(L, -1))
                    suffix = "(";
                else if (lua_istable(L, -1))
                    suffix = methods ? "" : ".";
                add_match(m, text, plen, k, suffix);
            }
        }
        lua_pop(L, 1);                                /* scope key */
    }
}

static char **finish(struct matches *m);

/* memtoy's prompt: memtoy.complete(text before the word, word) -> list. */
static char **complete_memtoy(lua_State *L, const char *text, int start)
{
    struct matches m = {0};
    int top = lua_gettop(L);

    lua_getglobal(L, "require");
    lua_pushliteral(L, "vmlab.memtoy");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
        lua_getfield(L, -1, "complete");                  /* mt complete */
        lua_pushlstring(L, rl_line_buffer, (size_t)start);
        lua_pushstring(L, text);
        if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_istable(L, -1)) {
            lua_Integer n = luaL_len(L, -1);
            for (lua_Integer i = 1; i <= n; i++) {
                if (lua_rawgeti(L, -1, i) == LUA_TSTRING)
                    add_match(&m, "", 0, lua_tostring(L, -1), "");
                lua_pop(L, 1);
            }
        }
    }
    lua_settop(L, top);
    if (m.n == 1) {
        char **v = finish(&m);
        rl_completion_suppress_append = 0;            /* a space after a word */
        return v;
    }
    return finish(&m);
}

static char **complete(const char *text, int start, int end)
{
    lua_State *L = cL;
    struct matches m = {0};
    const char *sep;
    size_t plen, wlen;
    int methods = 0, top = lua_gettop(L);

    (void)start;
    (void)end;
    rl_attempted_completion_over = 1;                 /* no filename fallback */
    if (!L)
        return NULL;
    if (memtoy_mode)
        return complete_memtoy(L, text, start);
    sep = strrchr(text, '.');
    {
        const char *colon = strrchr(text, ':');
        if (colon && (!sep || colon > sep)) {
            sep = colon;
            methods = 1;
        }
    }
    if (sep) {
        plen = (size_t)(sep - text) + 1;
        if (!push_scope(L, text, plen - 1, methods)) {
            lua_settop(L, top);
            return NULL;
        }
    } else {
        plen = 0;
        lua_pushglobaltable(L);
        for (int i = 0; keywords[i]; i++)
            if (!strncmp(keywords[i], text, strlen(text)))
                add_match(&m, "", 0, keywords[i], "");
    }
    wlen = strlen(text + plen);
    scan_table(L, &m, text, plen, text + plen, wlen, methods);
    /* A table with a metatable __index table (a class): its fields too. */
    if (!methods && lua_getmetatable(L, -1)) {
        lua_pushliteral(L, "__index");
        lua_rawget(L, -2);
        if (lua_istable(L, -1))
            scan_table(L, &m, text, plen, text + plen, wlen, 0);
        lua_pop(L, 2);
    }
    lua_settop(L, top);
    return finish(&m);
}

/* The matches as readline wants them: [0] the substitution, then all. */
static char **finish(struct matches *mp)
{
    struct matches m = *mp;

    if (m.n == 0) {
        free(m.v);
        return NULL;
    }
    if (m.n == 1) {
        /* readline wants [0] = the substitution, then the matches. */
        char **v = realloc(m.v, 3 * sizeof *v);
        if (!v)
            return m.v;
        v[1] = strdup(v[0]);
        v[2] = NULL;
        /* a lone match: do not append a space after "(" or "." */
        rl_completion_suppress_append = 1;
        return v;
    }
    {
        /* [0] is the longest common prefix of the matches. */
        size_t lcp = strlen(m.v[0]);
        char **v;
        for (size_t i = 1; i < m.n; i++) {
            size_t j = 0;
            while (j < lcp && m.v[i][j] == m.v[0][j])
                j++;
            lcp = j;
        }
        v = malloc((m.n + 2) * sizeof *v);
        if (!v)
            return m.v;
        v[0] = strndup(m.v[0], lcp);
        memcpy(v + 1, m.v, (m.n + 1) * sizeof *v);
        free(m.v);
        rl_completion_suppress_append = 1;
        return v;
    }
}

void vmlab_complete_init(lua_State *L, int memtoy)
{
    cL = L;
    memtoy_mode = memtoy;
    rl_readline_name = "vmlab";
    /* '.' and ':' belong to the word, so `vmlab.si` completes as a path. */
    /* memtoy's words are whitespace-separated ("libc.so.6:text", "/c"). */
    rl_basic_word_break_characters = memtoy ? " \t\n" : " \t\n\"'`@$><=;|&{}()[],+-*/%^~#";
    rl_completer_word_break_characters = rl_basic_word_break_characters;
    rl_attempted_completion_function = complete;
}
