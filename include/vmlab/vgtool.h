/* The stream between vmlab's valgrind tool (vgtool/vt_main.c, run as
 * `valgrind --tool=vmlab`) and vmlab (runtime/trace_vgtool.c).  Macros
 * only: the tool is built without libc headers.
 *
 * The tool writes records to the descriptor given by --vmlab-fd, each at
 * most VT_REC_MAX bytes and in one write(), so that processes forked by
 * the command (which share the descriptor) never interleave inside a
 * record on a pipe.  All fields are the host's byte order (the reader is
 * always on the same machine).
 *   header, VT_HEAD bytes: u32 magic, u32 type, u32 pid, u32 n,
 *                          u64 r0, u64 r1
 *   then n events of VT_EVENT bytes: u64 time, u64 key
 * type VT_HELLO: sent once the tool has read its options, before the
 *   command runs; r0 the page size, r1 1 when instruction fetches are
 *   traced.  No hello: valgrind did not start the tool, and the command
 *   did not run.
 * type VT_EVENTS / VT_END (the process's last record, from its exit):
 *   the process's references r0 <= time < r1 (plus r1 == time for the
 *   read half of a modify cut at a record's end) and the page changes
 *   among them: key = address & ~(page size - 1) | kind (0 read, 1 write);
 *   time = the index of the reference, counted per process from the
 *   process's start (a forked child continues its parent's count).
 *   Consecutive records of one process are contiguous: r0 is the r1 of
 *   the one before. */
#ifndef VMLAB_VGTOOL_H
#define VMLAB_VGTOOL_H

#define VT_MAGIC 0x564d4c42u   /* "BLMV" in memory: vmlab's tool */
#define VT_HELLO 0u
#define VT_EVENTS 1u
#define VT_END 2u
#define VT_HEAD 32
#define VT_EVENT 16
#define VT_REC_MAX 4096        /* PIPE_BUF on Linux: one atomic write */
#define VT_EVENTS_MAX ((VT_REC_MAX - VT_HEAD) / VT_EVENT)

#endif
