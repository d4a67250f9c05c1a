/* Small reads of /proc and /sys files, shared by the engines. */
#include "vmlab/sysfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int vmlab_read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");

    if (!f)
        return -errno;
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}
