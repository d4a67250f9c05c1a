/* The interactive prompt (basic version; see issue 2 for what it grows). */
#include "vmlab/host.h"
#include "vmlab/version.h"

#include <readline/history.h>
#include <readline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EOFMARK "<eof>"

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

static void print_results(lua_State *L, int n)
{
    if (n <= 0)
        return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, -(n + 1));
    if (lua_pcall(L, n, 0, 0) != LUA_OK) {
        fprintf(stderr, "vmlab: error calling print: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
}

void vmlab_repl(lua_State *L)
{
    luaL_Buffer b;
    char *line;

    printf("vmlab %s (%s); Ctrl-D exits\n", VMLAB_VERSION, LUA_RELEASE);
    for (;;) {
        int status = LUA_OK, top = lua_gettop(L);
        lua_pushliteral(L, "");                  /* chunk so far */
        const char *prompt = "> ";
        for (;;) {
            line = readline(prompt);
            if (!line)
                break;
            lua_pushstring(L, line);
            free(line);
            if (lua_rawlen(L, -2) > 0) {
                lua_pushliteral(L, "\n");
                lua_insert(L, -2);
                lua_concat(L, 3);
            } else {
                lua_remove(L, -2);
            }
            const char *src = lua_tostring(L, -1);
            if (src[0] == '=')
                src = lua_pushfstring(L, "return %s", src + 1);
            else
                src = lua_pushfstring(L, "return %s;", src);
            status = luaL_loadbuffer(L, src, strlen(src), "=stdin");
            lua_remove(L, -2);
            if (status == LUA_OK)
                break;
            lua_pop(L, 1);
            src = lua_tostring(L, -1);
            status = luaL_loadbuffer(L, src, strlen(src), "=stdin");
            if (!incomplete(L, status))
                break;
            lua_pop(L, 1);
            prompt = ">> ";
        }
        if (lua_gettop(L) == top + 1) {          /* EOF at the prompt */
            lua_settop(L, top);
            putchar('\n');
            return;
        }
        add_history(lua_tostring(L, top + 1));
        lua_remove(L, top + 1);                  /* function or message */
        if (status == LUA_OK)
            status = vmlab_docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK) {
            print_results(L, lua_gettop(L) - top);
        } else {
            fprintf(stderr, "%s\n", lua_tostring(L, -1));
            lua_pop(L, 1);
        }
        lua_settop(L, top);
    }
    (void)b;
}
