/* The uffd backend on vmlab's own segments, and the agent started inside
 * a vmlab child (issue 15).
 *
 * On vmlab's own memory UFFDIO_MOVE works from any thread, so no agent is
 * preloaded: each monitor runs a mover thread here (runtime/uffd_self.c)
 * that owns a userfaultfd, registers every target range whole (so no VMA
 * is ever cut, unlike the prot backend's PROT_NONE pages) and does the
 * moves the sampling thread asks for.  A touch of a page that is out
 * blocks (any thread but the mover) until the mover moves it back.  Never-
 * populated pages of a registered range come to the mover on their first
 * touch: it fills them (the zero page for a read, a zeroed page for a
 * write).  The sampling thread and the mover never touch target memory. */
#ifndef VMLAB_UFFD_SELF_H
#define VMLAB_UFFD_SELF_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmlab/uffd.h"

/* What vmlab_damon_new calls for VMLAB_DAMON_UFFD with ranges (targets are
 * this process's memory: private anonymous writable mappings, as vmlab's
 * anon segments).  0 or -errno with why filled (-EINVAL: a target that is
 * not such memory, or is watched by another uffd already). */
int vmlab_damon_uffd_self_open(struct vmlab_damon *d, const struct vmlab_damon_opts *o, char *why,
                               size_t len);
extern const struct vmlab_damon_ops vmlab_damon_uffd_self_ops;
/* The counters (zero unless d runs the self backend); agent_cpu is the
 * mover thread's CPU time. */
void vmlab_damon_uffd_self_stats(const struct vmlab_damon *d, struct vmlab_uffd_stats *out);

/* ---- the agent inside a vmlab child (runtime/agent/inject.c) ---------------- */

/* In a child: start the agent (the same code as libvmlab-agent.so's) in
 * this process on the connected SOCK_SEQPACKET socket sock; it says HELLO
 * (or REFUSE) on it.  0 or -errno (the socket is closed on failure). */
int vmlab_agent_start_here(int sock);
/* The signal a vmlab parent sends a forked child to have it start its agent
 * (SIGRTMIN+5): its value is the token of the socket to connect to. */
int vmlab_agent_signal(void);
/* The abstract socket name a parent listens on for child pid's agent. */
void vmlab_agent_sockname(char *buf, size_t len, pid_t parent, pid_t child, uint32_t token);
/* Connect to the parent's listening socket (abstract name above) and start
 * the agent on it.  0 or -errno. */
int vmlab_agent_connect_and_start(pid_t parent, uint32_t token);
/* Parent: listen for child's agent (a socket to accept on, or -errno). */
int vmlab_agent_listen(pid_t child, uint32_t token);
/* Parent: accept the agent's connection on lsock (checking it comes from
 * child) and wait for its HELLO: fills p (pid, sock, skip, features) and
 * marks it borrowed.  timeout in seconds; 0 or -errno with why. */
int vmlab_agent_accept(int lsock, pid_t child, double timeout, struct vmlab_agent_proc *p,
                       char *why, size_t whylen);
#endif
