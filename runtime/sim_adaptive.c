/* Policies with several queues: 2Q, ARC, LIRS, S3-FIFO.  Each keeps a
 * state byte per page and intrusive lists (sim_internal.h); the comments
 * give the rules of the paper each follows (sources in sim.c). */
#include "sim_internal.h"

#include <string.h>

#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* 2Q, full version (Johnson & Shasha, Fig. 3): A1in a FIFO of pages seen
 * once (Kin = 25 % of the frames), A1out a FIFO of the ids evicted from it
 * (Kout = 50 %), Am an LRU of pages seen again.  reclaimfor takes from
 * A1in while it holds more than Kin (or Am is empty), else from Am. */
int64_t sim_2q(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    enum { NONE, A1IN, AM, A1OUT };
    const uint32_t in = m, am = m + 1, out = m + 2;
    size_t kin = MAX(1, frames / 4), kout = MAX(1, frames / 2);
    size_t nin = 0, nam = 0, nout = 0;
    uint8_t *st = calloc(m, 1);
    struct links l;
    int64_t faults = 0;

    if (!st || links_init(&l, m, 3)) {
        free(st);
        return SIM_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        if (st[x] == AM) {
            l_to_head(&l, am, x);
            continue;
        }
        if (st[x] == A1IN)
            continue;
        faults++;
        /* the paper decides "x is in A1out" before reclaimfor(x), which may
         * push A1out's tail (x itself) out */
        int ghost = st[x] == A1OUT;
        if (ghost)
            l_remove(&l, x), st[x] = NONE, nout--;
        if (nin + nam == frames) { /* reclaimfor(x) */
            if (nin > kin || nam == 0) {
                uint32_t y = l_tail(&l, in);
                l_remove(&l, y), nin--;
                l_push_head(&l, out, y), st[y] = A1OUT, nout++;
                if (nout > kout) {
                    uint32_t z = l_tail(&l, out);
                    l_remove(&l, z), st[z] = NONE, nout--;
                }
            } else {
                uint32_t y = l_tail(&l, am);
                l_remove(&l, y), st[y] = NONE, nam--;
            }
        }
        if (ghost)
            l_push_head(&l, am, x), st[x] = AM, nam++;
        else
            l_push_head(&l, in, x), st[x] = A1IN, nin++;
    }
    links_free(&l);
    free(st);
    return faults;
}

/* ARC (Megiddo & Modha, Fig. 4): T1/T2 resident (recency/frequency),
 * B1/B2 their ghosts, p the adaptive target size of T1. */
int64_t sim_arc(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    enum { NONE, T1, T2, B1, B2 };
    const uint32_t L[5] = {0, m, m + 1, m + 2, m + 3};
    size_t cnt[5] = {0};
    double c = (double)frames, p = 0;
    uint8_t *st = calloc(m, 1);
    struct links l;
    int64_t faults = 0;

    if (!st || links_init(&l, m, 4)) {
        free(st);
        return SIM_NOMEM;
    }
#define MOVE(x, to) (l_remove(&l, x), cnt[st[x]]--, l_push_head(&l, L[to], x), st[x] = to, cnt[to]++)
#define DROP_LRU(q) do { uint32_t z_ = l_tail(&l, L[q]); l_remove(&l, z_); cnt[q]--; st[z_] = NONE; } while (0)
#define REPLACE(inb2) do { \
        int from_ = cnt[T1] >= 1 && (((inb2) && (double)cnt[T1] == p) || (double)cnt[T1] > p) ? T1 : T2; \
        uint32_t v_ = l_tail(&l, L[from_]); \
        MOVE(v_, from_ == T1 ? B1 : B2); \
    } while (0)
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        switch (st[x]) {
        case T1: case T2: /* case I */
            MOVE(x, T2);
            continue;
        case B1: /* case II */
            faults++;
            p = MIN(c, p + (cnt[B1] >= cnt[B2] ? 1.0 : (double)cnt[B2] / (double)cnt[B1]));
            REPLACE(0);
            MOVE(x, T2);
            continue;
        case B2: /* case III */
            faults++;
            p = MAX(0.0, p - (cnt[B2] >= cnt[B1] ? 1.0 : (double)cnt[B1] / (double)cnt[B2]));
            REPLACE(1);
            MOVE(x, T2);
            continue;
        }
        faults++; /* case IV */
        if (cnt[T1] + cnt[B1] == frames) {
            if (cnt[T1] < frames) {
                DROP_LRU(B1);
                REPLACE(0);
            } else
                DROP_LRU(T1);
        } else {
            size_t tot = cnt[T1] + cnt[T2] + cnt[B1] + cnt[B2];
            if (tot >= frames) {
                if (tot == 2 * frames)
                    DROP_LRU(B2);
                REPLACE(0);
            }
        }
        l_push_head(&l, L[T1], x), st[x] = T1, cnt[T1]++;
    }
#undef MOVE
#undef DROP_LRU
#undef REPLACE
    links_free(&l);
    free(st);
    return faults;
}

/* LIRS (Jiang & Zhang, section 4.3): stack S in recency order holds LIR
 * pages, resident HIR pages and non-resident HIR pages; list Q holds the
 * resident HIR pages (the eviction order).  Llirs = frames - Lhirs with
 * Lhirs = 1 % of the frames (at least 1).  The bottom of S is always an
 * LIR page (stack pruning). */
enum { LIRS_INS = 1, LIRS_RES = 2, LIRS_LIR = 4 };

static void lirs_prune(struct links *s, uint32_t S, uint8_t *f)
{
    while (!l_empty(s, S) && !(f[l_tail(s, S)] & LIRS_LIR)) {
        uint32_t y = l_tail(s, S);
        l_remove(s, y);
        f[y] &= (uint8_t)~LIRS_INS;
    }
}

/* The bottom LIR page of S becomes a resident HIR page at the end of Q. */
static void lirs_demote(struct links *s, uint32_t S, struct links *q, uint32_t Q, uint8_t *f)
{
    lirs_prune(s, S, f); /* before any LIR page existed the bottom may be HIR */
    uint32_t y = l_tail(s, S);
    if (y == S)
        return;
    l_remove(s, y);
    f[y] = LIRS_RES;
    l_push_head(q, Q, y);
    lirs_prune(s, S, f);
}

int64_t sim_lirs(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    size_t lhirs = MAX(1, frames / 100), llirs = frames - lhirs, nlir = 0, used = 0;
    uint8_t *f = calloc(m, 1);
    struct links s = {0}, q = {0};
    const uint32_t S = m, Q = m;
    int64_t faults = 0;

    if (!f || links_init(&s, m, 1) || links_init(&q, m, 1)) {
        free(f);
        links_free(&s), links_free(&q);
        return SIM_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        uint8_t fx = f[x];
        if (fx & LIRS_LIR) { /* an LIR hit */
            int bottom = l_tail(&s, S) == x;
            l_to_head(&s, S, x);
            if (bottom)
                lirs_prune(&s, S, f);
            continue;
        }
        if (fx & LIRS_RES) { /* a resident HIR hit */
            if (fx & LIRS_INS) {
                l_to_head(&s, S, x);
                l_remove(&q, x);
                f[x] = LIRS_INS | LIRS_RES | LIRS_LIR;
                lirs_demote(&s, S, &q, Q, f);
            } else {
                l_push_head(&s, S, x);
                f[x] |= LIRS_INS;
                l_to_head(&q, Q, x);
            }
            continue;
        }
        faults++;
        if (nlir < llirs) { /* filling up: the first pages are LIR */
            if (fx & LIRS_INS)
                l_to_head(&s, S, x);
            else
                l_push_head(&s, S, x);
            f[x] = LIRS_INS | LIRS_RES | LIRS_LIR;
            nlir++, used++;
            continue;
        }
        if (used == frames) { /* evict the front of Q */
            uint32_t v = l_tail(&q, Q);
            l_remove(&q, v);
            f[v] &= (uint8_t)~LIRS_RES;
            used--;
        }
        used++;
        if (fx & LIRS_INS) { /* a non-resident HIR page still in S */
            l_to_head(&s, S, x);
            f[x] = LIRS_INS | LIRS_RES | LIRS_LIR;
            lirs_demote(&s, S, &q, Q, f);
        } else {
            l_push_head(&s, S, x);
            f[x] = LIRS_INS | LIRS_RES;
            l_push_head(&q, Q, x);
        }
    }
    links_free(&s), links_free(&q);
    free(f);
    return faults;
}

/* S3-FIFO as libCacheSim's S3FIFO.c has it: S (10 % of the frames, at
 * least 1) and M FIFOs, a ghost FIFO G of 90 % of the frames; freq is a
 * 2-bit counter.  A miss found in G goes to M, else to S (or M before the
 * first eviction when S is full).  Eviction takes from M when M is over
 * its size or S is empty, else from S: S's tail moves to M (freq 0) when
 * its freq >= 2, else goes to G; M's tail is reinserted with freq - 1
 * while freq >= 1. */
int64_t sim_s3fifo(const uint32_t *ids, size_t n, uint32_t m, size_t frames)
{
    enum { NONE, SQ, MQ, GQ };
    const uint32_t Ls = m, Lm = m + 1, Lg = m + 2;
    size_t scap = MAX(1, (size_t)(0.1 * (double)frames)), mcap = frames - MIN(scap, frames);
    size_t gcap = (size_t)(0.9 * (double)frames), ns = 0, nm = 0, ng = 0;
    int evicted_any = 0;
    uint8_t *st = calloc(m, 1), *freq = calloc(m, 1);
    struct links l;
    int64_t faults = 0;

    if (!st || !freq || links_init(&l, m, 3)) {
        free(st), free(freq);
        return SIM_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ids[i];
        if (st[x] == SQ || st[x] == MQ) {
            if (freq[x] < 3)
                freq[x]++;
            continue;
        }
        faults++;
        int ghost = st[x] == GQ;
        if (ghost)
            l_remove(&l, x), st[x] = NONE, ng--;
        while (ns + nm >= frames) {
            evicted_any = 1;
            if (nm > mcap || ns == 0) {
                for (;;) {
                    uint32_t t = l_tail(&l, Lm);
                    if (freq[t] >= 1) {
                        freq[t]--;
                        l_to_head(&l, Lm, t);
                        continue;
                    }
                    l_remove(&l, t), st[t] = NONE, nm--;
                    break;
                }
            } else {
                while (ns > 0) {
                    uint32_t t = l_tail(&l, Ls);
                    l_remove(&l, t), ns--;
                    if (freq[t] >= 2) {
                        l_push_head(&l, Lm, t), st[t] = MQ, nm++, freq[t] = 0;
                        continue;
                    }
                    st[t] = NONE;
                    if (gcap) {
                        if (ng == gcap) {
                            uint32_t z = l_tail(&l, Lg);
                            l_remove(&l, z), st[z] = NONE, ng--;
                        }
                        l_push_head(&l, Lg, t), st[t] = GQ, ng++;
                    }
                    break;
                }
            }
        }
        freq[x] = 0;
        if (ghost || (!evicted_any && ns >= scap))
            l_push_head(&l, Lm, x), st[x] = MQ, nm++;
        else
            l_push_head(&l, Ls, x), st[x] = SQ, ns++;
    }
    links_free(&l);
    free(st), free(freq);
    return faults;
}
