/* The size and time parsers every binding shares. */
#include "tap.h"
#include "vmlab/units.h"

static void size_ok(const char *s, unsigned long long want)
{
    uint64_t v = 0;
    char err[128] = "";
    int r = vmlab_parse_size(s, 4096, &v, err, sizeof err);
    ok(r == 0 && v == want, "size '%s' = %llu (got %llu %s)", s, want, (unsigned long long)v, err);
}

static void size_bad(const char *s, const char *why)
{
    uint64_t v;
    char err[128] = "";
    int r = vmlab_parse_size(s, 4096, &v, err, sizeof err);
    ok(r == -1 && strstr(err, why), "size '%s' rejected: %s", s, err);
}

static void time_ok(const char *s, double want)
{
    double v = -1;
    char err[128] = "";
    int r = vmlab_parse_time(s, &v, err, sizeof err);
    ok(r == 0 && v > want * 0.999999 && v < want * 1.000001 + 1e-12, "time '%s' = %g (got %g)", s, want, v);
}

int main(void)
{
    char buf[32];
    double v;

    size_ok("0", 0);
    size_ok("4096", 4096);
    size_ok("4k", 4096);
    size_ok("4K", 4096);
    size_ok("3m", 3ULL << 20);
    size_ok("2g", 2ULL << 30);
    size_ok("1t", 1ULL << 40);
    size_ok("10p", 40960);
    size_ok("0x1000", 4096);
    size_bad("", "empty");
    size_bad("-4k", "negative");
    size_bad("4x", "unknown suffix");
    size_bad("4kb", "trailing");
    size_bad("k", "does not start with a number");
    size_bad("99999999999999999999", "overflows");
    size_bad("17179869184g", "overflows");
    size_bad("18446744073709551615", "overflows");   /* was -1 in Lua */
    size_bad("9223372036854775808", "overflows");    /* was math.mininteger */
    size_ok("9223372036854775807", 9223372036854775807ULL);
    size_bad("8388608t", "overflows");
    size_bad(" 4k", "does not start");

    time_ok("5ms", 0.005);
    time_ok("100us", 0.0001);
    time_ok("2", 2);
    time_ok("1.5s", 1.5);
    time_ok("2m", 120);
    ok(vmlab_parse_time("5h", &v, buf, sizeof buf) == -1, "time '5h' rejected");
    ok(vmlab_parse_time("-1", &v, buf, sizeof buf) == -1, "time '-1' rejected");

    is_str(vmlab_fmtsize(4096, buf, sizeof buf), "4 KiB", "fmtsize 4096");
    is_str(vmlab_fmtsize(1536 * 1024, buf, sizeof buf), "1.5 MiB", "fmtsize 1.5m");
    is_str(vmlab_fmtsize(100, buf, sizeof buf), "100 B", "fmtsize 100");
    return tap_done();
}
