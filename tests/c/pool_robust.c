/* libvmmalloc.so where the original libvmmalloc fell short: pointers to and
 * from a library loaded with RTLD_DEEPBIND, exit handlers and a later
 * library's destructor that allocate after main returns, a 64 GiB pool
 * that costs nothing at start-up, and space one thread's arena freed being
 * reused by another thread's.  The test runs itself under the preload
 * (argv[1] "sub", "big", "arenas") and checks what those runs print. */
#include <dirent.h>
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

#define GiB (1024ull * 1024 * 1024)

static void *kept_for_exit;

static void report(int cond, const char *what)
{
    printf("R %d %s\n", !!cond, what);
    fflush(stdout);
}

static void at_exit(void)
{
    char *p = malloc(1 << 20);
    int good = p && !strcmp(kept_for_exit, "main's");
    if (p)
        memset(p, 2, 1 << 20);
    free(p);
    free(kept_for_exit);
    free(malloc(100));
    if (write(1, good ? "atexit: ok\n" : "atexit: bad\n", good ? 11 : 12) < 0)
        _exit(3);
}

static int sub(const char *lib)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_DEEPBIND);
    void *(*early)(void), *(*dmalloc)(size_t), (*dfree)(void *), *(*drealloc)(void *, size_t), (*keep)(void *);
    char *p, *q;

    report(h != NULL, "dlopen with RTLD_DEEPBIND");
    if (!h)
        return 1;
    early = (void *(*)(void))dlsym(h, "deep_early");
    dmalloc = (void *(*)(size_t))dlsym(h, "deep_malloc");
    dfree = (void (*)(void *))dlsym(h, "deep_free");
    drealloc = (void *(*)(void *, size_t))dlsym(h, "deep_realloc");
    keep = (void (*)(void *))dlsym(h, "deep_keep");

    p = early();
    report(p && !strcmp(p, "early") && malloc_usable_size(p) >= 6,
           "a block glibc gave the library before the pool saw it: readable, its usable size known");
    free(p);
    report(1, "the program frees it (glibc takes it back)");

    q = dmalloc(100);
    strcpy(q, "from the library");
    q = realloc(q, 5000);
    report(q && !strcmp(q, "from the library"), "the program reallocs the library's block, contents kept");
    free(q);
    report(1, "the program frees the library's block");

    p = malloc(100);
    strcpy(p, "from the program");
    p = drealloc(p, 10000);
    report(p && !strcmp(p, "from the program"), "the library reallocs the program's block, contents kept");
    dfree(p);
    report(1, "the library frees the program's block");

    for (int i = 0; i < 2000; i++) {
        void *a = dmalloc((size_t)i * 7 + 1), *b = malloc((size_t)i * 5 + 1);
        free(a);
        dfree(b);
    }
    report(1, "2000 blocks each way, freed by the other side");

    p = malloc(64);
    strcpy(p, "kept");
    keep(p);
    kept_for_exit = strdup("main's");
    atexit(at_exit);
    return 0;    /* the handler and the library's destructor run after this */
}

/* The pool's resident size and the blocks its file holds, right at start. */
static int big(void)
{
    long long rss = -1, blocks = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    long pages, res;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    if (f && fscanf(f, "%ld %ld", &pages, &res) == 2)
        rss = (long long)res * sysconf(_SC_PAGESIZE);
    if (f)
        fclose(f);
    while (d && (e = readdir(d))) {
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode) && (unsigned long long)st.st_size == 64 * GiB)
            blocks = (long long)st.st_blocks * 512;
    }
    if (d)
        closedir(d);
    free(malloc(1000));
    printf("rss %lld file %lld\n", rss, blocks);
    return 0;
}

/* One thread fills the pool with 1 MiB blocks and frees them; a second
 * thread (bound to another of the pool's arenas) must get about as many. */
static void *fill(void *arg)
{
    static void *blocks[1024];
    long n = 0;
    while (n < 1024 && (blocks[n] = malloc(1 << 20)))
        memset(blocks[n++], 1, 4096);
    for (long i = 0; i < n; i++)
        free(blocks[i]);
    return (void *)n;
}

static int arenas(void)
{
    pthread_t a, b;
    void *n1, *n2;
    pthread_create(&a, NULL, fill, NULL);
    pthread_join(a, &n1);
    pthread_create(&b, NULL, fill, NULL);
    pthread_join(b, &n2);
    printf("first %ld second %ld\n", (long)n1, (long)n2);
    return 0;
}

/* Runs this program under the preload with argv[1] = what; its output. */
static char *run(const char *self, const char *lib, const char *what, const char *size, int *status)
{
    static char out[8192];
    char cmd[8192];
    size_t n;
    FILE *p;
    snprintf(cmd, sizeof cmd,
             "env VMMALLOC_POOL_DIR=/tmp VMMALLOC_POOL_SIZE=%s LD_PRELOAD=%s/libvmmalloc.so %s %s 2>&1", size,
             getenv("VMLAB_BUILD") ? getenv("VMLAB_BUILD") : "build", self, what);
    (void)lib;
    p = popen(cmd, "r");
    n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = 0;
    *status = p ? pclose(p) : -1;
    if (n && out[n - 1] == '\n')
        out[n - 1] = 0;
    return out;
}

int main(int argc, char **argv)
{
    char lib[4096], self[4096], *out, *line;
    const char *b = getenv("VMLAB_BUILD") ? getenv("VMLAB_BUILD") : "build";
    int st, n;
    long long rss, blocks;

    snprintf(lib, sizeof lib, "%s/tests/vmmalloc/libdeep.so", b);
    if (argc > 1 && !strcmp(argv[1], "sub"))
        return sub(lib);
    if (argc > 1 && !strcmp(argv[1], "big"))
        return big();
    if (argc > 1 && !strcmp(argv[1], "arenas"))
        return arenas();
#ifdef __SANITIZE_ADDRESS__
    tap_skip_all("ASan owns malloc in this build");
#endif
    snprintf(self, sizeof self, "%s/libvmmalloc.so", b);
    if (access(self, R_OK) != 0 || access(lib, R_OK) != 0)
        tap_skip_all("no libvmmalloc.so or libdeep.so (make all)");
    n = (int)readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;

    out = run(self, lib, "sub", "67108864", &st);
    n = 0;
    for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "R ", 2)) {
            ok(line[2] == '1', "RTLD_DEEPBIND: %s", line + 4);
            n++;
        } else if (!strncmp(line, "atexit: ", 8)) {
            is_str(line, "atexit: ok", "an atexit handler allocates and frees after main returned");
            n += 100;
        } else if (!strncmp(line, "destructor: ", 12)) {
            is_str(line, "destructor: ok", "a dlopen'ed library's destructor allocates and frees at exit");
            n += 1000;
        } else {
            printf("# %s\n", line);
        }
    }
    is_int(n, 1108, "all the checks ran (8 in main, the handler, the destructor)");
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the process ends cleanly (status %#x)", st);

    out = run(self, lib, "big", "68719476736", &st);
    rss = blocks = -1;
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && sscanf(out, "rss %lld file %lld", &rss, &blocks) == 2,
       "a 64 GiB pool on a sparse file starts: %s", out);
    ok(rss >= 0 && rss < 64ll << 20, "and costs nothing at start-up: %lld KiB resident", rss >> 10);
    ok(blocks >= 0 && blocks < 64ll << 20, "its file holds %lld KiB of 64 GiB", blocks >> 10);

    out = run(self, lib, "arenas", "134217728", &st);
    {
        long n1 = -1, n2 = -1;
        ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && sscanf(out, "first %ld second %ld", &n1, &n2) == 2,
           "two threads in turn fill a 128 MiB pool: %s", out);
        ok(n1 > 64 && n2 >= n1 - 8, "the second thread's arena reuses what the first one's freed (%ld, %ld MiB)", n1, n2);
    }
    return tap_done();
}
