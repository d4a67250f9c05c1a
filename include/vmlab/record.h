/* Records of monitoring results, in the files damo reads: its JSON (plain
 * or zlib-compressed, damo 2.x/3.x "json" and "json_compressed") and the
 * seed's binary layout with the damon_recfmt_ver version-2 header ("record",
 * read by damo up to 2.0.1).  Every reader names the byte offset of what is
 * wrong in a corrupt or truncated file. */
#ifndef VMLAB_RECORD_H
#define VMLAB_RECORD_H
#include <stddef.h>
#include <stdint.h>

#include "vmlab/region.h"

/* A region's age when the record does not say (damo prints it as -1). */
#define VMLAB_REC_AGE_UNKNOWN UINT32_MAX

struct vmlab_rec_snapshot {
    uint64_t start_ns, end_ns;
    size_t n;
    struct vmlab_region *regions;   /* age in aggregations */
};

struct vmlab_rec_target {
    uint64_t target_id;
    size_t n, cap;
    struct vmlab_rec_snapshot *snapshots;
};

struct vmlab_records {
    uint64_t sample_us, aggr_us, update_us;   /* 0 when unknown */
    size_t n;
    struct vmlab_rec_target *targets;
};

enum vmlab_rec_format { VMLAB_REC_JSON_COMPRESSED, VMLAB_REC_JSON, VMLAB_REC_BINARY };

/* "json_compressed", "json", "record"; -1 if unknown. */
int vmlab_rec_format(const char *name);

/* The target with this id (added when missing), or NULL without memory. */
struct vmlab_rec_target *vmlab_records_target(struct vmlab_records *r, uint64_t id);
/* Append a snapshot (copies the regions).  Returns 0 or -ENOMEM. */
int vmlab_records_add(struct vmlab_rec_target *t, uint64_t start_ns, uint64_t end_ns,
                      const struct vmlab_region *regions, size_t n);
void vmlab_records_free(struct vmlab_records *r);

/* Returns 0, or -1 with a message in err. */
int vmlab_records_write(const char *path, const struct vmlab_records *r, enum vmlab_rec_format f,
                        char *err, size_t errlen);
/* Reads any of the three formats (told apart by their first bytes) from a
 * regular file of at most 4 GiB; anything else (a directory, a FIFO, a
 * device) is refused with what it is.  Snapshot times are damo's: a
 * snapshot starts where the previous one of its target ended; the binary
 * format's first start is deduced from the mean snapshot length. */
int vmlab_records_read(const char *path, struct vmlab_records *r, char *err, size_t errlen);

/* ---- writing as the monitor runs (record_stream.c) ---------------------------- */

struct vmlab_rec_intervals {
    uint64_t sample_us, aggr_us, update_us;
};
struct vmlab_rec_stream;
/* Create path and write the format's header, flushed: NULL with -errno in
 * *err and the reason in why (a directory, a missing directory, a full
 * device fail here).  Target ids are 1..nr_targets. */
struct vmlab_rec_stream *vmlab_rec_stream_open(const char *path, enum vmlab_rec_format f,
                                               size_t nr_targets, int *err, char *why, size_t len);
/* One aggregation: regions[t] with n[t] regions for each target, ages in
 * aggregations; iv are the intervals it ran at (damo's percent and usec).
 * Written through to the file; 0, or -errno of the first failed write. */
int vmlab_rec_stream_add(struct vmlab_rec_stream *st, uint64_t start_ns, uint64_t end_ns,
                         const struct vmlab_rec_intervals *iv, size_t nr_targets,
                         const struct vmlab_region *const *regions, const size_t *n);
uint64_t vmlab_rec_stream_count(const struct vmlab_rec_stream *st);
/* More targets from the next aggregation on (ids up to nr_targets): in
 * JSON each gets its list of snapshots, shorter than the first's.
 * 0 or -errno. */
int vmlab_rec_stream_add_targets(struct vmlab_rec_stream *st, size_t nr_targets);
/* Finish the file (iv: the intervals over the whole run) and free st:
 * 0 or -errno with the reason.  In a forked child it only frees. */
int vmlab_rec_stream_close(struct vmlab_rec_stream *st, const struct vmlab_rec_intervals *iv,
                           char *why, size_t len);
/* Free without finishing. */
void vmlab_rec_stream_drop(struct vmlab_rec_stream *st);

/* The formats, one file each (record_json.c, record_binary.c). */
#include <stdio.h>
char *vmlab_rec_to_json(const struct vmlab_records *r);
int vmlab_rec_from_json(const char *text, size_t len, struct vmlab_records *r, char *err, size_t errlen);
int vmlab_rec_write_binary(FILE *f, const struct vmlab_records *r);
int vmlab_rec_read_binary(const unsigned char *buf, size_t len, struct vmlab_records *r,
                          char *err, size_t errlen);
#endif
