/* The seed's scheme rule formats: Appendix D's six fields
 *   <min> <max size> <min> <max frequency> <duration> <action>
 * and the evaluation's seven
 *   <min> <max size> <min> <max frequency> <min> <max age> <action>. */
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

/* na, null, min, max: open bounds (min means 0, max means unbounded). */
static int is_open(const char *s)
{
    return !strcasecmp(s, "na") || !strcasecmp(s, "null") || !strcasecmp(s, "min") ||
           !strcasecmp(s, "max");
}

static int field_size(const char *s, int hi, uint64_t *out, char *err, size_t len)
{
    char why[96];
    if (is_open(s)) {
        *out = (hi && strcasecmp(s, "min")) ? UINT64_MAX : 0;
        return 0;
    }
    if (vmlab_parse_size(s, 4096, out, why, sizeof why) < 0) {
        snprintf(err, len, "bad %s size '%s' (%s)", hi ? "max" : "min", s, why);
        return -1;
    }
    return 0;
}

static int field_freq(const char *s, int hi, double *out, char *err, size_t len)
{
    char *end;
    if (is_open(s)) {
        *out = (hi && strcasecmp(s, "min")) ? 100 : 0;
        return 0;
    }
    *out = strtod(s, &end);
    if (*end == '%')
        end++;
    if (end == s || *end || !(*out >= 0 && *out <= 100)) {
        snprintf(err, len, "bad %s frequency '%s' (a percentage, 0 to 100)", hi ? "max" : "min", s);
        return -1;
    }
    return 0;
}

/* An age: a plain number counts aggregations, a time string is a time. */
static int field_age(const char *s, int hi, double *out, int *is_time, char *err, size_t len)
{
    char *end, why[96];
    *is_time = 0;
    if (is_open(s)) {
        *out = (hi && strcasecmp(s, "min")) ? INFINITY : 0;
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
        field_freq(f[2], 0, &r->freq[0], err, len) || field_freq(f[3], 1, &r->freq[1], err, len))
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
    if (r->sz[0] > r->sz[1] || r->freq[0] > r->freq[1]) {
        snprintf(err, len, "a minimum above its maximum");
        return -1;
    }
    return 1;
}
