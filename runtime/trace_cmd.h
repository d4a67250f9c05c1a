/* Between runtime/trace_lackey.c (vmlab_trace_lackey: the choice of path,
 * and lackey's) and runtime/trace_vgtool.c (vmlab's valgrind tool). */
#ifndef VMLAB_TRACE_CMD_H
#define VMLAB_TRACE_CMD_H
/* after vmlab/trace.h (whose guard does not cover all of it) */
struct vmlab_lackey_opts;
struct vmlab_lackey_result;

/* valgrind exited without starting the tool: the command did not run */
#define VMLAB__NO_TOOL (-10000)

/* Run o->argv under `valgrind --tool=vmlab` from dir (VALGRIND_LIB);
 * 0, VMLAB__NO_TOOL, or -errno with err set. */
int vmlab__trace_vgtool(const struct vmlab_lackey_opts *o, const char *dir, size_t psz,
                        struct vmlab_lackey_result *res, char *err, size_t errlen);
#endif
