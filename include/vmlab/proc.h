/* Child processes with a command channel (memtoy's children), signals by
 * name, and reaping.  Plain C; errors are negative errno values. */
#ifndef VMLAB_PROC_H
#define VMLAB_PROC_H
#include <stddef.h>
#include <sys/types.h>

struct vmlab_child {
    pid_t pid;
    int to_child;     /* parent writes requests here (-1 in the child) */
    int from_child;   /* parent reads replies here */
    int reaped;
    int status;       /* wait status once reaped */
};

/* Fork with a request/reply channel.  In the parent returns 1 and fills c;
 * in the child returns 0 and sets *in_fd and *out_fd to its ends of the
 * channel (the child dies with its parent: PR_SET_PDEATHSIG). */
int vmlab_child_fork(struct vmlab_child *c, int *in_fd, int *out_fd);

/* Framed messages: a 1-byte type, a 4-byte length, then the payload. */
int vmlab_msg_send(int fd, char type, const void *buf, size_t len);
/* Receive one message into a malloc'd *buf.  timeout < 0 waits forever.
 * Returns 0, -ETIMEDOUT, -EPIPE (the other end closed), or -errno. */
int vmlab_msg_recv(int fd, char *type, char **buf, size_t *len, double timeout);

/* Signals: "SIGUSR1", "usr1", "USR1" or "10"; -1 if unknown. */
int vmlab_signal_number(const char *name);
const char *vmlab_signal_name(int sig);   /* "SIGUSR1", or NULL */

/* Reap if it has ended (block=0) or wait for it (block=1, returns -EINTR
 * when interrupted).  Returns 1 when reaped, 0 when still running. */
int vmlab_child_reap(struct vmlab_child *c, int block);
/* Close the channel, give the child `grace` seconds to exit, then kill it
 * and reap it. */
void vmlab_child_stop(struct vmlab_child *c, double grace);
#endif
