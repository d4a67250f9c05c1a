/* `vmlab trace -- cmd`: the exact reference string of an unmodified
 * command, from vmlab's own valgrind tool (runtime/trace_vgtool.c) or
 * valgrind's lackey, whose text is parsed here as it streams. */
#include "vmlab/trace.h"
#include "trace_cmd.h"
#include "vmlab/units.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* hex digit values; 16 for anything else (a newline among them, which
 * is the sentinel that stops every scan at the end of what was read) */
static const unsigned char hexv[256] = {
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 16, 16, 16, 16, 16,
    16, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16};

/* The parser; with a deadline (> 0) it kills `pid` once it passes (the
 * pipe then ends and what was read is kept). */
static int parse_fd(int fd, struct vmlab_trace_writer *w, size_t page_size, int no_instr, uint32_t tid,
                    struct vmlab_lackey_result *res, double deadline, pid_t pid)
{
    enum { BUF = 1 << 20 };
    char *buf = malloc(BUF + 1);
    size_t have = 0;
    unsigned shift = (unsigned)__builtin_ctzll(page_size);
    uint64_t prev_page = UINT64_MAX, refs = 0, events = 0;
    int prev_kind = -1, rc = 0;
    struct vmlab_trace_event ev = {.tid = tid};

    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t got = read(fd, buf + have, BUF - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            break;
        }
        if (got == 0 && have == 0)
            break;
        have += (size_t)got;
        /* Lines are parsed in place with no search for their end first:
         * a newline after the data stops the scans, and a line that
         * reaches it is incomplete (kept for the next read) unless the
         * stream has ended. */
        buf[have] = '\n';
        size_t pos = 0;
        while (pos < have) {
            const unsigned char *p = (const unsigned char *)buf + pos, *end = (const unsigned char *)buf + have;
            /* "I  addr,size" or " L addr,size" (S, M) */
            int kind = -1, fast = 0;
            if (end - p >= 4 && p[2] == ' ') {
                if (p[0] == 'I')
                    fast = 1, kind = no_instr ? -1 : 0;
                else if (p[0] == ' ')
                    kind = p[1] == 'L' ? 0 : p[1] == 'S' ? 1 : p[1] == 'M' ? 2 : -1, fast = kind >= 0;
            }
            uint64_t a = 0;
            if (fast) {
                p += 3;
                unsigned h;
                while ((h = hexv[*p]) < 16)
                    a = a << 4 | h, p++;
                while (*p != '\n')
                    p++;
            } else {
                const unsigned char *nl = memchr(p, '\n', (size_t)(end - p) + 1);
                p = nl;
            }
            if (p == end && got != 0)
                break; /* incomplete: wait for the rest */
            pos = (size_t)((const char *)p - buf) + 1;
            if (kind < 0)
                continue;
            uint64_t page = a >> shift;
            refs++;
            for (int k = kind == 2 ? 0 : kind; k <= (kind == 2 ? 1 : kind); k++) {
                if (page == prev_page && k == prev_kind)
                    continue;
                prev_page = page, prev_kind = k;
                events++;
                if (w) {
                    ev.time = refs - 1, ev.page = page, ev.kind = (uint8_t)k;
                    if ((rc = vmlab_trace_write(w, &ev)))
                        goto out;
                }
            }
        }
        if (pos > have)
            pos = have;
        if (got == 0)
            break;
        if (deadline > 0 && !res->timed_out && vmlab_now() > deadline) {
            kill(pid, SIGKILL);
            res->timed_out = 1;
        }
        if (got < BUF / 8) {
            /* valgrind writes one line per write(): let lines pile up in
             * the pipe instead of being woken for each */
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
        if (have == BUF) /* a line longer than the buffer: not lackey's */
            have = 0;
    }
out:
    free(buf);
    res->references = refs, res->events = events;
    return rc;
}

int vmlab_trace_lackey_fd(int fd, struct vmlab_trace_writer *w, size_t page_size, int no_instr,
                          uint32_t tid, struct vmlab_lackey_result *res)
{
    memset(res, 0, sizeof *res);
    return parse_fd(fd, w, page_size, no_instr, tid, res, 0, 0);
}

int vmlab__trace_run(const struct vmlab_lackey_opts *o, const struct vmlab__trace_tool *t,
                     struct vmlab_lackey_result *res, char *err, size_t errlen)
{
    int pfd[2], argc = 0, nt = 0;
    char fdopt[48];
    struct vmlab_trace_writer *w = NULL;

    while (o->argv[argc])
        argc++;
    while (t->args[nt])
        nt++;
    if (pipe2(pfd, O_CLOEXEC)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -errno;
    }
    /* past pipe-max-size (1 MiB by default) only a privileged caller
     * gets a bigger pipe, so fall back */
    if (fcntl(pfd[0], F_SETPIPE_SZ, t->pipe_size) < 0)
        fcntl(pfd[0], F_SETPIPE_SZ, 1 << 20);
    snprintf(fdopt, sizeof fdopt, t->fd_option, pfd[1]);
    char **av = calloc((size_t)(argc + nt) + 3, sizeof *av);
    if (!av) {
        close(pfd[0]), close(pfd[1]);
        return -ENOMEM;
    }
    int k = 0;
    av[k++] = (char *)(o->valgrind ? o->valgrind : "valgrind");
    for (int i = 0; i < nt; i++)
        av[k++] = (char *)t->args[i];
    av[k++] = fdopt;
    for (int i = 0; i < argc; i++)
        av[k++] = o->argv[i];
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        free(av);
        close(pfd[0]), close(pfd[1]);
        return -errno;
    }
    if (pid == 0) {
        fcntl(pfd[1], F_SETFD, 0); /* valgrind writes to it */
        close(pfd[0]);
        if (t->valgrind_lib)
            setenv("VALGRIND_LIB", t->valgrind_lib, 1);
        execvp(av[0], av);
        fprintf(stderr, "vmlab trace: exec %s: %s\n", av[0], strerror(errno));
        _exit(127);
    }
    free(av);
    close(pfd[1]);
    if (o->output) {
        /* the file names the path that made it */
        struct vmlab_trace_target via;
        memset(&via, 0, sizeof via);
        snprintf(via.name, sizeof via.name, "%s", t->via);
        struct vmlab_trace_header h = {.page_size = (uint32_t)t->page_size, .time_unit_ns = 0, .ntargets = 1,
                                       .targets = &via};
        w = vmlab_trace_create(o->output, VMLAB_TRACE_AUTO, &h, err, errlen);
        if (!w) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            close(pfd[0]);
            return -EIO;
        }
    }
    int rc = t->read(pfd[0], w, pid, o->timeout > 0 ? vmlab_now() + o->timeout : 0, t->arg, res, err, errlen);
    close(pfd[0]);
    if (rc)
        kill(pid, SIGKILL);
    while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR)
        ;
    if (w) {
        char ferr[256] = "";
        int fr = vmlab_trace_finish(w, ferr, sizeof ferr);
        if (!rc && fr)
            rc = fr, snprintf(err, errlen, "%s", ferr);
    }
    return rc;
}

struct lackey_arg {
    size_t page_size;
    int no_instr;
};

static int read_lackey(int fd, struct vmlab_trace_writer *w, pid_t pid, double deadline, void *arg,
                       struct vmlab_lackey_result *res, char *err, size_t errlen)
{
    const struct lackey_arg *a = arg;
    int rc = parse_fd(fd, w, a->page_size, a->no_instr, (uint32_t)pid, res, deadline, pid);
    if (rc)
        snprintf(err, errlen, "reading lackey's stream: %s", strerror(-rc));
    return rc;
}

static int run_lackey(const struct vmlab_lackey_opts *o, size_t psz, struct vmlab_lackey_result *res,
                      char *err, size_t errlen)
{
    static const char *const args[] = {"--tool=lackey", "--trace-mem=yes", "-q", NULL};
    struct lackey_arg a = {.page_size = psz, .no_instr = o->no_instr};
    /* a big pipe: valgrind writes a line at a time, and every write that
     * finds the reader asleep costs a wake-up; and a full pipe stops
     * valgrind whenever this reader is not scheduled (a loaded machine).
     * 8 MiB is 0.2 s of lackey's output. */
    struct vmlab__trace_tool t = {.args = args, .fd_option = "--log-fd=%d", .pipe_size = 8 << 20,
                                  .via = VMLAB_TRACE_VIA_LACKEY, .page_size = psz, .read = read_lackey, .arg = &a};
    int rc = vmlab__trace_run(o, &t, res, err, errlen);
    if (!rc && WIFEXITED(res->status) && WEXITSTATUS(res->status) == 127 && res->references == 0) {
        snprintf(err, errlen, "could not run valgrind or the command (exit 127)");
        return -ENOENT;
    }
    return rc;
}

int vmlab_trace_lackey(const struct vmlab_lackey_opts *o, struct vmlab_lackey_result *res,
                       char *err, size_t errlen)
{
    size_t psz = o->page_size ? o->page_size : vmlab_pagesize();
    char dir[PATH_MAX], why[512] = "";

    memset(res, 0, sizeof *res);
    if (!o->argv || !o->argv[0]) {
        snprintf(err, errlen, "trace: no command to run");
        return -EINVAL;
    }
    if (o->via < VMLAB_VIA_AUTO || o->via > VMLAB_VIA_VMLAB || psz < 2 || (psz & (psz - 1))) {
        snprintf(err, errlen, "trace: bad path %d or page size %zu", o->via, psz);
        return -EINVAL;
    }
    if (o->via != VMLAB_VIA_LACKEY) {
        int rc = vmlab_trace_vgtool_dir(dir, sizeof dir, why, sizeof why);
        if (rc && o->via == VMLAB_VIA_VMLAB) {
            snprintf(err, errlen, "%s", why);
            return rc;
        }
        if (!rc) {
            rc = vmlab__trace_vgtool(o, dir, psz, res, err, errlen);
            res->via = VMLAB_VIA_VMLAB;
            if (rc != VMLAB__NO_TOOL)
                return rc;
            if (o->via == VMLAB_VIA_VMLAB)
                return -ENOEXEC;
            /* the command did not run: run it under lackey instead */
            snprintf(res->note, sizeof res->note, "%s; lackey instead", err);
            char note[sizeof res->note];
            memcpy(note, res->note, sizeof note);
            memset(res, 0, sizeof *res);
            memcpy(res->note, note, sizeof note);
        }
    }
    res->via = VMLAB_VIA_LACKEY;
    return run_lackey(o, psz, res, err, errlen);
}
