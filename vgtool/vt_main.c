/* vmlab's valgrind tool (`valgrind --tool=vmlab`): the page reference
 * string of a command, collapsed to pages inside valgrind.
 *
 * It sees the same references as lackey's --trace-mem=yes (instruction
 * fetches, loads, stores, and a load then a store of the same address and
 * size with no other reference between them as one modify) in the same
 * order, but instead of printing each one it compares the reference's
 * page and kind with the last one inline, in the translated code, and
 * calls a helper only on a change; the helper appends {reference index,
 * page | kind} to a record that goes out in one write() when full, at a
 * system call, before fork and exec, and at exit (include/vmlab/vgtool.h).
 * An instruction fetch on the same page as the instruction fetch checked
 * just before it, with no data reference between, is known not to change
 * anything when the code is translated: only counted.
 *
 * Built without libc, against valgrind's static core (the Makefile). */
#include "pub_tool_basics.h"
#include "pub_tool_tooliface.h"
#include "pub_tool_libcassert.h"
#include "pub_tool_libcbase.h"
#include "pub_tool_libcfile.h"
#include "pub_tool_libcprint.h"
#include "pub_tool_libcproc.h"
#include "pub_tool_machine.h"
#include "pub_tool_options.h"
#include "pub_tool_vki.h"
#include "pub_tool_vkiscnums.h"
#include "vmlab/vgtool.h"

#if VG_WORDSIZE != 8
#error "vmlab's valgrind tool is built for 64-bit platforms only"
#endif

/* The core's own (pub_core_libcfile.h, not exported to tools): move a
 * descriptor above the client's range, close-on-exec. */
extern Int VG_(safe_fd)(Int oldfd);

static Long clo_fd = -1;
static Long clo_page = 0;
static Bool clo_instr = True;

static Int out_fd = -1;
static ULong page_mask;    /* ~(page size - 1) */

/* Run time state, read and written by the translated code: references
 * so far (brought up to date at every exit of a superblock) and the last
 * page | kind (~0: none yet). */
static ULong refs;
static ULong last_key = ~0ULL;

static struct {
    UInt magic, type, pid, n;
    ULong r0, r1;
    ULong ev[2 * VT_EVENTS_MAX];
} rec;

static void send(UInt type, ULong r1)
{
    rec.magic = VT_MAGIC, rec.type = type, rec.r1 = r1;
    if (out_fd >= 0) {
        Int len = VT_HEAD + (Int)rec.n * VT_EVENT, w;
        do
            w = VG_(write)(out_fd, &rec, len);
        while (w == -VKI_EINTR);
        if (w != len)
            out_fd = -1; /* the reader is gone: stop writing, let the command run */
    }
    rec.n = 0, rec.r0 = r1;
}

static void put(ULong time, ULong key)
{
    if (rec.n == VT_EVENTS_MAX)
        send(VT_EVENTS, time);
    rec.ev[2 * rec.n] = time, rec.ev[2 * rec.n + 1] = key;
    rec.n++;
}

/* Called only when key differs from last_key. */
static VG_REGPARM(2) void vt_change(ULong key, ULong off)
{
    last_key = key;
    put(refs + off, key);
}

/* A modify: a read then a write of one page, at one reference index;
 * the write always differs from the state the read leaves. */
static VG_REGPARM(2) void vt_modify(ULong addr, ULong off)
{
    ULong k = addr & page_mask;
    if (k != last_key)
        put(refs + off, k);
    put(refs + off, k | 1);
    last_key = k | 1;
}

/* ---- instrumentation ---- */

typedef enum { EV_I, EV_R, EV_W, EV_M } EvKind;
typedef struct {
    EvKind kind;
    IRExpr *addr;  /* EV_I: NULL, iaddr instead */
    Addr iaddr;
    Int size;
    IRExpr *guard; /* NULL: always */
} Ev;

/* Per superblock being instrumented. */
static Ev held;          /* the last reference, kept back in case a write merges into it */
static Bool have_held;
static Int pend;         /* references since `refs` was last brought up to date */
static Bool known;       /* the state is statically (known_page, read) */
static Addr known_page;

static IRTemp tmp(IRSB *sb, IRExpr *e)
{
    IRTemp t = newIRTemp(sb->tyenv, Ity_I64);
    addStmtToIRSB(sb, IRStmt_WrTmp(t, e));
    return t;
}

/* refs += pend (+ 1 when guard holds) */
static void add_refs(IRSB *sb, IRExpr *guard)
{
    if (pend == 0 && !guard)
        return;
    IRExpr *cell = mkIRExpr_HWord((HWord)&refs);
    IRTemp t = tmp(sb, IRExpr_Load(Iend_LE, Ity_I64, cell));
    IRTemp u = tmp(sb, IRExpr_Binop(Iop_Add64, IRExpr_RdTmp(t), IRExpr_Const(IRConst_U64((ULong)pend))));
    if (guard) {
        IRTemp g = tmp(sb, IRExpr_Unop(Iop_1Uto64, guard));
        u = tmp(sb, IRExpr_Binop(Iop_Add64, IRExpr_RdTmp(u), IRExpr_RdTmp(g)));
    }
    addStmtToIRSB(sb, IRStmt_Store(Iend_LE, cell, IRExpr_RdTmp(u)));
    pend = 0;
}

/* The helper's effect on memory, declared so that VEX does not keep a
 * load of last_key across the call. */
static void call(IRSB *sb, const HChar *name, void *fn, IRExpr *a, IRExpr *guard)
{
    IRDirty *di = unsafeIRDirty_0_N(2, name, VG_(fnptr_to_fnentry)(fn),
                                    mkIRExprVec_2(a, IRExpr_Const(IRConst_U64((ULong)pend))));
    di->mFx = Ifx_Modify;
    di->mAddr = mkIRExpr_HWord((HWord)&last_key);
    di->mSize = 8;
    if (guard)
        di->guard = guard;
    addStmtToIRSB(sb, IRStmt_Dirty(di));
}

/* if (key != last_key [&& guard]) vt_change(key, pend) */
static void check(IRSB *sb, IRExpr *key, IRExpr *guard)
{
    IRTemp last = tmp(sb, IRExpr_Load(Iend_LE, Ity_I64, mkIRExpr_HWord((HWord)&last_key)));
    IRTemp ne = newIRTemp(sb->tyenv, Ity_I1);
    addStmtToIRSB(sb, IRStmt_WrTmp(ne, IRExpr_Binop(Iop_CmpNE64, key, IRExpr_RdTmp(last))));
    IRExpr *cond = IRExpr_RdTmp(ne);
    if (guard) {
        IRTemp both = newIRTemp(sb->tyenv, Ity_I1);
        addStmtToIRSB(sb, IRStmt_WrTmp(both, IRExpr_Binop(Iop_And1, cond, guard)));
        cond = IRExpr_RdTmp(both);
    }
    call(sb, "vt_change", vt_change, key, cond);
}

static void emit(IRSB *sb, const Ev *e)
{
    if (e->kind == EV_I) {
        if (!clo_instr)
            return;
        Addr page = e->iaddr & page_mask;
        if (!(known && known_page == page))
            check(sb, mkIRExpr_HWord(page), NULL);
        known = True, known_page = page;
        pend++;
        return;
    }
    known = False;
    if (e->kind == EV_M) {
        call(sb, "vt_modify", vt_modify, e->addr, NULL);
        pend++;
        return;
    }
    /* the page and kind of a data reference */
    IRTemp k = tmp(sb, IRExpr_Binop(Iop_And64, e->addr, IRExpr_Const(IRConst_U64(page_mask))));
    if (e->kind == EV_W)
        k = tmp(sb, IRExpr_Binop(Iop_Or64, IRExpr_RdTmp(k), IRExpr_Const(IRConst_U64(1))));
    if (e->guard) {
        /* counted only when it happens */
        add_refs(sb, NULL);
        check(sb, IRExpr_RdTmp(k), e->guard);
        add_refs(sb, e->guard);
    } else {
        check(sb, IRExpr_RdTmp(k), NULL);
        pend++;
    }
}

static void flush_held(IRSB *sb)
{
    if (have_held)
        emit(sb, &held);
    have_held = False;
}

static void add_ev(IRSB *sb, EvKind kind, IRExpr *addr, Addr iaddr, Int size, IRExpr *guard)
{
    /* lackey's rule: a write merges into the reference just before it when
     * that is an unguarded read of the same size at the same address
     * expression, with no exit or end of superblock between */
    if (kind == EV_W && !guard && have_held && held.kind == EV_R && !held.guard && held.size == size &&
        eqIRAtom(held.addr, addr)) {
        held.kind = EV_M;
        return;
    }
    flush_held(sb);
    held.kind = kind, held.addr = addr, held.iaddr = iaddr, held.size = size, held.guard = guard;
    have_held = True;
}

static IRSB *vt_instrument(VgCallbackClosure *closure, IRSB *sbIn, const VexGuestLayout *layout,
                           const VexGuestExtents *vge, const VexArchInfo *archinfo_host, IRType gWordTy,
                           IRType hWordTy)
{
    IRSB *sb;
    Int i;

    if (gWordTy != hWordTy)
        VG_(tool_panic)("host/guest word size mismatch");
    sb = deepCopyIRSBExceptStmts(sbIn);
    have_held = False, pend = 0, known = False;

    /* the preamble before the first instruction, as it is */
    for (i = 0; i < sbIn->stmts_used && sbIn->stmts[i]->tag != Ist_IMark; i++)
        addStmtToIRSB(sb, sbIn->stmts[i]);

    for (; i < sbIn->stmts_used; i++) {
        IRStmt *st = sbIn->stmts[i];
        if (!st || st->tag == Ist_NoOp)
            continue;
        switch (st->tag) {
        case Ist_IMark:
            add_ev(sb, EV_I, NULL, (Addr)st->Ist.IMark.addr, (Int)st->Ist.IMark.len, NULL);
            break;
        case Ist_WrTmp:
            if (st->Ist.WrTmp.data->tag == Iex_Load)
                add_ev(sb, EV_R, st->Ist.WrTmp.data->Iex.Load.addr, 0,
                       sizeofIRType(st->Ist.WrTmp.data->Iex.Load.ty), NULL);
            break;
        case Ist_Store:
            add_ev(sb, EV_W, st->Ist.Store.addr, 0, sizeofIRType(typeOfIRExpr(sbIn->tyenv, st->Ist.Store.data)),
                   NULL);
            break;
        case Ist_StoreG: {
            IRStoreG *sg = st->Ist.StoreG.details;
            add_ev(sb, EV_W, sg->addr, 0, sizeofIRType(typeOfIRExpr(sbIn->tyenv, sg->data)), sg->guard);
            break;
        }
        case Ist_LoadG: {
            IRLoadG *lg = st->Ist.LoadG.details;
            IRType ty = Ity_INVALID, wide = Ity_INVALID;
            typeOfIRLoadGOp(lg->cvt, &wide, &ty);
            add_ev(sb, EV_R, lg->addr, 0, sizeofIRType(ty), lg->guard);
            break;
        }
        case Ist_Dirty: {
            IRDirty *d = st->Ist.Dirty.details;
            if (d->mFx == Ifx_Read || d->mFx == Ifx_Modify)
                add_ev(sb, EV_R, d->mAddr, 0, d->mSize, NULL);
            if (d->mFx == Ifx_Write || d->mFx == Ifx_Modify)
                add_ev(sb, EV_W, d->mAddr, 0, d->mSize, NULL);
            break;
        }
        case Ist_CAS: {
            IRCAS *cas = st->Ist.CAS.details;
            Int sz = sizeofIRType(typeOfIRExpr(sbIn->tyenv, cas->dataLo)) * (cas->dataHi ? 2 : 1);
            add_ev(sb, EV_R, cas->addr, 0, sz, NULL);
            add_ev(sb, EV_W, cas->addr, 0, sz, NULL);
            break;
        }
        case Ist_LLSC:
            if (!st->Ist.LLSC.storedata) {
                add_ev(sb, EV_R, st->Ist.LLSC.addr, 0, sizeofIRType(typeOfIRTemp(sbIn->tyenv, st->Ist.LLSC.result)),
                       NULL);
                flush_held(sb); /* as lackey: nothing merges across a load-linked */
            } else
                add_ev(sb, EV_W, st->Ist.LLSC.addr, 0, sizeofIRType(typeOfIRExpr(sbIn->tyenv, st->Ist.LLSC.storedata)),
                       NULL);
            break;
        case Ist_Exit:
            flush_held(sb);
            add_refs(sb, NULL);
            break;
        default:
            break;
        }
        addStmtToIRSB(sb, st);
    }
    flush_held(sb);
    add_refs(sb, NULL);
    return sb;
}

/* ---- process events ---- */

static void vt_pre_syscall(ThreadId tid, UInt no, UWord *args, UInt nargs)
{
    /* what is collected goes out before the command can block, exec (the
     * new image runs natively: the record would be lost) or be killed */
    if (rec.n)
        send(VT_EVENTS, refs);
}

static void vt_post_syscall(ThreadId tid, UInt no, UWord *args, UInt nargs, SysRes res) {}

static void vt_pre_fork(ThreadId tid)
{
    send(VT_EVENTS, refs); /* also when empty: the child starts its records at this r0 */
}

static void vt_child(ThreadId tid)
{
    rec.pid = (UInt)VG_(getpid)();
}

static void vt_fini(Int exitcode)
{
    send(VT_END, refs);
}

static Bool vt_option(const HChar *arg)
{
    if VG_INT_CLO (arg, "--vmlab-fd", clo_fd) {
    } else if VG_INT_CLO (arg, "--vmlab-page", clo_page) {
    } else if VG_BOOL_CLO (arg, "--vmlab-instr", clo_instr) {
    } else
        return False;
    return True;
}

static void vt_usage(void)
{
    VG_(printf)("    --vmlab-fd=N              write the page trace to descriptor N [required]\n"
                "    --vmlab-page=BYTES        page size, a power of two [the system's]\n"
                "    --vmlab-instr=no|yes      trace instruction fetches [yes]\n");
}

static void vt_debug_usage(void) {}

static void vt_post_clo_init(void)
{
    if (clo_page == 0)
        clo_page = VKI_PAGE_SIZE;
    if (clo_page < 2 || (clo_page & (clo_page - 1)))
        VG_(fmsg_bad_option)("--vmlab-page", "%lld is not a power of two\n", clo_page);
    if (clo_fd < 0)
        VG_(fmsg_bad_option)("--vmlab-fd", "the tool needs a descriptor to write to (vmlab trace gives it)\n");
    out_fd = VG_(safe_fd)((Int)clo_fd);
    if (out_fd < 0)
        VG_(fmsg_bad_option)("--vmlab-fd", "descriptor %lld is not open\n", clo_fd);
    page_mask = ~(ULong)(clo_page - 1);
    rec.pid = (UInt)VG_(getpid)();
    rec.n = 0, rec.r0 = (ULong)clo_page;
    send(VT_HELLO, clo_instr ? 1 : 0);
    rec.r0 = 0; /* send() set it to the hello's r1 */
}

static void vt_pre_clo_init(void)
{
    VG_(details_name)("vmlab");
    VG_(details_version)(NULL);
    VG_(details_description)("page reference traces for vmlab");
    VG_(details_copyright_author)("vmlab contributors");
    VG_(details_bug_reports_to)("vmlab's issue tracker");
    VG_(details_avg_translation_sizeB)(300);
    VG_(basic_tool_funcs)(vt_post_clo_init, vt_instrument, vt_fini);
    VG_(needs_command_line_options)(vt_option, vt_usage, vt_debug_usage);
    VG_(needs_syscall_wrapper)(vt_pre_syscall, vt_post_syscall);
    VG_(atfork)(vt_pre_fork, NULL, vt_child);
}

VG_DETERMINE_INTERFACE_VERSION(vt_pre_clo_init)
