/* Record files: the in-memory form, and telling the formats apart. */
#include "vmlab/record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int vmlab_rec_format(const char *name)
{
    if (!strcmp(name, "json_compressed"))
        return VMLAB_REC_JSON_COMPRESSED;
    if (!strcmp(name, "json"))
        return VMLAB_REC_JSON;
    if (!strcmp(name, "record"))
        return VMLAB_REC_BINARY;
    return -1;
}

struct vmlab_rec_target *vmlab_records_target(struct vmlab_records *r, uint64_t id)
{
    struct vmlab_rec_target *t;

    for (size_t i = 0; i < r->n; i++)
        if (r->targets[i].target_id == id)
            return &r->targets[i];
    t = realloc(r->targets, (r->n + 1) * sizeof *t);
    if (!t)
        return NULL;
    r->targets = t;
    t = &r->targets[r->n++];
    memset(t, 0, sizeof *t);
    t->target_id = id;
    return t;
}

int vmlab_records_add(struct vmlab_rec_target *t, uint64_t start_ns, uint64_t end_ns,
                      const struct vmlab_region *regions, size_t n)
{
    struct vmlab_rec_snapshot *s;

    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        s = realloc(t->snapshots, cap * sizeof *s);
        if (!s)
            return -ENOMEM;
        t->snapshots = s;
        t->cap = cap;
    }
    s = &t->snapshots[t->n];
    s->regions = malloc((n + 1) * sizeof *regions);
    if (!s->regions)
        return -ENOMEM;
    memcpy(s->regions, regions, n * sizeof *regions);
    s->n = n;
    s->start_ns = start_ns;
    s->end_ns = end_ns;
    t->n++;
    return 0;
}

void vmlab_records_free(struct vmlab_records *r)
{
    for (size_t i = 0; i < r->n; i++) {
        for (size_t k = 0; k < r->targets[i].n; k++)
            free(r->targets[i].snapshots[k].regions);
        free(r->targets[i].snapshots);
    }
    free(r->targets);
    memset(r, 0, sizeof *r);
}

/* ---- files ------------------------------------------------------------------ */

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>


int vmlab_records_write(const char *path, const struct vmlab_records *r, enum vmlab_rec_format f,
                        char *err, size_t errlen)
{
    FILE *out = fopen(path, "wb");
    int rc = 0;

    if (!out) {
        snprintf(err, errlen, "open(%s): %s", path, strerror(errno));
        return -1;
    }
    if (f == VMLAB_REC_BINARY) {
        rc = vmlab_rec_write_binary(out, r);
    } else {
        char *json = vmlab_rec_to_json(r);
        size_t len = json ? strlen(json) : 0;
        if (!json) {
            rc = -1;
        } else if (f == VMLAB_REC_JSON) {
            rc = fwrite(json, 1, len, out) == len ? 0 : -1;
        } else {
            uLongf zlen = compressBound(len);
            unsigned char *z = malloc(zlen);
            rc = !z || compress(z, &zlen, (const unsigned char *)json, len) != Z_OK ||
                 fwrite(z, 1, zlen, out) != zlen ? -1 : 0;
            free(z);
        }
        free(json);
    }
    if (fclose(out) != 0 || rc < 0) {
        snprintf(err, errlen, "write(%s): %s", path, errno ? strerror(errno) : "failed");
        return -1;
    }
    return 0;
}

/* zlib-inflate a whole buffer; *out is malloc'd. */
static int inflate_all(const unsigned char *in, size_t len, unsigned char **out, size_t *olen,
                       char *err, size_t errlen)
{
    z_stream zs;
    size_t cap = len * 4 + 65536;   /* a first guess; grows as needed */
    unsigned char *buf = malloc(cap);
    int zr;

    memset(&zs, 0, sizeof zs);
    if (!buf || inflateInit(&zs) != Z_OK) {
        free(buf);
        snprintf(err, errlen, "not enough memory");
        return -1;
    }
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)len;
    for (;;) {
        zs.next_out = buf + zs.total_out;
        zs.avail_out = (uInt)(cap - zs.total_out);
        zr = inflate(&zs, Z_NO_FLUSH);
        if (zr == Z_STREAM_END)
            break;
        if (zr == Z_OK && zs.avail_out == 0) {
            unsigned char *nb;
            if (cap >= ((size_t)1 << 31)) {     /* a zlib bomb, not a record */
                snprintf(err, errlen, "compressed record inflates past %zu bytes (offset %lu)", cap,
                         zs.total_in);
                inflateEnd(&zs);
                free(buf);
                return -1;
            }
            nb = realloc(buf, cap * 2);
            if (!nb) {
                zr = Z_MEM_ERROR;
                break;
            }
            buf = nb;
            cap *= 2;
            continue;
        }
        snprintf(err, errlen, "%s compressed record at offset %lu: %s",
                 zr == Z_BUF_ERROR || zs.avail_in == 0 ? "truncated" : "corrupt", zs.total_in,
                 zs.msg ? zs.msg : "the data ends early");
        inflateEnd(&zs);
        free(buf);
        return -1;
    }
    *out = buf;
    *olen = zs.total_out;
    inflateEnd(&zs);
    return 0;
}

/* What a path is, for messages about paths that are not records. */
static const char *file_kind(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" :
           S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

/* Records are read whole: a size limit keeps a wrong path from eating the
 * memory (damo's own records of hours of monitoring are tens of MiB). */
#define REC_MAX_BYTES ((off_t)1 << 32)

int vmlab_records_read(const char *path, struct vmlab_records *r, char *err, size_t errlen)
{
    unsigned char *buf = NULL, *plain = NULL;
    size_t len = 0, plen;
    struct stat st;
    int fd, rc;

    memset(r, 0, sizeof *r);
    /* a device is refused before it is opened: opening some has effects */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is %s, not a record file", path, file_kind(st.st_mode));
        return -1;
    }
    /* O_NONBLOCK: were it swapped for a FIFO meanwhile, no wait for a writer */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "open(%s): %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "fstat(%s): %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is %s, not a record file", path, file_kind(st.st_mode));
        close(fd);
        return -1;
    }
    if (st.st_size == 0) {
        snprintf(err, errlen, "%s: empty record file (offset 0)", path);
        close(fd);
        return -1;
    }
    if (st.st_size > REC_MAX_BYTES) {
        snprintf(err, errlen, "%s: %lld bytes, larger than the %lld a record may have", path,
                 (long long)st.st_size, (long long)REC_MAX_BYTES);
        close(fd);
        return -1;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        snprintf(err, errlen, "%s: not enough memory for %lld bytes", path, (long long)st.st_size);
        return -1;
    }
    /* the size read is the size stat'ed: a file growing meanwhile is cut */
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "read(%s) at offset %zu: %s", path, len, strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (len == 0) {
        free(buf);
        snprintf(err, errlen, "%s: empty record file (offset 0)", path);
        return -1;
    }
    /* zlib's header: CMF 0x78 and a check that makes it a multiple of 31 */
    if (len >= 2 && buf[0] == 0x78 && ((buf[0] << 8) | buf[1]) % 31 == 0) {
        if (inflate_all(buf, len, &plain, &plen, err, errlen) < 0) {
            free(buf);
            return -1;
        }
        rc = vmlab_rec_from_json((const char *)plain, plen, r, err, errlen);
        free(plain);
    } else if (strspn((const char *)buf, " \t\r\n") < len &&
               (buf[strspn((const char *)buf, " \t\r\n")] == '[' ||
                buf[strspn((const char *)buf, " \t\r\n")] == '{')) {
        rc = vmlab_rec_from_json((const char *)buf, len, r, err, errlen);
    } else {
        rc = vmlab_rec_read_binary(buf, len, r, err, errlen);
    }
    free(buf);
    if (rc < 0)
        vmlab_records_free(r);
    return rc;
}
