/* The foreign trace formats, read and written one event at a time:
 *  text:  `time R|W page` per line (time in the trace's unit), or just
 *         `page`; '#' starts a comment; pages decimal or 0x hex
 *  pages: one page per line (what most textbook simulators read)
 *  csv:   libCacheSim's csv: a header naming the columns (timestamp,
 *         obj_id, obj_size, op); cachesim reads ours with
 *         -t "time-col=1,obj-id-col=2,obj-size-col=3,delimiter=,,has-header=true"
 *  oracleGeneral: libCacheSim's binary records, 24 bytes little-endian:
 *         u32 time (seconds), u64 obj_id, u32 obj_size, i64 next access
 *         (the index of the next reference to the object, counted from 1;
 *         -1 when there is none). */
#include "trace_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- writing ---- */

int trace_text_write(struct vmlab_trace_writer *w, const struct vmlab_trace_event *ev)
{
    int r = 0;
    switch (w->fmt) {
    case VMLAB_TRACE_TEXT:
        r = fprintf(w->f, "%llu %c 0x%llx\n", (unsigned long long)ev->time, ev->kind ? 'W' : 'R',
                    (unsigned long long)ev->page);
        break;
    case VMLAB_TRACE_PAGES:
        r = fprintf(w->f, "%llu\n", (unsigned long long)ev->page);
        break;
    case VMLAB_TRACE_CSV:
        r = fprintf(w->f, "%llu,%llu,%u,%s\n", (unsigned long long)ev->time,
                    (unsigned long long)ev->page, w->h.page_size, ev->kind ? "write" : "read");
        break;
    case VMLAB_TRACE_ORACLE: {
        uint64_t rec[2] = {ev->time, ev->page};
        r = fwrite(rec, sizeof rec, 1, w->spool) == 1 ? 0 : -1;
        break;
    }
    }
    w->n++;
    return r < 0 ? -EIO : 0;
}

static void le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* oracleGeneral needs each reference's next use: walk the spool backwards
 * with a page -> index table and write each record in its place. */
int trace_text_finish(struct vmlab_trace_writer *w, char *err, size_t errlen)
{
    if (w->fmt != VMLAB_TRACE_ORACLE)
        return 0;
    size_t cap = 1024, n = w->n;
    while (cap < 2 * n + 2)
        cap <<= 1;
    uint64_t *key = calloc(cap, sizeof *key), *val = malloc(cap * sizeof *val);
    enum { RECS = 8192 }; /* records per chunk */
    uint64_t chunk[2 * RECS];
    unsigned char out[24 * RECS];
    double scale = w->h.time_unit_ns ? (double)w->h.time_unit_ns / 1e9 : 1.0;
    int rc = 0;

    if (!key || !val) {
        rc = -ENOMEM;
        goto done;
    }
    fflush(w->spool);
    for (size_t end = n; end > 0;) {
        size_t beg = end > RECS ? end - RECS : 0, k = end - beg;
        if (fseek(w->spool, (long)(beg * 16), SEEK_SET) || fread(chunk, 16, k, w->spool) != k) {
            rc = -EIO;
            goto done;
        }
        for (size_t j = k; j-- > 0;) {
            uint64_t page = chunk[2 * j + 1], h = (page * 0x9e3779b97f4a7c15ULL) >> 20;
            size_t s = h & (cap - 1);
            while (key[s] && key[s] != page + 1)
                s = (s + 1) & (cap - 1);
            int64_t next = key[s] ? (int64_t)val[s] : -1;
            key[s] = page + 1, val[s] = beg + j + 1;
            unsigned char *o = out + 24 * j;
            le32(o, (uint32_t)((double)chunk[2 * j] * scale));
            le64(o + 4, page);
            le32(o + 12, w->h.page_size);
            le64(o + 16, (uint64_t)next);
        }
        if (fseek(w->f, (long)(beg * 24), SEEK_SET) || fwrite(out, 24, k, w->f) != k) {
            rc = -EIO;
            goto done;
        }
        end = beg;
    }
done:
    if (rc && err)
        snprintf(err, errlen, "writing oracleGeneral: %s", strerror(-rc));
    free(key), free(val);
    fclose(w->spool);
    return rc;
}

/* ---- reading ---- */

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 0);
    return errno || end == s || (*end && *end != '\n' && *end != '\r' && *end != ' ' && *end != '\t' && *end != ',');
}

static int split(char *line, char **f, int max, char delim)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        while (delim == ' ' && (*p == ' ' || *p == '\t'))
            p++;
        if (!*p || *p == '\n' || *p == '\r')
            break;
        f[n++] = p;
        while (*p && *p != '\n' && *p != '\r' && (delim == ' ' ? (*p != ' ' && *p != '\t') : *p != delim))
            p++;
        if (!*p || *p == '\n' || *p == '\r') {
            *p = 0;
            break;
        }
        *p++ = 0;
        while (delim != ' ' && *p == ' ')
            p++;
    }
    return n;
}

int trace_text_open(struct vmlab_trace_reader *r)
{
    r->csv_time = r->csv_id = r->csv_op = -1;
    if (r->fmt != VMLAB_TRACE_CSV)
        return 0;
    /* a header names the columns; without one: timestamp, obj_id */
    long pos = ftell(r->f);
    if (getline(&r->line, &r->linecap, r->f) < 0)
        return 0;
    char *f[16];
    int n = split(r->line, f, 16, ','), named = 0;
    for (int i = 0; i < n; i++) {
        if (!strcasecmp(f[i], "timestamp") || !strcasecmp(f[i], "time") || !strcasecmp(f[i], "clock_time"))
            r->csv_time = i, named = 1;
        else if (!strcasecmp(f[i], "obj_id") || !strcasecmp(f[i], "page") || !strcasecmp(f[i], "id") ||
                 !strcasecmp(f[i], "key"))
            r->csv_id = i, named = 1;
        else if (!strcasecmp(f[i], "op"))
            r->csv_op = i, named = 1;
    }
    if (named) {
        r->lineno = 1;
        if (r->csv_id < 0) {
            snprintf(r->err, sizeof r->err, "csv header names no obj_id (or page) column");
            return -1;
        }
        return 0;
    }
    fseek(r->f, pos, SEEK_SET);
    r->csv_time = n > 1 ? 0 : -1, r->csv_id = n > 1 ? 1 : 0;
    return 0;
}

static int oracle_next(struct vmlab_trace_reader *r, struct vmlab_trace_event *ev)
{
    unsigned char b[24];
    size_t got = fread(b, 1, 24, r->f);
    if (got == 0)
        return 0;
    if (got != 24) {
        snprintf(r->err, sizeof r->err, "oracleGeneral: a partial record after %llu", (unsigned long long)r->n);
        return -1;
    }
    uint64_t t = 0, id = 0;
    for (int i = 3; i >= 0; i--)
        t = t << 8 | b[i];
    for (int i = 11; i >= 4; i--)
        id = id << 8 | b[i];
    memset(ev, 0, sizeof *ev);
    ev->time = t, ev->page = id;
    r->n++;
    return 1;
}

int trace_text_next(struct vmlab_trace_reader *r, struct vmlab_trace_event *ev)
{
    if (r->fmt == VMLAB_TRACE_ORACLE)
        return oracle_next(r, ev);
    for (;;) {
        if (getline(&r->line, &r->linecap, r->f) < 0)
            return 0;
        r->lineno++;
        char *hash = strchr(r->line, '#'), *f[16];
        if (hash)
            *hash = 0;
        int n = split(r->line, f, 16, r->fmt == VMLAB_TRACE_CSV ? ',' : ' ');
        if (n == 0)
            continue;
        memset(ev, 0, sizeof *ev);
        ev->time = r->n;
        if (r->fmt == VMLAB_TRACE_CSV) {
            if (r->csv_id >= n || parse_u64(f[r->csv_id], &ev->page) ||
                (r->csv_time >= 0 && (r->csv_time >= n || parse_u64(f[r->csv_time], &ev->time)))) {
                snprintf(r->err, sizeof r->err, "line %zu: not a csv record with a numeric obj_id", r->lineno);
                return -1;
            }
            if (r->csv_op >= 0 && r->csv_op < n)
                ev->kind = !strcasecmp(f[r->csv_op], "write") || !strcasecmp(f[r->csv_op], "set") ||
                           !strcasecmp(f[r->csv_op], "w");
        } else if (n == 1) {
            if (parse_u64(f[0], &ev->page))
                goto bad;
        } else if (n == 3) {
            if (parse_u64(f[0], &ev->time) || parse_u64(f[2], &ev->page) ||
                (strcmp(f[1], "R") && strcmp(f[1], "W") && strcmp(f[1], "r") && strcmp(f[1], "w")))
                goto bad;
            ev->kind = f[1][0] == 'W' || f[1][0] == 'w';
        } else
            goto bad;
        r->n++;
        return 1;
    bad:
        snprintf(r->err, sizeof r->err, "line %zu: expected `page` or `time R|W page`", r->lineno);
        return -1;
    }
}

