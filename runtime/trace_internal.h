/* Shared by runtime/trace_*.c: the writer and reader objects, whose
 * format-specific parts live in trace_file.c (binary) and trace_text.c. */
#ifndef VMLAB_TRACE_INTERNAL_H
#define VMLAB_TRACE_INTERNAL_H
#include "vmlab/trace.h"

#include <stdio.h>
#include <zlib.h>

struct vmlab_trace_writer {
    int fmt;
    FILE *f;
    struct vmlab_trace_header h;
    uint64_t n;
    struct vmlab_trace_event prev;
    z_stream z;
    int zinit;
    unsigned char *buf, *zbuf; /* encode buffer and deflate output */
    size_t blen;
    /* oracleGeneral wants next-access times: events are spooled to a
     * temporary file and written at finish */
    FILE *spool;
};

struct vmlab_trace_reader {
    int fmt;
    FILE *f;
    struct vmlab_trace_header h;
    char err[256];
    uint64_t n;
    struct vmlab_trace_event prev;
    z_stream z;
    int zinit, zend;
    unsigned char *in, *out;
    size_t opos, olen;
    /* text and csv */
    char *line;
    size_t linecap, lineno;
    int csv_time, csv_id, csv_op, csv_cols; /* column indexes, -1 none */
};

#define TRACE_CHUNK (1 << 16)
int trace_text_write(struct vmlab_trace_writer *w, const struct vmlab_trace_event *ev);
int trace_text_finish(struct vmlab_trace_writer *w, char *err, size_t errlen);
int trace_text_open(struct vmlab_trace_reader *r);
int trace_text_next(struct vmlab_trace_reader *r, struct vmlab_trace_event *ev);
#endif
