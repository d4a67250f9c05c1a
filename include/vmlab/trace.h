/* Reference traces: vmlab's binary trace file (docs/TRACE.md), a
 * streaming reader for it and for the formats other simulators use
 * (plain text, libCacheSim's csv and oracleGeneral), and writers for all
 * of them.  Plain C; errors are negative errno values and a message. */
#ifndef VMLAB_TRACE_H
#define VMLAB_TRACE_H
#include <stddef.h>
#include <stdint.h>

enum vmlab_trace_kind { VMLAB_TRACE_READ = 0, VMLAB_TRACE_WRITE = 1 };

struct vmlab_trace_event {
    uint64_t time;      /* in the header's time unit (0: virtual, the index) */
    uint64_t page;      /* virtual page number: address / page size */
    uint32_t tid;
    uint32_t target;    /* index into the header's targets + 1; 0 = none */
    uint8_t kind;       /* enum vmlab_trace_kind */
};

#define VMLAB_TRACE_NAME_MAX 64
struct vmlab_trace_target {
    char name[VMLAB_TRACE_NAME_MAX];
    uint64_t start, length;      /* addresses */
    uint64_t inode, offset;      /* file segments: inode and file offset */
};

struct vmlab_trace_header {
    uint32_t page_size;
    uint32_t time_unit_ns;       /* 1000: microseconds; 0: virtual time */
    uint32_t ntargets;
    struct vmlab_trace_target *targets;
};

enum vmlab_trace_format {
    VMLAB_TRACE_AUTO, VMLAB_TRACE_BINARY, VMLAB_TRACE_TEXT, VMLAB_TRACE_CSV,
    VMLAB_TRACE_ORACLE, VMLAB_TRACE_PAGES
};
/* "binary", "text" (`time R|W page` lines), "csv", "oracleGeneral",
 * "pages" (one page per line); -1 unknown. */
int vmlab_trace_format_find(const char *name);
const char *vmlab_trace_format_name(int fmt);

/* ---- writing (runtime/trace_file.c, runtime/trace_text.c) ---- */
struct vmlab_trace_writer;
/* Create path in fmt (AUTO: from the suffix, binary by default).  The
 * header is copied.  NULL with err set (and *errnum) on failure. */
struct vmlab_trace_writer *vmlab_trace_create(const char *path, int fmt,
                                              const struct vmlab_trace_header *h,
                                              char *err, size_t errlen);
int vmlab_trace_write(struct vmlab_trace_writer *w, const struct vmlab_trace_event *ev);
/* Finish (flush the compressed stream) and close; 0 or -errno.  Safe to
 * call once; frees w. */
int vmlab_trace_finish(struct vmlab_trace_writer *w, char *err, size_t errlen);
uint64_t vmlab_trace_written(const struct vmlab_trace_writer *w);

/* ---- reading: one event at a time, never the whole file ---- */
struct vmlab_trace_reader;
struct vmlab_trace_reader *vmlab_trace_open(const char *path, int fmt, char *err, size_t errlen);
const struct vmlab_trace_header *vmlab_trace_reader_header(const struct vmlab_trace_reader *r);
int vmlab_trace_reader_format(const struct vmlab_trace_reader *r);
/* 1: *ev filled; 0: end; -1: error (vmlab_trace_reader_error says what:
 * a bad line, a truncated stream). */
int vmlab_trace_next(struct vmlab_trace_reader *r, struct vmlab_trace_event *ev);
const char *vmlab_trace_reader_error(const struct vmlab_trace_reader *r);
void vmlab_trace_close(struct vmlab_trace_reader *r);

/* Every page of a trace file into a malloc'ed array. 0 or -errno. */
int vmlab_trace_load_pages(const char *path, int fmt, uint64_t **pages, size_t *n,
                           char *err, size_t errlen);

/* ---- tracing segments in this process (runtime/trace_seg.c) ----
 * vmtrace's method in user space: every `interval` seconds every page of
 * the traced segments is revoked (PROT_NONE), and the first access to
 * each page after that is logged (a read fault grants read, a later write
 * fault grants write: a read then a write is two events; a first access
 * that writes logs a read and a write).  interval 0: the exact reference
 * string, only the `window` most recently touched pages stay accessible;
 * where the CPU has protection keys, recently opened pages hold a key
 * each and are opened and closed by the faulting thread's PKRU (no system
 * call; runtime/trace_pkcache.c), with the same events as the mprotect
 * path.  A fault the tracer did not cause (outside its segments, a write
 * to a read-only page) goes on to the runtime's guards.  Protects and
 * unmaps through the seg engine while tracing are followed (the new
 * protection is the user's); the segments' address and size are copied
 * at start: stop the tracer before closing a traced segment. */
struct vmlab_seg;
struct vmlab_tracer;
struct vmlab_tracer_opts {
    struct vmlab_seg **segs;
    size_t nsegs;
    double interval;        /* seconds; 0 = exact */
    size_t window;          /* pages kept accessible when interval is 0 */
    const char *output;     /* trace file (format from the suffix) */
    size_t buffer;          /* events buffered between drains (0: 1M) */
    int no_pkeys;           /* exact mode: never the protection-key cache
                             * (as VMLAB_TRACE_PKEYS=0 in the environment) */
};
int vmlab_tracer_start(const struct vmlab_tracer_opts *o, struct vmlab_tracer **out,
                       char *err, size_t errlen);
/* Events so far, and events dropped (buffer full). */
void vmlab_tracer_counts(const struct vmlab_tracer *t, uint64_t *events, uint64_t *dropped);
/* Exact mode's protection-key cache: keys in use (0: the mprotect path
 * only) and pages opened by a PKRU edit alone, with no system call. */
void vmlab_tracer_pkeys(const struct vmlab_tracer *t, int *keys, uint64_t *hits);
/* A thread starts with its creator's PKRU, where the keys of pages its
 * creator had open may be open: such a thread would reach them unseen
 * until its first fault.  Every thread vmlab starts calls this first (it
 * closes the running tracers' keys in the caller's PKRU; no system call);
 * threads started by other code while an exact trace runs should too. */
void vmlab_trace_thread_begin(void);
/* Stop: restore the protections, drain, finish the file, free t. */
int vmlab_tracer_stop(struct vmlab_tracer *t, char *err, size_t errlen);

/* ---- tracing a command under valgrind's lackey (runtime/trace_lackey.c) ----
 * valgrind --tool=lackey --trace-mem=yes streams every load, store, modify
 * and instruction fetch through a pipe; each is collapsed to its page as
 * it arrives (consecutive references to one page with one kind are one
 * event), so nothing is held in memory.  Time is virtual: the index of the
 * reference in lackey's stream.  A modify (M) is a read then a write. */
/* Which valgrind tool makes the trace: vmlab's own (vgtool/, built when
 * valgrind's development files are there: it compares pages inside
 * valgrind and sends only the changes) or lackey.  AUTO: vmlab's when it
 * is built and valgrind starts it, else lackey.  The same references in
 * the same order either way (lackey's modify rule included), and the
 * trace file's one zero-length target names the path that made it. */
enum vmlab_trace_via { VMLAB_VIA_AUTO, VMLAB_VIA_LACKEY, VMLAB_VIA_VMLAB };
#define VMLAB_TRACE_VIA_LACKEY "valgrind:lackey"
#define VMLAB_TRACE_VIA_VMLAB "valgrind:vmlab"
struct vmlab_lackey_opts {
    char *const *argv;       /* the command */
    int via;                 /* enum vmlab_trace_via */
    const char *output;      /* trace file (NULL: count only, for baselines) */
    const char *valgrind;    /* NULL: "valgrind" from PATH */
    int no_instr;            /* leave instruction fetches out */
    size_t page_size;        /* 0: vmlab_pagesize() */
    double timeout;          /* seconds; > 0: kill the command then, keep the trace so far */
};
struct vmlab_lackey_result {
    uint64_t references, events;
    int status;              /* the command's wait status */
    int timed_out;
    int via;                 /* the path that ran: VMLAB_VIA_LACKEY or VMLAB_VIA_VMLAB */
    char note[200];          /* why AUTO fell back to lackey when the tool is built ("" otherwise) */
};
int vmlab_trace_lackey(const struct vmlab_lackey_opts *o, struct vmlab_lackey_result *res,
                       char *err, size_t errlen);
/* The directory holding vmlab's tool, for VALGRIND_LIB: $VMLAB_VGTOOL,
 * $VMLAB_BUILD/valgrind, valgrind/ next to the executable, or
 * ../lib/vmlab/valgrind from it.  0, or -ENOENT with why set. */
int vmlab_trace_vgtool_dir(char *buf, size_t len, char *why, size_t whylen);
/* Parse lackey's text from fd and count or write it (the streaming half,
 * for tests and for input saved with --log-file). */
int vmlab_trace_lackey_fd(int fd, struct vmlab_trace_writer *w, size_t page_size, int no_instr,
                          uint32_t tid, struct vmlab_lackey_result *res);

/* ---- a trace as the replay sampler's oracle (runtime/trace_oracle.c) ----
 * Every access time of every page, sorted, so that "was the page holding
 * addr accessed in (t - window, t]" is two binary searches.  Times are in
 * microseconds: the trace's unit converted, or for virtual time `us_per_ref`
 * microseconds per reference. */
struct vmlab_trace_index;
int vmlab_trace_index_build(const char *path, int fmt, double us_per_ref,
                            struct vmlab_trace_index **out, char *err, size_t errlen);
int vmlab_trace_index_accessed(const struct vmlab_trace_index *ix, uint64_t addr,
                               uint64_t t_us, uint64_t window_us);
/* The address range the trace covers (for monitor targets), its duration. */
void vmlab_trace_index_span(const struct vmlab_trace_index *ix, uint64_t *lo, uint64_t *hi,
                            uint64_t *end_us);
void vmlab_trace_index_free(struct vmlab_trace_index *ix);

/* ---- analyses for plots (runtime/trace_analyze.c) ---- */
struct vmlab_addrplot;
/* Read the trace twice: the distinct pages grouped in bands (a gap of
 * more than `gap_pages` starts a new band, 0: 16 MiB; the header's targets name
 * them), then every event into cells[rows x cols] by time and by rank of
 * its page within the distinct pages (an address axis without the holes).
 * Fills p (cells and bands malloc'ed: vmlab_trace_addrplot_free). */
int vmlab_trace_addrplot(const char *path, int fmt, size_t rows, size_t cols, uint64_t gap_pages,
                         struct vmlab_addrplot *p, char *err, size_t errlen);
void vmlab_trace_addrplot_free(struct vmlab_addrplot *p);
/* Denning's working set W(t, tau): distinct pages referenced in
 * (t - tau, t], at `points` times spread over the trace (trace time
 * units; tau 0: a hundredth of the duration).  t and w malloc'ed. */
int vmlab_trace_wss(const char *path, int fmt, double tau, size_t points, double **t, double **w,
                    size_t *n, char *err, size_t errlen);

/* ---- charts of a trace (runtime/trace_charts.c) ---- */
enum vmlab_trace_chart { VMLAB_CHART_ADDRESS, VMLAB_CHART_WSS, VMLAB_CHART_REUSE, VMLAB_CHART_MRC };
struct vmlab_trace_plot_opts {
    int kind;                 /* enum vmlab_trace_chart */
    const char *output;       /* .png .svg .pdf */
    int width, height;        /* 0: 1000 x 600 */
    const char *title;        /* NULL: the file name */
    double tau;               /* wss: the window in trace time units (0: auto) */
    uint64_t gap_pages;       /* address: a new band after this gap (0: 16 MiB) */
    const int *policies;      /* mrc: policies (NULL: lru fifo clock arc linux opt) */
    size_t npolicies;
    size_t points;            /* wss and mrc: points (0: 200 / 24) */
};
int vmlab_trace_plot(const char *path, int fmt, const struct vmlab_trace_plot_opts *o,
                     char *err, size_t errlen);
#endif
