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
        json_object_set_new(rec, "target_id", json_integer((json_int_t)tg->target_id));
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
    return out;
}

/* A number from a JSON number or a string like "1,234" or "100 ms" (units
 * of time give microseconds when us is set, nanoseconds otherwise). */
static int get_u64(json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return -1;
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        *out = (uint64_t)json_real_value(v);
        return json_real_value(v) < 0 ? -1 : 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        uint64_t n = 0;
        int digits = 0;
        for (; *s; s++) {
            if (isdigit((unsigned char)*s)) {
                n = n * 10 + (uint64_t)(*s - '0');
                digits++;
            } else if (*s != ',') {
                break;
            }
        }
        while (*s == ' ')
            s++;
        if (!digits || (*s && strcmp(s, "ns") && strcmp(s, "us") && strcmp(s, "B")))
            return -1;
        *out = n;
        return 0;
    }
    return -1;
}

static int bad(char *err, size_t errlen, const char *what, size_t rec, size_t snap, size_t reg)
{
    snprintf(err, errlen, "corrupt JSON record: %s (record %zu, snapshot %zu, region %zu)",
             what, rec, snap, reg);
    return -1;
}

int vmlab_rec_from_json(const char *text, size_t len, struct vmlab_records *r, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je), *rec;
    size_t ri;

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
        if (!json_is_object(rec) || !json_is_array(snaps) ||
            get_u64(json_object_get(rec, "target_id"), &id) < 0) {
            json_decref(root);
            return bad(err, errlen, "a record needs target_id and snapshots", ri, 0, 0);
        }
        if (json_is_object(iv)) {
            get_u64(json_object_get(iv, "sample_us"), &r->sample_us);
            get_u64(json_object_get(iv, "aggr_us"), &r->aggr_us);
            get_u64(json_object_get(iv, "ops_update_us"), &r->update_us);
        }
        tg = vmlab_records_target(r, id);
        json_array_foreach(snaps, si, snap) {
            json_t *regs = json_object_get(snap, "regions"), *reg;
            uint64_t st, en;
            size_t gi, n = json_array_size(regs);
            struct vmlab_region *v;
            if (get_u64(json_object_get(snap, "start_time"), &st) < 0 ||
                get_u64(json_object_get(snap, "end_time"), &en) < 0 || !json_is_array(regs)) {
                json_decref(root);
                return bad(err, errlen, "a snapshot needs start_time, end_time and regions", ri, si, 0);
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
                uint64_t a, b, samples = 0, ag = 0;
                if (get_u64(json_object_get(reg, "start"), &a) < 0 || get_u64(json_object_get(reg, "end"), &b) < 0 ||
                    b < a || (json_is_object(acc) ? get_u64(json_object_get(acc, "samples"), &samples)
                                                  : get_u64(acc, &samples)) < 0) {
                    free(v);
                    json_decref(root);
                    return bad(err, errlen, "a region needs start <= end and nr_accesses.samples", ri, si, gi);
                }
                if (json_is_object(age))
                    get_u64(json_object_get(age, "aggr_intervals"), &ag);
                else if (age)
                    get_u64(age, &ag);
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
