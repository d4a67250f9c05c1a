/* vmlab's binary trace format (docs/TRACE.md) and the format dispatch.
 *
 *   "VMTRACE\0"  u32 version (1)  u32 page_size  u32 time_unit_ns
 *   u32 ntargets, then per target: u64 start, length, inode, offset,
 *   u8 name length, the name bytes
 *   then one zlib stream of events (written at zlib's fastest level: traces
 *   are written while the traced program runs), each:
 *     u8 flags (bit 0 write, bit 1 tid follows, bit 2 target follows),
 *     varint zigzag(time - previous time), varint zigzag(page - previous
 *     page), [varint tid], [varint target]
 * All integers little-endian; varints are LEB128.  A stream cut short (a
 * crash) reads back up to the last whole event, then reports truncation. */
#include "trace_internal.h"
#include "vmlab/units.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char MAGIC[8] = "VMTRACE";

static const char *const fmt_names[] = {"auto", "binary", "text", "csv", "oracleGeneral", "pages", NULL};

int vmlab_trace_format_find(const char *name)
{
    for (int i = 0; fmt_names[i]; i++)
        if (!strcmp(name, fmt_names[i]))
            return i;
    if (!strcmp(name, "oracle") || !strcmp(name, "oraclegeneral"))
        return VMLAB_TRACE_ORACLE;
    if (!strcmp(name, "txt"))
        return VMLAB_TRACE_TEXT;
    return -1;
}

const char *vmlab_trace_format_name(int fmt)
{
    return fmt >= 0 && fmt <= VMLAB_TRACE_PAGES ? fmt_names[fmt] : NULL;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int fmt_from_name(const char *path)
{
    if (ends_with(path, ".csv"))
        return VMLAB_TRACE_CSV;
    if (ends_with(path, ".oracleGeneral") || ends_with(path, ".oracleGeneral.bin") ||
        ends_with(path, ".oracleGeneral.zst") || ends_with(path, ".bin"))
        return VMLAB_TRACE_ORACLE;
    if (ends_with(path, ".txt") || ends_with(path, ".text"))
        return VMLAB_TRACE_TEXT;
    return VMLAB_TRACE_BINARY;
}

static void seterr(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!err || !len)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}
static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static int copy_header(struct vmlab_trace_header *dst, const struct vmlab_trace_header *src)
{
    *dst = *src;
    dst->targets = NULL;
    if (src->ntargets) {
        dst->targets = malloc(src->ntargets * sizeof *dst->targets);
        if (!dst->targets)
            return -ENOMEM;
        memcpy(dst->targets, src->targets, src->ntargets * sizeof *dst->targets);
    }
    return 0;
}

/* ---- writer ---- */

static int z_drain(struct vmlab_trace_writer *w, int flush)
{
    int r;
    do {
        w->z.next_out = w->zbuf, w->z.avail_out = TRACE_CHUNK;
        r = deflate(&w->z, flush);
        if (r == Z_STREAM_ERROR)
            return -EIO;
        size_t have = TRACE_CHUNK - w->z.avail_out;
        if (have && fwrite(w->zbuf, 1, have, w->f) != have)
            return -errno ? -errno : -EIO;
    } while (w->z.avail_out == 0 || (flush == Z_FINISH && r != Z_STREAM_END));
    return 0;
}

static int bin_flush(struct vmlab_trace_writer *w, int flush)
{
    w->z.next_in = w->buf, w->z.avail_in = (uInt)w->blen;
    int r = z_drain(w, flush);
    w->blen = 0;
    return r;
}

struct vmlab_trace_writer *vmlab_trace_create(const char *path, int fmt,
                                              const struct vmlab_trace_header *h,
                                              char *err, size_t errlen)
{
    struct vmlab_trace_writer *w = calloc(1, sizeof *w);
    if (!w || copy_header(&w->h, h)) {
        free(w);
        seterr(err, errlen, "trace %s: out of memory", path);
        return NULL;
    }
    w->fmt = fmt == VMLAB_TRACE_AUTO ? fmt_from_name(path) : fmt;
    w->f = fopen(path, w->fmt == VMLAB_TRACE_BINARY || w->fmt == VMLAB_TRACE_ORACLE ? "wb" : "w");
    if (!w->f) {
        seterr(err, errlen, "open(%s): %s", path, strerror(errno));
        free(w->h.targets), free(w);
        return NULL;
    }
    if (w->fmt != VMLAB_TRACE_BINARY) {
        if (w->fmt == VMLAB_TRACE_ORACLE && !(w->spool = tmpfile())) {
            seterr(err, errlen, "tmpfile for %s: %s", path, strerror(errno));
            fclose(w->f), free(w->h.targets), free(w);
            return NULL;
        }
        if (w->fmt == VMLAB_TRACE_CSV)
            fputs("timestamp,obj_id,obj_size,op\n", w->f);
        return w;
    }
    unsigned char hdr[24];
    memcpy(hdr, MAGIC, 8);
    put_u32(hdr + 8, 1), put_u32(hdr + 12, h->page_size), put_u32(hdr + 16, h->time_unit_ns);
    put_u32(hdr + 20, h->ntargets);
    fwrite(hdr, 1, sizeof hdr, w->f);
    for (uint32_t i = 0; i < h->ntargets; i++) {
        unsigned char t[33];
        const struct vmlab_trace_target *tg = &h->targets[i];
        size_t nl = strnlen(tg->name, VMLAB_TRACE_NAME_MAX - 1);
        put_u64(t, tg->start), put_u64(t + 8, tg->length), put_u64(t + 16, tg->inode);
        put_u64(t + 24, tg->offset);
        t[32] = (unsigned char)nl;
        fwrite(t, 1, sizeof t, w->f);
        fwrite(tg->name, 1, nl, w->f);
    }
    w->buf = malloc(TRACE_CHUNK), w->zbuf = malloc(TRACE_CHUNK);
    if (!w->buf || !w->zbuf || deflateInit(&w->z, Z_BEST_SPEED) != Z_OK || ferror(w->f)) {
        seterr(err, errlen, "trace %s: cannot start the stream", path);
        free(w->buf), free(w->zbuf), fclose(w->f), free(w->h.targets), free(w);
        return NULL;
    }
    w->zinit = 1;
    w->prev.tid = UINT32_MAX, w->prev.target = UINT32_MAX;
    return w;
}

int vmlab_trace_write(struct vmlab_trace_writer *w, const struct vmlab_trace_event *ev)
{
    if (w->fmt != VMLAB_TRACE_BINARY)
        return trace_text_write(w, ev);
    if (w->blen > TRACE_CHUNK - 64) {
        int r = bin_flush(w, Z_NO_FLUSH);
        if (r)
            return r;
    }
    unsigned char *p = w->buf + w->blen;
    size_t k = 1;
    p[0] = (unsigned char)((ev->kind & 1) | (ev->tid != w->prev.tid ? 2 : 0) |
                           (ev->target != w->prev.target ? 4 : 0));
    k += put_varint(p + k, zigzag((int64_t)(ev->time - w->prev.time)));
    k += put_varint(p + k, zigzag((int64_t)(ev->page - w->prev.page)));
    if (p[0] & 2)
        k += put_varint(p + k, ev->tid);
    if (p[0] & 4)
        k += put_varint(p + k, ev->target);
    w->blen += k;
    w->prev = *ev;
    w->n++;
    return 0;
}

uint64_t vmlab_trace_written(const struct vmlab_trace_writer *w) { return w->n; }

int vmlab_trace_finish(struct vmlab_trace_writer *w, char *err, size_t errlen)
{
    int r = 0;
    if (!w)
        return 0;
    if (w->fmt == VMLAB_TRACE_BINARY) {
        r = bin_flush(w, Z_FINISH);
        deflateEnd(&w->z);
    } else
        r = trace_text_finish(w, err, errlen);
    if (fflush(w->f) || ferror(w->f))
        r = r ? r : -EIO;
    if (fclose(w->f) && !r)
        r = -errno;
    if (r && err && !*err)
        seterr(err, errlen, "writing the trace: %s", strerror(-r));
    free(w->buf), free(w->zbuf), free(w->h.targets), free(w);
    return r;
}

/* ---- reader ---- */

static int z_fill(struct vmlab_trace_reader *r)
{
    /* keep the unread tail, add what inflate gives */
    if (r->opos > 0) {
        memmove(r->out, r->out + r->opos, r->olen - r->opos);
        r->olen -= r->opos, r->opos = 0;
    }
    while (!r->zend && r->olen < TRACE_CHUNK / 2) {
        if (r->z.avail_in == 0) {
            size_t got = fread(r->in, 1, TRACE_CHUNK, r->f);
            if (got == 0) {
                r->zend = 2; /* the file ended before the stream did */
                break;
            }
            r->z.next_in = r->in, r->z.avail_in = (uInt)got;
        }
        r->z.next_out = r->out + r->olen, r->z.avail_out = (uInt)(TRACE_CHUNK - r->olen);
        int zr = inflate(&r->z, Z_NO_FLUSH);
        r->olen = TRACE_CHUNK - r->z.avail_out;
        if (zr == Z_STREAM_END)
            r->zend = 1;
        else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            snprintf(r->err, sizeof r->err, "corrupt compressed events after event %llu: %s",
                     (unsigned long long)r->n, r->z.msg ? r->z.msg : "inflate failed");
            return -1;
        }
    }
    return 0;
}

static int get_varint(struct vmlab_trace_reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int s = 0; s < 64; s += 7) {
        if (r->opos >= r->olen)
            return -1;
        unsigned char b = r->out[r->opos++];
        x |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int bin_next(struct vmlab_trace_reader *r, struct vmlab_trace_event *ev)
{
    if (r->olen - r->opos < 40 && z_fill(r))
        return -1;
    if (r->opos >= r->olen) {
        if (r->zend == 2) {
            snprintf(r->err, sizeof r->err, "truncated trace: the stream ends after event %llu",
                     (unsigned long long)r->n);
            return -1;
        }
        return 0;
    }
    size_t save = r->opos;
    uint64_t dt, dp, v;
    unsigned char fl = r->out[r->opos++];
    struct vmlab_trace_event e = r->prev;
    if (get_varint(r, &dt) || get_varint(r, &dp))
        goto cut;
    e.kind = fl & 1;
    e.time = r->prev.time + (uint64_t)unzigzag(dt);
    e.page = r->prev.page + (uint64_t)unzigzag(dp);
    if (fl & 2) {
        if (get_varint(r, &v))
            goto cut;
        e.tid = (uint32_t)v;
    }
    if (fl & 4) {
        if (get_varint(r, &v))
            goto cut;
        e.target = (uint32_t)v;
    }
    if (fl & ~7u) {
        snprintf(r->err, sizeof r->err, "corrupt event %llu (flags 0x%x)", (unsigned long long)r->n, fl);
        return -1;
    }
    r->prev = e;
    r->n++;
    *ev = e;
    return 1;
cut:
    r->opos = save;
    snprintf(r->err, sizeof r->err, "truncated trace: event %llu is cut short", (unsigned long long)r->n);
    return -1;
}

static int bin_open(struct vmlab_trace_reader *r, const char *path)
{
    unsigned char hdr[24];
    if (fread(hdr, 1, sizeof hdr, r->f) != sizeof hdr || memcmp(hdr, MAGIC, 8)) {
        snprintf(r->err, sizeof r->err, "%s: not a vmlab trace (no VMTRACE header)", path);
        return -1;
    }
    if (get_u32(hdr + 8) != 1) {
        snprintf(r->err, sizeof r->err, "%s: trace version %u (this vmlab reads 1)", path, get_u32(hdr + 8));
        return -1;
    }
    r->h.page_size = get_u32(hdr + 12), r->h.time_unit_ns = get_u32(hdr + 16);
    r->h.ntargets = get_u32(hdr + 20);
    if (r->h.ntargets > 1u << 20) {
        snprintf(r->err, sizeof r->err, "%s: corrupt header (%u targets)", path, r->h.ntargets);
        return -1;
    }
    r->h.targets = calloc(r->h.ntargets + 1, sizeof *r->h.targets);
    if (!r->h.targets)
        return -1;
    for (uint32_t i = 0; i < r->h.ntargets; i++) {
        unsigned char t[33];
        struct vmlab_trace_target *tg = &r->h.targets[i];
        if (fread(t, 1, sizeof t, r->f) != sizeof t || t[32] >= VMLAB_TRACE_NAME_MAX ||
            fread(tg->name, 1, t[32], r->f) != t[32]) {
            snprintf(r->err, sizeof r->err, "%s: truncated header (target %u)", path, i + 1);
            return -1;
        }
        tg->start = get_u64(t), tg->length = get_u64(t + 8), tg->inode = get_u64(t + 16);
        tg->offset = get_u64(t + 24);
    }
    r->in = malloc(TRACE_CHUNK), r->out = malloc(TRACE_CHUNK);
    if (!r->in || !r->out || inflateInit(&r->z) != Z_OK) {
        snprintf(r->err, sizeof r->err, "%s: cannot start inflate", path);
        return -1;
    }
    r->zinit = 1;
    return 0;
}

struct vmlab_trace_reader *vmlab_trace_open(const char *path, int fmt, char *err, size_t errlen)
{
    struct vmlab_trace_reader *r = calloc(1, sizeof *r);
    if (!r) {
        seterr(err, errlen, "trace %s: out of memory", path);
        return NULL;
    }
    r->f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!r->f) {
        seterr(err, errlen, "open(%s): %s", path, strerror(errno));
        free(r);
        return NULL;
    }
    if (fmt == VMLAB_TRACE_AUTO) {
        char m[8] = "";
        size_t got = fread(m, 1, 8, r->f);
        fmt = got == 8 && !memcmp(m, MAGIC, 8) ? VMLAB_TRACE_BINARY : fmt_from_name(path);
        if (fmt == VMLAB_TRACE_BINARY && memcmp(m, MAGIC, 8))
            fmt = VMLAB_TRACE_TEXT;
        if (r->f == stdin && got) {
            seterr(err, errlen, "trace -: give the format of standard input");
            free(r);
            return NULL;
        }
        rewind(r->f);
    }
    r->fmt = fmt;
    r->h.page_size = (uint32_t)vmlab_pagesize(); /* foreign formats: pages as given */
    int rc = fmt == VMLAB_TRACE_BINARY ? bin_open(r, path) : trace_text_open(r);
    if (rc) {
        seterr(err, errlen, "%s", r->err[0] ? r->err : "out of memory");
        vmlab_trace_close(r);
        return NULL;
    }
    return r;
}

const struct vmlab_trace_header *vmlab_trace_reader_header(const struct vmlab_trace_reader *r)
{
    return &r->h;
}
int vmlab_trace_reader_format(const struct vmlab_trace_reader *r) { return r->fmt; }
const char *vmlab_trace_reader_error(const struct vmlab_trace_reader *r) { return r->err; }

int vmlab_trace_next(struct vmlab_trace_reader *r, struct vmlab_trace_event *ev)
{
    return r->fmt == VMLAB_TRACE_BINARY ? bin_next(r, ev) : trace_text_next(r, ev);
}

void vmlab_trace_close(struct vmlab_trace_reader *r)
{
    if (!r)
        return;
    if (r->zinit)
        inflateEnd(&r->z);
    if (r->f && r->f != stdin)
        fclose(r->f);
    free(r->in), free(r->out), free(r->line), free(r->h.targets), free(r);
}

int vmlab_trace_load_pages(const char *path, int fmt, uint64_t **pages, size_t *n, char *err,
                           size_t errlen)
{
    struct vmlab_trace_reader *r = vmlab_trace_open(path, fmt, err, errlen);
    struct vmlab_trace_event ev;
    size_t cap = 1 << 16, k = 0;
    uint64_t *v;
    int rc;

    if (!r)
        return -EINVAL;
    v = malloc(cap * sizeof *v);
    while (v && (rc = vmlab_trace_next(r, &ev)) == 1) {
        if (k == cap) {
            uint64_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                v = NULL;
                break;
            }
            v = nv;
        }
        v[k++] = ev.page;
    }
    if (!v) {
        seterr(err, errlen, "%s: out of memory", path);
        vmlab_trace_close(r);
        return -ENOMEM;
    }
    if (rc < 0) {
        seterr(err, errlen, "%s: %s", path, vmlab_trace_reader_error(r));
        free(v);
        vmlab_trace_close(r);
        return -EINVAL;
    }
    vmlab_trace_close(r);
    *pages = v, *n = k;
    return 0;
}
