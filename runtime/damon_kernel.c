/* The kernel backend's gatekeeper.  The kernel's DAMON is driven through
 * /sys/kernel/mm/damon/admin; adding a kdamond means writing nr_kdamonds,
 * which tears down every kdamond there is.  So vmlab uses the kernel only
 * when no kdamond it did not start exists, and otherwise says why not. */
#include "vmlab/damon.h"

#include <errno.h>
#include <stdio.h>

#define NR_KDAMONDS "/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds"

int vmlab_damon_kernel_probe(char *why, size_t len)
{
    FILE *f = fopen(NR_KDAMONDS, "r");
    int n = -1;

    if (!f) {
        snprintf(why, len, "the kernel has no DAMON sysfs interface (%s: %s)", NR_KDAMONDS,
                 errno == ENOENT ? "not found" : "cannot open");
        return -ENOENT;
    }
    if (fscanf(f, "%d", &n) != 1)
        n = -1;
    fclose(f);
    if (n != 0) {
        snprintf(why, len, "the kernel already runs %d kdamond(s) that vmlab did not start; adding "
                 "one rewrites nr_kdamonds, which would stop them, so vmlab leaves DAMON alone", n);
        return -EBUSY;
    }
    snprintf(why, len, "driving the kernel's DAMON through sysfs is not implemented yet; "
             "use the prot or replay backend");
    return -ENOSYS;
}
