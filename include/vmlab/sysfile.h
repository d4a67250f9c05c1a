#ifndef VMLAB_SYSFILE_H
#define VMLAB_SYSFILE_H
#include <stddef.h>

/* Read the first line of a small /proc or /sys file into buf, without its
 * newline (empty when the file is).  Returns 0 or -errno. */
int vmlab_read_line(const char *path, char *buf, size_t len);

#endif
