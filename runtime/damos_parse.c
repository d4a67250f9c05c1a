/* The seed's scheme rule formats: Appendix D's six fields
 *   <min> <max size> <min> <max frequency> <duration> <action>
 * and the evaluation's seven
 *   <min> <max size> <min> <max frequency> <min> <max age> <action>.
 * Appendix D's frequencies are on a 0-99 scale (99: the highest), the
 * evaluation's 0-100. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmlab/damos.h"
#include "vmlab/units.h"

const char *const vmlab_damos_action_names[] = {
    "stat", "pageout", "cold", "willneed", "hugepage", "nohugepage", "collapse",
    "lock", "unlock", "migrate_hot", "migrate_cold", NULL};

int vmlab_damos_action_parse(const char *s)
{
    if (!strncasecmp(s, "madv_", 5))
        s += 5;
    if (!strcasecmp(s, "mlock"))
        return VMLAB_DAMOS_LOCK;
    if (!strcasecmp(s, "munlock"))
        return VMLAB_DAMOS_UNLOCK;
    for (int i = 0; vmlab_damos_action_names[i]; i++)
        if (!strcasecmp(s, vmlab_damos_action_names[i]))
            return i;
    return -1;
}

/* The bound words: na and null leave a bound open (0 for a minimum,
 * unbounded for a maximum); min and max are the lowest and the highest
 * value wherever they stand.  0: not one of them; else the word's bound,
 * -1 lowest, 1 highest. */
static int bound_word(const char *s, int hi)
{
    if (!strcasecmp(s, "na") || !strcasecmp(s, "null"))
        return hi ? 1 : -1;
    if (!strcasecmp(s, "min"))
        return -1;
    if (!strcasecmp(s, "max"))
        return 1;
    return 0;
}

/* A size: vmlab's units, and the B or iB the seed's prose writes (4KB, 2MiB). */
static int field_size(const char *s, int hi, uint64_t *out, char *err, size_t len)
{
    char why[96], buf[64];
    int w = bound_word(s, hi);
    if (w) {
        *out = w > 0 ? UINT64_MAX : 0;
        return 0;
    }
    size_t n = strlen(s);
    snprintf(buf, sizeof buf, "%s", s);
    if (n > 2 && n < sizeof buf && !strcasecmp(buf + n - 2, "iB") && isalpha((unsigned char)buf[n - 3]))
        buf[n - 2] = 0;
    else if (n > 1 && n < sizeof buf && (buf[n - 1] == 'B' || buf[n - 1] == 'b') &&
             isalpha((unsigned char)buf[n - 2]))
        buf[n - 1] = 0;
    if (vmlab_parse_size(buf, vmlab_pagesize(), out, why, sizeof why) < 0) {
        snprintf(err, len, "bad %s size '%s' (%s)", hi ? "max" : "min", s, why);
        return -1;
    }
    return 0;
}

/* A frequency in percent.  Appendix D writes it on a 0-99 scale, the
 * evaluation on 0-100: top is 99 or 100.  A maximum at the top means the
 * highest rate, so that "90 99" takes regions accessed at every sample. */
static int field_freq(const char *s, int hi, int top, double *out, char *err, size_t len)
{
    char *end;
    int w = bound_word(s, hi);
    if (w) {
        *out = w > 0 ? 100 : 0;
        return 0;
    }
    *out = strtod(s, &end);
    if (*end == '%')
        end++;
    if (end == s || *end || !(*out >= 0 && *out <= top)) {
        snprintf(err, len, "bad %s frequency '%s' (0 to %d)", hi ? "max" : "min", s, top);
        return -1;
    }
    if (hi && *out == top)
        *out = 100;
    return 0;
}

/* An age: a plain number counts aggregations, a time string is a time. */
static int field_age(const char *s, int hi, double *out, int *is_time, char *err, size_t len)
{
    char *end, why[96];
    int w = bound_word(s, hi);
    *is_time = 0;
    if (w) {
        *out = w > 0 ? INFINITY : 0;
        return 0;
    }
    *out = strtod(s, &end);
    if (end != s && !*end && *out >= 0)
        return 0;
    if (vmlab_parse_time(s, out, why, sizeof why) < 0 || *out < 0) {
        snprintf(err, len, "bad %s age '%s' (aggregations or a time like 100ms, 5s)",
                 hi ? "max" : "min", s);
        return -1;
    }
    *is_time = 1;
    return 0;
}

int vmlab_damos_parse_line(const char *line, struct vmlab_damos_rule *r, char *err, size_t len)
{
    char buf[512], *f[9], *save = NULL;
    int n = 0;
    snprintf(buf, sizeof buf, "%s", line);
    char *hash = strchr(buf, '#');
    if (hash)
        *hash = 0;
    for (char *tok = strtok_r(buf, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == 8) {
            snprintf(err, len, "too many fields (6 or 7 expected)");
            return -1;
        }
        f[n++] = tok;
    }
    if (n == 0)
        return 0;
    if (n != 6 && n != 7) {
        snprintf(err, len, "%d field%s, expected 6 (size, frequency, duration, action) or 7 "
                 "(size, frequency, age, action)", n, n == 1 ? "" : "s");
        return -1;
    }
    memset(r, 0, sizeof *r);
    if (field_size(f[0], 0, &r->sz[0], err, len) || field_size(f[1], 1, &r->sz[1], err, len) ||
        field_freq(f[2], 0, n == 6 ? 99 : 100, &r->freq[0], err, len) ||
        field_freq(f[3], 1, n == 6 ? 99 : 100, &r->freq[1], err, len))
        return -1;
    if (n == 6) {
        if (field_age(f[4], 0, &r->age[0], &r->age_time[0], err, len))
            return -1;
        r->age[1] = INFINITY;
    } else if (field_age(f[4], 0, &r->age[0], &r->age_time[0], err, len) ||
               field_age(f[5], 1, &r->age[1], &r->age_time[1], err, len))
        return -1;
    r->action = vmlab_damos_action_parse(f[n - 1]);
    if (r->action < 0) {
        snprintf(err, len, "unknown action '%s'", f[n - 1]);
        return -1;
    }
    /* ages compare only in the same unit (aggregations or time) */
    const char *which = r->sz[0] > r->sz[1] ? "size" : r->freq[0] > r->freq[1] ? "frequency"
                        : (r->age_time[0] == r->age_time[1] || isinf(r->age[1])) && r->age[0] > r->age[1] ? "age"
                        : NULL;
    if (which) {
        snprintf(err, len, "a minimum %s above its maximum", which);
        return -1;
    }
    return 1;
}
