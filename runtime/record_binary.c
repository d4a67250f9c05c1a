/* The seed's binary record layout (damon_recfmt_ver, version 2):
 *   "damon_recfmt_ver" int32 version
 *   then per aggregation: int64 sec, int64 nsec, uint32 nr_targets,
 *     per target: uint64 target id (int32 in version 1), uint32 nr_regions,
 *       per region: uint64 start, uint64 end, uint32 nr_accesses
 * (native byte order, as the kernel and damo write it).  Only end times are
 * stored, so a single snapshot gets a fake second one, as damo does. */
#include "vmlab/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* more targets than this in one snapshot is corruption, not a record */
#define MAX_TARGETS 65536

#define MAGIC "damon_recfmt_ver"

static int put(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n ? 0 : -1; }

int vmlab_rec_write_binary(FILE *f, const struct vmlab_records *r)
{
    int32_t ver = 2;
    size_t nsnap = 0;

    if (put(f, MAGIC, 16) || put(f, &ver, 4))
        return -1;
    for (size_t t = 0; t < r->n; t++)
        if (r->targets[t].n > nsnap)
            nsnap = r->targets[t].n;
    for (size_t k = 0; k < nsnap + (nsnap == 1); k++) {
        int fake = k == nsnap;
        uint64_t end = 0;
        uint32_t ntargets = 0;
        for (size_t t = 0; t < r->n; t++) {
            const struct vmlab_rec_target *tg = &r->targets[t];
            if (fake && tg->n) {
                const struct vmlab_rec_snapshot *s = &tg->snapshots[0];
                end = s->end_ns + (s->end_ns - s->start_ns);
                ntargets++;
            } else if (k < tg->n) {
                end = tg->snapshots[k].end_ns;
                ntargets++;
            }
        }
        int64_t sec = (int64_t)(end / 1000000000ULL), nsec = (int64_t)(end % 1000000000ULL);
        if (put(f, &sec, 8) || put(f, &nsec, 8) || put(f, &ntargets, 4))
            return -1;
        for (size_t t = 0; t < r->n; t++) {
            const struct vmlab_rec_target *tg = &r->targets[t];
            uint64_t id = tg->target_id;
            if (!(fake ? tg->n : k < tg->n))
                continue;
            if (put(f, &id, 8))
                return -1;
            if (fake) {
                uint32_t one = 1, minus = UINT32_MAX;
                uint64_t zero = 0;
                if (put(f, &one, 4) || put(f, &zero, 8) || put(f, &zero, 8) || put(f, &minus, 4))
                    return -1;
                continue;
            }
            const struct vmlab_rec_snapshot *s = &tg->snapshots[k];
            uint32_t nr = (uint32_t)s->n;
            if (put(f, &nr, 4))
                return -1;
            for (size_t i = 0; i < s->n; i++) {
                uint64_t a = s->regions[i].start, b = s->regions[i].end;
                uint32_t acc = s->regions[i].nr_accesses;
                if (put(f, &a, 8) || put(f, &b, 8) || put(f, &acc, 4))
                    return -1;
            }
        }
    }
    return 0;
}

struct reader {
    const unsigned char *p;
    size_t len, off;
    char *err;
    size_t errlen;
};

static int take(struct reader *rd, void *out, size_t n, const char *what)
{
    if (rd->len - rd->off < n) {
        snprintf(rd->err, rd->errlen, "truncated record file: %s at offset %zu needs %zu bytes, %zu left",
                 what, rd->off, n, rd->len - rd->off);
        return -1;
    }
    memcpy(out, rd->p + rd->off, n);
    rd->off += n;
    return 0;
}

int vmlab_rec_read_binary(const unsigned char *buf, size_t len, struct vmlab_records *r,
                          char *err, size_t errlen)
{
    struct reader rd = {buf, len, 0, err, errlen};
    int32_t ver = 0;
    uint64_t prev_end = 0;

    if (len >= 16 && !memcmp(buf, MAGIC, 16)) {
        rd.off = 16;
        if (take(&rd, &ver, 4, "the format version"))
            return -1;
        if (ver != 1 && ver != 2) {
            snprintf(err, errlen, "unknown record format version %d at offset 16", ver);
            return -1;
        }
    } else {
        ver = 0;                         /* the earliest layout: no header */
    }
    while (rd.off < rd.len) {
        int64_t sec, nsec;
        uint32_t ntargets;
        size_t at = rd.off;
        if (take(&rd, &sec, 8, "a snapshot time") || take(&rd, &nsec, 8, "a snapshot time") ||
            take(&rd, &ntargets, 4, "the number of targets"))
            return -1;
        if (sec < 0 || nsec < 0 || nsec >= 1000000000) {
            snprintf(err, errlen, "corrupt record file: bad time %lld.%09lld at offset %zu",
                     (long long)sec, (long long)nsec, at);
            return -1;
        }
        uint64_t end = (uint64_t)sec * 1000000000ULL + (uint64_t)nsec;
        if (end < prev_end) {
            snprintf(err, errlen, "corrupt record file: snapshot at offset %zu goes back in time", at);
            return -1;
        }
        if (ntargets > MAX_TARGETS) {
            snprintf(err, errlen, "corrupt record file: %u targets at offset %zu", ntargets, at + 16);
            return -1;
        }
        for (uint32_t t = 0; t < ntargets; t++) {
            uint64_t id = 0;
            uint32_t nr;
            struct vmlab_rec_target *tg;
            struct vmlab_region *regs;
            if (ver == 1) {
                int32_t id32;
                if (take(&rd, &id32, 4, "a target id"))
                    return -1;
                id = (uint64_t)(uint32_t)id32;
            } else if (take(&rd, &id, 8, "a target id")) {
                return -1;
            }
            at = rd.off;
            if (take(&rd, &nr, 4, "the number of regions"))
                return -1;
            if ((uint64_t)nr * 20 > rd.len - rd.off) {
                snprintf(err, errlen, "truncated or corrupt record file: %u regions at offset %zu "
                         "need %llu bytes, %zu left", nr, at, (unsigned long long)nr * 20, rd.len - rd.off);
                return -1;
            }
            regs = calloc((size_t)nr + 1, sizeof *regs);
            if (!regs) {
                snprintf(err, errlen, "not enough memory");
                return -1;
            }
            for (uint32_t i = 0; i < nr; i++) {
                size_t roff = rd.off;
                take(&rd, &regs[i].start, 8, "a region");
                take(&rd, &regs[i].end, 8, "a region");
                take(&rd, &regs[i].nr_accesses, 4, "a region");
                regs[i].age = VMLAB_REC_AGE_UNKNOWN;      /* the format has no ages */
                if (regs[i].end < regs[i].start) {
                    snprintf(err, errlen, "corrupt record file: region %u at offset %zu ends (0x%llx) "
                             "before it starts (0x%llx)", i, roff, (unsigned long long)regs[i].end,
                             (unsigned long long)regs[i].start);
                    free(regs);
                    return -1;
                }
            }
            /* the fake snapshot that carries the last end time */
            if (nr == 1 && regs[0].start == 0 && regs[0].end == 0 && regs[0].nr_accesses == UINT32_MAX) {
                struct vmlab_rec_target *only = vmlab_records_target(r, id);
                free(regs);
                if (only && only->n == 1 && end >= only->snapshots[0].end_ns) {
                    uint64_t e0 = only->snapshots[0].end_ns;
                    only->snapshots[0].start_ns = e0 - (end - e0) <= e0 ? e0 - (end - e0) : 0;
                }
                continue;
            }
            tg = vmlab_records_target(r, id);
            uint64_t start = tg && tg->n ? tg->snapshots[tg->n - 1].end_ns : 0;
            if (!tg || vmlab_records_add(tg, start, end, regs, nr)) {
                free(regs);
                snprintf(err, errlen, "not enough memory");
                return -1;
            }
            free(regs);
        }
        prev_end = end;
    }
    /* The first snapshot's start, from the average snapshot length. */
    for (size_t t = 0; t < r->n; t++) {
        struct vmlab_rec_target *tg = &r->targets[t];
        if (tg->n >= 2) {
            /* damo divides in floating point: round to the nearest ns */
            uint64_t span = (tg->snapshots[tg->n - 1].end_ns - tg->snapshots[0].end_ns + (tg->n - 1) / 2) /
                            (tg->n - 1);
            tg->snapshots[0].start_ns = tg->snapshots[0].end_ns - span;
        }
    }
    return 0;
}
