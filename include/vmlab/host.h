/* What the bindings share from the host: argument helpers that follow
 * DESIGN.md's conventions (sizes, times, errors) and userdata classes.
 * Only runtime/host and bindings/ include this (it needs lua.h). */
#ifndef VMLAB_HOST_H
#define VMLAB_HOST_H
#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <lauxlib.h>

#include "vmlab/progress.h"
#include "vmlab/units.h"

/* Every binding's luaopen_vmlab_*() (the list make generates). */
#define VMLAB_MODULE(name, fn) int fn(lua_State *L);
#include "vmlab_modules.h"
#undef VMLAB_MODULE

/* An embedded stdlib module (generated from stdlib/ by make). */
struct vmlab_embedded {
    const char *name;   /* "vmlab.tap" */
    const char *path;   /* "stdlib/vmlab/tap.lua", the chunk name */
    const char *src;
    size_t len;
};
extern const struct vmlab_embedded vmlab_stdlib[];

/* Sizes: an integer (bytes, 0 to 2^63-1) or "<n>[k|m|g|t|p]"; raises on
 * anything else, naming it (negative, NaN, infinite, overflow, a NUL). */
uint64_t vmlab_checksize(lua_State *L, int idx);
uint64_t vmlab_optsize(lua_State *L, int idx, uint64_t def);
/* An address: an integer, read as unsigned 64 bits (Lua spells
 * 0xfffffffffffff000 as -4096), or a string "0x7f00..." / decimal. */
uint64_t vmlab_checkaddr(lua_State *L, int idx);
/* Times: seconds (a finite number, 0 to VMLAB_TIME_MAX) or
 * "<n>[us|ms|s|m]"; raises on anything else, NaN and infinity included. */
double vmlab_checktime(lua_State *L, int idx);
double vmlab_opttime(lua_State *L, int idx, double def);
/* An integer in [min, max] (an integral float too), checked before the
 * caller narrows it; raises "... -1 is out of range (1 to 4294967295)". */
lua_Integer vmlab_checkrange(lua_State *L, int idx, lua_Integer min, lua_Integer max);
/* A finite number in [min, max]: NaN and infinity raise with their own
 * messages. */
double vmlab_checknumber_range(lua_State *L, int idx, double min, double max);
/* A string handed to C: an embedded NUL raises (it would cut the string
 * silently).  len may be NULL. */
const char *vmlab_checkcstring(lua_State *L, int idx, size_t *len);
const char *vmlab_optcstring(lua_State *L, int idx, const char *def, size_t *len);

/* Table fields of an options table at idx (absent table or field: def).
 * Errors name the field: "bad option 'max_regions' (-1 is out of range
 * (1 to 4294967295))". */
uint64_t vmlab_optfield_size(lua_State *L, int idx, const char *k, uint64_t def);
double vmlab_optfield_time(lua_State *L, int idx, const char *k, double def);
lua_Integer vmlab_optfield_int(lua_State *L, int idx, const char *k, lua_Integer def);
lua_Integer vmlab_optfield_range(lua_State *L, int idx, const char *k, lua_Integer def,
                                 lua_Integer min, lua_Integer max);
double vmlab_optfield_number(lua_State *L, int idx, const char *k, double def, double min,
                             double max);
int vmlab_optfield_bool(lua_State *L, int idx, const char *k, int def);
/* A C string (an embedded NUL raises). */
const char *vmlab_optfield_string(lua_State *L, int idx, const char *k, const char *def);

/* Check an options table before reading it: every string key must be in
 * `valid` (NULL-terminated), else raise
 *   "<fname>: unknown option 'smaple' (did you mean 'sample'?)"
 * or, when nothing is close, the list of valid keys.  nil/none passes; a
 * non-table raises.  Integer keys raise unless `valid` holds
 * VMLAB_OPTS_ARRAY (an array part beside the options). */
#define VMLAB_OPTS_ARRAY "[]"
void vmlab_checkopts(lua_State *L, int idx, const char *fname, const char *const valid[]);

/* Memory a binding holds across calls that may raise (they longjmp past
 * any free()): a userdata on the stack owns it and releases it when
 * collected or closed, or at once with vmlab_box_release (idempotent).
 *   struct vmlab_box *b = vmlab_newbox(L, vmlab_box_free);   // box
 *   b->p = malloc(n);                                         // then use it */
struct vmlab_box {
    void *p;
    size_t n;
    void (*release)(void *p, size_t n);
};
struct vmlab_box *vmlab_newbox(lua_State *L, void (*release)(void *p, size_t n));
void vmlab_box_release(struct vmlab_box *b);
void vmlab_box_free(void *p, size_t n);   /* free(p) */

/* A system failure: pushes nil, "<what>: strerror(err)", err; returns 3.
 * `what` names the call and its arguments (printf format). */
int vmlab_pushfail(lua_State *L, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same from errno. */
int vmlab_pusherrno(lua_State *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Raise "interrupted" if the interrupt flag is set (clears it). */
void vmlab_checkinterrupt(lua_State *L);

/* Create a class metatable named `tname` with `methods` as __index and the
 * given metamethods (either may be NULL). Leaves nothing on the stack. */
void vmlab_newclass(lua_State *L, const char *tname, const luaL_Reg *methods,
                    const luaL_Reg *meta);

/* Run one chunk with the host's traceback handler (used by main, REPL and
 * proc children). Returns the lua_pcall status; on error the message with
 * a traceback is on the stack. */
int vmlab_docall(lua_State *L, int narg, int nres);

/* A new state with the standard libraries, the vmlab preloads and the
 * interrupt hook installed. */
lua_State *vmlab_newstate(void);
/* Pre-load every vmlab module as a global (the REPL does this). */
void vmlab_preload_globals(lua_State *L);

/* The interactive loop on stdin (runtime/host/repl.c).  Returns when the
 * user ends it (Ctrl-D or os.exit). */
void vmlab_repl(lua_State *L);
/* memtoy's prompt on a terminal: readline, its own history, completion of
 * commands and segment names, Ctrl-C back to the prompt (repl.c). */
void vmlab_memtoy_repl(lua_State *L);
/* Tab completion of globals, fields and methods, or (memtoy) of memtoy's
 * commands and segment names (runtime/host/complete.c). */
void vmlab_complete_init(lua_State *L, int memtoy);

/* Run `mod`.main(args...) for a subcommand or mode (`vmlab report ...`,
 * `vmlab --memtoy ...`); returns the exit status it gives. */
int vmlab_run_module_main(lua_State *L, const char *mod, int argc, char **argv);

/* Node lists: "0-2,5", "*", "0x3", an integer or an array (nil: none). */
struct vmlab_nodemask;
void vmlab_checknodes(lua_State *L, int idx, struct vmlab_nodemask *m);
/* Cpu lists the same way ("*": every configured cpu); messages say cpu. */
void vmlab_checkcpus(lua_State *L, int idx, struct vmlab_nodemask *m);
void vmlab_pushnodes(lua_State *L, const struct vmlab_nodemask *m);

/* The open segment (vmlab.seg userdata) at idx, or NULL when it is not
 * one or is closed (bindings/seg.c): other bindings ask this instead of
 * knowing vmlab.seg's userdata layout. */
struct vmlab_seg;
struct vmlab_seg *vmlab_testseg(lua_State *L, int idx);

/* Regions as tables {start, end, nr_accesses, age}; `extra` reserves room
 * for fields the caller adds.  pushregions pushes an array of them. */
struct vmlab_region;
void vmlab_pushregion(lua_State *L, const struct vmlab_region *r, int extra);
void vmlab_pushregions(lua_State *L, const struct vmlab_region *v, size_t n);

/* Idle work: functions that run on the Lua thread while it waits in
 * vmlab.snooze (a monitor delivering snapshots to on_aggregate callbacks).
 * The registry table VMLAB_IDLE_KEY maps an owner (weak) to a function
 * called with the owner; vmlab_run_idle() calls them all. */
#define VMLAB_IDLE_KEY "vmlab.idle"
void vmlab_set_idle(lua_State *L, int owner, int fn);   /* fn 0: remove */
void vmlab_run_idle(lua_State *L);

/* A progress line (include/vmlab/progress.h) as a userdata of class
 * VMLAB_PROGRESS_MT, pushed begun: update it with vmlab_progress_update;
 * closing it (p:done(), __close, __gc) ends the line, so a loop that
 * raises leaves no line behind.  Lua: p:update(done), p:done(). */
#define VMLAB_PROGRESS_MT "vmlab.progress"
struct vmlab_progress *vmlab_pushprogress(lua_State *L, const char *what, uint64_t total,
                                          enum vmlab_progress_unit unit, uint64_t min);
/* The progress at idx; raises if it is done. */
struct vmlab_progress *vmlab_checkprogress(lua_State *L, int idx);

/* Verbosity set by -v, kept in the registry under this key. */
#define VMLAB_VERBOSE_KEY "vmlab.verbose"
#endif
