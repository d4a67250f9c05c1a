/* Between runtime/trace_lackey.c (vmlab_trace_lackey: the choice of path,
 * and lackey's) and runtime/trace_vgtool.c (vmlab's valgrind tool). */
#ifndef VMLAB_TRACE_CMD_H
#define VMLAB_TRACE_CMD_H
#include <stddef.h>
#include <sys/types.h>
struct vmlab_lackey_opts;
struct vmlab_lackey_result;
struct vmlab_trace_writer;

/* A valgrind tool to run the command under, and how to read it. */
struct vmlab__trace_tool {
    const char *const *args;   /* after "valgrind", NULL-terminated */
    const char *fd_option;     /* "--log-fd=%d": the pipe's write end */
    int pipe_size;
    const char *valgrind_lib;  /* VALGRIND_LIB for valgrind, or NULL */
    const char *via;           /* the trace file's target naming the path */
    size_t page_size;
    /* Read fd to its end into w (NULL: count only), killing pid once
     * past deadline (> 0); 0 or -errno with err set. */
    int (*read)(int fd, struct vmlab_trace_writer *w, pid_t pid, double deadline, void *arg,
                struct vmlab_lackey_result *res, char *err, size_t errlen);
    void *arg;
};
/* Run o->argv under the tool: the pipe, valgrind, the trace file,
 * t->read, the wait (res->status), the file finished. */
int vmlab__trace_run(const struct vmlab_lackey_opts *o, const struct vmlab__trace_tool *t,
                     struct vmlab_lackey_result *res, char *err, size_t errlen);

/* valgrind exited without starting the tool: the command did not run */
#define VMLAB__NO_TOOL (-10000)

/* Run o->argv under `valgrind --tool=vmlab` from dir (VALGRIND_LIB);
 * 0, VMLAB__NO_TOOL, or -errno with err set. */
int vmlab__trace_vgtool(const struct vmlab_lackey_opts *o, const char *dir, size_t psz,
                        struct vmlab_lackey_result *res, char *err, size_t errlen);
#endif
