/* Sizes and times as users write them.  One parser, so that every binding
 * and the memtoy language accept and reject exactly the same strings. */
#include "vmlab/units.h"
#include "vmlab/interrupt.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fail(char *err, size_t len, const char *fmt, const char *s)
{
    if (err && len)
        snprintf(err, len, fmt, s);
    return -1;
}

int vmlab_parse_size(const char *s, size_t pagesize, uint64_t *out,
                     char *err, size_t errlen)
{
    const char *p = s;
    uint64_t n = 0, mult = 1;
    int base = 10, digits = 0;

    if (!s || !*s)
        return fail(err, errlen, "empty size%s", "");
    if (*p == '-')
        return fail(err, errlen, "negative size '%s'", s);
    if (*p == '+')
        return fail(err, errlen, "size '%s' has a sign", s);
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    for (; *p; p++, digits++) {
        int d;
        if (isdigit((unsigned char)*p))
            d = *p - '0';
        else if (base == 16 && isxdigit((unsigned char)*p))
            d = tolower((unsigned char)*p) - 'a' + 10;
        else
            break;
        if (n > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return fail(err, errlen, "size '%s' overflows (at most 2^63-1 bytes)", s);
        n = n * (uint64_t)base + (uint64_t)d;
    }
    if (!digits)
        return fail(err, errlen, "size '%s' does not start with a number", s);
    if (*p == '.' || *p == ',')
        return fail(err, errlen, "size '%s' is not a whole number (use a smaller unit)", s);
    if (*p) {
        switch (tolower((unsigned char)*p)) {
        case 'k': mult = 1ULL << 10; break;
        case 'm': mult = 1ULL << 20; break;
        case 'g': mult = 1ULL << 30; break;
        case 't': mult = 1ULL << 40; break;
        case 'p': mult = pagesize ? pagesize : vmlab_pagesize(); break;
        default:
            return fail(err, errlen,
                        "size '%s' has an unknown suffix (use k, m, g, t or p)", s);
        }
        if (p[1])
            return fail(err, errlen, "size '%s' has trailing characters", s);
    }
    if (n && mult > (uint64_t)INT64_MAX / n)
        return fail(err, errlen, "size '%s' overflows (at most 2^63-1 bytes)", s);
    *out = n * mult;
    return 0;
}

int vmlab_parse_time(const char *s, double *out, char *err, size_t errlen)
{
    char *end;
    double v, mult = 1;

    if (!s || !*s)
        return fail(err, errlen, "empty time%s", "");
    if (!isdigit((unsigned char)s[0]) && s[0] != '.')
        return fail(err, errlen, "time '%s' does not start with a number", s);
    errno = 0;
    v = strtod(s, &end);
    if (end == s || v != v)
        return fail(err, errlen, "time '%s' is not a number", s);
    if (errno == ERANGE && v > 1)
        return fail(err, errlen, "time '%s' is too long", s);
    if (!strcmp(end, "us"))
        mult = 1e-6;
    else if (!strcmp(end, "ms"))
        mult = 1e-3;
    else if (!strcmp(end, "s") || !*end)
        mult = 1;
    else if (!strcmp(end, "m"))
        mult = 60;
    else
        return fail(err, errlen,
                    "time '%s' has an unknown unit (use us, ms, s or m)", s);
    if (v * mult > VMLAB_TIME_MAX)
        return fail(err, errlen, "time '%s' is too long (at most 10^9 s)", s);
    *out = v * mult;
    return 0;
}

char *vmlab_fmtsize(uint64_t n, char *buf, size_t len)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    double v = (double)n;

    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)n);
    else if (v == (double)(uint64_t)v)
        snprintf(buf, len, "%llu %s", (unsigned long long)v, units[u]);
    else
        snprintf(buf, len, "%.4g %s", v, units[u]);
    return buf;
}

double vmlab_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int vmlab_snooze(double secs)
{
    double end = vmlab_now() + secs;

    /* Sleep in slices so that an interrupt ends the wait promptly. */
    for (;;) {
        double left = end - vmlab_now();
        struct timespec ts;
        if (vmlab_interrupted()) {
            errno = EINTR;
            return -1;
        }
        if (left <= 0)
            return 0;
        if (left > 0.05)
            left = 0.05;
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
    }
}

size_t vmlab_pagesize(void)
{
    static size_t ps;
    if (!ps)
        ps = (size_t)sysconf(_SC_PAGESIZE);
    return ps;
}
