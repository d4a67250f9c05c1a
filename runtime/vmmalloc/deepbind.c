/* Libraries loaded with RTLD_DEEPBIND look symbols up in their own
 * dependencies first, so their malloc family binds to glibc's, not ours:
 * they would hand glibc a pool pointer to free, and glibc aborts.  glibc
 * 2.34 removed the malloc hooks that the original libvmmalloc relied on
 * here, so after such a dlopen we point the malloc-family slots (PLT and
 * GOT entries) of every loaded object but libc, ld.so and ourselves at our
 * functions.  Pointers glibc handed out before that still go back to glibc
 * (free checks whether a pointer is in the pool). */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <malloc.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define EXPORT __attribute__((visibility("default")))

#if defined(__x86_64__)
#define R_SLOT(t) ((t) == R_X86_64_JUMP_SLOT || (t) == R_X86_64_GLOB_DAT)
#elif defined(__aarch64__)
#define R_SLOT(t) ((t) == R_AARCH64_JUMP_SLOT || (t) == R_AARCH64_GLOB_DAT)
#endif

#ifdef R_SLOT
void cfree(void *p);
void *pvalloc(size_t n);
static const struct {
    const char *name;
    void *fn;
} ours_tab[] = {
    {"malloc", (void *)malloc}, {"free", (void *)free}, {"calloc", (void *)calloc}, {"realloc", (void *)realloc},
    {"reallocarray", (void *)reallocarray}, {"posix_memalign", (void *)posix_memalign},
    {"memalign", (void *)memalign}, {"aligned_alloc", (void *)aligned_alloc}, {"valloc", (void *)valloc},
    {"pvalloc", (void *)pvalloc}, {"malloc_usable_size", (void *)malloc_usable_size}, {"cfree", (void *)cfree},
};

static void *ours(const char *name)
{
    for (size_t i = 0; i < sizeof ours_tab / sizeof ours_tab[0]; i++)
        if (!strcmp(name, ours_tab[i].name))
            return ours_tab[i].fn;
    return NULL;
}

/* glibc relocates most dynamic entries in place; the vDSO's are offsets */
static uintptr_t dyn_ptr(const struct dl_phdr_info *info, ElfW(Addr) v)
{
    return v < info->dlpi_addr ? info->dlpi_addr + v : v;
}

static void patch(const struct dl_phdr_info *info, const ElfW(Rela) *rel, size_t size, const ElfW(Sym) *sym,
                  const char *str)
{
    long pg = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < size / sizeof *rel; i++) {
        if (!R_SLOT(ELF64_R_TYPE(rel[i].r_info)) || !ELF64_R_SYM(rel[i].r_info))
            continue;
        void *fn = ours(str + sym[ELF64_R_SYM(rel[i].r_info)].st_name);
        void **slot = (void **)(info->dlpi_addr + rel[i].r_offset);
        if (!fn || *slot == fn)
            continue;
        int relro = 0;
        for (int h = 0; h < info->dlpi_phnum; h++) {
            const ElfW(Phdr) *ph = &info->dlpi_phdr[h];
            uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
            relro |= ph->p_type == PT_GNU_RELRO && (uintptr_t)slot >= lo && (uintptr_t)slot < lo + ph->p_memsz;
        }
        void *page = (void *)((uintptr_t)slot & ~(uintptr_t)(pg - 1));
        if (relro && mprotect(page, (size_t)pg, PROT_READ | PROT_WRITE) != 0)
            continue;
        *slot = fn;
        if (relro)
            mprotect(page, (size_t)pg, PROT_READ);
    }
}

static int rebind(struct dl_phdr_info *info, size_t n, void *self)
{
    const ElfW(Dyn) *dyn = NULL;
    const ElfW(Sym) *sym = NULL;
    const ElfW(Rela) *rela = NULL, *jmprel = NULL;
    const char *str = NULL;
    size_t relasz = 0, jmpsz = 0;

    if (info->dlpi_addr == (uintptr_t)self || strstr(info->dlpi_name, "/libc.so") ||
        strstr(info->dlpi_name, "/ld-linux") || !info->dlpi_name[0])
        return 0;    /* ourselves, glibc, the loader; the executable is "" */
    for (int h = 0; h < info->dlpi_phnum; h++)
        if (info->dlpi_phdr[h].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[h].p_vaddr);
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        switch (dyn->d_tag) {
        case DT_SYMTAB: sym = (const void *)dyn_ptr(info, dyn->d_un.d_ptr); break;
        case DT_STRTAB: str = (const void *)dyn_ptr(info, dyn->d_un.d_ptr); break;
        case DT_RELA: rela = (const void *)dyn_ptr(info, dyn->d_un.d_ptr); break;
        case DT_RELASZ: relasz = dyn->d_un.d_val; break;
        case DT_JMPREL: jmprel = (const void *)dyn_ptr(info, dyn->d_un.d_ptr); break;
        case DT_PLTRELSZ: jmpsz = dyn->d_un.d_val; break;
        }
    }
    if (!sym || !str)
        return 0;
    if (rela)
        patch(info, rela, relasz, sym, str);
    if (jmprel)
        patch(info, jmprel, jmpsz, sym, str);
    return 0;
}
#endif

/* glibc finds the caller of dlopen (for its RUNPATH and $ORIGIN) from the
 * return address, so the common case is a tail call (the Makefile keeps
 * -foptimize-sibling-calls on) and the caller stays the program's.  With
 * RTLD_DEEPBIND the caller glibc sees is this library: a bare name is then
 * not looked up in the caller's RUNPATH (LD_LIBRARY_PATH and the cache
 * still apply). */
static void *deep_open(void *(*real)(const char *, int), const char *file, int flags)
{
    void *h = real(file, flags);
#ifdef R_SLOT
    Dl_info me;
    if (h && dladdr((void *)rebind, &me)) {
        dl_iterate_phdr(rebind, me.dli_fbase);
        vm_log(2, "dlopen(%s, RTLD_DEEPBIND): its malloc family rebound to the pool", file ? file : "NULL");
    }
#endif
    return h;
}

EXPORT void *dlopen(const char *file, int flags)
{
    static void *(*real)(const char *, int);
    if (!real)
        real = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
    if (!(flags & RTLD_DEEPBIND))
        return real(file, flags);
    return deep_open(real, file, flags);
}
