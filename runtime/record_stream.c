/* Record files written as the monitor runs, one aggregation at a time:
 * damo's JSON (plain or zlib) and the seed's binary layout.
 *
 * The file is created and its header written (and flushed) when the
 * stream opens, so that a bad path or a full device fails there with its
 * errno.  JSON is one document: the first target's snapshots go straight
 * into it; the others' wait in anonymous spool files until the stream is
 * closed, when each target's record is finished with the intervals as
 * they ran (JSON keys have no order, so "intervals" comes last).  The
 * binary layout streams as it is.  Writes use the file descriptor with
 * our own buffer, so that a forked child that drops the stream never
 * writes its parent's buffered bytes. */
#include "vmlab/record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAGIC "damon_recfmt_ver"
enum { BUF = 1 << 16 };

struct sink {
    int fd;
    int zip;                  /* deflate what is written */
    z_stream z;
    unsigned char buf[BUF];   /* what waits for write() */
    size_t n;
    int err;                  /* the first errno */
};

struct vmlab_rec_stream {
    enum vmlab_rec_format fmt;
    struct sink out;
    FILE **spool;             /* JSON: targets 1.. (plain text) */
    size_t nr_targets;
    uint64_t count;           /* snapshots written */
    uint64_t *tcount;         /* JSON: snapshots written per target */
    uint64_t first_start_ns, first_end_ns;
    pid_t pid;                /* the process that writes it */
};

static void raw_flush(struct sink *s)
{
    size_t off = 0;
    while (off < s->n && !s->err) {
        ssize_t w = write(s->fd, s->buf + off, s->n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            s->err = w < 0 ? errno : EIO;
        else
            off += (size_t)w;
    }
    s->n = 0;
}

static void raw_put(struct sink *s, const void *p, size_t len)
{
    const unsigned char *c = p;
    while (len && !s->err) {
        size_t k = BUF - s->n < len ? BUF - s->n : len;
        memcpy(s->buf + s->n, c, k);
        s->n += k;
        c += k;
        len -= k;
        if (s->n == BUF)
            raw_flush(s);
    }
}

/* Deflate p (flush: Z_NO_FLUSH, Z_SYNC_FLUSH or Z_FINISH) into the buffer. */
static void zip_put(struct sink *s, const void *p, size_t len, int flush)
{
    unsigned char out[BUF / 4];
    int zr;

    s->z.next_in = (unsigned char *)p;
    s->z.avail_in = (uInt)len;
    do {
        s->z.next_out = out;
        s->z.avail_out = sizeof out;
        zr = deflate(&s->z, flush);
        if (zr == Z_STREAM_ERROR) {
            s->err = EIO;
            return;
        }
        raw_put(s, out, sizeof out - s->z.avail_out);
    } while (s->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
}

static void put(struct sink *s, const void *p, size_t len)
{
    if (s->zip)
        zip_put(s, p, len, Z_NO_FLUSH);
    else
        raw_put(s, p, len);
}

static void puts_(struct sink *s, const char *str) { put(s, str, strlen(str)); }

/* Push everything written so far to the file (the header at open, each
 * aggregation after). */
static void sync_out(struct sink *s)
{
    if (s->zip)
        zip_put(s, "", 0, Z_SYNC_FLUSH);
    raw_flush(s);
}

static void json_target_head(FILE *f, struct sink *s, uint64_t id)
{
    char buf[256];
    snprintf(buf, sizeof buf,
             "    {\n        \"kdamond_idx\": null,\n        \"context_idx\": null,\n"
             "        \"scheme_idx\": null,\n        \"target_id\": %llu,\n        \"snapshots\": [",
             (unsigned long long)id);
    if (f)
        fputs(buf, f);
    else
        puts_(s, buf);
}

struct vmlab_rec_stream *vmlab_rec_stream_open(const char *path, enum vmlab_rec_format fmt,
                                               size_t nr_targets, int *err, char *why, size_t len)
{
    struct vmlab_rec_stream *st = calloc(1, sizeof *st);
    struct stat sb;

    if (!st) {
        *err = -ENOMEM;
        snprintf(why, len, "record '%s': not enough memory", path);
        return NULL;
    }
    st->fmt = fmt;
    st->nr_targets = nr_targets;
    st->pid = getpid();
    /* O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of hanging */
    st->out.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0644);
    if (st->out.fd < 0) {
        *err = -errno;
        snprintf(why, len, "record '%s': open: %s", path, strerror(errno));
        free(st);
        return NULL;
    }
    /* a record is a file (or a device such as /dev/null), not a pipe */
    fcntl(st->out.fd, F_SETFL, fcntl(st->out.fd, F_GETFL) & ~O_NONBLOCK);
    if (fstat(st->out.fd, &sb) == 0 && S_ISFIFO(sb.st_mode)) {
        *err = -EINVAL;
        snprintf(why, len, "record '%s': a FIFO, not a file", path);
        close(st->out.fd);
        free(st);
        return NULL;
    }
    if (fmt == VMLAB_REC_JSON_COMPRESSED) {
        st->out.zip = 1;
        if (deflateInit(&st->out.z, Z_DEFAULT_COMPRESSION) != Z_OK)
            st->out.err = ENOMEM;
    }
    if (fmt == VMLAB_REC_BINARY) {
        int32_t ver = 2;
        put(&st->out, MAGIC, 16);
        put(&st->out, &ver, 4);
    } else {
        st->spool = calloc(nr_targets + 1, sizeof *st->spool);
        if (!st->spool)
            st->out.err = ENOMEM;
        for (size_t t = 1; st->spool && t < nr_targets; t++)
            if (!(st->spool[t] = tmpfile()))
                st->out.err = errno;
        puts_(&st->out, "[\n");
        json_target_head(NULL, &st->out, 1);
        for (size_t t = 1; st->spool && t < nr_targets; t++)
            if (st->spool[t])
                json_target_head(st->spool[t], NULL, t + 1);
    }
    sync_out(&st->out);
    if (st->out.err) {
        *err = -st->out.err;
        snprintf(why, len, "record '%s': write: %s", path, strerror(st->out.err));
        vmlab_rec_stream_drop(st);
        return NULL;
    }
    *err = 0;
    return st;
}

/* One target's snapshot as damo's JSON object. */
static void json_snapshot(struct vmlab_rec_stream *st, size_t t, uint64_t start_ns, uint64_t end_ns,
                          const struct vmlab_rec_intervals *iv, const struct vmlab_region *v, size_t n)
{
    FILE *f = t ? st->spool[t] : NULL;
    char buf[512];
    uint64_t before = st->tcount ? st->tcount[t]++ : st->count;
    uint64_t total = 0;

#define OUT(str) (f ? (void)fputs((str), f) : puts_(&st->out, (str)))
    for (size_t i = 0; i < n; i++)
        total += v[i].end - v[i].start;
    snprintf(buf, sizeof buf,
             "%s\n            {\n                \"start_time\": \"%llu\",\n"
             "                \"end_time\": \"%llu\",\n                \"total_bytes\": \"%llu\",\n"
             "                \"regions\": [",
             before ? "," : "", (unsigned long long)start_ns, (unsigned long long)end_ns,
             (unsigned long long)total);
    OUT(buf);
    for (size_t i = 0; i < n; i++) {
        uint64_t pct = iv->aggr_us ? (uint64_t)v[i].nr_accesses * 100 * iv->sample_us / iv->aggr_us : 0;
        snprintf(buf, sizeof buf,
                 "%s\n                    {\"start\": \"%llu\", \"end\": \"%llu\", "
                 "\"nr_accesses\": {\"samples\": %u, \"percent\": %llu}, "
                 "\"age\": {\"usec\": \"%llu\", \"aggr_intervals\": \"%u\"}}",
                 i ? "," : "", (unsigned long long)v[i].start, (unsigned long long)v[i].end,
                 v[i].nr_accesses, (unsigned long long)pct,
                 (unsigned long long)v[i].age * iv->aggr_us, v[i].age);
        OUT(buf);
    }
    OUT("\n                ]\n            }");
#undef OUT
}

static void binary_snapshot(struct vmlab_rec_stream *st, uint64_t end_ns, size_t nr_targets,
                            const uint64_t *ids, const struct vmlab_region *const *regions,
                            const size_t *n)
{
    int64_t sec = (int64_t)(end_ns / 1000000000ULL), nsec = (int64_t)(end_ns % 1000000000ULL);
    uint32_t nt = (uint32_t)nr_targets;

    put(&st->out, &sec, 8);
    put(&st->out, &nsec, 8);
    put(&st->out, &nt, 4);
    for (size_t t = 0; t < nr_targets; t++) {
        uint64_t id = ids[t];
        uint32_t nr = (uint32_t)n[t];
        put(&st->out, &id, 8);
        put(&st->out, &nr, 4);
        for (size_t i = 0; i < n[t]; i++) {
            put(&st->out, &regions[t][i].start, 8);
            put(&st->out, &regions[t][i].end, 8);
            put(&st->out, &regions[t][i].nr_accesses, 4);
        }
    }
}

int vmlab_rec_stream_add(struct vmlab_rec_stream *st, uint64_t start_ns, uint64_t end_ns,
                         const struct vmlab_rec_intervals *iv, size_t nr_targets,
                         const struct vmlab_region *const *regions, const size_t *n)
{
    if (nr_targets > st->nr_targets)
        nr_targets = st->nr_targets;
    if (st->fmt == VMLAB_REC_BINARY) {
        uint64_t ids[nr_targets + 1];
        for (size_t t = 0; t < nr_targets; t++)
            ids[t] = t + 1;
        binary_snapshot(st, end_ns, nr_targets, ids, regions, n);
    } else {
        for (size_t t = 0; t < nr_targets; t++)
            json_snapshot(st, t, start_ns, end_ns, iv, regions[t], n[t]);
    }
    for (size_t t = 1; st->spool && t < st->nr_targets; t++)
        if (st->spool[t] && fflush(st->spool[t]))   /* nothing buffered for a fork to copy */
            st->out.err = st->out.err ? st->out.err : errno;
    if (!st->count++) {
        st->first_start_ns = start_ns;
        st->first_end_ns = end_ns;
    }
    sync_out(&st->out);
    return st->out.err ? -st->out.err : 0;
}

uint64_t vmlab_rec_stream_count(const struct vmlab_rec_stream *st) { return st->count; }

static void json_target_tail(struct sink *s, const struct vmlab_rec_intervals *iv, int last)
{
    char buf[320];
    snprintf(buf, sizeof buf,
             "\n        ],\n        \"intervals\": {\n            \"sample_us\": \"%llu\",\n"
             "            \"aggr_us\": \"%llu\",\n            \"ops_update_us\": \"%llu\"\n"
             "        }\n    }%s\n",
             (unsigned long long)iv->sample_us, (unsigned long long)iv->aggr_us,
             (unsigned long long)iv->update_us, last ? "" : ",");
    puts_(s, buf);
}

int vmlab_rec_stream_close(struct vmlab_rec_stream *st, const struct vmlab_rec_intervals *iv,
                           char *why, size_t len)
{
    int e;

    if (!st)
        return 0;
    if (st->pid != getpid()) {       /* a forked child: the file is its parent's */
        vmlab_rec_stream_drop(st);
        return 0;
    }
    if (st->fmt == VMLAB_REC_BINARY) {
        if (st->count == 1) {
            /* damo reads a lone snapshot's length from a second one */
            struct vmlab_region fake = {0, 0, 0, UINT32_MAX, 0, 0};
            const struct vmlab_region *rv[st->nr_targets + 1];
            size_t n[st->nr_targets + 1];
            uint64_t ids[st->nr_targets + 1];
            for (size_t t = 0; t < st->nr_targets; t++) {
                rv[t] = &fake;
                n[t] = 1;
                ids[t] = t + 1;
            }
            binary_snapshot(st, st->first_end_ns + (st->first_end_ns - st->first_start_ns),
                            st->nr_targets, ids, rv, n);
        }
    } else {
        json_target_tail(&st->out, iv, st->nr_targets <= 1);
        for (size_t t = 1; st->spool && t < st->nr_targets; t++) {
            char buf[BUF / 4];
            size_t k;
            if (!st->spool[t] || fflush(st->spool[t]) || fseek(st->spool[t], 0, SEEK_SET)) {
                st->out.err = st->out.err ? st->out.err : EIO;
                break;
            }
            while ((k = fread(buf, 1, sizeof buf, st->spool[t])) > 0)
                put(&st->out, buf, k);
            if (ferror(st->spool[t]))
                st->out.err = st->out.err ? st->out.err : EIO;
            json_target_tail(&st->out, iv, t + 1 == st->nr_targets);
        }
        puts_(&st->out, "]\n");
    }
    if (st->out.zip && !st->out.err)
        zip_put(&st->out, "", 0, Z_FINISH);
    raw_flush(&st->out);
    if (close(st->out.fd) < 0 && !st->out.err)
        st->out.err = errno;
    st->out.fd = -1;
    e = st->out.err;
    if (e)
        snprintf(why, len, "finishing the record: %s", strerror(e));
    vmlab_rec_stream_drop(st);
    return -e;
}

void vmlab_rec_stream_drop(struct vmlab_rec_stream *st)
{
    if (!st)
        return;
    if (st->out.fd >= 0)
        close(st->out.fd);
    if (st->out.zip)
        deflateEnd(&st->out.z);
    for (size_t t = 1; st->spool && t < st->nr_targets; t++)
        if (st->spool[t])
            fclose(st->spool[t]);
    free(st->spool);
    free(st->tcount);
    free(st);
}

int vmlab_rec_stream_add_targets(struct vmlab_rec_stream *st, size_t nr_targets)
{
    FILE **spool;
    uint64_t *tc;

    if (nr_targets <= st->nr_targets)
        return 0;
    if (st->fmt != VMLAB_REC_BINARY) {
        if (!(spool = realloc(st->spool, (nr_targets + 1) * sizeof *spool)))
            return -ENOMEM;
        st->spool = spool;
        if (!(tc = realloc(st->tcount, (nr_targets + 1) * sizeof *tc)))
            return -ENOMEM;
        if (!st->tcount)   /* from now on, counted per target */
            for (size_t t = 0; t < st->nr_targets; t++)
                tc[t] = st->count;
        st->tcount = tc;
        for (size_t t = st->nr_targets; t < nr_targets; t++) {
            tc[t] = 0;
            if (!(spool[t] = tmpfile()))
                return -errno;
            json_target_head(spool[t], NULL, t + 1);
            st->nr_targets = t + 1;
        }
    }
    st->nr_targets = nr_targets;
    return 0;
}
