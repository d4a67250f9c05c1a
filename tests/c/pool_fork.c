/* libvmmalloc.so and fork without exec, under VMMALLOC_FORK 1, 2 and 3: the
 * heaps of parent and child are private to each, both can allocate heavily
 * afterwards (also when another thread was allocating at the fork), mode 1
 * is copy-on-write of the same file and mode 2 a new file holding only what
 * was in use.  The test re-executes itself under the preload once per mode,
 * carrying the TAP count along. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload.h"

#define MiB (1024ul * 1024)
#define POOL (256 * MiB)

/* The mapping holding p: its inode and whether it is shared ('s'). */
static int find_map(const void *p, unsigned long *ino, char *share)
{
    char line[512];
    int found = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && !found && fgets(line, sizeof line, f)) {
        unsigned long lo, hi, off, in;
        char perm[8], dev[16];
        if (sscanf(line, "%lx-%lx %7s %lx %15s %lu", &lo, &hi, perm, &off, dev, &in) == 6 &&
            (uintptr_t)p >= lo && (uintptr_t)p < hi) {
            *ino = in;
            *share = perm[3];
            found = 1;
        }
    }
    if (f)
        fclose(f);
    return found;
}

/* Bytes allocated to the open file with that inode (the pool's descriptor). */
static long long file_bytes(unsigned long ino)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long long r = -1;
    while (d && (e = readdir(d))) {
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) == 0 && st.st_ino == ino && S_ISREG(st.st_mode))
            r = (long long)st.st_blocks * 512;
    }
    if (d)
        closedir(d);
    return r;
}

/* A working set of blocks filled with a pattern, each checked before it is
 * freed: the number of damaged or failed blocks. */
static int churn(unsigned seed, int rounds)
{
    enum { N = 256 };
    unsigned char *slot[N] = {0}, tag[N];
    size_t len[N];
    int bad = 0;
    for (int i = 0; i <= rounds; i++) {
        unsigned r = (unsigned)rand_r(&seed);
        int k = (int)(r % N);
        if (slot[k]) {
            for (size_t j = 0; j < len[k]; j += 61)
                bad += slot[k][j] != tag[k];
            free(slot[k]);
            slot[k] = NULL;
        }
        if (i == rounds)
            break;
        len[k] = (r >> 8) % 64 ? 16 + (r >> 14) % 4096 : 65536 + (r >> 14) % MiB;
        tag[k] = (unsigned char)(r >> 3);
        if (!(slot[k] = malloc(len[k]))) {
            bad++;
            continue;
        }
        memset(slot[k], tag[k], len[k]);
    }
    for (int k = 0; k < N; k++)
        if (slot[k]) {
            for (size_t j = 0; j < len[k]; j += 61)
                bad += slot[k][j] != tag[k];
            free(slot[k]);
        }
    return bad;
}

static void private_heaps(int mode)
{
    int to_child[2], to_parent[2], st = 0;
    unsigned long pino = 0, cino;
    char pshare = 0, cshare, c;
    char *a = malloc(4096);
    pid_t pid;

    strcpy(a, "parent");
    ok(find_map(a, &pino, &pshare) && pshare == 's', "mode %d: before fork the pool is a shared mapping", mode);
    if (pipe(to_child) || pipe(to_parent))
        exit(99);
    pid = fork();
    if (pid == 0) {
        int r = 0;
        alarm(60);                /* a deadlock fails the test instead of hanging it */
        strcpy(a, "child");
        if (write(to_parent[1], "w", 1) != 1 || read(to_child[0], &c, 1) != 1)
            _exit(64);
        if (strcmp(a, "child"))
            r |= 1;
        if (churn(2, 20000))
            r |= 2;
        if (!find_map(a, &cino, &cshare))
            r |= 4;
        else if (mode == 1 && (cino != pino || cshare != 'p'))
            r |= 4;
        else if (mode >= 2 && (cino == pino || cshare != 's'))
            r |= 4;
        /* mode 2 copies what is in use (a few MiB), not the 256 MiB pool */
        if (mode >= 2 && !(file_bytes(cino) >= 0 && file_bytes(cino) < 64 * (long long)MiB))
            r |= 8;
        if (strcmp(a, "child"))
            r |= 1;
        _exit(r);
    }
    ok(pid > 0 && read(to_parent[0], &c, 1) == 1, "mode %d: fork, the child wrote its copy", mode);
    is_str(a, "parent", "mode %d: the child's write is not seen by the parent", mode);
    strcpy(a, "parent2");
    if (write(to_child[1], "p", 1) != 1)
        exit(99);
    ok(churn(1, 20000) == 0, "mode %d: the parent allocates and frees heavily while the child does", mode);
    waitpid(pid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) < 64, "mode %d: the child exits normally (status %#x)", mode, st);
    ok(WIFEXITED(st) && !(WEXITSTATUS(st) & 1), "mode %d: the parent's write is not seen by the child", mode);
    ok(WIFEXITED(st) && !(WEXITSTATUS(st) & 2), "mode %d: the child allocates and frees heavily, blocks intact", mode);
    ok(WIFEXITED(st) && !(WEXITSTATUS(st) & 4), "mode %d: the child's pool is %s", mode,
       mode == 1 ? "a private (copy-on-write) mapping of the same file" : "a shared mapping of a new file");
    if (mode >= 2) {
        ok(WIFEXITED(st) && !(WEXITSTATUS(st) & 8), "mode %d: the child's file holds the part in use, not the pool",
           mode);
        ok(find_map(a, &cino, &pshare) && cino == pino && pshare == 's',
           "mode %d: the parent keeps its shared pool file", mode);
    } else {
        ok(find_map(a, &cino, &pshare) && cino == pino && pshare == 'p',
           "mode 1: the parent's pool is copy-on-write too");
    }
    is_str(a, "parent2", "mode %d: the parent's block kept its contents", mode);
    free(a);
}

static atomic_int stop;

static void *allocator(void *arg)
{
    unsigned seed = 7;
    while (!atomic_load(&stop)) {
        void *p = malloc(16 + (unsigned)rand_r(&seed) % 8192);
        free(p);
    }
    return NULL;
}

/* Forks while another thread allocates: each child allocates before exiting. */
static void forks_while_allocating(int mode)
{
    pthread_t th;
    int good = 0;
    pthread_create(&th, NULL, allocator, NULL);
    for (int i = 0; i < 20; i++) {
        int st;
        pid_t pid = fork();
        if (pid == 0) {
            alarm(60);
            _exit(churn((unsigned)i, 500) ? 1 : 0);
        }
        if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            good++;
    }
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    is_int(good, 20, "mode %d: 20 forks while a thread allocates, each child allocates and exits cleanly", mode);
}

int main(int argc, char **argv)
{
    char num[16];
    const char *m = getenv("VMMALLOC_FORK");
    int mode;

    snprintf(num, sizeof num, "%lu", POOL);
    preload_reexec(argv, num, "1");
    if (getenv("TAP_N")) {
        tap_n = atoi(getenv("TAP_N"));
        tap_failed = atoi(getenv("TAP_FAILED"));
    }
    mode = m ? atoi(m) : 1;
    private_heaps(mode);
    forks_while_allocating(mode);
    if (mode < 3) {
        snprintf(num, sizeof num, "%d", mode + 1);
        setenv("VMMALLOC_FORK", num, 1);
        snprintf(num, sizeof num, "%d", tap_n);
        setenv("TAP_N", num, 1);
        snprintf(num, sizeof num, "%d", tap_failed);
        setenv("TAP_FAILED", num, 1);
        fflush(stdout);
        execv("/proc/self/exe", argv);
        perror("execv");
        return 1;
    }
    return tap_done();
}
