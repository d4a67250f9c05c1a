/* NUMA policies and node lists: names <-> MPOL_*, the syscalls on segments
 * and the task (through libnuma's numaif.h), and node facts from sysfs. */
#include "vmlab/numa.h"
#include "vmlab/sysfile.h"
#include "vmlab/units.h"

#include <ctype.h>
#include <errno.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* a line of a sysfs or /proc file (cpulists, meminfo, distances) */
#define LINE_LEN 8192

#ifndef MPOL_LOCAL
#define MPOL_LOCAL 4
#endif
#ifndef MPOL_PREFERRED_MANY
#define MPOL_PREFERRED_MANY 5
#endif
#ifndef MPOL_WEIGHTED_INTERLEAVE
#define MPOL_WEIGHTED_INTERLEAVE 6
#endif
#ifndef MPOL_F_STATIC_NODES
#define MPOL_F_STATIC_NODES (1 << 15)
#endif
#ifndef MPOL_F_RELATIVE_NODES
#define MPOL_F_RELATIVE_NODES (1 << 14)
#endif

#define NBITS (VMLAB_MAX_NODES + 1) /* the kernel wants maxnode = bits + 1 */

static const char *const modes[] = {"default", "preferred", "bind", "interleave",
                                    "local", "preferred-many", "weighted-interleave"};

int vmlab_mpol_mode(const char *name)
{
    for (int i = 0; i < (int)(sizeof modes / sizeof modes[0]); i++)
        if (!strcmp(modes[i], name))
            return i;
    return -1;
}

const char *vmlab_mpol_name(int mode)
{
    return mode >= 0 && mode < (int)(sizeof modes / sizeof modes[0]) ? modes[mode] : "unknown";
}

int vmlab_mpol_mode_flag(const char *name)
{
    if (!strcmp(name, "static"))
        return MPOL_F_STATIC_NODES;
    if (!strcmp(name, "relative"))
        return MPOL_F_RELATIVE_NODES;
    return -1;
}

int vmlab_mbind_flag(const char *name)
{
    if (!strcmp(name, "strict"))
        return MPOL_MF_STRICT;
    if (!strcmp(name, "move"))
        return MPOL_MF_MOVE;
    if (!strcmp(name, "all"))
        return MPOL_MF_MOVE_ALL;
    return -1;
}

int vmlab_parse_policy_flags(const char *flags, struct vmlab_policy_spec *p, char *err, size_t len)
{
    char buf[128], *tok, *save;

    if (snprintf(buf, sizeof buf, "%s", flags) >= (int)sizeof buf) {
        snprintf(err, len, "policy flags too long: '%.40s...'", flags);
        return -1;
    }
    for (tok = strtok_r(buf, "+, ", &save); tok; tok = strtok_r(NULL, "+, ", &save)) {
        int f;
        if ((f = vmlab_mbind_flag(tok)) >= 0) {
            p->mbind_flags |= (unsigned)f;
        } else if ((f = vmlab_mpol_mode_flag(tok)) >= 0) {
            p->mode_flags |= f;
        } else {
            snprintf(err, len, "unknown policy flag '%s' (strict, move, all, static, relative)", tok);
            return -1;
        }
    }
    return 0;
}

int vmlab_parse_policy(const char *spec, struct vmlab_policy_spec *p, char *err, size_t len)
{
    const char *plus = strchr(spec, '+');
    char pol[64];

    snprintf(pol, sizeof pol, "%.*s", plus ? (int)(plus - spec) : (int)strlen(spec), spec);
    if ((p->mode = vmlab_mpol_mode(pol)) < 0) {
        snprintf(err, len, "unknown policy '%s' (default, preferred, bind, interleave, local, "
                 "preferred-many, weighted-interleave)", pol);
        return -1;
    }
    return plus ? vmlab_parse_policy_flags(plus + 1, p, err, len) : 0;
}

int vmlab_nodes_count(const struct vmlab_nodemask *m)
{
    int n = 0;
    for (int i = 0; i < VMLAB_MAX_NODES; i++)
        n += vmlab_nodes_isset(m, i);
    return n;
}

/* Parse a sysfs-style list "0-3,5" (no checks beyond syntax); `what`
 * names the items in messages ("node", "cpu"). */
static int parse_list(const char *s, struct vmlab_nodemask *m, const char *what, char *err, size_t len)
{
    const char *p = s;

    while (*p) {
        char *end;
        long a, b;
        if (!isdigit((unsigned char)*p))
            goto bad;
        errno = 0;
        a = strtol(p, &end, 10);
        b = a;
        p = end;
        if (*p == '-') {
            if (!isdigit((unsigned char)p[1]))
                goto bad;
            b = strtol(p + 1, &end, 10);
            p = end;
        }
        if (a > b || b >= VMLAB_MAX_NODES || errno) {
            snprintf(err, len, "%s range '%ld-%ld' in '%s' is empty or past %s %d", what,
                     a, b, s, what, VMLAB_MAX_NODES - 1);
            return -1;
        }
        for (long i = a; i <= b; i++)
            vmlab_nodes_set(m, (int)i);
        if (*p == ',')
            p++;
        else if (*p && *p != '\n')
            goto bad;
        else if (*p == '\n')
            break;
    }
    return 0;
bad:
    snprintf(err, len, "bad %s list '%s' (expected e.g. '0-2,5', '*' or '0x3')", what, s);
    return -1;
}

static int parse_mask(const char *s, struct vmlab_nodemask *m, const char *what, char *err, size_t len)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        const char *p = s + strlen(s);
        int bit = 0;
        if (!s[2])
            goto badhex;
        while (p-- > s + 2) {
            int d;
            if (*p == ',')
                continue;
            if (!isxdigit((unsigned char)*p))
                goto badhex;
            d = isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;
            for (int i = 0; i < 4; i++, bit++)
                if (d & (1 << i)) {
                    if (bit >= VMLAB_MAX_NODES)
                        goto badhex;
                    vmlab_nodes_set(m, bit);
                }
        }
        return 0;
    badhex:
        snprintf(err, len, "bad %s mask '%s'", what, s);
        return -1;
    }
    return parse_list(s, m, what, err, len);
}

int vmlab_parse_nodes(const char *s, struct vmlab_nodemask *m, char *err, size_t len)
{
    memset(m, 0, sizeof *m);
    if (!strcmp(s, "*") || !strcmp(s, "all"))
        return vmlab_numa_allowed(m) < 0 ? (snprintf(err, len, "cannot read the allowed nodes"), -1) : 0;
    return parse_mask(s, m, "node", err, len);
}

int vmlab_parse_cpus(const char *s, struct vmlab_nodemask *m, char *err, size_t len)
{
    memset(m, 0, sizeof *m);
    if (!strcmp(s, "*") || !strcmp(s, "all")) {
        long n = sysconf(_SC_NPROCESSORS_CONF);
        for (long i = 0; i < n && i < VMLAB_MAX_NODES; i++)
            vmlab_nodes_set(m, (int)i);
        return 0;
    }
    return parse_mask(s, m, "cpu", err, len);
}

char *vmlab_format_nodes(const struct vmlab_nodemask *m, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < VMLAB_MAX_NODES; i++) {
        int j = i;
        if (!vmlab_nodes_isset(m, i))
            continue;
        while (j + 1 < VMLAB_MAX_NODES && vmlab_nodes_isset(m, j + 1))
            j++;
        if (used < len)
            used += (size_t)snprintf(buf + used, len - used, j > i ? "%s%d-%d" : "%s%d",
                                     used ? "," : "", i, j);
        i = j;
    }
    return buf;
}

int vmlab_seg_mbind(struct vmlab_seg *s, uint64_t off, uint64_t len, int mode,
                    const struct vmlab_nodemask *nodes, unsigned flags)
{
    int r = vmlab_seg_range(s, off, &len);
    if (r < 0)
        return r;
    if (mbind((char *)s->addr + off, len, mode, nodes ? nodes->bits : NULL,
              nodes ? NBITS : 0, flags) < 0)
        return -errno;
    return 0;
}

int vmlab_seg_policy(struct vmlab_seg *s, uint64_t off, int *mode, struct vmlab_nodemask *nodes)
{
    uint64_t len = 0;
    int r = vmlab_seg_range(s, off, &len);
    if (r < 0)
        return r;
    memset(nodes, 0, sizeof *nodes);
    if (get_mempolicy(mode, nodes->bits, NBITS, (char *)s->addr + off, MPOL_F_ADDR) < 0)
        return -errno;
    return 0;
}

long vmlab_seg_move(struct vmlab_seg *s, uint64_t off, uint64_t len, int node,
                    unsigned flags, int *status)
{
    size_t ps = vmlab_pagesize();
    uint64_t n;
    void **pages;
    int *target;
    long r;
    int rc = vmlab_seg_range(s, off, &len);

    if (rc < 0)
        return rc;
    n = (len + ps - 1) / ps;
    pages = malloc(n * sizeof *pages + 1);
    target = malloc(n * sizeof *target + 1);
    if (!pages || !target) {
        free(pages);
        free(target);
        return -ENOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        pages[i] = (char *)s->addr + off + i * ps;
        target[i] = node;
    }
    r = move_pages(0, n, pages, target, status, (int)flags);
    if (r < 0)
        r = -errno;
    free(pages);
    free(target);
    return r;
}

int vmlab_numa_set_policy(int mode, const struct vmlab_nodemask *nodes)
{
    if (set_mempolicy(mode, nodes ? nodes->bits : NULL, nodes ? NBITS : 0) < 0)
        return -errno;
    return 0;
}

int vmlab_numa_get_policy(int *mode, struct vmlab_nodemask *nodes)
{
    memset(nodes, 0, sizeof *nodes);
    if (get_mempolicy(mode, nodes->bits, NBITS, NULL, 0) < 0)
        return -errno;
    return 0;
}

long vmlab_numa_migrate(int pid, const struct vmlab_nodemask *from,
                        const struct vmlab_nodemask *to)
{
    long r = migrate_pages(pid, NBITS, from->bits, to->bits);
    return r < 0 ? -errno : r;
}

int vmlab_numa_online(struct vmlab_nodemask *m)
{
    char buf[LINE_LEN], err[128];
    memset(m, 0, sizeof *m);
    if (vmlab_read_line("/sys/devices/system/node/online", buf, sizeof buf) < 0) {
        vmlab_nodes_set(m, 0);                /* no NUMA in the kernel: one node */
        return 0;
    }
    return parse_list(buf, m, "node", err, sizeof err) < 0 ? -EINVAL : 0;
}

int vmlab_numa_allowed(struct vmlab_nodemask *m)
{
    char line[LINE_LEN], err[128];
    FILE *f = fopen("/proc/self/status", "r");
    int r = -ENOENT;

    memset(m, 0, sizeof *m);
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Mems_allowed_list:", 18)) {
            char *p = line + 18;
            while (*p == ' ' || *p == '\t')
                p++;
            p[strcspn(p, "\n")] = '\0';
            r = parse_list(p, m, "node", err, sizeof err) < 0 ? -EINVAL : 0;
        }
    }
    if (f)
        fclose(f);
    return r == -ENOENT ? vmlab_numa_online(m) : r;
}

int vmlab_numa_nodes(struct vmlab_node_info *out, int max)
{
    struct vmlab_nodemask online;
    int n = 0, r = vmlab_numa_online(&online);

    if (r < 0)
        return r;
    for (int i = 0; i < VMLAB_MAX_NODES && n < max; i++) {
        char path[128], line[256];
        FILE *f;
        if (!vmlab_nodes_isset(&online, i))
            continue;
        out[n].id = i;
        out[n].total = out[n].free = 0;
        out[n].cpus[0] = '\0';
        snprintf(path, sizeof path, "/sys/devices/system/node/node%d/meminfo", i);
        if ((f = fopen(path, "r"))) {
            while (fgets(line, sizeof line, f)) {
                unsigned long long kb;
                int node;
                if (sscanf(line, "Node %d MemTotal: %llu kB", &node, &kb) == 2)
                    out[n].total = kb << 10;
                else if (sscanf(line, "Node %d MemFree: %llu kB", &node, &kb) == 2)
                    out[n].free = kb << 10;
            }
            fclose(f);
        }
        snprintf(path, sizeof path, "/sys/devices/system/node/node%d/cpulist", i);
        vmlab_read_line(path, out[n].cpus, sizeof out[n].cpus);
        n++;
    }
    return n;
}

int vmlab_numa_distance(int a, int b)
{
    char path[128], line[LINE_LEN], *p;
    int d = -1;

    snprintf(path, sizeof path, "/sys/devices/system/node/node%d/distance", a);
    if (vmlab_read_line(path, line, sizeof line) < 0)
        return -1;
    p = line;
    for (int i = 0; i <= b; i++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            return -1;
        d = (int)v;
        p = end;
    }
    return d;
}
