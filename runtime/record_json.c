/* damo's JSON record layout (a list of records, one per target):
 *   [{"kdamond_idx": null, "context_idx": null,
 *     "intervals": {"sample_us": "5000", "aggr_us": "100000", "ops_update_us": "1000000"},
 *     "scheme_idx": null, "target_id": 0,
 *     "snapshots": [{"start_time": "ns", "end_time": "ns", "total_bytes": "n",
 *                    "regions": [{"start": "n", "end": "n",
 *                                 "nr_accesses": {"samples": n, "percent": p},
 *                                 "age": {"usec": "n", "aggr_intervals": "n"}}]}]}]
 * Numbers are written as digit strings, as damo does; the reader takes
 * numbers or strings (with damo's thousands commas). */
#include "vmlab/progress.h"
#include "vmlab/record.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *num(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return json_string(buf);
}

/* Target ids are unsigned 64-bit (damo's kernel pointers such as
 * 18446623438842320000); jansson's integers are signed, so an id past
 * INT64_MAX goes in as a marked string and loses its quotes after dumping:
 * the JSON number damo writes, not a negative one. */
#define U64_MARK "@vmlab-u64:"

static json_t *target_id_json(uint64_t id)
{
    char buf[48];
    if (id <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)id);
    snprintf(buf, sizeof buf, U64_MARK "%llu", (unsigned long long)id);
    return json_string(buf);
}

/* "\"@vmlab-u64:N\"" -> "N" in place: only target ids carry the mark (every
 * other string is a key or digits). */
static void unmark_u64(char *s)
{
    char *w = s, *p = s;
    size_t ml = strlen(U64_MARK);
    while (*p) {
        if (p[0] == '"' && strncmp(p + 1, U64_MARK, ml) == 0) {
            p += 1 + ml;
            while (isdigit((unsigned char)*p))
                *w++ = *p++;
            if (*p == '"')
                p++;
            continue;
        }
        *w++ = *p++;
    }
    *w = 0;
}

char *vmlab_rec_to_json(const struct vmlab_records *r)
{
    json_t *list = json_array();
    char *out;

    for (size_t t = 0; t < r->n; t++) {
        const struct vmlab_rec_target *tg = &r->targets[t];
        json_t *rec = json_object(), *snaps = json_array();
        json_object_set_new(rec, "kdamond_idx", json_null());
        json_object_set_new(rec, "context_idx", json_null());
        if (r->aggr_us) {
            json_t *iv = json_object();
            json_object_set_new(iv, "sample_us", num(r->sample_us));
            json_object_set_new(iv, "aggr_us", num(r->aggr_us));
            json_object_set_new(iv, "ops_update_us", num(r->update_us));
            json_object_set_new(rec, "intervals", iv);
        } else {
            json_object_set_new(rec, "intervals", json_null());
        }
        json_object_set_new(rec, "scheme_idx", json_null());
        json_object_set_new(rec, "target_id", target_id_json(tg->target_id));
        for (size_t k = 0; k < tg->n; k++) {
            const struct vmlab_rec_snapshot *s = &tg->snapshots[k];
            json_t *snap = json_object(), *regs = json_array();
            uint64_t total = 0;
            json_object_set_new(snap, "start_time", num(s->start_ns));
            json_object_set_new(snap, "end_time", num(s->end_ns));
            for (size_t i = 0; i < s->n; i++) {
                const struct vmlab_region *g = &s->regions[i];
                json_t *reg = json_object(), *acc = json_object(), *age = json_object();
                json_object_set_new(reg, "start", num(g->start));
                json_object_set_new(reg, "end", num(g->end));
                json_object_set_new(acc, "samples", json_integer(g->nr_accesses));
                if (r->aggr_us && r->sample_us)
                    json_object_set_new(acc, "percent",
                                        json_integer((json_int_t)(g->nr_accesses * 100ULL * r->sample_us / r->aggr_us)));
                else
                    json_object_set_new(acc, "percent", json_null());
                json_object_set_new(reg, "nr_accesses", acc);
                json_object_set_new(age, "usec", r->aggr_us ? num((uint64_t)g->age * r->aggr_us) : json_null());
                json_object_set_new(age, "aggr_intervals", num(g->age));
                json_object_set_new(reg, "age", age);
                json_array_append_new(regs, reg);
                total += g->end - g->start;
            }
            json_object_set_new(snap, "regions", regs);
            json_object_set_new(snap, "total_bytes", num(total));
            json_array_append_new(snaps, snap);
        }
        json_object_set_new(rec, "snapshots", snaps);
        json_array_append_new(list, rec);
    }
    out = json_dumps(list, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    json_decref(list);
    if (out)
        unmark_u64(out);
    return out;
}

/* damo's text numbers: digits with thousands commas ("94,827,419,009,024"),
 * or, for times, "<number> <unit>" pairs as its human form writes them
 * ("8 m 59 s 809 ms"); unit_ns is the unit a bare number is in (1 for
 * nanosecond fields, 1000 for microsecond ones), 0 where no unit is allowed.
 * The result is in that same unit. */
static int text_u64(const char *s, uint64_t unit_ns, uint64_t *out)
{
    static const struct { const char *name; uint64_t ns; } units[] = {
        {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000ULL}, {"m", 60000000000ULL},
        {"h", 3600000000000ULL}, {"d", 86400000000000ULL}, {"B", 0}};
    uint64_t total = 0;
    int fields = 0;

    for (;;) {
        uint64_t n = 0, frac_num = 0, frac_den = 1;
        int digits = 0;
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        for (; isdigit((unsigned char)*s) || *s == ','; s++) {
            if (*s == ',')
                continue;
            if (n > UINT64_MAX / 10 || (n == UINT64_MAX / 10 && (uint64_t)(*s - '0') > UINT64_MAX % 10))
                return -1;
            n = n * 10 + (uint64_t)(*s - '0');
            digits++;
        }
        if (*s == '.') {
            for (s++; isdigit((unsigned char)*s); s++)
                if (frac_den < 1000000000ULL) {
                    frac_num = frac_num * 10 + (uint64_t)(*s - '0');
                    frac_den *= 10;
                }
        }
        if (!digits)
            return -1;
        while (*s == ' ')
            s++;
        if (isalpha((unsigned char)*s)) {
            size_t k, len = 0;
            while (isalpha((unsigned char)s[len]))
                len++;
            for (k = 0; k < sizeof units / sizeof units[0]; k++)
                if (strlen(units[k].name) == len && !strncmp(s, units[k].name, len))
                    break;
            if (k == sizeof units / sizeof units[0])
                return -1;
            s += len;
            if (units[k].ns == 0) {              /* bytes */
                total += n;
            } else {
                if (!unit_ns)
                    return -1;
                total += (n * units[k].ns + frac_num * units[k].ns / frac_den) / unit_ns;
            }
        } else {
            if (frac_num || fields)
                return -1;
            total += n;
        }
        fields++;
    }
    if (!fields)
        return -1;
    *out = total;
    return 0;
}

/* A number from a JSON number or one of damo's text numbers. */
static int get_num(json_t *v, uint64_t unit_ns, uint64_t *out)
{
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return -1;
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d < 18446744073709551616.0))
            return -1;
        *out = (uint64_t)d;
        return 0;
    }
    if (json_is_string(v))
        return text_u64(json_string_value(v), unit_ns, out);
    return -1;
}

static int get_u64(json_t *v, uint64_t *out) { return get_num(v, 0, out); }

/* jansson keeps integers in a json_int_t (int64) and refuses bigger ones,
 * but damo writes kernel pointers as target ids (18446623438842320000).
 * Integers past INT64_MAX outside strings become strings, which get_num
 * reads whole.  Returns a malloc'd copy, or NULL when none needed it. */
static char *quote_big_ints(const char *text, size_t len, size_t *olen)
{
    char *out = NULL;
    size_t o = 0, i = 0, copied = 0;
    int in_str = 0;

    while (i < len) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            i++;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            i++;
            continue;
        }
        if (isdigit((unsigned char)c) && (i == 0 || !isalnum((unsigned char)text[i - 1]))) {
            size_t j = i;
            while (j < len && isdigit((unsigned char)text[j]))
                j++;
            if (j - i >= 19 && (j >= len || (text[j] != '.' && text[j] != 'e' && text[j] != 'E')) &&
                (j - i > 19 || memcmp(text + i, "9223372036854775807", 19) > 0) &&
                (i == 0 || text[i - 1] != '-')) {
                if (!out) {
                    out = malloc(len + 2 * (len / 20 + 1) + 1);
                    if (!out)
                        return NULL;
                }
                memcpy(out + o, text + copied, i - copied);
                o += i - copied;
                out[o++] = '"';
                memcpy(out + o, text + i, j - i);
                o += j - i;
                out[o++] = '"';
                copied = j;
            }
            i = j;
            continue;
        }
        i++;
    }
    if (!out)
        return NULL;
    memcpy(out + o, text + copied, len - copied);
    o += len - copied;
    out[o] = '\0';
    *olen = o;
    return out;
}

static int bad(char *err, size_t errlen, const char *what, size_t rec, size_t snap, size_t reg)
{
    snprintf(err, errlen, "corrupt JSON record: %s (record %zu, snapshot %zu, region %zu)",
             what, rec, snap, reg);
    return -1;
}

/* The text handed to jansson in pieces, so a long parse (a large record:
 * 900 MB of JSON parse in about 20 s) draws a progress line on a terminal. */
struct feed {
    const char *p;
    size_t len, off;
    struct vmlab_progress pr;
};

static size_t feed(void *buf, size_t n, void *data)
{
    struct feed *f = data;
    size_t k = f->len - f->off < n ? f->len - f->off : n;

    memcpy(buf, f->p + f->off, k);
    f->off += k;
    vmlab_progress_update(&f->pr, f->off);
    return k;
}

int vmlab_rec_from_json(const char *text, size_t len, struct vmlab_records *r, char *err, size_t errlen)
{
    json_error_t je;
    size_t qlen = 0, ri;
    char *quoted = quote_big_ints(text, len, &qlen);
    struct feed f;
    json_t *root, *rec;

    f.p = quoted ? quoted : text;
    f.len = quoted ? qlen : len;
    f.off = 0;
    vmlab_progress_begin(&f.pr, "read record", f.len, VMLAB_PROGRESS_BYTES, 64ULL << 20);
    root = json_load_callback(feed, &f, 0, &je);
    vmlab_progress_end(&f.pr);
    free(quoted);
    if (!root) {
        snprintf(err, errlen, "bad JSON at offset %d (line %d, column %d): %s", je.position, je.line,
                 je.column, je.text);
        return -1;
    }
    if (!json_is_array(root)) {
        json_decref(root);
        snprintf(err, errlen, "bad JSON record: the top level is not a list of records (offset 0)");
        return -1;
    }
    json_array_foreach(root, ri, rec) {
        json_t *snaps = json_object_get(rec, "snapshots"), *iv = json_object_get(rec, "intervals"), *snap;
        uint64_t id = 0;
        struct vmlab_rec_target *tg;
        size_t si;
        json_t *tid = json_object_get(rec, "target_id");
        if (!json_is_object(rec) || !json_is_array(snaps) || (!json_is_null(tid) && get_u64(tid, &id) < 0)) {
            json_decref(root);
            return bad(err, errlen, "a record needs target_id and snapshots", ri, 0, 0);
        }
        if (json_is_object(iv)) {
            get_num(json_object_get(iv, "sample_us"), 1000, &r->sample_us);
            get_num(json_object_get(iv, "aggr_us"), 1000, &r->aggr_us);
            get_num(json_object_get(iv, "ops_update_us"), 1000, &r->update_us);
        }
        tg = vmlab_records_target(r, id);
        json_array_foreach(snaps, si, snap) {
            json_t *regs = json_object_get(snap, "regions"), *reg;
            uint64_t st, en;
            size_t gi, n = json_array_size(regs);
            struct vmlab_region *v;
            if (get_num(json_object_get(snap, "start_time"), 1, &st) < 0 ||
                get_num(json_object_get(snap, "end_time"), 1, &en) < 0 || !json_is_array(regs)) {
                json_decref(root);
                return bad(err, errlen, "a snapshot needs start_time, end_time and regions", ri, si, 0);
            }
            if (en < st) {
                json_decref(root);
                return bad(err, errlen, "a snapshot ends before it starts", ri, si, 0);
            }
            v = calloc(n + 1, sizeof *v);
            if (!v || !tg) {
                free(v);
                json_decref(root);
                snprintf(err, errlen, "not enough memory");
                return -1;
            }
            json_array_foreach(regs, gi, reg) {
                json_t *acc = json_object_get(reg, "nr_accesses"), *age = json_object_get(reg, "age");
                uint64_t a, b, samples = 0, ag = VMLAB_REC_AGE_UNKNOWN, pct;
                int sok;
                if (json_is_object(acc)) {
                    sok = get_u64(json_object_get(acc, "samples"), &samples);
                    /* damo's add_unset_unit: samples from the percent */
                    if (sok < 0 && json_is_null(json_object_get(acc, "samples")) && r->aggr_us && r->sample_us &&
                        get_u64(json_object_get(acc, "percent"), &pct) == 0) {
                        samples = pct * (r->aggr_us / r->sample_us) / 100;
                        sok = 0;
                    }
                } else {
                    sok = get_u64(acc, &samples);
                }
                if (get_u64(json_object_get(reg, "start"), &a) < 0 || get_u64(json_object_get(reg, "end"), &b) < 0 ||
                    sok < 0 || samples > UINT32_MAX) {
                    free(v);
                    json_decref(root);
                    return bad(err, errlen, "a region needs start, end and nr_accesses.samples", ri, si, gi);
                }
                if (b < a) {
                    free(v);
                    json_decref(root);
                    return bad(err, errlen, "a region ends before it starts", ri, si, gi);
                }
                if (json_is_object(age))
                    get_u64(json_object_get(age, "aggr_intervals"), &ag);
                else if (age)
                    get_u64(age, &ag);
                if (ag > UINT32_MAX)
                    ag = VMLAB_REC_AGE_UNKNOWN;
                v[gi].start = a;
                v[gi].end = b;
                v[gi].nr_accesses = (uint32_t)samples;
                v[gi].age = (uint32_t)ag;
            }
            if (vmlab_records_add(tg, st, en, v, n)) {
                free(v);
                json_decref(root);
                snprintf(err, errlen, "not enough memory");
                return -1;
            }
            free(v);
        }
    }
    json_decref(root);
    return 0;
}
