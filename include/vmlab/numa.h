/* NUMA: memory policies by name, node lists, node facts, and the policy
 * calls on segments and on the task.  Errors are negative errno values. */
#ifndef VMLAB_NUMA_H
#define VMLAB_NUMA_H
#include <stddef.h>
#include <stdint.h>

#include "vmlab/seg.h"

#define VMLAB_MAX_NODES 1024
struct vmlab_nodemask {
    unsigned long bits[VMLAB_MAX_NODES / (8 * sizeof(unsigned long))];
};

static inline void vmlab_nodes_set(struct vmlab_nodemask *m, int n)
{
    m->bits[n / (8 * sizeof(unsigned long))] |= 1UL << (n % (8 * sizeof(unsigned long)));
}
static inline int vmlab_nodes_isset(const struct vmlab_nodemask *m, int n)
{
    return !!(m->bits[n / (8 * sizeof(unsigned long))] & (1UL << (n % (8 * sizeof(unsigned long)))));
}
int vmlab_nodes_count(const struct vmlab_nodemask *m);

/* "0-2,5", "*" or "all" (the nodes the task may use), "0x3" (a hex mask),
 * "" (no nodes).  Returns 0, or -1 with a reason in err. */
int vmlab_parse_nodes(const char *s, struct vmlab_nodemask *m, char *err, size_t len);
/* The same for cpus (a mask of up to VMLAB_MAX_NODES cpus): "*" is every
 * configured cpu; messages speak of cpus. */
int vmlab_parse_cpus(const char *s, struct vmlab_nodemask *m, char *err, size_t len);
/* "0-2,5" */
char *vmlab_format_nodes(const struct vmlab_nodemask *m, char *buf, size_t len);

/* Policies: "default" "preferred" "bind" "interleave" "local"
 * "preferred-many" "weighted-interleave"; -1 if unknown. */
int vmlab_mpol_mode(const char *name);
const char *vmlab_mpol_name(int mode);
/* Mode flags "static", "relative" -> MPOL_F_*; mbind flags "strict",
 * "move", "all" -> MPOL_MF_*.  -1 if unknown. */
int vmlab_mpol_mode_flag(const char *name);
int vmlab_mbind_flag(const char *name);

/* A policy as memtoy and the bindings write it: "bind+move+all",
 * "interleave+static"; flags alone: "move+all", "strict,move". */
struct vmlab_policy_spec {
    int mode;               /* MPOL_*; -1 until a policy is read */
    int mode_flags;         /* MPOL_F_* */
    unsigned mbind_flags;   /* MPOL_MF_* */
};
/* Read "policy[+flag...]" into p (flags add to what p has); 0, or -1 with
 * the reason in err ("unknown policy 'x'", "unknown policy flag 'y'"). */
int vmlab_parse_policy(const char *spec, struct vmlab_policy_spec *p, char *err, size_t len);
/* Read flags alone, added to p; 0 or -1 with the reason in err. */
int vmlab_parse_policy_flags(const char *flags, struct vmlab_policy_spec *p, char *err, size_t len);

int vmlab_seg_mbind(struct vmlab_seg *s, uint64_t off, uint64_t len, int mode,
                    const struct vmlab_nodemask *nodes, unsigned flags);
/* get_mempolicy of the address at off. */
int vmlab_seg_policy(struct vmlab_seg *s, uint64_t off, int *mode, struct vmlab_nodemask *nodes);
/* move_pages to `node`; status gets one entry a page (node or -errno);
 * returns the number of pages not moved, or -errno. */
long vmlab_seg_move(struct vmlab_seg *s, uint64_t off, uint64_t len, int node,
                    unsigned flags, int *status);

/* The task's policy (set_mempolicy / get_mempolicy). */
int vmlab_numa_set_policy(int mode, const struct vmlab_nodemask *nodes);
int vmlab_numa_get_policy(int *mode, struct vmlab_nodemask *nodes);
/* migrate_pages(pid, from, to); returns pages not moved or -errno. */
long vmlab_numa_migrate(int pid, const struct vmlab_nodemask *from,
                        const struct vmlab_nodemask *to);

struct vmlab_node_info {
    int id;
    uint64_t total, free;     /* bytes */
    char cpus[256];           /* cpulist, as sysfs prints it */
};
/* Online nodes; returns how many were written, or -errno. */
int vmlab_numa_nodes(struct vmlab_node_info *out, int max);
/* The distance from a to b (10 = local), or -1. */
int vmlab_numa_distance(int a, int b);
/* Nodes this task may allocate on (Mems_allowed), and online nodes. */
int vmlab_numa_allowed(struct vmlab_nodemask *m);
int vmlab_numa_online(struct vmlab_nodemask *m);
#endif
