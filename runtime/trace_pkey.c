/* Protection keys in a signal frame (see trace_pkey.h).  The tracer opens
 * and closes pages that hold a key by editing the faulting thread's PKRU
 * where the kernel saved it, in the XSAVE area of the signal frame: the
 * standard-format offset of the PKRU component is CPUID leaf 0xD,
 * sub-leaf 9, EBX; bit 9 of XSTATE_BV must be set for XRSTOR to load it
 * rather than its init value (0: every key open). */
#include "trace_pkey.h"

#include "vmlab/fault.h"
#include "vmlab/units.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>

enum {
    XF_PKRU = 9,
    XS_SW_BYTES = 464, /* struct _fpx_sw_bytes in the fxsave area */
    XS_HDR = 512,       /* XSTATE_BV */
    XS_MAGIC1 = 0x46505853,
};

static unsigned pkru_off; /* 0: unknown */

uint32_t *vmlab_pkey_frame(void *uc)
{
    ucontext_t *u = uc;
    char *fp = u ? (char *)u->uc_mcontext.fpregs : NULL;
    uint32_t magic, size;
    uint64_t feat, bv;

    if (!fp || !pkru_off)
        return NULL;
    memcpy(&magic, fp + XS_SW_BYTES, 4);
    memcpy(&feat, fp + XS_SW_BYTES + 8, 8);
    memcpy(&size, fp + XS_SW_BYTES + 16, 4);
    if (magic != XS_MAGIC1 || !(feat & (1ull << XF_PKRU)) || size < pkru_off + 4)
        return NULL;
    memcpy(&bv, fp + XS_HDR, 8);
    if (!(bv & (1ull << XF_PKRU))) {
        /* PKRU was in its init state (0) and not written: write it so */
        memset(fp + pkru_off, 0, 8);
        bv |= 1ull << XF_PKRU;
        memcpy(fp + XS_HDR, &bv, 8);
    }
    return (uint32_t *)(void *)(fp + pkru_off);
}

int vmlab_pkey_fault_write(void *uc)
{
    ucontext_t *u = uc;
    return u ? (u->uc_mcontext.gregs[REG_ERR] & 2) != 0 : -1; /* X86_PF_WRITE */
}

uint32_t vmlab_pkey_read(void)
{
    uint32_t eax, edx;
    __asm__ volatile(".byte 0x0f,0x01,0xee" : "=a"(eax), "=d"(edx) : "c"(0)); /* rdpkru */
    return eax;
}

void vmlab_pkey_write(uint32_t v)
{
    __asm__ volatile(".byte 0x0f,0x01,0xef" : : "a"(v), "c"(0), "d"(0) : "memory"); /* wrpkru */
}

/* The probe: a page of our own under a fresh key, closed in this
 * thread's PKRU; the hook opens the key in the frame.  A second fault
 * means sigreturn did not take the edited PKRU. */
static volatile int probe_faults;
static char *probe_page;
static int probe_key;

static int probe_hook(void *addr, int sig, int code, void *ctx)
{
    (void)ctx;
    if (sig != SIGSEGV || (char *)addr != probe_page || code != SEGV_PKUERR)
        return 0;
    if (probe_faults++)
        return 0; /* the edit did not hold: let the guard catch it */
    uint32_t *pkru = vmlab_pkey_frame(vmlab_fault_ucontext());
    if (!pkru)
        return 0;
    *pkru &= ~(PKRU_AD(probe_key) | PKRU_WD(probe_key));
    return 1;
}

static int probe(void)
{
    size_t psz = vmlab_pagesize();
    int ok = 0;
    probe_page = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (probe_page == MAP_FAILED)
        return 0;
    probe_key = pkey_alloc(0, PKEY_DISABLE_ACCESS);
    if (probe_key > 0 && pkey_mprotect(probe_page, psz, PROT_READ | PROT_WRITE, probe_key) == 0 &&
        vmlab_fault_add_hook(probe_hook, NULL) == 0) {
        uint32_t saved = vmlab_pkey_read();
        struct vmlab_fault_guard g;
        probe_faults = 0;
        vmlab_fault_push(&g);
        if (sigsetjmp(g.env, 1) == 0) {
            ((volatile char *)probe_page)[0] = 1;
            ok = probe_faults == 1 && (vmlab_pkey_read() & PKRU_AD(probe_key)) == 0;
        }
        vmlab_fault_pop(&g);
        vmlab_fault_remove_hook(probe_hook, NULL);
        vmlab_pkey_write(saved | PKRU_AD(probe_key));
    }
    munmap(probe_page, psz);
    if (probe_key > 0)
        pkey_free(probe_key);
    return ok;
}

int vmlab_pkey_usable(void)
{
    static int known = -1; /* the hardware and kernel do not change */
    unsigned a, b, c, d;
    const char *env = getenv("VMLAB_TRACE_PKEYS");

    if (env && !strcmp(env, "0"))
        return 0;
    if (known >= 0)
        return known;
    known = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(c & (1u << 4))) /* OSPKE */
        return 0;
    if (!__get_cpuid_count(0xD, XF_PKRU, &a, &b, &c, &d) || a < 4 || b < XS_HDR + 64)
        return 0;
    pkru_off = b;
    known = probe();
    return known;
}
#else
int vmlab_pkey_usable(void) { return 0; }
uint32_t *vmlab_pkey_frame(void *uc) { (void)uc; return NULL; }
int vmlab_pkey_fault_write(void *uc) { (void)uc; return -1; }
uint32_t vmlab_pkey_read(void) { return 0; }
void vmlab_pkey_write(uint32_t v) { (void)v; }
#endif
