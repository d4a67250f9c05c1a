/* require "vmlab.seg": segments as Lua objects (memtoy's segments). */
#include "seg_glue.h"
#include "vmlab/host.h"
#include "vmlab/interrupt.h"
#include "vmlab/maps.h"
#include "vmlab/numa.h"
#include "vmlab/seg.h"
#include "vmlab/units.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define SEG_ALL "vmlab.seg.all"   /* registry: name -> userdata (keeps them alive) */


/* ---- helpers ------------------------------------------------------------ */

/* The keys each option-taking function knows (vmlab_checkopts). */
const char *const vmlab_seg_range_keys[] = {RANGE_KEYS, NULL};
static const char *const define_keys[] = {"shared", "share", "huge", "map", "addr", NULL};
static const char *const anon_keys[] = {"shared", "share", "huge", "map", "addr", "align", NULL};
static const char *const file_keys[] = {"name", "offset", "length", "shared", "share", "huge",
                                        "create", "map", "readonly", NULL};
static const char *const wrap_keys[] = {"prot", NULL};
static const char *const touch_keys[] = {"op", "order", RANGE_KEYS, "stride", "seed", "all", NULL};
static const char *const fill_keys[] = {RANGE_KEYS, "seed", NULL};
static const char *const lock_keys[] = {RANGE_KEYS, "onfault", NULL};

struct vmlab_seg *segl_check(lua_State *L, int idx)
{
    struct lseg *ls = luaL_checkudata(L, idx, SEG_MT);
    if (!ls->s)
        luaL_error(L, "attempt to use a closed segment");
    return ls->s;
}

/* For other bindings (host.h): the open segment at idx, or NULL, without
 * knowing vmlab.seg's userdata layout. */
struct vmlab_seg *vmlab_testseg(lua_State *L, int idx)
{
    struct lseg *ls = luaL_testudata(L, idx, SEG_MT);
    return ls ? ls->s : NULL;
}

/* "seg 'buf' +0x1000 4 MiB" for messages. */
const char *segl_describe(lua_State *L, const struct vmlab_seg *s, uint64_t off, uint64_t len)
{
    char sz[32];
    char offs[32];
    if (len == 0)
        return lua_pushfstring(L, "seg '%s'", s->name);
    snprintf(offs, sizeof offs, off ? "0x%llx" : "0", (unsigned long long)off);
    return lua_pushfstring(L, "seg '%s' +%s %s", s->name, offs, vmlab_fmtsize(len, sz, sizeof sz));
}

/* length= of an options table: a size, or "*" (0: to the end). */
static uint64_t length_opt(lua_State *L, int idx)
{
    uint64_t len = 0;
    if (lua_type(L, idx) == LUA_TTABLE) {
        lua_getfield(L, idx, "length");
        if (!(lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "*")))
            len = vmlab_optfield_size(L, idx, "length", 0);
        lua_pop(L, 1);
    }
    return len;
}

/* offset= and length= of an options table (length "*" or 0: to the end). */
void segl_range_opts(lua_State *L, int idx, struct vmlab_seg *s, uint64_t *off, uint64_t *len)
{
    int r;
    *off = vmlab_optfield_size(L, idx, "offset", 0);
    *len = length_opt(L, idx);
    r = vmlab_seg_range(s, *off, len);
    if (r == -EINVAL)
        luaL_error(L, "%s: offset %I is not page aligned", segl_describe(L, s, 0, 0), (lua_Integer)*off);
    if (r == -ERANGE)
        luaL_error(L, "%s: range +%I length %I is outside its %I bytes",
                   segl_describe(L, s, 0, 0), (lua_Integer)*off, (lua_Integer)*len, (lua_Integer)s->size);
}

void segl_requiremapped(lua_State *L, struct vmlab_seg *s, const char *what)
{
    if (!s->mapped)
        luaL_error(L, "%s(%s): the segment is not mapped", what, segl_describe(L, s, 0, 0));
}

static int pushseg(lua_State *L, struct vmlab_seg *s)
{
    struct lseg *ls = lua_newuserdatauv(L, sizeof *ls, 0);   /* ud */
    ls->s = NULL;                                             /* created closed */
    luaL_setmetatable(L, SEG_MT);
    ls->s = s;
    lua_getfield(L, LUA_REGISTRYINDEX, SEG_ALL);              /* ud all */
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, s->name);                             /* ud all */
    lua_pop(L, 1);                                            /* ud */
    return 1;
}

/* sp is read after the call that fills it (argument order is unspecified). */
static int define_result(lua_State *L, int r, struct vmlab_seg **sp, const char *call)
{
    struct vmlab_seg *s = *sp;
    if (r == -EEXIST)
        return luaL_error(L, "%s: a segment named '%s' exists already", call, lua_tostring(L, 1));
    if (r < 0)
        return vmlab_pushfail(L, -r, "%s", call);
    return pushseg(L, s);
}

static void common_opts(lua_State *L, int idx, struct vmlab_seg_opts *o)
{
    const char *share = vmlab_optfield_string(L, idx, "share", NULL);
    o->shared = vmlab_optfield_bool(L, idx, "shared", 0);
    if (share) {
        if (!strcmp(share, "shared"))
            o->shared = 1;
        else if (strcmp(share, "private"))
            luaL_error(L, "bad option 'share' (private or shared, got '%s')", share);
    }
    o->huge = vmlab_optfield_bool(L, idx, "huge", 0);
    o->map = vmlab_optfield_bool(L, idx, "map", 1);
}

static const char *checkname(lua_State *L, int idx)
{
    size_t len;
    const char *name = vmlab_checkcstring(L, idx, &len);
    if (len == 0 || len >= VMLAB_SEG_NAME_MAX)
        luaL_argerror(L, idx, lua_pushfstring(L, "a segment name has 1 to %d characters",
                                              VMLAB_SEG_NAME_MAX - 1));
    return name;
}

/* ---- definitions -------------------------------------------------------- */

typedef int (*define_fn)(const char *, size_t, const struct vmlab_seg_opts *, struct vmlab_seg **);

/* The segments defined by a name and a size: anon, shmem, memfd. */
static int define_sized(lua_State *L, const char *call, define_fn fn, int shared_default)
{
    struct vmlab_seg_opts o = {0};
    struct vmlab_seg *s = NULL;
    const char *name = checkname(L, 1);
    uint64_t size = vmlab_checksize(L, 2);
    char sz[32], fname[16];

    if (size == 0)
        luaL_argerror(L, 2, "a segment cannot be empty");
    snprintf(fname, sizeof fname, "seg.%s", call);
    vmlab_checkopts(L, 3, fname, fn == vmlab_seg_anon ? anon_keys : define_keys);
    common_opts(L, 3, &o);
    o.shared = vmlab_optfield_bool(L, 3, "shared", o.shared || shared_default);
    o.hint = (void *)(uintptr_t)vmlab_optfield_size(L, 3, "addr", 0);
    if (fn == vmlab_seg_anon) {
        o.align = vmlab_optfield_size(L, 3, "align", 0);
        if (o.align & (o.align - 1))
            luaL_error(L, "bad option 'align' (a power of two, got %I)", (lua_Integer)o.align);
        if (o.align && o.hint)
            luaL_error(L, "bad option 'align' (not with addr=)");
    }
    return define_result(L, fn(name, size, &o, &s), &s,
                         lua_pushfstring(L, "%s('%s', %s%s)", call, name,
                                         vmlab_fmtsize(size, sz, sizeof sz), o.huge ? ", huge" : ""));
}

/* seg.anon(name, size[, {shared=, huge=, map=, addr=, align=}]) */
static int l_anon(lua_State *L) { return define_sized(L, "anon", vmlab_seg_anon, 0); }

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) < 0 ? -1 : (int64_t)st.st_size;
}

/* seg.file(path[, {name=, offset=, length=, shared=, create=, map=, readonly=}]) */
static int l_file(lua_State *L)
{
    struct vmlab_seg_opts o = {0};
    struct vmlab_seg *s = NULL;
    const char *path = vmlab_checkcstring(L, 1, NULL), *base = strrchr(path, '/');
    const char *name;
    int r;

    vmlab_checkopts(L, 2, "seg.file", file_keys);
    name = vmlab_optfield_string(L, 2, "name", base ? base + 1 : path);
    common_opts(L, 2, &o);
    o.offset = (off_t)vmlab_optfield_size(L, 2, "offset", 0);
    o.length = length_opt(L, 2);
    o.create = vmlab_optfield_size(L, 2, "create", 0);
    o.readonly = vmlab_optfield_bool(L, 2, "readonly", 0);
    if (o.offset % (off_t)vmlab_pagesize())
        return luaL_error(L, "file('%s'): offset %I is not page aligned", path, (lua_Integer)o.offset);
    if (!*name || strlen(name) >= VMLAB_SEG_NAME_MAX)
        return luaL_error(L, "file('%s'): bad segment name '%s'", path, name);
    lua_pushstring(L, name);
    lua_replace(L, 1);                           /* define_result names it */
    r = vmlab_seg_file(name, path, &o, &s);
    if (r == -ENXIO)                             /* say what lies past what */
        return vmlab_pushfail(L, ENXIO, "file('%s'): offset %lld is at or past the end of the file (%lld bytes)",
                              path, (long long)o.offset, (long long)file_size(path));
    return define_result(L, r, &s, lua_pushfstring(L, "file('%s')", path));
}

/* seg.shmem(name, size[, {huge=, map=}]) */
static int l_shmem(lua_State *L) { return define_sized(L, "shmem", vmlab_seg_shmem, 1); }

/* seg.memfd(name, size[, {huge=, shared= (default true), map=}]) */
static int l_memfd(lua_State *L) { return define_sized(L, "memfd", vmlab_seg_memfd, 1); }

/* seg.wrap(name, addr, size[, {prot="rw"}]): a mapping vmlab does not own. */
static int parse_prot(lua_State *L, int idx, const char *p);
static int l_wrap(lua_State *L)
{
    struct vmlab_seg *s = NULL;
    const char *name = checkname(L, 1);
    uint64_t addr = vmlab_checkaddr(L, 2), size = vmlab_checksize(L, 3);
    int prot, r;

    vmlab_checkopts(L, 4, "seg.wrap", wrap_keys);
    prot = parse_prot(L, 4, vmlab_optfield_string(L, 4, "prot", "rw"));
    if (size == 0 || addr == 0)
        return luaL_error(L, "wrap('%s'): %s is zero", name, size == 0 ? "the size" : "the address");
    if (addr + size < addr)
        return luaL_error(L, "wrap('%s'): %p + %I bytes wraps past the top of the address space", name,
                          (void *)(uintptr_t)addr, (lua_Integer)size);
    r = vmlab_seg_wrap(name, (void *)(uintptr_t)addr, size, prot, &s);
    if (r == -EFAULT)
        return luaL_error(L, "wrap('%s'): [%p, +%I) is not all mapped (seg.wrap registers a mapping "
                          "that exists)", name, (void *)(uintptr_t)addr, (lua_Integer)size);
    return define_result(L, r, &s, lua_pushfstring(L, "wrap('%s')", name));
}

static int l_get(lua_State *L)
{
    const char *name = vmlab_checkcstring(L, 1, NULL);
    lua_getfield(L, LUA_REGISTRYINDEX, SEG_ALL);    /* all */
    lua_getfield(L, -1, name);                      /* all seg|nil */
    return 1;
}

/* seg.list() -> the segments in the order they were defined. */
static int l_list(lua_State *L)
{
    int i = 0;
    lua_newtable(L);                                /* list */
    lua_getfield(L, LUA_REGISTRYINDEX, SEG_ALL);    /* list all */
    for (struct vmlab_seg *s = vmlab_seg_first(); s; s = s->next) {
        if (lua_getfield(L, -1, s->name) != LUA_TNIL)  /* list all seg */
            lua_rawseti(L, -3, ++i);
        else
            lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 1;
}

/* ---- memtoy's table ----------------------------------------------------- */

/* seg.table([name]) -> memtoy's table as text, or nil and a message for
 * an unknown name (seg.show, in Lua, prints it). */
static int l_table(lua_State *L)
{
    luaL_Buffer b;
    const char *name = vmlab_optcstring(L, 1, NULL, NULL);
    char line[512];
    int found = 0;

    luaL_buffinit(L, &b);
    luaL_addstring(&b, vmlab_seg_table_header());
    for (struct vmlab_seg *s = vmlab_seg_first(); s; s = s->next) {
        if (name && strcmp(name, s->name))
            continue;
        vmlab_seg_table_line(s, line, sizeof line);
        luaL_addstring(&b, line);
        found++;
    }
    luaL_pushresult(&b);                            /* text */
    if (name && !found) {
        lua_pushnil(L);
        lua_pushfstring(L, "show: no segment named '%s'", name);
        return 2;                                   /* text nil msg */
    }
    return 1;
}

/* seg.show([name][, quiet]) writes the table with io.write (bindings do
 * not print: io.output() decides where it goes) and returns it. */
static const char show_lua[] =
    "local table_of = ...\n"
    "return function(name, quiet)\n"
    "  local text, err = table_of(name)\n"
    "  if not text then error(err, 2) end\n"
    "  if not quiet then io.write(text); io.flush() end\n"
    "  return text\n"
    "end\n";

/* ---- methods: lifecycle ------------------------------------------------- */

static int seg_close(lua_State *L)
{
    struct lseg *ls = luaL_checkudata(L, 1, SEG_MT);
    if (ls->s) {
        lua_getfield(L, LUA_REGISTRYINDEX, SEG_ALL); /* all */
        lua_pushnil(L);
        lua_setfield(L, -2, ls->s->name);
        lua_pop(L, 1);
        vmlab_seg_remove(ls->s);
        ls->s = NULL;
    }
    return 0;
}

static int seg_map(lua_State *L)
{
    struct vmlab_seg *s = segl_check(L, 1);
    int r = vmlab_seg_map(s);
    if (r == -EBUSY)
        return luaL_error(L, "map(%s): already mapped", segl_describe(L, s, 0, 0));
    if (r < 0)
        return vmlab_pushfail(L, -r, "map(%s)", segl_describe(L, s, 0, 0));
    lua_pushboolean(L, 1);
    return 1;
}

static int seg_unmap(lua_State *L)
{
    struct vmlab_seg *s = segl_check(L, 1);
    int r;
    segl_requiremapped(L, s, "unmap");
    if ((r = vmlab_seg_unmap(s)) < 0)
        return vmlab_pushfail(L, -r, "unmap(%s)", segl_describe(L, s, 0, 0));
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- methods: access ---------------------------------------------------- */

static int fault_error(lua_State *L, struct vmlab_seg *s, const char *call, const struct vmlab_fault *f)
{
    uintptr_t a = (uintptr_t)f->addr, base = (uintptr_t)s->addr;
    int prot = vmlab_prot_at(f->addr);
    char where[64], offs[32];

    if (prot < 0)
        snprintf(where, sizeof where, "nothing mapped there");
    else
        snprintf(where, sizeof where, "page protection %s", vmlab_prot_string(prot));
    snprintf(offs, sizeof offs, "0x%lx", (unsigned long)(a - base));
    if (a >= base && a < base + s->size)
        return luaL_error(L, "%s(seg '%s' +%s): %s (%s)", call, s->name, offs,
                          vmlab_fault_describe(f), where);
    return luaL_error(L, "%s(seg '%s'): %s at %p, outside the segment (%s)", call, s->name,
                      vmlab_fault_describe(f), f->addr, where);
}

/* s:touch([op | {op=, offset=, length=, order=, stride=, seed=, all=}])
 *   -> pages, seconds */
static int seg_touch(lua_State *L)
{
    static const char *const ops[] = {"read", "write", "rmw", NULL};
    static const char *const orders[] = {"sequential", "stride", "random", NULL};
    struct vmlab_seg *s = segl_check(L, 1);
    struct vmlab_touch t = {0};
    int opts = 2, r;

    if (lua_type(L, 2) == LUA_TSTRING) {
        t.op = (enum vmlab_touch_op)luaL_checkoption(L, 2, NULL, ops);
        opts = 3;
        vmlab_checkopts(L, 3, "s:touch", touch_keys);
    } else if (lua_type(L, 2) == LUA_TTABLE) {
        vmlab_checkopts(L, 2, "s:touch", touch_keys);
        lua_getfield(L, 2, "op");
        t.op = (enum vmlab_touch_op)luaL_checkoption(L, -1, "write", ops);
        lua_getfield(L, 2, "order");
        t.order = (enum vmlab_touch_order)luaL_checkoption(L, -1, "sequential", orders);
        lua_pop(L, 2);
    } else {
        t.op = VMLAB_TOUCH_WRITE;
    }
    segl_requiremapped(L, s, "touch");
    segl_range_opts(L, opts, s, &t.offset, &t.length);
    t.stride = (uint64_t)vmlab_optfield_range(L, opts, "stride", 1, 1, LUA_MAXINTEGER);
    t.seed = (uint64_t)vmlab_optfield_int(L, opts, "seed", 1);
    t.all = vmlab_optfield_bool(L, opts, "all", 0);
    r = vmlab_seg_touch(s, &t);
    if (r == -EFAULT)
        return fault_error(L, s, "touch", &t.fault);
    if (r == -EINTR)
        vmlab_checkinterrupt(L);
    if (r < 0)
        return vmlab_pushfail(L, -r, "touch(%s)", segl_describe(L, s, t.offset, t.length));
    lua_pushinteger(L, (lua_Integer)t.pages);
    lua_pushnumber(L, t.seconds);
    return 2;
}

/* s:fill([{offset=, length=, seed=}]) */
static int seg_fill(lua_State *L)
{
    struct vmlab_seg *s = segl_check(L, 1);
    struct vmlab_fault f;
    uint64_t off, len;
    int r;

    vmlab_checkopts(L, 2, "s:fill", fill_keys);
    segl_requiremapped(L, s, "fill");
    segl_range_opts(L, 2, s, &off, &len);
    r = vmlab_seg_fill(s, off, len, (uint64_t)vmlab_optfield_int(L, 2, "seed", 1), &f);
    if (r == -EFAULT)
        return fault_error(L, s, "fill", &f);
    if (r == -EINTR)
        vmlab_checkinterrupt(L);
    lua_pushboolean(L, r == 0);
    return 1;
}

/* s:verify([{offset=, length=, seed=}]) -> true | false, first bad offset, bad pages */
static int seg_verify(lua_State *L)
{
    struct vmlab_seg *s = segl_check(L, 1);
    struct vmlab_fault f;
    uint64_t off, len, first, nbad;
    int r;

    vmlab_checkopts(L, 2, "s:verify", fill_keys);
    segl_requiremapped(L, s, "verify");
    segl_range_opts(L, 2, s, &off, &len);
    r = vmlab_seg_verify(s, off, len, (uint64_t)vmlab_optfield_int(L, 2, "seed", 1), &first, &nbad, &f);
    if (r == -EFAULT)
        return fault_error(L, s, "verify", &f);
    if (r == -EINTR)
        vmlab_checkinterrupt(L);
    if (nbad == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushinteger(L, (lua_Integer)first);
    lua_pushinteger(L, (lua_Integer)nbad);
    return 3;
}

/* ---- methods: controls -------------------------------------------------- */

int segl_ok_or_fail(lua_State *L, int r, const char *fmt, const char *a, const char *b)
{
    if (r < 0)
        return vmlab_pushfail(L, -r, fmt, a, b);
    lua_pushboolean(L, 1);
    return 1;
}

/* s:lock([{offset=, length=, onfault=}]) */
static int seg_lock(lua_State *L)
{
    struct vmlab_seg *s = segl_check(L, 1);
    uint64_t off, len;
    int onfault;
    vmlab_checkopts(L, 2, "s:lock", lock_keys);
    segl_requiremapped(L, s, "lock");
    segl_range_opts(L, 2, s, &off, &len);
    onfault = vmlab_optfield_bool(L, 2, "onfault", 0);
    return segl_ok_or_fail(L, vmlab_seg_lock(s, off, len, onfault), "%s(%s)",
                      onfault ? "mlock2" : "mlock", segl_describe(L, s, off, len));
}

static int seg_unlock(lua_State *L)
{
    struct vmlab_seg *s = segl_check(L, 1);
    uint64_t off, len;
    vmlab_checkopts(L, 2, "s:unlock", vmlab_seg_range_keys);
    segl_requiremapped(L, s, "unlock");
    segl_range_opts(L, 2, s, &off, &len);
    return segl_ok_or_fail(L, vmlab_seg_unlock(s, off, len), "%s(%s)", "munlock", segl_describe(L, s, off, len));
}

static int slock_common(lua_State *L, int lock)
{
    struct vmlab_seg *s = segl_check(L, 1);
    if (s->kind != VMLAB_SEG_SHMEM)
        return luaL_error(L, "%s: seg '%s' is %s, not SysV shmem", lock ? "slock" : "sunlock",
                          s->name, vmlab_seg_kind_name(s->kind));
    return segl_ok_or_fail(L, vmlab_seg_slock(s, lock), "%s(%s)",
                      lock ? "shmctl SHM_LOCK" : "shmctl SHM_UNLOCK", segl_describe(L, s, 0, 0));
}
static int seg_slock(lua_State *L) { return slock_common(L, 1); }
static int seg_sunlock(lua_State *L) { return slock_common(L, 0); }

/* "r", "rw", "rwx", "none", "---", "r-x": a protection. */
static int parse_prot(lua_State *L, int idx, const char *p)
{
    int prot;
    if (vmlab_parse_prot(p, &prot) < 0)
        return luaL_argerror(L, idx, lua_pushfstring(L, "bad protection '%s' (use e.g. 'rw', 'r', 'none')", p));
    return prot;
}
/* s:protect(prot[, {offset=, length=}]) */
static int seg_protect(lua_State *L)
{
    struct vmlab_seg *s = segl_check(L, 1);
    int prot = parse_prot(L, 2, vmlab_checkcstring(L, 2, NULL));
    uint64_t off, len;
    vmlab_checkopts(L, 3, "s:protect", vmlab_seg_range_keys);
    segl_requiremapped(L, s, "protect");
    segl_range_opts(L, 3, s, &off, &len);
    return segl_ok_or_fail(L, vmlab_seg_protect(s, off, len, prot), "mprotect(%s, %s)",
                      segl_describe(L, s, off, len), vmlab_prot_string(prot));
}

/* s:advise(advice[, {offset=, length=}]) */
static int seg_advise(lua_State *L)
{
    struct vmlab_seg *s = segl_check(L, 1);
    const char *name = vmlab_checkcstring(L, 2, NULL);
    int advice = vmlab_madvise_value(name);
    uint64_t off, len;

    if (advice < 0) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (const char *const *n = vmlab_madvise_names(); *n; n++) {
            if (n != vmlab_madvise_names())
                luaL_addchar(&b, ' ');
            luaL_addstring(&b, *n);
        }
        luaL_pushresult(&b);
        return luaL_argerror(L, 2, lua_pushfstring(L, "unknown advice '%s' (one of: %s)", name,
                                                   lua_tostring(L, -1)));
    }
    vmlab_checkopts(L, 3, "s:advise", vmlab_seg_range_keys);
    segl_requiremapped(L, s, "advise");
    segl_range_opts(L, 3, s, &off, &len);
    return segl_ok_or_fail(L, vmlab_seg_advise(s, off, len, advice), "madvise(%s, %s)",
                      segl_describe(L, s, off, len), name);
}

/* ---- fields and metamethods -------------------------------------------- */

static int seg_index(lua_State *L)
{
    struct lseg *ls = luaL_checkudata(L, 1, SEG_MT);
    const char *k = luaL_checkstring(L, 2);
    struct vmlab_seg *s = ls->s;

    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");               /* mt methods */
    if (lua_getfield(L, -1, k) != LUA_TNIL)       /* mt methods m */
        return 1;
    lua_pop(L, 3);
    if (!s) {
        if (!strcmp(k, "closed")) {
            lua_pushboolean(L, 1);
            return 1;
        }
        return luaL_error(L, "attempt to use a closed segment (field '%s')", k);
    }
    if (!strcmp(k, "name")) lua_pushstring(L, s->name);
    else if (!strcmp(k, "kind")) lua_pushstring(L, vmlab_seg_kind_name(s->kind));
    else if (!strcmp(k, "size")) lua_pushinteger(L, (lua_Integer)s->size);
    else if (!strcmp(k, "addr")) lua_pushinteger(L, (lua_Integer)(uintptr_t)s->addr);
    else if (!strcmp(k, "mapped")) lua_pushboolean(L, s->mapped);
    else if (!strcmp(k, "share")) lua_pushstring(L, s->shared ? "shared" : "private");
    else if (!strcmp(k, "pagesize")) lua_pushinteger(L, (lua_Integer)s->pagesize);
    else if (!strcmp(k, "prot")) lua_pushstring(L, vmlab_prot_string(s->prot));
    else if (!strcmp(k, "offset")) lua_pushinteger(L, (lua_Integer)s->offset);
    else if (!strcmp(k, "huge")) lua_pushboolean(L, s->huge);
    else if (!strcmp(k, "path")) { if (s->kind == VMLAB_SEG_FILE) lua_pushstring(L, s->path); else lua_pushnil(L); }
    else if (!strcmp(k, "closed")) lua_pushboolean(L, 0);
    else lua_pushnil(L);
    return 1;
}

static int seg_tostring(lua_State *L)
{
    struct lseg *ls = luaL_checkudata(L, 1, SEG_MT);
    char sz[32];
    if (!ls->s) {
        lua_pushliteral(L, "segment (closed)");
        return 1;
    }
    if (ls->s->mapped)
        lua_pushfstring(L, "segment '%s' (%s %s %s at %p)", ls->s->name, vmlab_seg_kind_name(ls->s->kind),
                        ls->s->shared ? "shared" : "private", vmlab_fmtsize(ls->s->size, sz, sizeof sz),
                        ls->s->addr);
    else
        lua_pushfstring(L, "segment '%s' (%s %s %s, not mapped)", ls->s->name,
                        vmlab_seg_kind_name(ls->s->kind), ls->s->shared ? "shared" : "private",
                        vmlab_fmtsize(ls->s->size, sz, sizeof sz));
    return 1;
}

static const luaL_Reg seg_methods[] = {
    {"map", seg_map},         {"unmap", seg_unmap},     {"remove", seg_close},
    {"close", seg_close},     {"touch", seg_touch},     {"fill", seg_fill},
    {"verify", seg_verify},   {"lock", seg_lock},       {"unlock", seg_unlock},
    {"slock", seg_slock},     {"sunlock", seg_sunlock}, {"protect", seg_protect},
    {"advise", seg_advise},   {NULL, NULL}};   /* + vmlab_seg_query_methods */

static const luaL_Reg seg_meta[] = {
    {"__index", seg_index}, {"__tostring", seg_tostring}, {"__close", seg_close},
    {"__gc", seg_close},    {NULL, NULL}};

static const luaL_Reg funcs[] = {
    {"anon", l_anon}, {"file", l_file}, {"shmem", l_shmem}, {"memfd", l_memfd},
    {"wrap", l_wrap}, {"get", l_get},   {"list", l_list},   {"table", l_table},
    {"maps", vmlab_seg_l_maps}, {NULL, NULL}};

int luaopen_vmlab_seg(lua_State *L)
{
    luaL_newmetatable(L, SEG_MT);                 /* mt */
    luaL_setfuncs(L, seg_meta, 0);
    luaL_newlib(L, seg_methods);                  /* mt methods */
    luaL_setfuncs(L, vmlab_seg_query_methods, 0);
    lua_setfield(L, -2, "methods");               /* mt */
    lua_pop(L, 1);
    vmlab_newclass(L, MAPS_MT, vmlab_seg_map_methods, NULL);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, SEG_ALL);
    luaL_newlib(L, funcs);                        /* seg */
    if (luaL_loadbufferx(L, show_lua, sizeof show_lua - 1, "=vmlab.seg.show", "t") != LUA_OK)
        return lua_error(L);
    lua_pushcfunction(L, l_table);                /* seg chunk table */
    lua_call(L, 1, 1);                            /* seg show */
    lua_setfield(L, -2, "show");                  /* seg */
    return 1;
}
