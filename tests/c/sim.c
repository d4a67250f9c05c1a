/* The simulator and the trace file through their C API alone. */
#include "tap.h"
#include "vmlab/sim.h"
#include "vmlab/trace.h"

#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    static const uint64_t anomaly[] = {1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5};
    uint32_t ids[12];
    int64_t m = vmlab_sim_dense(anomaly, 12, ids, NULL);
    is_int(m, 5, "five distinct pages");
    is_int(vmlab_sim_run(VMLAB_SIM_FIFO, ids, 12, (uint32_t)m, 3), 9, "FIFO, 3 frames: 9 faults");
    is_int(vmlab_sim_run(VMLAB_SIM_FIFO, ids, 12, (uint32_t)m, 4), 10, "FIFO, 4 frames: 10 faults");
    is_int(vmlab_sim_run(VMLAB_SIM_OPT, ids, 12, (uint32_t)m, 3), 7, "OPT, 3 frames: 7 faults");
    is_int(vmlab_sim_run(VMLAB_SIM_LRU, ids, 12, (uint32_t)m, 0), -22, "no frames: -EINVAL");
    is_int(vmlab_sim_policy_find("s3fifo"), VMLAB_SIM_S3FIFO, "libCacheSim's spelling");
    is_int(vmlab_sim_policy_find("nope"), -1, "unknown policy");
    for (int p = 0; p < VMLAB_SIM_NPOLICIES; p++)
        ok(vmlab_sim_policy_source(p) && vmlab_sim_policy_source(p)[0], "%s has a source",
           vmlab_sim_policy_name(p));

    /* the one-pass LRU curve equals LRU runs, on a random trace */
    enum { N = 20000 };
    uint64_t *pages = malloc(N * sizeof *pages);
    uint32_t *rid = malloc(N * sizeof *rid);
    uint64_t x = 12345;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        pages[i] = (i % 3) ? x % 64 : x % 3000;
    }
    m = vmlab_sim_dense(pages, N, rid, NULL);
    struct vmlab_mrc c;
    ok(vmlab_mrc_lru(rid, N, (uint32_t)m, &c) == 0, "LRU curve");
    int same = 1;
    for (size_t f = 1; f < (size_t)m; f += 97)
        same &= (int64_t)vmlab_mrc_misses(&c, f) == vmlab_sim_run(VMLAB_SIM_LRU, rid, N, (uint32_t)m, f);
    ok(same, "curve misses equal LRU runs at every 97th size");

    /* dense ids and the curve in one pass: the same ids and curve */
    uint32_t *rid2 = malloc(N * sizeof *rid2);
    struct vmlab_mrc c2;
    is_int(vmlab_mrc_lru_pages(pages, N, rid2, &c2), m, "one pass: as many pages");
    same = c2.cold == c.cold && c2.maxd == c.maxd;
    for (int i = 0; i < N; i++)
        same &= rid2[i] == rid[i];
    for (size_t d = 1; same && d <= c.maxd; d++)
        same &= c2.hist[d] == c.hist[d];
    ok(same, "one pass: the ids and histogram of vmlab_sim_dense + vmlab_mrc_lru");
    vmlab_mrc_free(&c2);
    vmlab_mrc_free(&c);
    free(rid2);

    /* long traces: few pages (the times are renumbered several times) and
     * many (the time bitmap grows), against LRU runs; with AVX2 where the
     * machine has it, then the portable loops */
    for (int pass = 0; pass < 4; pass++) {
        if (pass == 2)
            setenv("VMLAB_NO_AVX2", "1", 1);
        size_t L = pass & 1 ? 300000 : 700000, span = pass & 1 ? 200000 : 3000;
        uint64_t *lp = malloc(L * sizeof *lp);
        uint32_t *lid = malloc(L * sizeof *lid);
        for (size_t i = 0; i < L; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            lp[i] = (i & 1) ? x % 40 : (x >> 8) % span * 7919;
        }
        int64_t lm = vmlab_mrc_lru_pages(lp, L, lid, &c);
        ok(lm > 0, "%zu references over %lld pages, one pass", L, (long long)lm);
        const size_t fr[] = {1, 2, 10, 39, 40, 41, 100, 1000, 2999, 3000, 20000, 150000};
        same = 1;
        for (size_t k = 0; k < sizeof fr / sizeof *fr; k++)
            if (fr[k] <= (size_t)lm)
                same &= (int64_t)vmlab_mrc_misses(&c, fr[k]) == vmlab_sim_run(VMLAB_SIM_LRU, lid, L, (uint32_t)lm, fr[k]);
        ok(same, "%s%s: curve misses equal LRU runs", pass & 1 ? "growing" : "renumbering", pass > 1 ? " (portable)" : "");
        vmlab_mrc_free(&c);
        ok(vmlab_mrc_lru(lid, L, (uint32_t)lm, &c) == 0, "the two-pass curve");
        same = 1;
        for (size_t k = 0; k < sizeof fr / sizeof *fr; k++)
            if (fr[k] <= (size_t)lm)
                same &= (int64_t)vmlab_mrc_misses(&c, fr[k]) == vmlab_sim_run(VMLAB_SIM_LRU, lid, L, (uint32_t)lm, fr[k]);
        ok(same, "%s, two passes%s: curve misses equal LRU runs", pass & 1 ? "growing" : "renumbering",
           pass > 1 ? " (portable)" : "");
        vmlab_mrc_free(&c);
        free(lp), free(lid);
    }
    unsetenv("VMLAB_NO_AVX2");
    is_int(vmlab_mrc_lru_pages(pages, 0, NULL, &c), 0, "no references: no pages");
    ok(c.cold == 0 && c.refs == 0, "and an empty curve");
    vmlab_mrc_free(&c);

    /* a file round trip */
    char path[] = "/tmp/vmlab-sim-XXXXXX", err[256] = "";
    close(mkstemp(path));
    struct vmlab_trace_header h = {.page_size = 4096, .time_unit_ns = 1000};
    struct vmlab_trace_writer *w = vmlab_trace_create(path, VMLAB_TRACE_BINARY, &h, err, sizeof err);
    ok(w != NULL, "writer %s", err);
    for (int i = 0; i < N; i++) {
        struct vmlab_trace_event e = {.time = (uint64_t)i * 3, .page = pages[i], .kind = (uint8_t)(i & 1)};
        vmlab_trace_write(w, &e);
    }
    is_int(vmlab_trace_finish(w, err, sizeof err), 0, "finished");
    struct vmlab_trace_reader *r = vmlab_trace_open(path, VMLAB_TRACE_AUTO, err, sizeof err);
    struct vmlab_trace_event e;
    int k = 0, match = 1;
    while (r && vmlab_trace_next(r, &e) == 1) {
        match &= e.page == pages[k] && e.time == (uint64_t)k * 3 && e.kind == (k & 1);
        k++;
    }
    is_int(k, N, "every event read back");
    ok(match, "pages, times and kinds as written");
    vmlab_trace_close(r);
    unlink(path);
    free(pages), free(rid);
    return tap_done();
}
