/* `vmlab trace -- cmd` through vmlab's own valgrind tool (vgtool/): the
 * tool collapses references to pages inside valgrind and sends only the
 * page changes, in binary records (include/vmlab/vgtool.h), through a
 * pipe; this file finds the tool, runs the command under it and writes
 * the records to a trace file. */
#include "vmlab/trace.h"
#include "trace_cmd.h"
#include "vmlab/units.h"
#include "vmlab/vgtool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOOL_FILE "vmlab-amd64-linux"

static int tool_in(char *buf, size_t len, const char *dir)
{
    char f[PATH_MAX + 64];
    if ((size_t)snprintf(buf, len, "%s", dir) >= len || strlen(dir) >= PATH_MAX)
        return -1;
    snprintf(f, sizeof f, "%s/" TOOL_FILE, dir);
    return access(f, X_OK) == 0 ? 0 : -1;
}

int vmlab_trace_vgtool_dir(char *buf, size_t len, char *why, size_t whylen)
{
    const char *env = getenv("VMLAB_VGTOOL"), *b = getenv("VMLAB_BUILD");
    char d[PATH_MAX + 32], exe[PATH_MAX];

#if !defined(__x86_64__)
    snprintf(why, whylen, "vmlab's valgrind tool is built for amd64 only");
    return -ENOENT;
#endif
    if (env && *env) {
        if (tool_in(buf, len, env) == 0)
            return 0;
        snprintf(why, whylen, "VMLAB_VGTOOL=%s: no executable %s there", env, TOOL_FILE);
        return -ENOENT;
    }
    if (b && *b) {
        snprintf(d, sizeof d, "%s/valgrind", b);
        if (tool_in(buf, len, d) == 0)
            return 0;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        /* the build tree, then an installed prefix's lib/vmlab */
        snprintf(d, sizeof d, "%s/valgrind", exe);
        if (tool_in(buf, len, d) == 0)
            return 0;
        snprintf(d, sizeof d, "%s/../lib/vmlab/valgrind", exe);
        if (tool_in(buf, len, d) == 0)
            return 0;
    }
    snprintf(why, whylen, "vmlab's valgrind tool (%s) is not built: make builds it into BUILD/valgrind when "
                          "valgrind's headers and libraries are installed (Debian: valgrind); or set VMLAB_VGTOOL "
                          "to its directory", TOOL_FILE);
    return -ENOENT;
}

struct rd {
    struct vmlab_trace_writer *w;
    struct vmlab_lackey_result *res;
    unsigned shift;
    size_t page_size;
    uint64_t clock;   /* references of every process so far: the trace's time */
    int hello, ended;
    uint32_t top;     /* the command's pid (the first hello) */
};

/* One whole record; 0 or -errno with err set. */
static int record(struct rd *r, const unsigned char *p, char *err, size_t errlen)
{
    uint32_t h[4];
    uint64_t r0, r1;
    memcpy(h, p, sizeof h);
    memcpy(&r0, p + 16, 8);
    memcpy(&r1, p + 24, 8);
    if (h[1] == VT_HELLO) {
        if (!r->hello)
            r->top = h[2];
        r->hello = 1;
        if (r0 != r->page_size) {
            snprintf(err, errlen, "vmlab's valgrind tool uses pages of %llu bytes, not %zu", (unsigned long long)r0,
                     r->page_size);
            return -EPROTO;
        }
        return 0;
    }
    if ((h[1] != VT_EVENTS && h[1] != VT_END) || r1 < r0) {
        snprintf(err, errlen, "a bad record from vmlab's valgrind tool (type %u, references %llu..%llu)", h[1],
                 (unsigned long long)r0, (unsigned long long)r1);
        return -EPROTO;
    }
    struct vmlab_trace_event ev = {.tid = h[2]};
    const unsigned char *e = p + VT_HEAD;
    for (uint32_t i = 0; i < h[3]; i++, e += VT_EVENT) {
        uint64_t t, key;
        memcpy(&t, e, 8);
        memcpy(&key, e + 8, 8);
        if (t < r0 || t > r1) {
            snprintf(err, errlen, "a bad event from vmlab's valgrind tool (reference %llu outside %llu..%llu)",
                     (unsigned long long)t, (unsigned long long)r0, (unsigned long long)r1);
            return -EPROTO;
        }
        r->res->events++;
        if (r->w) {
            ev.time = r->clock + (t - r0), ev.page = key >> r->shift, ev.kind = (uint8_t)(key & 1);
            int rc = vmlab_trace_write(r->w, &ev);
            if (rc) {
                snprintf(err, errlen, "writing the trace: %s", strerror(-rc));
                return rc;
            }
        }
    }
    r->clock += r1 - r0;
    if (h[1] == VT_END && h[2] == r->top)
        r->ended = 1;
    return 0;
}

static int read_records(int fd, struct rd *r, double deadline, pid_t pid, char *err, size_t errlen)
{
    enum { BUF = 1 << 20 };
    unsigned char *buf = malloc(BUF);
    size_t have = 0;
    int rc = 0;
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (deadline > 0 && !r->res->timed_out) {
            /* the tool sends nothing while the command keeps to one page */
            double left = deadline - vmlab_now();
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            if (left > 0 && poll(&pf, 1, (int)(left * 1000) + 1) == 0)
                left = 0;
            if (left <= 0) {
                kill(pid, SIGKILL);
                r->res->timed_out = 1;
            }
        }
        ssize_t got = read(fd, buf + have, BUF - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            snprintf(err, errlen, "reading vmlab's valgrind tool: %s", strerror(errno));
            break;
        }
        have += (size_t)got;
        size_t pos = 0;
        while (have - pos >= VT_HEAD) {
            uint32_t h[4];
            memcpy(h, buf + pos, sizeof h);
            if (h[0] != VT_MAGIC || h[3] > VT_EVENTS_MAX) {
                snprintf(err, errlen, "a bad record header from vmlab's valgrind tool");
                rc = -EPROTO;
                goto out;
            }
            size_t len = VT_HEAD + (size_t)h[3] * VT_EVENT;
            if (have - pos < len)
                break;
            if ((rc = record(r, buf + pos, err, errlen)))
                goto out;
            pos += len;
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
        if (got == 0)
            break; /* a partial record at the end (the writer was killed in a write): dropped */
    }
out:
    free(buf);
    r->res->references = r->clock;
    return rc;
}

static int read_tool(int fd, struct vmlab_trace_writer *w, pid_t pid, double deadline, void *arg,
                     struct vmlab_lackey_result *res, char *err, size_t errlen)
{
    struct rd *r = arg;
    r->w = w, r->res = res;
    return read_records(fd, r, deadline, pid, err, errlen);
}

int vmlab__trace_vgtool(const struct vmlab_lackey_opts *o, const char *dir, size_t psz,
                        struct vmlab_lackey_result *res, char *err, size_t errlen)
{
    char pageopt[48];
    snprintf(pageopt, sizeof pageopt, "--vmlab-page=%zu", psz);
    const char *args[] = {"--tool=vmlab", "-q", pageopt, o->no_instr ? "--vmlab-instr=no" : NULL, NULL};
    struct rd r = {.shift = (unsigned)__builtin_ctzll(psz), .page_size = psz};
    /* records are small and few (a page change each): a wide pipe only so
     * that valgrind seldom waits for this reader on a loaded machine */
    struct vmlab__trace_tool t = {.args = args, .fd_option = "--vmlab-fd=%d", .pipe_size = 1 << 20,
                                  .valgrind_lib = dir, .via = VMLAB_TRACE_VIA_VMLAB, .page_size = psz,
                                  .read = read_tool, .arg = &r};
    int rc = vmlab__trace_run(o, &t, res, err, errlen);
    if (!rc && !r.hello) {
        /* valgrind did not start the tool (it said why on stderr): the
         * command did not run */
        if (o->output)
            unlink(o->output);
        snprintf(err, errlen, "valgrind did not start vmlab's tool from %s (exit status %d)", dir,
                 WIFEXITED(res->status) ? WEXITSTATUS(res->status) : 128 + WTERMSIG(res->status));
        return VMLAB__NO_TOOL;
    }
    return rc;
}
