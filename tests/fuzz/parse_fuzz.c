/* libFuzzer target for the text parsers every binding shares: sizes,
 * times, node lists and DAMOS rule lines.  Any input must give a value or
 * an error message, never a crash, an overflow or an unterminated error.
 *   make fuzz   (builds build/fuzz/parse_fuzz; run it with a time limit) */
#include "vmlab/damos.h"
#include "vmlab/numa.h"
#include "vmlab/units.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    char *s = malloc(len + 1), err[256];
    struct vmlab_damos_rule rule;
    struct vmlab_nodemask m;
    uint64_t v;
    double d;

    if (!s)
        return 0;
    memcpy(s, data, len);
    s[len] = '\0';
    err[0] = '\0';
    if (vmlab_parse_size(s, 4096, &v, err, sizeof err))
        (void)strlen(err);
    if (vmlab_parse_time(s, &d, err, sizeof err))
        (void)strlen(err);
    if (vmlab_parse_nodes(s, &m, err, sizeof err))
        (void)strlen(err);
    if (vmlab_damos_parse_line(s, &rule, err, sizeof err))
        (void)strlen(err);
    free(s);
    return 0;
}
