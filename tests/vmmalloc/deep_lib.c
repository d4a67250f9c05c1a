/* A library that tests/c/pool_robust.c dlopens with RTLD_DEEPBIND under
 * libvmmalloc.so: it allocates and frees for the program, and its
 * destructor allocates and frees after main has returned. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *deep_early(void);
void *deep_malloc(size_t n);
void deep_free(void *p);
void *deep_realloc(void *p, size_t n);
void deep_keep(void *p);

static void *early, *kept;

/* before libvmmalloc sees this library: glibc's malloc */
__attribute__((constructor)) static void init(void) { early = strdup("early"); }

void *deep_early(void) { return early; }
void *deep_malloc(size_t n) { return malloc(n); }
void deep_free(void *p) { free(p); }
void *deep_realloc(void *p, size_t n) { return realloc(p, n); }
void deep_keep(void *p) { kept = p; }

__attribute__((destructor)) static void fini(void)
{
    char *p = malloc(1 << 20);
    int good = p && kept && !strcmp(kept, "kept");
    if (p)
        memset(p, 1, 1 << 20);
    free(p);
    free(kept);
    if (write(1, good ? "destructor: ok\n" : "destructor: bad\n", good ? 15 : 16) < 0)
        _exit(3);
}
