/* Pools from C: contracts of runtime/pool.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "tap.h"
#include "libvmmalloc.h"
#include "vmlab/pool.h"

#define MiB (1024u * 1024u)
#define THREADS 4
#define ROUNDS 20000

/* Threads hammering one pool: random sizes, a working set of live blocks,
 * each block stamped with its owner and checked before it is freed. */
struct hammer {
    struct vmlab_pool *p;
    int id, bad, fails;
};

static void *hammer(void *arg)
{
    struct hammer *h = arg;
    void *live[64] = {0};
    size_t len[64] = {0};
    unsigned seed = (unsigned)h->id * 7919u + 1;
    for (int r = 0; r < ROUNDS; r++) {
        int k = (int)(rand_r(&seed) % 64);
        if (live[k]) {
            unsigned char *b = live[k];
            if (b[0] != h->id || b[len[k] - 1] != h->id)
                h->bad++;
            if (vmlab_pool_free(h->p, live[k]) < 0)
                h->bad++;
            live[k] = NULL;
            continue;
        }
        len[k] = rand_r(&seed) % 16 == 0 ? 65536 + rand_r(&seed) % 65536 : 16 + rand_r(&seed) % 4080;
        if (!(live[k] = vmlab_pool_alloc(h->p, len[k], 0))) {
            h->fails++;
            continue;
        }
        memset(live[k], h->id, len[k]);
    }
    for (int k = 0; k < 64; k++)
        if (live[k])
            vmlab_pool_free(h->p, live[k]);
    return NULL;
}

int main(void)
{
    struct vmlab_pool *p = NULL, *q = NULL;
    struct vmlab_pool_opts o = {.dir = "/tmp", .size = 16 * MiB};
    struct vmlab_pool_stats st;
    char path[] = "/tmp/vmlab-pool-test-XXXXXX";
    size_t u = 0;
    void *a, *b, *blocks[4096];
    int i, n, fd, bad;

    ok(vmlab_pool_create(&(struct vmlab_pool_opts){.dir = "/tmp", .size = VMMALLOC_MIN_POOL - 4096}, &p) == -EINVAL,
       "a pool below VMMALLOC_MIN_POOL is refused");
    ok(vmlab_pool_create(&(struct vmlab_pool_opts){.dir = "/nonexistent/dir", .size = 16 * MiB}, &p) == -ENOENT,
       "a missing directory is ENOENT");
    ok(vmlab_pool_create(&o, &p) == 0, "create a 16 MiB pool in /tmp");

    a = vmlab_pool_alloc(p, 100, 0);
    ok(a && (char *)a >= (char *)vmlab_pool_base(p) && (char *)a < (char *)vmlab_pool_base(p) + vmlab_pool_size(p),
       "alloc lands in the mapping");
    vmlab_pool_usable(p, a, &u);
    ok(u >= 100, "usable %zu >= 100", u);
    b = vmlab_pool_alloc(p, 1000, 4096);
    ok(b && ((uintptr_t)b & 4095) == 0, "4096-aligned alloc %p", b);
    memset(a, 0x5a, 100);
    ok(vmlab_pool_realloc(p, a, 100000, &a) == 0, "realloc grows");
    for (bad = 0, i = 0; i < 100; i++)
        bad += ((unsigned char *)a)[i] != 0x5a;
    ok(bad == 0, "realloc keeps contents");
    ok(vmlab_pool_free(p, a) == 0, "free");
    ok(vmlab_pool_free(p, a) == -EINVAL, "double free is refused");
    ok(vmlab_pool_free(p, &u) == -EINVAL, "foreign pointer is refused");
    ok(vmlab_pool_free(p, (char *)b + 16) == -EINVAL, "interior pointer is refused");

    /* exhaustion: 1 MiB blocks until NULL, the first ones intact */
    for (n = 0; n < 4096; n++) {
        blocks[n] = vmlab_pool_alloc(p, MiB, 0);
        if (!blocks[n])
            break;
        memset(blocks[n], n & 0xff, MiB);
    }
    ok(n > 8 && n < 16 && errno == ENOMEM, "exhaustion after %d MiB blocks with ENOMEM", n);
    for (bad = 0, i = 0; i < n; i++)
        bad += ((unsigned char *)blocks[i])[MiB - 1] != (i & 0xff) || ((unsigned char *)blocks[i])[0] != (i & 0xff);
    ok(bad == 0, "the blocks before exhaustion are intact");
    vmlab_pool_stats(p, &st);
    ok(st.live == (uint64_t)n + 1 && st.fails >= 1 && st.allocated >= (size_t)n * MiB && st.mapped <= st.size,
       "stats: live %llu fails %llu allocated %zu mapped %zu size %zu", (unsigned long long)st.live,
       (unsigned long long)st.fails, st.allocated, st.mapped, st.size);
    for (i = 0; i < n; i++)
        vmlab_pool_free(p, blocks[i]);
    for (i = 0; i < n; i++)
        if (!(blocks[i] = vmlab_pool_alloc(p, MiB, 0)))
            break;
    ok(i == n, "after freeing them, the same %d blocks fit again (%d)", n, i);
    while (i-- > 0)
        vmlab_pool_free(p, blocks[i]);

    /* a second pool on a named file: writes reach the file */
    fd = mkstemp(path);
    close(fd);
    ok(vmlab_pool_create(&(struct vmlab_pool_opts){.path = path, .size = 14 * MiB}, &q) == -EEXIST,
       "an existing file is refused without replace");
    ok(vmlab_pool_create(&(struct vmlab_pool_opts){.path = path, .size = 14 * MiB, .replace = 1}, &q) == 0,
       "second pool on %s, replacing it", path);
    a = vmlab_pool_alloc(q, 64, 0);
    strcpy(a, "hello, pool file");
    fd = open(path, O_RDONLY);
    {
        char buf[64] = "";
        ssize_t got = pread(fd, buf, sizeof buf - 1, (char *)a - (char *)vmlab_pool_base(q));
        ok(got > 0 && !strcmp(buf, "hello, pool file"), "the file holds what was written: '%s'", buf);
    }
    close(fd);
    ok(vmlab_pool_free(p, a) == -EINVAL, "a block of pool 2 is foreign to pool 1");
    ok(vmlab_pool_free(q, a) == 0, "and belongs to pool 2");
    ok(vmlab_pool_id(q) != vmlab_pool_id(p), "pools have distinct ids");
    vmlab_pool_close(q);
    unlink(path);
    vmlab_pool_close(p);
    ok(vmlab_pool_create(&o, &p) == 0, "a pool after closing others");
    {
        pthread_t th[THREADS];
        struct hammer hs[THREADS];
        int bads = 0, fails = 0;
        for (i = 0; i < THREADS; i++) {
            hs[i] = (struct hammer){.p = p, .id = i + 1};
            pthread_create(&th[i], NULL, hammer, &hs[i]);
        }
        for (i = 0; i < THREADS; i++) {
            pthread_join(th[i], NULL);
            bads += hs[i].bad;
            fails += hs[i].fails;
        }
        vmlab_pool_stats(p, &st);
        ok(bads == 0 && fails == 0, "%d threads x %d rounds on one pool: %d corrupted, %d failed", THREADS, ROUNDS,
           bads, fails);
        ok(st.live == 0 && st.allocated == 0, "and every block is accounted for (live %llu, allocated %zu)",
           (unsigned long long)st.live, st.allocated);
    }
    ok((a = vmlab_pool_alloc(p, 10, 0)) != NULL && vmlab_pool_free(p, a) == 0, "works");
    vmlab_pool_close(p);
    return tap_done();
}
