/* Sizes and times as users write them: one parser for every binding. */
#ifndef VMLAB_UNITS_H
#define VMLAB_UNITS_H
#include <stddef.h>
#include <stdint.h>

/* Parse "<n>[k|m|g|t|p]" (binary multiples, p = pages of `pagesize`; 0:
 * the system's).  At most 2^63-1 bytes, so that a Lua integer holds it.
 * Returns 0 and stores bytes, or -1 and writes a reason into err. */
int vmlab_parse_size(const char *s, size_t pagesize, uint64_t *out,
                     char *err, size_t errlen);

/* Parse "<n>[us|ms|s|m]" (no suffix: seconds; fractions allowed), at most
 * VMLAB_TIME_MAX seconds (about 31 years: any longer overflows the
 * microsecond counters).  Returns 0 and stores seconds, or -1 and writes a
 * reason into err. */
#define VMLAB_TIME_MAX 1e9
int vmlab_parse_time(const char *s, double *out, char *err, size_t errlen);

/* "4 KiB", "1.5 MiB": binary units, at most 3 significant decimals. */
char *vmlab_fmtsize(uint64_t n, char *buf, size_t len);

/* CLOCK_MONOTONIC in seconds. */
double vmlab_now(void);

/* Sleep for `secs`, waking early when an interrupt is pending.
 * Returns 0, or -1 (errno EINTR) when interrupted. */
int vmlab_snooze(double secs);

size_t vmlab_pagesize(void);
#endif
